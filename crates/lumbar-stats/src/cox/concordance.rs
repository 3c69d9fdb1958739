//! Harrell's concordance and its standard error, as R's `coxph` computes
//! them (`fit$concordance`, printed by `summary(coxph)` as
//! `Concordance= 0.637  (se = 0.025 )`).

use std::collections::HashMap;

use super::pass::prefetch;
use super::riskset::Problem;

/// How many rows ahead of the sweep their tree nodes are asked for: enough
/// to cover a memory access's latency, few enough to stay in L1.
const PREFETCH_ROWS: usize = 16;

/// Harrell's C and its infinitesimal-jackknife standard error.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Concordance {
    pub(super) estimate: f64,
    pub(super) std_error: f64,
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

/// Harrell's concordance of the risk scores `lp` (one per row of `prob`)
/// with the survival times, and its standard error, as survival's
/// `concordancefit` computes them for `coxph` (survival 3.5-3, the version
/// the fixtures were made with; unchanged in 3.8: `R/coxph.R` calls
/// `concordancefit(Y, fit$linear.predictors, istrat, weights, cluster =,
/// reverse = TRUE, timefix = FALSE)`, so timewt `"n"` (every event time
/// weighs 1) and no `ymin`/`ymax`; `R/concordance.R` and the C kernels
/// `concordance3` (right-censored) and `concordance4` ((start, stop]) in
/// `src/concordance3.c`).
///
/// Inputs: `prob` (its strata, stop and entry times, events, case weights
/// `w` and cluster labels) and `lp`, any score with higher meaning earlier
/// death (the centred linear predictor). Preconditions, as the fit checks
/// them: entry < stop, w > 0, `lp` not NaN.
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
/// ranks of `lp` (O(n log n) after the one sort of `lp`). The at-risk tree
/// answers each death's `C_k`, `D_k`, `T_k`; a second tree of the deaths
/// gives those of the observations at risk, as R's C code does: the deaths
/// below, at and above an observation's rank when it leaves the risk set
/// (its entry, or the stratum's end) less those when it joined.
///
/// Output: `estimate` NaN when there is no pair (`N = 0`), and then
/// `std_error` too.
pub(super) fn concordance(prob: &Problem, lp: &[f64]) -> Concordance {
    let n = lp.len();
    // The scores in increasing order, each beside its row (a direct sort,
    // not one through an index: half the time). The row, as an f64, is
    // exact (n < 2^53).
    let mut order: Vec<[f64; 2]> = lp.iter().enumerate().map(|(i, &x)| [x, i as f64]).collect();
    order.sort_unstable_by(|a, b| a[0].total_cmp(&b[0]));
    // Ranks within each stratum (one sort for all: the global order read
    // stratum by stratum), so that each stratum's trees hold only its own
    // distinct scores.
    let stratum_of: Option<Vec<u32>> = (prob.strata.len() > 1).then(|| {
        let mut of = vec![0u32; n];
        for (si, s) in prob.strata.iter().enumerate() {
            for &k in &s.by_stop {
                of[k] = si as u32;
            }
        }
        of
    });
    let mut distinct = vec![0usize; prob.strata.len()];
    let mut last = vec![f64::NAN; prob.strata.len()];
    let mut rank = vec![0u32; n];
    for &[x, i] in &order {
        let i = i as usize;
        let s = stratum_of.as_ref().map_or(0, |of| of[i] as usize);
        if distinct[s] == 0 || x != last[s] {
            distinct[s] += 1;
            last[s] = x;
        }
        rank[i] = (distinct[s] - 1) as u32;
    }
    drop(stratum_of);
    // Per row: C_k − D_k and C_k + D_k + T_k, in the sort's memory, whose
    // pages are touched already (a first touch costs about 4 µs a 4 KiB
    // page, see `pass::row_buffer`: more than the sweep's use of them).
    let mut infl = order;
    infl.fill([0.0; 2]);
    let (mut conc, mut disc, mut tied) = (0.0, 0.0, 0.0);
    let mut deaths: Vec<usize> = Vec::new();
    let mut tree: Vec<Node> = Vec::new();
    for (si, s) in prob.strata.iter().enumerate() {
        tree.clear();
        tree.resize(distinct[si] + 1, (0.0, 0.0));
        let (mut risk_total, mut dead_total) = (0.0, 0.0);
        // C_k − D_k and C_k + D_k + T_k of a row at risk gain the deaths
        // seen when it leaves the risk set and lose those seen when it
        // joined (`sign` −1), from the deaths at its rank or above.
        let snapshot =
            |infl: &mut [[f64; 2]], k: usize, at: f64, at_or_above: f64, total: f64, sign: f64| {
                let above = at_or_above - at;
                let below = total - at_or_above;
                infl[k][0] += sign * (above - below);
                infl[k][1] += sign * total;
            };
        let mut rem_at = 0;
        let mut i = 0;
        // The walks of a row start at its rank's node and its neighbours
        // (within 4 nodes, one cache line, up or down): asked for this
        // many rows ahead of the sweep, they are in cache when it gets there.
        let ahead = |tree: &[Node], j: usize| {
            if let Some(&k) = s.by_stop.get(j + PREFETCH_ROWS) {
                let p = rank[k] as usize + 1;
                prefetch(tree, p);
                prefetch(tree, p.saturating_sub(4));
                prefetch(tree, p + 4);
            }
        };
        while i < s.by_stop.len() {
            let t = prob.d.stop[s.by_stop[i]];
            let mut j = i;
            deaths.clear();
            while j < s.by_stop.len() && prob.d.stop[s.by_stop[j]] == t {
                ahead(&tree, j);
                let k = s.by_stop[j];
                if prob.d.event[k] {
                    deaths.push(k);
                } else {
                    // Censored at t: still at risk when the deaths at t happen.
                    let (at, at_or_above) = join_risk(&mut tree, rank[k] as usize, prob.w(k));
                    snapshot(&mut infl, k, at, at_or_above, dead_total, -1.0);
                    risk_total += prob.w(k);
                }
                j += 1;
            }
            // Everyone who stopped later joined in earlier rounds; those
            // who entered at or after t leave.
            while rem_at < s.by_entry.len() && prob.entry(s.by_entry[rem_at]) >= t {
                let k = s.by_entry[rem_at];
                if prob.d.stop[k] > t || (prob.d.stop[k] == t && !prob.d.event[k]) {
                    let (at, at_or_above) = join_risk(&mut tree, rank[k] as usize, -prob.w(k));
                    snapshot(&mut infl, k, at, at_or_above, dead_total, 1.0);
                    risk_total -= prob.w(k);
                }
                rem_at += 1;
            }
            // Each death's partners, as it joins the deaths (the risk set
            // is not yet changed by the deaths at t)…
            for &k in &deaths {
                let wk = prob.w(k);
                let (below, at) = join_dead(&mut tree, rank[k] as usize, wk);
                let above = risk_total - below - at;
                conc += wk * below;
                tied += wk * at;
                disc += wk * above;
                infl[k][0] += below - above;
                infl[k][1] += risk_total;
                dead_total += wk;
            }
            // …then it joins the risk set, its snapshot holding the deaths
            // at t, who are never its partners (tied in time).
            for &k in &deaths {
                let (at, at_or_above) = join_risk(&mut tree, rank[k] as usize, prob.w(k));
                snapshot(&mut infl, k, at, at_or_above, dead_total, -1.0);
                risk_total += prob.w(k);
            }
            i = j;
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
        let mut leave = |k: usize| {
            let (at_or_above, at) = tree[rank[k] as usize + 1];
            snapshot(&mut infl, k, at, at_or_above, dead_total, 1.0);
        };
        let rows = if prob.d.entry.is_some() {
            &s.by_entry[rem_at..]
        } else {
            &s.by_stop[..]
        };
        for (j, &k) in rows.iter().enumerate() {
            if let Some(&next) = rows.get(j + PREFETCH_ROWS) {
                prefetch(&tree, rank[next] as usize + 1);
            }
            leave(k);
        }
    }
    let npair = conc + disc + tied;
    let somers = (conc - disc) / npair;
    let dfbeta = |k: usize| prob.w(k) * (infl[k][0] - somers * infl[k][1]) / npair;
    let sum_sq = match &prob.d.cluster {
        None => (0..n).map(|k| dfbeta(k).powi(2)).sum::<f64>(),
        Some(labels) => {
            let mut at: HashMap<&str, usize> = HashMap::new();
            let mut sums: Vec<f64> = Vec::new();
            for (k, l) in labels.iter().enumerate() {
                let next = sums.len();
                let c = *at.entry(l.as_str()).or_insert(next);
                if c == next {
                    sums.push(0.0);
                }
                sums[c] += dfbeta(k);
            }
            sums.iter().map(|v| v * v).sum()
        }
    };
    Concordance {
        estimate: (conc + tied / 2.0) / npair,
        std_error: sum_sq.sqrt() / 2.0,
    }
}
