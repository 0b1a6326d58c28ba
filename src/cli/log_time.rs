//! The times `logs --since/--until` accept, as docker does (its `GetTimestamp`): a relative
//! Go duration back from now (`10m`, `42s`, `1h30m`), a unix timestamp (`1700000000`,
//! `1700000000.5`), or an RFC 3339 time or one of its shorter layouts (`2024-01-02`,
//! `2024-01-02T15:04`, `2024-01-02T15:04:05.123Z`, `...+01:00`). A time without a zone is
//! taken as UTC (docker takes the client's local zone; rstack's daemon and log lines use UTC).
//! The result is in the logs' own format, which compares as text.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// `value` as a log time (`2026-11-28T06:43:05.123456789Z`), relative ones back from `now`.
pub fn parse(flag: &str, value: &str, now: SystemTime) -> Result<String, String> {
    parse_time(flag, value, now).map(crate::api::logs::log_time)
}

/// `value` as a point in time, relative ones back from `now`.
pub fn parse_time(flag: &str, value: &str, now: SystemTime) -> Result<SystemTime, String> {
    absolute(value)
        .or_else(|| {
            let d = crate::model::units::parse_duration(value).ok()?;
            Some(now.checked_sub(d).unwrap_or(UNIX_EPOCH))
        })
        .ok_or_else(|| {
            format!(
                "invalid value {value:?} for {flag}: expected a relative duration (10m, 42s, \
                 1h30m), an RFC 3339 time (2024-01-02T15:04:05Z) or a unix timestamp"
            )
        })
}

fn absolute(v: &str) -> Option<SystemTime> {
    unix(v).or_else(|| date_time(v))
}

/// `SECONDS[.FRACTION]`.
fn unix(v: &str) -> Option<SystemTime> {
    let (secs, frac) = v.split_once('.').unwrap_or((v, ""));
    if secs.is_empty() || !secs.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let s: u64 = secs.parse().ok()?;
    Some(UNIX_EPOCH + Duration::new(s, nanos(frac)?))
}

/// Up to nine digits of a second's fraction as nanoseconds (more are cut, as Go does).
fn nanos(frac: &str) -> Option<u32> {
    if !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut digits: String = frac.chars().take(9).collect();
    while digits.len() < 9 {
        digits.push('0');
    }
    digits.parse().ok()
}

/// `YYYY-MM-DD[THH:MM[:SS[.F]]][Z|±HH:MM]`.
fn date_time(v: &str) -> Option<SystemTime> {
    let num = |a: usize, b: usize| v.get(a..b)?.parse::<i64>().ok();
    let (y, mo, d) = (num(0, 4)?, num(5, 7)?, num(8, 10)?);
    if v.get(4..5)? != "-"
        || v.get(7..8)? != "-"
        || !(1..=12).contains(&mo)
        || !(1..=31).contains(&d)
    {
        return None;
    }
    let mut rest = &v[10..];
    let (mut h, mut mi, mut s, mut ns) = (0, 0, 0, 0);
    if let Some(r) = rest.strip_prefix(['T', 't']) {
        let n = |a: usize, b: usize| r.get(a..b)?.parse::<i64>().ok();
        (h, mi) = (n(0, 2)?, n(3, 5)?);
        if r.get(2..3)? != ":" {
            return None;
        }
        rest = &r[5..];
        if let Some(r) = rest.strip_prefix(':') {
            s = r.get(0..2)?.parse().ok()?;
            rest = &r[2..];
            if let Some(f) = rest.strip_prefix('.') {
                let end = f.find(|c: char| !c.is_ascii_digit()).unwrap_or(f.len());
                ns = nanos(&f[..end])?;
                rest = &f[end..];
            }
        }
    }
    let offset = match rest {
        "" | "Z" | "z" => 0,
        _ => {
            let sign = match rest.get(..1)? {
                "+" => 1,
                "-" => -1,
                _ => return None,
            };
            let oh = rest.get(1..3)?.parse::<i64>().ok()?;
            let om = rest.get(4..6)?.parse::<i64>().ok()?;
            if rest.len() != 6 || rest.get(3..4)? != ":" {
                return None;
            }
            sign * (oh * 3600 + om * 60)
        }
    };
    if h > 23 || mi > 59 || s > 60 {
        return None;
    }
    let secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s - offset;
    Some(UNIX_EPOCH + Duration::new(u64::try_from(secs).ok()?, ns))
}

/// Days since 1970-01-01 of a date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(v: &str) -> String {
        let now = UNIX_EPOCH + Duration::from_secs(1_764_000_000);
        parse("--since", v, now).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn relative_durations_count_back_from_now() {
        // 1_764_000_000 is 2025-11-24T16:00:00Z.
        assert_eq!(at("0s"), "2025-11-24T16:00:00.000000000Z");
        assert_eq!(at("42s"), "2025-11-24T15:59:18.000000000Z");
        assert_eq!(at("10m"), "2025-11-24T15:50:00.000000000Z");
        assert_eq!(at("1h30m"), "2025-11-24T14:30:00.000000000Z");
        assert_eq!(at("1.5s"), "2025-11-24T15:59:58.500000000Z");
    }

    #[test]
    fn absolute_times_in_every_layout_docker_takes() {
        assert_eq!(at("1700000000"), "2023-11-14T22:13:20.000000000Z");
        assert_eq!(at("1700000000.25"), "2023-11-14T22:13:20.250000000Z");
        assert_eq!(at("2024-01-02"), "2024-01-02T00:00:00.000000000Z");
        assert_eq!(at("2024-01-02T15:04"), "2024-01-02T15:04:00.000000000Z");
        assert_eq!(at("2024-01-02T15:04:05Z"), "2024-01-02T15:04:05.000000000Z");
        assert_eq!(
            at("2024-01-02T15:04:05.123456789123Z"),
            "2024-01-02T15:04:05.123456789Z"
        );
        assert_eq!(
            at("2024-01-02T15:04:05+01:30"),
            "2024-01-02T13:34:05.000000000Z"
        );
        assert_eq!(
            at("2024-03-01T00:00:00-02:00"),
            "2024-03-01T02:00:00.000000000Z"
        );
    }

    #[test]
    fn anything_else_is_refused_with_the_forms_accepted() {
        let now = SystemTime::now();
        for bad in [
            "",
            "yesterday",
            "10x",
            "-5m",
            "2024-13-01",
            "2024-01-02T25:00",
            "2024-01-02X",
        ] {
            let e = parse("--until", bad, now).expect_err(bad);
            assert!(
                e.contains("--until") && e.contains("RFC 3339"),
                "{bad}: {e}"
            );
        }
    }
}
