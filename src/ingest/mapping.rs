//! Where the canonical event fields come from in a user's export: the column (or JSON
//! field) for each of `user_id`, `event`, `timestamp`, `event_id`, `value`, `session_id`,
//! with fallbacks (an anonymous id when the user id is missing) and the timestamp's unit.
//!
//! Presets hold the field names of the analytics tools' own exports; `[inputs.columns]`
//! in the config (or `--column` on the command line) overrides any field of a preset or
//! of the default (the canonical names themselves).

use serde::Deserialize;

use crate::error::{Error, Result};

/// The unit of a numeric timestamp (epoch-based). `Auto` reads |n| ≥ 10^11 as
/// milliseconds and smaller numbers as seconds; text dates are read as ISO-8601 either way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TimestampUnit {
    #[default]
    Auto,
    S,
    Ms,
    Us,
    Ns,
}

impl TimestampUnit {
    pub fn parse(text: &str) -> Result<Self> {
        Ok(match text {
            "auto" => TimestampUnit::Auto,
            "s" => TimestampUnit::S,
            "ms" => TimestampUnit::Ms,
            "us" => TimestampUnit::Us,
            "ns" => TimestampUnit::Ns,
            other => {
                return Err(Error::InvalidArgument {
                    name: "timestamp_unit".into(),
                    message: format!("{other:?} is not one of auto, s, ms, us, ns"),
                })
            }
        })
    }

    /// Epoch milliseconds from a number in this unit (`Auto`: by magnitude).
    pub fn to_ms(self, n: f64) -> f64 {
        match self {
            TimestampUnit::Auto if n.abs() >= 1e11 => n,
            TimestampUnit::Auto | TimestampUnit::S => n * 1e3,
            TimestampUnit::Ms => n,
            TimestampUnit::Us => n / 1e3,
            TimestampUnit::Ns => n / 1e6,
        }
    }

    /// Epoch milliseconds from an integer in this unit, exactly (floors sub-millisecond).
    pub fn int_to_ms(self, n: i64) -> i64 {
        match self {
            TimestampUnit::Auto if n.unsigned_abs() >= 100_000_000_000 => n,
            TimestampUnit::Auto | TimestampUnit::S => n.saturating_mul(1000),
            TimestampUnit::Ms => n,
            TimestampUnit::Us => n.div_euclid(1000),
            TimestampUnit::Ns => n.div_euclid(1_000_000),
        }
    }
}

/// The analytics exports churnrisk reads as they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Preset {
    /// Segment (S3/warehouse export): userId or anonymousId, event (or the call's type),
    /// ISO timestamp, messageId.
    Segment,
    /// Amplitude export: user_id or device_id, event_type, event_time (UTC), $insert_id
    /// or uuid.
    Amplitude,
    /// Mixpanel raw export: event, properties.distinct_id, properties.time (epoch
    /// seconds), properties.$insert_id.
    Mixpanel,
    /// Snowplow enriched events: user_id or domain_userid, event_name, derived_tstamp,
    /// event_id, domain_sessionid.
    Snowplow,
    /// Google Analytics 4 BigQuery export: user_id or user_pseudo_id, event_name,
    /// event_timestamp (epoch microseconds).
    Ga4,
}

impl Preset {
    pub fn name(self) -> &'static str {
        match self {
            Preset::Segment => "segment",
            Preset::Amplitude => "amplitude",
            Preset::Mixpanel => "mixpanel",
            Preset::Snowplow => "snowplow",
            Preset::Ga4 => "ga4",
        }
    }

    pub fn parse(text: &str) -> Result<Self> {
        <Preset as clap::ValueEnum>::from_str(text, true).map_err(|_| Error::InvalidArgument {
            name: "preset".into(),
            message: format!("{text:?} is not one of segment, amplitude, mixpanel, snowplow, ga4"),
        })
    }
}

/// Source fields of the canonical event fields. Each text field lists its sources in
/// order: the first non-empty one wins (so `user_id = ["userId", "anonymousId"]` falls
/// back to the anonymous id). A dotted name (`properties.time`) is a column of that
/// exact name, or in JSON the nested field.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnMap {
    pub user_id: Vec<String>,
    pub event: Vec<String>,
    pub timestamp: String,
    pub timestamp_unit: TimestampUnit,
    /// De-duplication key: a repeated id (for the same user) keeps its first row.
    pub event_id: Vec<String>,
    pub value: Option<String>,
    pub session_id: Vec<String>,
    /// The preset this map started from, for messages.
    pub preset: Option<Preset>,
}

impl Default for ColumnMap {
    fn default() -> Self {
        ColumnMap {
            user_id: vec!["user_id".into()],
            event: vec!["event".into()],
            timestamp: "timestamp".into(),
            timestamp_unit: TimestampUnit::Auto,
            event_id: vec!["event_id".into()],
            value: Some("value".into()),
            session_id: vec!["session_id".into()],
            preset: None,
        }
    }
}

