//! Bounds on everything a file can make ingest hold, and the one way input
//! text is quoted in messages.
//!
//! A hostile or broken file must not be able to make ingest allocate more
//! than a fixed amount: a record (a CSV record, an NDJSON line, an XML event)
//! is at most [`Limits::max_line`] bytes, a header at most
//! [`Limits::max_columns`] names, and compressed input (gzip, a zip member) at
//! most [`Limits::expanded_limit`] bytes once inflated. A record over its limit
//! is rejected and reading goes on at the next one, holding only the first
//! `max_line` bytes; the other limits stop the file with a one-line error.
//!
//! Every message that shows input (header names, cells, zip entry names,
//! JSON keys) shows it through [`excerpt`]: at most [`EXCERPT_CHARS`]
//! characters, control and invisible formatting characters escaped, so a
//! message is one line of bounded length whatever the file holds.

use std::io::{self, BufRead, Read};

/// Sizes ingest accepts from a file (defaults in [`Limits::default`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Longest record (CSV record, quoted newlines included; NDJSON line;
    /// XML element or text) in bytes, and so also the longest field.
    pub max_line: usize,
    /// Most columns a header (or the keys of an NDJSON file) may name.
    pub max_columns: usize,
    /// Compressed input may always expand to this many bytes ...
    pub max_expanded: u64,
    /// ... or to this many times its compressed size, whichever is larger.
    pub max_ratio: u64,
    /// Most entries a zip's directory may list.
    pub max_zip_entries: usize,
}

/// 1 MiB: a real record of any lumbar table is a few hundred bytes.
pub const DEFAULT_MAX_LINE: usize = 1 << 20;
/// 4,096 columns: far above any export (GGIR day summaries have ~150).
pub const DEFAULT_MAX_COLUMNS: usize = 4096;
/// 1 GiB of expanded data is always allowed ...
pub const DEFAULT_MAX_EXPANDED: u64 = 1 << 30;
/// ... and more when the compressed file is large: text rarely compresses
/// beyond 10-20x, so 200x is a bomb, not data.
pub const DEFAULT_MAX_RATIO: u64 = 200;
/// An Apple Health export.zip holds a few hundred files (ECGs, routes).
pub const DEFAULT_MAX_ZIP_ENTRIES: usize = 10_000;

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_line: DEFAULT_MAX_LINE,
            max_columns: DEFAULT_MAX_COLUMNS,
            max_expanded: DEFAULT_MAX_EXPANDED,
            max_ratio: DEFAULT_MAX_RATIO,
            max_zip_entries: DEFAULT_MAX_ZIP_ENTRIES,
        }
    }
}

impl Limits {
    /// How many bytes `compressed` bytes may expand to:
    /// `max(max_expanded, max_ratio × compressed)`.
    pub fn expanded_limit(&self, compressed: u64) -> u64 {
        self.max_expanded
            .max(self.max_ratio.saturating_mul(compressed))
    }

    /// The line limit in words, for messages ("1 MiB", "4096 bytes").
    pub fn line_words(&self) -> String {
        bytes_words(self.max_line as u64)
    }
}

