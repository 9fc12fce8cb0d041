//! Parquet in, Parquet out, without re-encoding the input.
//!
//! `tidewatch score` adds a few columns to a table and keeps every input
//! column as it is. Decoding the input columns and encoding them again
//! (dictionary hashing of every string, compression) is most of the work of
//! writing the output, for bytes that come out the same. Here each row group
//! of the output copies the input row group's encoded column chunks byte for
//! byte and encodes only the new columns, cut to the same row groups.

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use anyhow::{bail, Context};
use parquet::basic::{Compression as Codec, LogicalType, Repetition, Type as Physical};
use parquet::column::writer::ColumnCloseResult;
use parquet::data_type::{ByteArray, ByteArrayType, DoubleType, Int32Type};
use parquet::file::properties::WriterProperties;
use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::file::writer::{SerializedColumnWriter, SerializedFileWriter};
use parquet::schema::types::Type;

use super::score::Compression;

/// A new column's values, one per input row.
#[derive(Debug)]
pub enum Values {
    F64(Vec<f64>),
    OptF64(Vec<Option<f64>>),
    OptI16(Vec<Option<i16>>),
    OptStr(Vec<Option<&'static str>>),
}

impl Values {
    pub fn len(&self) -> usize {
        match self {
            Values::F64(v) => v.len(),
            Values::OptF64(v) => v.len(),
            Values::OptI16(v) => v.len(),
            Values::OptStr(v) => v.len(),
        }
    }

    /// Rows `from..from + n`, as a column of their own.
    #[cfg(test)]
    pub fn slice(&self, from: usize, n: usize) -> Values {
        let r = from..from + n;
        match self {
            Values::F64(v) => Values::F64(v[r].to_vec()),
            Values::OptF64(v) => Values::OptF64(v[r].to_vec()),
            Values::OptI16(v) => Values::OptI16(v[r].to_vec()),
            Values::OptStr(v) => Values::OptStr(v[r].to_vec()),
        }
    }

    fn parquet_type(&self, name: &str) -> parquet::errors::Result<Type> {
        let (physical, logical, repetition) = match self {
            Values::F64(_) => (Physical::DOUBLE, None, Repetition::REQUIRED),
            Values::OptF64(_) => (Physical::DOUBLE, None, Repetition::OPTIONAL),
            Values::OptI16(_) => (
                Physical::INT32,
                Some(LogicalType::Integer {
                    bit_width: 16,
                    is_signed: true,
                }),
                Repetition::OPTIONAL,
            ),
            Values::OptStr(_) => (
                Physical::BYTE_ARRAY,
                Some(LogicalType::String),
                Repetition::OPTIONAL,
            ),
        };
        Type::primitive_type_builder(name, physical)
            .with_repetition(repetition)
            .with_logical_type(logical)
            .build()
    }

