//! The report's numbers as exact tallies over a set of patients, which
//! shards add up ([`ClinicTally::add`]) and [`ClinicTally::summary`]
//! turns into the figures.

use super::*;

/// The risk table of the follow-up cohort, or why there is none.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FollowUpRisk {
    pub risk: Option<RiskTable>,
    pub risk_note: Option<String>,
}

/// The report's numbers over a set of patients (one shard's, or the sum of
/// disjoint shards' by [`ClinicTally::add`]) as exact tallies: integer
/// counts, and each patient's own values where the report shows quartiles
/// (a median is not a sum). [`ClinicTally::summary`] makes the figures;
/// every step of it is a sum of integers or sorts its values first, so the
/// summary of the shards added is the whole run's, bit for bit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClinicTally {
    /// The store's first and last session days (the same in every shard).
    pub data_from: Option<NaiveDate>,
    pub data_cutoff: Option<NaiveDate>,
    pub site: Option<String>,
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    pub patients: usize,
    pub left_out: usize,
    pub sites: BTreeMap<String, usize>,
    pub enrolled: Option<(NaiveDate, NaiveDate)>,
    /// Per patient covered: weeks from the first to the last day scheduled.
    pub followup_weeks: Vec<f64>,
    pub sessions: usize,
    pub adherence_histogram: [usize; 10],
    pub adherence_threshold: f64,
    /// Per site: each covered patient's session adherence.
    pub adherence_by_site: BTreeMap<String, Vec<f64>>,
    /// Per regimen move: each patient's done / scheduled.
    pub adherence_by_exercise: Vec<(String, Vec<f64>)>,
    /// By programme week: the first value of each patient, and the responders.
    pub pain: BTreeMap<u32, (Vec<f64>, usize)>,
    pub odi: BTreeMap<u32, (Vec<f64>, usize)>,
    pub safety: Vec<SafetyByExercise>,
    pub patients_with_events: usize,
    pub walking_histogram: Vec<usize>,
    /// Per patient with walking data: mean walking minutes a day.
    pub walking: Vec<f64>,
    /// The first shard's (the follow-up cohort is not split).
    pub follow_up: Option<FollowUpRisk>,
    pub(super) programme: programme::ProgrammeCounts,
    pub delivered: Delivered,
}