/// A byte count as a person reads it: whole KiB/MiB/GiB when exact, else bytes.
pub fn bytes_words(n: u64) -> String {
    for (unit, name) in [(1u64 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")] {
        if n >= unit {
            return if n.is_multiple_of(unit) {
                format!("{} {name}", n / unit)
            } else {
                format!("{:.1} {name}", n as f64 / unit as f64)
            };
        }
    }
    format!("{n} bytes")
}

/// Most characters of input a message or a stored reject value shows.
pub const EXCERPT_CHARS: usize = 200;

/// Input text as messages and the rejects table show it: control characters
/// (C0, DEL, C1) and invisible formatting characters (bidirectional
/// overrides, zero-width characters, BOM) escaped as `\n`, `\t`, `\u{202e}`;
/// cut after [`EXCERPT_CHARS`] characters with a marker saying how long the
/// whole was (`… (1048576 bytes)`).
pub fn excerpt(text: &str) -> String {
    let mut out = String::with_capacity(text.len().min(EXCERPT_CHARS + 32));
    for (shown, c) in text.chars().enumerate() {
        if shown == EXCERPT_CHARS {
            out.push_str(&format!("… ({} bytes)", text.len()));
            break;
        }
        push_escaped(&mut out, c);
    }
    out
}

/// [`excerpt`] of bytes that may not be UTF-8: invalid bytes as `\xff`.
pub fn excerpt_bytes(bytes: &[u8]) -> String {
    // Only the first bytes can be shown: decode no more than they need.
    let head = &bytes[..bytes.len().min(EXCERPT_CHARS * 4)];
    let mut out = String::new();
    let (mut shown, mut used) = (0usize, 0usize);
    'all: for chunk in head.utf8_chunks() {
        for c in chunk.valid().chars() {
            if shown == EXCERPT_CHARS {
                break 'all;
            }
            push_escaped(&mut out, c);
            (shown, used) = (shown + 1, used + c.len_utf8());
        }
        for b in chunk.invalid() {
            if shown == EXCERPT_CHARS {
                break 'all;
            }
            out.push_str(&format!("\\x{b:02x}"));
            (shown, used) = (shown + 1, used + 1);
        }
    }
    if used < bytes.len() {
        out.push_str(&format!("… ({} bytes)", bytes.len()));
    }
    out
}

fn push_escaped(out: &mut String, c: char) {
    match c {
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        c if invisible(c) => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
        c => out.push(c),
    }
}

/// Characters that change what a terminal shows without being seen.
fn invisible(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{200b}'..='\u{200f}' // zero-width space/joiners, LRM, RLM
            | '\u{2028}'..='\u{202e}' // line/paragraph separators, bidi embeddings and overrides
            | '\u{2060}'..='\u{2069}' // word joiner, bidi isolates
            | '\u{feff}')
}

/// The error a limited reader returns; `io::Error`'s message is the whole
/// sentence, so callers that print `{path}: {error}` give one line.
fn limit_error(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message)
}

/// Passes on at most `limit` bytes of an inflating reader, then fails with
/// a message naming the limit: reading stops at once, and the expanded
/// data is never held beyond the reader's buffer.
pub struct Inflated<R> {
    inner: R,
    limit: u64,
    read: u64,
    what: &'static str,
    compressed: u64,
}

impl<R> Inflated<R> {
    /// `what` names the container in the message ("gzip data", "the zip
    /// entry export.xml"); `compressed` is its size on disk.
    pub fn new(inner: R, limits: &Limits, compressed: u64, what: &'static str) -> Self {
        Inflated {
            inner,
            limit: limits.expanded_limit(compressed),
            read: 0,
            what,
            compressed,
        }
    }

    fn over(&self) -> io::Error {
        limit_error(format!(
            "{} expands beyond {} ({} compressed; the limit is the larger of max_expanded and max_ratio × the compressed size): a compression bomb, or raise the limit",
            self.what,
            bytes_words(self.limit),
            bytes_words(self.compressed)
        ))
    }
}

impl<R: Read> Read for Inflated<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.read >= self.limit {
            // One more byte tells a stream that ends exactly at the limit
            // from one that goes on.
            let mut probe = [0u8; 1];
            return match self.inner.read(&mut probe)? {
                0 => Ok(0),
                _ => Err(self.over()),
            };
        }
        let room = (self.limit - self.read).min(buf.len() as u64) as usize;
        let n = self.inner.read(&mut buf[..room])?;
        self.read += n as u64;
        Ok(n)
    }
}

/// A `BufRead` that fails once more than `limit` bytes have been consumed
/// since the last [`Bounded::reset`]: a pull parser (quick-xml) that grows
/// its event buffer until the event ends is so held to one bounded event.
pub struct Bounded<R> {
    inner: R,
    limit: usize,
    since_reset: usize,
    message: fn(&Limits) -> String,
    limits: Limits,
}

