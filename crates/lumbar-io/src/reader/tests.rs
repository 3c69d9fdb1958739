use super::*;
use crate::source::*;
use std::path::PathBuf;

#[test]
fn delimiter_sniffing() {
    assert_eq!(sniff_delimiter(b"a,b,c\n"), b',');
    assert_eq!(sniff_delimiter(b"a;b;c\r\n"), b';');
    assert_eq!(sniff_delimiter(b"a\tb\tc\n"), b'\t');
    assert_eq!(sniff_delimiter(b"\"a,x\";b;c\n"), b';');
}

fn records(
    text: &[u8],
    max_bytes: usize,
    max_fields: usize,
) -> Vec<(u64, u64, Option<Overflow>, Vec<String>)> {
    let stream: Box<dyn BufRead + Send> = Box::new(std::io::Cursor::new(text.to_vec()));
    let mut r = RecordReader::new(stream, b',', max_bytes, max_fields, 1);
    let mut out = Vec::new();
    while let Some(info) = r.next().unwrap() {
        let fields = r
            .fields()
            .map(|f| String::from_utf8_lossy(f).into_owned())
            .collect();
        out.push((info.line, info.fields, info.overflow, fields));
    }
    out
}

#[test]
fn record_lines_are_exact_with_blank_lines_crlf_and_quoted_newlines() {
    let got = records(b"a,b\r\n\n\n1,\"x\ny\"\r\n2,z\n\n3,w", 100, 10);
    let lines: Vec<u64> = got.iter().map(|r| r.0).collect();
    assert_eq!(lines, [1, 4, 6, 8]);
    assert_eq!(got[1].3, ["1", "x\ny\r"]);
    assert_eq!(got[3].3, ["3", "w"]);
}

#[test]
fn a_long_record_is_skipped_to_the_next_line_holding_only_the_limit() {
    // A 2 MB line of commas between two good lines, with a 1 KiB limit.
    let mut text = b"a,b\n".to_vec();
    text.extend(std::iter::repeat_n(b',', 2_000_000));
    text.extend_from_slice(b"\nc,d\n\"open quote,");
    text.extend(std::iter::repeat_n(b'x', 3000));
    text.extend_from_slice(b"\ne,f\n");
    let got = records(&text, 1024, 4);
    let summary: Vec<(u64, Option<Overflow>)> = got.iter().map(|r| (r.0, r.2)).collect();
    assert_eq!(
        summary,
        [
            (1, None),
            (2, Some(Overflow::TooLong)),
            (3, None),
            (4, Some(Overflow::TooLong)),
            (5, None)
        ]
    );
    assert_eq!(got[2].3, ["c", "d"]);
    // Resynchronised after the runaway quote: the next line is a record.
    assert_eq!(got[4].3, ["e", "f"]);
    // Exactly at the limit is allowed, one byte over is not.
    let ok = records(
        &[vec![b'x'; 1024], b"\n".to_vec(), vec![b'y'; 1025]].concat(),
        1024,
        4,
    );
    assert_eq!(ok[0].2, None);
    assert_eq!(ok[0].3[0].len(), 1024);
    assert_eq!(ok[1].2, Some(Overflow::TooLong));
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

    /// Within the limits the bounded reader splits exactly as the csv
    /// crate does (same fields, blank lines skipped), whatever the bytes.
    #[test]
    fn splits_as_the_csv_crate_does(
        pieces in proptest::collection::vec(proptest::prop_oneof![
            proptest::strategy::Just(b",".to_vec()),
            proptest::strategy::Just(b"\"".to_vec()),
            proptest::strategy::Just(b"\n".to_vec()),
            proptest::strategy::Just(b"\r\n".to_vec()),
            proptest::strategy::Just(b"ab".to_vec()),
            proptest::strategy::Just(b" ".to_vec()),
            proptest::collection::vec(proptest::prelude::any::<u8>(), 0..4),
        ], 0..40)
    ) {
        let text = pieces.concat();
        let mut theirs = csv::ReaderBuilder::new()
            .terminator(csv::Terminator::Any(b'\n'))
            .flexible(true)
            .has_headers(false)
            .from_reader(&text[..]);
        let mut expected = Vec::new();
        let mut record = csv::ByteRecord::new();
        while theirs.read_byte_record(&mut record).unwrap() {
            expected.push(record.iter().map(<[u8]>::to_vec).collect::<Vec<_>>());
        }
        let stream: Box<dyn BufRead + Send> = Box::new(std::io::Cursor::new(text.clone()));
        let mut ours = RecordReader::new(stream, b',', 1 << 20, 1000, 1);
        let mut got = Vec::new();
        while let Some(info) = ours.next().unwrap() {
            proptest::prop_assert!(info.overflow.is_none());
            got.push(ours.fields().map(<[u8]>::to_vec).collect::<Vec<_>>());
        }
        proptest::prop_assert_eq!(got, expected);
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(512))]

    /// Plain lines split at the delimiter give what `csv_core` gives for
    /// them: the same records, fields, line numbers, field counts and
    /// overflows, at any limits and across the buffer's edges.
    #[test]
    fn plain_lines_split_as_csv_core_does(
        pieces in proptest::collection::vec(proptest::prop_oneof![
            proptest::strategy::Just(b",".to_vec()),
            proptest::strategy::Just(b"\"".to_vec()),
            proptest::strategy::Just(b"\n".to_vec()),
            proptest::strategy::Just(b"\r\n".to_vec()),
            proptest::strategy::Just(b"abc".to_vec()),
            proptest::strategy::Just(b" ".to_vec()),
            proptest::collection::vec(proptest::prelude::any::<u8>(), 0..4),
        ], 0..60),
        max_bytes in 1usize..24,
        max_fields in 1usize..6,
        buffer in 1usize..16,
    ) {
        let text = pieces.concat();
        let read = |fast: bool| {
            let stream: Box<dyn BufRead + Send> =
                Box::new(std::io::BufReader::with_capacity(buffer, std::io::Cursor::new(text.clone())));
            let mut r = RecordReader::new(stream, b',', max_bytes, max_fields, 1);
            if !fast {
                r = r.without_plain_lines();
            }
            let mut out = Vec::new();
            while let Some(info) = r.next().unwrap() {
                let fields: Vec<Vec<u8>> = r.fields().map(<[u8]>::to_vec).collect();
                out.push((info.line, info.fields, info.overflow, fields, r.line()));
            }
            out
        };
        proptest::prop_assert_eq!(read(true), read(false));
    }
}

