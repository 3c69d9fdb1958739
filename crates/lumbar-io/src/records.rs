//! Line-delimited JSON files of typed records: what a shard of an analysis
//! writes and `lumbar merge` reads back. One record per line, so a reader
//! holds one line at a time and an error names its line.
//!
//! Numbers round-trip exactly (serde_json's shortest representation on
//! writing and its `float_roundtrip` parser on reading), which is what lets
//! merged shards reproduce an unsharded run to the bit.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use lumbar_model::atomic::PendingPath;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Why a records file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum RecordsError {
    #[error("cannot read {}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}, line {line}: {message}", path.display())]
    Record {
        path: PathBuf,
        line: usize,
        message: String,
    },
}

/// Records written to a file one line each as they come; the file appears
/// at [`RecordsWriter::finish`], atomically.
pub struct RecordsWriter {
    pending: PendingPath,
    out: BufWriter<File>,
}

impl RecordsWriter {
    pub fn create(path: &Path) -> std::io::Result<Self> {
        let pending = PendingPath::new(path);
        let out = BufWriter::new(File::create(pending.temp())?);
        Ok(RecordsWriter { pending, out })
    }

    pub fn write<T: Serialize>(&mut self, record: &T) -> std::io::Result<()> {
        serde_json::to_writer(&mut self.out, record)?;
        self.out.write_all(b"\n")
    }

    pub fn finish(self) -> std::io::Result<()> {
        self.out
            .into_inner()
            .map_err(|e| e.into_error())?
            .sync_all()?;
        self.pending.commit()
    }
}

/// The records of a file, one line at a time: at most `max_records` of
/// them and no line longer than `max_line` bytes (a file a shard wrote for
/// the same store stays inside both; anything else is refused, not read
/// into memory).
pub struct RecordsReader<T> {
    path: PathBuf,
    reader: BufReader<File>,
    buf: Vec<u8>,
    line: usize,
    records: usize,
    max_records: usize,
    max_line: usize,
    done: bool,
    kind: std::marker::PhantomData<T>,
}

impl<T: DeserializeOwned> RecordsReader<T> {
    pub fn open(path: &Path, max_records: usize, max_line: usize) -> Result<Self, RecordsError> {
        let file = File::open(path).map_err(|source| RecordsError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Ok(RecordsReader {
            path: path.to_path_buf(),
            reader: BufReader::new(file),
            buf: Vec::new(),
            line: 0,
            records: 0,
            max_records,
            max_line,
            done: false,
            kind: std::marker::PhantomData,
        })
    }

    fn at(&self, message: String) -> RecordsError {
        RecordsError::Record {
            path: self.path.clone(),
            line: self.line,
            message,
        }
    }

    fn next_record(&mut self) -> Result<Option<T>, RecordsError> {
        loop {
            self.buf.clear();
            self.line += 1;
            let cap = u64::try_from(self.max_line)
                .unwrap_or(u64::MAX)
                .saturating_add(1);
            let n = (&mut self.reader)
                .take(cap)
                .read_until(b'\n', &mut self.buf)
                .map_err(|source| RecordsError::Io {
                    path: self.path.clone(),
                    source,
                })?;
            if n == 0 {
                return Ok(None);
            }
            if self.buf.last() != Some(&b'\n') && self.buf.len() > self.max_line {
                return Err(self.at(format!("longer than {} bytes", self.max_line)));
            }
            if self.buf.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            if self.records == self.max_records {
                return Err(self.at(format!("more than {} records", self.max_records)));
            }
            self.records += 1;
            return serde_json::from_slice(&self.buf)
                .map(Some)
                .map_err(|e| self.at(e.to_string()));
        }
    }
}

impl<T: DeserializeOwned> Iterator for RecordsReader<T> {
    type Item = Result<T, RecordsError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let r = self.next_record().transpose();
        if !matches!(r, Some(Ok(_))) {
            self.done = true;
        }
        r
    }
}

/// Reads one JSON document of at most `max_bytes` (a result folder's
/// manifest), refusing a larger file before reading it.
pub fn read_json<T: DeserializeOwned>(path: &Path, max_bytes: u64) -> Result<T, RecordsError> {
    let io = |source| RecordsError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = File::open(path).map_err(io)?;
    let mut text = Vec::new();
    file.take(max_bytes.saturating_add(1))
        .read_to_end(&mut text)
        .map_err(io)?;
    if text.len() as u64 > max_bytes {
        return Err(RecordsError::Record {
            path: path.to_path_buf(),
            line: 1,
            message: format!("larger than {max_bytes} bytes"),
        });
    }
    serde_json::from_slice(&text).map_err(|e| RecordsError::Record {
        path: path.to_path_buf(),
        line: e.line(),
        message: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, Serialize, serde::Deserialize)]
    struct R {
        x: f64,
        s: String,
    }

    fn write_records(path: &Path, records: &[R]) -> std::io::Result<()> {
        let mut w = RecordsWriter::create(path)?;
        for r in records {
            w.write(r)?;
        }
        w.finish()
    }

    fn read_records<T: DeserializeOwned>(
        path: &Path,
        max: usize,
        line: usize,
    ) -> Result<Vec<T>, RecordsError> {
        RecordsReader::open(path, max, line)?.collect()
    }

    #[test]
    fn floats_round_trip_to_the_bit_and_bounds_hold() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("r.ndjson");
        // Values whose shortest decimal form parses back only with a
        // correctly rounded parser.
        let rs: Vec<R> = [
            0.1 + 0.2,
            1.0 / 3.0,
            2.2250738585072014e-308,
            9007199254740993.0,
            -0.0,
        ]
        .into_iter()
        .chain((1..200).map(|k| (k as f64).sqrt() * 1e-3))
        .map(|x| R {
            x,
            s: "a\nb".into(),
        })
        .collect();
        write_records(&p, &rs).unwrap();
        let back: Vec<R> = read_records(&p, 1000, 1 << 10).unwrap();
        assert_eq!(back.len(), rs.len());
        for (a, b) in rs.iter().zip(&back) {
            assert_eq!(a.x.to_bits(), b.x.to_bits(), "{}", a.x);
        }
        let e = read_records::<R>(&p, 3, 1 << 10).unwrap_err().to_string();
        assert!(e.contains("line 4: more than 3 records"), "{e}");
        let e = read_records::<R>(&p, 1000, 10).unwrap_err().to_string();
        assert!(e.contains("line 1: longer than 10 bytes"), "{e}");
        std::fs::write(&p, "{\"x\": 1, \"s\": \"a\"}\n{\"x\": \"no\"}\n").unwrap();
        let e = read_records::<R>(&p, 1000, 1 << 10)
            .unwrap_err()
            .to_string();
        assert!(e.contains("r.ndjson, line 2: invalid type"), "{e}");
    }
}
