//! The BG/NBD "buy till you die" model (Fader, Hardie and Lee 2005, "Counting your
//! customers the easy way"), fitted by maximum likelihood to every user's value actions,
//! for one feature: the chance that a user makes no value action in the next horizon.
//!
//! Each user makes value actions at a rate λ (gamma-distributed over users, shape `r`, rate
//! `alpha`, in days) while "alive", and after each one drops out for good with chance `p`
//! (beta-distributed, `a`, `b`). From a user's repeat count `x`, the day of the last value
//! action `tx` and the days observed `age` (both counted from the first value action), the
//! model gives the chance the user is still alive and, if so, of a quiet horizon at their
//! own rate. It is the standard model of non-contractual purchase logs, where silence alone
//! does not say who left; the logistic model weighs it beside the other features.

use argmin::core::{CostFunction, Executor, State};
use argmin::solver::neldermead::NelderMead;
use libm::lgamma;
use serde::{Deserialize, Serialize};

/// At most this many users are fitted on (an even stride through them): four population
/// parameters are precise long before that, and the fit stays under a second.
pub const FIT_USERS: usize = 20_000;

/// Fewer users with a value action than this: no fit (the feature is 0 for everyone).
pub const MIN_USERS: usize = 50;

/// One user's value actions up to an as-of date, in days from the first one.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    /// Days with a value action after the first such day (several on one calendar day
    /// are one transaction, as in the BG/NBD literature).
    pub repeats: f64,
    /// Days from the first value action to the last.
    pub last: f64,
    /// Days from the first value action to the as-of date.
    pub age: f64,
}

impl Summary {
    /// From the first and last value action (ms), the days with one, and the as-of date.
    pub fn new(first_ts: i64, last_ts: i64, value_days: f64, as_of: i64) -> Summary {
        // The same day arithmetic as the feature pass (`tally::days`).
        let days = |ms: i64| (ms as f64 * (1.0 / crate::base::time::DAY_MS as f64)).max(0.0);
        Summary {
            repeats: (value_days - 1.0).max(0.0),
            last: days(last_ts - first_ts),
            age: days(as_of - first_ts),
        }
    }
}

/// Fitted BG/NBD parameters (rates per day) and the horizon the feature looks ahead.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BgNbd {
    pub r: f64,
    pub alpha: f64,
    pub a: f64,
    pub b: f64,
    pub horizon_days: u32,
}

/// How the fit went, for the model file.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BgNbdFit {
    #[serde(flatten)]
    pub params: BgNbd,
    /// Users the parameters were fitted on.
    pub users: usize,
    /// Mean log-likelihood per user at the optimum.
    pub log_likelihood: f64,
    pub iterations: u64,
    /// The simplex shrank below its tolerance before the iteration limit.
    pub converged: bool,
}

fn lbeta(a: f64, b: f64) -> f64 {
    lgamma(a) + lgamma(b) - lgamma(a + b)
}

/// `ln(e^x + e^y)` without overflow.
fn log_add_exp(x: f64, y: f64) -> f64 {
    let m = x.max(y);
    if m == f64::NEG_INFINITY {
        return m;
    }
    m + ((x - m).exp() + (y - m).exp()).ln()
}

impl BgNbd {
    /// Whether every parameter is a usable positive number.
    pub fn is_valid(&self) -> bool {
        [self.r, self.alpha, self.a, self.b]
            .iter()
            .all(|v| v.is_finite() && *v > 0.0)
            && self.horizon_days >= 1
    }

