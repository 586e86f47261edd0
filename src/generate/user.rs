//! One simulated user of the SaaS product: traits drawn at signup ([`User::new`]) and the
//! day-by-day state (engagement, drift, time away, departure); a session's events are in
//! `session.rs`. Every draw comes from the user's own stream, in a fixed order.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::draw::{chance, normal, pick, poisson, range, time_of_day};
use super::persona::{DECAYING, FRICTION, PERSONAS, POWER, STALLED, TRIAL};
use super::text::DAY;
use super::vocabulary::Ev;

/// Days of session counts a user remembers (the departure hazard's 14 + 28 days).
const HIST: usize = 42;

/// One simulated user: traits drawn at signup, then the state the days change.
#[derive(Default)]
pub(super) struct User {
    pub(super) id: u32,
    pub(super) persona: usize,
    pub(super) signup_day: u32,
    pub(super) signup_sec: u32,
    pub(super) plan: usize,
    pub(super) account: u32,
    pub(super) crm: [u8; 15],
    pub(super) rate: f32,         // sessions per weekday at engagement 1
    pub(super) value: f32,        // own chance of value work per session
    pub(super) month_day: u32,    // first day of the monthly window (0: no monthly rhythm)
    pub(super) weekend: f32,      // weekend session rate relative to weekdays
    pub(super) hour: f32,         // preferred hour of day, UTC
    pub(super) gap: f32,          // mean seconds between events
    pub(super) frailty: f32,      // hidden part of the departure hazard
    pub(super) max_depth: u32,    // core features this user adopts at most
    pub(super) order: [u8; 6],    // core features in adoption order (report_created first)
    pub(super) cap: u8,           // furthest onboarding stage reachable (4 = activated)
    pub(super) friction_step: u8, // onboarding stage that keeps failing (friction persona)
    pub(super) log_e: f32,        // latent engagement, log scale
    pub(super) stage: u8,         // onboarding: 1 started, 2 connected, 3 imported, 4 activated
    pub(super) depth: u32,        // core features adopted
    pub(super) drift: Option<(u32, u32, f32)>, // start day, length, fraction at which it reverses
    pub(super) away_until: u32,
    pub(super) hist: Vec<u8>, // sessions per day, a ring of HIST days
    pub(super) last_value: Option<u32>,
    pub(super) last_active: u32,
    pub(super) friction: f32, // recent friction events, a decaying ~28-day sum
    pub(super) nps_after: u32,
    pub(super) sessions: u32,
    pub(super) seq: u32,
    pub(super) departed: Option<u32>,
}

impl User {
    pub(super) fn new(rng: &mut ChaCha8Rng, id: u32, signup: u32, accounts: u32) -> User {
        let (mut draw, mut persona) = (rng.random::<f64>(), 0);
        while persona + 1 < PERSONAS.len() && draw >= PERSONAS[persona].share {
            draw -= PERSONAS[persona].share;
            persona += 1;
        }
        let (p, u) = (&PERSONAS[persona], rng.random::<f32>());
        let base62 = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
        let mut user = User {
            id,
            persona,
            signup_day: signup / DAY,
            signup_sec: signup % DAY,
            plan: p.plan.iter().position(|&c| u < c).unwrap_or(3),
            account: (f64::from(accounts) * rng.random::<f64>().powf(1.6)) as u32,
            crm: std::array::from_fn(|_| base62[rng.random_range(0..62)]),
            rate: rng.random_range(p.rate.0..=p.rate.1),
            value: (p.value * (0.8 * normal(rng)).exp()).min(0.9),
            month_day: pick(
                chance(rng, pick(persona == POWER, 0.2, 0.6)),
                range(rng, (1, 24)),
                0,
            ),
            weekend: rng.random_range(0.05..0.35),
            hour: rng.random_range(8.0..14.5) + pick(chance(rng, 0.2), 5.0, 0.0),
            gap: rng.random_range(20.0..90.0),
            log_e: 0.2 * normal(rng),
            frailty: 0.9 * normal(rng),
            max_depth: range(rng, p.depth),
            order: [0, 1, 2, 3, 4, 5],
            cap: 4,
            hist: vec![0; HIST],
            ..User::default()
        };
        for i in (2..6).rev() {
            user.order.swap(i, rng.random_range(1..=i));
        }
        (user.last_active, user.nps_after) = (user.signup_day, user.signup_day + 14);
        if persona == TRIAL || persona == STALLED {
            let trial = persona == TRIAL;
            user.cap = pick(
                trial,
                1 + u8::from(chance(rng, 0.3)),
                2 + rng.random_range(0..2),
            );
            let (onset, len) = pick(trial, ((1, 10), (3, 14)), ((7, 35), (10, 28)));
            let (onset, len) = (range(rng, onset), range(rng, len));
            match chance(rng, 0.92) {
                true => user.drift = Some((user.signup_day + onset, len, 2.0)),
                false => user.rate *= 0.4,
            }
        } else if persona == DECAYING {
            user.drift = Some((
                user.signup_day + range(rng, (14, 120)),
                range(rng, (21, 56)),
                2.0,
            ));
        } else if persona == FRICTION {
            user.friction_step = 2 + rng.random_range(0..2);
        }
        user
    }

