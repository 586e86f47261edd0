//! The `purchases` scenario: the purchase log of a shop, a churn mechanism unlike the
//! SaaS simulator's. Nothing here is a logistic function of churnrisk's features.
//!
//! # Mechanism (BG/NBD with a Pareto/NBD lifetime)
//! - **Acquisition**: each customer's first purchase falls on a day drawn uniformly from
//!   the first 90 days of the log (fewer if the log is shorter), at a daytime hour.
//! - **Purchases** follow a Poisson process while the customer is alive. The rate is the
//!   customer's own, drawn from a gamma distribution (shape 0.5, mean one purchase per
//!   60 days, clamped to 1 per 1,000 days … 1 per 2 days): a few buy every week, many
//!   every few months, some once.
//! - **Silent dropout**: after every repeat purchase the customer leaves with their own
//!   probability p ~ Beta(0.8, 2.4) (mean 0.25), as in BG/NBD; and, whatever they buy,
//!   their lifetime ends after an exponential time whose rate is drawn from a gamma
//!   distribution (shape 1, mean lifetime 500 days), as in Pareto/NBD. Nobody says
//!   goodbye: a dead customer simply stops.
//! - **Spend**: each customer has a mean order value m ~ LogNormal(ln 30, 0.7); an order
//!   is Gamma(3, m/3), at least 1.00, in cents. Spend and dropout are independent.
//! - **Orders only**: the log holds `purchase` events and nothing else, as a shop's order
//!   export does (no logins, no page views): everything the model knows is when each
//!   customer bought and for how much.
//!
//! # Files
//! `events.csv[.gz]` (`user_id,timestamp,event,value,session_id`; `value` is the order
//! amount on `purchase`), `users.csv` (signup = the first purchase), `truth.csv`
//! (`user_id,persona,departed_at`: the moment the customer dropped out, empty if alive at
//! the log's end) and `features.toml`, the feature definitions for this log (`purchase` is
//! the value action; every event marks presence). There is no subscriptions table.

use std::io::Write;
use std::path::Path;

use chrono::NaiveDate;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Beta, Distribution, Exp, Gamma, LogNormal};

use super::draw::{chance, time_of_day};
use super::text::{company, contact_id, write_texts, DAY};
use super::{EventFormat, GenerateConfig, GenerateSummary};
use crate::base::files::write_atomic_with;
use crate::error::{Error, Result};

/// The feature definitions written beside the log.
pub const FEATURES_TOML: &str =
    "# Feature definitions for `churnrisk generate --scenario purchases` (a shop).
