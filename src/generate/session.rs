//! One session of a SaaS user: a login and page views, then onboarding steps, value work,
//! imports and the odd error, help page or survey. The draws keep their order: a seed's
//! files depend on it.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::draw::{chance, normal, pick, poisson, range};
use super::persona::{FRICTION, PERSONAS, POWER};
use super::user::User;
use super::vocabulary::{
    Ev, ERROR, HELP, IMPORT, IMPORT_FAIL, LOGIN, NO_VALUE, NPS, PAGE, REPORT, SETTINGS, SURVEY,
};

impl User {
    /// One session from `start`; returns the time of its last event.
    pub(super) fn session(
        &mut self,
        rng: &mut ChaCha8Rng,
        d: u32,
        start: u32,
        value_mult: f32,
        out: &mut Vec<Ev>,
    ) -> u32 {
        let power = self.persona == POWER;
        let mut t = start;
        self.sessions += 1;
        self.emit(rng, out, &mut t, LOGIN, NO_VALUE, 0.0);
        for _ in 0..1 + poisson(rng, pick(power, 1.3, 0.6)) {
            self.emit(rng, out, &mut t, PAGE, NO_VALUE, 1.0);
        }
        if self.departed.is_some() {
            return t;
        }
        let stuck = self.onboard(rng, d, &mut t, out);
        if self.stage == 4 {
            self.work(rng, d, value_mult, &mut t, out);
        }
        self.asides(rng, d, stuck, &mut t, out);
        t
    }

    /// Onboarding: started, data_source_connected, data_imported, report_created
    /// (activation), as far as the session gets; returns whether it got stuck.
    fn onboard(&mut self, rng: &mut ChaCha8Rng, d: u32, t: &mut u32, out: &mut Vec<Ev>) -> bool {
        let p = &PERSONAS[self.persona];
        let mut stuck = false;
        while self.stage < 4 {
            let next = self.stage + 1;
            stuck = next > 1 && (next > self.cap || !chance(rng, p.advance));
            let blocked = next == self.friction_step;
            if !stuck && chance(rng, pick(blocked, 0.75, pick(next == 3, 0.08, 0.02))) {
                for _ in 0..1 + poisson(rng, pick(blocked, 1.2, 0.2)) {
                    let kind = pick(next == 3, IMPORT_FAIL, ERROR);
                    self.emit(rng, out, t, kind, NO_VALUE, 1.0);
                    self.friction += 1.0;
                }
                stuck = true;
            }
            if stuck {
                break;
            }
            self.stage = next;
            let rows = (10.0 * rng.random_range(4.0..12.0f32).exp()) as u32;
            let val = [NO_VALUE, NO_VALUE, rows, range(rng, (1, 12))][usize::from(next - 1)];
            self.emit(rng, out, t, next + 1, val, pick(next == 4, 4.0, 1.5));
            if next == 4 {
                (self.depth, self.last_value) = (1, Some(d));
            }
        }
        stuck
    }

    /// An activated user's work: maybe a new core feature, value actions, other adopted
    /// features now and then, and an import (which may fail).
    fn work(
        &mut self,
        rng: &mut ChaCha8Rng,
        d: u32,
        value_mult: f32,
        t: &mut u32,
        out: &mut Vec<Ev>,
    ) {
        let (p, power) = (&PERSONAS[self.persona], self.persona == POWER);
        if self.depth < self.max_depth && chance(rng, p.discover) {
            let f = self.order[self.depth as usize];
            self.depth += 1;
            self.emit(rng, out, t, REPORT + f, NO_VALUE, 2.0);
            self.last_value = pick(f < 4, Some(d), self.last_value);
        }
        if chance(rng, (value_mult * self.value).min(0.95)) {
            for _ in 0..1 + poisson(rng, pick(power, 1.5, 0.6)) {
                // Mostly report_created (value: widgets); other adopted value actions now and then.
                let f = self.order[rng.random_range(0..self.depth.max(1)) as usize];
                let f = pick(f < 4 && chance(rng, 0.6), f, 0);
                let val =
                    [range(rng, (1, 16)), NO_VALUE, range(rng, (2, 12)), NO_VALUE][usize::from(f)];
                let dwell = pick(f == 0 || f == 2, 4.0, 1.0);
                self.emit(rng, out, t, REPORT + f, val, dwell);
                if chance(rng, 0.5) {
                    self.emit(rng, out, t, PAGE, NO_VALUE, 1.0);
                }
            }
            self.last_value = Some(d);
        }
        let order = self.order;
        for &f in order[..self.depth as usize].iter().filter(|&&f| f >= 4) {
            if chance(rng, 0.03) {
                self.emit(rng, out, t, REPORT + f, NO_VALUE, 1.0);
            }
        }
        if chance(rng, 0.12) {
            let failed = chance(rng, pick(self.persona == FRICTION, 0.35, 0.06));
            let rows = (10.0 * rng.random_range(3.0..11.0f32).exp()) as u32;
            let (kind, val) = pick(failed, (IMPORT_FAIL, NO_VALUE), (IMPORT, rows));
            self.emit(rng, out, t, kind, val, 1.5);
            self.friction += pick(failed, 1.0, 0.0);
        }
    }

    /// The rest of a session: errors, help and settings pages, and now and then an NPS
    /// answer or a survey.
    fn asides(
        &mut self,
        rng: &mut ChaCha8Rng,
        d: u32,
        stuck: bool,
        t: &mut u32,
        out: &mut Vec<Ev>,
    ) {
        let p = &PERSONAS[self.persona];
        if chance(rng, pick(self.persona == FRICTION, 0.3, 0.03)) {
            self.emit(rng, out, t, ERROR, NO_VALUE, 1.0);
            self.friction += 1.0;
        }
        for (kind, prob) in [
            (HELP, pick(stuck, 0.4, 0.08)),
            (SETTINGS, pick(d < self.signup_day + 7, 0.15, 0.03)),
        ] {
            if chance(rng, prob) {
                self.emit(rng, out, t, kind, NO_VALUE, 1.0);
            }
        }
        let survey = chance(rng, 0.01);
        if d >= self.nps_after && (survey || chance(rng, 0.03)) {
            let mood = p.mood + 1.5 * self.log_e - 0.4 * self.friction.min(5.0) + 1.5 * normal(rng);
            let mood = mood.round().clamp(0.0, 10.0);
            if survey {
                let score = (mood / 2.0).ceil().max(1.0) as u32; // 1–5
                self.emit(rng, out, t, SURVEY, score, 3.0);
            } else {
                self.emit(rng, out, t, NPS, mood as u32, 1.0); // 0–10
                self.nps_after = d + range(rng, (60, 120));
            }
        }
    }
}
