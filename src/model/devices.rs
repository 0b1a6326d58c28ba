//! `devices:` and `device_cgroup_rules:` of a service: the types and the parsers of their
//! string forms (Docker's `--device` and `--device-cgroup-rule` syntax).

use super::defaults::{DEVICE_PERMISSIONS, is_default_device_permissions};
use serde::{Deserialize, Serialize};

/// A host device given to the container. `source` and `target` are always set by `spec`;
/// their empty defaults only let a document that lacks them decode (and fail the daemon's
/// check that the device exists) instead of failing the whole record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Device {
    /// Device node on the host.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub source: String,
    /// Path inside the container (defaults to `source`).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub target: String,
    /// cgroup permissions, letters from `rwm` (default `rwm`).
    #[serde(skip_serializing_if = "is_default_device_permissions")]
    pub permissions: String,
}

impl Default for Device {
    fn default() -> Self {
        Device {
            source: String::new(),
            target: String::new(),
            permissions: DEVICE_PERMISSIONS.into(),
        }
    }
}

/// A device cgroup rule, `TYPE MAJOR:MINOR ACCESS` (`c 1:3 mr`, `a *:* rwm`); always an
/// allow rule, as Docker's. `kind` and `access` have no default (a rule without them means
/// nothing, and defaulting to `a ... rwm` would grant everything), so they stay required.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceRule {
    /// 'a', 'b' or 'c'.
    pub kind: char,
    /// `None` is `*`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub major: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minor: Option<u32>,
    /// Letters from `rwm`, as written.
    pub access: String,
}

/// Largest device numbers the kernel has (12-bit major, 20-bit minor).
const MAX_MAJOR: u32 = (1 << 12) - 1;
const MAX_MINOR: u32 = (1 << 20) - 1;

/// Whether `s` is a valid permission string: letters from `rwm`, none twice, at least one.
pub fn valid_permissions(s: &str) -> bool {
    !s.is_empty()
        && s.chars().all(|c| matches!(c, 'r' | 'w' | 'm'))
        && (0..s.len()).all(|i| !s[i + 1..].contains(&s[i..i + 1]))
}

/// `HOST[:CONTAINER[:PERMISSIONS]]`; as Docker's CLI, `HOST:PERMISSIONS` is read as
/// permissions when the second part is one.
pub fn parse_device(s: &str) -> Result<Device, String> {
    let parts: Vec<&str> = s.split(':').collect();
    let (source, target, permissions) = match parts[..] {
        [src] => (src, src, "rwm"),
        [src, p] if valid_permissions(p) => (src, src, p),
        [src, dst] => (src, dst, "rwm"),
        [src, dst, p] => (src, dst, p),
        _ => {
            return Err(format!(
                "invalid device \"{s}\": expected HOST_PATH[:CONTAINER_PATH[:PERMISSIONS]]"
            ));
        }
    };
    let target = if target.is_empty() { source } else { target };
    device(source, target, permissions)
}

/// Checks and builds a device from its parts (the long form's fields).
pub fn device(source: &str, target: &str, permissions: &str) -> Result<Device, String> {
    if !source.starts_with('/') {
        return Err(format!(
            "invalid device \"{source}\": the host path must be absolute (e.g. /dev/fuse)"
        ));
    }
    if !target.starts_with('/') {
        return Err(format!(
            "invalid device target \"{target}\": the container path must be absolute"
        ));
    }
    if !valid_permissions(permissions) {
        return Err(format!(
            "invalid device permissions \"{permissions}\": expected letters from rwm (r read, w write, m mknod)"
        ));
    }
    Ok(Device {
        source: source.to_string(),
        target: target.to_string(),
        permissions: permissions.to_string(),
    })
}

