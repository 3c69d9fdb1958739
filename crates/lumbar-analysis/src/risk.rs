//! Walking and the risk of chronic low-back pain (SPEC §1 and §3): the
//! exposure from the walking table, incidence by exposure category, crude
//! and adjusted risk ratios, a restricted cubic spline for the dose–response,
//! and a Cox model when event times exist.
//!
//! - **Exposure**: mean daily walking minutes over valid days. A day is
//!   valid when `wear_min ≥ 600` (when wear time is known); a participant
//!   needs at least one valid day. Both are options. Participants without
//!   enough valid days are excluded and counted.
//! - **Categories**: the HUNT cut points by default, left-closed at 78, 101
//!   and 125 min/day (`<78`, `78-100`, `101-124`, `>=125`), or user cut
//!   points, or K quantile groups (R's type 7 quantiles); the lowest is the
//!   reference unless another is named.
//! - **Incidence**: n, events, crude risk, person-years and the rate with
//!   Garwood's exact Poisson interval,
//!   `[χ²(α/2; 2d)/2, χ²(1−α/2; 2d+2)/2] / PY` (Garwood 1936).
//! - **Spline**: Harrell's restricted cubic spline (Harrell 2015, *Regression
//!   Modeling Strategies* §2.4.5; `Hmisc::rcspline.eval` with norm = 2) with
//!   knots at his default quantiles (3 knots: .10 .50 .90; 4: .05 .35 .65
//!   .95; 5: .05 .275 .50 .725 .95), fitted by modified Poisson with the
//!   covariates; the RR curve against a reference value with pointwise 95%
//!   CIs from the robust covariance, and a Wald test that the non-linear
//!   terms are zero.

use std::collections::HashMap;

use lumbar_model::cohort::{CohortSource, WalkingDay};
use lumbar_model::{ColumnError, Columns};
use nalgebra::DVector;
use serde::Serialize;
use statrs::distribution::{ChiSquared, ContinuousCDF};

use crate::describe::quantile;
use crate::poisson::{Robust, Z_975, modified_poisson};

/// Validity rules for accelerometer days.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct ExposureRules {
    pub min_wear_min: f64,
    pub min_valid_days: usize,
}

impl Default for ExposureRules {
    fn default() -> Self {
        ExposureRules {
            min_wear_min: 600.0,
            min_valid_days: 1,
        }
    }
}

/// One participant's walking exposure.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct WalkingExposure {
    pub patient_id: String,
    pub valid_days: usize,
    pub mean_walking_min: f64,
}

/// Mean walking minutes over valid days per participant, and how many were
/// excluded for too few valid days. Input rows: (id, walking_min, wear_min).
pub fn walking_exposure<'a>(
    days: impl IntoIterator<Item = (&'a str, f64, Option<f64>)>,
    rules: &ExposureRules,
) -> (Vec<WalkingExposure>, usize) {
    // Rows usually come grouped by participant: add up each run of equal
    // ids and touch the map once per run (9 million rows are 100,000 runs).
    let mut acc: HashMap<&str, (f64, usize)> = HashMap::new();
    let mut run: Option<(&str, f64, usize)> = None;
    for (id, walk, wear) in days {
        let valid = wear.is_none_or(|w| w >= rules.min_wear_min);
        match &mut run {
            Some((prev, sum, n)) if *prev == id => {
                if valid {
                    *sum += walk;
                    *n += 1;
                }
            }
            _ => {
                if let Some((prev, sum, n)) = run.take() {
                    let e = acc.entry(prev).or_insert((0.0, 0));
                    e.0 += sum;
                    e.1 += n;
                }
                run = Some(if valid { (id, walk, 1) } else { (id, 0.0, 0) });
            }
        }
    }
    if let Some((prev, sum, n)) = run {
        let e = acc.entry(prev).or_insert((0.0, 0));
        e.0 += sum;
        e.1 += n;
    }
    let mut acc: Vec<(&str, (f64, usize))> = acc.into_iter().collect();
    acc.sort_unstable_by(|a, b| a.0.cmp(b.0));
    let mut out = Vec::new();
    let mut excluded = 0;
    for (id, (sum, n)) in acc {
        if n >= rules.min_valid_days && n > 0 {
            out.push(WalkingExposure {
                patient_id: id.to_string(),
                valid_days: n,
                mean_walking_min: sum / n as f64,
            });
        } else {
            excluded += 1;
        }
    }
    (out, excluded)
}

