//! Random draws of the simulator, all from a user's own ChaCha8 stream; nothing here keeps
//! state (the order of draws is what makes a seed reproduce its files).

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

pub(super) fn normal(rng: &mut ChaCha8Rng) -> f32 {
    rng.sample::<f32, _>(StandardNormal)
}

pub(super) fn chance(rng: &mut ChaCha8Rng, p: f32) -> bool {
    rng.random::<f32>() < p
}

/// `a` if `yes`, else `b`: a short choice between values (both are evaluated).
pub(super) fn pick<T>(yes: bool, a: T, b: T) -> T {
    if yes {
        a
    } else {
        b
    }
}

pub(super) fn poisson(rng: &mut ChaCha8Rng, lambda: f32) -> u32 {
    let limit = (-lambda.clamp(0.0, 10.0)).exp();
    let (mut k, mut prod) = (0, rng.random::<f32>());
    while prod > limit && k < 30 {
        k += 1;
        prod *= rng.random::<f32>();
    }
    k
}

pub(super) fn range(rng: &mut ChaCha8Rng, (lo, hi): (u32, u32)) -> u32 {
    rng.random_range(lo..=hi)
}

/// Seconds into the day, shaped like working hours around `hour` (UTC).
pub(super) fn time_of_day(rng: &mut ChaCha8Rng, hour: f32) -> u32 {
    let h = pick(
        chance(rng, 0.08),
        rng.random_range(6.0..23.0),
        hour + 2.0 * normal(rng),
    );
    (h.clamp(0.0, 23.95) * 3600.0) as u32
}
