//! Parsers for single values as they appear in files: ISO 8601 dates and
//! times, booleans, numbers, and the spellings of "missing".
//!
//! Each returns a reason a person can act on when the text does not parse.
//! Dates are hand-parsed (fixed-width ISO 8601) because they are on the hot
//! path of every row.

use chrono::{NaiveDate, NaiveDateTime, NaiveTime};

/// Input text as messages show it (escaped, at most 200 characters).
fn q(t: &str) -> String {
    crate::limits::excerpt(t)
}

/// Days from 0001-01-01 (chrono's CE day 1) to 1970-01-01.
const UNIX_EPOCH_CE_DAYS: i32 = 719_163;

/// The spellings of a missing value (SPEC §3): R writes `NA`, pandas `NaN`
/// and `nan`, databases and Excel `NULL`/`null`, SAS and Stata `.`; `N/A`,
/// `n/a` and `None` are pandas' too. An empty cell is always missing.
pub const DEFAULT_MISSING: &[&str] = &[
    "NA", "NaN", "nan", "NULL", "null", ".", "N/A", "n/a", "None",
];

/// The words that mean "no value" in every column ingest reads, matched
/// exactly (case and all, as R's `na.strings` and pandas' `na_values` are)
/// after trimming spaces. Empty text is always missing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Missing {
    tokens: Vec<String>,
    /// The longest token, so most cells are told apart by length alone.
    longest: usize,
    /// The first bytes of the tokens, so a number or a word starting
    /// otherwise is told apart with one lookup (this runs on every cell).
    starts: [bool; 256],
}

impl Default for Missing {
    fn default() -> Self {
        Missing::new(DEFAULT_MISSING.iter().map(|s| s.to_string()))
    }
}

impl Missing {
    /// These words (trimmed; empty ones dropped, since empty is always missing).
    pub fn new(tokens: impl IntoIterator<Item = String>) -> Missing {
        let tokens: Vec<String> = tokens
            .into_iter()
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty())
            .collect();
        let longest = tokens.iter().map(String::len).max().unwrap_or(0);
        let mut starts = [false; 256];
        for t in &tokens {
            starts[t.as_bytes()[0] as usize] = true;
        }
        Missing {
            tokens,
            longest,
            starts,
        }
    }

    /// The words, as given.
    pub fn tokens(&self) -> &[String] {
        &self.tokens
    }

    /// Whether `text` means "no value".
    #[inline]
    pub fn is_missing(&self, text: &str) -> bool {
        let t = text.trim_ascii();
        match t.as_bytes().first() {
            None => true,
            Some(&b) => {
                self.starts[b as usize]
                    && t.len() <= self.longest
                    && self.tokens.iter().any(|w| w == t)
            }
        }
    }
}

/// Whether a cell means "no value" with the default spellings ([`DEFAULT_MISSING`]).
pub fn is_missing(text: &str) -> bool {
    static DEFAULT: std::sync::OnceLock<Missing> = std::sync::OnceLock::new();
    DEFAULT.get_or_init(Missing::default).is_missing(text)
}

/// true/false, t/f, yes/no, y/n, 1/0, case-insensitive.
pub fn parse_bool(text: &str) -> Result<bool, String> {
    let t = text.trim_ascii();
    for (word, value) in [
        ("true", true),
        ("false", false),
        ("t", true),
        ("f", false),
        ("yes", true),
        ("no", false),
        ("y", true),
        ("n", false),
        ("1", true),
        ("0", false),
    ] {
        if t.eq_ignore_ascii_case(word) {
            return Ok(value);
        }
    }
    Err(format!(
        "'{}' is not true/false (also accepted: 1/0, yes/no)",
        q(t)
    ))
}

/// A finite decimal number.
pub fn parse_f64(text: &str) -> Result<f64, String> {
    let t = text.trim_ascii();
    if let Some(x) = short_decimal(t.as_bytes()) {
        return Ok(x);
    }
    match t.parse::<f64>() {
        Ok(x) if x.is_finite() => Ok(x),
        Ok(_) => Err(format!("'{}' is not a finite number", q(t))),
        Err(_) => {
            if t.contains(',') && t.replace(',', ".").parse::<f64>().is_ok() {
                Err(format!(
                    "'{}' uses a decimal comma; write it with a point ('{}')",
                    q(t),
                    q(&t.replace(',', "."))
                ))
            } else {
                Err(format!("'{}' is not a number", q(t)))
            }
        }
    }
}

