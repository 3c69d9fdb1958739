//! Column buffers that turn validated [`Cell`]s into polars columns, and the
//! batched Parquet writer every store file goes through.

use std::fs::File;
use std::path::Path;

use lumbar_model::Kind;
use lumbar_model::atomic::PendingPath;
use polars::prelude::*;

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
pub struct ParquetSink {
    pending: PendingPath,
    builder: TableBuilder,
    writer: Option<polars::io::parquet::write::BatchedWriter<File>>,
    batch: usize,
    pub rows: u64,
}

impl ParquetSink {
    pub fn create(target: &Path, columns: Vec<(String, Kind)>, batch: usize) -> ParquetSink {
        ParquetSink {
            pending: PendingPath::new(target),
            builder: TableBuilder::new(columns, batch),
            writer: None,
            batch,
            rows: 0,
        }
    }

    pub fn push(&mut self, cells: &[Cell<'_>]) -> PolarsResult<()> {
        self.builder.push(cells);
        self.rows += 1;
        if self.builder.len() >= self.batch {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> PolarsResult<()> {
        let df = self.builder.take()?;
        if self.writer.is_none() {
            let file = File::create(self.pending.temp())?;
            self.writer = Some(ParquetWriter::new(file).batched(df.schema())?);
        }
        if let Some(w) = self.writer.as_mut()
            && df.height() > 0
        {
            w.write_batch(&df)?;
        }
        Ok(())
    }

    /// Writes what is buffered, closes the file and moves it into place.
    pub fn commit(mut self) -> PolarsResult<()> {
        self.flush()?;
        if let Some(w) = self.writer.take() {
            w.finish()?;
        }
        self.pending.commit()?;
        Ok(())
    }
}
