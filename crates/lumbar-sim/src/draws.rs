//! A patient's random stream as the day loop consumes it: ChaCha8 words
//! taken from a local block of 32 64-bit words, refilled whole.
//!
//! `ChaCha8Rng::next_u64` checks and splices its 32-bit buffer on every call;
//! the day loop draws about 30 words a day, and that bookkeeping cost more
//! than generating them. A [`Draws`] refills 256 bytes at a time with
//! `fill_bytes` (exactly one 4-block ChaCha8 refill, so the words are the
//! stream's words in order: word k of a `Draws` is the k-th `next_u64` of the
//! same `ChaCha8Rng`) and hands them out with one compare and one load.
//!
//! The samplers are the textbook ones, written out so that they inline into
//! the day loop:
//! * uniform on [0, 1): the top 53 bits × 2⁻⁵³, as rand's `StandardUniform`;
//! * standard normal: the ziggurat of Marsaglia & Tsang (2000) in Doornik's
//!   ZIGNOR form (2005), with statrs' tables and statrs' use of the bits, so a
//!   deviate is the same function of the same word as statrs'
//!   `Normal::sample` (tested);
//! * integers in a range: Lemire's multiply-and-reject (ACM TOMACS 2019),
//!   unbiased.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::ziggurat_tables::{ZIG_NORM_F, ZIG_NORM_R, ZIG_NORM_X};

const BLOCK_WORDS: usize = 32;

/// 2⁻⁵³: a 53-bit integer times this is uniform on [0, 1).
const UNIT: f64 = 1.0 / (1u64 << 53) as f64;

/// The word `w` as a uniform on [0, 1): its top 53 bits × 2⁻⁵³.
#[inline(always)]
pub fn unit(w: u64) -> f64 {
    (w >> 11) as f64 * UNIT
}

pub struct Draws {
    rng: ChaCha8Rng,
    block: [u8; BLOCK_WORDS * 8],
    /// The next unread word of `block`; `BLOCK_WORDS` when it is used up.
    at: usize,
    refills: u64,
}

impl Draws {
    pub fn new(rng: ChaCha8Rng) -> Draws {
        Draws {
            rng,
            block: [0; BLOCK_WORDS * 8],
            at: BLOCK_WORDS,
            refills: 0,
        }
    }

    /// Starts over on another stream, keeping the block's memory.
    pub fn restart(&mut self, rng: ChaCha8Rng) {
        self.rng = rng;
        self.at = BLOCK_WORDS;
        self.refills = 0;
    }

    #[cold]
    #[inline(never)]
    fn refill(&mut self) {
        self.rng.fill_bytes(&mut self.block);
        self.refills += 1;
    }

    /// The next 64 random bits.
    #[inline(always)]
    pub fn word(&mut self) -> u64 {
        let mut at = self.at;
        if at >= BLOCK_WORDS {
            self.refill();
            at = 0;
        }
        self.at = at + 1;
        let mut w = [0u8; 8];
        w.copy_from_slice(&self.block[at * 8..at * 8 + 8]);
        u64::from_le_bytes(w)
    }

    /// The next `N` words, as `N` calls of [`Draws::word`] would give them,
    /// with one check of the block when they are all in it.
    #[inline(always)]
    pub fn words<const N: usize>(&mut self) -> [u64; N] {
        let at = self.at;
        let mut out = [0u64; N];
        if at + N <= BLOCK_WORDS {
            for (k, o) in out.iter_mut().enumerate() {
                let mut w = [0u8; 8];
                w.copy_from_slice(&self.block[(at + k) * 8..(at + k) * 8 + 8]);
                *o = u64::from_le_bytes(w);
            }
            self.at = at + N;
        } else {
            out.iter_mut().for_each(|o| *o = self.word());
        }
        out
    }

    /// Uniform on [0, 1).
    #[inline(always)]
    pub fn uniform(&mut self) -> f64 {
        unit(self.word())
    }

    /// True with probability `p`.
    #[inline(always)]
    pub fn chance(&mut self, p: f64) -> bool {
        self.uniform() < p
    }

    /// Uniform on `lo..=hi` (lo ≤ hi), by Lemire's method: the high half of
    /// word × n, rejecting the few low halves that would bias it.
    #[inline(always)]
    pub fn between(&mut self, lo: u32, hi: u32) -> u32 {
        let n = (hi - lo) as u64 + 1;
        let mut m = self.word() as u128 * n as u128;
        if (m as u64) < n {
            let threshold = n.wrapping_neg() % n;
            while (m as u64) < threshold {
                m = self.word() as u128 * n as u128;
            }
        }
        lo + (m >> 64) as u32
    }

    /// A standard normal deviate (ZIGNOR). 98.8% of draws take the first
    /// branch: one word, one table load, one compare.
    #[inline(always)]
    pub fn normal(&mut self) -> f64 {
        let bits = self.word();
        self.normal_from(bits)
    }

    /// The normal deviate that starts from the word `bits` (already drawn);
    /// the rare rejections draw their further words from the stream.
    #[inline(always)]
    pub fn normal_from(&mut self, bits: u64) -> f64 {
        let i = (bits & 0xff) as usize;
        let u = 2.0 * ((bits >> 11) as f64 * UNIT) - 1.0;
        let x = u * ZIG_NORM_X[i];
        if x.abs() < ZIG_NORM_X[i + 1] {
            return x;
        }
        self.normal_slow(i, u, x)
    }

