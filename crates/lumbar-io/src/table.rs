//! Column buffers that turn validated [`Cell`]s into polars columns, and the
//! batched Parquet writer every store file goes through.

use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};

use lumbar_model::Kind;
use lumbar_model::atomic::PendingPath;
use polars::prelude::*;
use polars_parquet::write::{KeyValue, schema_to_metadata_key};
use sha2::{Digest, Sha256};

use crate::fault;
use crate::store::{FileSum, KEY_CHECKSUM, hex};
use crate::validate::Cell;

enum Buf {
    Str(StringChunkedBuilder),
    Int(PrimitiveChunkedBuilder<Int64Type>),
    Float(PrimitiveChunkedBuilder<Float64Type>),
    Bool(BooleanChunkedBuilder),
    Date(PrimitiveChunkedBuilder<Int32Type>),
    DateTime(PrimitiveChunkedBuilder<Int64Type>),
}

impl Buf {
    fn new(name: &str, kind: Kind, cap: usize) -> Buf {
        let n = PlSmallStr::from_str(name);
        match kind {
            Kind::Str => Buf::Str(StringChunkedBuilder::new(n, cap)),
            Kind::Int => Buf::Int(PrimitiveChunkedBuilder::new(n, cap)),
            Kind::Float => Buf::Float(PrimitiveChunkedBuilder::new(n, cap)),
            Kind::Bool => Buf::Bool(BooleanChunkedBuilder::new(n, cap)),
            Kind::Date => Buf::Date(PrimitiveChunkedBuilder::new(n, cap)),
            Kind::DateTime => Buf::DateTime(PrimitiveChunkedBuilder::new(n, cap)),
        }
    }

    fn push(&mut self, cell: &Cell<'_>) {
        match (self, cell) {
            (Buf::Str(b), Cell::Str(s)) => b.append_value(s.as_ref()),
            (Buf::Int(b), Cell::Int(i)) => b.append_value(*i),
            (Buf::Float(b), Cell::Float(x)) => b.append_value(*x),
            (Buf::Float(b), Cell::Int(i)) => b.append_value(*i as f64),
            (Buf::Bool(b), Cell::Bool(v)) => b.append_value(*v),
            (Buf::Date(b), Cell::Date(d)) => b.append_value(*d),
            (Buf::DateTime(b), Cell::DateTime(t)) => b.append_value(*t),
            (Buf::Str(b), _) => b.append_null(),
            (Buf::Int(b), _) | (Buf::DateTime(b), _) => b.append_null(),
            (Buf::Float(b), _) => b.append_null(),
            (Buf::Bool(b), _) => b.append_null(),
            (Buf::Date(b), _) => b.append_null(),
        }
    }

    fn finish(self) -> Column {
        match self {
            Buf::Str(b) => b.finish().into_series().into_column(),
            Buf::Int(b) => b.finish().into_series().into_column(),
            Buf::Float(b) => b.finish().into_series().into_column(),
            Buf::Bool(b) => b.finish().into_series().into_column(),
            Buf::Date(b) => b.finish().into_date().into_series().into_column(),
            Buf::DateTime(b) => b
                .finish()
                .into_datetime(TimeUnit::Milliseconds, None)
                .into_series()
                .into_column(),
        }
    }
}

/// Buffers rows of a fixed list of typed columns.
pub struct TableBuilder {
    columns: Vec<(String, Kind)>,
    bufs: Vec<Buf>,
    rows: usize,
    cap: usize,
}

impl TableBuilder {
    pub fn new(columns: Vec<(String, Kind)>, cap: usize) -> TableBuilder {
        let bufs = columns.iter().map(|(n, k)| Buf::new(n, *k, cap)).collect();
        TableBuilder {
            columns,
            bufs,
            rows: 0,
            cap,
        }
    }

