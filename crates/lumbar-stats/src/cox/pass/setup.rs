//! The layout's setup passes, in fixed chunks of rows on every thread:
//! the distinct stop (and entry) values of each stratum, and the stable
//! counting sort that gives each row its place. Both give what one pass
//! down the rows gives (a test holds them to it), so the layout does not
//! depend on the thread count.

use std::collections::HashMap;

use rayon::prelude::*;

/// Rows a chunk of the setup's parallel passes: fixed, so that what they
/// give does not depend on the thread count (small in tests, so that they
/// have many chunks).
const SETUP_ROWS: usize = if cfg!(test) { 64 } else { 1 << 16 };

/// Each row's id among the distinct `(stratum, value)` pairs of `values`,
/// and those pairs, numbered as one pass down the rows first sees them:
/// chunks of rows are hashed on every thread, then their distinct values
/// numbered chunk by chunk (a value first seen in chunk c is first seen in
/// the data where chunk c first sees it), so the ids are the one pass's.
pub(super) fn distinct_values(
    values: &[f64],
    stratum_of: &(impl Fn(usize) -> u32 + Sync),
) -> (Vec<u32>, Vec<(u32, f64)>) {
    let mut ids = vec![0u32; values.len()];
    let local: Vec<Vec<(u32, f64)>> = ids
        .par_chunks_mut(SETUP_ROWS)
        .enumerate()
        .map(|(c, ids)| {
            let mut slot: HashMap<(u32, u64), u32, BuildFx> = HashMap::default();
            let mut seen: Vec<(u32, f64)> = Vec::new();
            for (k, id) in ids.iter_mut().enumerate() {
                let i = c * SETUP_ROWS + k;
                // −0 and 0 are one time (`+ 0.0` makes −0 into 0).
                let v = values[i] + 0.0;
                let key = (stratum_of(i), v.to_bits());
                *id = *slot.entry(key).or_insert_with(|| {
                    seen.push((key.0, v));
                    seen.len() as u32 - 1
                });
            }
            seen
        })
        .collect();
    let mut slot: HashMap<(u32, u64), u32, BuildFx> = HashMap::default();
    let mut values_seen: Vec<(u32, f64)> = Vec::new();
    let global: Vec<Vec<u32>> = local
        .iter()
        .map(|seen| {
            seen.iter()
                .map(|&(s, v)| {
                    *slot.entry((s, v.to_bits())).or_insert_with(|| {
                        values_seen.push((s, v));
                        values_seen.len() as u32 - 1
                    })
                })
                .collect()
        })
        .collect();
    ids.par_chunks_mut(SETUP_ROWS)
        .zip(&global)
        .for_each(|(ids, global)| ids.iter_mut().for_each(|id| *id = global[*id as usize]));
    (ids, values_seen)
}

/// A stable counting sort of the rows on their segment (`2k + death` for
/// bucket k, `u32::MAX` for none), in place: `ids` holds each row's stop
/// id, turned by `segment_of` into its segment and then into its place;
/// returns where each segment starts (`2m + 1` values). Chunks of rows
/// count on every thread, each chunk's places start after the earlier
/// chunks' rows of the same segment, so the places are one pass's. The
/// chunks are fixed, and one when their counters (two `2m` arrays of u32
/// a chunk) would take more than the rows' own 16 bytes a row, as with
/// times that seldom repeat. Precondition: fewer than 2^31 rows (the fit
/// refuses more), so no count or place overflows.
pub(super) fn counting_sort(
    ids: &mut [u32],
    m: usize,
    segment_of: impl Fn(usize, u32) -> u32 + Sync,
) -> Vec<u32> {
    let segments = 2 * m;
    let chunks = ids.len().div_ceil(SETUP_ROWS);
    let size = if segments.saturating_mul(chunks) > 2 * ids.len() {
        ids.len().max(1)
    } else {
        SETUP_ROWS
    };
    // Each chunk's rows per segment.
    let counts: Vec<Vec<u32>> = ids
        .par_chunks_mut(size)
        .enumerate()
        .map(|(c, ids)| {
            let mut count = vec![0u32; segments];
            for (k, id) in ids.iter_mut().enumerate() {
                *id = segment_of(c * size + k, *id);
                if let Some(n) = count.get_mut(*id as usize) {
                    *n += 1;
                }
            }
            count
        })
        .collect();
    let mut start = vec![0u32; segments + 1];
    for s in 0..segments {
        start[s + 1] = start[s] + counts.iter().map(|c| c[s]).sum::<u32>();
    }
    // Each chunk's first place in each segment: after the earlier chunks'.
    let mut next: Vec<Vec<u32>> = Vec::with_capacity(counts.len());
    let mut at = start[..segments].to_vec();
    for count in &counts {
        next.push(at.clone());
        at.iter_mut().zip(count).for_each(|(a, n)| *a += n);
    }
    drop(counts);
    ids.par_chunks_mut(size)
        .zip(next.par_iter_mut())
        .for_each(|(ids, next)| {
            for seg in ids.iter_mut() {
                if let Some(at) = next.get_mut(*seg as usize) {
                    *seg = *at;
                    *at += 1;
                }
            }
        });
    start
}

