//! Lexer and Pratt parser for FHIRPath.

use super::ast::{BinOp, Call, Expr, Func, Name, TypeSpec};
use super::datetime::{DateTimeValue, Precision, TimeValue};
use super::error::{Error, Result};
use super::value::{Quantity, Value};
use rust_decimal::Decimal;
use std::str::FromStr;
use std::sync::Arc;

/// Maximum nesting depth of the syntax tree (guards evaluation recursion).
pub(super) const MAX_DEPTH: usize = 100;
/// Maximum expression length in bytes.
const MAX_LEN: usize = 1 << 20;

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Delimited(String),
    Str(String),
    Num(String),
    DateLit(String),
    TimeLit(String),
    Var(String),
    Special(String), // $this, $index, $total
    Dot,
    LParen,
    RParen,
    LBracket,
    RBracket,
    LBrace,
    RBrace,
    Comma,
    Plus,
    Minus,
    Star,
    Slash,
    Amp,
    Pipe,
    Eq,
    Ne,
    Tilde,
    NotTilde,
    Lt,
    Gt,
    Le,
    Ge,
    Eof,
}

struct Lexer<'s> {
    src: &'s str,
    b: &'s [u8],
    i: usize,
}

fn is_ident_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_'
}
fn is_ident_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

impl<'s> Lexer<'s> {
    fn peek_at(&self, k: usize) -> Option<u8> {
        self.b.get(self.i + k).copied()
    }

    fn skip_ws(&mut self) -> Result<()> {
        loop {
            match self.peek_at(0) {
                Some(c) if c.is_ascii_whitespace() => self.i += 1,
                Some(b'/') if self.peek_at(1) == Some(b'/') => {
                    while let Some(c) = self.peek_at(0) {
                        if c == b'\n' {
                            break;
                        }
                        self.i += 1;
                    }
                }
                Some(b'/') if self.peek_at(1) == Some(b'*') => {
                    let start = self.i;
                    self.i += 2;
                    loop {
                        match self.peek_at(0) {
                            None => return Err(Error::syntax(start, "unterminated comment")),
                            Some(b'*') if self.peek_at(1) == Some(b'/') => {
                                self.i += 2;
                                break;
                            }
                            Some(_) => self.i += 1,
                        }
                    }
                }
                _ => return Ok(()),
            }
        }
    }

    fn quoted(&mut self, q: u8) -> Result<String> {
        let start = self.i;
        self.i += 1;
        let mut out = String::new();
        loop {
            let rest = self.src.get(self.i..).unwrap_or("");
            let mut chars = rest.chars();
            let Some(c) = chars.next() else {
                return Err(Error::syntax(start, "unterminated string"));
            };
            self.i += c.len_utf8();
            if c as u32 == u32::from(q) {
                return Ok(out);
            }
            if c != '\\' {
                out.push(c);
                continue;
            }
            let Some(e) = chars.next() else {
                return Err(Error::syntax(start, "unterminated string"));
            };
            self.i += e.len_utf8();
            match e {
                'n' => out.push('\n'),
                'r' => out.push('\r'),
                't' => out.push('\t'),
                'f' => out.push('\u{c}'),
                'u' => {
                    let hex =
                        self.src.get(self.i..self.i + 4).ok_or_else(|| Error::syntax(self.i, "bad unicode escape"))?;
                    let v = u32::from_str_radix(hex, 16).map_err(|_| Error::syntax(self.i, "bad unicode escape"))?;
                    self.i += 4;
                    out.push(char::from_u32(v).unwrap_or('\u{fffd}'));
                }
                other => out.push(other),
            }
        }
    }