    pub fn push(&mut self, cells: &[Cell<'_>]) {
        for (b, c) in self.bufs.iter_mut().zip(cells) {
            b.push(c);
        }
        self.rows += 1;
    }

    pub fn len(&self) -> usize {
        self.rows
    }

    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// The buffered rows as a frame; the builder starts over empty.
    pub fn take(&mut self) -> PolarsResult<DataFrame> {
        let fresh = self
            .columns
            .iter()
            .map(|(n, k)| Buf::new(n, *k, self.cap))
            .collect();
        let bufs = std::mem::replace(&mut self.bufs, fresh);
        let height = std::mem::take(&mut self.rows);
        DataFrame::new(height, bufs.into_iter().map(Buf::finish).collect())
    }
}

/// A Parquet file written in row groups as rows arrive, committed atomically.
/// Encoding and compression run on a writer thread, so the caller can go on
/// validating while a row group is written.
///
/// Every byte goes through a SHA-256 on its way to the file: the hash of the
/// bytes before the page indexes and footer is written into the footer as
/// `lumbar.checksum` (with any key-value pairs given to
/// [`ParquetSink::commit_as`]), and the hash of the whole file is returned
/// by the commit, for the manifest.
pub struct ParquetSink {
    pending: PendingPath,
    builder: TableBuilder,
    /// Frames waiting to fill a row group.
    queued: Vec<DataFrame>,
    queued_rows: usize,
    writer: Option<Writer>,
    batch: usize,
    pub rows: u64,
}

struct Writer {
    tx: std::sync::mpsc::SyncSender<DataFrame>,
    /// The key-value pairs for the footer, set by the commit before the
    /// writer thread is told to finish.
    footer: Arc<Mutex<Vec<(String, String)>>>,
    handle: std::thread::JoinHandle<PolarsResult<FileSum>>,
}

/// The running SHA-256 of the bytes written so far.
#[derive(Default)]
struct Hashing {
    sha: Sha256,
    bytes: u64,
}

/// A file that hashes what it writes, as it is written, buffered in 1 MiB
/// blocks (the footer's Thrift encoder writes field by field). Its own
/// buffer rather than a `BufWriter`, whose flush on drop would hide a failed
/// write: polars' footer writer ends with `flush`, whose error is returned.
struct HashingFile {
    file: File,
    buf: Vec<u8>,
    hashing: Arc<Mutex<Hashing>>,
}

const HASHING_BLOCK: usize = 1 << 20;

impl HashingFile {
    fn drain(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        fault::step("write a Parquet file")?;
        self.file.write_all(&self.buf)?;
        self.buf.clear();
        Ok(())
    }
}

impl Write for HashingFile {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        {
            let mut h = self
                .hashing
                .lock()
                .map_err(|_| std::io::Error::other("checksum state poisoned"))?;
            h.sha.update(data);
            h.bytes += data.len() as u64;
        }
        self.buf.extend_from_slice(data);
        if self.buf.len() >= HASHING_BLOCK {
            self.drain()?;
        }
        Ok(data.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.drain()?;
        self.file.flush()
    }
}

impl ParquetSink {
    pub fn create(target: &Path, columns: Vec<(String, Kind)>, batch: usize) -> ParquetSink {
        ParquetSink {
            pending: PendingPath::new(target),
            builder: TableBuilder::new(columns, batch.min(65_536)),
            queued: Vec::new(),
            queued_rows: 0,
            writer: None,
            batch,
            rows: 0,
        }
    }

    /// A sink fed only whole frames ([`ParquetSink::push_frame`]): no row
    /// buffers are set aside (an ingest holds one such sink per bucket).
    pub fn for_frames(target: &Path, columns: Vec<(String, Kind)>, batch: usize) -> ParquetSink {
        ParquetSink {
            pending: PendingPath::new(target),
            builder: TableBuilder::new(columns, 0),
            queued: Vec::new(),
            queued_rows: 0,
            writer: None,
            batch,
            rows: 0,
        }
    }

