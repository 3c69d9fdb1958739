//! The canonical tables written as CSV files (`patients.csv`, `sessions.csv`,
//! `walking.csv`, `outcomes.csv`, `followup.csv`, or `.csv.gz`), from
//! records: what `lumbar generate` writes and `lumbar ingest` reads back.
//!
//! Headers come from the schema, so an empty table still has them. Each file
//! is committed atomically by [`CsvTables::commit`]; dropped uncommitted,
//! none appears. A gzip file's header carries no file name and mtime 0, so
//! the same records give the same bytes on every run.

use std::io::{self, Write};
use std::path::Path;

use lumbar_model::Table;
use lumbar_model::atomic::AtomicFile;
use lumbar_model::records::{
    FollowupRecord, OutcomeRecord, PatientRecord, RecordSink, SessionRecord, WalkingDayRecord,
};
use serde::Serialize;

/// A table file: plain CSV or gzip-compressed CSV, committed atomically.
enum Sink {
    Plain(AtomicFile),
    Gzip(Box<flate2::write::GzEncoder<AtomicFile>>),
}

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Sink::Plain(f) => f.write(buf),
            Sink::Gzip(g) => g.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Sink::Plain(f) => f.flush(),
            Sink::Gzip(g) => g.flush(),
        }
    }
}

/// The follow-up table's columns as the generator writes them (the schema
/// also allows extra covariates).
const FOLLOWUP_HEADER: [&str; 8] = [
    "patient_id",
    "baseline_date",
    "end_date",
    "event",
    "event_date",
    "age",
    "sex",
    "bmi",
];

/// CSV writers for the five tables, each committed atomically at the end.
pub struct CsvTables {
    patients: csv::Writer<Sink>,
    sessions: csv::Writer<Sink>,
    walking: csv::Writer<Sink>,
    outcomes: csv::Writer<Sink>,
    followup: csv::Writer<Sink>,
}

impl CsvTables {
    /// Creates `dir` if needed and the five files' staging copies, each
    /// with its header.
    pub fn create(dir: &Path, gzip: bool) -> io::Result<CsvTables> {
        std::fs::create_dir_all(dir)?;
        let schema = |t: Table| t.columns().iter().map(|c| c.name).collect::<Vec<_>>();
        let open = |table: &str, header: &[&str]| -> io::Result<csv::Writer<Sink>> {
            let mut w = csv_writer(dir, table, gzip)?;
            w.write_record(header).map_err(io::Error::other)?;
            Ok(w)
        };
        Ok(CsvTables {
            patients: open("patients", &schema(Table::Patients))?,
            sessions: open("sessions", &schema(Table::Sessions))?,
            walking: open("walking", &schema(Table::Walking))?,
            outcomes: open("outcomes", &schema(Table::Outcomes))?,
            followup: open("followup", &FOLLOWUP_HEADER)?,
        })
    }

    /// Finishes and renames the five files into place.
    pub fn commit(self) -> io::Result<()> {
        for w in [
            self.patients,
            self.sessions,
            self.walking,
            self.outcomes,
            self.followup,
        ] {
            match w.into_inner().map_err(|e| e.into_error())? {
                Sink::Plain(f) => f.commit()?,
                Sink::Gzip(g) => g.finish()?.commit()?,
            }
        }
        Ok(())
    }
}

fn csv_writer(dir: &Path, table: &str, gzip: bool) -> io::Result<csv::Writer<Sink>> {
    let sink = if gzip {
        Sink::Gzip(Box::new(flate2::GzBuilder::new().mtime(0).write(
            AtomicFile::create(&dir.join(format!("{table}.csv.gz")))?,
            flate2::Compression::best(),
        )))
    } else {
        Sink::Plain(AtomicFile::create(&dir.join(format!("{table}.csv")))?)
    };
    // The header is written from the schema, not by serde.
    Ok(csv::WriterBuilder::new()
        .has_headers(false)
        .from_writer(sink))
}

fn row<T: Serialize>(w: &mut csv::Writer<Sink>, r: &T) -> io::Result<()> {
    w.serialize(r).map_err(io::Error::other)
}

impl RecordSink for CsvTables {
    fn patient(&mut self, r: &PatientRecord) -> io::Result<()> {
        row(&mut self.patients, r)
    }
    fn session(&mut self, r: &SessionRecord) -> io::Result<()> {
        row(&mut self.sessions, r)
    }
    fn walking(&mut self, r: &WalkingDayRecord) -> io::Result<()> {
        row(&mut self.walking, r)
    }
    fn outcome(&mut self, r: &OutcomeRecord) -> io::Result<()> {
        row(&mut self.outcomes, r)
    }
    fn followup(&mut self, r: &FollowupRecord) -> io::Result<()> {
        row(&mut self.followup, r)
    }
}