# Every event marks presence (there is no login); a purchase is the value action.
[events]
value = [\"purchase\"]
";

/// One order: seconds since the log's start, customer, order number within the customer
/// (also its session), amount in cents.
struct Ev {
    t: u64,
    user: u32,
    seq: u32,
    cents: u32,
}

/// One customer's simulated history.
struct Customer {
    first: u64,
    departed: Option<u64>,
    events: Vec<Ev>,
    crm: [u8; 15],
    account: u32,
}

fn bad(message: impl Into<String>) -> Error {
    Error::InvalidArgument {
        name: "scenario".into(),
        message: message.into(),
    }
}

/// A whole distribution's parameters, checked once.
struct Draws {
    rate: Gamma<f64>,
    dropout: Beta<f64>,
    lifetime_rate: Gamma<f64>,
    spend: LogNormal<f64>,
}

impl Draws {
    fn new() -> Result<Self> {
        let e = |e: String| bad(format!("distribution: {e}"));
        Ok(Draws {
            rate: Gamma::new(0.5, (1.0 / 60.0) / 0.5).map_err(|x| e(x.to_string()))?,
            dropout: Beta::new(0.8, 2.4).map_err(|x| e(x.to_string()))?,
            lifetime_rate: Gamma::new(1.0, 1.0 / 500.0).map_err(|x| e(x.to_string()))?,
            spend: LogNormal::new(30f64.ln(), 0.7).map_err(|x| e(x.to_string()))?,
        })
    }
}

/// Seconds into a day at a daytime hour.
fn daytime(rng: &mut ChaCha8Rng, day: u64) -> u64 {
    day * u64::from(DAY) + u64::from(time_of_day(rng, 14.0))
}

/// An exponential waiting time in days at `rate` per day.
fn wait(rng: &mut ChaCha8Rng, rate: f64) -> f64 {
    Exp::new(rate.max(1e-9)).map_or(f64::INFINITY, |d| d.sample(rng))
}

/// A customer's own draws, drawn in this order (the order is part of the output).
struct Traits {
    /// The first order's time, in seconds from the start.
    first: u64,
    /// Orders per day while alive.
    rate: f64,
    /// The chance of leaving right after an order.
    dropout: f64,
    /// Days from the first order to the end of the customer's life.
    lifetime: f64,
    /// The typical order amount, and the draw of one order's.
    spend: f64,
    order: Option<Gamma<f64>>,
    crm: [u8; 15],
    account: u32,
}

fn traits(rng: &mut ChaCha8Rng, cfg: &GenerateConfig, d: &Draws) -> Traits {
    let acquisition = 90.min(u64::from(cfg.days));
    let first_day = rng.random_range(0..acquisition);
    let rate = d.rate.sample(rng).clamp(1.0 / 1000.0, 0.5);
    let dropout = d.dropout.sample(rng);
    let lifetime_rate = d.lifetime_rate.sample(rng).max(1e-6);
    let lifetime = wait(rng, lifetime_rate);
    let spend = d.spend.sample(rng);
    let order = Gamma::new(3.0, spend / 3.0).ok();
    let base62 = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let crm = std::array::from_fn(|_| base62[rng.random_range(0..62)]);
    let account = rng.random_range(0..(cfg.users as u32 / 20).max(1));
    let first = daytime(rng, first_day);
    Traits {
        first,
        rate,
        dropout,
        lifetime,
        spend,
        order,
        crm,
        account,
    }
}

fn simulate(rng: &mut ChaCha8Rng, id: u32, cfg: &GenerateConfig, d: &Draws) -> Customer {
    let t = traits(rng, cfg, d);
    let days = u64::from(cfg.days);
    let (mut events, dead_at) = orders(rng, id, &t, days as f64);
    let mut departed = None;
    if let Some(dead) = dead_at.filter(|&x| x < days as f64) {
        // Orders are placed at a daytime hour of their day: the departure is after the last.
        let last_order = events.iter().map(|e| e.t + 1);
        departed = last_order.chain([(dead * f64::from(DAY)) as u64]).max();
    }
    events.retain(|e| e.t < days * u64::from(DAY));
    Customer {
        first: t.first,
        departed,
        events,
        crm: t.crm,
        account: t.account,
    }
}

/// Customer `id`'s orders while alive: the first at acquisition, then a Poisson process
/// until the lifetime ends, an order is the last (the dropout) or `days` pass. Returns
/// them with the day the customer left, if it did.
fn orders(rng: &mut ChaCha8Rng, id: u32, t: &Traits, days: f64) -> (Vec<Ev>, Option<f64>) {
    let mut events = Vec::new();
    let mut seq = 0u32;
    let mut order_at = |rng: &mut ChaCha8Rng, at: u64, events: &mut Vec<Ev>| {
        seq += 1;
        let amount = t.order.map_or(t.spend, |g| g.sample(rng)).max(1.0);
        events.push(Ev {
            t: at,
            user: id,
            seq,
            cents: (amount * 100.0).round().min(f64::from(u32::MAX)) as u32,
        });
    };
    let born = t.first as f64 / f64::from(DAY);
    let death_by_lifetime = born + t.lifetime;
    order_at(rng, t.first, &mut events);
    let mut now = born;
    loop {
        let next = now + wait(rng, t.rate);
        if next >= death_by_lifetime {
            return (events, Some(death_by_lifetime));
        }
        if next >= days {
            return (events, None);
        }
        let at = daytime(rng, next as u64);
        order_at(rng, at, &mut events);
        now = next;
        if chance(rng, t.dropout as f32) {
            // Leaves right after this order.
            return (events, Some(now + 1e-3));
        }
    }
}

fn stamp(start: NaiveDate, secs: u64) -> String {
    let day = (secs / u64::from(DAY)) as u32;
    super::text::timestamp(start, day, (secs % u64::from(DAY)) as u32)
}

/// Simulates the shop for `cfg` and writes its files into `out_dir`.
pub fn generate(cfg: &GenerateConfig, out_dir: &Path) -> Result<GenerateSummary> {
    if cfg.format == EventFormat::Parquet {
        return Err(bad(
            "the purchases scenario writes CSV (events.csv or events.csv.gz), not Parquet",
        ));
    }
    std::fs::create_dir_all(out_dir).map_err(|e| Error::write(out_dir, e))?;
    let customers = customers(cfg)?;
    let mut events: Vec<&Ev> = customers.iter().flat_map(|c| c.events.iter()).collect();
    events.sort_unstable_by_key(|e| (e.t, e.user, e.seq));
    let events_path = out_dir.join(cfg.format.file_name());
    write_events(cfg, &events_path, &events)?;
    let (users_csv, truth_csv) = users_and_truth(cfg, &customers);
    let mut files = vec![events_path];
    write_texts(
        out_dir,
        &[
            ("users.csv", &users_csv),
            ("truth.csv", &truth_csv),
            ("features.toml", FEATURES_TOML),
        ],
        &mut files,
    )?;
    Ok(GenerateSummary {
        users: cfg.users,
        events: events.len() as u64,
        churned_users: customers.iter().filter(|c| c.departed.is_some()).count(),
        files,
    })
}

/// Every customer, each simulated on its own stream of the seed's generator.
fn customers(cfg: &GenerateConfig) -> Result<Vec<Customer>> {
    let draws = Draws::new()?;
    let base = ChaCha8Rng::seed_from_u64(cfg.seed);
    Ok((1..=cfg.users as u32)
        .map(|id| {
            let mut rng = base.clone();
            rng.set_stream(u64::from(id));
            simulate(&mut rng, id, cfg, &draws)
        })
        .collect())
}

/// The orders as the event log (CSV, gzipped for `csv-gz`), in time order.
fn write_events(cfg: &GenerateConfig, path: &Path, events: &[&Ev]) -> Result<()> {
    let write_rows = |mut w: &mut dyn Write| -> std::io::Result<()> {
        w.write_all(b"user_id,timestamp,event,value,session_id\n")?;
        for e in events {
            writeln!(
                &mut w,
                "{},{},purchase,{}.{:02},s{}-{}",
                e.user,
                stamp(cfg.start, e.t),
                e.cents / 100,
                e.cents % 100,
                e.user,
                e.seq
            )?;
        }
        Ok(())
    };
    write_atomic_with(path, |w| match cfg.format {
        EventFormat::CsvGz => {
            let mut gz = flate2::write::GzEncoder::new(w, flate2::Compression::new(3));
            write_rows(&mut gz)?;
            gz.finish().map(drop)
        }
        _ => write_rows(w),
    })
}

/// The users table (signed up with the first order) and the truth file (who left when).
fn users_and_truth(cfg: &GenerateConfig, customers: &[Customer]) -> (String, String) {
    let mut users_csv = String::from("user_id,signup_at,email,crm_id,account,plan\n");
    let mut truth_csv = String::from("user_id,persona,departed_at\n");
    for (id, c) in (1..).zip(customers) {
        let account = company(c.account);
        let crm = contact_id(&c.crm);
        let domain = account.to_lowercase().replace(' ', "-");
        users_csv += &format!(
            "{id},{},buyer{id}@{domain}.example,{crm},{account},retail\n",
            stamp(cfg.start, c.first)
        );
        let departed = c.departed.map(|t| stamp(cfg.start, t)).unwrap_or_default();
        truth_csv += &format!("{id},buyer,{departed}\n");
    }
    (users_csv, truth_csv)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(seed: u64, users: usize, days: u32) -> (tempfile::TempDir, String, String) {
        let dir = tempfile::tempdir().unwrap();
        let cfg = GenerateConfig {
            users,
            days,
            seed,
            format: EventFormat::Csv,
            scenario: super::super::Scenario::Purchases,
            ..GenerateConfig::default()
        };
        super::super::generate(&cfg, dir.path()).unwrap();
        let events = std::fs::read_to_string(dir.path().join("events.csv")).unwrap();
        let truth = std::fs::read_to_string(dir.path().join("truth.csv")).unwrap();
        (dir, events, truth)
    }

    #[test]
    fn same_seed_same_files_and_a_parseable_feature_file() {
        let (dir, a, _) = run(3, 300, 200);
        let (_, b, _) = run(3, 300, 200);
        assert_eq!(a, b);
        let (_, c, _) = run(4, 300, 200);
        assert_ne!(a, c);
        let spec = crate::features::FeatureSpec::load(&dir.path().join("features.toml")).unwrap();
        assert_eq!(spec.file.events.value, ["purchase"]);
        assert!(spec.file.events.login.is_empty());
    }

    #[test]
    fn parquet_is_refused_with_a_message_and_nothing_written() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = GenerateConfig {
            format: EventFormat::Parquet,
            scenario: super::super::Scenario::Purchases,
            ..GenerateConfig::default()
        };
        let err = super::super::generate(&cfg, dir.path()).unwrap_err();
        assert!(
            matches!(err, Error::InvalidArgument { ref message, .. } if message.contains("writes CSV")),
            "{err}"
        );
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn customers_buy_at_their_own_pace_and_leave_silently() {
        let (_, events, truth) = run(11, 2000, 540);
        let mut purchases: std::collections::HashMap<&str, Vec<&str>> = Default::default();
        for line in events.lines().skip(1) {
            let f: Vec<&str> = line.split(',').collect();
            assert_eq!(f.len(), 5, "{line}");
            assert_eq!(f[2], "purchase", "{line}");
            assert!(f[3].parse::<f64>().unwrap() >= 1.0, "{line}");
            purchases.entry(f[0]).or_default().push(f[1]);
        }
        // Everybody buys at least once (the acquisition), in the first 90 days.
        assert_eq!(purchases.len(), 2000);
        assert!(purchases.values().all(|p| p[0] < "2026-04-05"));
        // Heterogeneous: one-time buyers and frequent buyers both exist.
        let once = purchases.values().filter(|p| p.len() == 1).count();
        let often = purchases.values().filter(|p| p.len() >= 10).count();
        assert!(once > 200 && once < 1200, "one-time buyers {once}");
        assert!(often > 50, "frequent buyers {often}");
        // Most customers drop out within 18 months, and none buys after dropping out.
        let departed: Vec<(&str, &str)> = truth
            .lines()
            .skip(1)
            .filter_map(|l| {
                let f: Vec<&str> = l.split(',').collect();
                (!f[2].is_empty()).then(|| (f[0], f[2]))
            })
            .collect();
        assert!(
            departed.len() > 1200 && departed.len() < 1950,
            "{}",
            departed.len()
        );
        for (user, at) in &departed {
            let last = purchases[user].last().unwrap();
            assert!(*last < *at, "{user} bought at {last} after leaving at {at}");
        }
    }
}
