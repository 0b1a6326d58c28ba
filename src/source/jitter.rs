//! Poll intervals with jitter: many hosts following one repository should not fetch in
//! lockstep. The spread is a deterministic function of a seed (e.g. a hash of the source's
//! name and the poll count), so tests can pin it and no RNG crate is needed.

use std::time::Duration;

/// The fraction of the interval the jitter may add or remove (±10%).
pub const SPREAD: f64 = 0.10;

/// `interval` moved by up to ±10%, chosen by `seed`. Never zero for a non-zero interval.
pub fn jittered(interval: Duration, seed: u64) -> Duration {
    // splitmix64: a well-spread 64-bit mix, so neighbouring seeds land far apart.
    let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    // Top 53 bits -> [0, 1), then -> [-1, 1).
    let unit = (z >> 11) as f64 / (1u64 << 53) as f64;
    let factor = 1.0 + SPREAD * (2.0 * unit - 1.0);
    let out = interval.mul_f64(factor);
    if out.is_zero() && !interval.is_zero() {
        Duration::from_nanos(1)
    } else {
        out
    }
}

/// A seed from a name and a counter (FNV-1a of the name, mixed with the counter), for
/// callers that have no number of their own.
pub fn seed(name: &str, count: u64) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h ^ count.rotate_left(32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stays_within_ten_percent_and_varies() {
        let base = Duration::from_secs(60);
        let mut seen = std::collections::BTreeSet::new();
        for s in 0..1000 {
            let d = jittered(base, seed("web", s));
            assert!(
                d >= Duration::from_secs(54) && d <= Duration::from_secs(66),
                "{d:?}"
            );
            seen.insert(d.as_millis());
        }
        // Spread over the range, not a constant.
        assert!(seen.len() > 500);
        let min = *seen.first().unwrap();
        let max = *seen.last().unwrap();
        assert!(min < 55_000 && max > 65_000, "{min}..{max}");
    }

    #[test]
    fn deterministic_per_seed() {
        let base = Duration::from_secs(30);
        assert_eq!(jittered(base, 7), jittered(base, 7));
        assert_ne!(jittered(base, seed("a", 1)), jittered(base, seed("b", 1)));
        assert_eq!(jittered(Duration::ZERO, 3), Duration::ZERO);
        assert!(!jittered(Duration::from_nanos(1), 3).is_zero());
    }
}
