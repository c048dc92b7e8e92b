//! A small, seeded random generator (SplitMix64) for the randomized tests: the same cases on
//! every run, so a failure repeats; `IKP_FUZZ_SEED` picks other ones, `IKP_FUZZ_CASES` more.

pub struct Rng(u64);

impl Rng {
    /// Seeded from `IKP_FUZZ_SEED` when set, else from `default_seed`.
    pub fn from_env(default_seed: u64) -> Rng {
        Rng(std::env::var("IKP_FUZZ_SEED").ok().and_then(|n| n.parse().ok()).unwrap_or(default_seed))
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    pub fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

/// How many random cases a randomized test runs: `IKP_FUZZ_CASES`, or `default`.
pub fn cases(default: usize) -> usize {
    std::env::var("IKP_FUZZ_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(default)
}
