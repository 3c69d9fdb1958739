//! The CSV row validator: each line of the input, split on commas, is
//! validated as a row of every table (types, ranges, dates, regimen keys,
//! cross-column rules). It must never panic, only accept or reject.
#![no_main]
use libfuzzer_sys::fuzz_target;
use lumbar_io::validate::TableValidator;
use lumbar_model::{Regimen, Table};
use std::sync::OnceLock;

/// Parsed once: parsing the regimen per input would dominate the run.
static REGIMEN: OnceLock<Regimen> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return; // the reader rejects invalid UTF-8 before the validator
    };
    let regimen = REGIMEN.get_or_init(Regimen::six_moves);
    let as_of = chrono::NaiveDate::from_ymd_opt(2026, 1, 1).expect("date");
    for table in Table::ALL {
        let v = TableValidator::new(table, Vec::new(), regimen, as_of);
        let n = table.columns().len();
        for line in text.lines() {
            let fields: Vec<&str> = line.split(',').collect();
            let canonical: Vec<Option<&str>> = (0..n)
                .map(|i| fields.get(i).copied().filter(|f| !f.is_empty()))
                .collect();
            let _ = v.validate(&canonical, &[]);
        }
    }
});
