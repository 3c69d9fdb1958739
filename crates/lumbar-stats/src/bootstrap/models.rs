//! The bootstrap of lumbar's three regressions: each resample is the
//! model refitted on the drawn rows, the estimates only (no variance, no
//! diagnostics: what a replicate needs). Units: a Cox model's clusters
//! when it has them, else its rows; a mixed model's groups (patients);
//! the Poisson model's rows. A unit drawn twice becomes two clusters or
//! two patients, as a cluster bootstrap requires.

use super::{BootError, Bootstrap, BootstrapSpec, Resample, Units, bootstrap};
use crate::cox::{self, CoxData, CoxOptions, Ties};
use crate::lmm::{self, LmmData, Method, RandomEffects};
use crate::poisson::{Robust, modified_poisson};

fn pick<T: Clone>(v: &[T], rows: &[u32]) -> Vec<T> {
    rows.iter().map(|&r| v[r as usize].clone()).collect()
}

/// Draw labels: each drawn unit its own label.
fn draws(r: &Resample) -> Vec<String> {
    r.draw.iter().map(|d| d.to_string()).collect()
}

/// The Cox model's coefficients (`estimate` from the fit on all rows).
pub fn cox(
    data: &CoxData,
    ties: Ties,
    estimate: &[f64],
    spec: &BootstrapSpec,
) -> Result<Bootstrap, BootError> {
    let units = match &data.cluster {
        Some(c) => Units::by_label(c, "cluster"),
        None => Units::rows(data.stop.len()),
    };
    let opts = CoxOptions {
        ties,
        robust: false,
        diagnostics: false,
    };
    bootstrap(&data.names, estimate, &units, spec, |r| {
        let sub = CoxData {
            stop: pick(&data.stop, &r.rows),
            entry: data.entry.as_ref().map(|e| pick(e, &r.rows)),
            event: pick(&data.event, &r.rows),
            columns: data.columns.iter().map(|c| pick(c, &r.rows)).collect(),
            names: data.names.clone(),
            strata: data.strata.as_ref().map(|s| pick(s, &r.rows)),
            weights: data.weights.as_ref().map(|w| pick(w, &r.rows)),
            // The replicate's estimate does not use the clusters.
            cluster: None,
            terms: None,
        };
        cox::fit_with(&sub, &opts)
            .ok()
            .map(|f| f.terms.iter().map(|t| t.estimate).collect())
    })
}

/// The modified Poisson model's coefficients, intercept first.
pub fn poisson(
    y: &[f64],
    columns: &[Vec<f64>],
    names: &[String],
    estimate: &[f64],
    spec: &BootstrapSpec,
) -> Result<Bootstrap, BootError> {
    let mut all = vec!["(Intercept)".to_string()];
    all.extend(names.iter().cloned());
    bootstrap(&all, estimate, &Units::rows(y.len()), spec, |r| {
        let cols: Vec<Vec<f64>> = columns.iter().map(|c| pick(c, &r.rows)).collect();
        modified_poisson(&pick(y, &r.rows), &cols, names, Robust::Hc0)
            .ok()
            .map(|f| f.terms.iter().map(|t| t.estimate).collect())
    })
}

/// The mixed model's fixed effects (in `names`' order, as the fit lists
/// them), resampling whole groups.
pub fn lmm(
    data: &LmmData,
    method: Method,
    re: RandomEffects,
    names: &[String],
    estimate: &[f64],
    spec: &BootstrapSpec,
) -> Result<Bootstrap, BootError> {
    let units = Units::by_label(&data.group, "patient");
    bootstrap(names, estimate, &units, spec, |r| {
        let sub = LmmData {
            response: pick(&data.response, &r.rows),
            time: pick(&data.time, &r.rows),
            group: draws(r),
            covariates: data
                .covariates
                .iter()
                .map(|(n, c)| (n.clone(), pick(c, &r.rows)))
                .collect(),
            time_name: data.time_name.clone(),
        };
        let fit = lmm::fit(&sub, method, re).ok()?;
        names
            .iter()
            .map(|n| fit.fixed.iter().find(|f| f.term == *n).map(|f| f.estimate))
            .collect()
    })
}