/// How to cut a continuous exposure into categories.
#[derive(Debug, Clone, PartialEq)]
pub enum Cuts {
    /// Left-closed cut points, e.g. the HUNT study's [78, 101, 125].
    Points(Vec<f64>),
    /// K groups of equal size by sample quantiles.
    Quantiles(usize),
}

/// The HUNT study's walking categories (SPEC §1).
pub const HUNT_CUTS: [f64; 3] = [78.0, 101.0, 125.0];

fn fmt_num(x: f64) -> String {
    if x.fract() == 0.0 {
        format!("{x:.0}")
    } else {
        format!("{x}")
    }
}

/// Cut points and category labels. Whole-number cut points give labels like
/// `<78`, `78-100`, `>=125`; others `[a,b)`.
pub fn categories(values: &[f64], cuts: &Cuts) -> (Vec<f64>, Vec<String>) {
    let points = match cuts {
        Cuts::Points(p) => p.clone(),
        Cuts::Quantiles(k) => {
            let mut v = values.to_vec();
            v.sort_by(f64::total_cmp);
            let mut q: Vec<f64> = (1..*k)
                .map(|i| quantile(&v, i as f64 / *k as f64))
                .collect();
            q.dedup();
            q
        }
    };
    let whole = points.iter().all(|p| p.fract() == 0.0);
    let mut labels = Vec::with_capacity(points.len() + 1);
    for i in 0..=points.len() {
        let label = match (i, whole) {
            (0, _) => format!("<{}", fmt_num(points[0])),
            (i, _) if i == points.len() => format!(">={}", fmt_num(points[i - 1])),
            (i, true) => format!("{}-{}", fmt_num(points[i - 1]), fmt_num(points[i] - 1.0)),
            (i, false) => format!("[{},{})", fmt_num(points[i - 1]), fmt_num(points[i])),
        };
        labels.push(label);
    }
    (points, labels)
}

/// The category index of a value (left-closed intervals).
pub fn category_of(x: f64, points: &[f64]) -> usize {
    points.partition_point(|&p| p <= x)
}

/// Incidence in one category.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Incidence {
    pub category: String,
    pub n: usize,
    pub events: usize,
    pub risk: f64,
    pub person_years: Option<f64>,
    /// Events per 1,000 person-years, with Garwood's exact 95% interval.
    pub rate_per_1000py: Option<f64>,
    pub rate_low: Option<f64>,
    pub rate_high: Option<f64>,
}

/// Garwood's exact 95% interval for a Poisson count `d` (Garwood 1936).
pub fn poisson_exact_ci(d: f64) -> (f64, f64) {
    let lo = if d > 0.0 {
        ChiSquared::new(2.0 * d)
            .map(|c| c.inverse_cdf(0.025) / 2.0)
            .unwrap_or(f64::NAN)
    } else {
        0.0
    };
    let hi = ChiSquared::new(2.0 * d + 2.0)
        .map(|c| c.inverse_cdf(0.975) / 2.0)
        .unwrap_or(f64::NAN);
    (lo, hi)
}

pub fn incidence(
    category: &[usize],
    labels: &[String],
    event: &[bool],
    years: Option<&[f64]>,
) -> Vec<Incidence> {
    (0..labels.len())
        .map(|c| {
            let rows: Vec<usize> = (0..category.len()).filter(|&i| category[i] == c).collect();
            let events = rows.iter().filter(|&&i| event[i]).count();
            let py = years.map(|y| rows.iter().map(|&i| y[i]).sum::<f64>());
            let (lo, hi) = poisson_exact_ci(events as f64);
            Incidence {
                category: labels[c].clone(),
                n: rows.len(),
                events,
                risk: events as f64 / rows.len().max(1) as f64,
                person_years: py,
                rate_per_1000py: py.map(|p| 1000.0 * events as f64 / p),
                rate_low: py.map(|p| 1000.0 * lo / p),
                rate_high: py.map(|p| 1000.0 * hi / p),
            }
        })
        .collect()
}

