//! Pain and disability trends per patient (SPEC §3), and the cohort's
//! mixed model of pain over weeks.
//!
//! Per patient and measure (`nrs_pain`, `odi`): the baseline is the first
//! measurement, time is weeks since it, and
//! - `change = last − baseline`, `percent_change = 100 · change / baseline`;
//! - `slope_per_week` by OLS with its SE, and the Theil–Sen slope;
//! - responder: an improvement (baseline − last) of at least the measure's
//!   points (2 NRS, 10 ODI; SPEC §1, IMMPACT) or at least 30% of baseline;
//! - `weeks_to_sustained_response`: weeks from baseline to the first later
//!   measurement from which every measurement, that one included, is a
//!   response by the same rule; none if there is no such measurement.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::describe::{ols_slope, theil_sen};
use crate::lmm::{self, GroupSums, LmmFit, Method, RandomEffects};
use lumbar_model::cohort::{Cohort, Outcome, Patient};

/// Responder thresholds.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Responder {
    /// Improvement in NRS points that makes a responder.
    pub nrs_points: f64,
    /// Improvement in ODI points that makes a responder.
    pub odi_points: f64,
    /// Improvement as a percentage of baseline that makes a responder.
    pub percent: f64,
}

impl Default for Responder {
    fn default() -> Self {
        Responder {
            nrs_points: 2.0,
            odi_points: 10.0,
            percent: 30.0,
        }
    }
}

impl Responder {
    fn points(&self, measure: &str) -> Option<f64> {
        match measure {
            "nrs_pain" => Some(self.nrs_points),
            "odi" => Some(self.odi_points),
            _ => None,
        }
    }

    /// Whether `value` is a response relative to `baseline`.
    pub fn is_response(&self, measure: &str, baseline: f64, value: f64) -> bool {
        let Some(points) = self.points(measure) else {
            return false;
        };
        let gain = baseline - value;
        // A tolerance for values on the threshold (halves, 30% of 5 = 1.5).
        gain >= points - 1e-9 || (baseline > 0.0 && gain / baseline * 100.0 >= self.percent - 1e-9)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Trend {
    pub patient_id: String,
    pub site: String,
    pub measure: String,
    pub n: usize,
    pub baseline_date: NaiveDate,
    pub baseline: f64,
    pub last_date: NaiveDate,
    pub last: f64,
    pub change: f64,
    pub percent_change: Option<f64>,
    pub slope_per_week: Option<f64>,
    pub slope_se: Option<f64>,
    pub theil_sen_per_week: Option<f64>,
    pub responder: bool,
    pub weeks_to_sustained_response: Option<f64>,
}

/// One patient's series of one measure, in date order.
pub fn trend(
    patient_id: &str,
    site: &str,
    measure: &str,
    series: &[(NaiveDate, f64)],
    rule: &Responder,
) -> Option<Trend> {
    let (&(d0, y0), &(dl, yl)) = (series.first()?, series.last()?);
    let weeks: Vec<f64> = series
        .iter()
        .map(|(d, _)| (*d - d0).num_days() as f64 / 7.0)
        .collect();
    let ys: Vec<f64> = series.iter().map(|s| s.1).collect();
    let (slope, se) = ols_slope(&weeks, &ys);
    let sustained = (1..series.len())
        .find(|&k| {
            series[k..]
                .iter()
                .all(|&(_, v)| rule.is_response(measure, y0, v))
        })
        .map(|k| weeks[k]);
    Some(Trend {
        patient_id: patient_id.into(),
        site: site.into(),
        measure: measure.into(),
        n: series.len(),
        baseline_date: d0,
        baseline: y0,
        last_date: dl,
        last: yl,
        change: yl - y0,
        percent_change: (y0 != 0.0).then(|| 100.0 * (yl - y0) / y0),
        slope_per_week: slope,
        slope_se: se,
        theil_sen_per_week: theil_sen(&weeks, &ys),
        responder: series.len() > 1 && rule.is_response(measure, y0, yl),
        weeks_to_sustained_response: sustained,
    })
}

/// Trends of NRS pain and ODI for every patient with measurements, by
/// measure, then patient id.
pub fn trends(cohort: &Cohort, rule: &Responder) -> Vec<Trend> {
    let by = OutcomesByPatient::new(cohort);
    let mut out: Vec<Trend> = cohort
        .patients
        .iter()
        .enumerate()
        .flat_map(|(pi, p)| patient_trends(p, by.of(pi), rule))
        .collect();
    out.sort_by(|a, b| (&a.measure, &a.patient_id).cmp(&(&b.measure, &b.patient_id)));
    out
}

/// One patient's trends (NRS pain, then ODI, where measured) from their
/// outcomes in the order measured.
pub fn patient_trends<'a>(
    p: &Patient,
    outcomes: impl IntoIterator<Item = &'a Outcome>,
    rule: &Responder,
) -> Vec<Trend> {
    let (mut nrs, mut odi) = (Vec::new(), Vec::new());
    for o in outcomes {
        match o.measure.as_str() {
            "nrs_pain" => nrs.push((o.date, o.value)),
            "odi" => odi.push((o.date, o.value)),
            _ => {}
        }
    }
    [("nrs_pain", nrs), ("odi", odi)]
        .iter()
        .filter_map(|(m, series)| trend(&p.id, &p.site, m, series, rule))
        .collect()
}

/// Each patient's outcomes, in the cohort's order (a store gives them
/// sorted by patient; any other order is grouped once, stably).
pub struct OutcomesByPatient<'a> {
    outcomes: &'a [Outcome],
    /// Outcome indices grouped by patient (`None`: already grouped).
    order: Option<Vec<usize>>,
    /// Where each patient's run starts in that order, and the end.
    starts: Vec<usize>,
}

