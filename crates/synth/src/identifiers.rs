//! Polish registry numbers with their check digits (reference §3.2–3.3): physician NPWZ, nurse
//! and other licence numbers, REGON-9, REGON-14, NIP, and the ministry's entity book number.

use super::rng::Rng;

fn digits_of(s: &str) -> Option<Vec<u32>> {
    s.chars().map(|c| c.to_digit(10)).collect()
}

fn weighted_mod11(digits: &[u32], weights: &[u32]) -> u32 {
    digits.iter().zip(weights).map(|(d, w)| d * w).sum::<u32>() % 11
}

/// Physician/dentist NPWZ: 7 digits whose first is `(1·d2 + 2·d3 + … + 6·d7) mod 11`, never 0.
pub fn npwz(rng: &mut Rng) -> String {
    loop {
        let body = rng.digits(6);
        let Some(d) = digits_of(&body) else { continue };
        let check = weighted_mod11(&d, &[1, 2, 3, 4, 5, 6]);
        if (1..=9).contains(&check) {
            return format!("{check}{body}");
        }
    }
}

pub fn npwz_valid(s: &str) -> bool {
    match digits_of(s) {
        Some(d) if d.len() == 7 => {
            let check = weighted_mod11(&d[1..], &[1, 2, 3, 4, 5, 6]);
            check != 0 && check == d[0]
        }
        _ => false,
    }
}

/// Nurse (`P`) or midwife (`A`) licence: 7 digits and the letter (no published checksum).
pub fn nurse_pwz(rng: &mut Rng, midwife: bool) -> String {
    let first = rng.range(1, 9);
    format!("{first}{}{}", rng.digits(6), if midwife { 'A' } else { 'P' })
}

/// Pharmacist and laboratory diagnostician licence numbers: 8 digits (no published checksum).
pub fn licence8(rng: &mut Rng) -> String {
    let first = rng.range(1, 9);
    format!("{first}{}", rng.digits(7))
}

const REGON9_WEIGHTS: [u32; 8] = [8, 9, 2, 3, 4, 5, 6, 7];
const REGON14_WEIGHTS: [u32; 13] = [2, 4, 8, 5, 0, 9, 7, 3, 6, 1, 2, 4, 8];
const NIP_WEIGHTS: [u32; 9] = [6, 5, 7, 2, 3, 4, 5, 6, 7];

/// REGON-9: weights 8,9,2,3,4,5,6,7; check `(Σ mod 11) mod 10`.
pub fn regon9(rng: &mut Rng) -> String {
    let first = rng.range(1, 9);
    let body = format!("{first}{}", rng.digits(7));
    let check = digits_of(&body).map_or(0, |d| weighted_mod11(&d, &REGON9_WEIGHTS) % 10);
    format!("{body}{check}")
}

/// REGON-14 of a local unit: the parent's REGON-9, a 4-digit unit number, then the check digit.
pub fn regon14(regon9: &str, unit: u32) -> String {
    let body = format!("{regon9}{:04}", unit % 10_000);
    let check = digits_of(&body).map_or(0, |d| weighted_mod11(&d, &REGON14_WEIGHTS) % 10);
    format!("{body}{check}")
}

pub fn regon_valid(s: &str) -> bool {
    let Some(d) = digits_of(s) else { return false };
    let weights: &[u32] = match d.len() {
        9 => &REGON9_WEIGHTS,
        14 => &REGON14_WEIGHTS,
        _ => return false,
    };
    let n = d.len() - 1;
    weighted_mod11(&d[..n], weights) % 10 == d[n]
}

/// NIP: weights 6,5,7,2,3,4,5,6,7; `Σ mod 11` is the 10th digit (a remainder of 10 is never issued).
pub fn nip(rng: &mut Rng) -> String {
    loop {
        let office = rng.range(101, 999);
        let body = format!("{office}{}", rng.digits(6));
        let Some(d) = digits_of(&body) else { continue };
        let check = weighted_mod11(&d, &NIP_WEIGHTS);
        if check < 10 {
            return format!("{body}{check}");
        }
    }
}

pub fn nip_valid(s: &str) -> bool {
    match digits_of(s) {
        Some(d) if d.len() == 10 => {
            let check = weighted_mod11(&d[..9], &NIP_WEIGHTS);
            check < 10 && check == d[9]
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_numbers_validate() {
        let mut rng = Rng::new(3);
        for _ in 0..500 {
            assert!(npwz_valid(&npwz(&mut rng)));
            let r9 = regon9(&mut rng);
            assert!(regon_valid(&r9));
            assert!(regon_valid(&regon14(&r9, rng.below(10_000) as u32)));
            assert!(nip_valid(&nip(&mut rng)));
        }
        // Published examples: REGON 123456785, NIP 5260250274 (Ministry of Finance), NPWZ 5425740.
        assert!(regon_valid("123456785"));
        assert!(regon_valid("12345678512347"));
        assert!(nip_valid("5260250274"));
        assert!(!nip_valid("5260250275"));
        assert!(npwz_valid("5425740"));
        assert!(!npwz_valid("0000000"));
    }
}
