//! The attacker of `tests/e2e/attack.rs` on reports of generated cohorts:
//! several sites of which one, two or three are small (1–4 patients, random
//! sizes), random adherence, safety events and walking. No hidden cell may
//! be recovered, and the small sites' counts are always hidden.

#[path = "../../../tests/e2e/attack.rs"]
mod attack;
#[path = "support/compare_attack.rs"]
mod compare_attack;
#[path = "support/programme_attack.rs"]
mod programme_attack;

use lumbar_analysis::clinic::{
    AdherenceWeek, ClinicSummary, Delivered, DoseByExercise, DropoutWeek, GroupAdherence,
    LadderProgress, LadderWeek, SafetyByExercise, SafetyMonth, Spread, WeekMeasure,
};
use lumbar_report::{ReportMeta, render, render_compared};
use proptest::prelude::*;

/// One generated patient.
#[derive(Debug, Clone)]
struct Patient {
    site: usize,
    /// Session adherence in tenths (0–9).
    tenth: usize,
    /// Safety events per exercise (of six).
    events: [u8; 6],
    flagged: [bool; 6],
    /// Walking bin (0–10), or none.
    walking: Option<usize>,
    responder: bool,
    /// Programme weeks followed (1–12), and the week of dropping out (if
    /// before the last).
    weeks: usize,
    dropped: Option<usize>,
    /// The one calendar month (0–3) the patient logged in, and their
    /// sessions (rows) in it; their safety events are in that month.
    month: usize,
    sessions: usize,
    /// The exercise (of three) whose dose they logged, and their sessions
    /// below, inside and above its range.
    dose: (usize, [u8; 3]),
    /// The rung (of three) they log on the one ladder, if any.
    rung: Option<usize>,
}

fn spread(v: &mut [f64]) -> Option<Spread> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let q = |p: f64| v[((v.len() - 1) as f64 * p).round() as usize];
    Some(Spread {
        patients: v.len(),
        median: q(0.5),
        q1: q(0.25),
        q3: q(0.75),
    })
}