fn names(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

impl ColumnMap {
    /// The field names of an analytics tool's export.
    pub fn preset(preset: Preset) -> Self {
        let base = ColumnMap {
            preset: Some(preset),
            value: None,
            session_id: Vec::new(),
            ..ColumnMap::default()
        };
        match preset {
            Preset::Segment => ColumnMap {
                user_id: names(&["userId", "anonymousId"]),
                // page, screen and identify calls carry no event name: their type is one.
                event: names(&["event", "type"]),
                timestamp: "timestamp".into(),
                event_id: names(&["messageId"]),
                ..base
            },
            Preset::Amplitude => ColumnMap {
                user_id: names(&["user_id", "device_id"]),
                event: names(&["event_type"]),
                timestamp: "event_time".into(),
                event_id: names(&["$insert_id", "uuid"]),
                session_id: names(&["session_id"]),
                ..base
            },
            Preset::Mixpanel => ColumnMap {
                user_id: names(&["properties.distinct_id"]),
                event: names(&["event"]),
                timestamp: "properties.time".into(),
                timestamp_unit: TimestampUnit::S,
                event_id: names(&["properties.$insert_id"]),
                ..base
            },
            Preset::Snowplow => ColumnMap {
                user_id: names(&["user_id", "domain_userid"]),
                event: names(&["event_name"]),
                timestamp: "derived_tstamp".into(),
                event_id: names(&["event_id"]),
                session_id: names(&["domain_sessionid"]),
                ..base
            },
            Preset::Ga4 => ColumnMap {
                user_id: names(&["user_id", "user_pseudo_id"]),
                event: names(&["event_name"]),
                timestamp: "event_timestamp".into(),
                timestamp_unit: TimestampUnit::Us,
                event_id: Vec::new(),
                ..base
            },
        }
    }

    /// A preset (or the default) with `overrides` applied.
    pub fn build(preset: Option<Preset>, overrides: &ColumnOverrides) -> Result<Self> {
        let mut map = preset.map(ColumnMap::preset).unwrap_or_default();
        overrides.apply(&mut map)?;
        Ok(map)
    }

    /// Applies `--column key=source[,fallback…]` arguments.
    pub fn with_arguments(mut self, args: &[String]) -> Result<Self> {
        let mut o = ColumnOverrides::default();
        for arg in args {
            let bad = |message: String| Error::InvalidArgument {
                name: "--column".into(),
                message,
            };
            let (key, value) = arg
                .split_once('=')
                .ok_or_else(|| bad(format!("{arg:?} is not KEY=COLUMN")))?;
            let list = || match value.split_once(',') {
                None => Sources::One(value.trim().to_string()),
                Some(_) => Sources::Many(value.split(',').map(|s| s.trim().to_string()).collect()),
            };
            match key.trim() {
                "user_id" => o.user_id = Some(list()),
                "anonymous_id" => o.anonymous_id = Some(list()),
                "event" => o.event = Some(list()),
                "timestamp" => o.timestamp = Some(value.trim().into()),
                "timestamp_unit" => o.timestamp_unit = Some(value.trim().into()),
                "event_id" => o.event_id = Some(list()),
                "value" => o.value = Some(value.trim().into()),
                "session_id" => o.session_id = Some(list()),
                other => {
                    return Err(bad(format!(
                        "unknown field {other:?} (user_id, anonymous_id, event, timestamp, \
                         timestamp_unit, event_id, value, session_id)"
                    )))
                }
            }
        }
        o.apply(&mut self)?;
        Ok(self)
    }

    /// Every source field this map reads, without repeats.
    pub fn sources(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        let all = self
            .user_id
            .iter()
            .chain(&self.event)
            .chain(std::iter::once(&self.timestamp))
            .chain(&self.event_id)
            .chain(self.value.iter())
            .chain(&self.session_id);
        for s in all {
            if !out.contains(&s.as_str()) {
                out.push(s);
            }
        }
        out
    }

    /// How this map is named in messages: the preset, or "column mapping".
    pub fn describe(&self) -> String {
        match self.preset {
            Some(p) => format!("preset {}", p.name()),
            None => "column mapping".into(),
        }
    }
}

/// One source field or a list of them (first non-empty wins).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum Sources {
    One(String),
    Many(Vec<String>),
}

impl Sources {
    fn to_vec(&self, field: &str) -> Result<Vec<String>> {
        let v: Vec<String> = match self {
            Sources::One(s) => vec![s.clone()],
            Sources::Many(v) => v.clone(),
        };
        let v: Vec<String> = v.into_iter().filter(|s| !s.is_empty()).collect();
        if v.is_empty() && matches!(field, "user_id" | "event") {
            return Err(Error::InvalidArgument {
                name: field.into(),
                message: "needs at least one source column".into(),
            });
        }
        Ok(v)
    }
}

/// `[inputs.columns]`: any field left out keeps the preset's (or the default) source.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ColumnOverrides {
    /// One column keeps the preset's anonymous-id fallback; a list replaces all sources.
    pub user_id: Option<Sources>,
    /// Used when the user id is empty (replaces a preset's fallback).
    pub anonymous_id: Option<Sources>,
    pub event: Option<Sources>,
    pub timestamp: Option<String>,
    /// `auto` (default), `s`, `ms`, `us` or `ns`.
    pub timestamp_unit: Option<String>,
    pub event_id: Option<Sources>,
    /// An empty string means "no value column".
    pub value: Option<String>,
    pub session_id: Option<Sources>,
}