    /// Appends an event `dwell` mean gaps after `t` (at `t` when `dwell` is 0).
    pub(super) fn emit(
        &mut self,
        rng: &mut ChaCha8Rng,
        out: &mut Vec<Ev>,
        t: &mut u32,
        kind: u8,
        val: u32,
        dwell: f32,
    ) {
        if dwell > 0.0 {
            *t = (*t + 2 + (-rng.random::<f32>().max(1e-6).ln() * self.gap * dwell) as u32)
                .min(DAY - 1);
        }
        self.seq += 1;
        let (user, seq, sess) = (self.id, self.seq, self.sessions);
        out.push(Ev {
            t: *t,
            user,
            seq,
            sess,
            val,
            kind,
        });
    }

    /// Simulates day `d` (a weekend day or not, `dom` its day of month) of a user signed up by then.
    pub(super) fn day(
        &mut self,
        rng: &mut ChaCha8Rng,
        d: u32,
        calendar: (bool, u32),
        out: &mut Vec<Ev>,
    ) {
        if self.departed.is_some() {
            if chance(rng, 0.0008) {
                let start = time_of_day(rng, self.hour);
                self.session(rng, d, start, 1.0, out);
            }
            return;
        }
        let tenure = d - self.signup_day;
        let away = d < self.away_until;
        self.sessions_of_day(rng, d, calendar, away, out);
        if self.drift.is_none() && !away && tenure > 21 && chance(rng, 0.008) {
            self.away_until = d + range(rng, (7, 21));
        }
        if away {
            return;
        }
        self.maybe_start_drift(rng, d);
        let logit = self.departure_logit(rng, d);
        self.friction *= 0.965;
        if tenure >= 2 && chance(rng, 1.0 / (1.0 + (-logit).exp())) {
            self.departed = Some(d);
        }
    }

    /// Moves engagement a step towards its target (lower during a drift) and plays the
    /// day's sessions (none while away); records the day's session count.
    fn sessions_of_day(
        &mut self,
        rng: &mut ChaCha8Rng,
        d: u32,
        (weekend, dom): (bool, u32),
        away: bool,
        out: &mut Vec<Ev>,
    ) {
        let tenure = d - self.signup_day;
        let in_window = self.month_day > 0 && (self.month_day..self.month_day + 5).contains(&dom);
        let value_mult = pick(self.month_day == 0, 1.0, pick(in_window, 4.0, 0.05));
        let mut target = 0.0;
        if let Some((start, len, undo)) = self.drift.filter(|dr| d >= dr.0) {
            let frac = (d - start) as f32 / len.max(1) as f32;
            target = -3.2 * frac.min(1.0);
            if frac >= undo {
                (self.drift, target) = (None, 0.0);
            }
        }
        self.log_e += 0.15 * (target - self.log_e) + 0.12 * normal(rng);
        let lambda = self.rate * self.log_e.exp() * pick(weekend, self.weekend, 1.0);
        let lambda = lambda * pick(tenure < 14, 1.4, 1.0) * pick(in_window, 2.0, 1.0);
        let mut n = pick(away, 0, poisson(rng, lambda).min(6) as usize);
        let mut starts = [0u32; 6];
        for s in starts.iter_mut().take(n) {
            *s = time_of_day(rng, self.hour);
        }
        if tenure == 0 {
            (n, starts[0]) = (n.max(1), self.signup_sec);
        }
        starts[..n].sort_unstable();
        let (mut free_at, mut count) = (pick(tenure == 0, self.signup_sec, 0), 0u8);
        for &s in &starts[..n] {
            if s.max(free_at) < 86_000 {
                free_at = self.session(rng, d, s.max(free_at), value_mult, out) + 900;
                count += 1;
            }
        }
        self.hist[d as usize % HIST] = count;
        self.last_active = pick(count > 0, d, self.last_active);
    }

    /// Now and then starts a drift (more often for shallow users and after friction); a
    /// quarter of drifts reverse part-way.
    fn maybe_start_drift(&mut self, rng: &mut ChaCha8Rng, d: u32) {
        let p = &PERSONAS[self.persona];
        let shallow = pick(self.stage == 4 && self.depth <= 1, 2.5, 1.0);
        if self.drift.is_none()
            && chance(
                rng,
                p.drift * shallow * (1.0 + 0.3 * self.friction.min(6.0)),
            )
        {
            let undo = pick(chance(rng, 0.25), rng.random_range(0.3..0.7), 2.0);
            self.drift = Some((d, range(rng, p.drift_len), undo));
        }
    }

    /// The logit of the day's departure hazard: what the log shows, plus frailty and noise.
    fn departure_logit(&self, rng: &mut ChaCha8Rng, d: u32) -> f32 {
        let tenure = d - self.signup_day;
        let sessions = |ks: std::ops::Range<usize>| -> f32 {
            ks.map(|k| f32::from(self.hist[(d as usize + HIST - k) % HIST]))
                .sum()
        };
        let (recent, prior) = (sessions(0..14), sessions(14..HIST));
        let prior_days = (tenure + 1).saturating_sub(14).min(28) as f32;
        let known = prior_days >= 7.0 && prior > 0.0;
        let decline = pick(
            known,
            (1.0 - recent / 14.0 * prior_days / prior).clamp(0.0, 1.0),
            0.0,
        );
        let silent = (d - self.last_value.unwrap_or(self.signup_day)) as f32;
        let idle = (d - self.last_active) as f32;
        let never = pick(self.stage < 4 && tenure > 7, 1.0, 0.0);
        -7.6 + 4.0 * decline + 0.2 * silent.ln_1p() + 0.6 * idle.ln_1p() + 2.0 * never
            - 0.5 * self.depth as f32
            + 0.5 * self.friction.ln_1p()
            - 0.3 * (tenure as f32 / 30.0).ln_1p()
            + self.frailty
            + 0.5 * normal(rng)
    }
}
