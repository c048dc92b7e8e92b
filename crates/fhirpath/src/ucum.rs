//! A small UCUM subset: parses unit expressions made of common atoms, prefixes, exponents,
//! products (`.`), quotients (`/`), parentheses and annotations, into a scale factor and a
//! dimension vector, so that quantities in convertible units can be compared and converted.

use rust_decimal::Decimal;
use std::str::FromStr;

/// Dimension exponents: length, mass, time, angle, temperature, charge, luminosity, amount, and
/// one slot for arbitrary units ([iU], U) which are only commensurable with themselves.
pub(super) type Dims = [i8; 9];

#[derive(Clone, Debug, PartialEq)]
pub(super) struct Canonical {
    pub factor: Decimal,
    pub dims: Dims,
}

const NONE: Dims = [0; 9];

fn dim(i: usize, e: i8) -> Dims {
    let mut d = NONE;
    d[i] = e;
    d
}

fn dec(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap_or(Decimal::ONE)
}

/// Atom table: symbol, factor (in base units m, g, s, rad, K, C, cd, mol), dims, metric?
fn atom(sym: &str) -> Option<(Decimal, Dims, bool)> {
    let l = 0;
    let m = 1;
    let t = 2;
    Some(match sym {
        "m" => (Decimal::ONE, dim(l, 1), true),
        "g" => (Decimal::ONE, dim(m, 1), true),
        "s" => (Decimal::ONE, dim(t, 1), true),
        "rad" => (Decimal::ONE, dim(3, 1), true),
        "K" => (Decimal::ONE, dim(4, 1), true),
        "C" => (Decimal::ONE, dim(5, 1), true),
        "cd" => (Decimal::ONE, dim(6, 1), true),
        "mol" => (Decimal::ONE, dim(7, 1), true),
        "eq" => (Decimal::ONE, dim(7, 1), true),
        "osm" => (Decimal::ONE, dim(7, 1), true),
        "kat" => (Decimal::ONE, [0, 0, -1, 0, 0, 0, 0, 1, 0], true),
        "U" => (dec("0.0000000166666666666666666667"), [0, 0, -1, 0, 0, 0, 0, 1, 0], true),
        "[iU]" | "[IU]" => (Decimal::ONE, dim(8, 1), true),
        "1" => (Decimal::ONE, NONE, false),
        "%" => (dec("0.01"), NONE, false),
        "[ppth]" => (dec("0.001"), NONE, false),
        "[ppm]" => (dec("0.000001"), NONE, false),
        "[ppb]" => (dec("0.000000001"), NONE, false),
        "L" | "l" => (dec("0.001"), dim(l, 3), true),
        "ar" => (dec("100"), dim(l, 2), true),
        "t" => (dec("1000000"), dim(m, 1), true),
        "u" => (dec("0.0000000000000000000000016605"), dim(m, 1), true),
        "min" => (dec("60"), dim(t, 1), false),
        "h" => (dec("3600"), dim(t, 1), false),
        "d" => (dec("86400"), dim(t, 1), false),
        "wk" => (dec("604800"), dim(t, 1), false),
        "mo" => (dec("2629800"), dim(t, 1), false),
        "a" => (dec("31557600"), dim(t, 1), false),
        "a_j" => (dec("31557600"), dim(t, 1), false),
        "mo_j" => (dec("2629800"), dim(t, 1), false),
        "a_g" => (dec("31556952"), dim(t, 1), false),
        "mo_g" => (dec("2629746"), dim(t, 1), false),
        "Hz" => (Decimal::ONE, dim(t, -1), true),
        "N" => (dec("1000"), [1, 1, -2, 0, 0, 0, 0, 0, 0], true),
        "Pa" => (dec("1000"), [-1, 1, -2, 0, 0, 0, 0, 0, 0], true),
        "J" => (dec("1000"), [2, 1, -2, 0, 0, 0, 0, 0, 0], true),
        "W" => (dec("1000"), [2, 1, -3, 0, 0, 0, 0, 0, 0], true),
        "A" => (Decimal::ONE, [0, 0, -1, 0, 0, 1, 0, 0, 0], true),
        "V" => (dec("1000"), [2, 1, -2, 0, 0, -1, 0, 0, 0], true),
        "bar" => (dec("100000000"), [-1, 1, -2, 0, 0, 0, 0, 0, 0], true),
        "atm" => (dec("101325000"), [-1, 1, -2, 0, 0, 0, 0, 0, 0], false),
        "cal" => (dec("4184"), [2, 1, -2, 0, 0, 0, 0, 0, 0], true),
        "[Cal]" => (dec("4184000"), [2, 1, -2, 0, 0, 0, 0, 0, 0], false),
        "m[Hg]" => (dec("133322000"), [-1, 1, -2, 0, 0, 0, 0, 0, 0], true),
        "m[H2O]" => (dec("9806650"), [-1, 1, -2, 0, 0, 0, 0, 0, 0], true),
        "deg" => (dec("0.0174532925199432957692369077"), dim(3, 1), false),
        "sr" => (Decimal::ONE, dim(3, 2), true),
        "[in_i]" => (dec("0.0254"), dim(l, 1), false),
        "[ft_i]" => (dec("0.3048"), dim(l, 1), false),
        "[yd_i]" => (dec("0.9144"), dim(l, 1), false),
        "[mi_i]" => (dec("1609.344"), dim(l, 1), false),
        "[lb_av]" => (dec("453.59237"), dim(m, 1), false),
        "[oz_av]" => (dec("28.349523125"), dim(m, 1), false),
        "[gr]" => (dec("0.06479891"), dim(m, 1), false),
        "[stone_av]" => (dec("6350.29318"), dim(m, 1), false),
        "[gal_us]" => (dec("0.003785411784"), dim(l, 3), false),
        "[qt_us]" => (dec("0.000946352946"), dim(l, 3), false),
        "[pt_us]" => (dec("0.000473176473"), dim(l, 3), false),
        "[foz_us]" => (dec("0.0000295735295625"), dim(l, 3), false),
        "[tsp_us]" => (dec("0.00000492892159375"), dim(l, 3), false),
        "[tbs_us]" => (dec("0.0000147867647812"), dim(l, 3), false),
        "[cup_us]" => (dec("0.0002365882365"), dim(l, 3), false),
        "[drp]" => (dec("0.00000005"), dim(l, 3), false),
        _ => return None,
    })
}

