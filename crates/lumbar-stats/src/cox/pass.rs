//! The event-time passes of the Newton steps: the rows bucketed by the last
//! event time they are at risk at (a parallel counting-sort scatter), and
//! the passes that sum `w r`, `w r x`, `w r x xᵀ` over them (`kernel`).
//! What else a fit computes works on the same layout: the robust
//! variance (`robust`), the concordance (`concordance`) and cox.zph's sums
//! ([`EventTimes::weighted`]).
//!
//! The Cox code's only unsafe code is here and in `kernel` (the crate's
//! other is in `poisson::pass`): the scatter writes through raw pointers
//! at the distinct places of a permutation, streaming stores on x86_64,
//! `madvise` for huge pages, the kernel compiled for AVX2, and
//! [`prefetch`] (which the concordance's sweep uses too).
//! Each `unsafe fn` states its contract under `# Safety` and each block
//! says why it holds (`SAFETY:`).

use nalgebra::{DMatrix, DVector};
use rayon::prelude::*;

use super::{CoxData, TieTerms, Ties, stratum_ids};
use setup::{counting_sort, distinct_values};

pub(super) mod concordance;
mod kernel;
mod robust;
mod setup;

/// What one pass over the data gives.
#[derive(Clone)]
pub(super) struct Pass {
    pub(super) loglik: f64,
    pub(super) score: DVector<f64>,
    pub(super) info: DMatrix<f64>,
    /// Σ w r x xᵀ over the rows at risk at some event time: at β = 0, the
    /// weighted cross-product of the centred covariates that the
    /// collinearity check looks at; and Σ w r over them.
    pub(super) cross: DMatrix<f64>,
    pub(super) at_risk: f64,
}

/// The rows of a fit grouped by the event times they are at risk at, for
/// the Newton passes: a pass is one sweep over contiguous rows, split
/// across threads, whatever the ties.
///
/// Number the distinct event times of every stratum, stratum after
/// stratum; row i is at risk at those in `[lo_i, hi_i)` (entry_i < τ ≤
/// stop_i). The rows are stored grouped by their bucket `hi_i − 1`, the
/// last event time they are at risk at, the bucket's censored rows before
/// its deaths (a stable counting sort in `setup`, then a scatter that
/// centres each row as it places it). A sweep sums `w r`,
/// `w r x` and `w r x xᵀ` over each run of rows of one bucket (a
/// [`Unit`]): those sums `B0`, `B1`, `B2` are all a pass needs, because
/// within a stratum
/// - `S0`, `S1` at event time k are the suffix sums over buckets b ≥ k of
///   `B0`, `B1`, less those of the rows that enter late placed at
///   `lo_i − 1`;
/// - for the coefficients `c_k` of event time k and `C` their prefix sums,
///   `Σ_k c_k S2(τ_k) = Σ_b B2_b (C[b + 1] − C[first_b])` (`first_b` the
///   stratum's first event time), so the S2 terms of the information are
///   a weighted sum of the units' `B2`, and no S2 is kept per event time;
/// - the deaths at k are bucket k's death runs: `D0`, `D1`, `D2`.
///
/// Units have fixed bounds and are summed in order: a fit's numbers do not
/// depend on the thread count.
pub(super) struct EventTimes {
    p: usize,
    /// Centred covariates, row-major, in bucket order from `x_start` (see
    /// [`row_buffer`]); rows at risk at no event time are left out.
    x: Vec<f64>,
    x_start: usize,
    /// Case weights in the same order.
    weights: Option<Vec<f64>>,
    /// Each data row's place in that order (`u32::MAX` for a row left
    /// out): what joins a row's residual to its cluster label.
    place: Vec<u32>,
    /// Where each bucket's censored rows and deaths start: bucket k's
    /// censored rows are `segment[2k]..segment[2k + 1]`, its deaths
    /// `segment[2k + 1]..segment[2k + 2]`.
    segment: Vec<u32>,
    /// The bucket runs, in row order.
    units: Vec<Unit>,
    /// Positions in `x` of the rows that enter late, grouped by the event
    /// time before their entry, and those groups as units (`start..end`
    /// index this list).
    late: Vec<u32>,
    late_units: Vec<Unit>,
    /// Event times in all: k = 0..m.
    m: usize,
    /// Event time k's value (ascending within each stratum).
    time: Vec<f64>,
    /// The first event time of event time k's stratum.
    first: Vec<u32>,
    /// Deaths and their summed weight at each event time.
    deaths: Vec<f64>,
    death_weight: Vec<f64>,
    /// Σ over deaths of w x (the score's first term; ℓ's is βᵀ of it).
    death_wx: Vec<f64>,
    ties: Ties,
}