    fn take_while(&mut self, f: impl Fn(u8) -> bool) -> &'s str {
        let start = self.i;
        while self.peek_at(0).is_some_and(&f) {
            self.i += 1;
        }
        self.src.get(start..self.i).unwrap_or("")
    }

    fn datetime_literal(&mut self) -> Result<Tok> {
        // after '@'
        let start = self.i;
        if self.peek_at(0) == Some(b'T') {
            self.i += 1;
            let body_start = self.i;
            self.time_body();
            let body = self.src.get(body_start..self.i).unwrap_or("").to_string();
            return Ok(Tok::TimeLit(body));
        }
        // date part
        let digits = self.take_while(|c| c.is_ascii_digit());
        if digits.len() != 4 {
            return Err(Error::syntax(start, "invalid date literal"));
        }
        for _ in 0..2 {
            if self.peek_at(0) == Some(b'-') && self.peek_at(1).is_some_and(|c| c.is_ascii_digit()) {
                self.i += 1;
                self.take_while(|c| c.is_ascii_digit());
            } else {
                break;
            }
        }
        if self.peek_at(0) == Some(b'T') {
            self.i += 1;
            self.time_body();
            // timezone
            match self.peek_at(0) {
                Some(b'Z') => self.i += 1,
                Some(b'+' | b'-')
                    if self.peek_at(1).is_some_and(|c| c.is_ascii_digit()) && self.peek_at(3) == Some(b':') =>
                {
                    self.i += 6.min(self.b.len() - self.i);
                }
                _ => {}
            }
            let body = self.src.get(start..self.i).unwrap_or("").to_string();
            return Ok(Tok::DateLit(body));
        }
        let body = self.src.get(start..self.i).unwrap_or("").to_string();
        Ok(Tok::DateLit(body))
    }

    fn time_body(&mut self) {
        if !self.peek_at(0).is_some_and(|c| c.is_ascii_digit()) {
            return;
        }
        self.take_while(|c| c.is_ascii_digit());
        for _ in 0..2 {
            if self.peek_at(0) == Some(b':') && self.peek_at(1).is_some_and(|c| c.is_ascii_digit()) {
                self.i += 1;
                self.take_while(|c| c.is_ascii_digit());
            } else {
                return;
            }
        }
        if self.peek_at(0) == Some(b'.') && self.peek_at(1).is_some_and(|c| c.is_ascii_digit()) {
            self.i += 1;
            self.take_while(|c| c.is_ascii_digit());
        }
    }

    fn next(&mut self) -> Result<(usize, Tok)> {
        self.skip_ws()?;
        let pos = self.i;
        let Some(c) = self.peek_at(0) else {
            return Ok((pos, Tok::Eof));
        };
        let two = |l: &mut Self, t: Tok| {
            l.i += 2;
            Ok((pos, t))
        };
        let one = |l: &mut Self, t: Tok| {
            l.i += 1;
            Ok((pos, t))
        };
        match c {
            b'.' => one(self, Tok::Dot),
            b'(' => one(self, Tok::LParen),
            b')' => one(self, Tok::RParen),
            b'[' => one(self, Tok::LBracket),
            b']' => one(self, Tok::RBracket),
            b'{' => one(self, Tok::LBrace),
            b'}' => one(self, Tok::RBrace),
            b',' => one(self, Tok::Comma),
            b'+' => one(self, Tok::Plus),
            b'-' => one(self, Tok::Minus),
            b'*' => one(self, Tok::Star),
            b'/' => one(self, Tok::Slash),
            b'&' => one(self, Tok::Amp),
            b'|' => one(self, Tok::Pipe),
            b'=' => one(self, Tok::Eq),
            b'~' => one(self, Tok::Tilde),
            b'!' if self.peek_at(1) == Some(b'=') => two(self, Tok::Ne),
            b'!' if self.peek_at(1) == Some(b'~') => two(self, Tok::NotTilde),
            b'<' if self.peek_at(1) == Some(b'=') => two(self, Tok::Le),
            b'>' if self.peek_at(1) == Some(b'=') => two(self, Tok::Ge),
            b'<' => one(self, Tok::Lt),
            b'>' => one(self, Tok::Gt),
            b'\'' => Ok((pos, Tok::Str(self.quoted(b'\'')?))),
            b'"' => Ok((pos, Tok::Str(self.quoted(b'"')?))),
            b'`' => Ok((pos, Tok::Delimited(self.quoted(b'`')?))),
            b'@' => {
                self.i += 1;
                Ok((pos, self.datetime_literal()?))
            }
            b'$' => {
                self.i += 1;
                let name = self.take_while(is_ident_char);
                match name {
                    "this" | "index" | "total" => Ok((pos, Tok::Special(name.to_string()))),
                    _ => Err(Error::syntax(pos, format!("unknown special variable ${name}"))),
                }
            }
            b'%' => {
                self.i += 1;
                match self.peek_at(0) {
                    Some(b'`') => Ok((pos, Tok::Var(self.quoted(b'`')?))),
                    Some(b'\'') => Ok((pos, Tok::Var(self.quoted(b'\'')?))),
                    Some(c) if is_ident_start(c) => {
                        // allow '-' inside names like %vs-name / %ext-name
                        let name = self.take_while(|c| is_ident_char(c) || c == b'-');
                        Ok((pos, Tok::Var(name.to_string())))
                    }
                    _ => Err(Error::syntax(pos, "invalid external constant")),
                }
            }
            c if c.is_ascii_digit() => {
                let start = self.i;
                self.take_while(|c| c.is_ascii_digit());
                if self.peek_at(0) == Some(b'.') && self.peek_at(1).is_some_and(|c| c.is_ascii_digit()) {
                    self.i += 1;
                    self.take_while(|c| c.is_ascii_digit());
                }
                let text = self.src.get(start..self.i).unwrap_or("").to_string();
                if self.peek_at(0) == Some(b'L') && !self.peek_at(1).is_some_and(is_ident_char) {
                    self.i += 1;
                }
                Ok((pos, Tok::Num(text)))
            }
            c if is_ident_start(c) => Ok((pos, Tok::Ident(self.take_while(is_ident_char).to_string()))),
            _ => Err(Error::syntax(
                pos,
                format!("unexpected character '{}'", self.src.get(pos..).and_then(|s| s.chars().next()).unwrap_or('?')),
            )),
        }
    }
}

