//! The object-name rules the Kubernetes API server enforces and the OpenAPI schemas do not:
//! `metadata.name` is a DNS-1123 subdomain for most kinds and a DNS-1035 label for a Service
//! (its name becomes a DNS label); `metadata.namespace` is a DNS-1123 label.

/// Which rule a name follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameRule {
    /// Lowercase alphanumerics and '-', starting and ending alphanumeric, at most 63.
    Dns1123Label,
    /// Dot-separated DNS-1123 labels, at most 253 in all.
    Dns1123Subdomain,
    /// A DNS-1123 label that starts with a letter, at most 63.
    Dns1035Label,
}

/// The rule of `metadata.name` for a kind.
pub fn name_rule(kind: &str) -> NameRule {
    match kind {
        "Service" => NameRule::Dns1035Label,
        _ => NameRule::Dns1123Subdomain,
    }
}

/// None if `name` follows `rule`, else why not (Kubernetes' wording).
pub fn violation(rule: NameRule, name: &str) -> Option<String> {
    let ok = match rule {
        NameRule::Dns1123Label => name.len() <= 63 && is_label(name),
        NameRule::Dns1035Label => {
            name.len() <= 63 && is_label(name) && name.starts_with(|c: char| c.is_ascii_lowercase())
        }
        NameRule::Dns1123Subdomain => name.len() <= 253 && name.split('.').all(is_label),
    };
    if ok {
        return None;
    }
    Some(match rule {
        NameRule::Dns1123Label => format!(
            "{name:?} is not a valid DNS-1123 label: at most 63 characters, lowercase \
             letters, digits and '-', starting and ending with a letter or digit"
        ),
        NameRule::Dns1035Label => format!(
            "{name:?} is not a valid DNS-1035 label: at most 63 characters, lowercase \
             letters, digits and '-', starting with a letter and ending with a letter or digit"
        ),
        NameRule::Dns1123Subdomain => format!(
            "{name:?} is not a valid DNS-1123 subdomain: at most 253 characters, lowercase \
             letters, digits, '-' and '.', each part starting and ending with a letter or digit"
        ),
    })
}

fn is_label(s: &str) -> bool {
    let alnum = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    let b = s.as_bytes();
    match (b.first(), b.last()) {
        (Some(&first), Some(&last)) => {
            alnum(first) && alnum(last) && b.iter().all(|&c| alnum(c) || c == b'-')
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_subdomains_and_dns1035() {
        use NameRule::*;
        for ok in ["a", "web", "web-1", "0db", &"a".repeat(63)] {
            assert_eq!(violation(Dns1123Label, ok), None, "{ok}");
        }
        for bad in ["", "Web", "-a", "a-", "a_b", "a.b", &"a".repeat(64)] {
            assert!(violation(Dns1123Label, bad).is_some(), "{bad}");
        }
        assert_eq!(violation(Dns1123Subdomain, "a.b-c.d"), None);
        assert_eq!(violation(Dns1123Subdomain, "0db"), None);
        for bad in ["a..b", ".a", "a.", "A.b", &"a".repeat(254)] {
            assert!(violation(Dns1123Subdomain, bad).is_some(), "{bad}");
        }
        assert_eq!(violation(Dns1035Label, "web"), None);
        assert!(violation(Dns1035Label, "0db").is_some());
        assert!(violation(Dns1035Label, "a.b").is_some());
        assert_eq!(name_rule("Service"), Dns1035Label);
        assert_eq!(name_rule("Deployment"), Dns1123Subdomain);
    }
}
