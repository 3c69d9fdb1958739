//! Harrell's concordance and its standard error, as R's `coxph` computes
//! them (`fit$concordance`, printed by `summary(coxph)` as
//! `Concordance= 0.637  (se = 0.025 )`), swept over the Newton passes'
//! layout: no second sort of the rows by time.

use nalgebra::DVector;
use rayon::prelude::*;

use super::super::label_ids;
use super::{EventTimes, huge_vec, prefetch};

/// How many rows ahead of the sweep their tree nodes are asked for: enough
/// to cover a memory access's latency, few enough to stay in L1.
const PREFETCH_ROWS: usize = 16;

/// Harrell's C and its infinitesimal-jackknife standard error.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(in crate::cox) struct Concordance {
    pub(in crate::cox) estimate: f64,
    pub(in crate::cox) std_error: f64,
}

/// The sweep's two Fenwick trees over the ranks of the scores (1-based,
/// rank `r` at position `p = r + 1`), interleaved: `node[p].0` of the
/// weight at risk, `node[p].1` of the deaths'.
///
/// The at-risk tree sums prefixes (an update walks up, `p += lowbit(p)`, a
/// query down), the deaths' tree suffixes (an update walks down, a query
/// up), so that each step of the sweep is one walk that reads one tree
/// and updates the other: a censored row joins the risk set as it reads
/// the deaths at or above its rank (up); a death reads the risk set below
/// its rank as it joins the deaths (down), then joins the risk set as it
/// reads the deaths (up). The weight at one rank comes from the first
/// steps of a walk (the point query). All walks from a rank start in the
/// same cache lines: the sweep waits on memory, not on arithmetic, so
/// without case weights the trees count rows in 32 bits (8 bytes a rank
/// instead of 16).
type Node<T> = (T, T);

/// What the trees hold: case weights, or row counts when there are none.
/// Counts wrap (`u32`), and every sum the sweep reads is a count of rows
/// below 2^31 (a fit refuses more), so each comes out exact; whole counts
/// are exact in f64 too, so both give the same numbers.
trait Weight: Copy + Default + Send + Sync {
    /// A row's weight `w` (1 without case weights).
    fn of(w: f64) -> Self;
    fn plus(self, v: Self) -> Self;
    fn minus(self, v: Self) -> Self;
    fn get(self) -> f64;
}

impl Weight for f64 {
    fn of(w: f64) -> f64 {
        w
    }
    fn plus(self, v: f64) -> f64 {
        self + v
    }
    fn minus(self, v: f64) -> f64 {
        self - v
    }
    fn get(self) -> f64 {
        self
    }
}

impl Weight for u32 {
    fn of(_: f64) -> u32 {
        1
    }
    fn plus(self, v: u32) -> u32 {
        self.wrapping_add(v)
    }
    fn minus(self, v: u32) -> u32 {
        self.wrapping_sub(v)
    }
    fn get(self) -> f64 {
        self as f64
    }
}

fn lowbit(p: usize) -> usize {
    p & p.wrapping_neg()
}

/// Adds `add_risk` to the weight at risk at rank `r` (or takes it away,
/// `leave`); returns the deaths' weight at rank `r` and at `r` or above.
fn join_risk<T: Weight>(node: &mut [Node<T>], r: usize, add_risk: T, leave: bool) -> (f64, f64) {
    let p = r + 1;
    // The deaths' node p covers positions p..p + lowbit(p); the others
    // there are covered by p + 1, p + 2, p + 4, … below that end.
    let end = p + lowbit(p);
    let mut at = node[p].1;
    let mut q = p + 1;
    while q < end && q < node.len() {
        at = at.minus(node[q].1);
        q += lowbit(q);
    }
    let mut at_or_above = T::default();
    let mut q = p;
    while q < node.len() {
        node[q].0 = match leave {
            false => node[q].0.plus(add_risk),
            true => node[q].0.minus(add_risk),
        };
        at_or_above = at_or_above.plus(node[q].1);
        q += lowbit(q);
    }
    (at.get(), at_or_above.get())
}

