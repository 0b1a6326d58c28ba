//! `pull_policy` and `platform` of a service: when `up` pulls its image, and which platform
//! of a multi-platform image it runs. Both are kept as the text Compose prints (normalized
//! as Compose normalizes it: `if_not_present` is `missing`), parsed into meaning on demand.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::time::Duration;

/// When `up` pulls a service's image. Default: `missing` (pull only when absent).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum PullPolicy {
    /// Pull when the image is not in the store (`missing`, `if_not_present`).
    #[default]
    Missing,
    /// Pull on every `up` (`always`; `refresh`, which Compose has check the registry's digest,
    /// is the same here: layers already stored are not downloaded again).
    Always,
    /// Never pull; a missing image is an error.
    Never,
    /// Build the image (when missing); see the build integration.
    Build,
    /// `refresh`: as `always`.
    Refresh,
    /// Pull when the stored image was pulled longer ago than the period: `daily`, `weekly`,
    /// `every_<N><unit>...` (units w, d, h, m, s). The text is kept to print it back.
    Every { text: String, period: Duration },
}

impl PullPolicy {
    /// Parses a Compose `pull_policy` value, as its schema's pattern accepts them.
    pub fn parse(s: &str) -> Result<PullPolicy, String> {
        Ok(match s {
            "missing" | "if_not_present" => PullPolicy::Missing,
            "always" => PullPolicy::Always,
            "never" => PullPolicy::Never,
            "build" => PullPolicy::Build,
            "refresh" => PullPolicy::Refresh,
            "daily" => PullPolicy::Every {
                text: s.into(),
                period: Duration::from_secs(86_400),
            },
            "weekly" => PullPolicy::Every {
                text: s.into(),
                period: Duration::from_secs(7 * 86_400),
            },
            _ => match s.strip_prefix("every_").map(period) {
                Some(Some(p)) if !p.is_zero() => PullPolicy::Every {
                    text: s.into(),
                    period: p,
                },
                _ => {
                    return Err(format!(
                        "\"{s}\" is not a pull policy: use always, missing (or if_not_present), never, build, refresh, daily, weekly or every_<N><unit> (units w, d, h, m, s; e.g. every_12h)"
                    ));
                }
            },
        })
    }

    /// How old a pulled image may get before `up` pulls it again (`Every` only).
    pub fn max_age(&self) -> Option<Duration> {
        match self {
            PullPolicy::Every { period, .. } => Some(*period),
            _ => None,
        }
    }
}

/// `1d12h` -> 36 h; `None` unless it is one or more `<digits><w|d|h|m|s>`.
fn period(s: &str) -> Option<Duration> {
    if s.is_empty() {
        return None;
    }
    let mut total: u64 = 0;
    let mut num = String::new();
    for c in s.chars() {
        if c.is_ascii_digit() {
            num.push(c);
            continue;
        }
        let unit: u64 = match c {
            'w' => 7 * 86_400,
            'd' => 86_400,
            'h' => 3_600,
            'm' => 60,
            's' => 1,
            _ => return None,
        };
        let n: u64 = num.parse().ok()?;
        total = total.checked_add(n.checked_mul(unit)?)?;
        num.clear();
    }
    num.is_empty().then(|| Duration::from_secs(total))
}

impl fmt::Display for PullPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PullPolicy::Missing => "missing",
            PullPolicy::Always => "always",
            PullPolicy::Never => "never",
            PullPolicy::Build => "build",
            PullPolicy::Refresh => "refresh",
            PullPolicy::Every { text, .. } => text,
        })
    }
}

impl From<PullPolicy> for String {
    fn from(p: PullPolicy) -> String {
        p.to_string()
    }
}

impl TryFrom<String> for PullPolicy {
    type Error = String;
    fn try_from(s: String) -> Result<PullPolicy, String> {
        PullPolicy::parse(&s)
    }
}

/// The OCI architecture name of the machine rstack was built for (Go's GOARCH names).
pub fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        other => other,
    }
}

/// An OCI platform (`platform: linux/arm64/v8`), architecture names normalized as
/// containerd's `platforms.Normalize` does (`x86_64` -> `amd64`, `aarch64` -> `arm64`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Platform {
    pub os: String,
    pub architecture: String,
    pub variant: Option<String>,
}

