//! One file per subcommand, each a short recipe over the library's stages. Only this
//! module, `cli` and `main` know clap and anyhow.

use anyhow::{Context, Result};

use churnrisk::features::{event_names, FeatureSpec};
use churnrisk::ingest::{self, Events, Subscriptions, Users};
use churnrisk::labels::{Definition, LabelRule, Signal, Sources};

use crate::cli::{Cli, Command, InputArgs, LabelArgs, SignalArg};

mod generate;
mod run;
mod score;
mod train;

/// Runs the parsed command.
pub fn run(cli: Cli) -> Result<()> {
    let log = Log { quiet: cli.quiet };
    match cli.command {
        Command::Run(args) => run::run(args, &log),
        Command::Train(args) => train::run(args, &log),
        Command::Score(args) => score::run(args, &log),
        Command::Generate(args) => generate::run(args, &log),
    }
}

/// Progress messages on stderr, silenced by `--quiet`.
pub struct Log {
    pub quiet: bool,
}

impl Log {
    pub fn info(&self, msg: impl AsRef<str>) {
        if !self.quiet {
            eprintln!("churnrisk: {}", msg.as_ref());
        }
    }
}

/// The loaded input tables.
pub struct Inputs {
    pub spec: FeatureSpec,
    pub events: Events,
    pub users: Option<Users>,
    pub subscriptions: Option<Subscriptions>,
}

impl Inputs {
    /// Loads and checks the feature file and every table, with the file named in errors.
    pub fn load(args: &InputArgs, log: &Log) -> Result<Self> {
        let spec = FeatureSpec::load(&args.features)?;
        let events = ingest::load_events(&args.events)
            .with_context(|| format!("reading events {}", args.events.display()))?;
        log.info(format!(
            "read {} events from {}",
            events.rows(),
            args.events.display()
        ));
        spec.check_events_exist(&event_names(&events)?)
            .with_context(|| {
                format!(
                    "checking {} against {}",
                    args.features.display(),
                    args.events.display()
                )
            })?;
        let users = args
            .users
            .as_deref()
            .map(|p| {
                ingest::load_users(p).with_context(|| format!("reading users {}", p.display()))
            })
            .transpose()?;
        let subscriptions = args
            .subscriptions
            .as_deref()
            .map(|p| {
                ingest::load_subscriptions(p)
                    .with_context(|| format!("reading subscriptions {}", p.display()))
            })
            .transpose()?;
        Ok(Inputs {
            spec,
            events,
            users,
            subscriptions,
        })
    }

    pub fn sources(&self) -> Sources<'_> {
        Sources {
            events: &self.events,
            users: self.users.as_ref(),
            subscriptions: self.subscriptions.as_ref(),
        }
    }
}

/// The label rule from the flags; the subscription definition when a table is given.
pub fn label_rule(args: &LabelArgs, has_subscriptions: bool) -> LabelRule {
    LabelRule {
        definition: if has_subscriptions {
            Definition::Subscription
        } else {
            Definition::Inactivity
        },
        horizon_days: args.horizon_days,
        active_days: args.active_days,
        signal: match args.churn_signal {
            SignalArg::ValueAction => Signal::ValueAction,
            SignalArg::AnyEvent => Signal::AnyEvent,
        },
    }
}
