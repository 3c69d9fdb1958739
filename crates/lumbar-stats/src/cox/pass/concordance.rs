//! Harrell's concordance and its standard error, as R's `coxph` computes
//! them (`fit$concordance`, printed by `summary(coxph)` as
//! `Concordance= 0.637  (se = 0.025 )`), swept over the Newton passes'
//! layout: no second sort of the rows by time.

use std::collections::HashMap;

use nalgebra::DVector;

use super::{EventTimes, prefetch};

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
/// same cache lines, and the trees take 16 bytes a rank: the sweep waits
/// on memory, not on arithmetic.
type Node = (f64, f64);

fn lowbit(p: usize) -> usize {
    p & p.wrapping_neg()
}

/// Adds `add_risk` to the weight at risk at rank `r`; returns the deaths'
/// weight at rank `r` and at `r` or above.
fn join_risk(node: &mut [Node], r: usize, add_risk: f64) -> (f64, f64) {
    let p = r + 1;
    // The deaths' node p covers positions p..p + lowbit(p); the others
    // there are covered by p + 1, p + 2, p + 4, … below that end.
    let end = p + lowbit(p);
    let mut at = node[p].1;
    let mut q = p + 1;
    while q < end && q < node.len() {
        at -= node[q].1;
        q += lowbit(q);
    }
    let mut at_or_above = 0.0;
    let mut q = p;
    while q < node.len() {
        node[q].0 += add_risk;
        at_or_above += node[q].1;
        q += lowbit(q);
    }
    (at, at_or_above)
}

