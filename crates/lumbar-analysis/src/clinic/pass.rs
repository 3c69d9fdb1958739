//! The report's one pass over a store: the patients of a site and shard,
//! their sessions streamed into adherence, safety and the programme
//! tallies, their outcomes by programme week, their walking, and the
//! follow-up cohort's risk table beside it.

use super::*;

/// The patients `keep` takes, in their order, with all their sessions and
/// outcomes (re-indexed).
fn patients_only(cohort: Cohort, keep: impl Fn(&Patient) -> bool) -> Cohort {
    let mut new_index = vec![usize::MAX; cohort.patients.len()];
    let mut patients = Vec::new();
    for (i, p) in cohort.patients.into_iter().enumerate() {
        if keep(&p) {
            new_index[i] = patients.len();
            patients.push(p);
        }
    }
    if patients.len() == new_index.len() {
        return Cohort { patients, ..cohort };
    }
    let moved = |p: usize| new_index.get(p).copied().filter(|&k| k != usize::MAX);
    Cohort {
        patients,
        sessions: cohort
            .sessions
            .into_iter()
            .filter_map(|mut s| {
                s.patient = moved(s.patient)?;
                Some(s)
            })
            .collect(),
        outcomes: cohort
            .outcomes
            .into_iter()
            .filter_map(|mut o| {
                o.patient = moved(o.patient)?;
                Some(o)
            })
            .collect(),
    }
}

/// Pain or ODI by programme week over the patients whose `start` is
/// `Some`, counting values inside the window; the baseline is the first
/// value, inside the window or not.
pub(super) fn weekly_in(
    cohort: &Cohort,
    measure: &str,
    rule: &Responder,
    start: &[Option<NaiveDate>],
    opts: &ClinicOptions,
) -> BTreeMap<u32, (Vec<f64>, usize)> {
    let inside = |d: NaiveDate| opts.from.is_none_or(|f| d >= f) && opts.to.is_none_or(|t| d <= t);
    // One pass over outcomes in (patient, date) order: the first value of
    // each patient's measure is the baseline, the first in each programme
    // week is that week's value.
    let mut ordered: Vec<&lumbar_model::cohort::Outcome> = cohort
        .outcomes
        .iter()
        .filter(|o| o.measure == measure)
        .collect();
    if !ordered.is_sorted_by_key(|o| (o.patient, o.date)) {
        ordered.sort_by_key(|o| (o.patient, o.date)); // stable
    }
    let mut weeks: BTreeMap<u32, (Vec<f64>, usize)> = BTreeMap::new();
    // (patient, baseline, last week recorded)
    let mut current: Option<(usize, f64, u32)> = None;
    for o in ordered {
        let Some(start) = start[o.patient] else {
            continue;
        };
        let days = (o.date - start).num_days();
        if days < 0 {
            continue;
        }
        let week = (days / 7) as u32;
        if !matches!(current, Some((p, _, _)) if p == o.patient) && !inside(o.date) {
            // The baseline, before the window: kept, not counted (and no
            // week marked, so the window's first value counts).
            current = Some((o.patient, o.value, u32::MAX));
            continue;
        }
        if !inside(o.date) {
            continue;
        }
        let baseline = match current {
            Some((p, b, last)) if p == o.patient => {
                if week == last {
                    continue; // not the first value of the week
                }
                b
            }
            _ => o.value,
        };
        current = Some((o.patient, baseline, week));
        let e = weeks.entry(week).or_default();
        e.0.push(o.value);
        if week > 0 && rule.is_response(measure, baseline, o.value) {
            e.1 += 1;
        }
    }
    weeks
}

/// The report's one pass over the sessions of the patients kept: every
/// session to adherence (sessions outside the window still mark the last
/// follow-up), those inside the window to safety and the counts.
struct ClinicSessions<'a> {
    adherence: AdherenceTally<'a>,
    safety: SafetyTally<'a>,
    programme: ProgrammeTally<'a>,
    /// Sessions inside the window, per patient.
    count: Vec<usize>,
    opts: &'a ClinicOptions,
    /// The days of the store's earliest and latest session (any patient's).
    earliest: Option<NaiveDate>,
    latest: Option<NaiveDate>,
}

