//! The rules for project and service names. The stack loader applies them (with file:line:col)
//! and the daemon applies them again to every name a request carries, since any local client
//! of the socket can send a request that no stack file produced.

/// Longest project or service name, in bytes. A container is named
/// `<project>-<service>-run-<12 hex>`, and with two names of this length that still fits the
/// 255 bytes of one file name (and of a cgroup directory), should a name ever become one.
pub const MAX_NAME_LEN: usize = 100;

/// Why a name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("empty {what} name")]
    Empty { what: &'static str },
    #[error("{what} name \"{prefix}...\" is {len} bytes long: at most {MAX_NAME_LEN} are allowed")]
    TooLong {
        what: &'static str,
        prefix: String,
        len: usize,
    },
    #[error("invalid {what} name \"{name}\": {rule}")]
    Invalid {
        what: &'static str,
        name: String,
        rule: &'static str,
    },
}

/// What a project name may contain (Compose's normalized form).
pub const PROJECT_RULE: &str =
    "a project name needs lowercase letters, digits, `_` or `-`, starting with a letter or digit";
/// What a service name may contain (the compose-spec pattern), besides not being only dots.
pub const SERVICE_RULE: &str =
    "service names may only contain letters, digits, `.`, `_` and `-`, and are not `.` or `..`";

fn check_len(what: &'static str, name: &str) -> Result<(), NameError> {
    if name.is_empty() {
        return Err(NameError::Empty { what });
    }
    if name.len() > MAX_NAME_LEN {
        let prefix: String = name.chars().take(24).collect();
        return Err(NameError::TooLong {
            what,
            prefix,
            len: name.len(),
        });
    }
    Ok(())
}

/// A project name: what `spec::normalize_project_name` gives, non-empty and not too long.
pub fn check_project(name: &str) -> Result<(), NameError> {
    check_len("project", name)?;
    let ok_char = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, b'_' | b'-');
    let first_ok = name.as_bytes()[0].is_ascii_alphanumeric();
    if !first_ok || !name.bytes().all(ok_char) {
        return Err(NameError::Invalid {
            what: "project",
            name: name.to_string(),
            rule: PROJECT_RULE,
        });
    }
    Ok(())
}

/// A service name: `[A-Za-z0-9._-]+`, not only dots, not too long.
pub fn check_service(name: &str) -> Result<(), NameError> {
    check_len("service", name)?;
    let ok_char = |c: u8| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-');
    if !name.bytes().all(ok_char) || name.bytes().all(|c| c == b'.') {
        return Err(NameError::Invalid {
            what: "service",
            name: name.to_string(),
            rule: SERVICE_RULE,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn projects() {
        for ok in ["web", "my-app_2", "0x"] {
            assert_eq!(check_project(ok), Ok(()), "{ok}");
        }
        for bad in [
            "",
            "../../../tmp/x",
            "..",
            "a/b",
            "Web",
            "-x",
            "_x",
            "a b",
            "a\0b",
        ] {
            assert!(check_project(bad).is_err(), "{bad:?}");
        }
        let long = "a".repeat(300);
        let e = check_project(&long).unwrap_err().to_string();
        assert!(e.contains("300 bytes") && e.contains("at most 100"), "{e}");
        assert_eq!(check_project(&"a".repeat(MAX_NAME_LEN)), Ok(()));
    }

    #[test]
    fn services() {
        for ok in ["web", "Web.v2", "a_b-c", ".hidden"] {
            assert_eq!(check_service(ok), Ok(()), "{ok}");
        }
        for bad in ["", ".", "..", "../x", "a/b", "a b", "é"] {
            assert!(check_service(bad).is_err(), "{bad:?}");
        }
        assert!(check_service(&"s".repeat(MAX_NAME_LEN + 1)).is_err());
    }
}
