//! The regimen: exercises with prescribed doses, ladders and safety rules.
//!
//! A regimen is data (a TOML file) so a clinic can change it without a
//! rebuild. Loading validates it and every error names the offending key, e.g.
//! `exercise.bridge.reps: the lower end 15 is above the upper end 10`.

use std::collections::HashSet;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// An inclusive range of a dose (hold seconds, reps, sets). A single number
/// in the file is the range `[n, n]`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DoseRange {
    pub min: f64,
    pub max: f64,
}

impl DoseRange {
    pub fn exactly(n: f64) -> Self {
        DoseRange { min: n, max: n }
    }

    /// Whether a performed dose meets the prescription: any dose inside the
    /// range does (SPEC §1, "ranges are ranges").
    pub fn contains(&self, dose: f64) -> bool {
        dose >= self.min && dose <= self.max
    }

    /// Parses `10`, `3-5` or `3–5` (an en dash, as the regimen table writes it).
    pub fn parse(text: &str) -> Result<DoseRange, String> {
        let t = text.trim();
        let num = |s: &str| {
            s.trim()
                .parse::<f64>()
                .ok()
                .filter(|x| x.is_finite() && *x >= 0.0)
                .ok_or_else(|| format!("'{t}' is not a dose: write a number or a range like 3-5"))
        };
        let r = match t.split_once(['-', '–']) {
            Some((a, b)) => DoseRange {
                min: num(a)?,
                max: num(b)?,
            },
            None => DoseRange::exactly(num(t)?),
        };
        if r.min > r.max {
            return Err(format!("'{t}': the lower end is above the upper end"));
        }
        Ok(r)
    }

    /// Performed dose as a share of the prescription, capped at 1: reaching
    /// the lower end of the range is a full dose.
    pub fn share_met(&self, dose: f64) -> f64 {
        if self.min <= 0.0 {
            return 1.0;
        }
        (dose / self.min).clamp(0.0, 1.0)
    }
}

impl fmt::Display for DoseRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.min == self.max {
            write!(f, "{}", self.min)
        } else {
            write!(f, "{}–{}", self.min, self.max)
        }
    }
}

/// How often an exercise is prescribed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frequency {
    /// Every day: 7 scheduled days per full ISO week.
    Daily,
    /// At least this many days in each ISO week; a week with that many days
    /// done is fully adherent.
    DaysPerWeek(u8),
}

impl Frequency {
    /// Days that must be done in a full ISO week to be fully adherent.
    pub fn days_per_week(self) -> u8 {
        match self {
            Frequency::Daily => 7,
            Frequency::DaysPerWeek(n) => n,
        }
    }

    /// Parses `daily` or `N/week`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let t = text.trim().to_ascii_lowercase();
        if t == "daily" {
            return Ok(Frequency::Daily);
        }
        if let Some(n) = t.strip_suffix("/week") {
            return match n.trim().parse::<u8>() {
                Ok(n @ 1..=7) => Ok(Frequency::DaysPerWeek(n)),
                _ => Err(format!(
                    "'{text}' needs a number of days from 1 to 7 before '/week'"
                )),
            };
        }
        Err(format!(
            "'{text}' is not a frequency: use \"daily\" or \"N/week\""
        ))
    }
}

impl fmt::Display for Frequency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Frequency::Daily => write!(f, "daily"),
            Frequency::DaysPerWeek(n) => write!(f, "≥{n} days/week"),
        }
    }
}

/// How the sides of the body enter the dose.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Sides {
    /// Not sided.
    None,
    /// The dose is per side: reps are counted for each side separately.
    Each,
    /// Alternating sides within a set (the dead bug); counted as one dose.
    Alternating,
}

