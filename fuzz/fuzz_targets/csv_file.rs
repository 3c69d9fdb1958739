//! Whole CSV files through the bounded record reader (`reader::RecordReader`
//! under `CsvSource`) with small limits, as a sessions and as a follow-up
//! table: header mapping, quoted newlines, overlong records and their
//! resynchronisation, gzip. It must never panic; every row it yields or
//! rejects carries a line number after the header's, in order.
#![no_main]
use libfuzzer_sys::fuzz_target;
use lumbar_io::reader::{Reading, for_each_row, open_input_with};
use lumbar_io::{Format, Limits, Missing};
use lumbar_model::Table;
use std::io::Write;

fuzz_target!(|data: &[u8]| {
    // One file per process, rewritten for each input (libFuzzer runs inputs
    // one after another).
    let path = std::env::temp_dir().join(format!("lumbar-fuzz-csv-{}.csv", std::process::id()));
    let Ok(mut f) = std::fs::File::create(&path) else {
        return;
    };
    if f.write_all(data).is_err() {
        return;
    }
    drop(f);
    let missing = Missing::default();
    let reading = Reading {
        limits: Limits {
            max_line: 256,
            max_columns: 64,
            max_expanded: 1 << 20,
            max_ratio: 200,
            max_zip_entries: 16,
        },
        missing: &missing,
    };
    for table in [Table::Sessions, Table::Followup] {
        let Ok(mut source) = open_input_with(&path, Format::Csv, table, None, true, &reading) else {
            continue;
        };
        let mut last = 1u64;
        let _ = for_each_row(source.as_mut(), &mut |line, _cells| {
            assert!(line > 1 && line >= last, "line {line} after {last}");
            last = line;
        });
    }
});