/// Adds `add_dead` to the deaths' weight at rank `r`; returns the weight
/// at risk below rank `r` and at rank `r`.
fn join_dead<T: Weight>(node: &mut [Node<T>], r: usize, add_dead: T) -> (f64, f64) {
    let mut p = r + 1;
    // The at-risk node p covers positions p − lowbit(p) + 1..=p; the walk
    // below p passes the nodes of the others first.
    let start = p - lowbit(p);
    let mut below = T::default();
    let mut q = r;
    while q > start {
        below = below.plus(node[q].0);
        q -= lowbit(q);
    }
    let at = node[p].0.minus(below);
    // The deaths' update walks p, p − lowbit(p) = start, …: the query's
    // path from here on.
    node[p].1 = node[p].1.plus(add_dead);
    p = start;
    while q > 0 {
        below = below.plus(node[q].0);
        q -= lowbit(q);
        while p > q {
            node[p].1 = node[p].1.plus(add_dead);
            p -= lowbit(p);
        }
    }
    while p > 0 {
        node[p].1 = node[p].1.plus(add_dead);
        p -= lowbit(p);
    }
    (below.get(), at.get())
}

/// Harrell's concordance of the linear predictor `x β` with the survival
/// times, and its standard error, as survival's `concordancefit` computes
/// them for `coxph` (survival 3.5-3, the version the fixtures were made
/// with; unchanged in 3.8: `R/coxph.R` calls `concordancefit(Y,
/// fit$linear.predictors, istrat, weights, cluster =, reverse = TRUE,
/// timefix = FALSE)`, so timewt `"n"` (every event time weighs 1) and no
/// `ymin`/`ymax`; `R/concordance.R` and the C kernels `concordance3`
/// (right-censored) and `concordance4` ((start, stop]) in
/// `src/concordance3.c`).
///
/// Inputs: the fit's [`EventTimes`] (its centred rows, case weights `w`,
/// buckets and late entries), `beta`, and cluster labels by data row or
/// none. Preconditions, as the fit checks them: entry < stop, w > 0, a
/// finite linear predictor.
///
/// Pairs: in one stratum, a death `i` at `t_i` and an observation `j` at
/// risk then (`entry_j < t_i ≤ stop_j`, a censoring at `t_i` counting as at
/// risk, another death at `t_i` not: tied in time, no pair), weighing
/// `w_i w_j`; concordant when `lp_i > lp_j`, discordant when `lp_i < lp_j`,
/// tied in `lp` otherwise. With `C`, `D`, `T` their summed weights,
/// `N = C + D + T`, Somers' `d = (C − D)/N` and the concordance
/// `(d + 1)/2 = (C + T/2)/N`.
///
/// Standard error, the infinitesimal jackknife: with `C_k`, `D_k`, `T_k`
/// the summed partner weights `w_j` of observation `k`'s concordant,
/// discordant and tied pairs (as the death or as the one at risk),
/// `U_k = w_k ∂d/∂w_k = w_k [(C_k − D_k) − d (C_k + D_k + T_k)] / N`,
/// summed within clusters when there are clusters (`cluster`, or one per
/// row under `robust`, which is the same), and
/// `se = √(Σ U_k²) / 2` (`var.somer / 4`; R's `dfbeta` is `U_k / 2`).
/// coxph's `reverse = TRUE` flips the signs of `d` and `U_k`, not `se`; its
/// strata are separate sweeps (with more than 10, `concordancefit` moves
/// each stratum's times apart instead, which makes the same pairs when
/// every time is above −1).
///
/// Algorithm: sweeps back in time over Fenwick trees on the ranks of `lp`
/// within each stratum (O(n log n) after one sort of `lp` per stratum).
/// The rows are already grouped by the last event time they are at risk
/// at, each bucket's censored rows before its deaths, and a stratum's
/// buckets are contiguous: going down the buckets, a bucket's censored
/// rows join the risk set (they are at risk at its deaths), the late
/// entries whose entry is at or after its time leave it, then its deaths
/// are counted against the risk set and join it. A row at risk at no event
/// time is in no pair and is not in the layout. The at-risk tree answers
/// each death's `C_k`, `D_k`, `T_k`; a second tree of the deaths gives
/// those of the observations at risk, as R's C code does: the deaths
/// below, at and above an observation's rank when it leaves the risk set
/// (its entry, or the stratum's end) less those when it joined.
///
/// The sweep is cut into blocks of event times (see [`Block`]), swept at
/// once on every thread: a block starts with the rows at risk at its top
/// in its at-risk tree (a linear-time Fenwick build) and an empty deaths
/// tree. Deaths add up, so a row's deaths-tree terms are the sum over the
/// blocks of what each block's own deaths give: its snapshots in the block
/// it joins and the block it leaves, and in each block it spans whole, the
/// block's final tree at its rank, taken from running sums of those final
/// trees over the stratum's blocks. The cuts depend on the data alone, so
/// the bits do not depend on the thread count.
///
/// Output: `estimate` NaN when there is no pair (`N = 0`), and then
/// `std_error` too.
pub(in crate::cox) fn concordance(
    times: &EventTimes,
    beta: &DVector<f64>,
    cluster: Option<&[String]>,
) -> Concordance {
    let kept = times.kept();
    let w = |r: usize| times.weights.as_ref().map_or(1.0, |w| w[r]);
    let Ranks {
        rank,
        strata,
        mut order,
    } = Ranks::new(times, beta);
    let blocks = Block::cut(times, &strata);
    // The event time before each late entry's entry (u32::MAX for a row
    // that is at risk from its stratum's first event time).
    let mut late_key = huge_vec(if times.late.is_empty() { 0 } else { kept }, u32::MAX);
    for u in &times.late_units {
        for &r in &times.late[u.start as usize..u.end as usize] {
            late_key[r as usize] = u.k;
        }
    }
    let sweep = Sweep {
        times,
        rank: &rank,
        late_key: &late_key,
    };
    let mut swept: Vec<Swept> = blocks
        .par_iter()
        .map(|b| match times.weights {
            Some(_) => sweep.block::<f64>(b, &strata[b.stratum]),
            None => sweep.block::<u32>(b, &strata[b.stratum]),
        })
        .collect();
    // Per row: C_k − D_k and C_k + D_k + T_k, in the sort's memory, whose
    // pages are touched already (a first touch costs about 4 µs a 4 KiB
    // page, see `pass::row_buffer`: more than the sweep's use of them).
    order.fill([0.0; 2]);
    let mut infl = order;
    let (mut conc, mut disc, mut tied) = (0.0, 0.0, 0.0);
    for (b, s) in blocks.iter().zip(&swept) {
        conc += s.conc;
        disc += s.disc;
        tied += s.tied;
        let from = times.segment[2 * b.low] as usize;
        for (v, l) in infl[from..].iter_mut().zip(&s.infl) {
            v[0] += l[0];
            v[1] += l[1];
        }
        for &(r, l) in &s.left {
            infl[r as usize][0] += l[0];
            infl[r as usize][1] += l[1];
        }
    }
    // The blocks a row spans whole: from the one it joins in to the one
    // before it leaves (or its stratum's last), by running sums of the
    // blocks' final trees, block by block in sweep order within a stratum.
    let mut block_of = vec![0u32; times.m];
    for (i, b) in blocks.iter().enumerate() {
        block_of[b.low..b.high].fill(i as u32);
    }
    for i in 1..swept.len() {
        if blocks[i].stratum == blocks[i - 1].stratum {
            let (before, here) = swept.split_at_mut(i);
            let prev = &before[i - 1];
            here[0].dead_total += prev.dead_total;
            for (a, b) in here[0].spans.iter_mut().zip(&prev.spans) {
                *a += b;
            }
        }
    }
    for st in &strata {
        // The stratum's blocks in sweep order: its last event times first.
        let (first_block, last_block) = (block_of[st.high - 1] as usize, block_of[st.low] as usize);
        // Blocks first_block..=b summed, at row r's rank.
        let running = |b: usize, r: usize| [swept[b].spans[rank[r] as usize], swept[b].dead_total];
        for k in st.low..st.high {
            let j = block_of[k] as usize;
            for r in times.segment[2 * k] as usize..times.segment[2 * k + 2] as usize {
                // It is at risk at the end of blocks j..end: up to the one
                // it leaves in, or to the stratum's end.
                let end = match late_key.get(r) {
                    Some(&key) if key != u32::MAX => block_of[key as usize] as usize,
                    _ => last_block + 1,
                };
                if end <= j {
                    continue;
                }
                let to = running(end - 1, r);
                let from = if j > first_block {
                    running(j - 1, r)
                } else {
                    [0.0; 2]
                };
                infl[r][0] += to[0] - from[0];
                infl[r][1] += to[1] - from[1];
            }
        }
    }
    let npair = conc + disc + tied;
    let somers = (conc - disc) / npair;
    let dfbeta = |r: usize| w(r) * (infl[r][0] - somers * infl[r][1]) / npair;
    let sum_sq = match cluster {
        None => (0..kept).map(|r| dfbeta(r).powi(2)).sum::<f64>(),
        Some(labels) => {
            // Clusters numbered as they first appear in the data; a row
            // in no pair adds nothing to its cluster.
            let (ids, count) = label_ids(labels);
            let mut sums = vec![0.0; count];
            for (&c, &r) in ids.iter().zip(&times.place) {
                if r != u32::MAX {
                    sums[c as usize] += dfbeta(r as usize);
                }
            }
            sums.iter().map(|v| v * v).sum()
        }
    };
    Concordance {
        estimate: (conc + tied / 2.0) / npair,
        std_error: sum_sq.sqrt() / 2.0,
    }
}