/// A multiplicative hash with MurmurHash3's finaliser for the keys of one
/// fit: the std SipHash guards against adversarial keys, which event times
/// are not.
#[derive(Default, Clone, Copy)]
struct BuildFx;

struct Fx(u64);

impl std::hash::BuildHasher for BuildFx {
    type Hasher = Fx;
    fn build_hasher(&self) -> Fx {
        Fx(0)
    }
}

impl std::hash::Hasher for Fx {
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.write_u64(*b as u64);
        }
    }
    fn write_u32(&mut self, v: u32) {
        self.write_u64(v as u64);
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = (self.0.rotate_left(5) ^ v).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
    fn finish(&self) -> u64 {
        // MurmurHash3's fmix64: the keys are f64 bits whose low bits are
        // often all zero (whole days), and hash tables index by low bits.
        let mut h = self.0;
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
        h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        h ^ (h >> 33)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The setup's chunked passes give what one pass down the rows gives:
    /// the ids of distinct values in first-seen order, and a stable
    /// counting sort's places, with values repeating across chunks.
    #[test]
    fn the_chunked_setup_is_one_pass() {
        let n = 1_000;
        let values: Vec<f64> = (0..n).map(|i| ((i * 7919) % 97) as f64 * 0.5).collect();
        let stratum = |i: usize| i.is_multiple_of(3) as u32;
        let (ids, seen) = distinct_values(&values, &stratum);
        let mut want: Vec<(u32, f64)> = Vec::new();
        for i in 0..n {
            let key = (stratum(i), values[i]);
            let id = match want.iter().position(|&v| v == key) {
                Some(id) => id,
                None => {
                    want.push(key);
                    want.len() - 1
                }
            };
            assert_eq!(ids[i] as usize, id, "row {i}");
        }
        assert_eq!(seen, want);
        // Segments from the ids (every fifth row in none), 2m = 40.
        let m = 20;
        let segment_of = |i: usize, id: u32| if i % 5 == 4 { u32::MAX } else { id % 40 };
        let mut places = ids.clone();
        let start = counting_sort(&mut places, m, segment_of);
        let mut order: Vec<usize> = (0..n).filter(|&i| i % 5 != 4).collect();
        order.sort_by_key(|&i| ids[i] % 40);
        for (place, &i) in order.iter().enumerate() {
            assert_eq!(places[i] as usize, place, "row {i}");
        }
        assert!((0..n).filter(|i| i % 5 == 4).all(|i| places[i] == u32::MAX));
        for s in 0..40 {
            let rows = order.iter().filter(|&&i| ids[i] % 40 == s as u32).count();
            assert_eq!((start[s + 1] - start[s]) as usize, rows);
        }
        // Segments many beside the rows: one chunk, the same places.
        let mut one = ids.clone();
        let start = counting_sort(
            &mut one,
            2 * n,
            |i, id| if i % 5 == 4 { u32::MAX } else { id % 40 },
        );
        assert_eq!(one, places);
        assert_eq!(start[40] as usize, order.len());
    }
}