/// Harrell's default knot quantiles for 3 to 5 knots.
pub fn default_knot_probs(k: usize) -> &'static [f64] {
    match k {
        3 => &[0.10, 0.50, 0.90],
        4 => &[0.05, 0.35, 0.65, 0.95],
        _ => &[0.05, 0.275, 0.50, 0.725, 0.95],
    }
}

/// The non-linear columns of the restricted cubic spline at x (k − 2 of
/// them), `Hmisc::rcspline.eval(x, knots, norm = 2)`.
pub fn rcs_basis(x: f64, knots: &[f64]) -> Vec<f64> {
    let k = knots.len();
    let (tk, tk1, t1) = (knots[k - 1], knots[k - 2], knots[0]);
    let cube = |v: f64| if v > 0.0 { v * v * v } else { 0.0 };
    let norm = (tk - t1) * (tk - t1);
    (0..k - 2)
        .map(|j| {
            let tj = knots[j];
            (cube(x - tj) - cube(x - tk1) * (tk - tj) / (tk - tk1)
                + cube(x - tk) * (tk1 - tj) / (tk - tk1))
                / norm
        })
        .collect()
}

#[derive(Debug, Clone, Serialize)]
pub struct SplinePoint {
    pub exposure: f64,
    pub rr: f64,
    pub conf_low: f64,
    pub conf_high: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Spline {
    pub knots: Vec<f64>,
    pub reference: f64,
    pub curve: Vec<SplinePoint>,
    /// Wald test that the non-linear spline terms are all zero.
    pub nonlinearity_chisq: f64,
    pub nonlinearity_df: usize,
    pub nonlinearity_p: f64,
}

/// Fits the spline model `log p = β0 + β1 x + Σ γ_j B_j(x) + covariates`
/// and returns the RR curve against `reference` at `grid` points.
pub fn spline(
    x: &[f64],
    y: &[f64],
    covariates: &[Vec<f64>],
    covariate_names: &[String],
    knots_k: usize,
    reference: f64,
    grid: &[f64],
) -> Result<Spline, crate::poisson::FitError> {
    let mut sorted = x.to_vec();
    sorted.sort_by(f64::total_cmp);
    let knots: Vec<f64> = default_knot_probs(knots_k)
        .iter()
        .map(|p| quantile(&sorted, *p))
        .collect();
    let basis: Vec<Vec<f64>> = x.iter().map(|v| rcs_basis(*v, &knots)).collect();
    let mut columns = vec![x.to_vec()];
    let mut names = vec!["exposure".to_string()];
    for j in 0..knots_k - 2 {
        columns.push(basis.iter().map(|b| b[j]).collect());
        names.push(format!("exposure'{}", j + 1));
    }
    columns.extend(covariates.iter().cloned());
    names.extend(covariate_names.iter().cloned());
    let fit = modified_poisson(y, &columns, &names, Robust::Hc0)?;
    // Spline coefficients are terms 1..=k−1 (after the intercept).
    let m = knots_k - 1;
    let beta: Vec<f64> = fit.terms[1..=m].iter().map(|t| t.estimate).collect();
    let cov = fit.covariance.view((1, 1), (m, m)).into_owned();
    let design = |v: f64| -> Vec<f64> {
        let mut d = vec![v];
        d.extend(rcs_basis(v, &knots));
        d
    };
    let r0 = design(reference);
    let curve = grid
        .iter()
        .map(|&v| {
            let dv: Vec<f64> = design(v).iter().zip(&r0).map(|(a, b)| a - b).collect();
            let lrr: f64 = dv.iter().zip(&beta).map(|(a, b)| a * b).sum();
            let dvec = DVector::from_vec(dv);
            let var = (dvec.transpose() * &cov * &dvec)[(0, 0)].max(0.0);
            SplinePoint {
                exposure: v,
                rr: lrr.exp(),
                conf_low: (lrr - Z_975 * var.sqrt()).exp(),
                conf_high: (lrr + Z_975 * var.sqrt()).exp(),
            }
        })
        .collect();
    // Non-linearity: the γ block (indices 1..m of the spline block).
    let g = DVector::from_iterator(m - 1, beta[1..].iter().cloned());
    let vg = cov.view((1, 1), (m - 1, m - 1)).into_owned();
    let chisq = vg
        .cholesky()
        .map(|c| g.dot(&c.solve(&g)))
        .unwrap_or(f64::NAN);
    Ok(Spline {
        knots,
        reference,
        curve,
        nonlinearity_chisq: chisq,
        nonlinearity_df: m - 1,
        nonlinearity_p: ChiSquared::new((m - 1) as f64)
            .map(|c| c.sf(chisq))
            .unwrap_or(f64::NAN),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hunt_categories_are_left_closed() {
        let (p, l) = categories(&[], &Cuts::Points(HUNT_CUTS.to_vec()));
        assert_eq!(l, ["<78", "78-100", "101-124", ">=125"]);
        assert_eq!(category_of(77.9, &p), 0);
        assert_eq!(category_of(78.0, &p), 1);
        assert_eq!(category_of(100.99, &p), 1);
        assert_eq!(category_of(101.0, &p), 2);
        assert_eq!(category_of(125.0, &p), 3);
    }

    #[test]
    fn exposure_uses_valid_days_only() {
        let rows = [
            ("A", 100.0, Some(700.0)),
            ("A", 10.0, Some(300.0)),
            ("A", 50.0, None),
            ("B", 90.0, Some(200.0)),
        ];
        let (e, excluded) = walking_exposure(
            rows.iter().map(|(a, b, c)| (*a, *b, *c)),
            &ExposureRules::default(),
        );
        assert_eq!(
            e,
            vec![WalkingExposure {
                patient_id: "A".into(),
                valid_days: 2,
                mean_walking_min: 75.0
            }]
        );
        assert_eq!(excluded, 1);
    }

    #[test]
    fn garwood_interval() {
        // R: poisson.test(10)$conf.int -> 4.795389 18.390356
        let (lo, hi) = poisson_exact_ci(10.0);
        assert!((lo - 4.795389).abs() < 1e-6, "{lo}");
        assert!((hi - 18.390356).abs() < 1e-6, "{hi}");
        assert_eq!(poisson_exact_ci(0.0).0, 0.0);
    }

    #[test]
    fn rcs_basis_by_hand() {
        // Knots 1, 4, 6, 10; (t_k − t_1)² = 81. At x = 2 only (x − 1)³ = 1 is
        // non-zero; at x = 5, (5 − 1)³ = 64 and (5 − 4)³ = 1; at x = 8 the
        // (x − t_{k−1})³ term enters with weight (t_k − t_j)/(t_k − t_{k−1}).
        let k = [1.0, 4.0, 6.0, 10.0];
        assert_eq!(rcs_basis(2.0, &k), vec![1.0 / 81.0, 0.0]);
        let b = rcs_basis(5.0, &k);
        assert!(
            (b[0] - 64.0 / 81.0).abs() < 1e-12 && (b[1] - 1.0 / 81.0).abs() < 1e-12,
            "{b:?}"
        );
        let b = rcs_basis(8.0, &k);
        assert!(
            (b[0] - (343.0 - 8.0 * 9.0 / 4.0) / 81.0).abs() < 1e-12,
            "{b:?}"
        );
        assert!(
            (b[1] - (64.0 - 8.0 * 6.0 / 4.0) / 81.0).abs() < 1e-12,
            "{b:?}"
        );
        // Linear beyond the last knot: second differences vanish.
        let f = |x: f64| rcs_basis(x, &k)[0];
        assert!((f(12.0) - 2.0 * f(13.0) + f(14.0)).abs() < 1e-9);
    }
}

/// The follow-up table of a store with the walking exposure and follow-up
/// times added: `walking_min` (mean over valid days; null when excluded),
/// `valid_days`, `followup_years` (end − baseline) and `time_years` (to the
/// event when there is one, else to the end), years of 365.25 days, and
/// how many participants had too few valid days.
pub fn store_frame<S: CohortSource>(
    store: &S,
    rules: &ExposureRules,
) -> Result<FollowupTable<S::Followup>, FollowupError<S::Error>> {
    let source = FollowupError::Source;
    let f = store.followup().map_err(source)?;
    let w = store.walking_days().map_err(source)?;
    let f = f.ok_or(FollowupError::Missing("followup"))?;
    let w = w.ok_or(FollowupError::Missing("walking"))?;
    Ok(followup_frame(f, &w, rules)?)
}

/// Why [`store_frame`] has no table.
#[derive(Debug, thiserror::Error)]
pub enum FollowupError<E: std::error::Error + 'static> {
    #[error(transparent)]
    Source(E),
    #[error("the store has no {0} table; ingest one first")]
    Missing(&'static str),
    #[error(transparent)]
    Column(#[from] ColumnError),
}

/// [`store_frame`] from tables already read: the follow-up table `f` and
/// the walking days `w`.
pub fn followup_frame<C: Columns>(
    f: C,
    w: &[WalkingDay],
    rules: &ExposureRules,
) -> Result<FollowupTable<C>, ColumnError> {
    let rows = w
        .iter()
        .filter_map(|d| Some((&*d.patient_id, d.walking_min?, d.wear_min)));
    let (exposure, _) = walking_exposure(rows, rules);
    let by_id: HashMap<&str, &WalkingExposure> = exposure
        .iter()
        .map(|e| (e.patient_id.as_str(), e))
        .collect();
    let ids = f.labels("patient_id")?;
    // Dates arrive as days since 1970-01-01.
    let base = f.numbers("baseline_date")?;
    let end = f.numbers("end_date")?;
    let ev = f.numbers("event_date")?;
    let n = f.height();
    let (mut walk, mut valid) = (Vec::with_capacity(n), Vec::with_capacity(n));
    let (mut fy, mut ty) = (Vec::with_capacity(n), Vec::with_capacity(n));
    let mut excluded = 0;
    for i in 0..n {
        let e = ids[i].as_deref().and_then(|id| by_id.get(id));
        if e.is_none() {
            excluded += 1;
        }
        walk.push(e.map(|e| e.mean_walking_min));
        valid.push(e.map(|e| e.valid_days as f64));
        let years = |a: Option<f64>, b: Option<f64>| Some((b? - a?) / 365.25);
        fy.push(years(base[i], end[i]));
        ty.push(years(base[i], ev[i].or(end[i])));
    }
    let added = vec![
        Added {
            name: "walking_min",
            values: walk,
            whole: false,
        },
        Added {
            name: "followup_years",
            values: fy,
            whole: false,
        },
        Added {
            name: "time_years",
            values: ty,
            whole: false,
        },
        Added {
            name: "valid_days",
            values: valid,
            whole: true,
        },
    ];
    Ok(FollowupTable {
        table: f,
        added,
        excluded,
    })
}

/// A column [`followup_frame`] adds.
#[derive(Debug, Clone)]
struct Added {
    name: &'static str,
    values: Vec<Option<f64>>,
    /// A count: its labels have no decimal point.
    whole: bool,
}

/// The follow-up table with the columns of [`followup_frame`] after its
/// own (an added name hides a stored column of the same name).
#[derive(Debug, Clone)]
pub struct FollowupTable<C> {
    table: C,
    added: Vec<Added>,
    excluded: usize,
}

impl<C: Columns> FollowupTable<C> {
    /// Participants without enough valid walking days (their
    /// `walking_min` is null).
    pub fn excluded(&self) -> usize {
        self.excluded
    }

    fn added(&self, name: &str) -> Option<&Added> {
        self.added.iter().find(|a| a.name == name)
    }

    /// The stored table's error, with the added columns among those found.
    fn with_added(&self, e: ColumnError) -> ColumnError {
        match e {
            ColumnError::NoColumn {
                path,
                column,
                found,
            } => {
                let mut found = found;
                for a in &self.added {
                    found.push_str(", ");
                    found.push_str(a.name);
                }
                ColumnError::NoColumn {
                    path,
                    column,
                    found,
                }
            }
            e => e,
        }
    }
}

impl<C: Columns> Columns for FollowupTable<C> {
    fn source(&self) -> &std::path::Path {
        self.table.source()
    }
    fn height(&self) -> usize {
        self.table.height()
    }
    fn has(&self, name: &str) -> bool {
        self.added(name).is_some() || self.table.has(name)
    }
    fn numbers(&self, name: &str) -> Result<Vec<Option<f64>>, ColumnError> {
        match self.added(name) {
            Some(a) => Ok(a.values.clone()),
            None => self.table.numbers(name).map_err(|e| self.with_added(e)),
        }
    }
    fn labels(&self, name: &str) -> Result<Vec<Option<String>>, ColumnError> {
        match self.added(name) {
            // As polars writes a float (`75.0`) or a count (`5`) as text.
            Some(a) => Ok(a
                .values
                .iter()
                .map(|v| {
                    v.map(|x| {
                        if a.whole {
                            format!("{x:.0}")
                        } else {
                            format!("{x:?}")
                        }
                    })
                })
                .collect()),
            None => self.table.labels(name).map_err(|e| self.with_added(e)),
        }
    }
    fn place(&self, row: usize) -> String {
        self.table.place(row)
    }
}

/// What `lumbar risk` analyses.
#[derive(Debug, Clone)]
pub struct RiskSpec {
    pub exposure: String,
    pub cuts: Cuts,
    /// The reference category's label (default: the lowest).
    pub reference: Option<String>,
    pub outcome: String,
    /// Time to event or censoring, for the Cox model.
    pub time: Option<String>,
    /// Person-years for incidence rates (default: `time`).
    pub person_years: Option<String>,
    pub covariates: Vec<String>,
    pub categorical: Vec<lumbar_stats::design::Categorical>,
    /// Spline knots (3–5).
    pub knots: usize,
    /// The exposure value the spline's RR curve is relative to (default:
    /// the first cut point, else the median).
    pub reference_value: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ExposureSummary {
    pub column: String,
    pub n: usize,
    pub dropped: usize,
    pub cut_points: Vec<f64>,
    pub categories: Vec<String>,
    pub reference: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct RiskReport {
    pub exposure: ExposureSummary,
    pub incidence: Vec<Incidence>,
    pub crude: crate::poisson::PoissonFit,
    /// Adjusted for the covariates.
    pub poisson: crate::poisson::PoissonFit,
    /// The exposure as continuous, per 10 units, adjusted.
    pub continuous: crate::poisson::PoissonFit,
    pub spline: Option<Spline>,
    pub cox: Option<crate::cox::CoxFit>,
}

#[derive(Debug, thiserror::Error)]
pub enum RiskError {
    #[error(transparent)]
    Data(#[from] crate::columns::DataError),
    #[error(transparent)]
    Fit(#[from] crate::poisson::FitError),
    #[error(transparent)]
    Cox(#[from] crate::cox::CoxError),
    #[error("{0}")]
    Spec(String),
}

/// Runs the walking-vs-risk analysis on a table (a data file, or
/// [`store_frame`]'s).
pub fn analyze(t: &dyn lumbar_model::Columns, spec: &RiskSpec) -> Result<RiskReport, RiskError> {
    let mut extra: Vec<&str> = vec![&spec.exposure, &spec.outcome];
    extra.extend(spec.time.as_deref());
    extra.extend(spec.person_years.as_deref());
    let mut covariates = spec.covariates.clone();
    covariates.extend(
        spec.categorical
            .iter()
            .filter(|c| !spec.covariates.contains(&c.column))
            .map(|c| c.column.clone()),
    );
    let d = crate::columns::design(t, &covariates, &spec.categorical, &extra, &[])?;
    if d.rows == 0 {
        return Err(RiskError::Spec(
            "no complete rows for the exposure, outcome and covariates".into(),
        ));
    }
    let var = |name: &str| d.variable(name).unwrap_or(&[]).to_vec();
    let x = &var(&spec.exposure);
    let y = &var(&spec.outcome);
    if let Some(bad) = y.iter().find(|v| **v != 0.0 && **v != 1.0) {
        return Err(RiskError::Spec(format!(
            "outcome '{}' must be 0/1 or true/false; found {bad}",
            spec.outcome
        )));
    }
    let time = spec.time.as_deref().map(var);
    let py = match (&spec.person_years, &time) {
        (Some(p), _) => Some(var(p)),
        (None, Some(t)) => Some(t.clone()),
        _ => None,
    };
    let (points, labels) = categories(x, &spec.cuts);
    let cat: Vec<usize> = x.iter().map(|v| category_of(*v, &points)).collect();
    let reference = match &spec.reference {
        Some(r) => labels.iter().position(|l| l == r).ok_or_else(|| {
            RiskError::Spec(format!(
                "reference category '{r}' is not one of {}",
                labels.join(", ")
            ))
        })?,
        None => 0,
    };
    let event: Vec<bool> = y.iter().map(|v| *v == 1.0).collect();
    let inc = incidence(&cat, &labels, &event, py.as_deref());
    let mut dummies = Vec::new();
    let mut dummy_names = Vec::new();
    for (c, l) in labels.iter().enumerate() {
        if c != reference && cat.contains(&c) {
            dummies.push(
                cat.iter()
                    .map(|&k| if k == c { 1.0 } else { 0.0 })
                    .collect::<Vec<f64>>(),
            );
            dummy_names.push(format!("{}[{l}]", spec.exposure));
        }
    }
    let crude = modified_poisson(y, &dummies, &dummy_names, Robust::Hc0)?;
    let mut cols = dummies.clone();
    cols.extend(d.columns.iter().cloned());
    let mut names = dummy_names.clone();
    names.extend(d.names.iter().cloned());
    let adjusted = modified_poisson(y, &cols, &names, Robust::Hc0)?;
    let mut ccols = vec![x.iter().map(|v| v / 10.0).collect::<Vec<f64>>()];
    ccols.extend(d.columns.iter().cloned());
    let mut cnames = vec![format!("{} (per 10)", spec.exposure)];
    cnames.extend(d.names.iter().cloned());
    let continuous = modified_poisson(y, &ccols, &cnames, Robust::Hc0)?;
    let mut sorted = x.clone();
    sorted.sort_by(f64::total_cmp);
    let ref_value = spec.reference_value.unwrap_or_else(|| match &spec.cuts {
        Cuts::Points(p) if !p.is_empty() => p[0],
        _ => quantile(&sorted, 0.5),
    });
    let (lo, hi) = (quantile(&sorted, 0.05), quantile(&sorted, 0.95));
    let grid: Vec<f64> = (0..=40).map(|i| lo + (hi - lo) * i as f64 / 40.0).collect();
    let spline = spline(
        x,
        y,
        &d.columns,
        &d.names,
        spec.knots.clamp(3, 5),
        ref_value,
        &grid,
    )
    .ok();
    let cox = match time {
        Some(t) => Some(crate::cox::fit(
            &crate::cox::CoxData {
                stop: t,
                event,
                columns: cols,
                names,
                ..Default::default()
            },
            crate::cox::Ties::Efron,
            false,
        )?),
        None => None,
    };
    Ok(RiskReport {
        exposure: ExposureSummary {
            column: spec.exposure.clone(),
            n: d.rows,
            dropped: d.dropped,
            cut_points: points,
            reference: labels[reference].clone(),
            categories: labels,
        },
        incidence: inc,
        crude,
        poisson: adjusted,
        continuous,
        spline,
        cox,
    })
}