    /// Writes rows `from..from + n` to a column writer.
    fn write(
        &self,
        w: &mut SerializedColumnWriter<'_>,
        from: usize,
        n: usize,
    ) -> parquet::errors::Result<()> {
        fn levels<T: Copy, U>(v: &[Option<T>], f: impl Fn(T) -> U) -> (Vec<U>, Vec<i16>) {
            let defs = v.iter().map(|x| i16::from(x.is_some())).collect();
            (v.iter().filter_map(|x| x.map(&f)).collect(), defs)
        }
        let to = from + n;
        match self {
            Values::F64(v) => {
                w.typed::<DoubleType>()
                    .write_batch(&v[from..to], None, None)?;
            }
            Values::OptF64(v) => {
                let (vals, defs) = levels(&v[from..to], |x| x);
                w.typed::<DoubleType>()
                    .write_batch(&vals, Some(&defs), None)?;
            }
            Values::OptI16(v) => {
                let (vals, defs) = levels(&v[from..to], i32::from);
                w.typed::<Int32Type>()
                    .write_batch(&vals, Some(&defs), None)?;
            }
            Values::OptStr(v) => {
                let (vals, defs) = levels(&v[from..to], ByteArray::from);
                w.typed::<ByteArrayType>()
                    .write_batch(&vals, Some(&defs), None)?;
            }
        }
        Ok(())
    }
}

/// The input's column names when the pass-through writer can take it: a
/// flat schema (the rest of the command reads flat tables) with none of
/// the new names; `None` otherwise (the polars path takes it).
pub fn pass_through_columns(input: &Path, new: &[&str]) -> Option<Vec<String>> {
    let r = SerializedFileReader::new(File::open(input).ok()?).ok()?;
    let fields = r.metadata().file_metadata().schema().get_fields();
    fields
        .iter()
        .all(|t| t.is_primitive() && !new.contains(&t.name()))
        .then(|| fields.iter().map(|t| t.name().to_owned()).collect())
}

/// Writes the input's rows with `extra` columns (one value per input row)
/// appended, to `out`.
#[cfg(test)]
pub fn write(
    input: &Path,
    out: &Path,
    extra: &[(String, Values)],
    compression: Compression,
) -> anyhow::Result<()> {
    let rows: usize = SerializedFileReader::new(
        File::open(input).with_context(|| format!("opening {}", input.display()))?,
    )
    .with_context(|| format!("reading {}", input.display()))?
    .metadata()
    .row_groups()
    .iter()
    .map(|g| g.num_rows() as usize)
    .sum();
    for (name, v) in extra {
        if v.len() != rows {
            bail!(
                "column {name} has {} values for {rows} rows of {}",
                v.len(),
                input.display()
            );
        }
    }
    write_with(input, out, compression, |from, n| {
        Ok(extra
            .iter()
            .map(|(k, v)| (k.clone(), v.slice(from, n)))
            .collect())
    })
}

/// Writes the input's rows to `out` row group by row group, appending the
/// columns `columns_for(first_row, rows)` gives for each group (asked once
/// per group, in order; for a file without row groups, once with no rows,
/// for the column types). Only one group's new values are in memory at a
/// time.
pub fn write_with(
    input: &Path,
    out: &Path,
    compression: Compression,
    mut columns_for: impl FnMut(usize, usize) -> anyhow::Result<Vec<(String, Values)>>,
) -> anyhow::Result<()> {
    let src = File::open(input).with_context(|| format!("opening {}", input.display()))?;
    let reader = SerializedFileReader::new(
        src.try_clone()
            .with_context(|| format!("opening {}", input.display()))?,
    )
    .with_context(|| format!("reading {}", input.display()))?;
    let meta = reader.metadata();
    let groups: Vec<usize> = meta
        .row_groups()
        .iter()
        .map(|g| usize::try_from(g.num_rows()).unwrap_or(0))
        .collect();
    let first = columns_for(0, groups.first().copied().unwrap_or(0))?;
    let in_schema = meta.file_metadata().schema();
    let mut fields: Vec<Arc<Type>> = in_schema.get_fields().to_vec();
    for (name, v) in &first {
        fields.push(Arc::new(v.parquet_type(name)?));
    }
    let schema = Arc::new(
        Type::group_type_builder(in_schema.name())
            .with_fields(fields)
            .build()?,
    );
    let codec = match compression {
        Compression::Zstd => Codec::ZSTD(Default::default()),
        Compression::Lz4 => Codec::LZ4_RAW,
        Compression::Snappy => Codec::SNAPPY,
        Compression::None => Codec::UNCOMPRESSED,
    };
    let props = Arc::new(
        WriterProperties::builder()
            .set_compression(codec)
            // Copied chunks carry no page index, and a file has one for
            // every column or none.
            .set_offset_index_disabled(true)
            .set_statistics_enabled(parquet::file::properties::EnabledStatistics::Chunk)
            .set_created_by(format!("tidewatch {}", env!("CARGO_PKG_VERSION")))
            .build(),
    );
    let dst = File::create(out).with_context(|| format!("creating {}", out.display()))?;
    let mut w = SerializedFileWriter::new(
        std::io::BufWriter::with_capacity(1 << 20, dst),
        schema,
        props,
    )?;
    let mut pending = Some(first);
    let mut at = 0usize;
    for (rg, &n) in meta.row_groups().iter().zip(&groups) {
        let extra = match pending.take() {
            Some(e) => e,
            None => columns_for(at, n)?,
        };
        let mut g = w.next_row_group()?;
        for col in rg.columns() {
            g.append_column(
                &src,
                ColumnCloseResult {
                    bytes_written: u64::try_from(col.compressed_size()).unwrap_or(0),
                    rows_written: n as u64,
                    metadata: col.clone(),
                    bloom_filter: None,
                    column_index: None,
                    offset_index: None,
                },
            )?;
        }
        for (name, v) in &extra {
            if v.len() != n {
                bail!(
                    "column {name} has {} values for the {n} rows of a row group of {}",
                    v.len(),
                    input.display()
                );
            }
            let mut c = g
                .next_column()?
                .with_context(|| format!("no column writer for {name}"))?;
            v.write(&mut c, 0, n)?;
            c.close()?;
        }
        g.close()?;
        at += n;
    }
    w.close()
        .with_context(|| format!("writing {}", out.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use polars::prelude::*;

    fn frame(n: usize) -> DataFrame {
        let ids: Vec<i64> = (0..n as i64).collect();
        let names: Vec<Option<String>> = (0..n)
            .map(|i| (i % 5 != 0).then(|| format!("name-{}", i % 17)))
            .collect();
        let amounts: Vec<Option<f64>> = (0..n)
            .map(|i| (i % 7 != 0).then_some(i as f64 / 3.0))
            .collect();
        df!("id" => ids, "name" => names, "amount" => amounts).expect("frame")
    }

    #[test]
    fn copied_columns_and_new_columns_read_back_as_the_polars_writer_writes_them() {
        let tmp = tempfile::tempdir().expect("tmp");
        let input = tmp.path().join("in.parquet");
        let mut df = frame(10_000);
        // Several row groups, so the new columns are cut to match.
        ParquetWriter::new(File::create(&input).expect("create"))
            .with_row_group_size(Some(3_000))
            .finish(&mut df)
            .expect("write input");
        let n = df.height();
        let extra = || {
            vec![
                (
                    "score".to_owned(),
                    Values::OptF64((0..n).map(|i| (i % 3 != 0).then_some(i as f64)).collect()),
                ),
                (
                    "x_points".to_owned(),
                    Values::F64((0..n).map(|i| -(i as f64)).collect()),
                ),
                (
                    "risk_score".to_owned(),
                    Values::OptI16((0..n).map(|i| (i % 4 != 0).then_some(i as i16)).collect()),
                ),
                (
                    "class".to_owned(),
                    Values::OptStr(
                        (0..n)
                            .map(|i| (i % 6 != 0).then_some(["A", "B", "C", "D"][i % 4]))
                            .collect(),
                    ),
                ),
            ]
        };
        let names = ["score", "x_points", "risk_score", "class"];
        assert!(pass_through_columns(&input, &names).is_some());
        assert!(
            pass_through_columns(&input, &["name"]).is_none(),
            "a name clash"
        );
        for c in [
            Compression::Zstd,
            Compression::Lz4,
            Compression::Snappy,
            Compression::None,
        ] {
            let out = tmp.path().join("out.parquet");
            write(&input, &out, &extra(), c).expect("pass-through write");
            let got = ParquetReader::new(File::open(&out).expect("open"))
                .finish()
                .expect("read back");
            let mut want = df.clone();
            crate::cmd::score::add_columns(&mut want, extra()).expect("columns");
            assert_eq!(got.shape(), want.shape());
            assert!(got.equals_missing(&want), "{c:?}: {got}\n{want}");
        }
    }

    #[test]
    fn a_wrong_length_is_refused() {
        let tmp = tempfile::tempdir().expect("tmp");
        let input = tmp.path().join("in.parquet");
        let mut df = frame(10);
        ParquetWriter::new(File::create(&input).expect("create"))
            .finish(&mut df)
            .expect("write input");
        let e = write(
            &input,
            &tmp.path().join("out.parquet"),
            &[("score".into(), Values::F64(vec![1.0; 9]))],
            Compression::Zstd,
        )
        .expect_err("9 values for 10 rows");
        assert!(e.to_string().contains("9 values for 10 rows"), "{e}");
    }
}
