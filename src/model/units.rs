//! Unit parsing shared by the loader and the CLI: sizes (binary units, as Docker), durations (Go
//! `time.ParseDuration` syntax, as Compose), CPU counts and signal names.

use super::error::UnitError;
use std::time::Duration;

/// "512m" = 536870912, "1g", "1024k", "100b", "1.5g", "512MiB", plain digits = bytes.
/// Follows Docker's `RAMInBytes`: optional space, suffix k/m/g/t/p with optional `i` and `b`.
pub fn parse_size(s: &str) -> Result<u64, UnitError> {
    let bad = || UnitError::Size(s.to_string());
    let t = s.trim();
    let num_end = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(num_end);
    if num.is_empty() || num.starts_with('.') || num.ends_with('.') || num.matches('.').count() > 1
    {
        return Err(bad());
    }
    let unit = unit.trim_start().to_ascii_lowercase();
    let unit = unit.strip_suffix('b').unwrap_or(&unit);
    let unit = unit.strip_suffix('i').unwrap_or(unit);
    let mult: u64 = match unit {
        "" => 1,
        "k" => 1 << 10,
        "m" => 1 << 20,
        "g" => 1 << 30,
        "t" => 1 << 40,
        "p" => 1 << 50,
        _ => return Err(bad()),
    };
    if !num.contains('.') {
        let n: u64 = num.parse().map_err(|_| bad())?;
        return n.checked_mul(mult).ok_or_else(bad);
    }
    let f: f64 = num.parse().map_err(|_| bad())?;
    let v = f * mult as f64;
    if !v.is_finite() || v >= u64::MAX as f64 {
        return Err(bad());
    }
    Ok(v as u64)
}

/// Go duration syntax: a sequence of decimal numbers with units ns, us (µs), ms, s, m, h,
/// e.g. "1m30s", "1.5h", "500ms". "0" alone is allowed; negative durations are not.
pub fn parse_duration(s: &str) -> Result<Duration, UnitError> {
    let bad = || UnitError::Duration(s.to_string());
    let t = s.trim();
    if t == "0" {
        return Ok(Duration::ZERO);
    }
    let t = t.strip_prefix('+').unwrap_or(t);
    if t.is_empty() {
        return Err(bad());
    }
    let mut rest = t;
    let mut total_ns: f64 = 0.0;
    while !rest.is_empty() {
        let n_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(bad)?;
        let (num, after) = rest.split_at(n_end);
        if num.is_empty() || num == "." {
            return Err(bad());
        }
        let value: f64 = num.parse().map_err(|_| bad())?;
        let u_end = after
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(after.len());
        let (unit, next) = after.split_at(u_end);
        let scale = match unit {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return Err(bad()),
        };
        total_ns += value * scale;
        rest = next;
    }
    if !total_ns.is_finite() || total_ns > u64::MAX as f64 {
        return Err(bad());
    }
    Ok(Duration::from_nanos(total_ns.round() as u64))
}

/// CPU count: a non-negative finite number ("1.5", 2). 0 means unlimited (Docker).
pub fn parse_cpus(s: &str) -> Result<f64, UnitError> {
    let v: f64 = s
        .trim()
        .parse()
        .map_err(|_| UnitError::Cpus(s.to_string()))?;
    check_cpus(v).ok_or_else(|| UnitError::Cpus(s.to_string()))
}

/// Docker's smallest memory limit (`linuxMinMemory`): 6 MiB.
pub const MIN_MEMORY_LIMIT: u64 = 6 * 1024 * 1024;

/// Docker's check of a CPU count against the host: 0 is unlimited, otherwise from 0.01 to the
/// host's CPUs. Returns the message for a count out of that range.
pub fn cpus_out_of_range(cpus: f64, host_cpus: u32) -> Option<String> {
    if cpus == 0.0 || (0.01..=f64::from(host_cpus)).contains(&cpus) {
        return None;
    }
    Some(format!(
        "{cpus} CPUs is out of range: the range of CPUs is from 0.01 to {host_cpus}.00, as there \
         are only {host_cpus} CPUs available (0 means no limit)"
    ))
}

/// Validates a numeric CPU count.
pub fn check_cpus(v: f64) -> Option<f64> {
    (v.is_finite() && v >= 0.0).then_some(v)
}

const SIGNALS: &[&str] = &[
    "HUP", "INT", "QUIT", "ILL", "TRAP", "ABRT", "IOT", "BUS", "FPE", "KILL", "USR1", "SEGV",
    "USR2", "PIPE", "ALRM", "TERM", "STKFLT", "CHLD", "CONT", "STOP", "TSTP", "TTIN", "TTOU",
    "URG", "XCPU", "XFSZ", "VTALRM", "PROF", "WINCH", "IO", "POLL", "PWR", "SYS",
];

