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
    /// Segment (S3/webhook JSON, or its warehouse tables): userId (user_id) or anonymousId
    /// (anonymous_id), event (or the call's type), ISO timestamp, messageId (id).
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
    /// PostHog batch export (JSONLines): distinct_id (anonymous where properties.$is_identified
    /// is false or it equals properties.$device_id), event, timestamp, uuid,
    /// properties.$session_id; $identify and $set are identity calls.
    Posthog,
}

impl Preset {
    pub fn name(self) -> &'static str {
        match self {
            Preset::Segment => "segment",
            Preset::Amplitude => "amplitude",
            Preset::Mixpanel => "mixpanel",
            Preset::Snowplow => "snowplow",
            Preset::Ga4 => "ga4",
            Preset::Posthog => "posthog",
        }
    }

    pub fn parse(text: &str) -> Result<Self> {
        <Preset as clap::ValueEnum>::from_str(text, true).map_err(|_| Error::InvalidArgument {
            name: "preset".into(),
            message: format!(
                "{text:?} is not one of segment, amplitude, mixpanel, snowplow, ga4, posthog"
            ),
        })
    }
}

/// Source fields of the canonical event fields. Each text field lists its sources in
/// order: the first non-empty one wins. A dotted name (`properties.time`) is a column of
/// that exact name, or in JSON the nested field.
///
/// Identity: `user_id` names the identified user (the one the list is about) and
/// `anonymous_id` the visitor or device before sign-in. An event that carries both links
/// the two; an event with only an anonymous id belongs to the user it is linked to, and
/// is anonymous traffic (never scored) when it is linked to none. See
/// [`super::identity`].
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnMap {
    pub user_id: Vec<String>,
    /// Anonymous (device, cookie) ids: used to link a visitor's events to the user it
    /// later identifies as; never scored themselves.
    pub anonymous_id: Vec<String>,
    /// A user id starting with one of these is anonymous (Mixpanel's `$device:`).
    pub anonymous_prefixes: Vec<String>,
    /// A column that is `false` on rows sent while the user was not identified (PostHog's
    /// `properties.$is_identified`): the row's user id is then an anonymous id (after a
    /// logout, PostHog's SDK sends a fresh anonymous distinct_id under the old device).
    pub identified_flag: Option<String>,
    pub event: Vec<String>,
    pub timestamp: String,
    pub timestamp_unit: TimestampUnit,
    /// De-duplication key: a repeated id (for the same user) keeps its first row.
    pub event_id: Vec<String>,
    pub value: Option<String>,
    pub session_id: Vec<String>,
    /// Session ids that mean "no session" (Amplitude's `-1`).
    pub no_session: Vec<String>,
    /// Events that are identity calls, not product use (Segment `identify`): they link
    /// ids, then are dropped and counted.
    pub identity_events: Vec<String>,
    /// Events that are not product use (GA4's `app_remove`, the feature definitions'
    /// `[events] ignore`): dropped and counted, linking nothing.
    pub not_use: Vec<String>,
    /// Columns the user named (`--column`, `[inputs.columns]`): each must be in the file.
    pub named: Vec<String>,
    /// The preset this map started from, for messages.
    pub preset: Option<Preset>,
}