/// A stratum of the layout: its event times `low..high` and its count of
/// distinct scores.
struct Stratum {
    low: usize,
    high: usize,
    distinct: usize,
}

/// Each row's rank among its stratum's distinct scores, and the strata.
struct Ranks {
    rank: Vec<u32>,
    strata: Vec<Stratum>,
    /// The sort's buffer, for reuse.
    order: Vec<[f64; 2]>,
}

impl Ranks {
    fn new(times: &EventTimes, beta: &DVector<f64>) -> Ranks {
        let (p, kept) = (times.p, times.kept());
        let x = times.rows();
        // Each row's score beside its place (exact as an f64: n < 2^53),
        // x β summed over the covariates in order.
        let mut order = huge_vec(kept, [0.0; 2]);
        const ROWS: usize = 1 << 14;
        order
            .par_chunks_mut(ROWS)
            .enumerate()
            .for_each(|(c, chunk)| {
                for (i, v) in chunk.iter_mut().enumerate() {
                    let r = c * ROWS + i;
                    let lp = (0..p).fold(0.0, |s, j| s + x[r * p + j] * beta[j]);
                    *v = [lp, r as f64];
                }
            });
        // A stratum is a run of event times, and its rows a run of places.
        let mut strata: Vec<Stratum> = Vec::new();
        for k in 0..times.m {
            if times.first[k] as usize == k {
                strata.push(Stratum {
                    low: k,
                    high: k + 1,
                    distinct: 0,
                });
            } else if let Some(s) = strata.last_mut() {
                s.high = k + 1;
            }
        }
        let seg = &times.segment;
        let mut rank = huge_vec(kept, 0u32);
        for st in &mut strata {
            let run = &mut order[seg[2 * st.low] as usize..seg[2 * st.high] as usize];
            run.par_sort_unstable_by(|a, b| a[0].total_cmp(&b[0]));
            let mut last = f64::NAN;
            for &[lp, r] in run.iter() {
                if st.distinct == 0 || lp != last {
                    st.distinct += 1;
                    last = lp;
                }
                rank[r as usize] = (st.distinct - 1) as u32;
            }
        }
        Ranks {
            rank,
            strata,
            order,
        }
    }
}