/// One prescribed move of the regimen.
#[derive(Debug, Clone, PartialEq)]
pub struct Exercise {
    pub key: String,
    pub name: String,
    pub how: String,
    /// Hold per rep in seconds; `None` when the move has no hold.
    pub hold_s: Option<DoseRange>,
    pub reps: DoseRange,
    pub sets: DoseRange,
    pub frequency: Frequency,
    /// False where the source leaves the frequency open and the file assumes it.
    pub frequency_stated: bool,
    /// False where the source says "a few seconds" and the file takes a number.
    pub hold_stated: bool,
    pub sides: Sides,
    pub note: Option<String>,
}

/// One rung of a ladder (or an alternative, or an excluded move).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rung {
    pub key: String,
    pub name: String,
    /// A rung beyond the programme's usual top (the full push-up).
    #[serde(default)]
    pub optional: bool,
    /// The rung the programme prefers (abdominal bracing over crunches).
    #[serde(default)]
    pub preferred: bool,
    /// A condition under which this alternative replaces the ladder, e.g. `stenosis`.
    #[serde(default)]
    pub when: Option<String>,
    #[serde(default)]
    pub why: Option<String>,
}

/// A progression ladder, easiest rung first.
#[derive(Debug, Clone, PartialEq)]
pub struct Ladder {
    pub key: String,
    pub name: String,
    pub rungs: Vec<Rung>,
    /// Moves the programme rules out (full sit-ups).
    pub excluded: Vec<Rung>,
    /// Substitutes, some conditional (the recumbent bike with spinal stenosis).
    pub alternatives: Vec<Rung>,
}

impl Ladder {
    /// Position of a rung on this ladder, 0 = easiest.
    pub fn rung_index(&self, key: &str) -> Option<usize> {
        self.rungs.iter().position(|r| r.key == key)
    }
}

/// The safety rules of SPEC §1. They drive validation flags, the analyses and
/// the simulator, and cannot be switched off.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SafetyRules {
    /// Pain during an exercise at or above this (0–10): stop.
    pub stop_pain_during: f64,
    /// Pain persisting strictly longer than this many minutes: unsuitable.
    pub unsuitable_persist_min: f64,
}

impl SafetyRules {
    /// A session continued at or above the stop threshold is a safety event.
    pub fn is_safety_event(&self, pain_during: f64, stopped_for_pain: bool) -> bool {
        pain_during >= self.stop_pain_during && !stopped_for_pain
    }

    /// Pain persisting after the exercise makes it unsuitable for this person.
    pub fn is_unsuitable(&self, pain_persist_min: f64) -> bool {
        pain_persist_min > self.unsuitable_persist_min
    }
}

/// A posture cue that is part of the programme but has no dose.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Posture {
    pub key: String,
    pub name: String,
    #[serde(default)]
    pub how: String,
}

/// A validated regimen.
#[derive(Debug, Clone, PartialEq)]
pub struct Regimen {
    pub key: String,
    pub name: String,
    /// The regimen's version as its file states it (`version = "2.1"`), so
    /// that a report says which edition of the programme it describes;
    /// `None` when the file has none.
    pub version: Option<String>,
    pub safety: SafetyRules,
    pub posture: Option<Posture>,
    pub exercises: Vec<Exercise>,
    pub ladders: Vec<Ladder>,
}

/// What went wrong loading a regimen; always names the key.
#[derive(Debug, thiserror::Error)]
pub enum RegimenError {
    #[error("cannot read regimen file {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("regimen {origin}: {message}")]
    Syntax { origin: String, message: String },
    #[error("regimen {origin}: `{key}`: {problem}")]
    Invalid {
        origin: String,
        key: String,
        problem: String,
    },
}

// ---- the file's shape -------------------------------------------------------