fn tokenize(src: &str) -> Result<Vec<(usize, Tok)>> {
    let mut lx = Lexer { src, b: src.as_bytes(), i: 0 };
    let mut out = Vec::new();
    loop {
        let (p, t) = lx.next()?;
        let eof = t == Tok::Eof;
        out.push((p, t));
        if eof {
            return Ok(out);
        }
    }
}

struct Parser {
    toks: Vec<(usize, Tok)>,
    i: usize,
    depth: usize,
}

type Parsed = (Expr, usize);

fn bump(d: usize, pos: usize) -> Result<usize> {
    let d = d + 1;
    if d > MAX_DEPTH {
        return Err(Error::syntax(pos, "expression nested too deeply"));
    }
    Ok(d)
}

impl Parser {
    fn peek(&self) -> &Tok {
        self.toks.get(self.i).map(|t| &t.1).unwrap_or(&Tok::Eof)
    }
    fn pos(&self) -> usize {
        self.toks.get(self.i).map(|t| t.0).unwrap_or(0)
    }
    fn advance(&mut self) -> Tok {
        let t = self.peek().clone();
        if self.i < self.toks.len() {
            self.i += 1;
        }
        t
    }
    fn expect(&mut self, t: Tok, what: &str) -> Result<()> {
        if *self.peek() == t {
            self.advance();
            Ok(())
        } else {
            Err(Error::syntax(self.pos(), format!("expected {what}, found {:?}", self.peek())))
        }
    }

