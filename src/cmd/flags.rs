//! The library's errors in this binary's words: a setting an error points to is named by
//! the flag that sets it. The library names settings by their config keys or plain words
//! and knows no flag; the text a user sees is the one it always was.

use churnrisk::error::{Error, InputSetProblem};
use churnrisk::ingest::Shard;

/// The column names `--header` / `[inputs] header` gives a headerless log: comma-separated,
/// trimmed, none empty and none twice.
pub fn header_names(text: &str) -> Result<Vec<String>, Error> {
    let names: Vec<String> = text.split(',').map(|n| n.trim().to_string()).collect();
    let problem = if names.iter().any(String::is_empty) {
        Some("a name is empty (names are separated by commas)".to_string())
    } else {
        names
            .iter()
            .enumerate()
            .find(|(i, n)| names[..*i].contains(n))
            .map(|(_, n)| format!("`{n}` is named twice"))
    };
    match problem {
        Some(message) => Err(Error::InvalidArgument {
            name: "header (`[inputs] header`, `--header`)".into(),
            message,
        }),
        None => Ok(names),
    }
}

/// `--shard`'s value (clap's parser): a [`Shard`], its refusal naming the flag.
pub fn shard(text: &str) -> Result<Shard, Error> {
    text.parse().map_err(as_flag("shard", "--shard"))
}

/// An [`Error::InvalidArgument`] about the library's `setting`, named by `flag`; any other
/// error as it is.
pub fn as_flag(setting: &'static str, flag: &'static str) -> impl Fn(Error) -> Error {
    move |mut err| {
        if let Error::InvalidArgument { name, .. } = &mut err {
            if name == setting {
                *name = flag.into();
            }
        }
        err
    }
}

/// A failure of reading the event log, naming the flags that would mend it.
pub fn reading_events(mut err: Error) -> Error {
    match &mut err {
        Error::TooManyEvents { shard_setting, .. } => *shard_setting = "--shard".into(),
        Error::MissingColumn {
            preset_setting: Some(setting),
            ..
        } => *setting = "`--preset`, `[inputs] preset`".into(),
        Error::WrongDelimiter { setting, .. } => {
            *setting = "`[inputs] delimiter` in the config (`--delimiter` on the command line)"
        }
        _ => {}
    }
    err
}

/// A failure of `train`, naming the gate's flags.
pub fn training(mut err: Error) -> Error {
    if let Error::TooFewLabels { settings, .. } = &mut err {
        *settings = "`--min-churned`, `--min-retained`";
    }
    err
}

/// A failure of reading shard parts, saying how a part is written.
pub fn reading_parts(mut err: Error) -> Error {
    if let Error::BadInputSet {
        problem: InputSetProblem::NotAPart { how_to_write_one },
        ..
    } = &mut err
    {
        *how_to_write_one = Some("`churnrisk score --shard i/n --out part.jsonl`".into());
    }
    err
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_are_named_as_they_always_were() {
        assert_eq!(
            shard("0/3").unwrap_err().to_string(),
            "invalid --shard: \"0/3\" is not i/n with 1 ≤ i ≤ n (e.g. 1/8)"
        );
        let err = reading_events(Error::TooManyEvents {
            events: 5_000_000_000,
            max: u32::MAX,
            shard_setting: "shard".into(),
        });
        assert_eq!(
            err.to_string(),
            "invalid --shard: 5000000000 events are more than one process groups (4294967295); score the log in user-hash shards (--shard i/n, then merge)"
        );
        assert_eq!(err.kind(), "invalid_argument");
        let err = reading_events(Error::MissingColumn {
            path: "e.ndjson".into(),
            column: "user_id".into(),
            found: "uid".into(),
            preset_setting: Some("`[inputs] preset`".into()),
        });
        assert_eq!(
            err.to_string(),
            "e.ndjson: missing required column `user_id` (found: uid; an analytics export is read with a preset (`--preset`, `[inputs] preset`): segment, amplitude, mixpanel, snowplow, ga4 or posthog; any other file's columns are named with `[inputs.columns]` in a config or `--column FIELD=COLUMN` on the command line)"
        );
        let err = reading_events(Error::WrongDelimiter {
            path: "e.csv".into(),
            header: "user_id;event".into(),
            found: "semicolon",
            found_text: ";",
            expected: "comma",
            setting: "`[validation] delimiter` in the config",
        });
        assert!(
            err.to_string().ends_with(
                "set the delimiter to \";\" (or \"auto\"): `[inputs] delimiter` in the config (`--delimiter` on the command line)"
            ),
            "{err}"
        );
        let err = training(Error::TooFewLabels {
            what: "the validation date".into(),
            hint: String::new(),
            churned: 40,
            retained: 900,
            min_churned: 50,
            min_retained: 50,
            settings: "`[model] min_churned`, `min_retained`",
        });
        assert_eq!(
            err.to_string(),
            "not enough data: on the validation date, 40 churned and 900 retained users; the minimums are 50 churned and 50 retained (`--min-churned`, `--min-retained`; lower them only if you accept a noisier model)"
        );
        let err = reading_parts(Error::BadInputSet {
            path: "p.jsonl".into(),
            problem: InputSetProblem::NotAPart {
                how_to_write_one: None,
            },
        });
        assert_eq!(
            err.to_string(),
            "p.jsonl: not a shard part (write parts with `churnrisk score --shard i/n --out part.jsonl`)"
        );
        let other = as_flag("column", "--column")(Error::InvalidArgument {
            name: "timestamp_unit".into(),
            message: "m".into(),
        });
        assert_eq!(other.to_string(), "invalid timestamp_unit: m");
    }
}