    /// Adds one row.
    pub fn push(&mut self, cells: &[Cell<'_>]) -> PolarsResult<()> {
        self.builder.push(cells);
        self.rows += 1;
        if self.builder.len() >= self.batch {
            let df = self.builder.take()?;
            self.push_frame_inner(df)?;
        }
        Ok(())
    }

    /// Adds a frame of rows with this sink's columns.
    pub fn push_frame(&mut self, df: DataFrame) -> PolarsResult<()> {
        self.rows += df.height() as u64;
        self.push_frame_inner(df)
    }

    fn push_frame_inner(&mut self, df: DataFrame) -> PolarsResult<()> {
        if df.height() == 0 {
            return Ok(());
        }
        self.queued_rows += df.height();
        self.queued.push(df);
        if self.queued_rows >= self.batch {
            self.send_queued()?;
        }
        Ok(())
    }

    fn send_queued(&mut self) -> PolarsResult<()> {
        let mut frames = std::mem::take(&mut self.queued).into_iter();
        self.queued_rows = 0;
        let Some(mut df) = frames.next() else {
            return Ok(());
        };
        for f in frames {
            df.vstack_mut_owned(f)?;
        }
        self.writer_for(&df.schema().clone())?;
        if let Some(w) = &self.writer
            && w.tx.send(df).is_err()
        {
            // The writer stopped: its error is reported by commit.
            return self.join_writer().map(|_| ());
        }
        Ok(())
    }

    fn writer_for(&mut self, schema: &Schema) -> PolarsResult<()> {
        if self.writer.is_some() {
            return Ok(());
        }
        fault::step("create a Parquet file")?;
        let hashing = Arc::new(Mutex::new(Hashing::default()));
        let file = HashingFile {
            file: File::create(self.pending.temp())?,
            buf: Vec::with_capacity(HASHING_BLOCK),
            hashing: hashing.clone(),
        };
        // LZ4: the store is written once and read by every analysis, and
        // LZ4 decodes the session columns in 0.49 s where zstd takes 0.84 s
        // (27.5 M rows), for files about twice the size.
        let mut batched = ParquetWriter::new(file)
            .with_compression(ParquetCompression::Lz4Raw)
            .batched(schema)?;
        let footer: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
        let footer_kv = footer.clone();
        let (tx, rx) = std::sync::mpsc::sync_channel::<DataFrame>(2);
        let handle = std::thread::spawn(move || -> PolarsResult<FileSum> {
            for mut df in rx {
                // One row group per batch rather than one per builder chunk
                // of 8,192 rows: readers pay per row group and page (a
                // decompression context each), so small groups made reading
                // a large table a third slower.
                df.rechunk_mut();
                batched.write_batch(&df)?;
            }
            let poisoned = || polars_err!(ComputeError: "a Parquet writer's state was poisoned");
            let data = {
                let h = hashing.lock().map_err(|_| poisoned())?;
                FileSum {
                    sha256: hex(&h.sha.clone().finalize()),
                    bytes: h.bytes,
                }
            };
            let mut writer = batched.get_writer().lock().map_err(|_| poisoned())?;
            // The Arrow schema first, as polars' own finish writes it, so
            // readers get back the exact column types.
            let mut kv = vec![schema_to_metadata_key(writer.schema())];
            kv.push(KeyValue {
                key: KEY_CHECKSUM.into(),
                value: Some(
                    serde_json::to_string(&data)
                        .map_err(|e| polars_err!(ComputeError: "checksum record: {e}"))?,
                ),
            });
            for (key, value) in footer_kv.lock().map_err(|_| poisoned())?.drain(..) {
                kv.push(KeyValue {
                    key,
                    value: Some(value),
                });
            }
            writer.end(Some(kv))?;
            let h = hashing.lock().map_err(|_| poisoned())?;
            Ok(FileSum {
                sha256: hex(&h.sha.clone().finalize()),
                bytes: h.bytes,
            })
        });
        self.writer = Some(Writer { tx, footer, handle });
        Ok(())
    }

    fn join_writer(&mut self) -> PolarsResult<FileSum> {
        match self.writer.take() {
            Some(Writer { tx, handle, .. }) => {
                drop(tx);
                handle
                    .join()
                    .map_err(|_| polars_err!(ComputeError: "the Parquet writer thread panicked"))?
            }
            None => Err(polars_err!(ComputeError: "the Parquet writer was not started")),
        }
    }

    /// Like [`ParquetSink::commit`], to another final name in the same
    /// folder, with key-value pairs added to the footer.
    pub fn commit_as(
        mut self,
        target: &Path,
        footer: Vec<(String, String)>,
    ) -> PolarsResult<FileSum> {
        self.pending.retarget(target);
        self.commit_with(footer)
    }

    /// Writes what is buffered, closes the file and moves it into place;
    /// returns the whole file's checksum.
    pub fn commit(self) -> PolarsResult<FileSum> {
        self.commit_with(Vec::new())
    }

    fn commit_with(mut self, footer: Vec<(String, String)>) -> PolarsResult<FileSum> {
        if !self.builder.is_empty() {
            let df = self.builder.take()?;
            self.push_frame_inner(df)?;
        }
        self.send_queued()?;
        if self.writer.is_none() {
            // No rows at all: an empty file that still has the table's columns.
            let empty = self.builder.take()?;
            self.writer_for(&empty.schema().clone())?;
        }
        if let Some(w) = &self.writer {
            w.footer
                .lock()
                .map_err(|_| polars_err!(ComputeError: "a Parquet writer's state was poisoned"))?
                .extend(footer);
        }
        let sum = self.join_writer()?;
        fault::step("sync and rename a Parquet file")?;
        self.pending.commit()?;
        Ok(sum)
    }
}
