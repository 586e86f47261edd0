//! Parquet files and datasets, read eagerly by `polars-io` in batches of row groups.
//!
//! polars' lazy scan of Parquet needs its streaming engine, and with it an HTTP and TLS
//! stack churnrisk never uses (see `Cargo.toml`). Reading here keeps what that scan gave:
//! only the columns asked for are decoded, a query (checks, a shard's filter) runs on
//! each batch as it is read so memory holds the result rather than the log, rows are
//! numbered across the dataset from 1, and a folder's `key=value` directories are
//! columns (hive partitions).

use std::fs::File;
use std::path::{Path, PathBuf};

use polars::prelude::*;

use crate::error::{Error, Result};

/// Row groups are read together until a batch holds at least this many rows.
const BATCH_ROWS: usize = 1 << 20;

/// One file of a dataset and its partition values (`event_date=20260701` → column
/// `event_date`, value `20260701`).
struct Part {
    path: PathBuf,
    partitions: Vec<(String, String)>,
    /// Its footer, read once when the dataset is opened.
    metadata: polars_io::parquet::metadata::FileMetadataRef,
}

/// A Parquet file, or the Parquet files of a folder or glob read as one dataset.
pub(super) struct Dataset {
    parts: Vec<Part>,
    /// Every file's columns (the first file's, then those later files add: an export's
    /// schema grows, and a glob may join tables), then the partition columns, then the
    /// fields read out of JSON text ([`Dataset::with_json_fields`]).
    schema: Schema,
    /// Dotted fields read out of a text column holding JSON: (field, column, keys).
    json: Vec<JsonField>,
    /// Names asked for that a column has in another letter case: (name, column).
    aliases: Vec<(String, String)>,
}

/// `properties.$device_id` of a text column `properties` holding a JSON object per row
/// (PostHog's Parquet export): its column and the keys inside.
struct JsonField {
    name: String,
    column: String,
    keys: Vec<String>,
}

impl Dataset {
    /// Opens `files` (already listed in reading order) under `root`; the schema is every
    /// file's columns, in order of first appearance. Partition directories are read only
    /// below a folder `root`.
    pub(super) fn open(root: &Path, files: &[PathBuf]) -> Result<Self> {
        let mut parts: Vec<Part> = Vec::with_capacity(files.len());
        let mut schema = Schema::default();
        for f in files {
            let mut file_reader = reader(f)?;
            parts.push(Part {
                path: f.clone(),
                partitions: if root.is_dir() {
                    partitions(root, f)
                } else {
                    Vec::new()
                },
                metadata: file_reader.get_metadata()?.clone(),
            });
            for field in file_reader.schema()?.iter_values() {
                // Nested records (GA4's `event_params`) are never an event's field here, and
                // this build of polars has no struct type: such columns are not offered.
                if holds_record(field.dtype()) {
                    continue;
                }
                let dtype = DataType::from_arrow_field(field);
                match schema.get(&field.name) {
                    None => {
                        schema.with_column(field.name.clone(), dtype);
                    }
                    // Times with a zone in one file and none in another: both are UTC
                    // instants in Parquet, read as times without a zone (a cast this
                    // build makes in that direction only).
                    Some(DataType::Datetime(unit, Some(_)))
                        if matches!(dtype, DataType::Datetime(_, None)) =>
                    {
                        let unit = *unit;
                        schema.with_column(field.name.clone(), DataType::Datetime(unit, None));
                    }
                    Some(_) => {}
                }
            }
        }
        let first = parts
            .first()
            .ok_or_else(|| Error::EmptyInput { path: root.into() })?;
        for (key, value) in &first.partitions {
            if !schema.contains(key) {
                schema.with_column(key.as_str().into(), partition_type(value));
            }
        }
        Ok(Dataset {
            parts,
            schema,
            json: Vec::new(),
            aliases: Vec::new(),
        })
    }

