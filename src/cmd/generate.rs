//! `churnrisk generate`: write a seeded sample log (events, users, subscriptions).

use anyhow::{Context, Result};

use churnrisk::generate::{
    apply_contacts, generate, ContactEffect, EventFormat, GenerateConfig, Scenario,
};

use crate::cli::{FormatArg, GenerateArgs, ScenarioArg};

pub fn run(args: GenerateArgs) -> Result<()> {
    let start = chrono::NaiveDate::parse_from_str(&args.start, "%Y-%m-%d")
        .with_context(|| format!("--start {:?} is not a date (YYYY-MM-DD)", args.start))
        .map_err(|e| churnrisk::error::Error::InvalidArgument {
            name: "--start".into(),
            message: crate::error_message(&e),
        })?;
    let cfg = GenerateConfig {
        scenario: match args.scenario {
            ScenarioArg::Saas => Scenario::Saas,
            ScenarioArg::Purchases => Scenario::Purchases,
        },
        users: args.users,
        start,
        days: args.days,
        seed: args.seed,
        format: match args.format {
            FormatArg::Csv => EventFormat::Csv,
            FormatArg::CsvGz => EventFormat::CsvGz,
            FormatArg::Parquet => EventFormat::Parquet,
        },
    };
    if cfg.scenario == Scenario::Purchases && args.contacts_from.is_some() {
        return Err(churnrisk::error::Error::InvalidArgument {
            name: "--contacts-from".into(),
            message: "contacts are simulated for the saas scenario".into(),
        }
        .into());
    }
    if cfg.format == EventFormat::Parquet && args.contacts_from.is_some() {
        return Err(churnrisk::error::Error::InvalidArgument {
            name: "--contacts-from".into(),
            message: "contacts are simulated into a CSV log: use --format csv or csv-gz".into(),
        }
        .into());
    }
    let started = std::time::Instant::now();
    let summary = check_purchases_format(&cfg)
        .and_then(|()| Ok(generate(&cfg, &args.out)?))
        .with_context(|| format!("generating into {}", args.out.display()))?;
    let secs = started.elapsed().as_secs_f64();
    tracing::info!(
        "wrote {} events for {} users ({} churned) in {:.2}s ({:.0} events/s) to {}",
        summary.events,
        summary.users,
        summary.churned_users,
        secs,
        summary.events as f64 / secs.max(1e-9),
        args.out.display()
    );
    if let Some(list) = &args.contacts_from {
        let (as_of, listed) = churnrisk::report::read_past_list(list)?;

        let effect = ContactEffect {
            treated: listed
                .into_iter()
                .filter(|l| !l.control)
                .map(|l| l.user_id)
                .collect(),
            as_of,
            window_days: 28,
            uplift: args.contact_uplift,
            seed: args.seed,
        };
        let events = args.out.join(cfg.format.file_name());
        let done = check_uplift(args.contact_uplift)
            .and_then(|()| Ok(apply_contacts(&effect, &events)?))
            .with_context(|| format!("simulating contacts in {}", events.display()))?;
        tracing::info!(
            "contacts: {} treated users, {} came back anyway, {} brought back by the contact",
            done.treated,
            done.back_anyway,
            done.brought_back
        );
        if !super::logging::is_quiet() {
            crate::cmd::sayln!("{}", serde_json::to_string(&done)?)?;
        }
    }
    Ok(())
}

/// The library checks the uplift too; this names the flag.
fn check_uplift(uplift: f64) -> Result<()> {
    if !(0.0..=1.0).contains(&uplift) {
        return Err(churnrisk::error::Error::InvalidArgument {
            name: "--contact-uplift".into(),
            message: format!("must be between 0 and 1, not {uplift}"),
        }
        .into());
    }
    Ok(())
}

/// The library refuses a Parquet shop log too; this names the flag.
fn check_purchases_format(cfg: &GenerateConfig) -> Result<()> {
    if cfg.scenario == Scenario::Purchases && cfg.format == EventFormat::Parquet {
        return Err(churnrisk::error::Error::InvalidArgument {
            name: "scenario".into(),
            message: "the purchases scenario writes CSV: use --format csv or csv-gz".into(),
        }
        .into());
    }
    Ok(())
}
