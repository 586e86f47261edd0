//! One file per subcommand, each a short recipe over the library's stages. Only this
//! module, `cli` and `main` know clap and anyhow.

use anyhow::{Context, Result};
use tracing::{info, warn};

use churnrisk::features::{event_names, FeatureSpec};
use churnrisk::ingest::{self, Events, ReadPolicy, Rejects, Subscriptions, Users};
use churnrisk::labels::{Definition, LabelRule, Sources};

use crate::cli::{Cli, Command, InputArgs, LabelArgs, ValidationArgs};

/// `print!` that returns the write's result, without panicking. A closed pipe
/// (`churnrisk check … | head -1`) is no failure: the command goes on unheard and exits
/// with its own status (a reject limit broken after the summary is still exit 3; ending
/// at the closed pipe had made it 0).
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        match write!(std::io::stdout().lock(), $($arg)*) {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
            written => written,
        }
    }};
}

/// `println!` that returns the write's result (see [`say!`]).
macro_rules! sayln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        match writeln!(std::io::stdout().lock(), $($arg)*) {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
            written => written,
        }
    }};
}

pub(crate) use {say, sayln};

mod check;
mod compare;
pub mod flags;
mod generate;
mod late;
pub mod logging;
mod merge;
mod report;
mod run;
mod score;
mod train;

/// A command given `--config` reads the night's config file once: its `[inputs]` and
/// `[validation]` (clap refuses the input flags beside it, so nothing is merged); for
/// `train` its churn definition (`[labels]`), for `check --night` its quiet days
/// (`[inputs] max_missing_days`): a model or a check that is the night's. A churn
/// definition given beside the config is refused rather than mixed with it.
fn apply_config(command: &mut Command) -> Result<()> {
    let Some(path) = command.input_mut().and_then(|i| i.config.clone()) else {
        return Ok(());
    };
    let c = churnrisk::run::config::RunConfig::load(&path)?;
    let quiet_days = c.inputs.max_missing_days;
    if let Some(input) = command.input_mut() {
        let i = c.inputs;
        input.events = Some(i.events);
        input.preset = i.preset;
        input.delimiter = i.delimiter;
        input.header = i.header;
        input.column_overrides = i.columns;
        input.users = i.users;
        input.user_column_overrides = i.user_columns;
        input.subscriptions = i.subscriptions;
        input.subscription_column_overrides = i.subscription_columns;
        input.features = i
            .features
            .unwrap_or_else(|| crate::cli::SAMPLE_FEATURES.into());
        input.validation.strict = c.validation.strict;
        input.validation.max_reject_fraction = c.validation.max_reject_fraction;
        input.validation.from_config = Some(c.validation);
    }
    match command {
        Command::Train(a) => {
            let l = &mut a.labels;
            let defaults = l.horizon_days == churnrisk::labels::HORIZON_DAYS
                && l.active_days == churnrisk::labels::ACTIVE_DAYS
                && l.churn_signal == crate::cli::SignalArg::ValueAction;
            if !defaults {
                return Err(churnrisk::error::Error::InvalidArgument {
                    name: "--config".into(),
                    message: "the churn definition comes from the config's [labels] with \
                              --config: set horizon_days, active_days and churn_signal there, \
                              not with flags beside it"
                        .into(),
                }
                .into());
            }
            l.horizon_days = c.labels.horizon_days;
            l.active_days = c.labels.active_days;
            l.churn_signal = match c.labels.churn_signal {
                churnrisk::labels::Signal::ValueAction => crate::cli::SignalArg::ValueAction,
                churnrisk::labels::Signal::AnyEvent => crate::cli::SignalArg::AnyEvent,
            };
        }
        Command::Check(a) if a.max_missing_days == 0 => a.max_missing_days = quiet_days,
        _ => {}
    }
    Ok(())
}

/// Runs the parsed command.
pub fn run(cli: Cli) -> Result<()> {
    let mut cli = cli;
    apply_config(&mut cli.command)?;
    match cli.command {
        Command::Run(args) => run::run(args),
        Command::Train(args) => train::run(args),
        Command::Score(args) => score::run(args),
        Command::Generate(args) => generate::run(args),
        Command::Report(args) => report::run(args),
        Command::Compare(args) => compare::run(args),
        Command::Merge(args) => merge::run(args),
        Command::Check(args) => check::run(args),
    }
}

