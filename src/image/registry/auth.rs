//! Registry authentication: credentials (Docker's `auths` entries, base64 `user:pass`), the
//! `WWW-Authenticate` challenge (Basic or Bearer with realm, service, scope) and the token
//! request of the Bearer flow.

use std::collections::BTreeMap;

/// A user name and password (or token) for one registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

impl Credentials {
    /// Decodes an `auths` entry's `auth` value (base64 of `user:password`).
    pub fn from_auth(auth: &str) -> Option<Credentials> {
        let raw = base64_decode(auth.trim())?;
        let text = String::from_utf8(raw).ok()?;
        let (u, p) = text.split_once(':')?;
        Some(Credentials {
            username: u.to_string(),
            password: p.to_string(),
        })
    }

    /// The `auth` value of a Docker config entry, also the Basic credentials.
    pub fn to_auth(&self) -> String {
        base64_encode(format!("{}:{}", self.username, self.password).as_bytes())
    }

    pub(crate) fn basic_header(&self) -> String {
        format!("Basic {}", self.to_auth())
    }
}

/// The key of a registry in `~/.docker/config.json`'s `auths`: Docker Hub keeps its old
/// index URL, any other registry its `host[:port]`.
pub fn config_key(registry: &str) -> String {
    match registry {
        "docker.io" | "index.docker.io" | "registry-1.docker.io" => {
            "https://index.docker.io/v1/".to_string()
        }
        other => other.to_string(),
    }
}

/// Finds the credentials for `registry` (`host[:port]`) among `auths` entries
/// (keys as Docker writes them: `host`, `https://host`, `https://host/v1/`...).
pub fn lookup<'a>(auths: &'a BTreeMap<String, String>, registry: &str) -> Option<&'a str> {
    let want = config_key(registry);
    let bare = |k: &str| -> String {
        let k = k
            .strip_prefix("https://")
            .or_else(|| k.strip_prefix("http://"))
            .unwrap_or(k);
        k.split('/').next().unwrap_or(k).to_string()
    };
    auths
        .get(&want)
        .or_else(|| {
            let host = bare(&want);
            auths.iter().find(|(k, _)| bare(k) == host).map(|(_, v)| v)
        })
        .map(String::as_str)
}

/// A parsed `WWW-Authenticate` challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Challenge {
    /// `basic` or `bearer`, lowercased.
    pub scheme: String,
    /// Lowercased parameter names to their (unquoted) values.
    pub params: BTreeMap<String, String>,
}

/// Parses `Bearer realm="https://auth",service="registry",scope="repository:x:pull"`.
pub(crate) fn parse_challenge(header: &str) -> Option<Challenge> {
    let header = header.trim();
    let (scheme, rest) = match header.split_once(char::is_whitespace) {
        Some((s, r)) => (s, r.trim_start()),
        None => (header, ""),
    };
    if scheme.is_empty() {
        return None;
    }
    let mut params = BTreeMap::new();
    let mut chars = rest.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| *c == ',' || c.is_whitespace()) {
            chars.next();
        }
        let mut key = String::new();
        while let Some(&c) = chars.peek() {
            if c == '=' || c == ',' {
                break;
            }
            key.push(c);
            chars.next();
        }
        if key.trim().is_empty() {
            break;
        }
        let mut value = String::new();
        if chars.peek() == Some(&'=') {
            chars.next();
            if chars.peek() == Some(&'"') {
                chars.next();
                while let Some(c) = chars.next() {
                    match c {
                        '\\' => value.extend(chars.next()),
                        '"' => break,
                        c => value.push(c),
                    }
                }
            } else {
                while let Some(&c) = chars.peek() {
                    if c == ',' {
                        break;
                    }
                    value.push(c);
                    chars.next();
                }
            }
        }
        params.insert(key.trim().to_ascii_lowercase(), value.trim().to_string());
    }
    Some(Challenge {
        scheme: scheme.to_ascii_lowercase(),
        params,
    })
}

/// The token in a Bearer token server's answer (`token`, or OAuth2's `access_token`).
pub(crate) fn token_from_answer(body: &[u8]) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    ["token", "access_token"]
        .iter()
        .find_map(|k| v.get(*k).and_then(|t| t.as_str()))
        .filter(|t| !t.is_empty())
        .map(str::to_string)
}

/// Escapes a query parameter value (RFC 3986 unreserved characters kept).
pub(crate) fn query_escape(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

pub(crate) fn base64_encode(data: &[u8]) -> String {
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(B64[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

pub(crate) fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut acc = 0u32;
    let mut bits = 0;
    for c in s.bytes() {
        if c == b'=' {
            break;
        }
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_challenges_parse() {
        let c = parse_challenge(
            r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/redis:pull""#,
        )
        .expect("challenge");
        assert_eq!(c.scheme, "bearer");
        assert_eq!(c.params["realm"], "https://auth.docker.io/token");
        assert_eq!(c.params["service"], "registry.docker.io");
        assert_eq!(c.params["scope"], "repository:library/redis:pull");
        // Comma inside a quoted value, spaces after commas, unquoted values.
        let c = parse_challenge(
            r#"Bearer realm="http://127.0.0.1:1/t", scope="repository:a/b:pull,push", error=insufficient_scope"#,
        )
        .expect("challenge");
        assert_eq!(c.params["scope"], "repository:a/b:pull,push");
        assert_eq!(c.params["error"], "insufficient_scope");
        let c = parse_challenge(r#"Basic realm="Registry Realm""#).expect("basic");
        assert_eq!(c.scheme, "basic");
        assert_eq!(c.params["realm"], "Registry Realm");
        assert_eq!(parse_challenge("Basic").expect("bare").params.len(), 0);
        assert!(parse_challenge("").is_none());
    }

    #[test]
    fn credentials_round_trip_through_docker_auth() {
        let c = Credentials {
            username: "alice".into(),
            password: "s3cr:et".into(),
        };
        assert_eq!(c.to_auth(), "YWxpY2U6czNjcjpldA==");
        assert_eq!(Credentials::from_auth(&c.to_auth()), Some(c));
        for s in ["", "a", "ab", "abc", "abcd"] {
            assert_eq!(
                base64_decode(&base64_encode(s.as_bytes())).as_deref(),
                Some(s.as_bytes())
            );
        }
        assert!(Credentials::from_auth("!!").is_none());
    }

    #[test]
    fn auths_are_found_by_docker_keys() {
        let mut auths = BTreeMap::new();
        auths.insert("https://index.docker.io/v1/".to_string(), "hub".to_string());
        auths.insert("https://127.0.0.1:5000".to_string(), "local".to_string());
        auths.insert("ghcr.io".to_string(), "gh".to_string());
        assert_eq!(lookup(&auths, "docker.io"), Some("hub"));
        assert_eq!(lookup(&auths, "127.0.0.1:5000"), Some("local"));
        assert_eq!(lookup(&auths, "ghcr.io"), Some("gh"));
        assert_eq!(lookup(&auths, "quay.io"), None);
    }

    #[test]
    fn token_answers_accept_both_spellings() {
        assert_eq!(
            token_from_answer(br#"{"token":"t1"}"#).as_deref(),
            Some("t1")
        );
        assert_eq!(
            token_from_answer(br#"{"access_token":"t2"}"#).as_deref(),
            Some("t2")
        );
        assert_eq!(token_from_answer(br#"{"token":""}"#), None);
    }
}