impl<R: BufRead> Bounded<R> {
    pub fn new(inner: R, limits: &Limits, message: fn(&Limits) -> String) -> Self {
        Bounded {
            inner,
            limit: limits.max_line,
            since_reset: 0,
            message,
            limits: *limits,
        }
    }
    /// A new event starts: its bytes are counted from zero.
    pub fn reset(&mut self) {
        self.since_reset = 0;
    }
}

impl<R: BufRead> Read for Bounded<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = {
            let have = self.fill_buf()?;
            let n = have.len().min(buf.len());
            buf[..n].copy_from_slice(&have[..n]);
            n
        };
        self.consume(n);
        Ok(n)
    }
}

impl<R: BufRead> BufRead for Bounded<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.since_reset > self.limit {
            return Err(limit_error((self.message)(&self.limits)));
        }
        self.inner.fill_buf()
    }
    fn consume(&mut self, amt: usize) {
        self.since_reset = self.since_reset.saturating_add(amt);
        self.inner.consume(amt);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excerpts_escape_and_cut() {
        assert_eq!(excerpt("a\nb\tc\u{1b}[31m"), "a\\nb\\tc\\u{1b}[31m");
        assert_eq!(excerpt("x\u{202e}y\u{feff}"), "x\\u{202e}y\\u{feff}");
        assert_eq!(excerpt("é"), "é");
        let long = "é".repeat(300);
        let e = excerpt(&long);
        assert!(e.starts_with(&"é".repeat(200)), "{e}");
        assert!(e.ends_with("… (600 bytes)"), "{e}");
        assert_eq!(e.chars().count(), 200 + "… (600 bytes)".chars().count());
        assert_eq!(excerpt_bytes(b"ok\xff\n"), "ok\\xff\\n");
        let e = excerpt_bytes(&vec![b','; 5 << 20]);
        assert!(e.ends_with(&format!("… ({} bytes)", 5 << 20)), "{e}");
        assert!(e.len() < 260);
    }

    #[test]
    fn inflated_stops_at_the_limit() {
        let limits = Limits {
            max_expanded: 1000,
            max_ratio: 10,
            ..Limits::default()
        };
        assert_eq!(limits.expanded_limit(50), 1000);
        assert_eq!(limits.expanded_limit(500), 5000);
        let data = vec![b'x'; 1000];
        let mut ok = Vec::new();
        Inflated::new(&data[..], &limits, 50, "gzip data")
            .read_to_end(&mut ok)
            .unwrap();
        assert_eq!(ok.len(), 1000);
        let data = vec![b'x'; 1001];
        let mut got = Vec::new();
        let e = Inflated::new(&data[..], &limits, 50, "gzip data")
            .read_to_end(&mut got)
            .unwrap_err();
        assert_eq!(got.len(), 1000);
        assert!(
            e.to_string()
                .contains("gzip data expands beyond 1000 bytes"),
            "{e}"
        );
    }

    #[test]
    fn bounded_fails_after_the_limit_until_reset() {
        let limits = Limits {
            max_line: 10,
            ..Limits::default()
        };
        let data = [b' '; 100];
        let mut r = Bounded::new(
            std::io::BufReader::with_capacity(4, &data[..]),
            &limits,
            |l| format!("over {}", l.max_line),
        );
        let mut buf = [0u8; 4];
        for _ in 0..3 {
            assert_eq!(r.read(&mut buf).unwrap(), 4);
        }
        assert_eq!(r.read(&mut buf).unwrap_err().to_string(), "over 10");
        r.reset();
        assert_eq!(r.read(&mut buf).unwrap(), 4);
    }

    #[test]
    fn byte_counts_in_words() {
        assert_eq!(bytes_words(1 << 20), "1 MiB");
        assert_eq!(bytes_words(1 << 30), "1 GiB");
        assert_eq!(bytes_words(4096), "4 KiB");
        assert_eq!(bytes_words(1000), "1000 bytes");
        assert_eq!(bytes_words(3 << 19), "1.5 MiB");
        assert_eq!(bytes_words(1536 << 20), "1.5 GiB");
    }
}