/// The loaded input tables, and the rows set aside while loading them.
pub struct Inputs {
    pub spec: FeatureSpec,
    pub events: Events,
    pub users: Option<Users>,
    pub subscriptions: Option<Subscriptions>,
    pub rejects: Rejects,
    /// The event names dropped as not product use (the preset's and `[events] ignore`).
    pub not_use: Vec<String>,
}

impl Inputs {
    /// Loads and checks the feature file and every table, with the file named in errors.
    /// Bad rows are collected in `rejects`, not enforced: the caller writes them down
    /// first, then calls [`Rejects::enforce`].
    pub fn load(args: &InputArgs, policy: &ReadPolicy) -> Result<Self> {
        let spec = load_features(&args.features).context(
            "reading the feature definitions (`--features`, `[inputs] features`; the flag's \
             default is features/default.toml in the current folder; to score, give the file the \
             model was trained with)",
        )?;
        Self::load_with(spec, args, policy)
    }

    /// As [`Inputs::load`], with the feature definitions already read.
    pub fn load_with(spec: FeatureSpec, args: &InputArgs, policy: &ReadPolicy) -> Result<Self> {
        let mut rejects = Rejects::default();
        let events_delimiter = match &args.delimiter {
            Some(d) => Some(churnrisk::run::config::parse_delimiter("--delimiter", d)?),
            None => policy.events_delimiter,
        };
        let events_header = match &args.header {
            Some(h) => Some(flags::header_names(h)?),
            None => policy.events_header.clone(),
        };
        let policy = &ReadPolicy {
            events_delimiter,
            events_header,
            ..policy.clone()
        };
        let step = logging::reading(
            format!("reading {}", args.events().display()),
            ingest::progress::input_bytes(args.events()),
        );
        let mut map = ingest::ColumnMap::build(args.preset, &args.column_overrides)?
            .with_arguments(&args.columns)
            .map_err(flags::as_flag("column", "--column"))?;
        map.not_use.extend(spec.file.events.ignore.iter().cloned());
        let not_use = map.not_use.clone();
        let how = ingest::EventsRead {
            map,
            shard: args.shard,
        };
        let events = ingest::load_events_with(args.events(), &how, policy, &mut rejects)
            .map_err(flags::reading_events)
            .with_context(|| format!("reading events {}", args.events().display()));
        let events = match events {
            Ok(events) => events,
            // No event left: the reject file says why row by row.
            Err(e) => match &args.validation.rejects {
                Some(path) if rejects.total() > 0 => {
                    rejects
                        .write_csv(path)
                        .with_context(|| format!("writing {}", path.display()))?;
                    return Err(e.context(format!("rows set aside are in {}", path.display())));
                }
                _ => return Err(e),
            },
        };
        step.finish_and_clear();
        info!(
            "read {} events from {}",
            events.rows(),
            args.events().display()
        );
        let users = args
            .users
            .as_deref()
            .map(|p| {
                let columns = args
                    .user_column_overrides
                    .clone()
                    .with_arguments(&args.user_columns)
                    .map_err(flags::as_flag("user column", "--user-column"))?;
                ingest::load_users(p, &columns, policy, &mut rejects)
                    .with_context(|| format!("reading users {}", p.display()))
            })
            .transpose()?;
        let subscriptions = args
            .subscriptions
            .as_deref()
            .map(|p| {
                let columns = args
                    .subscription_column_overrides
                    .clone()
                    .with_arguments(&args.subscription_columns)
                    .map_err(flags::as_flag(
                        "subscription column",
                        "--subscription-column",
                    ))?;
                let subs = ingest::load_subscriptions(p, &columns, policy, &mut rejects)
                    .with_context(|| format!("reading subscriptions {}", p.display()))?;
                // A shard's worker scores its own subscribers only.
                Ok::<_, anyhow::Error>(match args.shard {
                    Some(shard) => subs.in_shard(shard)?,
                    None => subs,
                })
            })
            .transpose()?;
        for (act, line) in rejects.describe() {
            if act {
                warn!("{line}");
            } else {
                info!("{line}");
            }
        }
        if let Some(line) = events.identity.describe() {
            info!("{line}");
        }
        if let Some(line) = not_use_line(&events, &not_use) {
            info!("{line}");
        }
        if let Some((twins, a, b)) = events.case_twins()? {
            warn!(
                "{twins} user ids are email addresses that differ only in letter case (e.g. {a:?} and {b:?}): each is scored as a user of its own; if they are one person, lowercase the id column before churnrisk reads it"
            );
        }
        if let Some(line) = users.as_ref().and_then(|u| u.dates_read.as_ref()) {
            info!("users: {line}");
        }
        if let (Some(s), Some(path)) = (subscriptions.as_ref(), args.subscriptions.as_deref()) {
            if let Some(read_as) = s.columns.describe() {
                info!("subscriptions: read {read_as}");
            }
            if s.never_started > 0 {
                info!(
                    "subscriptions: {} left out: never started (status {})",
                    match s.never_started {
                        1 => "1 row".to_string(),
                        n => format!("{n} rows"),
                    },
                    ingest::billing::NEVER_STARTED.join(" or ")
                );
            }
            for u in &s.unread {
                let field = if u.column == u.field {
                    String::new()
                } else {
                    format!(" ({})", u.field)
                };
                warn!(
                    "subscriptions: {} {} in `{}`{field} did not read, e.g. {:?}: {} without it ({})",
                    u.rows,
                    if u.rows == 1 { "cell" } else { "cells" },
                    u.column,
                    u.example,
                    if u.rows == 1 { "its row is read" } else { "their rows are read" },
                    match u.field {
                        "interval" => "a plan interval is day, week, month or year (or an ISO-8601 duration: P1W, P1M, P1Y), with a whole interval_count",
                        _ => "a date is ISO-8601, e.g. 2026-11-30 09:12, or epoch seconds/milliseconds",
                    }
                );
            }
            info!(
                "subscriptions: {} rows make {} active periods (a row starting within {} days of the end before it renews it); {}",
                s.rows,
                s.df.height(),
                ingest::RENEWAL_GAP_DAYS,
                s.renewals.describe()
            );
            check_overlap(s, &events, path)?;
        }
        Ok(Inputs {
            spec,
            events,
            users,
            subscriptions,
            rejects,
            not_use,
        })
    }