impl SessionSink for ClinicSessions<'_> {
    fn sessions_span(&mut self, first: NaiveDate, last: NaiveDate) {
        self.adherence.sessions_span(first, last);
        self.programme.sessions_span(first);
        self.latest = self.latest.max(Some(last));
        self.earliest = Some(self.earliest.map_or(first, |e| e.min(first)));
    }

    fn session(&mut self, s: &Session) {
        self.adherence.session(s);
        self.programme.session(s);
        let d = s.performed_at.date();
        if self.opts.from.is_some_and(|f| d < f) || self.opts.to.is_some_and(|t| d > t) {
            return;
        }
        self.count[s.patient] += 1;
        self.safety.session(s);
    }

    fn patient_done(&mut self, patient: usize) {
        self.adherence.patient_done(patient);
        self.safety.patient_done(patient);
        self.programme.patient_done(patient);
    }

    fn merge(&mut self, later: Self) {
        self.adherence.merge(later.adherence);
        self.safety.merge(later.safety);
        self.programme.merge(later.programme);
        self.latest = self.latest.max(later.latest);
        self.earliest = match (self.earliest, later.earliest) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        for (a, b) in self.count.iter_mut().zip(later.count) {
            *a += b;
        }
    }
}

/// Computes the report's numbers from a store (every shard's tally, added).
pub fn clinic_summary<S: CohortSource>(
    store: &S,
    regimen: &Regimen,
    rx: &Prescriptions,
    opts: &ClinicOptions,
) -> Result<ClinicSummary, S::Error> {
    clinic_tally(store, regimen, rx, opts).map(ClinicTally::summary)
}

/// The report's numbers over the patients of `opts.shard` as exact
/// tallies ([`ClinicTally`]): what `lumbar report --shard i/n` writes.
pub fn clinic_tally<S: CohortSource>(
    store: &S,
    regimen: &Regimen,
    rx: &Prescriptions,
    opts: &ClinicOptions,
) -> Result<ClinicTally, S::Error> {
    // The follow-up cohort's risk table needs nothing of the programme: it
    // is computed on a thread of its own while the sessions stream, by the
    // first shard only (it is about another cohort, not the shard's).
    let risk = opts.shard.index == 1;
    std::thread::scope(|scope| {
        let side = scope.spawn(|| follow_up_risk(store, risk));
        programme_tally(store, regimen, rx, opts, || {
            side.join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        })
    })
}

/// The walking table, and the risk table or why it is absent (`None`
/// when not asked for).
type FollowUp = (Option<Vec<WalkingDay>>, Option<FollowUpRisk>);

/// The walking table (for the programme's walking) and the walking-risk
/// table of the follow-up cohort (not filtered by site: it is a separate
/// population), or why there is none.
fn follow_up_risk<S: CohortSource>(store: &S, wanted: bool) -> Result<FollowUp, S::Error> {
    let walking_table = store.walking_days()?;
    if !wanted {
        return Ok((walking_table, None));
    }
    let followup = store.followup()?;
    let frame = match (followup, &walking_table) {
        (Some(f), Some(w)) => Some(crate::risk::followup_frame(f, w, &ExposureRules::default())),
        _ => None,
    };
    let (risk, risk_note) = match frame {
        None => (None, None),
        Some(Err(e)) => (None, Some(e.to_string())),
        Some(Ok(followup)) => {
            let excluded = followup.excluded();
            let present = |c: &str| lumbar_model::Columns::has(&followup, c);
            let covariates: Vec<String> = ["age", "sex", "bmi"]
                .into_iter()
                .filter(|c| present(c))
                .map(String::from)
                .collect();
            let categorical = if present("sex") {
                vec![lumbar_stats::design::Categorical {
                    column: "sex".into(),
                    reference: None,
                }]
            } else {
                Vec::new()
            };
            let spec = RiskSpec {
                exposure: "walking_min".into(),
                cuts: Cuts::Points(HUNT_CUTS.to_vec()),
                reference: None,
                outcome: "event".into(),
                time: None,
                person_years: None,
                covariates: covariates.clone(),
                categorical,
                knots: 4,
                reference_value: None,
            };
            match crate::risk::analyze(&followup, &spec) {
                Err(e) => (None, Some(e.to_string())),
                Ok(r) => {
                    let rows = r
                        .incidence
                        .iter()
                        .map(|inc| {
                            let term = format!("walking_min[{}]", inc.category);
                            let rr = r
                                .poisson
                                .terms
                                .iter()
                                .find(|t| t.term == term)
                                .map(|t| (t.exp_estimate, t.conf_low, t.conf_high));
                            RiskRow {
                                category: inc.category.clone(),
                                participants: inc.n,
                                events: inc.events,
                                risk: inc.risk,
                                rr,
                            }
                        })
                        .collect();
                    (
                        Some(RiskTable {
                            rows,
                            adjusted_for: covariates,
                            excluded: excluded + r.exposure.dropped,
                        }),
                        None,
                    )
                }
            }
        }
    };

    Ok((walking_table, Some(FollowUpRisk { risk, risk_note })))
}