    fn binary_op(&self) -> Option<(BinOp, u8)> {
        Some(match self.peek() {
            Tok::Star => (BinOp::Mul, 10),
            Tok::Slash => (BinOp::Div, 10),
            Tok::Plus => (BinOp::Add, 9),
            Tok::Minus => (BinOp::Sub, 9),
            Tok::Amp => (BinOp::Concat, 9),
            Tok::Pipe => (BinOp::Union, 7),
            Tok::Lt => (BinOp::Lt, 6),
            Tok::Gt => (BinOp::Gt, 6),
            Tok::Le => (BinOp::Le, 6),
            Tok::Ge => (BinOp::Ge, 6),
            Tok::Eq => (BinOp::Eq, 5),
            Tok::Ne => (BinOp::Ne, 5),
            Tok::Tilde => (BinOp::Equiv, 5),
            Tok::NotTilde => (BinOp::NotEquiv, 5),
            Tok::Ident(w) => match w.as_str() {
                "div" => (BinOp::IntDiv, 10),
                "mod" => (BinOp::Mod, 10),
                "in" => (BinOp::In, 4),
                "contains" => (BinOp::Contains, 4),
                "and" => (BinOp::And, 3),
                "or" => (BinOp::Or, 2),
                "xor" => (BinOp::Xor, 2),
                "implies" => (BinOp::Implies, 1),
                // is/as are handled with precedence 8 by the caller
                _ => return None,
            },
            _ => return None,
        })
    }

