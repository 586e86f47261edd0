//! Subscriptions tables as billing systems export them: which column holds each field
//! (churnrisk's own names, the names Stripe's exports use, or a mapping), the statuses of
//! subscriptions that never started, and a plan's stated billing interval.
//!
//! Stripe's Dashboard export (Billing › Subscriptions › Export) names its columns
//! `Customer ID`, `Start Date (UTC)`, `Ended At (UTC)` (the real end), `Interval`, `Status`,
//! `Trial End (UTC)` and `Canceled At (UTC)` (when a cancellation was asked for: before the
//! end when the subscription runs to its period's end); Sigma and the Data Pipeline name them
//! `customer_id`, `start_date`, `ended_at`, `status`, `trial_end`, `canceled_at`. A customer id is Stripe's (`cus_…`): when the log's user ids are
//! the product's own, the column holding them (a metadata column such as
//! `user_id (metadata)`) is named with `--subscription-column user_id=…`.

use serde::Deserialize;

use super::columns::{apply_column_arguments, column_position};
use super::tables::Cycle;
use crate::error::{Error, Result};

/// One field of the subscriptions table: its name, the columns that hold it when no
/// mapping names one (first present wins), and whether the table must have it.
struct Field {
    name: &'static str,
    columns: &'static [&'static str],
    required: bool,
}

const FIELDS: [Field; 10] = [
    Field {
        name: "user_id",
        columns: &["user_id", "customer_id", "Customer ID", "customer"],
        required: true,
    },
    Field {
        name: "start_date",
        columns: &["start_date", "Start Date (UTC)"],
        required: true,
    },
    Field {
        name: "end_date",
        columns: &["end_date", "ended_at", "Ended At (UTC)"],
        required: true,
    },
    Field {
        name: "interval",
        columns: &["interval", "Interval", "plan_interval"],
        required: false,
    },
    Field {
        name: "interval_count",
        columns: &["interval_count", "Interval Count", "plan_interval_count"],
        required: false,
    },
    Field {
        name: "status",
        columns: &["status", "Status"],
        required: false,
    },
    Field {
        name: "trial_end",
        columns: &["trial_end", "Trial End (UTC)"],
        required: false,
    },
    Field {
        name: "canceled_at",
        columns: &["canceled_at", "Canceled At (UTC)"],
        required: false,
    },
    // The billing period running when the table was exported: Stripe's, Recurly's
    // (`current_period_started_at`/`_ends_at`) and Chargebee's (`current_term_start`/`_end`).
    Field {
        name: "current_period_start",
        columns: &[
            "current_period_start",
            "Current Period Start (UTC)",
            "current_period_started_at",
            "current_term_start",
        ],
        required: false,
    },
    Field {
        name: "current_period_end",
        columns: &[
            "current_period_end",
            "Current Period End (UTC)",
            "current_period_ends_at",
            "current_term_end",
        ],
        required: false,
    },
];

/// Stripe's statuses of a subscription whose first payment never succeeded: it was never
/// running, so it is neither a subscriber nor a churn.
pub const NEVER_STARTED: [&str; 2] = ["incomplete", "incomplete_expired"];

/// `[inputs.subscription_columns]` (and `--subscription-column FIELD=COLUMN`): the column
/// that holds a field, replacing the names churnrisk looks for.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubscriptionColumns {
    pub user_id: Option<String>,
    pub start_date: Option<String>,
    pub end_date: Option<String>,
    pub interval: Option<String>,
    pub interval_count: Option<String>,
    pub status: Option<String>,
    pub trial_end: Option<String>,
    /// When a cancellation was asked for (Stripe's `canceled_at`; the end is `end_date`).
    pub canceled_at: Option<String>,
    /// The start and end of the billing period running when the table was exported.
    pub current_period_start: Option<String>,
    pub current_period_end: Option<String>,
}

impl SubscriptionColumns {
    fn get(&self, field: &str) -> Option<&String> {
        match field {
            "user_id" => self.user_id.as_ref(),
            "start_date" => self.start_date.as_ref(),
            "end_date" => self.end_date.as_ref(),
            "interval" => self.interval.as_ref(),
            "interval_count" => self.interval_count.as_ref(),
            "status" => self.status.as_ref(),
            "trial_end" => self.trial_end.as_ref(),
            "canceled_at" => self.canceled_at.as_ref(),
            "current_period_start" => self.current_period_start.as_ref(),
            "current_period_end" => self.current_period_end.as_ref(),
            _ => None,
        }
    }