/// A run of at most [`Unit::ROWS`] rows of one bucket, all deaths or all
/// censored.
#[derive(Debug, Clone, Copy)]
struct Unit {
    k: u32,
    death: bool,
    start: u32,
    end: u32,
}

impl Unit {
    /// Long enough that a unit's sums (1 + p + p² values) are cheap beside
    /// its rows, short enough that a bucket holding most rows (a common
    /// administrative censoring time) still splits between threads. Tests
    /// use short units, so that buckets split there too.
    const ROWS: u32 = if cfg!(test) { 16 } else { 8_192 };

    /// Splits `start..end` of bucket `k` into units.
    pub(super) fn split(k: usize, death: bool, start: u32, end: u32, out: &mut Vec<Unit>) {
        let mut a = start;
        while a < end {
            let b = end.min(a + Unit::ROWS);
            out.push(Unit {
                k: k as u32,
                death,
                start: a,
                end: b,
            });
            a = b;
        }
    }
}

/// An empty buffer with room for `len` values, for the fit's rows, and the
/// index at which they start: the first cache line (64 bytes) boundary, so
/// that a row of 8 covariates is one line, not two (a scattered row costs
/// a read of each line it touches). The values before it are zeros.
///
/// Where Linux offers transparent huge pages, they back it. On the machines
/// this was measured on, a first touch costs about 4 µs per 4 KiB page, so
/// the 64 MiB of a million rows × 8 covariates cost 70 ms in page faults
/// with 4 KiB pages and 12 ms with 2 MiB ones.
fn row_buffer(len: usize) -> (Vec<f64>, usize) {
    let mut v: Vec<f64> = Vec::with_capacity(len + 7);
    let start = (v.as_ptr() as usize).next_multiple_of(64) - v.as_ptr() as usize;
    let start = start / std::mem::size_of::<f64>();
    huge_pages(&v);
    v.resize(start, 0.0);
    (v, start)
}

/// `len` copies of `value` in memory backed by huge pages where Linux
/// offers them (see [`row_buffer`]): for the per-fit buffers of a million
/// rows (the concordance's trees and ranks, the score residuals), whose
/// first touch in 4 KiB pages cost more than the sweeps that fill them.
pub(super) fn huge_vec<T: Clone>(len: usize, value: T) -> Vec<T> {
    let mut v: Vec<T> = Vec::with_capacity(len);
    huge_pages(&v);
    v.resize(len, value);
    v
}