/// Adds `add_dead` to the deaths' weight at rank `r`; returns the weight
/// at risk below rank `r` and at rank `r`.
fn join_dead(node: &mut [Node], r: usize, add_dead: f64) -> (f64, f64) {
    let mut p = r + 1;
    // The at-risk node p covers positions p − lowbit(p) + 1..=p; the walk
    // below p passes the nodes of the others first.
    let start = p - lowbit(p);
    let mut below = 0.0;
    let mut q = r;
    while q > start {
        below += node[q].0;
        q -= lowbit(q);
    }
    let at = node[p].0 - below;
    // The deaths' update walks p, p − lowbit(p) = start, …: the query's
    // path from here on.
    node[p].1 += add_dead;
    p = start;
    while q > 0 {
        below += node[q].0;
        q -= lowbit(q);
        while p > q {
            node[p].1 += add_dead;
            p -= lowbit(p);
        }
    }
    while p > 0 {
        node[p].1 += add_dead;
        p -= lowbit(p);
    }
    (below, at)
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
/// Algorithm: one sweep per stratum back in time over Fenwick trees on the
/// ranks of `lp` (O(n log n) after one sort of `lp` per stratum). The rows
/// are already grouped by the last event time they are at risk at, each
/// bucket's censored rows before its deaths, and a stratum's buckets are
/// contiguous: going down the buckets, a bucket's censored rows join the
/// risk set (they are at risk at its deaths), the late entries whose entry
/// is at or after its time leave it, then its deaths are counted against
/// the risk set and join it. A row at risk at no event time is in no pair
/// and is not in the layout. The at-risk tree answers each death's `C_k`,
/// `D_k`, `T_k`; a second tree of the deaths gives those of the
/// observations at risk, as R's C code does: the deaths below, at and
/// above an observation's rank when it leaves the risk set (its entry, or
/// the stratum's end) less those when it joined.
///
/// Output: `estimate` NaN when there is no pair (`N = 0`), and then
/// `std_error` too.
pub(in crate::cox) fn concordance(
    times: &EventTimes,
    beta: &DVector<f64>,
    cluster: Option<&[String]>,
) -> Concordance {
    let p = times.p;
    let kept = times.kept();
    let x = times.rows();
    let w = |r: usize| times.weights.as_ref().map_or(1.0, |w| w[r]);
    // Each row's score beside its place (exact as an f64: n < 2^53),
    // x β summed over the covariates in order.
    let mut order: Vec<[f64; 2]> = (0..kept)
        .map(|r| {
            let lp = (0..p).fold(0.0, |s, j| s + x[r * p + j] * beta[j]);
            [lp, r as f64]
        })
        .collect();
    // A stratum is a run of event times, and its rows a run of places.
    let mut strata: Vec<(usize, usize)> = Vec::new();
    for k in 0..times.m {
        if times.first[k] as usize == k {
            strata.push((k, k + 1));
        } else if let Some(s) = strata.last_mut() {
            s.1 = k + 1;
        }
    }
    let seg = &times.segment;
    // Ranks within each stratum, so that its trees hold only its own
    // distinct scores; `distinct` per stratum.
    let mut rank = vec![0u32; kept];
    let mut distinct = Vec::with_capacity(strata.len());
    for &(k0, k1) in &strata {
        let run = &mut order[seg[2 * k0] as usize..seg[2 * k1] as usize];
        run.sort_unstable_by(|a, b| a[0].total_cmp(&b[0]));
        let mut count = 0usize;
        let mut last = f64::NAN;
        for &[lp, r] in run.iter() {
            if count == 0 || lp != last {
                count += 1;
                last = lp;
            }
            rank[r as usize] = (count - 1) as u32;
        }
        distinct.push(count);
    }
    // Per row: C_k − D_k and C_k + D_k + T_k, in the sort's memory, whose
    // pages are touched already (a first touch costs about 4 µs a 4 KiB
    // page, see `pass::row_buffer`: more than the sweep's use of them).
    let mut infl = order;
    infl.fill([0.0; 2]);
    // C_k − D_k and C_k + D_k + T_k of a row at risk gain the deaths seen
    // when it leaves the risk set and lose those seen when it joined
    // (`sign` −1), from the deaths at its rank or above.
    let snapshot =
        |infl: &mut [[f64; 2]], r: usize, at: f64, at_or_above: f64, total: f64, sign: f64| {
            let above = at_or_above - at;
            let below = total - at_or_above;
            infl[r][0] += sign * (above - below);
            infl[r][1] += sign * total;
        };
    // The walks of a row start at its rank's node and its neighbours
    // (within 4 nodes, one cache line, up or down): asked for this many
    // rows ahead of the sweep (rows are read in runs of places), they are
    // in cache when it gets there.
    let ahead = |tree: &[Node], r: usize, end: usize| {
        if r + PREFETCH_ROWS < end {
            let p = rank[r + PREFETCH_ROWS] as usize + 1;
            prefetch(tree, p);
            prefetch(tree, p.saturating_sub(4));
            prefetch(tree, p + 4);
        }
    };
    let (mut conc, mut disc, mut tied) = (0.0, 0.0, 0.0);
    let mut left = vec![false; if times.late.is_empty() { 0 } else { kept }];
    let mut tree: Vec<Node> = Vec::new();
    for (&(k0, k1), &distinct) in strata.iter().zip(&distinct) {
        tree.clear();
        tree.resize(distinct + 1, (0.0, 0.0));
        let (mut risk_total, mut dead_total) = (0.0, 0.0);
        // The stratum's late entries, by the event time before their entry.
        let late_from = times.late_units.partition_point(|u| (u.k as usize) < k0);
        let mut late_to = times.late_units.partition_point(|u| (u.k as usize) < k1);
        for k in (k0..k1).rev() {
            // Censored in this bucket: still at risk at its deaths.
            let (c0, c1, c2) = (
                seg[2 * k] as usize,
                seg[2 * k + 1] as usize,
                seg[2 * k + 2] as usize,
            );
            for r in c0..c1 {
                ahead(&tree, r, c1);
                let (at, at_or_above) = join_risk(&mut tree, rank[r] as usize, w(r));
                snapshot(&mut infl, r, at, at_or_above, dead_total, -1.0);
                risk_total += w(r);
            }
            // Those who entered at or after this time leave.
            while late_to > late_from && times.late_units[late_to - 1].k as usize == k {
                late_to -= 1;
                let u = &times.late_units[late_to];
                for &r in &times.late[u.start as usize..u.end as usize] {
                    let r = r as usize;
                    let (at, at_or_above) = join_risk(&mut tree, rank[r] as usize, -w(r));
                    snapshot(&mut infl, r, at, at_or_above, dead_total, 1.0);
                    risk_total -= w(r);
                    left[r] = true;
                }
            }
            // Each death's partners, as it joins the deaths (the risk set
            // is not yet changed by the deaths at this time)…
            for r in c1..c2 {
                ahead(&tree, r, c2);
                let wr = w(r);
                let (below, at) = join_dead(&mut tree, rank[r] as usize, wr);
                let above = risk_total - below - at;
                conc += wr * below;
                tied += wr * at;
                disc += wr * above;
                infl[r][0] += below - above;
                infl[r][1] += risk_total;
                dead_total += wr;
            }
            // …then it joins the risk set, its snapshot holding the deaths
            // at this time, who are never its partners (tied in time).
            for r in c1..c2 {
                ahead(&tree, r, c2);
                let (at, at_or_above) = join_risk(&mut tree, rank[r] as usize, w(r));
                snapshot(&mut infl, r, at, at_or_above, dead_total, -1.0);
                risk_total += w(r);
            }
        }
        // The stratum ends: everyone still at risk leaves. The deaths'
        // tree undone in place (ascending, each node taken from the next on
        // its update walk while it still holds its sum) gives the weight at
        // each rank (`.1`), and a running sum down the ranks that at or
        // above it (`.0`, the at-risk tree being done with).
        for p in 1..tree.len() {
            let next = p - lowbit(p);
            if next > 0 {
                tree[next].1 -= tree[p].1;
            }
        }
        let mut at_or_above = 0.0;
        for node in tree[1..].iter_mut().rev() {
            at_or_above += node.1;
            node.0 = at_or_above;
        }
        let end = seg[2 * k1] as usize;
        for r in seg[2 * k0] as usize..end {
            if left.get(r).copied().unwrap_or(false) {
                continue;
            }
            if r + PREFETCH_ROWS < end {
                prefetch(&tree, rank[r + PREFETCH_ROWS] as usize + 1);
            }
            let (at_or_above, at) = tree[rank[r] as usize + 1];
            snapshot(&mut infl, r, at, at_or_above, dead_total, 1.0);
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
            let mut at: HashMap<&str, usize> = HashMap::new();
            let mut sums: Vec<f64> = Vec::new();
            for (l, &r) in labels.iter().zip(&times.place) {
                let next = sums.len();
                let c = *at.entry(l.as_str()).or_insert(next);
                if c == next {
                    sums.push(0.0);
                }
                if r != u32::MAX {
                    sums[c] += dfbeta(r as usize);
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
