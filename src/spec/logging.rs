//! `logging` of a service: `driver` (json-file, local or none) and the rotation options
//! `max-size` and `max-file`, with Docker's meaning and units.

use super::value::Cx;
use super::yaml::{Kind, Node};
use crate::model::{LogDriver, Logging, MAX_LOG_FILES};

const KEYS: &[&str] = &["driver", "options"];
const OPTIONS: &[&str] = &["max-size", "max-file", "compress"];

/// Converts `logging`; errors (with file:line:col) for a driver rstack does not have and for
/// options it cannot honour.
pub fn logging(cx: &mut Cx<'_>, path: &str, v: &Node) -> Option<Logging> {
    if v.is_null() {
        return None;
    }
    let entries = cx.map(path, v)?;
    let mut out = Logging {
        driver: LogDriver::JsonFile,
        max_size: None,
        max_file: None,
    };
    let mut options: Option<&Node> = None;
    for (k, knode, val) in entries {
        let p = format!("{path}.{k}");
        match k.as_str() {
            "driver" => {
                let Some(name) = cx.string(&p, val) else {
                    continue;
                };
                match name.as_str() {
                    // Compose leaves an empty driver to the engine's default.
                    "" | "json-file" => out.driver = LogDriver::JsonFile,
                    "local" => out.driver = LogDriver::Local,
                    "none" => out.driver = LogDriver::None,
                    other => cx.error_hint(
                        val.span,
                        format!("{p}: logging driver \"{other}\" is not supported"),
                        "use json-file, local (both keep rotated files that `rstack logs` reads) or none",
                    ),
                }
            }
            "options" => options = Some(val),
            k if k.starts_with("x-") => {}
            k => cx.unknown_key(knode.span, path, k, KEYS),
        }
    }
    if let Some(opts) = options {
        rotation(cx, &format!("{path}.options"), opts, &mut out);
    }
    Some(out)
}

fn rotation(cx: &mut Cx<'_>, path: &str, v: &Node, out: &mut Logging) {
    if v.is_null() {
        return;
    }
    let Some(entries) = cx.map(path, v) else {
        return;
    };
    for (k, knode, val) in entries {
        let p = format!("{path}.{k}");
        if out.driver == LogDriver::None {
            cx.error(
                knode.span,
                format!("{p}: logging driver \"none\" takes no options"),
            );
            continue;
        }
        let Some(text) = option_text(cx, &p, val) else {
            continue;
        };
        match k.as_str() {
            "max-size" => match human_size(&text) {
                Some(b) if b > 0 => out.max_size = Some(b),
                _ => cx.error_hint(
                    val.span,
                    format!("{p}: invalid size \"{text}\""),
                    "a positive size such as 10m or 500k (decimal units, as Docker's)",
                ),
            },
            "max-file" => match text.trim().parse::<u32>() {
                Ok(n) if (1..=MAX_LOG_FILES).contains(&n) => out.max_file = Some(n),
                _ => cx.error_hint(
                    val.span,
                    format!("{p}: invalid number of files \"{text}\""),
                    format!("a whole number from 1 to {}", MAX_LOG_FILES),
                ),
            },
            // Rotated files stay uncompressed, so `logs` can read them as they are.
            "compress" => {}
            k => cx.unknown_key(knode.span, path, k, OPTIONS),
        }
    }
}

/// An option's value: Compose takes strings and numbers alike.
fn option_text(cx: &mut Cx<'_>, path: &str, v: &Node) -> Option<String> {
    match &v.kind {
        Kind::Null => None,
        _ => cx.string(path, v),
    }
}

/// Docker's `units.FromHumanSize`: decimal units ("10m" = 10,000,000 bytes), an optional
/// `i` and `b` after the unit, as the json-file and local drivers read `max-size`.
pub fn human_size(s: &str) -> Option<u64> {
    let t = s.trim();
    let end = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(end);
    let unit = unit.trim_start().to_ascii_lowercase();
    let unit = unit.strip_suffix('b').unwrap_or(&unit);
    let unit = unit.strip_suffix('i').unwrap_or(unit);
    let mult: f64 = match unit {
        "" => 1.0,
        "k" => 1e3,
        "m" => 1e6,
        "g" => 1e9,
        "t" => 1e12,
        "p" => 1e15,
        _ => return None,
    };
    if num.is_empty() || num.starts_with('.') || num.ends_with('.') {
        return None;
    }
    let v = num.parse::<f64>().ok()? * mult;
    (v.is_finite() && v < u64::MAX as f64).then_some(v as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_decimal_as_dockers() {
        assert_eq!(human_size("10m"), Some(10_000_000));
        assert_eq!(human_size("20MB"), Some(20_000_000));
        assert_eq!(human_size("1.5k"), Some(1500));
        assert_eq!(human_size("512"), Some(512));
        assert_eq!(human_size("2 g"), Some(2_000_000_000));
        for bad in ["", "m", "-1", "1x", ".5m", "1.m"] {
            assert_eq!(human_size(bad), None, "{bad}");
        }
    }
}
