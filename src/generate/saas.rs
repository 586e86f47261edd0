//! The SaaS scenario's files: the users drawn at signup, the events file, and the users,
//! subscriptions and truth tables (see the module docs of `generate` for the mechanism).

use std::path::Path;

use flate2::{write::GzEncoder, Compression};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::draw::{chance, pick, range, time_of_day};
use super::events_file::{simulate, simulate_parquet};
use super::persona::PERSONAS;
use super::text::{company, contact_id, date, timestamp, write_texts, DAY};
use super::user::User;
use super::{EventFormat, GenerateConfig, GenerateSummary};
use crate::base::files::write_atomic_with;
use crate::error::{Error, Result};

/// Simulates the SaaS product for a checked `cfg` and writes its files into `out_dir`.
pub(super) fn generate(cfg: &GenerateConfig, out_dir: &Path) -> Result<GenerateSummary> {
    std::fs::create_dir_all(out_dir).map_err(|e| Error::write(out_dir, e))?;
    let mut users = draw_users(cfg);
    let events_path = out_dir.join(cfg.format.file_name());
    let events = write_atomic_with(&events_path, |w| match cfg.format {
        EventFormat::Csv => simulate(cfg, &mut users, w).map(|(_, rows)| rows),
        EventFormat::CsvGz => {
            // Level 3: the default-config file stays near 3 MB and gzip keeps pace with the simulation.
            let (gz, rows) = simulate(cfg, &mut users, GzEncoder::new(w, Compression::new(3)))?;
            gz.finish()?;
            Ok(rows)
        }
        EventFormat::Parquet => simulate_parquet(cfg, &mut users, w),
    })?;
    let [users_csv, subs_csv, truth_csv] = tables(cfg, &mut users);
    let mut files = vec![events_path];
    write_texts(
        out_dir,
        &[
            ("users.csv", &users_csv),
            ("subscriptions.csv", &subs_csv),
            ("truth.csv", &truth_csv),
        ],
        &mut files,
    )?;
    let churned_users = users.iter().filter(|(_, u)| u.departed.is_some()).count();
    Ok(GenerateSummary {
        users: cfg.users,
        events,
        churned_users,
        files,
    })
}

/// Every user with its own random stream, in signup order (ids follow it).
fn draw_users(cfg: &GenerateConfig) -> Vec<(ChaCha8Rng, User)> {
    let base = ChaCha8Rng::seed_from_u64(cfg.seed);
    let stream = |id: u32| {
        let mut rng = base.clone();
        rng.set_stream(u64::from(id));
        rng
    };
    let mut master = stream(0);
    let mut signups: Vec<u32> = (0..cfg.users)
        .map(|_| {
            let (u, day0) = (master.random::<f64>(), chance(&mut master, 0.1));
            let x = pick(day0, 0.0, 1.5 - (2.25 - 2.0 * u).sqrt()); // density 1.5 − x on [0, 1)
            ((x * f64::from(cfg.days)) as u32).min(cfg.days - 1) * DAY
                + time_of_day(&mut master, 11.0)
        })
        .collect();
    signups.sort_unstable();
    let accounts = ((cfg.users as f64 * 0.15).round() as u32).max(1);
    (1..)
        .zip(signups)
        .map(|(id, signup)| {
            let mut rng = stream(id);
            let user = User::new(&mut rng, id, signup, accounts);
            (rng, user)
        })
        .collect()
}

/// The texts of `users.csv`, `subscriptions.csv` and `truth.csv` after the simulation
/// (subscription ends are drawn here, from each user's stream).
fn tables(cfg: &GenerateConfig, users: &mut [(ChaCha8Rng, User)]) -> [String; 3] {
    let mut users_csv = String::from("user_id,signup_at,email,crm_id,account,plan\n");
    let mut subs_csv = String::from("user_id,start_date,end_date\n");
    let mut truth_csv = String::from("user_id,persona,departed_at\n");
    for (rng, u) in users {
        let (id, account, plan) = (
            u.id,
            company(u.account),
            ["free", "starter", "pro", "enterprise"][u.plan],
        );
        let (domain, crm) = (account.to_lowercase().replace(' ', "-"), contact_id(&u.crm));
        let signup = timestamp(cfg.start, u.signup_day, u.signup_sec);
        users_csv += &format!("{id},{signup},user{id}@{domain}.example,{crm},{account},{plan}\n");
        let cancel = match u.departed {
            Some(d) => chance(rng, 0.9).then(|| d.max(u.last_active + range(rng, (3, 21)))),
            None => chance(rng, 0.02).then(|| u.signup_day + 14 + range(rng, (0, cfg.days))),
        };
        let end = cancel
            .filter(|&c| c < cfg.days)
            .map(|c| date(cfg.start, c).to_string())
            .unwrap_or_default();
        subs_csv += &format!("{id},{},{end}\n", date(cfg.start, u.signup_day));
        let departed = u
            .departed
            .map(|d| timestamp(cfg.start, d + 1, 0))
            .unwrap_or_default();
        truth_csv += &format!("{id},{},{departed}\n", PERSONAS[u.persona].name);
    }
    [users_csv, subs_csv, truth_csv]
}