impl<'a> OutcomesByPatient<'a> {
    pub fn new(cohort: &'a Cohort) -> Self {
        let outcomes = &cohort.outcomes[..];
        let order = (!outcomes.is_sorted_by_key(|o| o.patient)).then(|| {
            let mut order: Vec<usize> = (0..outcomes.len()).collect();
            order.sort_by_key(|&k| outcomes[k].patient); // stable
            order
        });
        let patient_at = |k: usize| match &order {
            Some(o) => outcomes[o[k]].patient,
            None => outcomes[k].patient,
        };
        let mut starts = Vec::with_capacity(cohort.patients.len() + 1);
        let mut k = 0;
        for pi in 0..=cohort.patients.len() {
            while k < outcomes.len() && patient_at(k) < pi {
                k += 1;
            }
            starts.push(k);
        }
        OutcomesByPatient {
            outcomes,
            order,
            starts,
        }
    }

    /// The outcomes of patient `pi` (none for an index beyond the cohort).
    pub fn of(&self, pi: usize) -> impl Iterator<Item = &'a Outcome> + '_ {
        let range = match (self.starts.get(pi), self.starts.get(pi + 1)) {
            (Some(&a), Some(&b)) => a..b,
            _ => 0..0,
        };
        range.map(move |k| match &self.order {
            Some(o) => &self.outcomes[o[k]],
            None => &self.outcomes[k],
        })
    }
}

/// The cohort model of pain: `nrs_pain ~ week + (week | patient)`, REML,
/// with week counted from each patient's first measurement.
///
/// Fitted from each patient's sufficient statistics ([`pain_sums`]), in
/// cohort order, so that shards of a cohort give the same fit.
pub fn pain_model(cohort: &Cohort) -> Result<LmmFit, lmm::LmmError> {
    pain_model_from(&pain_sums(cohort))
}

/// The pain model from each patient's sums, in the order given.
pub fn pain_model_from(sums: &[GroupSums]) -> Result<LmmFit, lmm::LmmError> {
    lmm::fit_sums(sums, "week", Method::Reml, RandomEffects::Slope)
}

/// Each patient's NRS sums for the pain model (weeks from their first
/// measurement; outcomes in (patient, date) order), one per patient of the
/// cohort (empty for a patient without NRS).
pub fn pain_sums(cohort: &Cohort) -> Vec<GroupSums> {
    let by = OutcomesByPatient::new(cohort);
    (0..cohort.patients.len())
        .map(|pi| patient_sums(by.of(pi)))
        .collect()
}

/// One patient's NRS sums for the pain model, from their outcomes in the
/// order measured (weeks from the first NRS).
pub fn patient_sums<'a>(outcomes: impl IntoIterator<Item = &'a Outcome>) -> GroupSums {
    let mut sums = GroupSums::default();
    let mut first = None;
    for o in outcomes.into_iter().filter(|o| o.measure == "nrs_pain") {
        let f = *first.get_or_insert(o.date);
        sums.add((o.date - f).num_days() as f64 / 7.0, o.value);
    }
    sums
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(n: i64) -> NaiveDate {
        NaiveDate::from_ymd_opt(2025, 1, 6).unwrap() + chrono::Duration::days(n)
    }

    #[test]
    fn responder_and_sustained_response_by_hand() {
        let rule = Responder::default();
        // Baseline 6: a response is ≤ 4 (2 points) or ≤ 4.2 (30%): the level is 4.2.
        let s = [
            (day(0), 6.0),
            (day(7), 4.0),
            (day(14), 5.0),
            (day(21), 4.0),
            (day(28), 3.5),
        ];
        let t = trend("P1", "north", "nrs_pain", &s, &rule).unwrap();
        assert!(t.responder);
        assert_eq!(t.change, -2.5);
        assert!((t.percent_change.unwrap() + 250.0 / 6.0).abs() < 1e-12);
        // Week 1 responds but week 2 (5.0) does not: sustained from week 3.
        assert_eq!(t.weeks_to_sustained_response, Some(3.0));
        // Theil–Sen: median of the 10 pairwise slopes.
        assert!(t.theil_sen_per_week.is_some());
        // 30% of baseline 5 is 1.5: 5 → 3.5 responds though it is under 2 points.
        let s = [(day(0), 5.0), (day(7), 3.5)];
        assert!(
            trend("P2", "north", "nrs_pain", &s, &rule)
                .unwrap()
                .responder
        );
        let s = [(day(0), 8.0), (day(7), 6.5)];
        let t = trend("P3", "north", "nrs_pain", &s, &rule).unwrap();
        assert!(!t.responder);
        assert_eq!(t.weeks_to_sustained_response, None);
        // ODI uses 10 points: 40 → 31 is 22.5%, not a response; 40 → 30 is.
        assert!(!rule.is_response("odi", 40.0, 31.0));
        assert!(rule.is_response("odi", 40.0, 30.0));
    }

    #[test]
    fn ols_slope_in_points_per_week() {
        let s = [(day(0), 6.0), (day(7), 5.5), (day(14), 5.0)];
        let t = trend("P1", "x", "nrs_pain", &s, &Responder::default()).unwrap();
        assert!((t.slope_per_week.unwrap() + 0.5).abs() < 1e-12);
        assert!(t.slope_se.unwrap().abs() < 1e-12);
    }
}