    /// Offers each of `wanted` that is no column under its own name but one column's name
    /// in another letter case (Snowflake's `USER_ID` for `user_id`) under the name asked.
    pub(super) fn with_aliases(mut self, wanted: &[&str]) -> Self {
        let names: Vec<String> = self.schema.iter_names().map(|n| n.to_string()).collect();
        for w in wanted {
            if self.schema.contains(w) {
                continue;
            }
            let Some(i) = super::columns::column_position(&names, w) else {
                continue;
            };
            if let Some(dtype) = self.schema.get(&names[i]).cloned() {
                self.schema.with_column((*w).into(), dtype);
                self.aliases.push((w.to_string(), names[i].clone()));
            }
        }
        self
    }

    /// Offers each of `wanted` that is not a column but names a field inside a text column
    /// (`properties.$device_id`, `properties` holding JSON text: PostHog's Parquet export),
    /// read out of that column's JSON row by row, as a JSON-lines log's nested field is.
    pub(super) fn with_json_fields(mut self, wanted: &[&str]) -> Self {
        for w in wanted {
            let Some((column, rest)) = w.split_once('.') else {
                continue;
            };
            let text = self.schema.get(column).is_some_and(|d| d.is_string());
            if self.schema.contains(w) || !text {
                continue;
            }
            self.schema.with_column((*w).into(), DataType::String);
            self.json.push(JsonField {
                name: w.to_string(),
                column: column.to_string(),
                keys: rest.split('.').map(String::from).collect(),
            });
        }
        self
    }

