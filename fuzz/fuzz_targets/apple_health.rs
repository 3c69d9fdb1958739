//! The Apple Health export reader on arbitrary bytes: it may reject records
//! or refuse the file, never panic, and every row it returns is a walking
//! row in canonical order or a rejection.
#![no_main]
use libfuzzer_sys::fuzz_target;
use lumbar_io::formats::apple;

fuzz_target!(|data: &[u8]| {
    if let Ok(rows) = apple::read_bytes(data, "P1") {
        for r in rows {
            if let Ok(cells) = r.cells {
                assert_eq!(cells.len(), 7);
                assert!(r.line >= 1);
            }
        }
    }
});