    /// The ziggurat's rare cases: the base layer's tail (Marsaglia 1964) and
    /// the wedges, then a fresh draw as statrs does.
    #[cold]
    #[inline(never)]
    fn normal_slow(&mut self, mut i: usize, mut u: f64, mut x: f64) -> f64 {
        loop {
            if i == 0 {
                let (mut tx, mut ty) = (1.0f64, 0.0f64);
                while -2.0 * ty < tx * tx {
                    tx = self.open01().ln() / ZIG_NORM_R;
                    ty = self.open01().ln();
                }
                return if u < 0.0 {
                    tx - ZIG_NORM_R
                } else {
                    ZIG_NORM_R - tx
                };
            }
            if ZIG_NORM_F[i + 1] + (ZIG_NORM_F[i] - ZIG_NORM_F[i + 1]) * self.uniform()
                < (-x * x / 2.0).exp()
            {
                return x;
            }
            let bits = self.word();
            i = (bits & 0xff) as usize;
            u = 2.0 * ((bits >> 11) as f64 * UNIT) - 1.0;
            x = u * ZIG_NORM_X[i];
            if x.abs() < ZIG_NORM_X[i + 1] {
                return x;
            }
        }
    }

    /// Uniform on (0, 1): never 0, so its log is finite.
    fn open01(&mut self) -> f64 {
        ((self.word() >> 12) as f64 + 0.5) * (2.0 * UNIT)
    }

    /// 32-bit words drawn so far (the benchmark's count of what a
    /// patient-day consumes; a refill's unread words are not counted).
    pub fn words_used(&self) -> u64 {
        (self.refills * BLOCK_WORDS as u64 - (BLOCK_WORDS - self.at) as u64) * 2
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{RngExt, SeedableRng};
    use statrs::distribution::Normal;

    fn rng(seed: u64) -> ChaCha8Rng {
        let mut r = ChaCha8Rng::seed_from_u64(seed);
        r.set_stream(7);
        r
    }

    #[test]
    fn words_are_the_streams_next_u64_in_order() {
        let mut d = Draws::new(rng(1));
        let mut r = rng(1);
        for k in 0..1000 {
            assert_eq!(d.word(), r.next_u64(), "word {k}");
        }
        assert_eq!(d.words_used(), 2000);
    }

    #[test]
    fn words_in_a_chunk_are_the_same_words() {
        let mut a = Draws::new(rng(8));
        let mut b = Draws::new(rng(8));
        // Chunks of 5 cross the 32-word block boundary at every offset.
        for _ in 0..200 {
            let chunk = a.words::<5>();
            for w in chunk {
                assert_eq!(w, b.word());
            }
        }
        assert_eq!(a.words_used(), b.words_used());
        a.restart(rng(8));
        assert_eq!(a.word(), Draws::new(rng(8)).word());
        assert_eq!(a.words_used(), 2);
    }

    #[test]
    fn normal_deviates_match_statrs_bit_for_bit() {
        // The same stream through statrs' Normal::sample and through Draws:
        // the same deviates and the same words taken, the wedges' and the
        // base layer's rejections included (its open-interval uniforms are
        // rand's `Open01`, bit for bit).
        let z = Normal::new(0.0, 1.0).unwrap();
        let mut d = Draws::new(rng(2));
        let mut r = rng(2);
        let mut tail = 0;
        for k in 0..200_000 {
            let a = d.normal();
            let b: f64 = r.sample(z);
            assert_eq!(a.to_bits(), b.to_bits(), "deviate {k}");
            tail += (a.abs() > ZIG_NORM_R) as u32;
        }
        // Beyond R = 3.654 only the base layer's tail algorithm reaches:
        // P = 2.58e-4, about 52 of 200,000.
        assert!((25..90).contains(&tail), "{tail}");
        // Both count 32-bit words.
        assert_eq!(d.words_used(), r.get_word_pos() as u64);
    }

    #[test]
    fn normal_moments_and_tail() {
        let mut d = Draws::new(rng(3));
        let n = 1_000_000;
        let (mut s1, mut s2, mut s4, mut beyond) = (0.0, 0.0, 0.0, 0);
        for _ in 0..n {
            let x = d.normal();
            s1 += x;
            s2 += x * x;
            s4 += x * x * x * x;
            beyond += (x.abs() > ZIG_NORM_R) as u32;
        }
        let n = n as f64;
        assert!((s1 / n).abs() < 0.004, "mean {}", s1 / n);
        assert!((s2 / n - 1.0).abs() < 0.006, "variance {}", s2 / n);
        assert!((s4 / n - 3.0).abs() < 0.04, "fourth moment {}", s4 / n);
        // P(|Z| > 3.654) = 2.58e-4: the tail path is taken and right.
        let expect = 2.58e-4 * n;
        assert!(
            (beyond as f64 - expect).abs() < 5.0 * expect.sqrt(),
            "{beyond}"
        );
    }

    #[test]
    fn between_is_uniform_over_its_range() {
        let mut d = Draws::new(rng(4));
        let mut counts = [0u32; 70];
        let n = 700_000;
        for _ in 0..n {
            let v = d.between(21, 90);
            assert!((21..=90).contains(&v));
            counts[(v - 21) as usize] += 1;
        }
        // Pearson's χ² on 69 degrees of freedom: the 0.999 quantile is 111.
        let e = n as f64 / 70.0;
        let chi2: f64 = counts.iter().map(|&c| (c as f64 - e).powi(2) / e).sum();
        assert!(chi2 < 111.0, "χ² = {chi2}");
        assert_eq!(d.between(5, 5), 5);
    }

    #[test]
    fn uniform_and_chance() {
        let mut d = Draws::new(rng(5));
        let n = 1_000_000;
        let hits = (0..n).filter(|_| d.chance(0.3)).count() as f64;
        // Binomial SD is 458: within 5 SD.
        assert!((hits - 300_000.0).abs() < 2300.0, "{hits}");
        let mut r = rng(6);
        let mut d = Draws::new(rng(6));
        for _ in 0..1000 {
            assert_eq!(d.uniform(), r.random::<f64>());
        }
    }
}
