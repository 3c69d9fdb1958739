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

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::describe::{ols_slope, theil_sen};
use crate::lmm::{self, GroupSums, LmmFit, Method, RandomEffects};
use lumbar_model::cohort::Cohort;

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

/// Trends of NRS pain and ODI for every patient with measurements.
pub fn trends(cohort: &Cohort, rule: &Responder) -> Vec<Trend> {
    let mut series: BTreeMap<(usize, &str), Vec<(NaiveDate, f64)>> = BTreeMap::new();
    for o in &cohort.outcomes {
        if o.measure == "nrs_pain" || o.measure == "odi" {
            series
                .entry((o.patient, o.measure.as_str()))
                .or_default()
                .push((o.date, o.value));
        }
    }
    let mut out: Vec<Trend> = series
        .iter()
        .filter_map(|((pi, m), s)| {
            let p = &cohort.patients[*pi];
            trend(&p.id, &p.site, m, s, rule)
        })
        .collect();
    out.sort_by(|a, b| (&a.measure, &a.patient_id).cmp(&(&b.measure, &b.patient_id)));
    out
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
    let mut sums = vec![GroupSums::default(); cohort.patients.len()];
    let mut first: Vec<Option<NaiveDate>> = vec![None; cohort.patients.len()];
    for o in cohort.outcomes.iter().filter(|o| o.measure == "nrs_pain") {
        let f = *first[o.patient].get_or_insert(o.date);
        sums[o.patient].add((o.date - f).num_days() as f64 / 7.0, o.value);
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