    /// The summed log-likelihood of `users` (equation 6 of the paper).
    pub fn log_likelihood(&self, users: &[Summary]) -> f64 {
        let BgNbd { r, alpha, a, b, .. } = *self;
        let common = r * alpha.ln() - lgamma(r) - lbeta(a, b);
        // The gamma and beta terms depend on the repeat count only: once per count.
        let mut by_count: std::collections::HashMap<u64, (f64, f64, f64)> = Default::default();
        users
            .iter()
            .map(|u| {
                let x = u.repeats;
                let (g, b0, b1) = *by_count.entry(x as u64).or_insert_with(|| {
                    let b1 = if x > 0.0 {
                        lbeta(a + 1.0, b + x - 1.0)
                    } else {
                        f64::NEG_INFINITY
                    };
                    (lgamma(r + x), lbeta(a, b + x), b1)
                });
                let alive = b0 - (r + x) * (alpha + u.age).ln();
                let gone = b1 - (r + x) * (alpha + u.last).ln();
                common + g + log_add_exp(alive, gone)
            })
            .sum()
    }

    /// The chance that the user makes no value action in the next `horizon_days`: they
    /// dropped out after their last one, or are alive and quiet at their own rate,
    /// `1 − P(alive) · (1 − ((α + age) / (α + age + h))^(r + x))`.
    pub fn quiet_probability(&self, u: Summary) -> f64 {
        let BgNbd { r, alpha, a, b, .. } = *self;
        let x = u.repeats;
        let h = self.horizon_days as f64;
        let alive = if x > 0.0 {
            let odds_gone = a / (b + x - 1.0) * ((alpha + u.age) / (alpha + u.last)).powf(r + x);
            1.0 / (1.0 + odds_gone)
        } else {
            1.0
        };
        let quiet_if_alive = ((alpha + u.age) / (alpha + u.age + h)).powf(r + x);
        1.0 - alive * (1.0 - quiet_if_alive)
    }

    /// [`BgNbd::quiet_probability`] as log-odds, within ±30.
    pub fn quiet_log_odds(&self, u: Summary) -> f64 {
        let p = self.quiet_probability(u).clamp(1e-13, 1.0 - 1e-13);
        (p / (1.0 - p)).ln().clamp(-30.0, 30.0)
    }
}

/// The negative mean log-likelihood over log-parameters.
struct Problem<'a> {
    users: &'a [Summary],
    horizon_days: u32,
}

impl Problem<'_> {
    fn params(&self, p: &[f64]) -> BgNbd {
        from_logs(p, self.horizon_days)
    }
}

/// Parameters from their logs (the space the fit searches).
fn from_logs(p: &[f64], horizon_days: u32) -> BgNbd {
    BgNbd {
        r: p[0].exp(),
        alpha: p[1].exp(),
        a: p[2].exp(),
        b: p[3].exp(),
        horizon_days,
    }
}

impl CostFunction for Problem<'_> {
    type Param = Vec<f64>;
    type Output = f64;

    fn cost(&self, p: &Self::Param) -> Result<f64, argmin::core::Error> {
        // Far outside any real log's range (e^±15): a wall, not a NaN.
        if p.iter().any(|v| !v.is_finite() || v.abs() > 15.0) {
            return Ok(f64::MAX);
        }
        let ll = self.params(p).log_likelihood(self.users) / self.users.len() as f64;
        Ok(if ll.is_finite() { -ll } else { f64::MAX })
    }
}

