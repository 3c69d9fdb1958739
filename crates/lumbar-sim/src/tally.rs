//! What a run accumulates, in integers, so that adding tallies is exact and
//! order-free: any split of the cohort across threads or shards adds up to
//! the same bits.
//!
//! Pain is kept in units of 1e-4 NRS (sum and sum of squares) and in a
//! histogram of 0.01-NRS bins, from which percentiles are read with that
//! resolution; walking minutes in units of 0.1 min. Memory grows with weeks
//! and ladders, never with patients.

use serde::{Deserialize, Serialize};

/// Pain histogram bins: 0.00, 0.01, …, 10.00 NRS.
pub const PAIN_BINS: usize = 1001;

/// One week's tally. Pain, responders and dropout are taken on the
/// assessment day that starts the week (day 7·w); exercise counts cover the
/// seven days that end on it (week w = days 7(w−1) … 7w−1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WeekTally {
    pub patients: u64,
    pub pain_sum: u64,
    pub pain_sumsq: u128,
    pub pain_hist: Vec<u64>,
    pub responders: u64,
    pub dropped: u64,
    pub scheduled: u64,
    pub completed: u64,
    /// Patients with something scheduled in the week, and those who did ≥ 70%.
    pub with_schedule: u64,
    pub adherent: u64,
    pub safety_events: u64,
    pub unsuitable: u64,
    pub walking_sum: u64,
    pub walking_days: u64,
}

impl WeekTally {
    fn new() -> WeekTally {
        WeekTally {
            patients: 0,
            pain_sum: 0,
            pain_sumsq: 0,
            pain_hist: vec![0; PAIN_BINS],
            responders: 0,
            dropped: 0,
            scheduled: 0,
            completed: 0,
            with_schedule: 0,
            adherent: 0,
            safety_events: 0,
            unsuitable: 0,
            walking_sum: 0,
            walking_days: 0,
        }
    }

    /// Records one patient's pain on the assessment day.
    #[inline]
    pub fn pain(&mut self, pain: f64) {
        let q = (pain * 1e4).round() as u64;
        self.patients += 1;
        self.pain_sum += q;
        self.pain_sumsq += (q as u128) * (q as u128);
        let bin = ((pain * 100.0).round() as usize).min(PAIN_BINS - 1);
        self.pain_hist[bin] += 1;
    }

    fn add(&mut self, o: &WeekTally) {
        self.patients += o.patients;
        self.pain_sum += o.pain_sum;
        self.pain_sumsq += o.pain_sumsq;
        for (a, b) in self.pain_hist.iter_mut().zip(&o.pain_hist) {
            *a += b;
        }
        self.responders += o.responders;
        self.dropped += o.dropped;
        self.scheduled += o.scheduled;
        self.completed += o.completed;
        self.with_schedule += o.with_schedule;
        self.adherent += o.adherent;
        self.safety_events += o.safety_events;
        self.unsuitable += o.unsuitable;
        self.walking_sum += o.walking_sum;
        self.walking_days += o.walking_days;
    }

    /// The `p`-quantile of pain (the smallest bin whose cumulative count
    /// reaches ⌈p·n⌉; Hyndman & Fan type 1), in NRS.
    pub fn pain_quantile(&self, p: f64) -> Option<f64> {
        if self.patients == 0 {
            return None;
        }
        let need = ((p * self.patients as f64).ceil() as u64).max(1);
        let mut cum = 0;
        for (bin, &c) in self.pain_hist.iter().enumerate() {
            cum += c;
            if cum >= need {
                return Some(bin as f64 / 100.0);
            }
        }
        Some(10.0)
    }
}

/// When patients first reached the top rung of one ladder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LadderTally {
    pub key: String,
    /// `reached[d]`: patients who reached it on day d.
    pub reached: Vec<u64>,
    pub never: u64,
}

/// Everything one run accumulates over a slice of patients.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tally {
    pub weeks: Vec<WeekTally>,
    pub ladders: Vec<LadderTally>,
}

impl Tally {
    pub fn new(weeks: u32, ladders: &[String]) -> Tally {
        let days = weeks as usize * 7;
        Tally {
            weeks: (0..=weeks).map(|_| WeekTally::new()).collect(),
            ladders: ladders
                .iter()
                .map(|k| LadderTally {
                    key: k.clone(),
                    reached: vec![0; days + 1],
                    never: 0,
                })
                .collect(),
        }
    }

    /// Adds another tally of the same shape (exact; order does not matter).
    pub fn add(&mut self, o: &Tally) {
        for (a, b) in self.weeks.iter_mut().zip(&o.weeks) {
            a.add(b);
        }
        for (a, b) in self.ladders.iter_mut().zip(&o.ladders) {
            for (x, y) in a.reached.iter_mut().zip(&b.reached) {
                *x += y;
            }
            a.never += b.never;
        }
    }

    pub fn same_shape(&self, o: &Tally) -> bool {
        self.weeks.len() == o.weeks.len()
            && self.ladders.len() == o.ladders.len()
            && self
                .ladders
                .iter()
                .zip(&o.ladders)
                .all(|(a, b)| a.key == b.key && a.reached.len() == b.reached.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_from_the_histogram() {
        let mut w = WeekTally::new();
        for p in [1.0, 2.0, 3.0, 4.0, 5.004] {
            w.pain(p);
        }
        assert_eq!(w.pain_quantile(0.5), Some(3.0));
        assert_eq!(w.pain_quantile(0.1), Some(1.0));
        assert_eq!(w.pain_quantile(0.9), Some(5.0));
        assert_eq!(w.pain_sum, 150_040);
        assert_eq!(w.pain_quantile(1.0), Some(5.0));
    }

    #[test]
    fn adding_is_exact_in_any_order() {
        let mut parts: Vec<Tally> = (0..5).map(|_| Tally::new(1, &["a".into()])).collect();
        for (i, t) in parts.iter_mut().enumerate() {
            t.weeks[0].pain(0.1 * i as f64 + 0.33333);
            t.ladders[0].reached[i] += 1;
        }
        let mut fwd = Tally::new(1, &["a".into()]);
        for t in &parts {
            fwd.add(t);
        }
        let mut back = Tally::new(1, &["a".into()]);
        for t in parts.iter().rev() {
            back.add(t);
        }
        assert_eq!(fwd, back);
        assert_eq!(fwd.weeks[0].patients, 5);
    }
}
