//! The daemon's side of Git sources: `[sync]` settings (credentials by URL prefix, the
//! webhook listener), where a source's cache lives, and the URL check done at `sync add`.
//! Secrets read here go to `source::git::sync_repo` only: never into a log, a status or an
//! error (Debug of a credential entry is redacted).

use crate::source::git::Credentials;
use serde::Deserialize;
use std::fmt;
use std::path::{Path, PathBuf};

/// `[sync]` of the daemon config.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct SyncConfig {
    /// `host:port` of a TCP listener serving only the webhook route.
    pub webhook_listen: Option<String>,
    /// `[[sync.credentials]]`.
    pub credentials: Vec<CredentialConfig>,
}

/// One `[[sync.credentials]]` entry.
#[derive(Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CredentialConfig {
    pub url_prefix: String,
    pub username: String,
    #[serde(default)]
    pub password: Option<String>,
    #[serde(default)]
    pub password_file: Option<PathBuf>,
}

impl fmt::Debug for CredentialConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CredentialConfig")
            .field("url_prefix", &self.url_prefix)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("password_file", &self.password_file)
            .finish()
    }
}

impl SyncConfig {
    /// Checks the settings at daemon start.
    pub fn check(&self) -> Result<(), String> {
        if let Some(addr) = &self.webhook_listen
            && addr.parse::<std::net::SocketAddr>().is_err()
        {
            return Err(format!(
                "sync.webhook_listen = {addr:?}: not an address such as \"127.0.0.1:9000\""
            ));
        }
        for c in &self.credentials {
            match (&c.password, &c.password_file) {
                (Some(_), Some(_)) | (None, None) => {
                    return Err(format!(
                        "sync.credentials for {:?}: give exactly one of password_file or password",
                        c.url_prefix
                    ));
                }
                _ => {}
            }
            if c.url_prefix.is_empty() {
                return Err("sync.credentials: url_prefix must not be empty".into());
            }
        }
        Ok(())
    }

    /// The credentials of `url`: the entry with the longest matching prefix. A password
    /// file is read now (so a rotated token is picked up at the next fetch).
    pub fn credentials_for(&self, url: &str) -> Result<Option<Credentials>, String> {
        let Some(c) = self
            .credentials
            .iter()
            .filter(|c| url.starts_with(&c.url_prefix))
            .max_by_key(|c| c.url_prefix.len())
        else {
            return Ok(None);
        };
        let password = match (&c.password, &c.password_file) {
            (Some(p), _) => p.clone(),
            (None, Some(f)) => std::fs::read_to_string(f)
                .map_err(|e| {
                    format!(
                        "sync.credentials for {:?}: reading password_file {}: {e}",
                        c.url_prefix,
                        f.display()
                    )
                })?
                .trim_end_matches(['\n', '\r'])
                .to_string(),
            (None, None) => String::new(),
        };
        Ok(Some(Credentials {
            username: c.username.clone(),
            password,
        }))
    }
}

/// Where a source's files live under the data root (`sync rm` removes it).
pub fn source_dir(data_root: &Path, name: &str) -> PathBuf {
    data_root.join("sources").join(name)
}

/// The Git cache of a source.
pub fn cache_dir(data_root: &Path, name: &str) -> PathBuf {
    source_dir(data_root, name).join("git")
}

/// Checks a Git URL's form at `sync add`: file://, http(s)://, ssh:// or scp-like
/// `user@host:path`. The message names the URL redacted.
pub fn check_url(url: &str) -> Result<(), String> {
    let shown = crate::source::git::redact_url(url);
    let bad = |why: &str| {
        Err(format!(
            "--git {shown}: {why}; use file:///path, https://host/repo, ssh://host/repo or user@host:repo"
        ))
    };
    if url.is_empty() || url.chars().any(char::is_whitespace) {
        return bad("empty or holds whitespace");
    }
    if let Some((scheme, rest)) = url.split_once("://") {
        return match scheme {
            "file" if rest.starts_with('/') => Ok(()),
            "file" => bad("a file URL needs an absolute path (file:///path)"),
            "http" | "https" | "ssh" => {
                let authority = rest.split('/').next().unwrap_or_default();
                let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
                if host.is_empty() {
                    bad("no host")
                } else {
                    Ok(())
                }
            }
            other => bad(&format!("scheme {other}:// is not supported")),
        };
    }
    // scp-like: `[user@]host:path`, host without a slash before the colon.
    match url.split_once(':') {
        Some((left, path)) if !left.contains('/') && !path.is_empty() => {
            let host = left.rsplit_once('@').map_or(left, |(_, h)| h);
            if host.is_empty() {
                bad("no host")
            } else {
                Ok(())
            }
        }
        _ => bad("not a URL"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_checked_by_form() {
        for ok in [
            "file:///srv/repo",
            "http://127.0.0.1:8080/r.git",
            "https://u:p@git.example.com/org/r",
            "ssh://git@host/r",
            "git@github.com:org/r.git",
        ] {
            assert_eq!(check_url(ok), Ok(()), "{ok}");
        }
        for bad in [
            "",
            "ftp://x/r",
            "file://rel",
            "/srv/repo",
            "https:///r",
            "a b",
        ] {
            assert!(check_url(bad).is_err(), "{bad}");
        }
        let e = check_url("ftp://u:secret@h/r").unwrap_err();
        assert!(!e.contains("secret") && e.contains("file:///path"), "{e}");
    }

    #[test]
    fn the_longest_prefix_wins_and_files_are_read() {
        let dir = std::env::temp_dir().join(format!("rstack-cred-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("token");
        std::fs::write(&f, "tok\n").unwrap();
        let cfg = SyncConfig {
            webhook_listen: None,
            credentials: vec![
                CredentialConfig {
                    url_prefix: "https://h/".into(),
                    username: "a".into(),
                    password: Some("pa".into()),
                    password_file: None,
                },
                CredentialConfig {
                    url_prefix: "https://h/org/".into(),
                    username: "b".into(),
                    password: None,
                    password_file: Some(f),
                },
            ],
        };
        assert_eq!(cfg.check(), Ok(()));
        let c = cfg.credentials_for("https://h/org/r").unwrap().unwrap();
        assert_eq!((c.username.as_str(), c.password.as_str()), ("b", "tok"));
        let c = cfg.credentials_for("https://h/other").unwrap().unwrap();
        assert_eq!(c.username, "a");
        assert!(cfg.credentials_for("https://x/").unwrap().is_none());
        assert!(!format!("{cfg:?}").contains("pa\""));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