#[test]
fn wide_records_are_counted_but_not_kept() {
    let got = records(b"a,b,c,d,e,f\n1,2\n", 1 << 20, 3);
    assert_eq!(got[0].1, 6);
    assert_eq!(got[0].2, Some(Overflow::TooManyFields));
    assert!(got[0].3.is_empty());
    assert_eq!((got[1].0, got[1].1, got[1].2), (2, 2, None));
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

#[test]
fn csv_headers_over_the_limits_are_one_line_errors() {
    let dir = tempfile::tempdir().unwrap();
    let limits = Limits::default();
    let wide: Vec<String> = (0..20_000).map(|i| format!("c{i}")).collect();
    let p = write(
        dir.path(),
        "wide.csv",
        format!("{}\n1\n", wide.join(",")).as_bytes(),
    );
    let e = CsvSource::open_with(&p, Table::Patients, &limits)
        .err()
        .unwrap()
        .to_string();
    assert!(
        e.contains("wide.csv") && e.contains("20000 columns, more than the 4096"),
        "{e}"
    );
    // No line breaks at all: the header is refused after 1 MiB, and the
    // message quotes none of it.
    let p = write(dir.path(), "blob.csv", &vec![b'x'; 3 << 20]);
    let e = CsvSource::open_with(&p, Table::Patients, &limits)
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("longer than 1 MiB"), "{e}");
    assert!(e.len() < 300 && !e.contains('\n'), "{e}");
    // A header naming control characters is quoted escaped.
    let p = write(dir.path(), "ctl.csv", b"patient_id,\x1b[31msite\n");
    let e = CsvSource::open_with(&p, Table::Patients, &limits)
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("\\u{1b}[31msite"), "{e}");
    assert!(!e.contains('\x1b'), "{e}");
}

#[test]
fn a_wide_header_does_not_reserve_memory_per_column_and_row() {
    let dir = tempfile::tempdir().unwrap();
    let mut header: Vec<String> = Table::Sessions
        .columns()
        .iter()
        .map(|c| c.name.to_string())
        .collect();
    header.extend((0..4000).map(|i| format!("x{i}")));
    let row = vec!["1"; header.len()].join(",");
    let p = write(
        dir.path(),
        "w.csv",
        format!("{}\n{row}\n", header.join(",")).as_bytes(),
    );
    let mut src = CsvSource::open_with(&p, Table::Sessions, &Limits::default()).unwrap();
    let chunk = src.next_chunk(65_536).unwrap().unwrap();
    assert_eq!(chunk.len(), 1);
}