impl Default for ColumnMap {
    fn default() -> Self {
        ColumnMap {
            user_id: vec!["user_id".into()],
            anonymous_id: Vec::new(),
            anonymous_prefixes: Vec::new(),
            identified_flag: None,
            event: vec!["event".into()],
            timestamp: "timestamp".into(),
            timestamp_unit: TimestampUnit::Auto,
            event_id: vec!["event_id".into()],
            value: Some("value".into()),
            session_id: vec!["session_id".into()],
            no_session: Vec::new(),
            identity_events: Vec::new(),
            not_use: Vec::new(),
            named: Vec::new(),
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
            // Its S3 and webhook JSON, else its warehouse tables' columns (`tracks`:
            // `user_id`, `anonymous_id`, `id`; Snowflake's in capitals).
            Preset::Segment => ColumnMap {
                user_id: names(&["userId", "user_id"]),
                anonymous_id: names(&["anonymousId", "anonymous_id"]),
                // page and screen calls carry no event name: their type is one.
                event: names(&["event", "type"]),
                timestamp: "timestamp".into(),
                event_id: names(&["messageId", "id"]),
                // The Track spec's reserved property for the revenue an event brought.
                value: Some("properties.revenue".into()),
                // identify, group and alias calls tie ids and traits, not product use.
                identity_events: names(&["identify", "group", "alias"]),
                ..base
            },
            Preset::Amplitude => ColumnMap {
                user_id: names(&["user_id"]),
                anonymous_id: names(&["device_id"]),
                event: names(&["event_type"]),
                timestamp: "event_time".into(),
                event_id: names(&["$insert_id", "uuid"]),
                session_id: names(&["session_id"]),
                // Amplitude writes -1 for an event outside any session.
                no_session: names(&["-1"]),
                identity_events: names(&["$identify", "$groupidentify"]),
                ..base
            },
            Preset::Mixpanel => ColumnMap {
                // Simplified ID merge: `$user_id` once identified, `distinct_id` is
                // `$device:<id>` before; original ID merge: `distinct_id` only.
                user_id: names(&["properties.$user_id", "properties.distinct_id"]),
                anonymous_id: names(&["properties.$device_id", "properties.$anon_distinct_id"]),
                anonymous_prefixes: names(&["$device:"]),
                event: names(&["event"]),
                timestamp: "properties.time".into(),
                // Seconds by default, milliseconds with the export's `time_in_ms`.
                timestamp_unit: TimestampUnit::Auto,
                event_id: names(&["properties.$insert_id"]),
                identity_events: names(&["$identify", "$create_alias", "$merge"]),
                ..base
            },
            Preset::Snowplow => ColumnMap {
                user_id: names(&["user_id"]),
                anonymous_id: names(&["domain_userid"]),
                // A structured event's name is its action (its `event_name` is `event`);
                // self-describing events and page views carry none.
                event: names(&["se_action", "event_name"]),
                timestamp: "derived_tstamp".into(),
                event_id: names(&["event_id"]),
                value: Some("se_value".into()),
                session_id: names(&["domain_sessionid"]),
                ..base
            },
            Preset::Ga4 => ColumnMap {
                user_id: names(&["user_id"]),
                anonymous_id: names(&["user_pseudo_id"]),
                event: names(&["event_name"]),
                timestamp: "event_timestamp".into(),
                timestamp_unit: TimestampUnit::Us,
                event_id: Vec::new(),
                // The event's `value` parameter in US dollars (BigQuery export schema).
                value: Some("event_value_in_usd".into()),
                // Sent when the app is uninstalled (Android): the opposite of use.
                not_use: names(&["app_remove"]),
                ..base
            },
            Preset::Posthog => ColumnMap {
                // Before `identify` the SDK's distinct_id is the device's anonymous id (equal
                // to `$device_id`: anonymous); `$identify` carries the identified id with
                // the one it replaces in `$anon_distinct_id`.
                user_id: names(&["distinct_id"]),
                anonymous_id: names(&["properties.$anon_distinct_id", "properties.$device_id"]),
                identified_flag: Some("properties.$is_identified".into()),
                event: names(&["event"]),
                timestamp: "timestamp".into(),
                event_id: names(&["uuid"]),
                session_id: names(&["properties.$session_id"]),
                // Identity and person-property calls: a server-side `$set` sync does not
                // keep a departed user active. Pageviews, autocapture and feature-flag
                // checks are presence and stay.
                identity_events: names(&[
                    "$identify",
                    "$set",
                    "$groupidentify",
                    "$create_alias",
                    "$merge_dangerously",
                ]),
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
                name: "column".into(),
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
                "identity_events" => {
                    o.identity_events = Some(
                        value
                            .split(',')
                            .map(|s| s.trim().to_string())
                            .filter(|s| !s.is_empty())
                            .collect(),
                    )
                }
                other => {
                    return Err(bad(format!(
                        "unknown field {other:?} (user_id, anonymous_id, event, timestamp, \
                         timestamp_unit, event_id, value, session_id, identity_events)"
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
            .chain(&self.anonymous_id)
            .chain(&self.event)
            .chain(std::iter::once(&self.timestamp))
            .chain(&self.event_id)
            .chain(self.value.iter())
            .chain(&self.session_id)
            .chain(self.identified_flag.iter());
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
        if v.is_empty() && matches!(field, "user_id" | "event" | "timestamp") {
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
    /// The identified user's id (replaces the preset's; its anonymous id stays).
    pub user_id: Option<Sources>,
    /// The anonymous (device, cookie) id that links pre-sign-in events to the user
    /// (replaces the preset's; an empty list means none).
    pub anonymous_id: Option<Sources>,
    pub event: Option<Sources>,
    pub timestamp: Option<String>,
    /// `auto` (default), `s`, `ms`, `us` or `ns`.
    pub timestamp_unit: Option<String>,
    pub event_id: Option<Sources>,
    /// An empty string means "no value column".
    pub value: Option<String>,
    pub session_id: Option<Sources>,
    /// Event names that are identity calls, not product use (replaces the preset's list).
    pub identity_events: Option<Vec<String>>,
}

impl ColumnOverrides {
    /// Replaces the sources of every field this names, and records the named columns
    /// (each must then be in the file).
    pub fn apply(&self, map: &mut ColumnMap) -> Result<()> {
        let mut named: Vec<String> = Vec::new();
        let mut take = |field: &str, v: &Sources| -> Result<Vec<String>> {
            let list = v.to_vec(field)?;
            named.extend(list.iter().cloned());
            Ok(list)
        };
        if let Some(v) = &self.user_id {
            map.user_id = take("user_id", v)?;
        }
        if let Some(v) = &self.anonymous_id {
            map.anonymous_id = take("anonymous_id", v)?;
        }
        if let Some(v) = &self.event {
            map.event = take("event", v)?;
        }
        if let Some(v) = &self.timestamp {
            map.timestamp = take("timestamp", &Sources::One(v.clone()))?.remove(0);
        }
        if let Some(v) = &self.event_id {
            map.event_id = take("event_id", v)?;
        }
        if let Some(v) = &self.value {
            map.value = take("value", &Sources::One(v.clone()))?.pop();
        }
        if let Some(v) = &self.session_id {
            map.session_id = take("session_id", v)?;
        }
        if let Some(v) = &self.timestamp_unit {
            map.timestamp_unit = TimestampUnit::parse(v)?;
        }
        if let Some(v) = &self.identity_events {
            map.identity_events = v.clone();
        }
        for n in named {
            if !map.named.contains(&n) {
                map.named.push(n);
            }
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
        assert_eq!(m.user_id, ["properties.$user_id", "properties.distinct_id"]);
        assert_eq!(m.anonymous_prefixes, ["$device:"]);
        // Seconds or milliseconds (the export's time_in_ms), told apart by magnitude.
        assert_eq!(m.timestamp_unit, TimestampUnit::Auto);
        let g = ColumnMap::preset(Preset::Ga4);
        assert_eq!(g.user_id, ["user_id"]);
        assert_eq!(g.anonymous_id, ["user_pseudo_id"]);
        assert_eq!(g.timestamp_unit, TimestampUnit::Us);
        assert!(g.event_id.is_empty());
        assert_eq!(ColumnMap::preset(Preset::Amplitude).no_session, ["-1"]);
        let seg = ColumnMap::preset(Preset::Segment);
        assert_eq!(seg.identity_events, ["identify", "group", "alias"]);
        assert_eq!(
            seg.sources(),
            [
                "userId",
                "user_id",
                "anonymousId",
                "anonymous_id",
                "event",
                "type",
                "timestamp",
                "messageId",
                "id",
                "properties.revenue"
            ]
        );
        assert_eq!(g.value.as_deref(), Some("event_value_in_usd"));
        assert!(seg.named.is_empty());
    }

    #[test]
    fn overrides_replace_only_what_they_name() {
        let o: ColumnOverrides = toml::from_str(
            "user_id = \"uid\"\nanonymous_id = [\"anon\"]\ntimestamp_unit = \"ms\"\nvalue = \"\"\n\
             identity_events = [\"sync\"]",
        )
        .unwrap();
        let m = ColumnMap::build(Some(Preset::Amplitude), &o).unwrap();
        assert_eq!(m.user_id, ["uid"]);
        assert_eq!(m.anonymous_id, ["anon"]);
        assert_eq!(m.event, ["event_type"]);
        assert_eq!(m.timestamp_unit, TimestampUnit::Ms);
        assert_eq!(m.value, None);
        assert_eq!(m.identity_events, ["sync"]);
        // The columns named must be in the file; the preset's own need not be.
        assert_eq!(m.named, ["uid", "anon"]);
        let m = ColumnMap::preset(Preset::Segment)
            .with_arguments(&["anonymous_id=anon_id".into(), "event=name,kind".into()])
            .unwrap();
        assert_eq!(m.user_id, ["userId", "user_id"]);
        assert_eq!(m.anonymous_id, ["anon_id"]);
        assert_eq!(m.event, ["name", "kind"]);
        assert_eq!(m.event_id, ["messageId", "id"]);
        assert_eq!(m.named, ["anon_id", "name", "kind"]);
        // A user column keeps the preset's anonymous id.
        let one = ColumnMap::preset(Preset::Segment)
            .with_arguments(&["user_id=uid".into()])
            .unwrap();
        assert_eq!(one.user_id, ["uid"]);
        assert_eq!(one.anonymous_id, ["anonymousId", "anonymous_id"]);
        // Identity calls on the command line: a list, replacing the preset's.
        let calls = ColumnMap::preset(Preset::Posthog)
            .with_arguments(&["identity_events=$identify, $set,".into()])
            .unwrap();
        assert_eq!(calls.identity_events, ["$identify", "$set"]);
        assert_eq!(
            calls.identified_flag.as_deref(),
            Some("properties.$is_identified")
        );
        assert!(calls.sources().contains(&"properties.$is_identified"));
        assert!(ColumnMap::default()
            .with_arguments(&["colour=red".into()])
            .is_err());
        assert!(ColumnMap::default()
            .with_arguments(&["timestamp=".into()])
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