/// `[+-]digits[.digits]` with at most 15 digits, the way most numbers in
/// these files are written (`5`, `4.5`, `20`), as the digits' integer `m`
/// over `10^k`: both are exact in an f64 (`m < 10^15 < 2^53`, `k ≤ 15`),
/// so the one division is correctly rounded and the result is the
/// correctly rounded value of the text, the same bits as `str::parse`
/// gives (Clinger's fast path: W. D. Clinger, "How to read floating point
/// numbers accurately", PLDI 1990). Anything else is `None`, for `parse`.
fn short_decimal(b: &[u8]) -> Option<f64> {
    const POW10: [f64; 16] = [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
    ];
    let (negative, digits) = match b.first()? {
        b'-' => (true, &b[1..]),
        b'+' => (false, &b[1..]),
        _ => (false, b),
    };
    if digits.len() > 16 {
        return None;
    }
    let (mut m, mut count, mut scale, mut point) = (0u64, 0usize, 0usize, false);
    for &c in digits {
        match c {
            b'0'..=b'9' => {
                m = m * 10 + (c - b'0') as u64;
                count += 1;
                scale += point as usize;
            }
            b'.' if !point => point = true,
            _ => return None,
        }
    }
    if count == 0 || count > 15 {
        return None;
    }
    let x = m as f64 / POW10[scale];
    Some(if negative { -x } else { x })
}

/// A whole number; `12.0` is accepted as 12 (spreadsheets write it so).
pub fn parse_int(text: &str) -> Result<i64, String> {
    let t = text.trim_ascii();
    if let Ok(i) = t.parse::<i64>() {
        return Ok(i);
    }
    match t.parse::<f64>() {
        Ok(x) if x.is_finite() && x.fract() == 0.0 && x.abs() < 9.0e15 => Ok(x as i64),
        Ok(_) => Err(format!("'{}' is not a whole number", q(t))),
        Err(_) => Err(format!("'{}' is not a whole number", q(t))),
    }
}

fn digits(b: &[u8]) -> Option<u32> {
    let mut v = 0u32;
    for &c in b {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + (c - b'0') as u32;
    }
    Some(v)
}

/// A real calendar day (year, month, day) from `YYYY-MM-DD`.
fn ymd(b: &[u8]) -> Option<(i32, u32, u32)> {
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let y = digits(&b[0..4])? as i32;
    let m = digits(&b[5..7])?;
    let d = digits(&b[8..10])?;
    let leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
    let days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return None,
    };
    (1..=days).contains(&d).then_some((y, m, d))
}

