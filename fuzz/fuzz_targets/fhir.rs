//! The FHIR reader (NDJSON lines or a Bundle) on arbitrary bytes, for both
//! tables: never a panic; read = the rows it returns.
#![no_main]
use libfuzzer_sys::fuzz_target;
use lumbar_io::formats::fhir;
use lumbar_model::Table;

fuzz_target!(|data: &[u8]| {
    for (table, n) in [(Table::Walking, 7), (Table::Outcomes, 4)] {
        if let Ok(rows) = fhir::read_bytes(data, table, table == Table::Walking) {
            for r in rows {
                if let Ok(cells) = r.cells {
                    assert_eq!(cells.len(), n);
                }
            }
        }
    }
});