    fn expr(&mut self, min_bp: u8) -> Result<Parsed> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(Error::syntax(self.pos(), "expression nested too deeply"));
        }
        let (mut lhs, mut d) = self.unary()?;
        loop {
            let pos = self.pos();
            if let Tok::Ident(w) = self.peek()
                && (w == "is" || w == "as")
            {
                if 8 < min_bp {
                    break;
                }
                let is = w == "is";
                self.advance();
                let ts = self.type_spec()?;
                d = bump(d, pos)?;
                lhs = if is { Expr::Is(Box::new(lhs), ts) } else { Expr::As(Box::new(lhs), ts) };
                continue;
            }
            let Some((op, bp)) = self.binary_op() else {
                break;
            };
            if bp < min_bp {
                break;
            }
            self.advance();
            let (rhs, rd) = self.expr(bp + 1)?;
            d = bump(d.max(rd), pos)?;
            lhs = Expr::Binary(op, Box::new(lhs), Box::new(rhs));
        }
        self.depth -= 1;
        Ok((lhs, d))
    }

    fn type_spec(&mut self) -> Result<TypeSpec> {
        let pos = self.pos();
        let first = match self.advance() {
            Tok::Ident(s) | Tok::Delimited(s) => s,
            t => {
                return Err(Error::syntax(pos, format!("expected type name, found {t:?}")));
            }
        };
        if *self.peek() == Tok::Dot
            && matches!(self.toks.get(self.i + 1).map(|t| &t.1), Some(Tok::Ident(_) | Tok::Delimited(_)))
        {
            self.advance();
            let second = match self.advance() {
                Tok::Ident(s) | Tok::Delimited(s) => s,
                _ => return Err(Error::syntax(pos, "expected type name")),
            };
            return Ok(TypeSpec { namespace: Some(first), name: second });
        }
        Ok(TypeSpec { namespace: None, name: first })
    }

    fn unary(&mut self) -> Result<Parsed> {
        let pos = self.pos();
        match self.peek() {
            Tok::Minus => {
                self.advance();
                self.depth += 1;
                if self.depth > MAX_DEPTH {
                    return Err(Error::syntax(pos, "expression nested too deeply"));
                }
                let (e, d) = self.unary()?;
                self.depth -= 1;
                Ok((Expr::Neg(Box::new(e)), bump(d, pos)?))
            }
            Tok::Plus => {
                self.advance();
                self.depth += 1;
                if self.depth > MAX_DEPTH {
                    return Err(Error::syntax(pos, "expression nested too deeply"));
                }
                let r = self.unary();
                self.depth -= 1;
                r
            }
            _ => self.postfix(),
        }
    }

    fn postfix(&mut self) -> Result<Parsed> {
        let (mut e, mut d) = self.term()?;
        loop {
            let pos = self.pos();
            match self.peek() {
                Tok::Dot => {
                    self.advance();
                    let name = match self.advance() {
                        Tok::Ident(s) | Tok::Delimited(s) => s,
                        t => {
                            return Err(Error::syntax(pos, format!("expected identifier after '.', found {t:?}")));
                        }
                    };
                    if *self.peek() == Tok::LParen {
                        let (call, cd) = self.call(Some(e), &name, pos)?;
                        e = call;
                        d = bump(d.max(cd), pos)?;
                    } else {
                        e = Expr::Member(Box::new(e), Name::new(&name));
                        d = bump(d, pos)?;
                    }
                }
                Tok::LBracket => {
                    self.advance();
                    let (idx, id) = self.expr(0)?;
                    self.expect(Tok::RBracket, "']'")?;
                    e = Expr::Indexer(Box::new(e), Box::new(idx));
                    d = bump(d.max(id), pos)?;
                }
                _ => return Ok((e, d)),
            }
        }
    }

    fn call(&mut self, target: Option<Expr>, name: &str, pos: usize) -> Result<Parsed> {
        self.expect(Tok::LParen, "'('")?;
        let mut args = Vec::new();
        let mut d = 0;
        if *self.peek() != Tok::RParen {
            loop {
                let (a, ad) = self.expr(0)?;
                d = d.max(ad);
                args.push(a);
                if *self.peek() == Tok::Comma {
                    self.advance();
                    continue;
                }
                break;
            }
        }
        self.expect(Tok::RParen, "')'")?;
        let Some((func, min, max)) = Func::lookup(name) else {
            return Err(Error::syntax(pos, format!("unknown function '{name}'")));
        };
        if args.len() < min || args.len() > max {
            return Err(Error::syntax(
                pos,
                format!("function '{name}' takes {min}..{max} arguments, {} given", args.len()),
            ));
        }
        let mut type_arg = None;
        if matches!(func, Func::Is | Func::As | Func::OfType) {
            let a = args.pop();
            type_arg = Some(match a {
                Some(Expr::Ident(n)) => TypeSpec { namespace: None, name: n.name },
                Some(Expr::Member(ns, n)) => match *ns {
                    Expr::Ident(nsn) => TypeSpec { namespace: Some(nsn.name), name: n.name },
                    _ => return Err(Error::syntax(pos, "invalid type specifier")),
                },
                _ => return Err(Error::syntax(pos, "invalid type specifier")),
            });
        }
        let mut regex = None;
        if matches!(func, Func::Matches | Func::MatchesFull | Func::ReplaceMatches)
            && let Some(Expr::Literal(Value::String(p))) = args.first()
            && !p.is_empty()
        {
            regex = Some(compile_regex(p, func == Func::MatchesFull).map_err(|e| Error::syntax(pos, e))?);
        }
        Ok((Expr::Call(Box::new(Call { target, func, args, type_arg, regex })), d))
    }

    fn term(&mut self) -> Result<Parsed> {
        let pos = self.pos();
        match self.advance() {
            Tok::LParen => {
                let r = self.expr(0)?;
                self.expect(Tok::RParen, "')'")?;
                Ok(r)
            }
            Tok::LBrace => {
                self.expect(Tok::RBrace, "'}'")?;
                Ok((Expr::Empty, 1))
            }
            Tok::Str(s) => Ok((Expr::Literal(Value::String(Arc::from(s.as_str()))), 1)),
            Tok::Num(n) => {
                // quantity?
                let unit = match self.peek() {
                    Tok::Str(u) => Some((u.clone(), false)),
                    Tok::Ident(w) if super::datetime::CalendarUnit::from_word(w).is_some() => Some((w.clone(), true)),
                    _ => None,
                };
                if let Some((u, cal)) = unit {
                    self.advance();
                    let v = Decimal::from_str(&n).map_err(|_| Error::syntax(pos, "invalid number"))?;
                    return Ok((
                        Expr::Literal(Value::Quantity(Box::new(Quantity {
                            value: v,
                            unit: Arc::from(u.as_str()),
                            calendar: cal,
                        }))),
                        1,
                    ));
                }
                if n.contains('.') {
                    let v = Decimal::from_str(&n).map_err(|_| Error::syntax(pos, "invalid decimal"))?;
                    Ok((Expr::Literal(Value::Decimal(v)), 1))
                } else {
                    match n.parse::<i64>() {
                        Ok(i) => Ok((Expr::Literal(Value::Integer(i)), 1)),
                        Err(_) => {
                            let v = Decimal::from_str(&n).map_err(|_| Error::syntax(pos, "number too large"))?;
                            Ok((Expr::Literal(Value::Decimal(v)), 1))
                        }
                    }
                }
            }
            Tok::DateLit(s) => Ok((Expr::Literal(date_literal(&s, pos)?), 1)),
            Tok::TimeLit(s) => {
                let t = TimeValue::parse(&s).ok_or_else(|| Error::syntax(pos, "invalid time literal"))?;
                Ok((Expr::Literal(Value::Time(t)), 1))
            }
            Tok::Var(v) => Ok((Expr::Var(v), 1)),
            Tok::Special(s) => Ok((
                match s.as_str() {
                    "this" => Expr::This,
                    "index" => Expr::Index,
                    _ => Expr::Total,
                },
                1,
            )),
            Tok::Ident(w) => {
                if *self.peek() == Tok::LParen {
                    return self.call(None, &w, pos);
                }
                match w.as_str() {
                    "true" => Ok((Expr::Literal(Value::Boolean(true)), 1)),
                    "false" => Ok((Expr::Literal(Value::Boolean(false)), 1)),
                    "and" | "or" | "xor" | "implies" | "div" | "mod" => {
                        Err(Error::syntax(pos, format!("unexpected keyword '{w}'")))
                    }
                    _ => Ok((Expr::Ident(Name::new(&w)), 1)),
                }
            }
            Tok::Delimited(w) => {
                if *self.peek() == Tok::LParen {
                    return self.call(None, &w, pos);
                }
                Ok((Expr::Ident(Name::new(&w)), 1))
            }
            t => Err(Error::syntax(pos, format!("unexpected token {t:?}"))),
        }
    }
}