/// The clinic summary of a generated cohort, as `clinic_summary` would
/// aggregate it.
fn summary(patients: &[Patient], sites: usize) -> ClinicSummary {
    let names: Vec<String> = (0..sites).map(|s| format!("site{s:02}")).collect();
    let share = |p: &Patient| (p.tenth as f64 * 10.0 + 5.0) / 100.0;
    let group = |name: &str, ps: &[&Patient]| {
        let mut v: Vec<f64> = ps.iter().map(|p| share(p)).collect();
        spread(&mut v).map(|spread| GroupAdherence {
            group: name.to_string(),
            spread,
            adherent: ps.iter().filter(|p| p.tenth >= 7).count(),
        })
    };
    let all: Vec<&Patient> = patients.iter().collect();
    let mut histogram = [0usize; 10];
    for p in patients {
        histogram[p.tenth] += 1;
    }
    let mut walking_histogram = vec![0usize; 11];
    let mut walking = Vec::new();
    for p in patients {
        if let Some(b) = p.walking {
            walking_histogram[b] += 1;
            walking.push(b as f64 * 20.0 + 10.0);
        }
    }
    let exercises = ["a", "b", "c", "d", "e", "f"];
    let safety = (0..6)
        .map(|e| SafetyByExercise {
            exercise: exercises[e].into(),
            events: patients.iter().map(|p| p.events[e] as usize).sum(),
            patients_with_events: patients.iter().filter(|p| p.events[e] > 0).count(),
            patients_flagged: patients.iter().filter(|p| p.flagged[e]).count(),
        })
        .collect();
    let mut pain_values: Vec<f64> = patients.iter().map(|p| p.tenth as f64 / 2.0).collect();
    // Programme weeks: patients followed through each, 9 days scheduled a
    // week, done in proportion to their adherence.
    let adherence_by_week = (0..12)
        .map(|w| {
            let ps: Vec<&Patient> = patients.iter().filter(|p| p.weeks > w).collect();
            AdherenceWeek {
                week: w as u32,
                patients: ps.len(),
                scheduled: 9 * ps.len() as u64,
                done: ps.iter().map(|p| (p.tenth as u64 * 9) / 10).sum(),
            }
        })
        .filter(|w| w.patients > 0)
        .collect();
    let exit = |p: &Patient| match p.dropped {
        Some(d) if d + 1 < p.weeks => (d, true),
        _ => (p.weeks - 1, false),
    };
    let top = patients.iter().map(|p| exit(p).0 + 1).max().unwrap_or(0);
    let mut dropout: Vec<DropoutWeek> = (0..top)
        .map(|w| DropoutWeek {
            week: w as u32,
            at_risk: patients.iter().filter(|p| exit(p).0 >= w).count(),
            dropped: 0,
            censored: 0,
        })
        .collect();
    for p in patients {
        let (w, dropped) = exit(p);
        if dropped {
            dropout[w].dropped += 1;
        } else {
            dropout[w].censored += 1;
        }
    }
    let safety_by_month = (0..4)
        .map(|m| {
            let ps: Vec<&Patient> = patients.iter().filter(|p| p.month == m).collect();
            let events = |p: &Patient| p.events.iter().map(|&e| e as usize).sum::<usize>();
            SafetyMonth {
                year: 2025,
                month: m as u32 + 1,
                patients: ps.len(),
                sessions: ps.iter().map(|p| p.sessions).sum(),
                events: ps.iter().map(|p| events(p)).sum(),
                patients_with_events: ps.iter().filter(|p| events(p) > 0).count(),
            }
        })
        .filter(|m| m.patients > 0)
        .collect();
    let dose = (0..3)
        .map(|e| {
            let ps: Vec<&Patient> = patients
                .iter()
                .filter(|p| p.dose.0 == e && p.dose.1.iter().any(|&k| k > 0))
                .collect();
            DoseByExercise {
                exercise: exercises[e].into(),
                patients: ps.len(),
                sessions: [0, 1, 2].map(|k| ps.iter().map(|p| p.dose.1[k] as usize).sum()),
                patients_by: [0, 1, 2].map(|k| ps.iter().filter(|p| p.dose.1[k] > 0).count()),
            }
        })
        .collect();
    let ladder_weeks: Vec<LadderWeek> = (0..12)
        .map(|w| {
            let ps: Vec<&Patient> = patients
                .iter()
                .filter(|p| p.rung.is_some() && p.weeks > w)
                .collect();
            LadderWeek {
                week: w as u32,
                patients: ps.len(),
                at_rung: (0..3)
                    .map(|r| ps.iter().filter(|p| p.rung == Some(r)).count())
                    .collect(),
            }
        })
        .filter(|w| w.patients > 0)
        .collect();
    let ladders = if ladder_weeks.is_empty() {
        Vec::new()
    } else {
        vec![LadderProgress {
            ladder: "Push-up".into(),
            rungs: vec!["wall".into(), "countertop".into(), "knee".into()],
            weeks: ladder_weeks,
        }]
    };
    ClinicSummary {
        data_cutoff: None,
        data_from: None,
        site: None,
        from: None,
        to: None,
        patients: patients.len(),
        left_out: 0,
        sites: names
            .iter()
            .enumerate()
            .map(|(s, n)| (n.clone(), patients.iter().filter(|p| p.site == s).count()))
            .filter(|(_, n)| *n > 0)
            .collect(),
        enrolled: None,
        followup_weeks: None,
        sessions: patients.iter().map(|p| p.sessions).sum(),
        adherence_histogram: histogram,
        adherence: group("all", &all),
        adherence_threshold: 0.7,
        adherence_by_site: names
            .iter()
            .enumerate()
            .filter_map(|(s, n)| {
                let ps: Vec<&Patient> = patients.iter().filter(|p| p.site == s).collect();
                group(n, &ps)
            })
            .collect(),
        adherence_by_exercise: exercises.iter().filter_map(|e| group(e, &all)).collect(),
        pain: spread(&mut pain_values)
            .map(|spread| WeekMeasure {
                week: 4,
                spread,
                responders: patients.iter().filter(|p| p.responder).count(),
            })
            .into_iter()
            .collect(),
        odi: Vec::new(),
        safety,
        patients_with_events: patients
            .iter()
            .filter(|p| p.events.iter().any(|&e| e > 0))
            .count(),
        stop_pain_during: 7.0,
        unsuitable_persist_min: 20.0,
        walking_histogram,
        walking: spread(&mut walking),
        risk: None,
        risk_note: None,
        adherence_by_week,
        dropout,
        safety_by_month,
        dose,
        ladders,
        delivered: Delivered::of(&lumbar_model::Regimen::six_moves(), 0.7),
    }
}

fn meta() -> ReportMeta {
    ReportMeta::new("generated", &lumbar_model::Regimen::six_moves())
}

