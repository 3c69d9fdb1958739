//! Who is prescribed what: the regimen's moves and doses for every patient,
//! unless a prescriptions file says otherwise for a patient and move.
//!
//! The table (a CSV or Parquet file, read by the caller) has one row per
//! patient × move with
//! `patient_id`, `exercise` and any of `frequency` (`daily`, `N/week`, or
//! `none` to take the move off that patient's programme), `reps`, `sets`
//! and `hold_s` (a number or a range such as `3-5`). A row may also add a
//! ladder rung the regimen knows (`wall_push_up`), with `frequency`, `reps`
//! and `sets` given. Anything else is an error naming the line and column.

use std::collections::HashMap;
use std::path::PathBuf;

use lumbar_model::{ColumnError, Columns, DoseRange, Exercise, Frequency, Regimen, Sides};

#[derive(Debug, thiserror::Error)]
pub enum PrescriptionError {
    #[error(transparent)]
    Column(#[from] ColumnError),
    #[error("{path}, {place}, column {column}: {problem}")]
    Row {
        path: PathBuf,
        /// "line N" in a CSV, "row N" in Parquet.
        place: String,
        column: String,
        problem: String,
    },
}

/// The moves each patient is prescribed.
#[derive(Debug, Clone)]
pub struct Prescriptions {
    default: Vec<Exercise>,
    by_patient: HashMap<String, Vec<Exercise>>,
}

impl Prescriptions {
    /// Everyone on the regimen's defaults.
    pub fn from_regimen(regimen: &Regimen) -> Prescriptions {
        Prescriptions {
            default: regimen.exercises.clone(),
            by_patient: HashMap::new(),
        }
    }

    /// The regimen's defaults with a table's overrides.
    pub fn load(regimen: &Regimen, t: &dyn Columns) -> Result<Prescriptions, PrescriptionError> {
        let path = t.source();
        let ids = t.labels("patient_id")?;
        let moves = t.labels("exercise")?;
        let optional = |name: &str| -> Result<Vec<Option<String>>, PrescriptionError> {
            if t.has(name) {
                Ok(t.labels(name)?)
            } else {
                Ok(vec![None; t.height()])
            }
        };
        let (freq, reps, sets, hold) = (
            optional("frequency")?,
            optional("reps")?,
            optional("sets")?,
            optional("hold_s")?,
        );
        let mut out = Prescriptions::from_regimen(regimen);
        for i in 0..t.height() {
            let err = |column: &str, problem: String| PrescriptionError::Row {
                path: path.to_path_buf(),
                place: t.place(i),
                column: column.into(),
                problem,
            };
            let id = ids[i]
                .clone()
                .ok_or_else(|| err("patient_id", "patient_id is empty".into()))?;
            let key = moves[i]
                .clone()
                .ok_or_else(|| err("exercise", "exercise is empty".into()))?;
            let list = out
                .by_patient
                .entry(id)
                .or_insert_with(|| regimen.exercises.clone());
            if freq[i].as_deref().map(str::trim) == Some("none") {
                list.retain(|e| e.key != key);
                continue;
            }
            let dose =
                |col: &str, v: &Option<String>| -> Result<Option<DoseRange>, PrescriptionError> {
                    v.as_deref()
                        .map(DoseRange::parse)
                        .transpose()
                        .map_err(|p| err(col, p))
                };
            let frequency = freq[i]
                .as_deref()
                .map(Frequency::parse)
                .transpose()
                .map_err(|p| err("frequency", p))?;
            let (r, s, h) = (
                dose("reps", &reps[i])?,
                dose("sets", &sets[i])?,
                dose("hold_s", &hold[i])?,
            );
            if let Some(e) = list.iter_mut().find(|e| e.key == key) {
                if let Some(f) = frequency {
                    e.frequency = f;
                }
                if let Some(r) = r {
                    e.reps = r;
                }
                if let Some(s) = s {
                    e.sets = s;
                }
                if h.is_some() {
                    e.hold_s = h;
                }
            } else if regimen.is_rung(&key) {
                let (Some(frequency), Some(reps), Some(sets)) = (frequency, r, s) else {
                    return Err(err(
                        "exercise",
                        format!("'{key}' is not a default move: give its frequency, reps and sets"),
                    ));
                };
                list.push(Exercise {
                    key: key.clone(),
                    name: key.clone(),
                    how: String::new(),
                    hold_s: h,
                    reps,
                    sets,
                    frequency,
                    frequency_stated: true,
                    hold_stated: true,
                    sides: Sides::None,
                    note: None,
                });
            } else {
                return Err(err(
                    "exercise",
                    format!(
                        "'{key}' is neither a move nor a ladder rung of regimen '{}'",
                        regimen.key
                    ),
                ));
            }
        }
        Ok(out)
    }