impl Platform {
    /// Parses `os[/arch[/variant]]`; an absent architecture is the host's (`host_arch`).
    /// Only linux is accepted: rstack runs Linux containers.
    pub fn parse(s: &str, host_arch: &str) -> Result<Platform, String> {
        let parts: Vec<&str> = s.split('/').collect();
        let ok_part = |p: &str| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        };
        if parts.len() > 3 || !parts.iter().all(|p| ok_part(p)) {
            return Err(format!(
                "\"{s}\" is not a platform: write os/architecture[/variant], e.g. linux/amd64 or linux/arm64/v8"
            ));
        }
        let os = parts[0].to_ascii_lowercase();
        if os != "linux" {
            return Err(format!(
                "platform \"{s}\": rstack runs linux containers only (e.g. linux/amd64)"
            ));
        }
        let (architecture, mut variant) = normalize_arch(
            &parts
                .get(1)
                .map_or(host_arch.to_string(), |a| a.to_ascii_lowercase()),
            parts.get(2).map(|v| v.to_ascii_lowercase()),
        );
        // arm64's only variant is v8; Docker drops it when matching.
        if architecture == "arm64" && variant.as_deref() == Some("v8") {
            variant = None;
        }
        Ok(Platform {
            os,
            architecture,
            variant,
        })
    }

    /// Whether an image of `os`/`arch`/`variant` is this platform (a missing variant on
    /// either side matches any).
    pub fn matches(&self, os: &str, arch: &str, variant: Option<&str>) -> bool {
        let (arch, v) = normalize_arch(&arch.to_ascii_lowercase(), variant.map(str::to_string));
        let v = v.filter(|v| !(arch == "arm64" && v == "v8"));
        self.os == os
            && self.architecture == arch
            && (self.variant.is_none() || v.is_none() || self.variant == v)
    }
}

fn normalize_arch(arch: &str, variant: Option<String>) -> (String, Option<String>) {
    match arch {
        "x86_64" | "x86-64" => ("amd64".into(), variant),
        "aarch64" => ("arm64".into(), variant),
        "armhf" => ("arm".into(), Some("v7".into())),
        "armel" => ("arm".into(), Some("v6".into())),
        "i386" | "i686" => ("386".into(), variant),
        a => (a.to_string(), variant),
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

impl From<Platform> for String {
    fn from(p: Platform) -> String {
        p.to_string()
    }
}

impl TryFrom<String> for Platform {
    type Error = String;
    fn try_from(s: String) -> Result<Platform, String> {
        // Stored platforms are normalized and always carry their architecture.
        Platform::parse(&s, host_arch())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pull_policies_parse_as_compose_accepts_them() {
        assert_eq!(
            PullPolicy::parse("if_not_present").expect("alias"),
            PullPolicy::Missing
        );
        assert_eq!(PullPolicy::parse("always").expect("a"), PullPolicy::Always);
        assert_eq!(
            PullPolicy::parse("daily").expect("d").max_age(),
            Some(Duration::from_secs(86_400))
        );
        assert_eq!(
            PullPolicy::parse("every_1d12h").expect("e").max_age(),
            Some(Duration::from_secs(36 * 3600))
        );
        assert_eq!(
            PullPolicy::parse("every_2w").expect("w").to_string(),
            "every_2w"
        );
        for bad in [
            "", "ALWAYS", "every_", "every_5x", "every_d", "every_0s", "every_5", "alwaysx",
        ] {
            assert!(PullPolicy::parse(bad).is_err(), "{bad}");
        }
        let text = serde_json::to_string(&PullPolicy::parse("every_3h").expect("e")).expect("j");
        assert_eq!(text, "\"every_3h\"");
        let back: PullPolicy = serde_json::from_str(&text).expect("back");
        assert_eq!(back.max_age(), Some(Duration::from_secs(3 * 3600)));
    }

    #[test]
    fn platforms_normalize_and_match() {
        let p = Platform::parse("linux/arm64/v8", "amd64").expect("arm64");
        assert_eq!(p.to_string(), "linux/arm64");
        assert!(p.matches("linux", "arm64", Some("v8")));
        assert!(p.matches("linux", "aarch64", None));
        assert!(!p.matches("linux", "amd64", None));
        let p = Platform::parse("linux", "amd64").expect("os only");
        assert_eq!(p.to_string(), "linux/amd64");
        let p = Platform::parse("linux/x86_64", "arm64").expect("alias");
        assert_eq!(p.architecture, "amd64");
        let v7 = Platform::parse("linux/arm/v7", "amd64").expect("v7");
        assert!(v7.matches("linux", "arm", Some("v7")));
        assert!(!v7.matches("linux", "arm", Some("v6")));
        for bad in ["", "windows/amd64", "linux//v7", "linux/a/b/c", "linux/a b"] {
            assert!(Platform::parse(bad, "amd64").is_err(), "{bad}");
        }
    }
}
