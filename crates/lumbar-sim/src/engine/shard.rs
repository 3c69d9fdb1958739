//! A contiguous slice of the cohort's patients: `--shard i/n`.

use std::ops::Range;

use super::BLOCK;

/// One slice of the cohort: shard `index` (1-based) of `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

impl Shard {
    pub const WHOLE: Shard = Shard { index: 1, count: 1 };

    /// Parses `i/n` (1 ≤ i ≤ n).
    pub fn parse(text: &str) -> Result<Shard, String> {
        let (i, n) = text
            .split_once('/')
            .ok_or_else(|| format!("\"{text}\" is not i/n, e.g. 2/8"))?;
        let i: u32 = i
            .trim()
            .parse()
            .map_err(|_| format!("\"{text}\": shard index is not a number"))?;
        let n: u32 = n
            .trim()
            .parse()
            .map_err(|_| format!("\"{text}\": shard count is not a number"))?;
        if n == 0 || i == 0 || i > n {
            return Err(format!("\"{text}\": need 1 ≤ i ≤ n"));
        }
        Ok(Shard { index: i, count: n })
    }

    /// The patients of this shard: a contiguous run of whole blocks.
    pub fn patients(&self, total: u64) -> Range<u64> {
        let blocks = total.div_ceil(BLOCK);
        // In u128: k × blocks × BLOCK must not wrap for any u64 total.
        let at = |k: u64| {
            let first =
                u128::from(k) * u128::from(blocks) / u128::from(self.count) * u128::from(BLOCK);
            u64::try_from(first).unwrap_or(u64::MAX).min(total)
        };
        at(self.index as u64 - 1)..at(self.index as u64)
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}