/// Normalizes a signal to "SIGNAME" (case-insensitive, `SIG` optional, `RTMIN+n` allowed) or
/// keeps a number 1..=64 as digits.
pub fn normalize_signal(s: &str) -> Result<String, UnitError> {
    let t = s.trim();
    if let Ok(n) = t.parse::<u32>() {
        return if (1..=64).contains(&n) {
            Ok(n.to_string())
        } else {
            Err(UnitError::Signal(s.to_string()))
        };
    }
    let up = t.to_ascii_uppercase();
    let name = up.strip_prefix("SIG").unwrap_or(&up);
    let rt_ok = |base: &str| {
        name.strip_prefix(base).is_some_and(|r| {
            r.is_empty()
                || r.strip_prefix(['+', '-'])
                    .and_then(|d| d.parse::<u32>().ok())
                    .is_some_and(|d| d <= 30)
        })
    };
    if SIGNALS.contains(&name) || rt_ok("RTMIN") || rt_ok("RTMAX") {
        Ok(format!("SIG{name}"))
    } else {
        Err(UnitError::Signal(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        let ok: &[(&str, u64)] = &[
            ("512m", 536_870_912),
            ("1g", 1 << 30),
            ("1024k", 1 << 20),
            ("100b", 100),
            ("100", 100),
            ("0", 0),
            ("1.5g", 1_610_612_736),
            ("512MiB", 536_870_912),
            ("512MB", 536_870_912),
            ("64 m", 64 << 20),
            ("2T", 2 << 40),
            ("1p", 1 << 50),
        ];
        for (s, want) in ok {
            assert_eq!(parse_size(s), Ok(*want), "{s}");
        }
        for s in [
            "",
            "12x",
            "m",
            "-1m",
            "1.m",
            ".5m",
            "1..5m",
            "1e3",
            "99999999999999999999",
            "20000p",
        ] {
            assert!(parse_size(s).is_err(), "{s} should fail");
        }
    }

    #[test]
    fn durations() {
        let ok: &[(&str, Duration)] = &[
            ("10s", Duration::from_secs(10)),
            ("1m30s", Duration::from_secs(90)),
            ("500ms", Duration::from_millis(500)),
            ("1h", Duration::from_secs(3600)),
            ("2us", Duration::from_micros(2)),
            ("2µs", Duration::from_micros(2)),
            ("7ns", Duration::from_nanos(7)),
            ("1.5s", Duration::from_millis(1500)),
            ("0", Duration::ZERO),
            ("0s", Duration::ZERO),
            ("1h2m3s4ms", Duration::from_millis(3_723_004)),
        ];
        for (s, want) in ok {
            assert_eq!(parse_duration(s), Ok(*want), "{s}");
        }
        for s in ["", "10", "s", "1x", "-1s", "1m30", "ms", "1..2s", "."] {
            assert!(parse_duration(s).is_err(), "{s} should fail");
        }
    }

    #[test]
    fn cpus_against_the_host() {
        assert_eq!(cpus_out_of_range(0.0, 2), None);
        assert_eq!(cpus_out_of_range(0.01, 2), None);
        assert_eq!(cpus_out_of_range(2.0, 2), None);
        assert!(
            cpus_out_of_range(2.5, 2)
                .unwrap()
                .contains("from 0.01 to 2.00")
        );
        assert!(cpus_out_of_range(1e30, 2).is_some());
        assert!(cpus_out_of_range(0.001, 2).is_some());
    }

    #[test]
    fn cpus() {
        assert_eq!(parse_cpus("1.5"), Ok(1.5));
        assert_eq!(parse_cpus("2"), Ok(2.0));
        assert_eq!(parse_cpus("0"), Ok(0.0));
        for s in ["-1", "abc", "", "NaN", "inf"] {
            assert!(parse_cpus(s).is_err(), "{s} should fail");
        }
    }

    #[test]
    fn signals() {
        let ok = [
            ("SIGTERM", "SIGTERM"),
            ("term", "SIGTERM"),
            ("SIGkill", "SIGKILL"),
            ("9", "9"),
            ("SIGRTMIN+3", "SIGRTMIN+3"),
        ];
        for (s, want) in ok {
            assert_eq!(normalize_signal(s).as_deref(), Ok(want), "{s}");
        }
        for s in ["SIGFOO", "0", "65", "", "RTMIN+99"] {
            assert!(normalize_signal(s).is_err(), "{s} should fail");
        }
    }
}
