//! Patients split into buckets by a stable hash of their id, and shards of
//! whole buckets: how a registry-sized store is cut for a job array.
//!
//! A patient's bucket depends only on the id's bytes and the bucket count,
//! never on the machine, the run or the order rows arrive, so every shard
//! of every run agrees on who is whose. The hash is spelled out so that
//! another engine can reproduce it:
//!
//! ```text
//! h = FNV-1a 64 over the id's UTF-8 bytes
//!     (offset 0xcbf29ce484222325, prime 0x100000001b3)
//! h = splitmix64's finaliser of h            (Steele, Lea & Flood 2014)
//!     h ^= h >> 30; h *= 0xbf58476d1ce4e5b9;
//!     h ^= h >> 27; h *= 0x94d049bb133111eb; h ^= h >> 31
//! bucket = h mod buckets
//! ```
//!
//! FNV-1a alone leaves ids that differ in their last character in nearby
//! values; the finaliser spreads them over every bucket.

/// Buckets of a store that did not record its own count: shards of such a
/// store take whole buckets of 64.
pub const DEFAULT_BUCKETS: u32 = 64;

/// The most buckets a store may have: a folder per bucket and table, and
/// an ingest holds up to three files open per bucket it writes (the
/// pending part, its row index and the spill of its rows' fingerprints),
/// within the usual limit of 1,024 open files, and a Parquet writer thread
/// per pending part.
pub const MAX_BUCKETS: u32 = 256;

/// The hive-style folder of a bucket, `bucket=007`: polars, DuckDB, Arrow
/// and Spark read `bucket` as a column of the table from it.
pub fn bucket_folder(bucket: u32) -> String {
    format!("bucket={bucket:03}")
}

/// The bucket a folder name stands for (`bucket=007` → 7), if it is one.
pub fn parse_bucket_folder(name: &str) -> Option<u32> {
    let digits = name.strip_prefix("bucket=")?;
    if digits.len() != 3 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// The bucket of a patient id, `0..buckets` (`buckets` ≥ 1).
pub fn bucket_of(patient_id: &str, buckets: u32) -> u32 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in patient_id.as_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h ^= h >> 30;
    h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h ^= h >> 27;
    h = h.wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^= h >> 31;
    (h % u64::from(buckets.max(1))) as u32
}

/// Shard `index` of `count` (1-based) of a store's buckets: a contiguous
/// run of whole buckets, `⌊(i−1)·B/n⌋ .. ⌊i·B/n⌋`, so the shards of one
/// count cover every bucket exactly once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BucketShard {
    pub index: u32,
    pub count: u32,
}

impl BucketShard {
    pub const WHOLE: BucketShard = BucketShard { index: 1, count: 1 };

    /// A shard `i/n` of a store of `buckets` buckets; `None` unless
    /// 1 ≤ i ≤ n ≤ buckets (a shard with no bucket would have nothing to do).
    pub fn new(index: u32, count: u32, buckets: u32) -> Option<BucketShard> {
        (index >= 1 && index <= count && count <= buckets).then_some(BucketShard { index, count })
    }

    /// The buckets this shard takes.
    pub fn buckets(&self, buckets: u32) -> std::ops::Range<u32> {
        let at = |k: u32| (u64::from(k) * u64::from(buckets) / u64::from(self.count.max(1))) as u32;
        at(self.index - 1)..at(self.index)
    }

    /// Whether this shard takes the patient with this id.
    pub fn takes(&self, patient_id: &str, buckets: u32) -> bool {
        self.count <= 1
            || self
                .buckets(buckets)
                .contains(&bucket_of(patient_id, buckets))
    }
}

impl std::fmt::Display for BucketShard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_is_the_documented_one() {
        // FNV-1a 64 of "" is the offset basis; of "a" it is 0xaf63dc4c8601ec8c
        // (the published test vector); then the finaliser.
        let fin = |mut h: u64| {
            h ^= h >> 30;
            h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
            h ^= h >> 27;
            h = h.wrapping_mul(0x94d0_49bb_1331_11eb);
            h ^ (h >> 31)
        };
        assert_eq!(
            bucket_of("a", u32::MAX),
            (fin(0xaf63_dc4c_8601_ec8c) % u64::from(u32::MAX)) as u32
        );
        assert_eq!(
            bucket_of("", 1000),
            (fin(0xcbf2_9ce4_8422_2325) % 1000) as u32
        );
    }

    #[test]
    fn sequential_ids_fill_every_bucket_evenly() {
        let mut counts = vec![0u32; 64];
        for i in 0..64_000 {
            counts[bucket_of(&format!("P{i:05}"), 64) as usize] += 1;
        }
        // 1,000 expected per bucket; a Poisson SD is about 32.
        assert!(
            counts.iter().all(|&c| (850..1150).contains(&c)),
            "{counts:?}"
        );
    }

    #[test]
    fn shards_cover_every_bucket_once() {
        for buckets in [1, 7, 64, 100] {
            for count in 1..=buckets.min(20) {
                let mut seen = vec![0; buckets as usize];
                for index in 1..=count {
                    let s = BucketShard::new(index, count, buckets).unwrap();
                    assert!(!s.buckets(buckets).is_empty());
                    for b in s.buckets(buckets) {
                        seen[b as usize] += 1;
                    }
                }
                assert!(
                    seen.iter().all(|&n| n == 1),
                    "{buckets} buckets, {count} shards"
                );
            }
        }
        assert!(BucketShard::new(3, 2, 64).is_none());
        assert!(BucketShard::new(1, 65, 64).is_none());
        assert!(BucketShard::new(0, 2, 64).is_none());
    }
}
