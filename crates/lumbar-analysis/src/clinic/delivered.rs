//! "The programme as delivered" in the terms of the Consensus on Exercise
//! Reporting Template (CERT; Slade et al., Br J Sports Med 2016; 50:1428–37):
//! the dosage of each exercise (items 8 and 13), its frequency, tailoring
//! and progression (items 7, 14 and 15: the regimen's ladders, their
//! alternatives and the moves ruled out), adverse-event rules (item 11) and
//! how adherence was measured (item 16a). Read from the regimen alone: no
//! patient's data is in it.

use lumbar_model::{Regimen, Sides};
use serde::{Deserialize, Serialize};

/// One prescribed exercise's dose, as the regimen states it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeliveredExercise {
    pub key: String,
    pub name: String,
    /// Sets, reps and hold (seconds) as ranges, e.g. `2–3`; hold `None`
    /// for a move without one.
    pub sets: String,
    pub reps: String,
    pub hold_s: Option<String>,
    /// `daily` or `≥N days/week`.
    pub frequency: String,
    /// How sides enter the dose: `per side`, `alternating` or empty.
    pub sides: String,
    /// Values the source leaves open and the regimen assumes.
    pub assumed: Vec<String>,
}

/// A progression ladder, easiest rung first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeliveredLadder {
    pub name: String,
    /// Rung names; an optional rung (beyond the usual top) ends in
    /// " (optional)", the preferred one in " (preferred)".
    pub rungs: Vec<String>,
    /// Substitutes, with the condition under which they replace the ladder.
    pub alternatives: Vec<String>,
    /// Moves the programme rules out.
    pub excluded: Vec<String>,
}

/// The programme as the regimen describes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Delivered {
    pub regimen: String,
    pub exercises: Vec<DeliveredExercise>,
    pub ladders: Vec<DeliveredLadder>,
    pub posture: Option<String>,
    pub stop_pain_during: f64,
    pub unsuitable_persist_min: f64,
    pub adherence_threshold: f64,
}

impl Delivered {
    pub fn of(regimen: &Regimen, adherence_threshold: f64) -> Delivered {
        let exercises = regimen
            .exercises
            .iter()
            .map(|e| {
                let mut assumed = Vec::new();
                if !e.frequency_stated {
                    assumed.push("frequency".to_string());
                }
                if e.hold_s.is_some() && !e.hold_stated {
                    assumed.push("hold".to_string());
                }
                DeliveredExercise {
                    key: e.key.clone(),
                    name: e.name.clone(),
                    sets: e.sets.to_string(),
                    reps: e.reps.to_string(),
                    hold_s: e.hold_s.map(|h| h.to_string()),
                    frequency: e.frequency.to_string(),
                    sides: match e.sides {
                        Sides::Each => "per side",
                        Sides::Alternating => "alternating",
                        Sides::None => "",
                    }
                    .to_string(),
                    assumed,
                }
            })
            .collect();
        let ladders = regimen
            .ladders
            .iter()
            .map(|l| DeliveredLadder {
                name: l.name.clone(),
                rungs: l
                    .rungs
                    .iter()
                    .map(|r| {
                        let mut n = r.name.clone();
                        if r.optional {
                            n.push_str(" (optional)");
                        }
                        if r.preferred {
                            n.push_str(" (preferred)");
                        }
                        n
                    })
                    .collect(),
                alternatives: l
                    .alternatives
                    .iter()
                    .map(|r| match (&r.when, &r.why) {
                        (_, Some(why)) => format!("{} ({why})", r.name),
                        (Some(when), None) => format!("{} (with {when})", r.name),
                        (None, None) => r.name.clone(),
                    })
                    .collect(),
                excluded: l.excluded.iter().map(|r| r.name.clone()).collect(),
            })
            .collect();
        Delivered {
            regimen: regimen.name.clone(),
            exercises,
            ladders,
            posture: regimen.posture.as_ref().map(|p| p.name.clone()),
            stop_pain_during: regimen.safety.stop_pain_during,
            unsuitable_persist_min: regimen.safety.unsuitable_persist_min,
            adherence_threshold,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_six_moves_as_the_regimen_states_them() {
        let d = Delivered::of(&Regimen::six_moves(), 0.7);
        let bridge = d.exercises.iter().find(|e| e.key == "bridge").unwrap();
        assert_eq!(
            (
                bridge.sets.as_str(),
                bridge.reps.as_str(),
                bridge.hold_s.as_deref()
            ),
            ("2", "10–15", Some("5"))
        );
        assert_eq!(bridge.frequency, "≥2 days/week");
        let bug = d.exercises.iter().find(|e| e.key == "dead_bug").unwrap();
        assert_eq!((bug.sets.as_str(), bug.hold_s.clone()), ("2–3", None));
        assert_eq!(bug.assumed, ["frequency"]);
        let push = d.ladders.iter().find(|l| l.name == "Push-up").unwrap();
        assert_eq!(push.rungs.last().unwrap(), "Full push-up (optional)");
        let sit = d.ladders.iter().find(|l| l.name == "Sit-up").unwrap();
        assert_eq!(sit.excluded, ["Full sit-up"]);
        let aerobic = d
            .ladders
            .iter()
            .find(|l| l.name == "Aerobic exercise")
            .unwrap();
        assert!(aerobic.alternatives[0].contains("spinal stenosis"));
        assert_eq!(d.stop_pain_during, 7.0);
    }
}