fn prefix(p: &str) -> Option<Decimal> {
    let e: i32 = match p {
        "Y" => 24,
        "Z" => 21,
        "E" => 18,
        "P" => 15,
        "T" => 12,
        "G" => 9,
        "M" => 6,
        "k" => 3,
        "h" => 2,
        "da" => 1,
        "d" => -1,
        "c" => -2,
        "m" => -3,
        "u" => -6,
        "n" => -9,
        "p" => -12,
        "f" => -15,
        "a" => -18,
        "z" => -21,
        "y" => -24,
        _ => return None,
    };
    pow10(e)
}

fn pow10(e: i32) -> Option<Decimal> {
    if !(-28..=28).contains(&e) {
        return None;
    }
    if e >= 0 {
        let mut v = Decimal::ONE;
        for _ in 0..e {
            v = v.checked_mul(Decimal::TEN)?;
        }
        Some(v)
    } else {
        Some(Decimal::new(1, (-e) as u32))
    }
}

fn powi(base: &Canonical, e: i32) -> Option<Canonical> {
    let mut f = Decimal::ONE;
    for _ in 0..e.unsigned_abs() {
        f = f.checked_mul(base.factor)?;
    }
    if e < 0 {
        f = Decimal::ONE.checked_div(f)?;
    }
    let mut dims = NONE;
    for (i, d) in dims.iter_mut().enumerate() {
        *d = base.dims[i].checked_mul(i8::try_from(e).ok()?)?;
    }
    Some(Canonical { factor: f, dims })
}

fn mul(a: &Canonical, b: &Canonical) -> Option<Canonical> {
    let mut dims = NONE;
    for (i, d) in dims.iter_mut().enumerate() {
        *d = a.dims[i].checked_add(b.dims[i])?;
    }
    Some(Canonical { factor: a.factor.checked_mul(b.factor)?, dims })
}

fn div(a: &Canonical, b: &Canonical) -> Option<Canonical> {
    let mut dims = NONE;
    for (i, d) in dims.iter_mut().enumerate() {
        *d = a.dims[i].checked_sub(b.dims[i])?;
    }
    Some(Canonical { factor: a.factor.checked_div(b.factor)?, dims })
}

struct P<'s> {
    s: &'s [u8],
    i: usize,
    depth: u32,
}