/// Site sizes: two to four larger sites (5–60) and one to three small ones
/// (1–4), then patients with random attributes.
fn cohort() -> impl Strategy<Value = (Vec<Patient>, usize, Vec<usize>)> {
    (
        proptest::collection::vec(5usize..60, 2..5),
        proptest::collection::vec(1usize..5, 1..4),
    )
        .prop_flat_map(|(big, small)| {
            let sizes: Vec<usize> = big.iter().chain(&small).copied().collect();
            let sites = sizes.len();
            let n: usize = sizes.iter().sum();
            let small_sites: Vec<usize> = (big.len()..sites).collect();
            let patient = (
                0usize..10,
                proptest::array::uniform6(prop_oneof![8 => Just(0u8), 1 => 1u8..3]),
                proptest::array::uniform6(proptest::bool::weighted(0.08)),
                proptest::option::weighted(0.9, 0usize..11),
                proptest::bool::ANY,
                (1usize..13, proptest::option::weighted(0.3, 0usize..12)),
                (prop_oneof![6 => 0usize..3, 1 => Just(3usize)], 1usize..60),
                (
                    0usize..3,
                    proptest::array::uniform3(prop_oneof![3 => Just(0u8), 2 => 1u8..6]),
                ),
                proptest::option::weighted(
                    0.6,
                    prop_oneof![5 => Just(0usize), 3 => Just(1usize), 1 => Just(2usize)],
                ),
            );
            (
                proptest::collection::vec(patient, n),
                Just(sizes),
                Just(small_sites),
            )
                .prop_map(|(attrs, sizes, small_sites)| {
                    let mut site_of = Vec::new();
                    for (s, &k) in sizes.iter().enumerate() {
                        site_of.extend(std::iter::repeat_n(s, k));
                    }
                    let patients = attrs
                        .into_iter()
                        .zip(site_of)
                        .map(
                            |(
                                (
                                    tenth,
                                    events,
                                    flagged,
                                    walking,
                                    responder,
                                    (weeks, dropped),
                                    (month, sessions),
                                    dose,
                                    rung,
                                ),
                                site,
                            )| Patient {
                                site,
                                tenth,
                                events,
                                flagged,
                                walking,
                                responder,
                                weeks,
                                dropped,
                                month,
                                sessions,
                                dose,
                                rung,
                            },
                        )
                        .collect();
                    (patients, sizes.len(), small_sites)
                })
        })
}

proptest! {
    // A fixed seed, so that CI on a fresh machine tries the same cohorts as
    // the last run here (a random seed once made CI meet a cohort no run
    // had met); ATTACK_SEED=N tries others.
    #![proptest_config(ProptestConfig {
        cases: 64,
        rng_seed: proptest::test_runner::RngSeed::Fixed(
            std::env::var("ATTACK_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(20261203),
        ),
        ..ProptestConfig::default()
    })]
    #[test]
    fn no_hidden_cell_of_a_generated_report_can_be_recovered((patients, sites, small) in cohort()) {
        let s = summary(&patients, sites);
        let html = render(&s, &meta());
        let a = attack::attack(&html);
        prop_assert!(a.recovered.is_empty(), "recovered {:?}", a.recovered);
        prop_assert!(a.shown > 0 && a.hidden > 0, "{a:?}");
        // The programme-week sections with the tables they add up with.
        let (recovered, _) = programme_attack::attack_programme(&html, false);
        prop_assert!(recovered.is_empty(), "programme weeks: recovered {recovered:?}");
        for site in small {
            let row = format!("<tr><td>site{site:02}</td><td>&lt;5</td></tr>");
            prop_assert!(html.contains(&row), "small site {site} shown");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 48,
        rng_seed: proptest::test_runner::RngSeed::Fixed(
            std::env::var("ATTACK_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(20261204),
        ),
        ..ProptestConfig::default()
    })]
    /// `--compare-to` (issue 21, item 3): this period's report beside a
    /// previous period of any size (a random number of the other cohort's
    /// patients, often fewer than 5). No hidden count of either period can
    /// be worked out from the change, the sites and the other tables, and
    /// no change stands beside a figure hidden in either period.
    #[test]
    fn no_change_gives_a_hidden_count_of_either_period_away(
        (patients, sites, _) in cohort(),
        (earlier, earlier_sites, _) in cohort(),
        keep in 1usize..40,
    ) {
        let s = summary(&patients, sites);
        let before = summary(&earlier[..keep.min(earlier.len())], earlier_sites);
        let html = render_compared(&s, Some(&before), &meta());
        let a = attack::attack(&html);
        prop_assert!(a.recovered.is_empty(), "recovered {:?}", a.recovered);
        let (recovered, _) = programme_attack::attack_programme(&html, false);
        prop_assert!(recovered.is_empty(), "programme weeks: recovered {recovered:?}");
        let (recovered, leaks, n) = compare_attack::attack_compare(&html);
        prop_assert!(recovered.is_empty(), "compare: recovered {recovered:?}");
        prop_assert!(leaks.is_empty(), "compare: a change beside a hidden figure: {leaks:?}");
        prop_assert!(n > 0, "the sites hide a count");
    }
}