fn programme_tally<S: CohortSource>(
    store: &S,
    regimen: &Regimen,
    rx: &Prescriptions,
    opts: &ClinicOptions,
    side: impl FnOnce() -> Result<FollowUp, S::Error>,
) -> Result<ClinicTally, S::Error> {
    // Sessions are streamed from the store's columns, never held: one pass
    // feeds adherence, safety and the session counts.
    let all = store.cohort_without_sessions()?;
    // The store's first observed day counts every patient's outcomes, not
    // only this site's (sessions: the stream tells every sink).
    let first_outcome = all.outcomes.iter().map(|o| o.date).min();
    // The site's patients of the shard's buckets.
    let cohort = patients_only(all, |p| {
        opts.site.as_ref().is_none_or(|s| &p.site == s) && opts.shard.takes(&p.id, opts.buckets)
    });
    let mut adherence =
        AdherenceTally::new(&cohort, rx, opts.adherent, false).within(opts.from, opts.to);
    if let Some(d) = first_outcome {
        adherence.observe(d);
    }
    let (sessions, _) = store.stream_sessions(&cohort.index(), || ClinicSessions {
        adherence: adherence.fresh(),
        safety: SafetyTally::new(&cohort, regimen),
        programme: ProgrammeTally::new(&cohort, rx, regimen, opts.from, opts.to, first_outcome),
        count: vec![0; cohort.patients.len()],
        opts,
        earliest: None,
        latest: None,
    })?;
    let ClinicSessions {
        adherence: adh,
        safety: saf,
        programme,
        count,
        earliest: data_from,
        latest: data_cutoff,
        ..
    } = sessions;
    let (adh, saf) = (adh.finish(), saf.finish());
    let programme = programme.finish(&adh.spans);

    // The patients covered: something scheduled (in the window). Their
    // programme start is the first day the schedule could have: enrolment
    // or the store's first observed day.
    let mut covered: Vec<Option<(NaiveDate, NaiveDate)>> = vec![None; cohort.patients.len()];
    for &(pi, first, last) in &adh.spans {
        covered[pi] = Some((first, last));
    }
    let start: Vec<Option<NaiveDate>> = (0..cohort.patients.len())
        .map(|pi| {
            let enrolled = cohort.patients[pi].enrolled_on;
            covered[pi].map(|_| adh.observed_from.map_or(enrolled, |f| f.max(enrolled)))
        })
        .collect();
    let kept: Vec<&lumbar_model::cohort::Patient> = cohort
        .patients
        .iter()
        .zip(&covered)
        .filter_map(|(p, c)| c.map(|_| p))
        .collect();
    let kept_ids: HashSet<&str> = kept.iter().map(|p| p.id.as_str()).collect();
    let session_count: usize = count
        .iter()
        .zip(&covered)
        .filter_map(|(n, c)| c.map(|_| *n))
        .sum();

    let mut sites: BTreeMap<String, usize> = BTreeMap::new();
    for p in &kept {
        *sites.entry(p.site.clone()).or_default() += 1;
    }
    let enrolled = kept
        .iter()
        .map(|p| p.enrolled_on)
        .min()
        .zip(kept.iter().map(|p| p.enrolled_on).max());
    let followup_weeks = adh
        .spans
        .iter()
        .map(|(_, first, last)| (*last - *first).num_days() as f64 / 7.0)
        .collect();

    let mut histogram = [0usize; 10];
    for p in &adh.patients {
        // Integers: ⌊10 · done / scheduled⌋, the last bin closed at 100%.
        let bin = (10 * p.done as u64)
            .checked_div(p.scheduled as u64)
            .unwrap_or(0);
        histogram[(bin as usize).min(9)] += 1;
    }
    let mut adherence_by_site: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for p in &adh.patients {
        match adherence_by_site.get_mut(&p.site) {
            Some(v) => v.push(p.session_adherence),
            None => {
                adherence_by_site.insert(p.site.clone(), vec![p.session_adherence]);
            }
        }
    }
    // Per patient and exercise: done / scheduled over all weeks.
    let mut by_ex: Vec<(String, Vec<f64>)> = regimen
        .exercises
        .iter()
        .map(|e| (e.key.clone(), Vec::new()))
        .collect();
    for t in &adh.exercises {
        if t.scheduled > 0
            && let Some(slot) = by_ex.iter_mut().find(|(k, _)| *k == t.exercise)
        {
            slot.1.push(t.done as f64 / t.scheduled as f64);
        }
    }

    let mut safety: Vec<SafetyByExercise> = regimen
        .exercises
        .iter()
        .map(|e| SafetyByExercise {
            exercise: e.key.clone(),
            events: 0,
            patients_with_events: 0,
            patients_flagged: 0,
        })
        .collect();
    let mut with_events: HashSet<(&str, &str)> = HashSet::new();
    let mut any_event: HashSet<&str> = HashSet::new();
    for e in saf
        .events
        .iter()
        .filter(|e| kept_ids.contains(e.patient_id.as_str()))
    {
        if let Some(row) = safety.iter_mut().find(|r| r.exercise == e.exercise) {
            row.events += 1;
            any_event.insert(&e.patient_id);
            if with_events.insert((&e.exercise, &e.patient_id)) {
                row.patients_with_events += 1;
            }
        }
    }
    for f in saf
        .flags
        .iter()
        .filter(|f| kept_ids.contains(f.patient_id.as_str()))
    {
        if let Some(row) = safety.iter_mut().find(|r| r.exercise == f.exercise) {
            row.patients_flagged += 1;
        }
    }

    // Walking of the programme patients.
    let mut walking_histogram = vec![0usize; 11];
    let mut walking = Vec::new();
    // Read once (by the side thread): the programme's walking here, the
    // follow-up cohort's in the risk table.
    let (walking_table, follow_up) = side()?;
    if let Some(w) = &walking_table {
        let ids = &kept_ids;
        let inside = |d: Option<NaiveDate>| {
            d.is_some_and(|d| opts.from.is_none_or(|f| d >= f) && opts.to.is_none_or(|t| d <= t))
        };
        // Rows come grouped by patient: look each run's id up once.
        let mut member: Option<(&str, bool)> = None;
        let rows = w.iter().filter_map(|d| {
            let id = &*d.patient_id;
            let is_member = match member {
                Some((prev, is)) if prev == id => is,
                _ => {
                    let is = ids.contains(id);
                    member = Some((id, is));
                    is
                }
            };
            (is_member && inside(d.date)).then_some((id, d.walking_min?, d.wear_min))
        });
        let (exposure, _) = walking_exposure(rows, &ExposureRules::default());
        for e in &exposure {
            walking_histogram[((e.mean_walking_min / 20.0).floor() as usize).min(10)] += 1;
        }
        walking = exposure.iter().map(|e| e.mean_walking_min).collect();
    }

    Ok(ClinicTally {
        data_from,
        data_cutoff,
        site: opts.site.clone(),
        from: opts.from,
        to: opts.to,
        patients: kept.len(),
        left_out: adh.unscheduled,
        sites,
        enrolled,
        followup_weeks,
        sessions: session_count,
        adherence_histogram: histogram,
        adherence_threshold: opts.adherent,
        adherence_by_site,
        adherence_by_exercise: by_ex,
        pain: weekly_in(&cohort, "nrs_pain", &opts.responder, &start, opts),
        odi: weekly_in(&cohort, "odi", &opts.responder, &start, opts),
        safety,
        patients_with_events: any_event.len(),
        walking_histogram,
        walking,
        follow_up,
        programme,
        delivered: Delivered::of(regimen, opts.adherent),
    })
}