/// Days from 1970-01-01 to a day of the proleptic Gregorian calendar
/// (H. Hinnant, "chrono-Compatible Low-Level Date Algorithms",
/// `days_from_civil`): years counted from March, so the leap day ends one.
fn days_from_civil((y, m, d): (i32, u32, u32)) -> i64 {
    let (m, d) = (m as i64, d as i64);
    let y = y as i64 - (m <= 2) as i64;
    let era = y.div_euclid(400);
    let year_of_era = y - era * 400;
    let day_of_year = (153 * ((m + 9) % 12) + 2) / 5 + d - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// An ISO 8601 calendar date, `YYYY-MM-DD`.
pub fn parse_date(text: &str) -> Result<NaiveDate, String> {
    let t = text.trim_ascii();
    ymd(t.as_bytes())
        .and_then(|(y, m, d)| NaiveDate::from_ymd_opt(y, m, d))
        .ok_or_else(|| date_problem(t, "an ISO 8601 date (YYYY-MM-DD)"))
}

/// [`parse_date`] as days since 1970-01-01 ([`date_to_days`]), without
/// building a date on the way (this runs on every dated row).
pub fn parse_date_days(text: &str) -> Result<i32, String> {
    let t = text.trim_ascii();
    ymd(t.as_bytes())
        .map(|day| days_from_civil(day) as i32)
        .ok_or_else(|| date_problem(t, "an ISO 8601 date (YYYY-MM-DD)"))
}

fn date_problem(t: &str, wanted: &str) -> String {
    let b = t.as_bytes();
    if b.len() >= 10 && b[4] == b'-' && b[7] == b'-' && digits(&b[0..4]).is_some() {
        // Shaped like ISO but not a real day (2025-02-30, month 13).
        format!("'{}' is not a real calendar date", q(t))
    } else {
        format!("'{}' is not {wanted}", q(t))
    }
}

/// The parts of an ISO 8601 date-time, checked: a real day, a real time
/// of day, and the offset from UTC in minutes.
struct DateTimeParts {
    day: (i32, u32, u32),
    /// Hour, minute, second, nanosecond.
    time: (u32, u32, u32, u32),
    offset_min: i64,
}

fn datetime_parts(t: &str) -> Result<DateTimeParts, String> {
    let b = t.as_bytes();
    let wanted = "an ISO 8601 date-time (YYYY-MM-DDTHH:MM[:SS])";
    let day = ymd(b.get(..10).unwrap_or(b)).ok_or_else(|| date_problem(t, wanted))?;
    if b.len() == 10 {
        return Ok(DateTimeParts {
            day,
            time: (0, 0, 0, 0),
            offset_min: 0,
        });
    }
    let bad = || format!("'{}' is not {wanted}", q(t));
    if !(b[10] == b'T' || b[10] == b' ') || b.len() < 16 || b[13] != b':' {
        return Err(bad());
    }
    let h = digits(&b[11..13]).ok_or_else(bad)?;
    let mi = digits(&b[14..16]).ok_or_else(bad)?;
    let mut i = 16;
    let mut s = 0;
    let mut nanos = 0u32;
    if b.len() >= 19 && b[16] == b':' {
        s = digits(&b[17..19]).ok_or_else(bad)?;
        i = 19;
        if b.len() > 19 && (b[19] == b'.' || b[19] == b',') {
            let start = 20;
            let mut end = start;
            while end < b.len() && b[end].is_ascii_digit() {
                end += 1;
            }
            if end == start {
                return Err(bad());
            }
            let frac = &b[start..end.min(start + 9)];
            let mut n = digits(frac).ok_or_else(bad)?;
            for _ in frac.len()..9 {
                n *= 10;
            }
            nanos = n;
            i = end;
        }
    }
    // No leap seconds: nanos < 10^9 (at most nine digits are read).
    if h > 23 || mi > 59 || s > 59 {
        return Err(format!("'{}' is not a real time of day", q(t)));
    }
    let rest = &b[i..];
    let offset_min: i64 = match rest {
        [] => 0,
        [b'Z'] | [b'z'] => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] | [sign @ (b'+' | b'-'), h1, h2, m1, m2] => {
            let oh = digits(&[*h1, *h2]).ok_or_else(bad)? as i64;
            let om = digits(&[*m1, *m2]).ok_or_else(bad)? as i64;
            if oh > 14 || om > 59 {
                return Err(format!("'{}' has an impossible UTC offset", q(t)));
            }
            let sign = if *sign == b'+' { 1 } else { -1 };
            sign * (oh * 60 + om)
        }
        _ => return Err(bad()),
    };
    Ok(DateTimeParts {
        day,
        time: (h, mi, s, nanos),
        offset_min,
    })
}

/// An ISO 8601 date-time: `YYYY-MM-DDTHH:MM[:SS[.fff]]` (a space may replace
/// `T`), optionally with `Z` or `±HH:MM`; with an offset the time is converted
/// to UTC. A plain date is taken as midnight.
pub fn parse_datetime(text: &str) -> Result<NaiveDateTime, String> {
    let t = text.trim_ascii();
    let p = datetime_parts(t)?;
    let (y, m, d) = p.day;
    let (h, mi, s, nanos) = p.time;
    let invalid = || format!("'{}' is not a real calendar date", q(t));
    let date = NaiveDate::from_ymd_opt(y, m, d).ok_or_else(invalid)?;
    let time = NaiveTime::from_hms_nano_opt(h, mi, s, nanos)
        .ok_or_else(|| format!("'{}' is not a real time of day", q(t)))?;
    Ok(NaiveDateTime::new(date, time) - chrono::Duration::minutes(p.offset_min))
}