/// Fits the parameters by Nelder–Mead on log-parameters from r = 1, α = `typical_gap`
/// days, a = b = 1. `None` with fewer than [`MIN_USERS`] users or no finite optimum.
pub fn fit(users: &[Summary], typical_gap: f64, horizon_days: u32) -> Option<BgNbdFit> {
    if users.len() < MIN_USERS || horizon_days == 0 {
        return None;
    }
    let stride = users.len().div_ceil(FIT_USERS);
    let sample: Vec<Summary> = users.iter().step_by(stride).copied().collect();
    let problem = Problem {
        users: &sample,
        horizon_days,
    };
    let start = [0.0, typical_gap.clamp(1.0, 365.0).ln(), 0.0, 0.0];
    let mut simplex = vec![start.to_vec()];
    for i in 0..4 {
        let mut v = start.to_vec();
        v[i] += 0.5;
        simplex.push(v);
    }
    let solver = NelderMead::new(simplex).with_sd_tolerance(1e-10).ok()?;
    let result = Executor::new(problem, solver)
        .configure(|s| s.max_iters(2000))
        .run()
        .ok()?;
    let state = result.state();
    let params = from_logs(state.get_best_param()?, horizon_days);
    let cost = state.get_best_cost();
    let iterations = state.get_iter();
    (params.is_valid() && cost.is_finite() && cost < f64::MAX).then_some(BgNbdFit {
        params,
        users: sample.len(),
        log_likelihood: -cost,
        iterations,
        converged: iterations < 2000,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_distr::{Beta, Distribution, Exp, Gamma};

    const M: BgNbd = BgNbd {
        r: 0.8,
        alpha: 12.0,
        a: 1.2,
        b: 3.0,
        horizon_days: 60,
    };

    /// Users drawn from the model itself, each observed for `age` days after a first
    /// value action.
    fn simulate(m: BgNbd, n: usize, seed: u64) -> Vec<Summary> {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let lam = Gamma::new(m.r, 1.0 / m.alpha).unwrap();
        let drop = Beta::new(m.a, m.b).unwrap();
        (0..n)
            .map(|_| {
                let age = rng.random_range(60.0..400.0);
                let (l, p) = (lam.sample(&mut rng), drop.sample(&mut rng));
                let wait = Exp::new(l).unwrap();
                let (mut t, mut x, mut last) = (0.0, 0.0, 0.0);
                loop {
                    t += wait.sample(&mut rng);
                    if t >= age {
                        break;
                    }
                    x += 1.0;
                    last = t;
                    if rng.random::<f64>() < p {
                        break;
                    }
                }
                Summary {
                    repeats: x,
                    last,
                    age,
                }
            })
            .collect()
    }

    #[test]
    fn the_fit_recovers_the_parameters_it_was_simulated_with() {
        let users = simulate(M, 20_000, 7);
        let f = fit(&users, 10.0, 60).unwrap();
        assert!(f.converged && f.users == 20_000, "{f:?}");
        let p = f.params;
        for (got, want) in [(p.r, M.r), (p.alpha, M.alpha), (p.a, M.a), (p.b, M.b)] {
            assert!((got / want - 1.0).abs() < 0.15, "{p:?} vs {M:?}");
        }
        // The optimum is at least as likely as the truth.
        let n = users.len() as f64;
        assert!(f.log_likelihood >= M.log_likelihood(&users) / n - 1e-9);
    }

    #[test]
    fn the_quiet_probability_by_hand() {
        // No repeat: alive for sure; quiet = (α + age)/(α + age + h))^r.
        let u = Summary {
            repeats: 0.0,
            last: 0.0,
            age: 48.0,
        };
        let want = 1.0 - (1.0 - (60.0f64 / 120.0).powf(0.8));
        assert!((M.quiet_probability(u) - want).abs() < 1e-12);
        // Three repeats, the last 40 of 100 days ago: P(alive) = 1 / (1 + a/(b+x−1) ·
        // ((α+100)/(α+60))^(r+x)); quiet if alive = ((α+100)/(α+160))^(r+x).
        let u = Summary {
            repeats: 3.0,
            last: 60.0,
            age: 100.0,
        };
        let alive = 1.0 / (1.0 + 1.2 / 5.0 * (112.0f64 / 72.0).powf(3.8));
        let want = 1.0 - alive * (1.0 - (112.0f64 / 172.0).powf(3.8));
        assert!((M.quiet_probability(u) - want).abs() < 1e-12);
        assert!((M.quiet_log_odds(u) - (want / (1.0 - want)).ln()).abs() < 1e-9);
        // The longer the silence, the likelier a quiet horizon.
        let later = Summary { last: 20.0, ..u };
        assert!(M.quiet_probability(later) > M.quiet_probability(u));
    }

    #[test]
    fn too_few_users_give_no_fit() {
        assert!(fit(&simulate(M, MIN_USERS - 1, 1), 10.0, 60).is_none());
        assert!(fit(&[], 10.0, 60).is_none());
    }
}