fn date_literal(s: &str, pos: usize) -> Result<Value> {
    if let Some(body) = s.strip_suffix('T') {
        let d = DateTimeValue::parse_date(body).ok_or_else(|| Error::syntax(pos, "invalid date literal"))?;
        return Ok(Value::DateTime(d));
    }
    if s.contains('T') {
        let d = DateTimeValue::parse_datetime(s).ok_or_else(|| Error::syntax(pos, "invalid dateTime literal"))?;
        return Ok(Value::DateTime(d));
    }
    let d = DateTimeValue::parse_date(s).ok_or_else(|| Error::syntax(pos, "invalid date literal"))?;
    debug_assert!(d.precision <= Precision::Day);
    Ok(Value::Date(d))
}

/// Compiles a FHIRPath regex (single-line mode: `.` matches newlines).
pub(super) fn compile_regex(p: &str, full: bool) -> std::result::Result<regex::Regex, String> {
    let pat = if full { format!("(?s)^(?:{p})$") } else { format!("(?s){p}") };
    regex::RegexBuilder::new(&pat)
        .size_limit(1 << 20)
        .dfa_size_limit(1 << 20)
        .nest_limit(64)
        .build()
        .map_err(|e| format!("invalid regular expression: {e}"))
}

/// Parses an expression into its syntax tree.
pub(super) fn parse(src: &str) -> Result<Expr> {
    if src.len() > MAX_LEN {
        return Err(Error::syntax(0, "expression too long"));
    }
    let toks = tokenize(src)?;
    let mut p = Parser { toks, i: 0, depth: 0 };
    if *p.peek() == Tok::Eof {
        return Err(Error::syntax(0, "empty expression"));
    }
    let (e, _) = p.expr(0)?;
    if *p.peek() != Tok::Eof {
        return Err(Error::syntax(p.pos(), format!("unexpected token {:?}", p.peek())));
    }
    Ok(e)
}
