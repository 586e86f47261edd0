//! The account roll-up for B2B products: one row per account whose users carry an
//! `account` in the users table.
//!
//! - `account_risk`: the mean churn probability of the account's scored users — the share
//!   of its active users expected to churn in the horizon;
//! - `users_at_risk`: users on the list (tier at or above the list's minimum), and the
//!   count per tier;
//! - `most_at_risk_user`: the treatment user with the highest probability (ties: the
//!   lower rank) — the one CS would call; empty when all the account's users are held out
//!   in the control group (`max_probability` is still the highest of all);
//! - `dominant_play`: the play most of its at-risk users get (ties: the play of the
//!   higher-ranked user), or of all its users when none is at risk;
//! - `account_tier`: the same tier rule applied to the accounts ranked by `account_risk`.
//!
//! Sorted by `account_risk` (highest first), then account name.

use std::collections::BTreeMap;
use std::path::Path;

use crate::base::csv_cells::{neutralize, write_table};
use crate::error::Result;
use crate::list::experiment::Group;
use crate::list::rank::{RankedRow, Tier, TierRule};

/// One account.
#[derive(Debug, Clone, PartialEq)]
pub struct AccountRow {
    pub account: String,
    pub users_scored: usize,
    pub users_at_risk: usize,
    pub high: usize,
    pub medium: usize,
    pub low: usize,
    pub account_risk: f64,
    pub account_tier: Tier,
    pub max_probability: f64,
    pub most_at_risk_user: String,
    pub most_at_risk_email: String,
    pub dominant_play: String,
}

