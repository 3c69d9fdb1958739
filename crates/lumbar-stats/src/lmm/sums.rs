//! The fit from each group's sufficient statistics, for a registry's groups
//! reduced where they are read (and shards of them summed later, in order).

use serde::Serialize;

use super::stats::{Stats, q_of, two_sum};
use super::{LmmError, LmmFit, Method, RandomEffects, fit_stats};

/// One group's sufficient statistics for `y ~ t + (t | g)` (or `(1 | g)`):
/// the sums of 1, t, t², y, t·y and y² over its observations, added in
/// the order they come, and the range of y.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, serde::Deserialize)]
pub struct GroupSums {
    pub n: u32,
    pub t: f64,
    pub tt: f64,
    pub y: f64,
    pub ty: f64,
    pub yy: f64,
    pub y_min: f64,
    pub y_max: f64,
}

impl Default for GroupSums {
    fn default() -> Self {
        GroupSums {
            n: 0,
            t: 0.0,
            tt: 0.0,
            y: 0.0,
            ty: 0.0,
            yy: 0.0,
            y_min: f64::INFINITY,
            y_max: f64::NEG_INFINITY,
        }
    }
}

impl GroupSums {
    /// Adds one observation.
    pub fn add(&mut self, t: f64, y: f64) {
        self.n += 1;
        self.t += t;
        self.tt += t * t;
        self.y += y;
        self.ty += t * y;
        self.yy += y * y;
        self.y_min = self.y_min.min(y);
        self.y_max = self.y_max.max(y);
    }
}

/// The fit of `y ~ t + (t | g)` (or `(1 | g)`) from each group's
/// [`GroupSums`], groups summed in the order given: the same criterion as
/// [`fit`], which sees only these sums when there are no other
/// covariates, so a registry's groups can be reduced where they are read
/// (and shards of it summed later, in the same order, to the same bits).
pub fn fit_sums(
    groups: &[GroupSums],
    time_name: &str,
    method: Method,
    re: RandomEffects,
) -> Result<LmmFit, LmmError> {
    let q = q_of(re);
    let p = 2;
    let groups: Vec<&GroupSums> = groups.iter().filter(|g| g.n > 0).collect();
    let n: usize = groups.iter().map(|g| g.n as usize).sum();
    if n == 0 {
        return Err(LmmError::Empty);
    }
    if n <= p {
        return Err(LmmError::TooFew { n, p });
    }
    // Z_i = [1, t] (or [1]) and X_i = [1, t]; s0 = [XᵀX Xᵀy; yᵀX yᵀy]
    // packed by rows: (1,1), (1,t), (1,y), (t,t), (t,y), (y,y).
    let mut ztz = Vec::with_capacity(groups.len() * q * q);
    let mut ztx = Vec::with_capacity(groups.len() * q * p);
    let mut zty = Vec::with_capacity(groups.len() * q);
    let mut s0 = vec![0.0; 6];
    let mut s0_err = vec![0.0; 6];
    for g in &groups {
        let n = f64::from(g.n);
        let xtx = [n, g.t, g.t, g.tt];
        if q == 2 {
            ztz.extend(xtx);
            ztx.extend(xtx);
            zty.extend([g.y, g.ty]);
        } else {
            ztz.push(n);
            ztx.extend([n, g.t]);
            zty.push(g.y);
        }
        for ((s, e), v) in s0
            .iter_mut()
            .zip(&mut s0_err)
            .zip([n, g.t, g.y, g.tt, g.ty, g.yy])
        {
            two_sum(s, e, v);
        }
    }
    for (s, e) in s0.iter_mut().zip(&s0_err) {
        *s += e;
    }
    let names = vec!["(Intercept)".to_string(), time_name.to_string()];
    let stats = Stats::from_groups(q, p, n, &ztz, &ztx, &zty, s0, &names)?;
    drop((ztz, ztx, zty));
    let (lo, hi) = groups
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), g| {
            (lo.min(g.y_min), hi.max(g.y_max))
        });
    fit_stats(&stats, &names, lo == hi, method, re)
}