/// Why two tallies do not add up to one report.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("the shards are of different reports: {0} differ")]
pub struct TallyMismatch(&'static str);

impl TallyMismatch {
    /// One tally compares with an earlier period, the other does not.
    pub const PERIODS: TallyMismatch = TallyMismatch("compared periods");
}

impl ClinicTally {
    /// Adds the tally of other patients (another shard of the same report).
    pub fn add(&mut self, other: ClinicTally) -> Result<(), TallyMismatch> {
        let same =
            |ok: bool, what: &'static str| if ok { Ok(()) } else { Err(TallyMismatch(what)) };
        same(
            (&self.site, self.from, self.to) == (&other.site, other.from, other.to),
            "site or window",
        )?;
        same(
            self.adherence_threshold == other.adherence_threshold
                && self.delivered == other.delivered,
            "regimen or adherence threshold",
        )?;
        same(
            self.adherence_by_exercise.len() == other.adherence_by_exercise.len()
                && self.safety.len() == other.safety.len()
                && self.walking_histogram.len() == other.walking_histogram.len()
                && self.programme.shape() == other.programme.shape(),
            "regimen moves",
        )?;
        // The earliest of those known (`Option::min` would take `None`).
        self.data_from = self.data_from.into_iter().chain(other.data_from).min();
        self.data_cutoff = self.data_cutoff.max(other.data_cutoff);
        self.patients += other.patients;
        self.left_out += other.left_out;
        for (site, n) in other.sites {
            *self.sites.entry(site).or_default() += n;
        }
        self.enrolled = match (self.enrolled, other.enrolled) {
            (Some(a), Some(b)) => Some((a.0.min(b.0), a.1.max(b.1))),
            (a, b) => a.or(b),
        };
        self.followup_weeks.extend(other.followup_weeks);
        self.sessions += other.sessions;
        for (a, b) in self
            .adherence_histogram
            .iter_mut()
            .zip(other.adherence_histogram)
        {
            *a += b;
        }
        for (site, v) in other.adherence_by_site {
            self.adherence_by_site.entry(site).or_default().extend(v);
        }
        for (a, b) in self
            .adherence_by_exercise
            .iter_mut()
            .zip(other.adherence_by_exercise)
        {
            a.1.extend(b.1);
        }
        for (mine, theirs) in [(&mut self.pain, other.pain), (&mut self.odi, other.odi)] {
            for (week, (v, responders)) in theirs {
                let e = mine.entry(week).or_default();
                e.0.extend(v);
                e.1 += responders;
            }
        }
        for (a, b) in self.safety.iter_mut().zip(other.safety) {
            a.events += b.events;
            a.patients_with_events += b.patients_with_events;
            a.patients_flagged += b.patients_flagged;
        }
        self.patients_with_events += other.patients_with_events;
        for (a, b) in self
            .walking_histogram
            .iter_mut()
            .zip(other.walking_histogram)
        {
            *a += b;
        }
        self.walking.extend(other.walking);
        if self.follow_up.is_none() {
            self.follow_up = other.follow_up;
        }
        self.programme.add(other.programme);
        Ok(())
    }

    /// The report's figures.
    pub fn summary(self) -> ClinicSummary {
        let threshold = self.adherence_threshold;
        let group = |name: String, v: Vec<f64>| -> Option<GroupAdherence> {
            let adherent = v.iter().filter(|&&x| x >= threshold - 1e-12).count();
            Some(GroupAdherence {
                group: name,
                spread: Spread::of(v)?,
                adherent,
            })
        };
        let adherence = group(
            "all".into(),
            self.adherence_by_site.values().flatten().copied().collect(),
        );
        let follow_up = self.follow_up.unwrap_or(FollowUpRisk {
            risk: None,
            risk_note: None,
        });
        let figures = self.programme.figures();
        ClinicSummary {
            data_cutoff: self.data_cutoff,
            data_from: self.data_from,
            site: self.site,
            from: self.from,
            to: self.to,
            patients: self.patients,
            left_out: self.left_out,
            sites: self.sites.into_iter().collect(),
            enrolled: self.enrolled,
            followup_weeks: Spread::of(self.followup_weeks),
            sessions: self.sessions,
            adherence_histogram: self.adherence_histogram,
            adherence,
            adherence_threshold: threshold,
            adherence_by_site: self
                .adherence_by_site
                .into_iter()
                .filter_map(|(s, v)| group(s, v))
                .collect(),
            adherence_by_exercise: self
                .adherence_by_exercise
                .into_iter()
                .filter_map(|(k, v)| group(k, v))
                .collect(),
            pain: by_week(self.pain),
            odi: by_week(self.odi),
            safety: self.safety,
            patients_with_events: self.patients_with_events,
            stop_pain_during: self.delivered.stop_pain_during,
            unsuitable_persist_min: self.delivered.unsuitable_persist_min,
            walking_histogram: self.walking_histogram,
            walking: Spread::of(self.walking),
            risk: follow_up.risk,
            risk_note: follow_up.risk_note,
            adherence_by_week: figures.adherence_by_week,
            dropout: figures.dropout,
            safety_by_month: figures.safety_by_month,
            dose: figures.dose,
            ladders: figures.ladders,
            delivered: self.delivered,
        }
    }
}

/// Median, quartiles and responders of each programme week.
pub(super) fn by_week(weeks: BTreeMap<u32, (Vec<f64>, usize)>) -> Vec<WeekMeasure> {
    weeks
        .into_iter()
        .filter_map(|(week, (v, responders))| {
            Some(WeekMeasure {
                week,
                spread: Spread::of(v)?,
                responders,
            })
        })
        .collect()
}
