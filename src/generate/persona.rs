//! The SaaS product's personas: who signs up, and how each kind of user behaves.

/// Per-persona parameters (see the module docs).
pub(super) struct Persona {
    pub(super) name: &'static str,
    pub(super) share: f64,
    pub(super) rate: (f32, f32),  // sessions per weekday at engagement 1
    pub(super) value: f32,        // chance of value work in a session once activated
    pub(super) advance: f32,      // chance per session of taking the next onboarding step
    pub(super) depth: (u32, u32), // core features adopted at most
    pub(super) discover: f32,     // chance per session of adopting the next core feature
    pub(super) drift: f32,        // daily chance of starting to drift
    pub(super) drift_len: (u32, u32), // days
    pub(super) mood: f32,         // centre of NPS answers
    pub(super) plan: [f32; 3],    // cumulative shares of free, starter, pro; the rest enterprise
}

#[rustfmt::skip]
pub(super) const PERSONAS: [Persona; 7] = [
    Persona { name: "power", share: 0.10, rate: (1.2, 2.2), value: 0.6, advance: 0.9, depth: (4, 6), discover: 0.08,
              drift: 0.0015, drift_len: (7, 21), mood: 8.8, plan: [0.05, 0.30, 0.75] },
    Persona { name: "casual", share: 0.28, rate: (0.3, 0.8), value: 0.3, advance: 0.7, depth: (2, 4), discover: 0.04,
              drift: 0.003, drift_len: (7, 28), mood: 7.0, plan: [0.25, 0.65, 0.90] },
    Persona { name: "trial", share: 0.12, rate: (0.6, 1.0), value: 0.0, advance: 0.35, depth: (0, 0), discover: 0.0,
              drift: 0.003, drift_len: (7, 28), mood: 6.0, plan: [0.75, 0.95, 1.00] },
    Persona { name: "stalled", share: 0.10, rate: (0.4, 0.8), value: 0.0, advance: 0.6, depth: (0, 0), discover: 0.0,
              drift: 0.003, drift_len: (7, 28), mood: 5.5, plan: [0.45, 0.80, 0.95] },
    Persona { name: "plateau", share: 0.15, rate: (0.4, 0.8), value: 0.3, advance: 0.7, depth: (1, 2), discover: 0.02,
              drift: 0.004, drift_len: (7, 28), mood: 6.5, plan: [0.35, 0.75, 0.95] },
    Persona { name: "decaying", share: 0.15, rate: (0.5, 1.0), value: 0.35, advance: 0.75, depth: (3, 4), discover: 0.04,
              drift: 0.003, drift_len: (7, 28), mood: 7.0, plan: [0.20, 0.60, 0.90] },
    Persona { name: "friction", share: 0.10, rate: (0.4, 0.8), value: 0.3, advance: 0.7, depth: (2, 4), discover: 0.04,
              drift: 0.003, drift_len: (7, 28), mood: 4.5, plan: [0.25, 0.65, 0.90] },
];
pub(super) const POWER: usize = 0;
pub(super) const TRIAL: usize = 2;
pub(super) const STALLED: usize = 3;
pub(super) const DECAYING: usize = 5;
pub(super) const FRICTION: usize = 6;