#[derive(Deserialize)]
#[serde(untagged)]
enum RawDose {
    One(f64),
    Range(Vec<f64>),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExercise {
    key: String,
    name: String,
    #[serde(default)]
    how: String,
    hold_s: Option<RawDose>,
    #[serde(default = "yes")]
    hold_stated: bool,
    reps: RawDose,
    sets: RawDose,
    sets_note: Option<String>,
    frequency: String,
    #[serde(default = "yes")]
    frequency_stated: bool,
    #[serde(default = "no_sides")]
    sides: Sides,
}

fn yes() -> bool {
    true
}
fn no_sides() -> Sides {
    Sides::None
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLadder {
    key: String,
    name: String,
    rungs: Vec<Rung>,
    #[serde(default)]
    excluded: Vec<Rung>,
    #[serde(default)]
    alternatives: Vec<Rung>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRegimen {
    key: String,
    name: String,
    #[serde(default)]
    version: Option<String>,
    safety: SafetyRules,
    posture: Option<Posture>,
    #[serde(default)]
    exercise: Vec<RawExercise>,
    #[serde(default)]
    ladder: Vec<RawLadder>,
}

impl Regimen {
    /// Loads and validates a regimen file.
    pub fn load(path: &Path) -> Result<Regimen, RegimenError> {
        let text = std::fs::read_to_string(path).map_err(|source| RegimenError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(&text, &path.display().to_string())
    }

    /// Parses and validates a regimen from TOML text.
    pub fn from_toml_str(text: &str) -> Result<Regimen, RegimenError> {
        Self::parse(text, "(text)")
    }

    /// The regimen shipped with lumbar.
    pub fn six_moves() -> Regimen {
        // ok: the shipped file is checked by this crate's tests; a failure here is a build defect.
        Self::parse(crate::SIX_MOVES_TOML, "six-moves.toml").expect("shipped regimen is valid")
    }

    fn parse(text: &str, origin: &str) -> Result<Regimen, RegimenError> {
        let raw: RawRegimen = toml::from_str(text).map_err(|e| RegimenError::Syntax {
            origin: origin.to_string(),
            message: crate::toml_error::describe(text, &e),
        })?;
        let invalid = |key: String, problem: String| RegimenError::Invalid {
            origin: origin.to_string(),
            key,
            problem,
        };

        check_key(&raw.key).map_err(|p| invalid("key".into(), p))?;
        if let Some(v) = &raw.version {
            // Shown in every report's header: one short line of text.
            if v.trim().is_empty() || v.chars().count() > 40 || v.chars().any(char::is_control) {
                return Err(invalid(
                    "version".into(),
                    "write a short version on one line, e.g. \"2.1\" (at most 40 characters)"
                        .into(),
                ));
            }
        }
        let s = raw.safety;
        if !(s.stop_pain_during > 0.0 && s.stop_pain_during <= 10.0) {
            return Err(invalid(
                "safety.stop_pain_during".into(),
                format!("{} is not a pain level in (0, 10]", s.stop_pain_during),
            ));
        }
        if !(s.unsuitable_persist_min.is_finite() && s.unsuitable_persist_min > 0.0) {
            return Err(invalid(
                "safety.unsuitable_persist_min".into(),
                format!(
                    "{} must be a positive number of minutes",
                    s.unsuitable_persist_min
                ),
            ));
        }
        if raw.exercise.is_empty() {
            return Err(invalid(
                "exercise".into(),
                "a regimen needs at least one [[exercise]]".into(),
            ));
        }

        let mut seen = HashSet::new();
        let mut exercises = Vec::with_capacity(raw.exercise.len());
        for (i, e) in raw.exercise.into_iter().enumerate() {
            let at = if e.key.is_empty() {
                format!("exercise[{i}]")
            } else {
                format!("exercise.{}", e.key)
            };
            check_key(&e.key).map_err(|p| invalid(format!("{at}.key"), p))?;
            if !seen.insert(e.key.clone()) {
                return Err(invalid(at, "this key is used twice".into()));
            }
            let dose = |name: &str, d: RawDose, min_allowed: f64| {
                dose_range(d, min_allowed).map_err(|p| invalid(format!("{at}.{name}"), p))
            };
            let reps = dose("reps", e.reps, 1.0)?;
            let sets = dose("sets", e.sets, 1.0)?;
            let hold_s = match e.hold_s {
                Some(h) => Some(dose("hold_s", h, f64::MIN_POSITIVE)?),
                None => None,
            };
            let frequency = Frequency::parse(&e.frequency)
                .map_err(|p| invalid(format!("{at}.frequency"), p))?;
            exercises.push(Exercise {
                key: e.key,
                name: e.name,
                how: e.how,
                hold_s,
                reps,
                sets,
                frequency,
                frequency_stated: e.frequency_stated,
                hold_stated: e.hold_stated,
                sides: e.sides,
                note: e.sets_note,
            });
        }

        let mut ladder_keys = HashSet::new();
        let mut ladders = Vec::with_capacity(raw.ladder.len());
        for (i, l) in raw.ladder.into_iter().enumerate() {
            let at = if l.key.is_empty() {
                format!("ladder[{i}]")
            } else {
                format!("ladder.{}", l.key)
            };
            check_key(&l.key).map_err(|p| invalid(format!("{at}.key"), p))?;
            if !ladder_keys.insert(l.key.clone()) {
                return Err(invalid(at, "this key is used twice".into()));
            }
            if l.rungs.is_empty() {
                return Err(invalid(
                    format!("{at}.rungs"),
                    "a ladder needs at least one rung".into(),
                ));
            }
            let mut rung_keys = HashSet::new();
            for (part, list) in [
                ("rungs", &l.rungs),
                ("excluded", &l.excluded),
                ("alternatives", &l.alternatives),
            ] {
                for r in list.iter() {
                    check_key(&r.key).map_err(|p| invalid(format!("{at}.{part}.key"), p))?;
                    if !rung_keys.insert(r.key.clone()) {
                        return Err(invalid(
                            format!("{at}.{part}.{}", r.key),
                            "this rung appears twice on the ladder".into(),
                        ));
                    }
                    if let Some(w) = &r.when
                        && w != "stenosis"
                    {
                        return Err(invalid(
                            format!("{at}.{part}.{}.when", r.key),
                            format!("unknown condition '{w}' (known: stenosis)"),
                        ));
                    }
                }
            }
            ladders.push(Ladder {
                key: l.key,
                name: l.name,
                rungs: l.rungs,
                excluded: l.excluded,
                alternatives: l.alternatives,
            });
        }

        let regimen = Regimen {
            key: raw.key,
            name: raw.name,
            version: raw.version,
            safety: s,
            posture: raw.posture,
            exercises,
            ladders,
        };
        // A move cannot be both done and excluded.
        for l in &regimen.ladders {
            for x in &l.excluded {
                if regimen.exercise(&x.key).is_some() {
                    return Err(invalid(
                        format!("ladder.{}.excluded.{}", l.key, x.key),
                        "an excluded move is also prescribed as an exercise".into(),
                    ));
                }
            }
        }
        Ok(regimen)
    }

    /// The prescribed exercise with this key.
    pub fn exercise(&self, key: &str) -> Option<&Exercise> {
        self.exercises.iter().find(|e| e.key == key)
    }

    /// The ladder with this key.
    pub fn ladder(&self, key: &str) -> Option<&Ladder> {
        self.ladders.iter().find(|l| l.key == key)
    }

    /// Whether a session may name this move: a prescribed exercise, a rung or
    /// alternative of a ladder, or the posture.
    pub fn is_known_move(&self, key: &str) -> bool {
        self.exercise(key).is_some()
            || self.is_rung(key)
            || self.posture.as_ref().is_some_and(|p| p.key == key)
    }

    /// Whether this key is a rung or alternative of some ladder.
    pub fn is_rung(&self, key: &str) -> bool {
        self.ladders
            .iter()
            .any(|l| l.rungs.iter().chain(&l.alternatives).any(|r| r.key == key))
    }

    /// The ladder that excludes this move, if any (full sit-ups).
    pub fn excluded_by(&self, key: &str) -> Option<&Ladder> {
        self.ladders
            .iter()
            .find(|l| l.excluded.iter().any(|r| r.key == key))
    }

    /// A readable table of the regimen, for `lumbar regimen show`.
    pub fn render(&self) -> String {
        use std::fmt::Write;
        let mut out = String::new();
        let _ = writeln!(out, "{} ({})", self.name, self.key);
        let _ = writeln!(out);
        let header = ["key", "hold", "reps", "sets", "frequency", "sides"];
        let rows: Vec<[String; 6]> = self
            .exercises
            .iter()
            .map(|e| {
                let hold = match e.hold_s {
                    Some(h) if e.hold_stated => format!("{h} s"),
                    Some(h) => format!("{h} s (assumed)"),
                    None => "—".into(),
                };
                let freq = if e.frequency_stated {
                    e.frequency.to_string()
                } else {
                    format!("{} (assumed)", e.frequency)
                };
                let sides = match e.sides {
                    Sides::None => "—",
                    Sides::Each => "each side",
                    Sides::Alternating => "alternating",
                };
                let reps = if e.sides == Sides::Each {
                    format!("{} per side", e.reps)
                } else {
                    e.reps.to_string()
                };
                [
                    e.key.clone(),
                    hold,
                    reps,
                    e.sets.to_string(),
                    freq,
                    sides.to_string(),
                ]
            })
            .collect();
        let mut widths = header.map(|h| h.chars().count());
        for r in &rows {
            for (w, c) in widths.iter_mut().zip(r) {
                *w = (*w).max(c.chars().count());
            }
        }
        let line = |cells: &[String]| {
            cells
                .iter()
                .zip(widths)
                .map(|(c, w)| format!("{c}{}", " ".repeat(w - c.chars().count())))
                .collect::<Vec<_>>()
                .join("  ")
                .trim_end()
                .to_string()
        };
        let _ = writeln!(out, "{}", line(&header.map(String::from)));
        let _ = writeln!(
            out,
            "{}",
            widths.map(|w| "-".repeat(w)).join("  ").trim_end()
        );
        for r in &rows {
            let _ = writeln!(out, "{}", line(r));
        }
        if let Some(p) = &self.posture {
            let _ = writeln!(out, "\nPosture: {} — {}", p.name, p.how);
        }
        let _ = writeln!(out, "\nLadders (easiest first):");
        for l in &self.ladders {
            let rungs: Vec<String> = l
                .rungs
                .iter()
                .map(|r| {
                    let mut s = r.key.clone();
                    if r.optional {
                        s = format!("({s})");
                    }
                    if r.preferred {
                        s.push_str(" [preferred]");
                    }
                    s
                })
                .collect();
            let _ = write!(out, "  {:<8} {}", l.key, rungs.join(" → "));
            for x in &l.excluded {
                let _ = write!(out, "; excluded: {}", x.key);
            }
            for a in &l.alternatives {
                match &a.when {
                    Some(w) => {
                        let _ = write!(out, "; with {w}: {}", a.key);
                    }
                    None => {
                        let _ = write!(out, "; or {}", a.key);
                    }
                }
            }
            let _ = writeln!(out);
        }
        let _ = writeln!(
            out,
            "\nSafety: stop when pain during ≥ {}/10 (continuing is a safety event); \
             pain persisting > {} min → exercise unsuitable for this person.",
            self.safety.stop_pain_during, self.safety.unsuitable_persist_min
        );
        out
    }
}

fn check_key(key: &str) -> Result<(), String> {
    if key.is_empty() {
        return Err("a key must not be empty".into());
    }
    if !key
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
    {
        return Err(format!(
            "'{key}' must use only lowercase letters, digits, '_' and '-'"
        ));
    }
    Ok(())
}

fn dose_range(d: RawDose, min_allowed: f64) -> Result<DoseRange, String> {
    let r = match d {
        RawDose::One(n) => DoseRange::exactly(n),
        RawDose::Range(v) if v.len() == 2 => DoseRange {
            min: v[0],
            max: v[1],
        },
        RawDose::Range(v) => {
            return Err(format!(
                "a range needs exactly two numbers [low, high], found {}",
                v.len()
            ));
        }
    };
    if !r.min.is_finite() || !r.max.is_finite() {
        return Err("must be a finite number".into());
    }
    if r.min < min_allowed {
        return Err(format!("{} is too small (at least {min_allowed})", r.min));
    }
    if r.min > r.max {
        return Err(format!(
            "the lower end {} is above the upper end {}",
            r.min, r.max
        ));
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_regimen_has_the_six_moves_with_spec_doses() {
        let r = Regimen::six_moves();
        let keys: Vec<&str> = r.exercises.iter().map(|e| e.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "hip_flexor_stretch",
                "thoracic_spine_stretch",
                "abdominal_bracing",
                "dead_bug",
                "bridge",
                "prone_trunk_lift"
            ]
        );
        let hip = r.exercise("hip_flexor_stretch").unwrap();
        assert_eq!(hip.hold_s, Some(DoseRange::exactly(20.0)));
        assert_eq!(hip.reps, DoseRange { min: 3.0, max: 5.0 });
        assert_eq!(hip.sides, Sides::Each);
        // SPEC §1: 3 reps per side meets it, 2 does not.
        assert!(hip.reps.contains(3.0));
        assert!(!hip.reps.contains(2.0));
        let brace = r.exercise("abdominal_bracing").unwrap();
        assert_eq!(
            brace.hold_s,
            Some(DoseRange {
                min: 5.0,
                max: 10.0
            })
        );
        assert_eq!(brace.sets, DoseRange::exactly(3.0));
        assert!(!brace.frequency_stated);
        let bug = r.exercise("dead_bug").unwrap();
        assert_eq!(bug.hold_s, None);
        assert_eq!(bug.sets, DoseRange { min: 2.0, max: 3.0 });
        assert_eq!(bug.sides, Sides::Alternating);
        let bridge = r.exercise("bridge").unwrap();
        assert_eq!(bridge.frequency, Frequency::DaysPerWeek(2));
        assert_eq!(
            bridge.reps,
            DoseRange {
                min: 10.0,
                max: 15.0
            }
        );
        assert_eq!(bridge.hold_s, Some(DoseRange::exactly(5.0)));
        let prone = r.exercise("prone_trunk_lift").unwrap();
        assert_eq!(prone.reps, DoseRange::exactly(5.0));
        assert_eq!(prone.frequency, Frequency::Daily);
        assert_eq!(r.posture.as_ref().unwrap().key, "wall_stand");
        assert_eq!(r.version.as_deref(), Some("1.0"));
    }

    #[test]
    fn a_version_is_optional_and_one_short_line() {
        let with =
            |v: &str| crate::SIX_MOVES_TOML.replace("version = \"1.0\"", &format!("version = {v}"));
        let r = Regimen::from_toml_str(&with("\"2.1-clinic\"")).unwrap();
        assert_eq!(r.version.as_deref(), Some("2.1-clinic"));
        let none = crate::SIX_MOVES_TOML.replace("version = \"1.0\"", "");
        assert_eq!(Regimen::from_toml_str(&none).unwrap().version, None);
        for bad in ["\"\"", "\"a\\nb\"", &format!("\"{}\"", "x".repeat(41))] {
            let e = Regimen::from_toml_str(&with(bad)).unwrap_err().to_string();
            assert!(e.contains("`version`"), "{bad}: {e}");
        }
    }

    #[test]
    fn shipped_ladders_and_safety_rules() {
        let r = Regimen::six_moves();
        let push = r.ladder("push_up").unwrap();
        assert_eq!(push.rung_index("wall_push_up"), Some(0));
        assert_eq!(push.rung_index("knee_push_up"), Some(2));
        assert!(push.rungs[3].optional);
        assert_eq!(r.excluded_by("full_sit_up").unwrap().key, "sit_up");
        assert!(!r.is_known_move("full_sit_up"));
        assert!(r.is_known_move("abdominal_crunch"));
        let aerobic = r.ladder("aerobic").unwrap();
        let bike = aerobic
            .alternatives
            .iter()
            .find(|a| a.key == "recumbent_bike")
            .unwrap();
        assert_eq!(bike.when.as_deref(), Some("stenosis"));
        assert!(r.safety.is_safety_event(7.0, false));
        assert!(!r.safety.is_safety_event(6.5, false));
        assert!(!r.safety.is_safety_event(8.0, true));
        assert!(r.safety.is_unsuitable(21.0));
        assert!(!r.safety.is_unsuitable(20.0));
    }

    #[test]
    fn share_met_is_capped_and_counts_the_lower_end() {
        let r = DoseRange { min: 3.0, max: 5.0 };
        assert_eq!(r.share_met(3.0), 1.0);
        assert_eq!(r.share_met(7.0), 1.0);
        assert!((r.share_met(2.0) - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!(r.share_met(-1.0), 0.0);
    }

    fn err_of(text: &str) -> String {
        Regimen::from_toml_str(text).unwrap_err().to_string()
    }

    const HEAD: &str =
        "key = \"r\"\nname = \"R\"\n[safety]\nstop_pain_during = 7\nunsuitable_persist_min = 20\n";

    #[test]
    fn errors_name_the_key() {
        let e = err_of(&format!(
            "{HEAD}[[exercise]]\nkey = \"bridge\"\nname = \"B\"\nreps = [15, 10]\nsets = 2\nfrequency = \"daily\"\n"
        ));
        assert!(e.contains("`exercise.bridge.reps`"), "{e}");
        assert!(e.contains("lower end 15 is above the upper end 10"), "{e}");

        let e = err_of(&format!(
            "{HEAD}[[exercise]]\nkey = \"bridge\"\nname = \"B\"\nreps = 10\nsets = 2\nfrequency = \"weekly\"\n"
        ));
        assert!(e.contains("`exercise.bridge.frequency`"), "{e}");

        let e = err_of(&format!(
            "{HEAD}[[exercise]]\nkey = \"bridge\"\nname = \"B\"\nreps = 10\nsets = 2\nfrequency = \"9/week\"\n"
        ));
        assert!(e.contains("1 to 7"), "{e}");

        let e = err_of(&format!(
            "{HEAD}[[exercise]]\nkey = \"bridge\"\nname = \"B\"\nreps = 10\nsetz = 2\nfrequency = \"daily\"\n"
        ));
        assert!(e.contains("setz"), "{e}");

        let e = err_of(
            "key = \"r\"\nname = \"R\"\n[safety]\nstop_pain_during = 12\nunsuitable_persist_min = 20\n",
        );
        assert!(e.contains("`safety.stop_pain_during`"), "{e}");

        let e = err_of(&format!(
            "{HEAD}[[exercise]]\nkey = \"a\"\nname = \"A\"\nreps = 1\nsets = 1\nfrequency = \"daily\"\n\
             [[exercise]]\nkey = \"a\"\nname = \"A\"\nreps = 1\nsets = 1\nfrequency = \"daily\"\n"
        ));
        assert!(e.contains("`exercise.a`: this key is used twice"), "{e}");

        let e = err_of(&format!(
            "{HEAD}[[exercise]]\nkey = \"a\"\nname = \"A\"\nreps = 1\nsets = 1\nfrequency = \"daily\"\n\
             [[ladder]]\nkey = \"l\"\nname = \"L\"\nrungs = [{{ key = \"x\", name = \"X\", when = \"rain\" }}]\n"
        ));
        assert!(e.contains("`ladder.l.rungs.x.when`"), "{e}");
    }

    #[test]
    fn render_shows_every_move_and_rule() {
        let text = Regimen::six_moves().render();
        for key in [
            "hip_flexor_stretch",
            "bridge",
            "wall_push_up",
            "recumbent_bike",
        ] {
            assert!(text.contains(key), "{key} missing from\n{text}");
        }
        assert!(text.contains("3–5 per side"));
        assert!(text.contains("≥2 days/week"));
        assert!(text.contains("≥ 7/10"));
    }
}