    /// The place of `field`'s column (`None`: no such field).
    fn slot<'a>(&'a mut self, field: &str) -> Option<&'a mut Option<String>> {
        match field {
            "user_id" => Some(&mut self.user_id),
            "start_date" => Some(&mut self.start_date),
            "end_date" => Some(&mut self.end_date),
            "interval" => Some(&mut self.interval),
            "interval_count" => Some(&mut self.interval_count),
            "status" => Some(&mut self.status),
            "trial_end" => Some(&mut self.trial_end),
            "canceled_at" => Some(&mut self.canceled_at),
            "current_period_start" => Some(&mut self.current_period_start),
            "current_period_end" => Some(&mut self.current_period_end),
            _ => None,
        }
    }

    /// These columns with `FIELD=COLUMN` arguments over them (the command line wins).
    pub fn with_arguments(mut self, args: &[String]) -> Result<Self> {
        let fields = FIELDS.map(|f| f.name);
        apply_column_arguments(&mut self, args, "subscription column", &fields, Self::slot)?;
        Ok(self)
    }

    /// The column of each field in a table with `header`, in the order of [`FIELDS`]
    /// (`None`: an optional field the table lacks). A mapped column must be in the header;
    /// a required field needs one of its columns.
    pub fn resolve(&self, path: &std::path::Path, header: &[String]) -> Result<Resolved> {
        // Whole: a billing export's metadata columns, the ones a mapping names, come last.
        let found = || super::rejects::shorten(&header.join(", "), 4000);
        let mut columns = Vec::with_capacity(FIELDS.len());
        for field in &FIELDS {
            // The header's own spelling: `CUSTOMER_ID` for `customer_id`.
            let spelled = |c: &str| column_position(header, c).map(|i| header[i].clone());
            let column = match self.get(field.name) {
                Some(named) if spelled(named).is_some() => spelled(named),
                Some(named) => {
                    return Err(Error::MappedColumnMissing {
                        path: path.into(),
                        column: named.clone(),
                        found: found(),
                    })
                }
                None => field.columns.iter().find_map(|c| spelled(c)),
            };
            if column.is_none() && field.required {
                return Err(Error::MissingSubscriptionColumn {
                    path: path.into(),
                    field: field.name,
                    looked_for: field.columns.join(", "),
                    found: found(),
                });
            }
            columns.push(column);
        }
        Ok(Resolved { columns })
    }
}

/// The table's column for each field (see [`SubscriptionColumns::resolve`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Resolved {
    columns: Vec<Option<String>>,
}

impl Resolved {
    /// A table in churnrisk's own columns, with none of the optional ones.
    pub fn own() -> Self {
        Resolved {
            columns: FIELDS
                .iter()
                .map(|f| f.required.then(|| f.name.to_string()))
                .collect(),
        }
    }

    /// The column holding `field` (one of [`FIELDS`]' names), if the table has one.
    pub fn column(&self, field: &str) -> Option<&str> {
        let i = FIELDS.iter().position(|f| f.name == field)?;
        self.columns[i].as_deref()
    }

    /// Every column read.
    pub fn all(&self) -> Vec<&str> {
        self.columns.iter().flatten().map(String::as_str).collect()
    }

    /// "`Customer ID` as user_id, …" for the fields not read under their own name.
    pub fn describe(&self) -> Option<String> {
        let renamed: Vec<String> = FIELDS
            .iter()
            .zip(&self.columns)
            .filter_map(|(f, c)| c.as_ref().filter(|c| *c != f.name).map(|c| (f, c)))
            .map(|(f, c)| format!("`{c}` as {}", f.name))
            .collect();
        (!renamed.is_empty()).then(|| renamed.join(", "))
    }
}

/// The billing cycle a plan states: `interval` (`day`, `week`, `month`, `year` as Stripe
/// writes it, or `daily`, `weekly`, `monthly`, `quarterly`, `yearly`, `annual`, or an
/// ISO-8601 duration of one unit as the app stores and RevenueCat write it: `P1W`, `P1M`,
/// `P3M`, `P1Y`, `P7D`) times `count` (1 when empty). `None` for anything else.
pub fn stated_cycle(interval: &str, count: Option<&str>) -> Option<Cycle> {
    let n: u32 = match count.map(str::trim).filter(|c| !c.is_empty()) {
        None => 1,
        Some(c) => c.parse().ok().filter(|&n| (1..=120).contains(&n))?,
    };
    let interval = interval.trim().to_ascii_lowercase();
    let (unit, times) = match interval.as_str() {
        "day" | "days" | "daily" => ('d', 1),
        "week" | "weeks" | "weekly" => ('d', 7),
        "month" | "months" | "monthly" => ('m', 1),
        "quarter" | "quarterly" => ('m', 3),
        "year" | "years" | "yearly" | "annual" | "annually" => ('m', 12),
        iso => iso_duration(iso)?,
    };
    Some(match unit {
        'd' => Cycle::Days(n * times),
        _ => Cycle::Months(n * times),
    })
}