/// Rolls the ranked users up to accounts; users without an account are left out.
pub fn roll_up(rows: &[RankedRow], list_tier: Tier, tiers: &TierRule) -> Vec<AccountRow> {
    let mut by_account: BTreeMap<&str, Vec<&RankedRow>> = BTreeMap::new();
    for r in rows {
        let account = r.crm[2].trim();
        if !account.is_empty() {
            by_account.entry(account).or_default().push(r);
        }
    }
    let mut out: Vec<AccountRow> = by_account
        .into_iter()
        .map(|(account, users)| {
            // `rows` are in rank order, so each account's users are too.
            let top = users[0];
            // A control user is left alone: CS is pointed at the first it may contact.
            let contact = users.iter().find(|r| r.group == Group::Treatment);
            let at_risk: Vec<&&RankedRow> = users
                .iter()
                .filter(|r| r.tier.at_least(list_tier))
                .collect();
            let pool: Vec<&RankedRow> = if at_risk.is_empty() {
                users.clone()
            } else {
                at_risk.iter().map(|r| **r).collect()
            };
            let mut plays: Vec<(&'static str, usize, usize)> = Vec::new();
            for r in &pool {
                match plays.iter_mut().find(|p| p.0 == r.play.label()) {
                    Some(p) => p.1 += 1,
                    None => plays.push((r.play.label(), 1, r.rank)),
                }
            }
            plays.sort_by(|a, b| b.1.cmp(&a.1).then(a.2.cmp(&b.2)));
            let count = |t: Tier| users.iter().filter(|r| r.tier == t).count();
            AccountRow {
                account: account.to_string(),
                users_scored: users.len(),
                users_at_risk: at_risk.len(),
                high: count(Tier::High),
                medium: count(Tier::Medium),
                low: count(Tier::Low),
                account_risk: users.iter().map(|r| r.probability).sum::<f64>() / users.len() as f64,
                account_tier: Tier::Low,
                max_probability: top.probability,
                most_at_risk_user: contact.map(|r| r.user_id.clone()).unwrap_or_default(),
                most_at_risk_email: contact.map(|r| r.crm[0].clone()).unwrap_or_default(),
                dominant_play: plays.first().map(|p| p.0.to_string()).unwrap_or_default(),
            }
        })
        .collect();
    out.sort_by(|a, b| {
        b.account_risk
            .total_cmp(&a.account_risk)
            .then_with(|| a.account.cmp(&b.account))
    });
    let risks: Vec<f64> = out.iter().map(|a| a.account_risk).collect();
    for (a, t) in out.iter_mut().zip(tiers.assign(&risks)) {
        a.account_tier = t;
    }
    out
}

/// Writes `accounts.csv`.
pub fn write_accounts(path: &Path, accounts: &[AccountRow], as_of: &str) -> Result<()> {
    let header = [
        "rank",
        "account",
        "as_of",
        "account_risk",
        "account_tier",
        "users_scored",
        "users_at_risk",
        "high",
        "medium",
        "low",
        "max_probability",
        "most_at_risk_user",
        "most_at_risk_email",
        "dominant_play",
    ];
    let rows = accounts.iter().enumerate().map(|(i, a)| {
        [
            (i + 1).to_string(),
            neutralize(&a.account),
            as_of.to_string(),
            format!("{:.4}", a.account_risk),
            a.account_tier.label().into(),
            a.users_scored.to_string(),
            a.users_at_risk.to_string(),
            a.high.to_string(),
            a.medium.to_string(),
            a.low.to_string(),
            format!("{:.4}", a.max_probability),
            // Keys as they are (see `base::csv_cells::neutralize`).
            a.most_at_risk_user.clone(),
            a.most_at_risk_email.clone(),
            a.dominant_play.clone(),
        ]
    });
    write_table(path, &header, rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::list::plays::Play;

    fn row(rank: usize, account: &str, p: f64, tier: Tier, play: Play) -> RankedRow {
        RankedRow {
            rank,
            crm: [
                format!("u{rank}@x.io"),
                String::new(),
                account.into(),
                String::new(),
            ],
            tier,
            play,
            ..crate::fixtures::ranked_row(&format!("u{rank}"), p)
        }
    }

    #[test]
    fn accounts_average_their_users_and_name_the_riskiest() {
        let rows = vec![
            row(1, "Acme", 0.9, Tier::High, Play::RepeatValue),
            row(2, "Beta", 0.6, Tier::High, Play::Reengagement),
            row(3, "Acme", 0.4, Tier::Medium, Play::Reengagement),
            row(4, "Acme", 0.35, Tier::Medium, Play::Reengagement),
            row(5, "", 0.3, Tier::Medium, Play::Reengagement),
            row(6, "Beta", 0.1, Tier::Low, Play::FeatureDiscovery),
        ];
        let accounts = roll_up(&rows, Tier::Medium, &TierRule::default());
        assert_eq!(accounts.len(), 2);
        let acme = &accounts[0];
        assert_eq!(acme.account, "Acme");
        assert!((acme.account_risk - 0.55).abs() < 1e-12);
        assert_eq!((acme.users_scored, acme.users_at_risk), (3, 3));
        assert_eq!(acme.most_at_risk_user, "u1");
        assert_eq!(acme.dominant_play, "Re-engagement");
        assert_eq!(acme.account_tier, Tier::High);
        let beta = &accounts[1];
        assert!((beta.account_risk - 0.35).abs() < 1e-12);
        assert_eq!((beta.users_at_risk, beta.high, beta.low), (1, 1, 1));
        assert_eq!(beta.dominant_play, "Re-engagement");
        assert_eq!(beta.account_tier, Tier::Medium);
    }

    #[test]
    fn the_most_at_risk_user_named_is_one_cs_may_contact() {
        let held_out = |r: RankedRow| RankedRow {
            group: Group::Control,
            ..r
        };
        let rows = vec![
            held_out(row(1, "Acme", 0.9, Tier::High, Play::RepeatValue)),
            row(2, "Acme", 0.7, Tier::High, Play::Reengagement),
            held_out(row(3, "Beta", 0.6, Tier::High, Play::Reengagement)),
        ];
        let accounts = roll_up(&rows, Tier::Medium, &TierRule::default());
        let acme = &accounts[0];
        assert_eq!(
            (
                acme.most_at_risk_user.as_str(),
                acme.most_at_risk_email.as_str()
            ),
            ("u2", "u2@x.io")
        );
        assert_eq!(acme.max_probability, 0.9);
        // Every user of Beta is held out: nobody is named.
        assert_eq!(accounts[1].most_at_risk_user, "");
        assert_eq!(accounts[1].users_at_risk, 1);
    }
}