impl P<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn term(&mut self) -> Option<Canonical> {
        self.depth += 1;
        if self.depth > 20 {
            return None;
        }
        let mut acc =
            if self.peek() == Some(b'/') { Canonical { factor: Decimal::ONE, dims: NONE } } else { self.component()? };
        loop {
            match self.peek() {
                Some(b'.') => {
                    self.i += 1;
                    let c = self.component()?;
                    acc = mul(&acc, &c)?;
                }
                Some(b'/') => {
                    self.i += 1;
                    let c = self.component()?;
                    acc = div(&acc, &c)?;
                }
                _ => break,
            }
        }
        self.depth -= 1;
        Some(acc)
    }

    fn annotation(&mut self) -> Option<()> {
        // at '{'
        while let Some(c) = self.peek() {
            self.i += 1;
            if c == b'}' {
                return Some(());
            }
        }
        None
    }

    fn component(&mut self) -> Option<Canonical> {
        match self.peek()? {
            b'(' => {
                self.i += 1;
                let t = self.term()?;
                if self.peek() != Some(b')') {
                    return None;
                }
                self.i += 1;
                let e = self.exponent();
                let t = match e {
                    Some(e) => powi(&t, e)?,
                    None => t,
                };
                self.skip_annotation()?;
                Some(t)
            }
            b'{' => {
                self.annotation()?;
                Some(Canonical { factor: Decimal::ONE, dims: NONE })
            }
            _ => {
                let start = self.i;
                // symbol: up to '.', '/', '(', ')', '{' ; brackets may contain anything
                let mut in_bracket = false;
                while let Some(c) = self.peek() {
                    if in_bracket {
                        if c == b']' {
                            in_bracket = false;
                        }
                        self.i += 1;
                        continue;
                    }
                    match c {
                        b'[' => {
                            in_bracket = true;
                            self.i += 1;
                        }
                        b'.' | b'/' | b'(' | b')' | b'{' => break,
                        _ => self.i += 1,
                    }
                }
                let raw = std::str::from_utf8(self.s.get(start..self.i)?).ok()?;
                let c = simple_with_exponent(raw)?;
                self.skip_annotation()?;
                Some(c)
            }
        }
    }

    fn skip_annotation(&mut self) -> Option<()> {
        if self.peek() == Some(b'{') {
            self.annotation()?;
        }
        Some(())
    }

    fn exponent(&mut self) -> Option<i32> {
        let start = self.i;
        if matches!(self.peek(), Some(b'+' | b'-')) {
            self.i += 1;
        }
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.i += 1;
        }
        let txt = std::str::from_utf8(self.s.get(start..self.i)?).ok()?;
        if txt.is_empty() || txt == "+" || txt == "-" {
            self.i = start;
            return None;
        }
        txt.parse().ok()
    }
}

/// A simple unit with optional trailing exponent, e.g. `cm2`, `s-1`, `10*3`, `[lb_av]`, `1000`.
fn simple_with_exponent(raw: &str) -> Option<Canonical> {
    if raw.is_empty() {
        return None;
    }
    // 10*n or 10^n
    if let Some(rest) = raw.strip_prefix("10*").or_else(|| raw.strip_prefix("10^")) {
        let e: i32 = rest.parse().ok()?;
        return Some(Canonical { factor: pow10(e)?, dims: NONE });
    }
    // pure number
    if raw.bytes().all(|c| c.is_ascii_digit()) {
        return Some(Canonical { factor: Decimal::from_str(raw).ok()?, dims: NONE });
    }
    // split trailing exponent (not inside brackets)
    let bytes = raw.as_bytes();
    let mut split = bytes.len();
    while split > 0 && bytes[split - 1].is_ascii_digit() {
        split -= 1;
    }
    if split > 0 && split < bytes.len() && matches!(bytes[split - 1], b'+' | b'-') {
        split -= 1;
    }
    let (sym, exp) = raw.split_at(split);
    if sym.ends_with(']') || exp.is_empty() {
        // no exponent (or bracketed symbol)
        if let Some(c) = simple(raw) {
            return Some(c);
        }
        if exp.is_empty() {
            return None;
        }
    }
    let e: i32 = exp.parse().ok()?;
    let base = simple(sym)?;
    powi(&base, e)
}

fn simple(sym: &str) -> Option<Canonical> {
    if let Some((f, d, _)) = atom(sym) {
        return Some(Canonical { factor: f, dims: d });
    }
    for plen in [2usize, 1] {
        if sym.len() > plen && sym.is_char_boundary(plen) {
            let (p, rest) = sym.split_at(plen);
            if let (Some(pf), Some((f, d, metric))) = (prefix(p), atom(rest))
                && metric
            {
                return Some(Canonical { factor: pf.checked_mul(f)?, dims: d });
            }
        }
    }
    None
}

/// Parses a UCUM unit expression into its canonical form.
pub(super) fn canonical(unit: &str) -> Option<Canonical> {
    if unit.is_empty() || unit.len() > 200 {
        return None;
    }
    let mut p = P { s: unit.as_bytes(), i: 0, depth: 0 };
    let c = p.term()?;
    if p.i != unit.len() {
        return None;
    }
    Some(c)
}

/// Factor to multiply a value in `from` by to express it in `to`, if commensurable.
pub(super) fn conversion_factor(from: &str, to: &str) -> Option<Decimal> {
    if from == to {
        return Some(Decimal::ONE);
    }
    let a = canonical(from)?;
    let b = canonical(to)?;
    if a.dims != b.dims {
        return None;
    }
    a.factor.checked_div(b.factor)
}