/// A block of the sweep: event times `low..high` of one stratum.
struct Block {
    stratum: usize,
    low: usize,
    high: usize,
}

impl Block {
    /// Rows a block takes at least: enough that its setup (a tree of the
    /// stratum's ranks built from the rows at risk at its top, and its
    /// share of the running sums) is small beside its walks. Tests use
    /// small blocks, so that the cuts are exercised there too.
    const MIN_ROWS: usize = if cfg!(test) { 8 } else { 1 << 17 };
    /// Blocks at most a stratum would be cut into when it is large: more
    /// than the threads of the machines this runs on, so that the
    /// concordance shares them with cox.zph, few enough that each block's
    /// setup over the rows at risk stays small.
    const PER_STRATUM: usize = 4;

    /// Each stratum's event times cut, from its last (the sweep starts
    /// there), into blocks of at least `max(rows / PER_STRATUM, MIN_ROWS)`
    /// rows (whole buckets), in sweep order: block i + 1 of a stratum
    /// comes before block i in time.
    fn cut(times: &EventTimes, strata: &[Stratum]) -> Vec<Block> {
        let seg = &times.segment;
        let mut blocks = Vec::new();
        for (si, st) in strata.iter().enumerate() {
            let rows = (seg[2 * st.high] - seg[2 * st.low]) as usize;
            let size = rows.div_ceil(Self::PER_STRATUM).max(Self::MIN_ROWS);
            let mut high = st.high;
            for k in (st.low..st.high).rev() {
                let taken = (seg[2 * high] - seg[2 * k]) as usize;
                if taken >= size || k == st.low {
                    blocks.push(Block {
                        stratum: si,
                        low: k,
                        high,
                    });
                    high = k;
                }
            }
        }
        blocks
    }
}