    /// Fails when the log has none of the feature definitions' value events (a typo, or
    /// a log that is not this product's); warns about other events it never has (a rare
    /// event absent tonight: its features are zero), and about named events that stopped
    /// (a rename); returns whether one did. Call it after the rejects are settled: bad
    /// rows are the first thing to report.
    pub fn check_events(&self, args: &InputArgs) -> Result<bool> {
        let missing = self
            .spec
            .check_events_exist(&event_names(&self.events)?)
            .with_context(|| {
                format!(
                    "checking {} against {}",
                    features_named(&args.features),
                    args.events().display()
                )
            })?;
        if !missing.is_empty() {
            warn!(
                "{} names events that never occur in {}: {} (their features are zero; a typo?)",
                features_named(&args.features),
                args.events().display(),
                missing.join(", ")
            );
        }
        let stopped = churnrisk::features::stopped_events(&self.events, &self.spec)?;
        for s in &stopped {
            warn!("{}", stopped_note(s, &features_named(&args.features)));
        }
        Ok(!stopped.is_empty())
    }

    pub fn sources(&self) -> Sources<'_> {
        Sources {
            events: &self.events,
            users: self.users.as_ref(),
            subscriptions: self.subscriptions.as_ref(),
            prepared: None,
        }
    }
}

/// "not product use: 1234 rows dropped (uninstall)", when any were.
pub fn not_use_line(events: &Events, names: &[String]) -> Option<String> {
    let n = events.identity.not_use;
    (n > 0).then(|| format!("not product use: {n} rows dropped ({})", names.join(", ")))
}

/// Fails when no subscriber has an event in the log (the table's ids are another
/// system's), warns when most have none.
fn check_overlap(
    subs: &Subscriptions,
    events: &churnrisk::ingest::Events,
    path: &std::path::Path,
) -> Result<()> {
    let Some(o) = subs.overlap(events)? else {
        return Ok(());
    };
    match o.example {
        Some((example, log_example)) if o.without_events == o.subscribers => {
            return Err(churnrisk::error::Error::SubscribersNotInLog {
                path: path.into(),
                subscribers: o.subscribers,
                column: subs.user_column().to_string(),
                example,
                log_example,
            }
            .into())
        }
        Some((example, _)) if 2 * o.without_events > o.subscribers => warn!(
            "{} of the {} subscribers in {} have no event in the log (e.g. {example:?}): are the table's user ids the log's?",
            o.without_events,
            o.subscribers,
            path.display()
        ),
        _ => {}
    }
    Ok(())
}