#[test]
fn gzip_bombs_stop_at_the_expansion_limit() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("bomb.csv.gz");
    let mut gz = flate2::write::GzEncoder::new(
        std::fs::File::create(&p).unwrap(),
        flate2::Compression::best(),
    );
    gz.write_all(b"patient_id,site,enrolled_on\n").unwrap();
    for _ in 0..16 {
        gz.write_all(&[b'\n'; 1 << 20]).unwrap();
    }
    gz.finish().unwrap();
    let limits = Limits {
        max_expanded: 4 << 20,
        max_ratio: 10,
        ..Limits::default()
    };
    let mut src = CsvSource::open_with(&p, Table::Patients, &limits).unwrap();
    let e = loop {
        match src.next_chunk(1000) {
            Ok(Some(_)) => continue,
            Ok(None) => panic!("the bomb was read whole"),
            Err(e) => break e.to_string(),
        }
    };
    assert!(
        e.contains("bomb.csv.gz") && e.contains("gzip data expands beyond 4 MiB"),
        "{e}"
    );
    assert!(!e.contains('\n'), "{e}");
}

#[test]
fn ndjson_lines_over_the_limit_are_rejected_and_reading_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let mut text =
        br#"{"patient_id":"P1","date":"2025-01-01","measure":"odi","value":"5"}"#.to_vec();
    text.push(b'\n');
    text.extend_from_slice(br#"{"patient_id":""#);
    text.extend(std::iter::repeat_n(b'x', 5000));
    text.extend_from_slice(b"\"}\n");
    text.extend_from_slice(
        br#"{"patient_id":"P2","date":"2025-01-01","measure":"odi","value":"6"}"#,
    );
    let p = write(dir.path(), "o.ndjson", &text);
    let limits = Limits {
        max_line: 4096,
        ..Limits::default()
    };
    let mut src = NdjsonSource::open_with(&p, Table::Outcomes, &limits).unwrap();
    let chunk = src.next_chunk(100).unwrap().unwrap();
    assert_eq!(chunk.len(), 3);
    let (mut c, mut e) = (vec![None; 4], vec![]);
    let r = chunk.cells(1, &mut c, &mut e).unwrap_err();
    assert!(r.reason.contains("line longer than 4 KiB"), "{r:?}");
    assert_eq!(chunk.line(2), 3);
    let mut c = vec![None; 4];
    chunk.cells(2, &mut c, &mut e).unwrap();
    assert_eq!(c[0], Some("P2"));
}

#[test]
fn header_names_are_matched_loosely() {
    assert_eq!(normalise_name(" Patient ID "), "patient_id");
    assert_eq!(normalise_name("\u{feff}Pain-During"), "pain_during");
}

/// A chunk is checked as UTF-8 once, as a whole: a character split across
/// two fields (its lead byte ending one, its continuation starting the
/// next) is valid in the chunk's bytes, which hold the fields back to back,
/// but each field is not, and each is still rejected by name. Valid text
/// in other rows of the chunk comes through as it was.
#[test]
fn a_character_split_across_fields_is_not_valid_utf8() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = b"patient_id,site,enrolled_on\nP1,caf\xc3\xa9,2025-01-01\nP2,\xc3".to_vec();
    text.extend_from_slice(b",\xa92025-01-01\nP\xc3\xa9,north,2025-01-02\n");
    let p = write(dir.path(), "p.csv", &text);
    let mut src = CsvSource::open_with(&p, Table::Patients, &Limits::default()).unwrap();
    let chunk = src.next_chunk(100).unwrap().unwrap();
    assert_eq!(chunk.len(), 3);
    let width = Table::Patients.columns().len();
    let (mut c, mut e) = (vec![None; width], vec![]);
    chunk.cells(0, &mut c, &mut e).unwrap();
    assert_eq!(c[1], Some("café"));
    let mut c = vec![None; width];
    let r = chunk.cells(1, &mut c, &mut e).unwrap_err();
    assert_eq!(r.column.as_deref(), Some("site"), "{r:?}");
    assert!(r.reason.contains("not valid UTF-8"), "{r:?}");
    let mut c = vec![None; width];
    chunk.cells(2, &mut c, &mut e).unwrap();
    assert_eq!(c[0], Some("Pé"));
}