/// What one block's sweep gives.
struct Swept {
    conc: f64,
    disc: f64,
    tied: f64,
    /// C_k − D_k and C_k + D_k + T_k of the block's own rows (from place
    /// `segment[2 low]`), and of the rows at risk at its top that leave in
    /// it (their place and terms).
    infl: Vec<[f64; 2]>,
    left: Vec<(u32, [f64; 2])>,
    /// What the block's deaths give a row at risk through all of it, by
    /// rank (the `C − D` part; the other is `dead_total`), then summed
    /// over the stratum's blocks up to this one.
    spans: Vec<f64>,
    dead_total: f64,
}

/// The inputs every block's sweep reads.
struct Sweep<'a> {
    times: &'a EventTimes,
    rank: &'a [u32],
    late_key: &'a [u32],
}

impl Sweep<'_> {
    fn w(&self, r: usize) -> f64 {
        self.times.weights.as_ref().map_or(1.0, |w| w[r])
    }

    fn late_key(&self, r: usize) -> u32 {
        self.late_key.get(r).copied().unwrap_or(u32::MAX)
    }

    /// Sweeps `block` (its stratum `stratum`), the trees holding `T`.
    fn block<T: Weight>(&self, block: &Block, stratum: &Stratum) -> Swept {
        let (distinct, stratum_end) = (stratum.distinct, stratum.high);
        let (times, rank) = (self.times, self.rank);
        let seg = &times.segment;
        let (low, high) = (block.low, block.high);
        // The at-risk tree of the rows at risk at the block's top: those
        // of the stratum's later buckets that have not left (a late entry
        // leaves at the event time before its entry).
        let mut tree: Vec<Node<T>> = huge_vec(distinct + 1, (T::default(), T::default()));
        let mut risk_total = 0.0;
        for r in seg[2 * high] as usize..seg[2 * stratum_end] as usize {
            let key = self.late_key(r);
            if key == u32::MAX || key < high as u32 {
                let node = &mut tree[rank[r] as usize + 1].0;
                *node = node.plus(T::of(self.w(r)));
                risk_total += self.w(r);
            }
        }
        for p in 1..tree.len() {
            let up = p + lowbit(p);
            if up < tree.len() {
                tree[up].0 = tree[up].0.plus(tree[p].0);
            }
        }
        let mut dead_total = 0.0;
        let base = seg[2 * low] as usize;
        let mut infl = huge_vec(seg[2 * high] as usize - base, [0.0; 2]);
        let mut left = Vec::new();
        let (mut conc, mut disc, mut tied) = (0.0, 0.0, 0.0);
        // C_k − D_k and C_k + D_k + T_k of a row at risk gain the deaths
        // seen when it leaves the risk set and lose those seen when it
        // joined (`sign` −1), from the deaths at its rank or above.
        let snapshot = |at: f64, at_or_above: f64, total: f64, sign: f64| -> [f64; 2] {
            let above = at_or_above - at;
            let below = total - at_or_above;
            [sign * (above - below), sign * total]
        };
        // The walks of a row start at its rank's node and its neighbours
        // (within 4 nodes, one cache line, up or down): asked for this many
        // rows ahead of the sweep (rows are read in runs of places), they
        // are in cache when it gets there.
        let ahead = |tree: &[Node<T>], r: usize, end: usize| {
            if r + PREFETCH_ROWS < end {
                let p = rank[r + PREFETCH_ROWS] as usize + 1;
                prefetch(tree, p);
                prefetch(tree, p.saturating_sub(4));
                prefetch(tree, p + 4);
            }
        };
        // The late units of the block's event times, walked down.
        let late_from = times.late_units.partition_point(|u| (u.k as usize) < low);
        let mut late_to = times.late_units.partition_point(|u| (u.k as usize) < high);
        for k in (low..high).rev() {
            // Censored in this bucket: still at risk at its deaths.
            let (c0, c1, c2) = (
                seg[2 * k] as usize,
                seg[2 * k + 1] as usize,
                seg[2 * k + 2] as usize,
            );
            for r in c0..c1 {
                ahead(&tree, r, c1);
                let (at, at_or_above) =
                    join_risk(&mut tree, rank[r] as usize, T::of(self.w(r)), false);
                infl[r - base] = snapshot(at, at_or_above, dead_total, -1.0);
                risk_total += self.w(r);
            }
            // Those who entered at or after this time leave.
            while late_to > late_from && times.late_units[late_to - 1].k as usize == k {
                late_to -= 1;
                let u = &times.late_units[late_to];
                for &r in &times.late[u.start as usize..u.end as usize] {
                    let r = r as usize;
                    let (at, at_or_above) =
                        join_risk(&mut tree, rank[r] as usize, T::of(self.w(r)), true);
                    let s = snapshot(at, at_or_above, dead_total, 1.0);
                    match infl.get_mut(r.wrapping_sub(base)) {
                        Some(v) => {
                            v[0] += s[0];
                            v[1] += s[1];
                        }
                        None => left.push((r as u32, s)),
                    }
                    risk_total -= self.w(r);
                }
            }
            // Each death's partners, as it joins the deaths (the risk set
            // is not yet changed by the deaths at this time)…
            for r in c1..c2 {
                ahead(&tree, r, c2);
                let wr = self.w(r);
                let (below, at) = join_dead(&mut tree, rank[r] as usize, T::of(wr));
                let above = risk_total - below - at;
                conc += wr * below;
                tied += wr * at;
                disc += wr * above;
                infl[r - base] = [below - above, risk_total];
                dead_total += wr;
            }
            // …then it joins the risk set, its snapshot holding the deaths
            // at this time, who are never its partners (tied in time).
            for r in c1..c2 {
                ahead(&tree, r, c2);
                let (at, at_or_above) =
                    join_risk(&mut tree, rank[r] as usize, T::of(self.w(r)), false);
                let s = snapshot(at, at_or_above, dead_total, -1.0);
                infl[r - base][0] += s[0];
                infl[r - base][1] += s[1];
                risk_total += self.w(r);
            }
        }
        // The block ends. The deaths' tree undone in place (ascending,
        // each node taken from the next on its update walk while it still
        // holds its sum) gives the weight at each rank, and a running sum
        // down the ranks that at or above it: what the block's deaths give
        // a row at risk at its end, by rank.
        for p in 1..tree.len() {
            let next = p - lowbit(p);
            if next > 0 {
                tree[next].1 = tree[next].1.minus(tree[p].1);
            }
        }
        let mut spans = huge_vec(distinct, 0.0);
        let mut at_or_above = 0.0;
        for (s, node) in spans.iter_mut().zip(&tree[1..]).rev() {
            at_or_above += node.1.get();
            *s = snapshot(node.1.get(), at_or_above, dead_total, 1.0)[0];
        }
        Swept {
            conc,
            disc,
            tied,
            infl,
            left,
            spans,
            dead_total,
        }
    }
}