/// An ISO-8601 duration of one unit (`p1w`, lower case): the unit in days or months and
/// how many; up to 120 of them.
fn iso_duration(text: &str) -> Option<(char, u32)> {
    let number = text.strip_prefix('p')?;
    let (digits, unit) = number.split_at(number.len().checked_sub(1)?);
    let n: u32 = digits
        .bytes()
        .all(|b| b.is_ascii_digit())
        .then(|| digits.parse().ok())
        .flatten()
        .filter(|n| (1..=120).contains(n))?;
    match unit {
        "d" => Some(('d', n)),
        "w" => Some(('d', 7 * n)),
        "m" => Some(('m', n)),
        "y" => Some(('m', 12 * n)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn header(names: &str) -> Vec<String> {
        names.split(',').map(String::from).collect()
    }

    #[test]
    fn columns_are_found_by_their_names_or_a_mapping() {
        let p = Path::new("s.csv");
        let own = SubscriptionColumns::default()
            .resolve(p, &header("user_id,start_date,end_date"))
            .unwrap();
        assert_eq!(own.all(), ["user_id", "start_date", "end_date"]);
        assert_eq!(own.describe(), None);
        // Stripe's Dashboard export, as it lands.
        let stripe = header(
            "id,Customer ID,Customer Email,Plan,Interval,Status,Created (UTC),Start (UTC),\
             Start Date (UTC),Current Period End (UTC),Trial End (UTC),Canceled At (UTC),\
             Ended At (UTC),user_id (metadata)",
        );
        let r = SubscriptionColumns::default().resolve(p, &stripe).unwrap();
        assert_eq!(r.column("user_id"), Some("Customer ID"));
        assert_eq!(r.column("end_date"), Some("Ended At (UTC)"));
        assert_eq!(r.column("interval_count"), None);
        assert_eq!(
            r.describe().unwrap(),
            "`Customer ID` as user_id, `Start Date (UTC)` as start_date, `Ended At (UTC)` as \
             end_date, `Interval` as interval, `Status` as status, `Trial End (UTC)` as \
             trial_end, `Canceled At (UTC)` as canceled_at, `Current Period End (UTC)` as \
             current_period_end"
        );
        // The product's own id, named on the command line.
        let mapped = SubscriptionColumns::default()
            .with_arguments(&["user_id=user_id (metadata)".into()])
            .unwrap()
            .resolve(p, &stripe)
            .unwrap();
        assert_eq!(mapped.column("user_id"), Some("user_id (metadata)"));
        let err = SubscriptionColumns::default()
            .with_arguments(&["user_id=uid".into()])
            .unwrap()
            .resolve(p, &stripe)
            .unwrap_err();
        assert!(matches!(err, Error::MappedColumnMissing { .. }), "{err}");
        let err = SubscriptionColumns::default()
            .resolve(p, &header("customer_id,begin,ended_at"))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "s.csv: no column for the subscriptions' `start_date` (looked for: start_date, Start \
             Date (UTC); found: customer_id, begin, ended_at); name it with \
             `--subscription-column start_date=COLUMN` or `[inputs.subscription_columns]`"
        );
        let err = SubscriptionColumns::default()
            .with_arguments(&["plan=x".into()])
            .unwrap_err();
        assert!(err.to_string().contains("unknown field \"plan\""), "{err}");
    }

    #[test]
    fn stated_cycles() {
        assert_eq!(stated_cycle("month", None), Some(Cycle::Months(1)));
        assert_eq!(stated_cycle("Month", Some("3")), Some(Cycle::Months(3)));
        assert_eq!(stated_cycle("year", Some("")), Some(Cycle::Months(12)));
        assert_eq!(stated_cycle("annual", None), Some(Cycle::Months(12)));
        assert_eq!(stated_cycle("week", Some("2")), Some(Cycle::Days(14)));
        assert_eq!(stated_cycle("day", None), Some(Cycle::Days(1)));
        assert_eq!(stated_cycle("fortnight", None), None);
        assert_eq!(stated_cycle("month", Some("0")), None);
        assert_eq!(stated_cycle("month", Some("x")), None);
        // ISO-8601 durations (RevenueCat's product_duration, the stores' subscription periods)
        assert_eq!(stated_cycle("P1W", None), Some(Cycle::Days(7)));
        assert_eq!(stated_cycle("p1m", None), Some(Cycle::Months(1)));
        assert_eq!(stated_cycle(" P3M ", None), Some(Cycle::Months(3)));
        assert_eq!(stated_cycle("P1Y", None), Some(Cycle::Months(12)));
        assert_eq!(stated_cycle("P7D", None), Some(Cycle::Days(7)));
        assert_eq!(stated_cycle("P6M", Some("2")), Some(Cycle::Months(12)));
        for bad in [
            "P", "PM", "P0M", "P1Y6M", "P1.5M", "P-1M", "PT1H", "1M", "P999Y",
        ] {
            assert_eq!(stated_cycle(bad, None), None, "{bad}");
        }
    }
}