/// Asks Linux to back a vector's allocation (its capacity) with
/// transparent huge pages when it is at least 4 MiB; nothing elsewhere.
fn huge_pages<T>(v: &Vec<T>) {
    #[cfg(target_os = "linux")]
    {
        let bytes = v.capacity() * std::mem::size_of::<T>();
        if bytes >= 1 << 22 {
            // Whole pages of the allocation only.
            let from = (v.as_ptr() as usize).next_multiple_of(4096);
            let to = (v.as_ptr() as usize + bytes) & !4095;
            if to > from {
                // SAFETY: advice about pages of this allocation; madvise
                // reads and writes no memory, and a refusal only leaves
                // small pages.
                unsafe { libc::madvise(from as *mut libc::c_void, to - from, libc::MADV_HUGEPAGE) };
            }
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = v;
}

/// Asks the CPU to bring the cache line of `v[i]` in, for a read soon
/// (nothing when `i` is out of bounds, or off x86_64). A sweep whose next
/// places it knows ahead (the concordance's Fenwick walks, at ranks read
/// from a list) waits on one memory access after another without it.
#[inline(always)]
pub(super) fn prefetch<T>(v: &[T], i: usize) {
    #[cfg(target_arch = "x86_64")]
    if let Some(x) = v.get(i) {
        // SAFETY: the pointer is to an element of `v`; a prefetch reads and
        // writes nothing the program sees (it is a hint), and SSE is part
        // of x86_64.
        unsafe {
            use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
            _mm_prefetch::<_MM_HINT_T0>((x as *const T).cast::<i8>());
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (v, i);
}

/// The destination of the parallel scatter in [`EventTimes::new`].
struct Rows {
    x: *mut f64,
    w: *mut f64,
}

// SAFETY: threads write through these pointers only at the distinct
// positions of a permutation (see `EventTimes::new`), never read.
unsafe impl Sync for Rows {}
unsafe impl Send for Rows {}

impl Rows {
    /// Writes value `at` of the rows.
    ///
    /// # Safety
    /// `at` is in bounds and no other thread writes it.
    unsafe fn put(&self, at: usize, v: f64) {
        // SAFETY: as the caller promises.
        unsafe { self.x.add(at).write(v) }
    }

    /// Writes the 8 values of a cache line at value `at`, a multiple of 8
    /// from the 64-byte boundary [`row_buffer`] starts the rows at. On
    /// x86_64 with streaming stores: a scattered row would otherwise first
    /// read the line it overwrites, and most of the scatter's time was
    /// waiting for those reads. Needs an `_mm_sfence` before other threads
    /// read.
    ///
    /// # Safety
    /// As [`Rows::put`], for the values `at..at + 8`.
    unsafe fn put_line(&self, at: usize, v: &[f64; 8]) {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as the caller promises; the line is 64-byte aligned, so
        // each pair is 16-byte aligned as _mm_stream_pd needs, and SSE2 is
        // part of x86_64.
        unsafe {
            use std::arch::x86_64::{_mm_loadu_pd, _mm_stream_pd};
            let dst = self.x.add(at);
            for k in 0..4 {
                _mm_stream_pd(dst.add(2 * k), _mm_loadu_pd(v.as_ptr().add(2 * k)));
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        // SAFETY: as the caller promises.
        unsafe {
            std::ptr::copy_nonoverlapping(v.as_ptr(), self.x.add(at), 8)
        };
    }

    /// Writes the weight of row `at`.
    ///
    /// # Safety
    /// There are weights, `at` is in bounds and no other thread writes it.
    unsafe fn put_weight(&self, at: usize, w: f64) {
        // SAFETY: as the caller promises.
        unsafe { self.w.add(at).write(w) }
    }
}

impl EventTimes {
    pub(super) fn new(data: &CoxData, means: &[f64], ties: Ties) -> EventTimes {
        let n = data.stop.len();
        let p = data.columns.len();
        let (stratum, strata) = match stratum_ids(data) {
            Some((ids, strata)) => (Some(ids), strata),
            None => (None, 1),
        };
        let stratum_of = |i: usize| stratum.as_ref().map_or(0, |s| s[i]);
        // The distinct (stratum, value) pairs of a column: times repeat
        // (days), so each row is looked up by hash and each distinct value
        // placed among the event times once (a binary search per row was
        // most of the setup).
        let distinct = |values: &[f64]| distinct_values(values, &stratum_of);
        let (stop_id, stops) = distinct(&data.stop);
        // Event times per stratum, ascending: the stop values with an event.
        let mut has_event = vec![false; stops.len()];
        for i in 0..n {
            if data.event[i] {
                has_event[stop_id[i] as usize] = true;
            }
        }
        let mut times: Vec<Vec<f64>> = vec![Vec::new(); strata];
        for (&(s, t), _) in stops.iter().zip(&has_event).filter(|(_, e)| **e) {
            times[s as usize].push(t);
        }
        let mut offset = vec![0usize; strata + 1];
        for (s, t) in times.iter_mut().enumerate() {
            t.sort_by(f64::total_cmp);
            offset[s + 1] = offset[s] + t.len();
        }
        let m = offset[strata];
        let time: Vec<f64> = times.iter().flatten().copied().collect();
        let mut first = vec![0u32; m];
        for s in 0..strata {
            first[offset[s]..offset[s + 1]].fill(offset[s] as u32);
        }
        // A value's place among its stratum's event times: how many are ≤ it.
        let place = |&(s, v): &(u32, f64)| -> u32 {
            let s = s as usize;
            (offset[s] + times[s].partition_point(|&t| t <= v)) as u32
        };
        let stop_hi: Vec<u32> = stops.iter().map(place).collect();
        let lo: Option<Vec<u32>> = data.entry.as_deref().map(|e| {
            let (ids, entries) = distinct(e);
            let at: Vec<u32> = entries.iter().map(place).collect();
            ids.into_iter().map(|id| at[id as usize]).collect()
        });
        let lo_of = |i: usize| match &lo {
            Some(lo) => lo[i],
            None => offset[stratum_of(i) as usize] as u32,
        };
        let w = |i: usize| data.weights.as_ref().map_or(1.0, |w| w[i]);
        // A counting sort on (bucket, death): segment 2k + death, or none
        // for a row at risk at no event time; in place, the row's stop id
        // becomes its segment, then its place.
        let segment_of = |i: usize, stop_id: u32| -> u32 {
            let hi = stop_hi[stop_id as usize];
            if hi <= lo_of(i) {
                u32::MAX
            } else {
                2 * (hi - 1) + data.event[i] as u32
            }
        };
        let mut pos = stop_id;
        let start = counting_sort(&mut pos, m, segment_of);
        // Deaths at event time k: bucket k's death segment.
        let deaths: Vec<f64> = (0..m)
            .map(|k| (start[2 * k + 2] - start[2 * k + 1]) as f64)
            .collect();
        let kept = start[2 * m] as usize;
        let mut units = Vec::new();
        for s in 0..2 * m {
            Unit::split(s / 2, s % 2 == 1, start[s], start[s + 1], &mut units);
        }
        // Rows that enter after their stratum's first event time.
        let mut late: Vec<(u32, u32)> = match &lo {
            Some(lo) => (0..n)
                .filter(|&i| pos[i] != u32::MAX && lo[i] > first[lo[i] as usize])
                .map(|i| (lo[i] - 1, pos[i]))
                .collect(),
            None => Vec::new(),
        };
        late.sort_unstable();
        let mut late_units = Vec::new();
        let mut a = 0;
        while a < late.len() {
            let k = late[a].0;
            let b = a + late[a..].partition_point(|&(kb, _)| kb == k);
            Unit::split(k as usize, false, a as u32, b as u32, &mut late_units);
            a = b;
        }
        // Centre each row and write it at its place, taking the deaths'
        // Σ w x on the way, in fixed chunks summed in order.
        let (mut x, x_start) = row_buffer(kept * p);
        let mut weights = data.weights.as_ref().map(|_| Vec::with_capacity(kept));
        let rows = Rows {
            // SAFETY: `x_start` is within the allocation (row_buffer).
            x: unsafe { x.as_mut_ptr().add(x_start) },
            w: weights
                .as_mut()
                .map_or(std::ptr::null_mut(), |v: &mut Vec<f64>| v.as_mut_ptr()),
        };
        const ROWS: usize = 32_768;
        let parts: Vec<Vec<f64>> = (0..n.div_ceil(ROWS))
            .into_par_iter()
            .map(|c| {
                let range = c * ROWS..n.min((c + 1) * ROWS);
                let cols: Vec<&[f64]> = data.columns.iter().map(|v| &v[range.clone()]).collect();
                let mut dwx = vec![0.0; p];
                for (r, i) in range.enumerate() {
                    let at = pos[i];
                    if at == u32::MAX {
                        continue;
                    }
                    let wi = w(i);
                    if p == 8 {
                        // A row is one cache line: written whole, past the
                        // cache (see `Rows::put_line`).
                        let v: [f64; 8] = std::array::from_fn(|j| cols[j][r] - means[j]);
                        // SAFETY: as below.
                        unsafe { rows.put_line(at as usize * 8, &v) };
                        if data.event[i] {
                            for (d, v) in dwx.iter_mut().zip(v) {
                                *d += wi * v;
                            }
                        }
                    } else {
                        for (j, (col, mean)) in cols.iter().zip(means).enumerate() {
                            let v = col[r] - mean;
                            // SAFETY: `pos` gives each kept row its own place
                            // below `kept` (the counting sort hands out each
                            // place of a segment once), so no two rows and no
                            // two threads write the same value.
                            unsafe { rows.put(at as usize * p + j, v) };
                            if data.event[i] {
                                dwx[j] += wi * v;
                            }
                        }
                    }
                    if data.weights.is_some() {
                        // SAFETY: as above, for the weights.
                        unsafe { rows.put_weight(at as usize, wi) };
                    }
                }
                #[cfg(target_arch = "x86_64")]
                // SAFETY: SSE2 is part of x86_64. The fence orders this
                // thread's streaming stores before the join that publishes them.
                unsafe {
                    std::arch::x86_64::_mm_sfence()
                };
                dwx
            })
            .collect();
        // SAFETY: the scatter wrote every place below `kept` (each kept row
        // has one, and there are `kept` of them), so all are initialised.
        unsafe {
            x.set_len(x_start + kept * p);
            if let Some(w) = weights.as_mut() {
                w.set_len(kept);
            }
        }
        // Their summed weight, over the placed rows: in the data's order
        // within a segment (the sort is stable), as one pass adds them.
        let death_weight: Vec<f64> = match &weights {
            Some(w) => (0..m)
                .map(|k| {
                    w[start[2 * k + 1] as usize..start[2 * k + 2] as usize]
                        .iter()
                        .sum()
                })
                .collect(),
            None => deaths.clone(),
        };
        let mut death_wx = vec![0.0; p];
        for dwx in parts {
            for (a, b) in death_wx.iter_mut().zip(dwx) {
                *a += b;
            }
        }
        EventTimes {
            p,
            x,
            x_start,
            weights,
            place: pos,
            segment: start,
            units,
            late: late.into_iter().map(|(_, r)| r).collect(),
            late_units,
            m,
            time,
            first,
            deaths,
            death_weight,
            death_wx,
            ties,
        }
    }

    /// Adds up `w r`, `w r x` and `w r x xᵀ` over the rows `rows` of a
    /// unit into `out = [B0, B1.., B2..]`: with AVX2 when the CPU has it
    /// (the same operations, four lanes at a time: the same bits).
    fn sum_run(&self, rows: std::ops::Range<usize>, beta: &[f64], out: &mut [f64]) {
        kernel::sum_unit(self.rows(), self.weights.as_deref(), rows, beta, out)
    }

    /// The rows in the layout (those at risk at some event time).
    fn kept(&self) -> usize {
        self.segment[2 * self.m] as usize
    }

    /// The rows, row-major.
    pub(super) fn rows(&self) -> &[f64] {
        &self.x[self.x_start..]
    }

    /// The sums of a pass at β before the information: each unit's
    /// `[B0, B1, B2]`, and S0, S1 at each event time with D0, D1 of its
    /// deaths, and each event time's tie terms.
    fn sweep(&self, beta: &[f64]) -> Sweep {
        let (p, m) = (self.p, self.m);
        // The sweep: every unit's sums, the late entries' after the buckets'.
        let stride = 1 + p + p * p;
        let nu = self.units.len();
        let mut sums = vec![0.0; (nu + self.late_units.len()) * stride];
        sums.par_chunks_mut(stride)
            .enumerate()
            .for_each(|(u, out)| match self.units.get(u) {
                Some(unit) => self.sum_run(unit.start as usize..unit.end as usize, beta, out),
                None => {
                    let unit = &self.late_units[u - nu];
                    let rows = &self.late[unit.start as usize..unit.end as usize];
                    let rows = rows.iter().map(|&r| r as usize);
                    kernel::sum_rows(self.rows(), self.weights.as_deref(), rows, beta, out)
                }
            });
        // Bucket sums (less the late entries'), then suffix sums within
        // each stratum: S0, S1 at each event time; D0, D1 of its deaths.
        let (mut s0, mut s1) = (vec![0.0; m], vec![0.0; m * p]);
        let (mut d0, mut d1) = (vec![0.0; m], vec![0.0; m * p]);
        for ((u, sign), s) in self.signed_units().zip(sums.chunks_exact(stride)) {
            let k = u.k as usize;
            s0[k] += sign * s[0];
            for (a, b) in s1[k * p..(k + 1) * p].iter_mut().zip(&s[1..1 + p]) {
                *a += sign * b;
            }
            if u.death {
                d0[k] += s[0];
                for (a, b) in d1[k * p..(k + 1) * p].iter_mut().zip(&s[1..1 + p]) {
                    *a += b;
                }
            }
        }
        for k in (0..m.saturating_sub(1)).rev() {
            if self.first[k + 1] as usize != k + 1 {
                s0[k] += s0[k + 1];
                let (head, tail) = s1.split_at_mut((k + 1) * p);
                for (a, b) in head[k * p..].iter_mut().zip(&tail[..p]) {
                    *a += b;
                }
            }
        }
        // Each event time's terms cost O(deaths there): on every thread.
        let terms: Vec<TieTerms> = (0..m)
            .into_par_iter()
            .map(|k| {
                TieTerms::new(
                    self.ties,
                    s0[k],
                    d0[k],
                    self.deaths[k],
                    self.death_weight[k],
                )
            })
            .collect();
        Sweep {
            sums,
            stride,
            s0,
            s1,
            d0,
            d1,
            terms,
        }
    }

    /// The units with their sign: the buckets' +1, the late entries' −1.
    fn signed_units(&self) -> impl Iterator<Item = (&Unit, f64)> {
        self.units
            .iter()
            .map(|u| (u, 1.0))
            .chain(self.late_units.iter().map(|u| (u, -1.0)))
    }

    pub(super) fn pass(&self, beta: &DVector<f64>) -> Pass {
        let (p, m) = (self.p, self.m);
        let beta: Vec<f64> = beta.iter().copied().collect();
        let Sweep {
            sums,
            stride,
            s1,
            d1,
            terms,
            ..
        } = self.sweep(&beta);
        let nu = self.units.len();
        let units = || self.signed_units().zip(sums.chunks_exact(stride));
        // Per event time: ℓ, the score and the information but for its S2
        // terms, and the coefficients c01, c11 of S2 and D2 (`TieTerms`).
        let mut loglik: f64 = self.death_wx.iter().zip(&beta).map(|(a, b)| a * b).sum();
        let mut score = DVector::from_column_slice(&self.death_wx);
        let mut info = DMatrix::<f64>::zeros(p, p);
        let mut cum = vec![0.0; m + 1]; // prefix sums of c01
        let mut c11s = vec![0.0; m];
        for (k, c) in terms.iter().enumerate() {
            let (s1, d1) = (&s1[k * p..(k + 1) * p], &d1[k * p..(k + 1) * p]);
            loglik -= c.log_den;
            for a in 0..p {
                score[a] -= c.c01 * s1[a] - c.c11 * d1[a];
                for b in 0..p {
                    info[(a, b)] -= c.outer(s1, d1, a, b);
                }
            }
            cum[k + 1] = cum[k] + c.c01;
            c11s[k] = c.c11;
        }
        // The S2 and D2 terms: each unit's B2 with its rows' coefficient
        // C[hi] − C[lo] (− c11 for deaths), in unit order.
        let mut s2 = vec![0.0; p * p];
        for ((u, sign), s) in units() {
            let k = u.k as usize;
            let mut c = sign * (cum[k + 1] - cum[self.first[k] as usize]);
            if u.death {
                c -= c11s[k];
            }
            for (a, b) in s2.iter_mut().zip(&s[1 + p..]) {
                *a += c * b;
            }
        }
        let mut cross = DMatrix::<f64>::zeros(p, p);
        let mut at_risk = 0.0;
        for s in sums.chunks_exact(stride).take(nu) {
            at_risk += s[0];
            for (a, b) in cross.as_mut_slice().iter_mut().zip(&s[1 + p..]) {
                *a += b;
            }
        }
        for a in 0..p {
            for b in 0..p {
                info[(a, b)] += s2[a * p + b];
            }
        }
        Pass {
            loglik,
            score,
            info,
            cross,
            at_risk,
        }
    }
}

impl EventTimes {
    /// Event time k's value.
    pub(super) fn time(&self, k: usize) -> f64 {
        self.time[k]
    }

    /// The event times' count.
    pub(super) fn event_times(&self) -> usize {
        self.m
    }

    /// Deaths (rows, unweighted) at event time k.
    pub(super) fn deaths_at(&self, k: usize) -> f64 {
        self.deaths[k]
    }

    /// What cox.zph needs at β, from one more pass (see `zph`): with `g`
    /// given per event time and `u_t`, `M_t` event time t's score and
    /// information, `Σ M_t`, `Σ g_t u_t`, `Σ g_t M_t` and `Σ g_t² M_t`.
    ///
    /// The information's S2 terms come as the pass's do, a unit's B2 times
    /// its rows' summed coefficient over the event times they are at risk
    /// at, here `Σ h_t c01_t` (less `h_k c11_k` for deaths) from prefix
    /// sums of `h c01`; the deaths' `Σ w x` of each event time from their
    /// rows, which the pass keeps in bucket order.
    pub(super) fn weighted(&self, beta: &DVector<f64>, g: &[f64]) -> ZphSums {
        let (p, m) = (self.p, self.m);
        let beta: Vec<f64> = beta.iter().copied().collect();
        let sw = self.sweep(&beta);
        let info_with = |h: &dyn Fn(usize) -> f64| -> DMatrix<f64> {
            let mut info = DMatrix::<f64>::zeros(p, p);
            let mut cum = vec![0.0; m + 1];
            for (k, c) in sw.terms.iter().enumerate() {
                let (s1, d1) = (&sw.s1[k * p..(k + 1) * p], &sw.d1[k * p..(k + 1) * p]);
                let hk = h(k);
                for a in 0..p {
                    for b in 0..p {
                        info[(a, b)] -= hk * c.outer(s1, d1, a, b);
                    }
                }
                cum[k + 1] = cum[k] + hk * c.c01;
            }
            for ((u, sign), s) in self.signed_units().zip(sw.sums.chunks_exact(sw.stride)) {
                let k = u.k as usize;
                let mut c = sign * (cum[k + 1] - cum[self.first[k] as usize]);
                if u.death {
                    c -= h(k) * sw.terms[k].c11;
                }
                for (v, b) in info.as_mut_slice().iter_mut().zip(&s[1 + p..]) {
                    *v += c * b;
                }
            }
            info
        };
        // Σ g_t u_t: the deaths' g w x, less g (c01 S1 − c11 D1) per time.
        let mut gu = DVector::<f64>::zeros(p);
        let x = self.rows();
        for u in self.units.iter().filter(|u| u.death) {
            let gk = g[u.k as usize];
            for r in u.start as usize..u.end as usize {
                let w = self.weights.as_ref().map_or(1.0, |w| w[r]);
                for a in 0..p {
                    gu[a] += gk * w * x[r * p + a];
                }
            }
        }
        for (k, c) in sw.terms.iter().enumerate() {
            let (s1, d1) = (&sw.s1[k * p..(k + 1) * p], &sw.d1[k * p..(k + 1) * p]);
            for a in 0..p {
                gu[a] -= g[k] * (c.c01 * s1[a] - c.c11 * d1[a]);
            }
        }
        ZphSums {
            info: info_with(&|_| 1.0),
            gu,
            gm: info_with(&|k| g[k]),
            ggm: info_with(&|k| g[k] * g[k]),
        }
    }
}

/// The sums of a pass before the information ([`EventTimes::sweep`]).
struct Sweep {
    /// Each unit's `[B0, B1.., B2..]`, `stride` values, the buckets' units
    /// then the late entries'.
    sums: Vec<f64>,
    stride: usize,
    /// S0 and S1 (m × p) at each event time, D0 and D1 of its deaths.
    s0: Vec<f64>,
    s1: Vec<f64>,
    d0: Vec<f64>,
    d1: Vec<f64>,
    terms: Vec<TieTerms>,
}

/// [`EventTimes::weighted`]'s sums.
pub(super) struct ZphSums {
    pub(super) info: DMatrix<f64>,
    pub(super) gu: DVector<f64>,
    pub(super) gm: DMatrix<f64>,
    pub(super) ggm: DMatrix<f64>,
}