impl ColumnOverrides {
    /// Replaces the sources of every field this names.
    pub fn apply(&self, map: &mut ColumnMap) -> Result<()> {
        if let Some(v) = &self.user_id {
            let fallbacks = map.user_id.split_off(1.min(map.user_id.len()));
            map.user_id = v.to_vec("user_id")?;
            // One column keeps the preset's anonymous fallback; a list says it all.
            if matches!(v, Sources::One(_)) && self.anonymous_id.is_none() {
                for f in fallbacks {
                    if !map.user_id.contains(&f) {
                        map.user_id.push(f);
                    }
                }
            }
        }
        if let Some(v) = &self.anonymous_id {
            // The anonymous id replaces any fallback after the user id.
            map.user_id.truncate(1);
            map.user_id.extend(v.to_vec("anonymous_id")?);
        }
        if let Some(v) = &self.event {
            map.event = v.to_vec("event")?;
        }
        if let Some(v) = &self.timestamp {
            map.timestamp = v.clone();
        }
        if let Some(v) = &self.timestamp_unit {
            map.timestamp_unit = TimestampUnit::parse(v)?;
        }
        if let Some(v) = &self.event_id {
            map.event_id = v.to_vec("event_id")?;
        }
        if let Some(v) = &self.value {
            map.value = Some(v.clone()).filter(|v| !v.is_empty());
        }
        if let Some(v) = &self.session_id {
            map.session_id = v.to_vec("session_id")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_name_their_exports_fields() {
        let m = ColumnMap::preset(Preset::Mixpanel);
        assert_eq!(m.user_id, ["properties.distinct_id"]);
        assert_eq!(m.timestamp_unit, TimestampUnit::S);
        let g = ColumnMap::preset(Preset::Ga4);
        assert_eq!(g.user_id, ["user_id", "user_pseudo_id"]);
        assert_eq!(g.timestamp_unit, TimestampUnit::Us);
        assert!(g.event_id.is_empty());
        assert_eq!(
            ColumnMap::preset(Preset::Segment).sources(),
            [
                "userId",
                "anonymousId",
                "event",
                "type",
                "timestamp",
                "messageId"
            ]
        );
    }

    #[test]
    fn overrides_replace_only_what_they_name() {
        let o: ColumnOverrides = toml::from_str(
            "user_id = \"uid\"\nanonymous_id = [\"anon\"]\ntimestamp_unit = \"ms\"\nvalue = \"\"",
        )
        .unwrap();
        let m = ColumnMap::build(Some(Preset::Amplitude), &o).unwrap();
        assert_eq!(m.user_id, ["uid", "anon"]);
        assert_eq!(m.event, ["event_type"]);
        assert_eq!(m.timestamp_unit, TimestampUnit::Ms);
        assert_eq!(m.value, None);
        let m = ColumnMap::preset(Preset::Segment)
            .with_arguments(&["anonymous_id=anon_id".into(), "event=name,kind".into()])
            .unwrap();
        assert_eq!(m.user_id, ["userId", "anon_id"]);
        assert_eq!(m.event, ["name", "kind"]);
        assert_eq!(m.event_id, ["messageId"]);
        // One user column keeps the anonymous fallback; a list replaces it.
        let one = ColumnMap::preset(Preset::Segment)
            .with_arguments(&["user_id=uid".into()])
            .unwrap();
        assert_eq!(one.user_id, ["uid", "anonymousId"]);
        let list = ColumnMap::preset(Preset::Segment)
            .with_arguments(&["user_id=uid,other".into()])
            .unwrap();
        assert_eq!(list.user_id, ["uid", "other"]);
        assert!(ColumnMap::default()
            .with_arguments(&["colour=red".into()])
            .is_err());
        assert!(toml::from_str::<ColumnOverrides>("userid = \"x\"").is_err());
        assert!(ColumnMap::build(
            None,
            &ColumnOverrides {
                timestamp_unit: Some("days".into()),
                ..Default::default()
            }
        )
        .is_err());
    }

    #[test]
    fn units_convert_to_milliseconds() {
        assert_eq!(TimestampUnit::S.int_to_ms(1_700_000_000), 1_700_000_000_000);
        assert_eq!(
            TimestampUnit::Us.int_to_ms(1_700_000_000_123_456),
            1_700_000_000_123
        );
        assert_eq!(
            TimestampUnit::Ns.int_to_ms(1_700_000_000_123_456_789),
            1_700_000_000_123
        );
        assert_eq!(
            TimestampUnit::Auto.int_to_ms(1_700_000_000),
            1_700_000_000_000
        );
        assert_eq!(
            TimestampUnit::Auto.int_to_ms(1_700_000_000_000),
            1_700_000_000_000
        );
        assert_eq!(
            TimestampUnit::S.to_ms(1_700_000_000.25),
            1_700_000_000_250.0
        );
    }
}