    /// The columns to read for `columns`: a JSON field's text column in its place.
    fn stored<'a>(&'a self, columns: &[&'a str]) -> Vec<&'a str> {
        let mut out: Vec<&str> = Vec::new();
        for &c in columns {
            let c = match self.json.iter().find(|j| j.name == c) {
                Some(j) => j.column.as_str(),
                None => match self.aliases.iter().find(|(name, _)| name == c) {
                    Some((_, column)) => column.as_str(),
                    None => c,
                },
            };
            if !out.contains(&c) {
                out.push(c);
            }
        }
        out
    }

    /// Adds the JSON fields among `columns` to `df`, each row's JSON text parsed once per
    /// text column (text that is not JSON gives no value), and drops a text column read
    /// only for them.
    fn add_json_fields(&self, df: &mut DataFrame, columns: &[&str]) -> Result<()> {
        let fields: Vec<&JsonField> = self
            .json
            .iter()
            .filter(|j| columns.contains(&j.name.as_str()))
            .collect();
        let mut parents: Vec<&str> = Vec::new();
        for j in &fields {
            if !parents.contains(&j.column.as_str()) {
                parents.push(&j.column);
            }
        }
        for parent in parents {
            let mine: Vec<&JsonField> = fields
                .iter()
                .copied()
                .filter(|j| j.column == parent)
                .collect();
            let mut values: Vec<Vec<Option<String>>> =
                vec![Vec::with_capacity(df.height()); mine.len()];
            for text in df.column(parent)?.str()?.iter() {
                let json = text.and_then(|t| serde_json::from_str::<serde_json::Value>(t).ok());
                for (j, out) in mine.iter().zip(values.iter_mut()) {
                    let found = json.as_ref().and_then(|v| {
                        let at = j.keys.iter().try_fold(v, |v, k| v.get(k))?;
                        super::ndjson::as_text(at).map(|t| t.into_owned())
                    });
                    out.push(found);
                }
            }
            for (j, v) in mine.iter().zip(values) {
                df.with_column(Column::new(j.name.as_str().into(), v))?;
            }
            if !columns.contains(&parent) {
                df.drop_in_place(parent)?;
            }
        }
        Ok(())
    }

    /// Names the aliased columns among `asked` as asked (a copy when the column itself is
    /// asked for too).
    fn add_aliases(&self, df: &mut DataFrame, asked: &[&str]) -> Result<()> {
        for (name, column) in self
            .aliases
            .iter()
            .filter(|(n, _)| asked.contains(&n.as_str()))
        {
            if asked.contains(&column.as_str()) {
                let copy = df.column(column)?.clone().with_name(name.as_str().into());
                df.with_column(copy)?;
            } else {
                df.rename(column, name.as_str().into())?;
            }
        }
        Ok(())
    }

    /// The columns a query can name (the first file's, then its partition columns).
    pub(super) fn schema(&self) -> &Schema {
        &self.schema
    }

    /// Rows in the footers, summed over the files.
    #[cfg(test)]
    pub(super) fn rows(&self) -> Result<usize> {
        let mut n = 0;
        for part in &self.parts {
            n += reader(&part.path)?.num_rows()?;
        }
        Ok(n)
    }

    /// Reads `columns` of every file (partition columns included), numbers the rows from 1
    /// across the dataset in column `line`, runs `query` on each batch and stacks the
    /// results. A file without one of `columns` gives it as nulls; one no file has is an
    /// error.
    pub(super) fn collect(
        &self,
        columns: &[&str],
        line: &str,
        query: impl Fn(LazyFrame) -> LazyFrame,
    ) -> Result<DataFrame> {
        let mut out: Option<DataFrame> = None;
        let mut next_line: IdxSize = 1;
        let asked = columns;
        let stored = self.stored(columns);
        let columns = stored.as_slice();
        for part in &self.parts {
            let mut file_reader = reader(&part.path)?;
            file_reader.set_metadata(part.metadata.clone());
            let metadata = part.metadata.clone();
            let in_file: Vec<String> = {
                let schema = file_reader.schema()?;
                columns
                    .iter()
                    .filter(|c| schema.contains(c))
                    .map(|c| c.to_string())
                    .collect()
            };
            // Columns of other files (or another partition) this one lacks: nulls.
            let absent: Vec<&str> = columns
                .iter()
                .copied()
                .filter(|c| {
                    !in_file.iter().any(|f| f == c) && !part.partitions.iter().any(|(k, _)| k == c)
                })
                .collect();
            let mut start = 0;
            let mut groups = metadata
                .row_groups
                .iter()
                .map(|g| (g.num_rows(), g.compressed_size()))
                .peekable();
            while groups.peek().is_some() {
                let (mut len, mut bytes) = (0, 0);
                while len < BATCH_ROWS {
                    match groups.next() {
                        Some((n, b)) => (len, bytes) = (len + n, bytes + b),
                        None => break,
                    }
                }
                let mut batch_reader = reader(&part.path)?;
                batch_reader.set_metadata(metadata.clone());
                let mut df = batch_reader
                    .with_columns(Some(in_file.clone()))
                    .with_slice(Some((start, len)))
                    .with_row_index(Some(RowIndex {
                        name: line.into(),
                        offset: next_line,
                    }))
                    .finish()?;
                for (key, value) in &part.partitions {
                    if columns.contains(&key.as_str()) && !in_file.iter().any(|f| f == key) {
                        let column = partition_column(key, value, df.height());
                        df.with_column(column)?;
                    }
                }
                for c in &absent {
                    let Some(dtype) = self.schema.get(c) else {
                        return Err(Error::Polars(PolarsError::ColumnNotFound(
                            format!("{c} is in no file of the dataset").into(),
                        )));
                    };
                    df.with_column(Column::full_null((*c).into(), df.height(), dtype))?;
                }
                // Every file's batch in one column order, to be stacked.
                let mut df = df.select(std::iter::once(line).chain(columns.iter().copied()))?;
                // and one type: a time stored with or without a zone, or in another unit
                // (one warehouse's unload beside another's), as the dataset's.
                for c in columns {
                    let (Some(want), Ok(have)) = (self.schema.get(c), df.column(c)) else {
                        continue;
                    };
                    if have.dtype() != want && have.dtype().is_temporal() && want.is_temporal() {
                        let cast = have.cast(want)?;
                        df.with_column(cast)?;
                    }
                }
                let rows = IdxSize::try_from(len).map_err(|_| Error::CorruptFile {
                    path: part.path.clone(),
                    message: "more rows than this build counts".into(),
                    hint: "score the log in user-hash shards",
                })?;
                next_line += rows;
                start += len;
                super::progress::add(bytes as u64);
                self.add_aliases(&mut df, asked)?;
                self.add_json_fields(&mut df, asked)?;
                let result = query(df.lazy()).collect()?;
                out = Some(match out {
                    None => result,
                    Some(mut acc) => {
                        acc.vstack_mut(&result)?;
                        acc
                    }
                });
            }
        }
        match out {
            // In one chunk per batch: rechunking 10M rows cost 0.5 s and 100 MB (measured
            // on `check`), and nothing downstream needs one chunk.
            Some(df) => Ok(df),
            // Files without row groups: the query over no rows gives its columns.
            None => {
                let empty = DataFrame::empty_with_schema(&self.schema)
                    .with_row_index(line.into(), Some(1))?;
                Ok(query(empty.lazy()).collect()?)
            }
        }
    }
}

/// Whether a Parquet column's type is or holds a record (struct, map, union).
fn holds_record(dtype: &ArrowDataType) -> bool {
    match dtype {
        ArrowDataType::Struct(_) | ArrowDataType::Map(_, _) | ArrowDataType::Union(_) => true,
        ArrowDataType::List(f)
        | ArrowDataType::LargeList(f)
        | ArrowDataType::FixedSizeList(f, _) => holds_record(f.dtype()),
        ArrowDataType::Extension(e) => holds_record(&e.inner),
        _ => false,
    }
}

fn reader(path: &Path) -> Result<ParquetReader<File>> {
    let file = File::open(path).map_err(|e| Error::read(path, e))?;
    Ok(ParquetReader::new(file))
}

/// The `key=value` directories between `root` and `file`, outermost first.
fn partitions(root: &Path, file: &Path) -> Vec<(String, String)> {
    let Ok(relative) = file.strip_prefix(root) else {
        return Vec::new();
    };
    let mut dirs: Vec<_> = relative.components().collect();
    dirs.pop(); // the file's own name
    dirs.iter()
        .filter_map(|c| {
            let c = c.as_os_str().to_str()?;
            let (key, value) = c.split_once('=')?;
            (!key.is_empty()).then(|| (key.to_string(), value.to_string()))
        })
        .collect()
}

/// A partition value's type: whole numbers are integers (as polars' hive reading has
/// them), anything else text.
fn partition_type(value: &str) -> DataType {
    match value.parse::<i64>() {
        Ok(_) => DataType::Int64,
        Err(_) => DataType::String,
    }
}

fn partition_column(key: &str, value: &str, height: usize) -> Column {
    match value.parse::<i64>() {
        Ok(n) => Column::new_scalar(key.into(), Scalar::from(n), height),
        Err(_) => Column::new_scalar(key.into(), Scalar::from(PlSmallStr::from(value)), height),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(path: &Path, df: &mut DataFrame, row_group: usize) {
        let file = File::create(path).unwrap();
        ParquetWriter::new(file)
            .with_row_group_size(Some(row_group))
            .finish(df)
            .unwrap();
    }

    #[test]
    fn files_with_other_columns_are_read_as_one_dataset() {
        // A warehouse's `tracks` (event) and `pages` (name) unloads in one glob; a later
        // file adds a column, in another order.
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a.parquet"), dir.path().join("b.parquet"));
        write(
            &a,
            &mut df!("user_id" => ["u1"], "event" => ["signed_up"]).unwrap(),
            10,
        );
        write(
            &b,
            &mut df!("name" => ["Home", "Pricing"], "user_id" => ["u2", "u3"], "value" => [1.5, 2.0]).unwrap(),
            10,
        );
        let set = Dataset::open(dir.path(), &[a.clone(), b.clone()]).unwrap();
        let names: Vec<&str> = set.schema().iter_names().map(|n| n.as_str()).collect();
        assert_eq!(names, ["user_id", "event", "name", "value"]);
        let out = set
            .collect(&["user_id", "event", "name", "value"], "line", |lf| lf)
            .unwrap();
        let text = |c: &str| -> Vec<Option<String>> {
            let col = out.column(c).unwrap().str().unwrap().clone();
            col.iter().map(|v| v.map(String::from)).collect()
        };
        assert_eq!(
            text("user_id"),
            [Some("u1".into()), Some("u2".into()), Some("u3".into())]
        );
        assert_eq!(text("event"), [Some("signed_up".into()), None, None]);
        assert_eq!(
            text("name"),
            [None, Some("Home".into()), Some("Pricing".into())]
        );
        let value: Vec<Option<f64>> = out.column("value").unwrap().f64().unwrap().iter().collect();
        assert_eq!(value, [None, Some(1.5), Some(2.0)]);
        let lines: Vec<Option<IdxSize>> =
            out.column("line").unwrap().idx().unwrap().iter().collect();
        assert_eq!(lines, [Some(1), Some(2), Some(3)]);
    }

    #[test]
    fn times_stored_in_other_units_and_zones_are_read_as_one() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a.parquet"), dir.path().join("b.parquet"));
        let ms = 1_782_900_000_000i64;
        let time = |v: i64, unit: TimeUnit, zone: Option<TimeZone>| {
            Column::new("ts".into(), [v])
                .cast(&DataType::Datetime(unit, zone))
                .unwrap()
        };
        let mut first =
            DataFrame::new(1, vec![time(ms * 1000, TimeUnit::Microseconds, None)]).unwrap();
        let mut second = DataFrame::new(
            1,
            vec![time(
                ms * 1_000_000,
                TimeUnit::Nanoseconds,
                Some(TimeZone::UTC),
            )],
        )
        .unwrap();
        write(&a, &mut first, 10);
        write(&b, &mut second, 10);
        // In either order (the zoned file first failed to stack).
        for files in [[a.clone(), b.clone()], [b, a]] {
            let set = Dataset::open(dir.path(), &files).unwrap();
            let out = set.collect(&["ts"], "line", |lf| lf).unwrap();
            let ts = out.column("ts").unwrap();
            let per_ms = match ts.dtype() {
                DataType::Datetime(TimeUnit::Nanoseconds, _) => 1_000_000,
                _ => 1000,
            };
            let ts = ts.cast(&DataType::Int64).unwrap();
            let ts: Vec<Option<i64>> = ts.i64().unwrap().iter().collect();
            assert_eq!(ts, [Some(ms * per_ms), Some(ms * per_ms)], "{files:?}");
        }
    }

    #[test]
    fn a_column_in_capitals_is_read_under_the_name_asked() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("e.parquet");
        let mut df = df!(
            "USER_ID" => ["u1", "u2"],
            "EVENT" => ["a", "b"],
            "Id" => ["x", "y"],
            "ID" => ["X", "Y"],
        )
        .unwrap();
        write(&p, &mut df, 10);
        let set = Dataset::open(&p, std::slice::from_ref(&p))
            .unwrap()
            .with_aliases(&["user_id", "event", "EVENT", "id", "missing"]);
        // `id` is two columns in other cases: neither is guessed.
        assert!(!set.schema().contains("id") && !set.schema().contains("missing"));
        let out = set
            .collect(&["user_id", "event", "EVENT"], "line", |lf| lf)
            .unwrap();
        let text = |c: &str| -> Vec<String> {
            let col = out.column(c).unwrap().str().unwrap().clone();
            col.iter()
                .map(|v| v.unwrap_or_default().to_string())
                .collect()
        };
        assert_eq!(text("user_id"), ["u1", "u2"]);
        // Asked for under both names: both are there.
        assert_eq!(text("event"), ["a", "b"]);
        assert_eq!(text("EVENT"), ["a", "b"]);
        assert!(out.column("USER_ID").is_err());
    }

