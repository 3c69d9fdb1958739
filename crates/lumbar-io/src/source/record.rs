//! The bounded CSV record reader under every CSV-like source: one record
//! of at most `max_bytes` held at a time, resynchronised after an overlong one.

use std::io::BufRead;

/// Why a CSV record could not be kept whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Overflow {
    /// Longer than the line limit: only its line number is known; reading
    /// resumed at the next physical line.
    TooLong,
    /// More fields than kept (the header's width, or the column limit for
    /// the header itself): the count is exact, the fields are not kept.
    TooManyFields,
}

/// One record as [`RecordReader::next`] found it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RecordInfo {
    /// Physical line the record starts on.
    pub line: u64,
    /// Its fields (counted even when not kept).
    pub fields: u64,
    pub overflow: Option<Overflow>,
}

/// A CSV record reader that holds at most one bounded record: `csv_core`
/// splits the bytes, and this keeps at most `max_bytes` of a record's field
/// bytes and `max_fields` field ends. (The `csv` crate grows its record
/// buffer until the record ends: one line of a gigabyte of commas asked for
/// gigabytes.) A record longer than `max_bytes` is reported as
/// [`Overflow::TooLong`] and reading resumes after the next newline, even
/// inside quotes, so a stray quote costs one bounded record, not the rest of
/// the file. Line numbers are exact: the record's first byte's line, with
/// blank lines and quoted newlines counted.
pub(crate) struct RecordReader {
    text: Box<dyn BufRead + Send>,
    core: csv_core::Reader,
    pub max_bytes: usize,
    pub max_fields: usize,
    data: Vec<u8>,
    ends: Vec<usize>,
    delimiter: u8,
    /// Whether a record that is one buffered line without quotes is split
    /// here rather than by `csv_core` (off only to test the two agree).
    fast: bool,
    /// Output of records being discarded.
    scratch: Vec<u8>,
    scratch_ends: Vec<usize>,
    /// Field bytes and field count of the last record kept.
    len: usize,
    nfields: usize,
}

impl RecordReader {
    /// Reads `text` split at `delimiter` ('\n' ends a record; a CR before it
    /// stays in the last field, which validation trims); `first_line` is the
    /// line number of the stream's first byte.
    pub fn new(
        text: Box<dyn BufRead + Send>,
        delimiter: u8,
        max_bytes: usize,
        max_fields: usize,
        first_line: u64,
    ) -> RecordReader {
        let mut core = csv_core::ReaderBuilder::new()
            .delimiter(delimiter)
            .terminator(csv_core::Terminator::Any(b'\n'))
            .build();
        core.set_line(first_line);
        RecordReader {
            text,
            core,
            max_bytes: max_bytes.max(1),
            max_fields: max_fields.max(1),
            data: Vec::new(),
            ends: Vec::new(),
            delimiter,
            fast: true,
            scratch: vec![0; 64 << 10],
            scratch_ends: vec![0; 1024],
            len: 0,
            nfields: 0,
        }
    }

    /// Every record through `csv_core` (to test that the plain-line path
    /// agrees with it).
    #[cfg(test)]
    pub(crate) fn without_plain_lines(mut self) -> RecordReader {
        self.fast = false;
        self
    }

    /// The line the reader is at (for errors).
    pub fn line(&self) -> u64 {
        self.core.line()
    }

    /// The kept fields of the last record (none when it overflowed).
    pub fn fields(&self) -> impl Iterator<Item = &[u8]> {
        let mut from = 0;
        self.ends[..self.nfields].iter().map(move |&to| {
            let f = &self.data[from..to];
            from = to;
            f
        })
    }

    /// All kept field bytes of the last record, and the end of each field.
    pub(crate) fn parts(&self) -> (&[u8], &[usize]) {
        (&self.data[..self.len], &self.ends[..self.nfields])
    }