/// The label rule from the flags; the subscription definition when a table is given.
/// The as-of date given to `flag`, else the day after the log's last event (its night).
pub fn as_of_or_after_log(flag: &str, given: Option<&str>, events: &Events) -> Result<i64> {
    use churnrisk::base::time::DAY_MS;
    match given {
        Some(t) => date_arg(flag, t),
        None => Ok((events.max_ts.div_euclid(DAY_MS) + 1) * DAY_MS),
    }
}

/// The feature definitions shipped as features/default.toml, built in.
pub const DEFAULT_FEATURES: &str = include_str!("../../features/default.toml");

/// Whether the feature definitions at `path` are the built-in copy: the flag's default
/// path where no such file is (a release binary run from another folder).
pub fn built_in_features(path: &std::path::Path) -> bool {
    path == std::path::Path::new(crate::cli::SAMPLE_FEATURES) && !path.exists()
}

/// How messages name the feature definitions read from `path` ([`built_in_features`]).
pub fn features_named(path: &std::path::Path) -> String {
    if built_in_features(path) {
        "the built-in default feature definitions (the sample product's)".into()
    } else {
        path.display().to_string()
    }
}

/// The feature file at `path`, or the built-in copy of the shipped file
/// ([`built_in_features`]), so `train` and `score` work outside the repository without
/// `--features`.
pub fn load_features(path: &std::path::Path) -> churnrisk::error::Result<FeatureSpec> {
    if built_in_features(path) {
        info!(
            "{} is not here: using the built-in default feature definitions (the same file)",
            path.display()
        );
        return FeatureSpec::from_toml(DEFAULT_FEATURES, path);
    }
    FeatureSpec::load(path)
}

/// The date given to `flag` (or its config key): `YYYY-MM-DD` or an ISO-8601 date-time.
pub fn date_arg(flag: &str, text: &str) -> Result<i64> {
    churnrisk::base::time::parse_date(text).ok_or_else(|| {
        churnrisk::error::Error::InvalidArgument {
            name: flag.into(),
            message: format!("{text:?} is not a date (expected YYYY-MM-DD or ISO-8601 date-time)"),
        }
        .into()
    })
}

pub fn label_rule(args: &LabelArgs, has_subscriptions: bool) -> LabelRule {
    LabelRule {
        definition: if has_subscriptions {
            Definition::Subscription
        } else {
            Definition::Inactivity
        },
        horizon_days: args.horizon_days,
        active_days: args.active_days,
        signal: args.churn_signal.into(),
    }
}

/// The read policy of `train` and `score` (no config file): flags, and the clock now.
pub fn policy_from(args: &ValidationArgs) -> Result<ReadPolicy> {
    check_fraction(args.max_reject_fraction)?;
    if let Some(config) = &args.from_config {
        return Ok(config.policy(chrono::Utc::now().timestamp_millis()));
    }
    Ok(ReadPolicy {
        strict: args.strict,
        max_reject_fraction: args.max_reject_fraction,
        ..ReadPolicy::new(chrono::Utc::now().timestamp_millis())
    })
}

/// A reject fraction must be a share.
pub fn check_fraction(f: f64) -> Result<()> {
    if !(0.0..=1.0).contains(&f) {
        return Err(churnrisk::error::Error::InvalidArgument {
            name: "--max-reject-fraction".into(),
            message: format!("must be between 0 and 1, not {f}"),
        }
        .into());
    }
    Ok(())
}