/// [`parse_datetime`] as milliseconds since 1970-01-01T00:00 UTC
/// ([`datetime_to_ms`]), by arithmetic rather than through chrono's types
/// (this runs on every session row). Sub-millisecond digits are dropped,
/// as `timestamp_millis` drops them.
pub fn parse_datetime_ms(text: &str) -> Result<i64, String> {
    let p = datetime_parts(text.trim_ascii())?;
    let (h, mi, s, nanos) = p.time;
    let seconds = (h as i64 * 60 + mi as i64) * 60 + s as i64;
    Ok(
        days_from_civil(p.day) * 86_400_000 + seconds * 1000 + (nanos / 1_000_000) as i64
            - p.offset_min * 60_000,
    )
}

/// Days since 1970-01-01, the physical value of a Parquet/Arrow date.
pub fn date_to_days(d: NaiveDate) -> i32 {
    use chrono::Datelike;
    d.num_days_from_ce() - UNIX_EPOCH_CE_DAYS
}

/// Milliseconds since 1970-01-01T00:00, the physical value of a datetime[ms].
pub fn datetime_to_ms(t: NaiveDateTime) -> i64 {
    t.and_utc().timestamp_millis()
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(4096))]

        /// Days and milliseconds by arithmetic equal chrono's, and the
        /// same texts are refused with the same reasons.
        #[test]
        fn dates_and_times_by_arithmetic_agree_with_chrono(
            y in 0i32..10000, m in 0u32..14, d in 0u32..33,
            h in 0u32..26, mi in 0u32..61, s in 0u32..61,
            frac in "([.][0-9]{1,12})?",
            zone in "(Z|[+-][01][0-9]:?[0-6][0-9])?",
        ) {
            let date = format!("{y:04}-{m:02}-{d:02}");
            let days = parse_date_days(&date);
            let chrono = parse_date(&date).map(date_to_days);
            proptest::prop_assert_eq!(days, chrono, "{}", date);
            for t in [
                format!("{date}T{h:02}:{mi:02}"),
                format!("{date} {h:02}:{mi:02}:{s:02}{frac}{zone}"),
                date.clone(),
            ] {
                let ms = parse_datetime_ms(&t);
                let chrono = parse_datetime(&t).map(datetime_to_ms);
                proptest::prop_assert_eq!(ms, chrono, "{}", t);
            }
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(4096))]

        /// The short-decimal path gives the bits `str::parse` gives, for
        /// text of digits, points and signs and for printed numbers.
        #[test]
        fn short_decimals_parse_as_the_standard_library_does(
            text in "[+-]?[0-9]{0,9}[.]?[0-9]{0,9}",
            x in proptest::num::f64::NORMAL,
            places in 0usize..12,
        ) {
            for t in [text, format!("{x:.places$}"), format!("{x}")] {
                if let Some(fast) = short_decimal(t.as_bytes()) {
                    let std = t.parse::<f64>().map(f64::to_bits);
                    proptest::prop_assert_eq!(Ok(fast.to_bits()), std, "{}", t);
                }
                let ours = parse_f64(&t).ok().map(f64::to_bits);
                let std = t.parse::<f64>().ok().filter(|v| v.is_finite()).map(f64::to_bits);
                proptest::prop_assert_eq!(ours, std, "{}", t);
            }
        }
    }

    #[test]
    fn short_decimals_cover_the_usual_spellings() {
        for (t, x) in [
            ("5", 5.0),
            ("4.5", 4.5),
            ("-0.1", -0.1),
            ("+20", 20.0),
            ("5.", 5.0),
            (".5", 0.5),
        ] {
            assert_eq!(
                short_decimal(t.as_bytes()).map(f64::to_bits),
                Some(f64::to_bits(x)),
                "{t}"
            );
        }
        assert_eq!(
            short_decimal(b"-0").map(f64::to_bits),
            Some((-0.0f64).to_bits())
        );
        for t in [
            "",
            ".",
            "-",
            "1e3",
            "1.2.3",
            "0x10",
            "1234567890123456",
            "inf",
            "NaN",
            "1,5",
        ] {
            assert_eq!(short_decimal(t.as_bytes()), None, "{t}");
        }
    }

    #[test]
    fn dates() {
        assert_eq!(
            parse_date("2025-01-30").unwrap(),
            NaiveDate::from_ymd_opt(2025, 1, 30).unwrap()
        );
        assert_eq!(
            parse_date(" 2024-02-29 ").unwrap().to_string(),
            "2024-02-29"
        );
        for bad in [
            "30/01/2025",
            "01/30/2025",
            "2025/01/30",
            "20250130",
            "30.01.2025",
            "Jan 30 2025",
            "",
        ] {
            let e = parse_date(bad).unwrap_err();
            assert!(e.contains("ISO 8601"), "{bad}: {e}");
        }
        assert!(
            parse_date("2025-02-30")
                .unwrap_err()
                .contains("real calendar date")
        );
        assert!(
            parse_date("2025-13-01")
                .unwrap_err()
                .contains("real calendar date")
        );
        assert_eq!(
            date_to_days(NaiveDate::from_ymd_opt(1970, 1, 2).unwrap()),
            1
        );
    }

    #[test]
    fn datetimes() {
        let p = |s: &str| parse_datetime(s).map(|t| t.to_string());
        assert_eq!(p("2025-01-30T07:05").unwrap(), "2025-01-30 07:05:00");
        assert_eq!(p("2025-01-30 07:05:09").unwrap(), "2025-01-30 07:05:09");
        assert_eq!(
            p("2025-01-30T07:05:09.250").unwrap(),
            "2025-01-30 07:05:09.250"
        );
        assert_eq!(p("2025-01-30T07:05:00Z").unwrap(), "2025-01-30 07:05:00");
        assert_eq!(
            p("2025-01-30T07:05:00+01:00").unwrap(),
            "2025-01-30 06:05:00"
        );
        assert_eq!(p("2025-01-30T23:30-0130").unwrap(), "2025-01-31 01:00:00");
        assert_eq!(p("2025-01-30").unwrap(), "2025-01-30 00:00:00");
        assert!(p("2025-01-30T25:00").unwrap_err().contains("real time"));
        assert!(p("2025-01-30T07").is_err());
        assert!(p("30/01/2025 07:05").is_err());
        assert!(p("2025-01-30T07:05+99:00").is_err());
        assert_eq!(
            datetime_to_ms(parse_datetime("1970-01-01T00:00:01").unwrap()),
            1000
        );
    }

    #[test]
    fn numbers_and_booleans() {
        assert_eq!(parse_f64(" 3.5 ").unwrap(), 3.5);
        assert!(parse_f64("NaN").unwrap_err().contains("finite"));
        assert!(parse_f64("inf").unwrap_err().contains("finite"));
        assert!(parse_f64("3,5").unwrap_err().contains("decimal comma"));
        assert!(parse_f64("abc").is_err());
        assert_eq!(parse_int("12").unwrap(), 12);
        assert_eq!(parse_int("12.0").unwrap(), 12);
        assert!(parse_int("12.5").is_err());
        assert!(parse_int("twelve").is_err());
        assert!(parse_bool("TRUE").unwrap());
        assert!(!parse_bool("0").unwrap());
        assert!(!parse_bool("No").unwrap());
        assert!(parse_bool("maybe").is_err());
        assert!(is_missing(""));
        assert!(is_missing(" NA "));
        assert!(is_missing("null"));
        assert!(!is_missing("0"));
        for t in ["NA", "NaN", "nan", "NULL", "null", ".", " . ", "\t"] {
            assert!(is_missing(t), "{t:?}");
        }
        // Matched exactly: a site called "Na" or a value "NAN" is not missing.
        assert!(!is_missing("Na") && !is_missing("NAN") && !is_missing(".5"));
        let only_dash = Missing::new(["-".to_string(), " ".to_string()]);
        assert!(only_dash.is_missing("-") && only_dash.is_missing(""));
        assert!(!only_dash.is_missing("NA"));
    }
}