    #[test]
    fn fields_inside_json_text_are_read_and_text_that_is_not_json_gives_none() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("e.parquet");
        let mut df = df!(
            "distinct_id" => ["u1", "d-2", "u3", "u4"],
            "properties" => [
                Some(r#"{"$device_id": "d-1", "$is_identified": true, "n": 2.0}"#),
                Some(r#"{"$device_id": "d-2", "$is_identified": false}"#),
                Some("not json {"),
                None,
            ],
        )
        .unwrap();
        write(&p, &mut df, 10);
        let wanted = [
            "distinct_id",
            "properties.$device_id",
            "properties.$is_identified",
            "properties.n",
            "other.x",
        ];
        let set = Dataset::open(&p, std::slice::from_ref(&p))
            .unwrap()
            .with_json_fields(&wanted);
        // A field of a column that is not there is not offered.
        assert!(!set.schema().contains("other.x"));
        let asked = &wanted[..4];
        let out = set.collect(asked, "line", |lf| lf).unwrap();
        let text = |c: &str| -> Vec<Option<String>> {
            let col = out.column(c).unwrap().str().unwrap().clone();
            col.iter().map(|v| v.map(String::from)).collect()
        };
        let some = |v: &str| Some(v.to_string());
        assert_eq!(
            text("properties.$device_id"),
            [some("d-1"), some("d-2"), None, None]
        );
        assert_eq!(
            text("properties.$is_identified"),
            [some("true"), some("false"), None, None]
        );
        // Numbers read as JSON lines read them (an integral float as the integer).
        assert_eq!(text("properties.n"), [some("2"), None, None, None]);
        // The text column read only for its fields is not kept; every row is.
        assert!(out.column("properties").is_err());
        assert_eq!(out.height(), 4);
    }

    #[test]
    fn reads_a_dataset_in_batches_with_lines_across_files_and_partition_columns() {
        let dir = tempfile::tempdir().unwrap();
        let mut files = Vec::new();
        for (day, n) in [("20260701", 5i64), ("20260702", 3)] {
            let folder = dir.path().join(format!("event_date={day}"));
            std::fs::create_dir_all(&folder).unwrap();
            let ts: Vec<i64> = (0..n).collect();
            let users: Vec<String> = (0..n).map(|i| format!("u{i}")).collect();
            let mut df = DataFrame::new(
                n as usize,
                vec![
                    Column::new("ts".into(), ts),
                    Column::new("user".into(), users),
                ],
            )
            .unwrap();
            let f = folder.join("part.parquet");
            write(&f, &mut df, 2);
            files.push(f);
        }
        let set = Dataset::open(dir.path(), &files).unwrap();
        assert_eq!(set.rows().unwrap(), 8);
        assert_eq!(set.schema().get("event_date"), Some(&DataType::Int64));
        let df = set
            .collect(&["ts", "event_date"], "line", |lf| {
                lf.filter(col("ts").gt_eq(lit(1i64)))
            })
            .unwrap();
        let lines: Vec<_> = df
            .column("line")
            .unwrap()
            .idx()
            .unwrap()
            .into_no_null_iter()
            .collect();
        assert_eq!(lines, [2, 3, 4, 5, 7, 8]);
        let days: Vec<_> = df
            .column("event_date")
            .unwrap()
            .i64()
            .unwrap()
            .into_no_null_iter()
            .collect();
        assert_eq!(
            days,
            [20260701, 20260701, 20260701, 20260701, 20260702, 20260702]
        );
        // "user" was not asked for, so it is not read.
        assert!(df.column("user").is_err());
        // A column no file has is named.
        let err = set.collect(&["nope"], "line", |lf| lf).unwrap_err();
        assert!(err.to_string().contains("nope"), "{err}");
    }
}