    /// The next record when it is a whole line in the buffer with no
    /// quote, within the limits: split at the delimiter here, which is what
    /// `csv_core`'s state machine does for such a line (no quotes, so no
    /// escapes; a CR stays in the last field; the newlines before it are
    /// blank lines), in one pass over its bytes. Anything else returns
    /// `None` and consumes nothing, for [`RecordReader::next`]'s full path.
    fn next_plain_line(&mut self) -> std::io::Result<Option<RecordInfo>> {
        let line = self.core.line();
        let input = self.text.fill_buf()?;
        let skipped = input.iter().take_while(|&&b| b == b'\n').count();
        let rest = &input[skipped..];
        let Some(len) = memchr::memchr(b'\n', rest) else {
            return Ok(None);
        };
        if len > self.max_bytes {
            return Ok(None);
        }
        let record = &rest[..len];
        let most_fields = (len + 1).min(self.max_fields);
        if self.data.len() < len {
            self.data.resize(len.max(4096).min(self.max_bytes + 1), 0);
        }
        if self.ends.len() < most_fields {
            self.ends
                .resize(most_fields.max(16).min(self.max_fields + 1), 0);
        }
        // The fields' bytes back to back, as `csv_core` writes them (no
        // delimiters), with the end of each.
        let (mut out, mut k) = (0, 0);
        for &c in record {
            if c == self.delimiter {
                if k + 1 == most_fields {
                    return Ok(None); // over the field limit: the full path says so
                }
                self.ends[k] = out;
                k += 1;
            } else if c == b'"' {
                return Ok(None);
            } else {
                self.data[out] = c;
                out += 1;
            }
        }
        self.ends[k] = out;
        self.len = out;
        self.nfields = k + 1;
        self.text.consume(skipped + len + 1);
        self.core.set_line(line + skipped as u64 + 1);
        Ok(Some(RecordInfo {
            line: line + skipped as u64,
            fields: (k + 1) as u64,
            overflow: None,
        }))
    }

    /// The next record, or `None` at the end of the input.
    pub fn next(&mut self) -> std::io::Result<Option<RecordInfo>> {
        use csv_core::ReadRecordResult::*;
        if self.fast
            && let Some(info) = self.next_plain_line()?
        {
            return Ok(Some(info));
        }
        let (mut outlen, mut endlen) = (0usize, 0usize);
        let mut fields = 0u64;
        // Bytes of this record so far (its newline included).
        let mut bytes = 0usize;
        let mut start: Option<u64> = None;
        let mut overflow: Option<Overflow> = None;
        self.len = 0;
        self.nfields = 0;
        loop {
            if overflow == Some(Overflow::TooLong) {
                // Skip to the end of the physical line, then start afresh.
                let line = self.core.line();
                let input = self.text.fill_buf()?;
                if input.is_empty() {
                    // The record ends with the file: nothing is left of it.
                    self.core.reset();
                    self.core.set_line(line);
                    break;
                }
                match input.iter().position(|&b| b == b'\n') {
                    Some(i) => {
                        self.text.consume(i + 1);
                        self.core.reset();
                        self.core.set_line(line + 1);
                        break;
                    }
                    None => {
                        let n = input.len();
                        self.text.consume(n);
                        continue;
                    }
                }
            }
            let keeping = overflow.is_none();
            if keeping && outlen == self.data.len() {
                // One byte more than the limit: a full buffer means "over".
                if self.data.len() > self.max_bytes {
                    overflow = Some(Overflow::TooLong);
                    continue;
                }
                let n = (self.data.len() * 2).max(4096).min(self.max_bytes + 1);
                self.data.resize(n, 0);
            }
            if keeping && endlen == self.ends.len() {
                if self.ends.len() > self.max_fields {
                    overflow = Some(Overflow::TooManyFields);
                } else {
                    let n = (self.ends.len() * 2).max(16).min(self.max_fields + 1);
                    self.ends.resize(n, 0);
                }
            }
            let keeping = overflow.is_none();
            let line_before = self.core.line();
            let input = self.text.fill_buf()?;
            let mut skipped = 0;
            if start.is_none() {
                // The DFA skips newlines before a record: the record starts
                // at the first other byte.
                skipped = input.iter().take_while(|&&b| b == b'\n').count();
                if skipped < input.len() {
                    start = Some(line_before + skipped as u64);
                }
            }
            let (res, nin, nout, nend) = if keeping {
                self.core
                    .read_record(input, &mut self.data[outlen..], &mut self.ends[endlen..])
            } else {
                self.core
                    .read_record(input, &mut self.scratch, &mut self.scratch_ends)
            };
            self.text.consume(nin);
            if start.is_some() {
                bytes += nin.saturating_sub(skipped);
            }
            fields += nend as u64;
            if keeping {
                outlen += nout;
                endlen += nend;
            }
            match res {
                End => return Ok(None),
                Record => {
                    if bytes > self.max_bytes + 1 {
                        overflow = Some(Overflow::TooLong);
                    }
                    break;
                }
                InputEmpty | OutputFull | OutputEndsFull => {
                    // The newline is not part of the record's length.
                    if bytes > self.max_bytes + 1 {
                        overflow = Some(Overflow::TooLong);
                    }
                }
            }
        }
        if overflow.is_none() {
            self.len = outlen;
            self.nfields = endlen;
        }
        Ok(Some(RecordInfo {
            line: start.unwrap_or_else(|| self.core.line()),
            fields,
            overflow,
        }))
    }
}
