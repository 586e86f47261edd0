//! The SaaS events file: every day simulated in order, its events sorted and written as
//! CSV rows or Parquet row groups (the same rows either way). What a day holds is `user.rs`.

use std::io::Write;

use chrono::Datelike;
use polars::prelude::*;
use rand_chacha::ChaCha8Rng;

use super::text::{date, push_num, push_time, DAY};
use super::user::User;
use super::vocabulary::{Ev, EVENT_VOCABULARY, NO_VALUE};
use super::GenerateConfig;

pub(super) type Buffered = std::io::BufWriter<std::fs::File>;

/// Simulates every day in order and hands each day's events, sorted by time, to `sink`;
/// returns the number of events.
fn simulate_days(
    cfg: &GenerateConfig,
    users: &mut [(ChaCha8Rng, User)],
    mut sink: impl FnMut(u32, &[Ev]) -> std::io::Result<()>,
) -> std::io::Result<u64> {
    let weekday0 = cfg.start.weekday().num_days_from_monday();
    let (mut evs, mut rows) = (Vec::new(), 0);
    for d in 0..cfg.days {
        let calendar = ((weekday0 + d) % 7 >= 5, date(cfg.start, d).day());
        let signed_up = users.partition_point(|(_, u)| u.signup_day <= d);
        evs.clear();
        for (rng, user) in &mut users[..signed_up] {
            user.day(rng, d, calendar, &mut evs);
        }
        evs.sort_unstable_by_key(|e| (e.t, e.user, e.seq));
        sink(d, &evs)?;
        rows += evs.len() as u64;
    }
    Ok(rows)
}

/// Simulates every day and writes the sorted event rows to `w` as CSV; returns it and the
/// row count.
pub(super) fn simulate<W: Write>(
    cfg: &GenerateConfig,
    users: &mut [(ChaCha8Rng, User)],
    mut w: W,
) -> std::io::Result<(W, u64)> {
    w.write_all(b"user_id,timestamp,event,value,session_id\n")?;
    let mut text = Vec::new();
    let rows = simulate_days(cfg, users, |d, evs| {
        let prefix = date(cfg.start, d).format("%Y-%m-%dT").to_string();
        text.clear();
        for e in evs {
            push_num(&mut text, e.user);
            text.push(b',');
            text.extend_from_slice(prefix.as_bytes());
            push_time(&mut text, e.t);
            text.extend_from_slice(b"Z,");
            text.extend_from_slice(EVENT_VOCABULARY[usize::from(e.kind)].as_bytes());
            text.push(b',');
            if e.val != NO_VALUE {
                push_num(&mut text, e.val);
            }
            text.extend_from_slice(b",s");
            push_num(&mut text, e.user);
            text.push(b'-');
            push_num(&mut text, e.sess);
            text.push(b'\n');
        }
        w.write_all(&text)
    })?;
    Ok((w, rows))
}

/// Rows per Parquet row group: the generator holds one group in memory at a time.
const PARQUET_GROUP_ROWS: usize = 1 << 20;

/// The columns of the Parquet events file.
fn parquet_schema() -> Schema {
    Schema::from_iter([
        Field::new("user_id".into(), DataType::String),
        Field::new(
            "timestamp".into(),
            DataType::Datetime(TimeUnit::Milliseconds, Some(TimeZone::UTC)),
        ),
        Field::new("event".into(), DataType::String),
        Field::new("value".into(), DataType::Float64),
        Field::new("session_id".into(), DataType::String),
    ])
}

fn other(e: PolarsError) -> std::io::Error {
    std::io::Error::other(e.to_string())
}

/// One Parquet row group being filled, column by column.
#[derive(Default)]
struct Group {
    user: Vec<String>,
    ts: Vec<i64>,
    event: Vec<&'static str>,
    value: Vec<Option<f64>>,
    session: Vec<String>,
}

impl Group {
    /// Adds the events of a day starting at `midnight` (ms since the epoch).
    fn push(&mut self, midnight: i64, evs: &[Ev]) {
        for e in evs {
            self.user.push(e.user.to_string());
            self.ts.push(midnight + i64::from(e.t) * 1000);
            self.event.push(EVENT_VOCABULARY[usize::from(e.kind)]);
            self.value
                .push((e.val != NO_VALUE).then_some(f64::from(e.val)));
            self.session.push(format!("s{}-{}", e.user, e.sess));
        }
    }

    /// Writes the group (if it holds rows) as one row group and empties it.
    fn flush(
        &mut self,
        writer: &mut polars::io::parquet::write::BatchedWriter<&mut Buffered>,
    ) -> std::io::Result<()> {
        let height = self.ts.len();
        if height == 0 {
            return Ok(());
        }
        let ts = Int64Chunked::from_vec("timestamp".into(), std::mem::take(&mut self.ts))
            .into_datetime(TimeUnit::Milliseconds, Some(TimeZone::UTC));
        let df = DataFrame::new(
            height,
            vec![
                Column::new("user_id".into(), std::mem::take(&mut self.user)),
                ts.into_column(),
                Column::new("event".into(), std::mem::take(&mut self.event)),
                Column::new("value".into(), std::mem::take(&mut self.value)),
                Column::new("session_id".into(), std::mem::take(&mut self.session)),
            ],
        )
        .map_err(other)?;
        writer.write_batch(&df).map_err(other)
    }
}

/// Simulates every day and writes the events to `w` as Parquet (the same rows as the
/// CSV; `timestamp` a UTC datetime in milliseconds), one row group at a time.
pub(super) fn simulate_parquet(
    cfg: &GenerateConfig,
    users: &mut [(ChaCha8Rng, User)],
    w: &mut Buffered,
) -> std::io::Result<u64> {
    let mut writer = ParquetWriter::new(w)
        .with_compression(ParquetCompression::Snappy)
        .batched(&parquet_schema())
        .map_err(other)?;
    let mut group = Group::default();
    let rows = simulate_days(cfg, users, |d, evs| {
        let midnight = i64::from(d) * i64::from(DAY) * 1000
            + cfg
                .start
                .and_hms_opt(0, 0, 0)
                .map_or(0, |t| t.and_utc().timestamp_millis());
        group.push(midnight, evs);
        if group.ts.len() >= PARQUET_GROUP_ROWS {
            group.flush(&mut writer)?;
        }
        Ok(())
    })?;
    group.flush(&mut writer)?;
    writer.finish().map_err(other)?;
    Ok(rows)
}