/// "`task_completed` (a value action in feat.toml) has no event after 2026-08-09, …": an
/// event type the definitions name that the log stopped having.
pub fn stopped_note(s: &churnrisk::features::Stopped, named: &str) -> String {
    let new = if s.new_types.is_empty() {
        String::new()
    } else {
        let list: Vec<String> = s
            .new_types
            .iter()
            .map(|(n, rows)| format!("{n} ({rows} rows)"))
            .collect();
        format!("; first seen around then: {}", list.join(", "))
    };
    format!(
        "`{}` (a {} in {named}) has no event after {}, where its pace before ({} rows) would have brought about {:.0} by the log's last day, and it was never this quiet before: renamed, no longer tracked, or a first pause (a holiday, an off-season)? Its features read as nobody doing it since{new}; if it was renamed, name the new event in the feature definitions and retrain",
        s.name,
        s.role,
        churnrisk::base::time::format_date(s.last),
        s.rows,
        s.expected
    )
}

/// Writes the reject file when asked, fails if the rejects are too many, then checks the
/// feature definitions against the log.
pub fn settle_rejects(inputs: &Inputs, args: &InputArgs, policy: &ReadPolicy) -> Result<()> {
    if let Some(path) = &args.validation.rejects {
        inputs
            .rejects
            .write_csv(path)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    inputs.rejects.enforce(policy)?;
    inputs.check_events(args).map(|_| ())
}

/// The tier rule and list view from the flags of `run` (sample mode) and `score`.
pub fn list_from(
    args: &crate::cli::ListArgs,
) -> Result<(
    churnrisk::list::rank::TierRule,
    churnrisk::list::write::ListView,
)> {
    use churnrisk::list::rank::TierRule;
    use churnrisk::list::write::ListView;
    let tiers = TierRule::from_mode(args.tiers.into(), args.high, args.medium)?;
    let view = ListView {
        min_tier: args.min_tier.map(Into::into),
        plans: args.plans.clone(),
        accounts: args.accounts.clone(),
        top: args.top,
    };
    Ok((tiers, view))
}

/// Refuses a list path whose extension names no list format (`score --out x.txt` wrote a
/// CSV under that name), before any work.
pub fn check_list_path(out: &std::path::Path) -> Result<()> {
    if churnrisk::list::write::ListFormat::of(out).is_none() {
        return Err(churnrisk::error::Error::InvalidArgument {
            name: "--out".into(),
            message: format!(
                "{}: a list is written as .csv, .jsonl or .parquet; name the file with one of them",
                out.display()
            ),
        }
        .into());
    }
    Ok(())
}

/// Says when key cells were written that a spreadsheet would read as formulas (they are
/// written as they are, for importers: see `base::csv_cells::neutralize`).
pub fn warn_formula_like_keys(rows: &[&churnrisk::list::rank::RankedRow]) {
    let (n, first) = churnrisk::list::write::formula_like_keys(rows);
    if let Some(first) = first {
        warn!(
            "{n} key cells start with =, +, -, @ or a control character (first: {first}); they \
             are written as they are so imports match, and a spreadsheet may read them as \
             formulas: import the files, do not open and re-save them"
        );
    }
}

/// The end of `score` and `merge`, one code path so that a merged list is the scored one:
/// control groups, statuses (no previous list: everyone on it is new), the selected rows
/// written in `out`'s format, and the summary.
pub fn write_ranked(
    mut rows: Vec<churnrisk::list::rank::RankedRow>,
    view: &churnrisk::list::write::ListView,
    out: &std::path::Path,
    with_crm: bool,
    as_of: &str,
) -> Result<()> {
    use churnrisk::list::rank::{assign_groups, Tier};
    use churnrisk::list::write::write_list;
    // Writing into a run's output folder waits for no one: it takes the run's lock.
    let folder = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    let _lock = churnrisk::run::lock::RunLock::acquire_if_used(folder)?;
    assign_groups(&mut rows, &churnrisk::list::experiment::Split::default());
    churnrisk::list::history::compare(
        &mut rows,
        None,
        as_of,
        Tier::Medium,
        &Default::default(),
        &Default::default(),
        // No previous list: nobody left.
        "",
    );
    let selected = view.select(&rows);
    write_list(out, &selected, with_crm, as_of)
        .with_context(|| format!("writing {}", out.display()))?;
    warn_formula_like_keys(&selected);
    if !logging::is_quiet() {
        crate::cmd::say!(
            "{}",
            churnrisk::list::summary::ranked_summary(&rows, as_of, 10)
        )?;
    }
    info!("ranked list written to {}", out.display());
    Ok(())
}