/// Parses `TYPE MAJOR:MINOR ACCESS` with Docker's grammar
/// (`^([acb]) ([0-9]+|\*):([0-9]+|\*) ([rwm]{1,3})$`), numbers within the kernel's range.
pub fn parse_device_rule(s: &str) -> Result<DeviceRule, String> {
    let bad = |why: &str| {
        format!(
            "invalid device cgroup rule \"{s}\": {why} (expected e.g. \"c 1:3 rwm\" or \"a *:* rwm\")"
        )
    };
    let fields: Vec<&str> = s.split(' ').collect();
    let [kind, numbers, access] = fields[..] else {
        return Err(bad(
            "expected TYPE MAJOR:MINOR ACCESS separated by single spaces",
        ));
    };
    let kind = match kind {
        "a" | "b" | "c" => kind.chars().next().unwrap_or('a'),
        _ => return Err(bad("the type must be a, b or c")),
    };
    let Some((major, minor)) = numbers.split_once(':') else {
        return Err(bad("expected MAJOR:MINOR"));
    };
    let number = |n: &str, max: u32, what: &str| -> Result<Option<u32>, String> {
        if n == "*" {
            return Ok(None);
        }
        if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad(&format!("the {what} number must be digits or *")));
        }
        match n.parse::<u32>() {
            Ok(v) if v <= max => Ok(Some(v)),
            _ => Err(bad(&format!("{what} number {n} is out of range (0-{max})"))),
        }
    };
    let major = number(major, MAX_MAJOR, "major")?;
    let minor = number(minor, MAX_MINOR, "minor")?;
    if access.is_empty() || access.len() > 3 || !access.chars().all(|c| "rwm".contains(c)) {
        return Err(bad("the access must be letters from rwm"));
    }
    Ok(DeviceRule {
        kind,
        major,
        minor,
        access: access.to_string(),
    })
}

impl std::fmt::Display for DeviceRule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = |v: Option<u32>| v.map_or_else(|| "*".to_string(), |v| v.to_string());
        write!(
            f,
            "{} {}:{} {}",
            self.kind,
            n(self.major),
            n(self.minor),
            self.access
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_short_forms() {
        let d = |s, t, p: &str| Device {
            source: s,
            target: t,
            permissions: p.into(),
        };
        assert_eq!(
            parse_device("/dev/fuse"),
            Ok(d("/dev/fuse".into(), "/dev/fuse".into(), "rwm"))
        );
        assert_eq!(
            parse_device("/dev/zero:/dev/myzero"),
            Ok(d("/dev/zero".into(), "/dev/myzero".into(), "rwm"))
        );
        assert_eq!(
            parse_device("/dev/zero:r"),
            Ok(d("/dev/zero".into(), "/dev/zero".into(), "r"))
        );
        assert_eq!(
            parse_device("/dev/sda:/dev/xvda:rw"),
            Ok(d("/dev/sda".into(), "/dev/xvda".into(), "rw"))
        );
        for bad in [
            "dev/fuse",
            "/a:b",
            "/a:/b:rwx",
            "/a:/b:rr",
            "/a:/b:",
            "/a:/b:r:x",
        ] {
            assert!(parse_device(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn cgroup_rules() {
        let r = parse_device_rule("c 1:3 mr").unwrap();
        assert_eq!(
            (r.kind, r.major, r.minor, r.access.as_str()),
            ('c', Some(1), Some(3), "mr")
        );
        assert_eq!(r.to_string(), "c 1:3 mr");
        let r = parse_device_rule("a *:* rwm").unwrap();
        assert_eq!((r.major, r.minor), (None, None));
        assert_eq!(parse_device_rule("b 7:* r").unwrap().to_string(), "b 7:* r");
        for (bad, why) in [
            ("x 1:3 r", "type"),
            ("c 1:3", "TYPE MAJOR:MINOR ACCESS"),
            ("c  1:3 r", "TYPE MAJOR:MINOR ACCESS"),
            ("c 1-3 r", "MAJOR:MINOR"),
            ("c a:3 r", "digits or *"),
            ("c -1:3 r", "digits or *"),
            ("c 5000:3 r", "out of range"),
            ("c 1:3 rwx", "rwm"),
            ("c 1:3 rwmr", "rwm"),
        ] {
            let e = parse_device_rule(bad).unwrap_err();
            assert!(e.contains(why) && e.contains(bad), "{bad}: {e}");
        }
    }
}
