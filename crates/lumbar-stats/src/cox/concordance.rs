//! Harrell's concordance, as R's `concordance` computes it for a coxph fit.

use super::riskset::Problem;

/// Harrell's concordance (see the module docs), weighted by `w_i w_j`, by a
/// sweep back in time with a Fenwick tree over the ranks of the risk scores:
/// O(n log n).
pub(super) fn concordance(prob: &Problem, lp: &[f64]) -> f64 {
    let n = lp.len();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| lp[a].total_cmp(&lp[b]));
    let mut rank = vec![0usize; n];
    let mut distinct = 0;
    for (pos, &i) in order.iter().enumerate() {
        if pos > 0 && lp[i] != lp[order[pos - 1]] {
            distinct += 1;
        }
        rank[i] = distinct;
    }
    let size = distinct + 1;
    let (mut conc, mut disc, mut tied) = (0.0, 0.0, 0.0);
    for s in &prob.strata {
        let mut tree = vec![0.0; size + 1];
        let add = |tree: &mut Vec<f64>, r: usize, v: f64| {
            let mut i = r + 1;
            while i <= size {
                tree[i] += v;
                i += i & i.wrapping_neg();
            }
        };
        let prefix = |tree: &Vec<f64>, r: usize| -> f64 {
            // Sum over ranks < r.
            let mut i = r;
            let mut acc = 0.0;
            while i > 0 {
                acc += tree[i];
                i -= i & i.wrapping_neg();
            }
            acc
        };
        let mut rem_at = 0;
        let mut total = 0.0;
        let mut i = 0;
        while i < s.by_stop.len() {
            let t = prob.d.stop[s.by_stop[i]];
            let mut j = i;
            let mut deaths = Vec::new();
            while j < s.by_stop.len() && prob.d.stop[s.by_stop[j]] == t {
                let k = s.by_stop[j];
                if prob.d.event[k] {
                    deaths.push(k);
                } else {
                    // Censored at t: still at risk when the deaths at t happen.
                    add(&mut tree, rank[k], prob.w(k));
                    total += prob.w(k);
                }
                j += 1;
            }
            // Everyone who stopped later was added in earlier rounds (add_at);
            // remove those who entered at or after t.
            while rem_at < s.by_entry.len() && prob.entry(s.by_entry[rem_at]) >= t {
                let k = s.by_entry[rem_at];
                if prob.d.stop[k] > t || (prob.d.stop[k] == t && !prob.d.event[k]) {
                    add(&mut tree, rank[k], -prob.w(k));
                    total -= prob.w(k);
                }
                rem_at += 1;
            }
            for &k in &deaths {
                let below = prefix(&tree, rank[k]);
                let upto = prefix(&tree, rank[k] + 1);
                let wk = prob.w(k);
                conc += wk * below;
                tied += wk * (upto - below);
                disc += wk * (total - upto);
            }
            for &k in &deaths {
                if prob.entry(k) < t {
                    add(&mut tree, rank[k], prob.w(k));
                    total += prob.w(k);
                }
            }
            i = j;
        }
    }
    (conc + tied / 2.0) / (conc + disc + tied)
}