    /// The moves prescribed to a patient.
    pub fn for_patient(&self, patient_id: &str) -> &[Exercise] {
        self.by_patient
            .get(patient_id)
            .map(Vec::as_slice)
            .unwrap_or(&self.default)
    }

    /// The prescribed move of this key for a patient.
    pub fn exercise(&self, patient_id: &str, key: &str) -> Option<&Exercise> {
        self.for_patient(patient_id).iter().find(|e| e.key == key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(text: &str) -> (tempfile_free::Dir, PathBuf) {
        let d = tempfile_free::Dir::new();
        let p = d.0.join("rx.csv");
        std::fs::write(&p, text).unwrap();
        (d, p)
    }

    /// A temporary folder removed on drop (no extra dependency for one test).
    mod tempfile_free {
        pub struct Dir(pub std::path::PathBuf);
        impl Dir {
            pub fn new() -> Dir {
                use std::sync::atomic::{AtomicU32, Ordering};
                static N: AtomicU32 = AtomicU32::new(0);
                let p = std::env::temp_dir().join(format!(
                    "lumbar-rx-{}-{}",
                    std::process::id(),
                    N.fetch_add(1, Ordering::Relaxed)
                ));
                std::fs::create_dir_all(&p).unwrap();
                Dir(p)
            }
        }
        impl Drop for Dir {
            fn drop(&mut self) {
                let _ = std::fs::remove_dir_all(&self.0);
            }
        }
    }

    #[test]
    fn overrides_removals_and_added_rungs() {
        let r = Regimen::six_moves();
        let (_d, p) = write(
            "patient_id,exercise,frequency,reps,sets,hold_s\n\
             P1,hip_flexor_stretch,2/week,4-6,,\n\
             P1,bridge,none,,,\n\
             P1,wall_push_up,daily,5-10,1,\n",
        );
        let rx = Prescriptions::load(&r, &lumbar_io::Frame::read(&p).unwrap()).unwrap();
        let hip = rx.exercise("P1", "hip_flexor_stretch").unwrap();
        assert_eq!(hip.frequency, Frequency::DaysPerWeek(2));
        assert_eq!(hip.reps, DoseRange { min: 4.0, max: 6.0 });
        assert_eq!(
            hip.sets,
            DoseRange::exactly(1.0),
            "unchanged where the file is silent"
        );
        assert!(rx.exercise("P1", "bridge").is_none());
        assert_eq!(rx.exercise("P1", "wall_push_up").unwrap().reps.max, 10.0);
        // Other patients keep the regimen's defaults.
        assert_eq!(
            rx.exercise("P2", "hip_flexor_stretch").unwrap().frequency,
            Frequency::Daily
        );
        assert_eq!(rx.for_patient("P2").len(), 6);
    }

    #[test]
    fn errors_name_line_and_column() {
        let r = Regimen::six_moves();
        let (_d, p) = write("patient_id,exercise,frequency\nP1,bridge,daily\nP1,bridge,weekly\n");
        let e = Prescriptions::load(&r, &lumbar_io::Frame::read(&p).unwrap())
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 3, column frequency"), "{e}");
        let (_d, p) = write("patient_id,exercise,frequency\nP1,moonwalk,daily\n");
        let e = Prescriptions::load(&r, &lumbar_io::Frame::read(&p).unwrap())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("line 2, column exercise") && e.contains("moonwalk"),
            "{e}"
        );
        let (_d, p) = write("patient_id,exercise,reps\nP1,wall_push_up,5\n");
        let e = Prescriptions::load(&r, &lumbar_io::Frame::read(&p).unwrap())
            .unwrap_err()
            .to_string();
        assert!(e.contains("give its frequency, reps and sets"), "{e}");
    }
}
