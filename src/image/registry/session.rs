//! One conversation with one registry: its base URL, the credentials given for it, and the
//! `Authorization` obtained through the challenge flow (anonymous first; on a 401, Basic
//! with the credentials, or a Bearer token from the realm the challenge names), which is
//! then reused by every request of the transfer, from any thread.

use std::sync::Mutex;

use super::auth::{Challenge, Credentials, parse_challenge, query_escape, token_from_answer};
use super::error::RegistryError;
use super::http::{self, Body, Response, SendError, Url};

/// Redirects followed for one request (blob downloads go to CDNs).
const MAX_REDIRECTS: usize = 5;
/// Largest token server answer read.
const MAX_TOKEN_ANSWER: u64 = 1 << 20;

pub(crate) struct Session {
    /// How messages name the registry (`host[:port]`, or the mirror's URL).
    pub name: String,
    base: Url,
    creds: Option<Credentials>,
    /// The scope asked for in Bearer tokens (`repository:NAME:pull[,push]`), if any.
    scope: Option<String>,
    authorization: Mutex<Option<String>>,
}

impl Session {
    pub(crate) fn new(
        name: String,
        base: Url,
        creds: Option<Credentials>,
        scope: Option<String>,
    ) -> Session {
        Session {
            name,
            base,
            creds,
            scope,
            authorization: Mutex::new(None),
        }
    }

    fn unreachable(&self, e: &SendError) -> RegistryError {
        match e {
            SendError::Connect(reason) => RegistryError::Unreachable {
                registry: self.name.clone(),
                reason: reason.clone(),
            },
            SendError::Io(reason) => self.protocol(reason.clone()),
        }
    }

    pub(crate) fn protocol(&self, reason: impl Into<String>) -> RegistryError {
        RegistryError::Protocol {
            registry: self.name.clone(),
            reason: reason.into(),
        }
    }

    pub(crate) fn auth_error(&self, reason: impl Into<String>) -> RegistryError {
        RegistryError::Auth {
            registry: self.name.clone(),
            reason: reason.into(),
        }
    }

    /// What to tell a user whose request was refused for lack of (valid) credentials.
    pub(crate) fn refused(&self) -> RegistryError {
        self.auth_error(match &self.creds {
            Some(c) => format!(
                "the registry refused the credentials of \"{}\" (or they lack access to this repository)",
                c.username
            ),
            None => format!(
                "the registry requires credentials: log in with \"rstack login {}\"",
                self.login_name()
            ),
        })
    }

    fn login_name(&self) -> String {
        if self.base.host == "registry-1.docker.io" {
            "docker.io".to_string()
        } else if self.base.port == 443 || self.base.port == 80 {
            self.base.host.clone()
        } else {
            format!("{}:{}", self.base.host, self.base.port)
        }
    }

    /// Sends a request to `path` (on the registry) or to an absolute URL it gave
    /// (upload locations), authenticating once on a 401 and following redirects.
    pub(crate) fn request(
        &self,
        method: &str,
        target: &str,
        headers: &[(&str, String)],
        body: &Body<'_>,
    ) -> Result<Response, RegistryError> {
        let mut url = self
            .base
            .join(target)
            .ok_or_else(|| self.protocol(format!("bad location \"{target}\"")))?;
        let mut authenticated = false;
        let mut redirects = 0;
        loop {
            let mut all: Vec<(&str, String)> = headers.to_vec();
            // Credentials go to the registry's own origin only, never to a CDN it redirects to.
            if url.origin() == self.base.origin()
                && let Some(a) = self.current_auth()
            {
                all.push(("Authorization", a));
            }
            let resp = http::send(method, &url, &all, body).map_err(|e| self.unreachable(&e))?;
            match resp.status {
                401 if !authenticated && url.origin() == self.base.origin() => {
                    let challenges = resp.headers("www-authenticate");
                    let challenge = challenges
                        .iter()
                        .filter_map(|h| parse_challenge(h))
                        .find(|c| c.scheme == "bearer")
                        .or_else(|| challenges.iter().find_map(|h| parse_challenge(h)))
                        .ok_or_else(|| self.protocol("401 without a WWW-Authenticate challenge"))?;
                    drop(resp);
                    let a = self.authenticate(&challenge)?;
                    *self.authorization.lock().unwrap_or_else(|p| p.into_inner()) = Some(a);
                    authenticated = true;
                }
                301 | 302 | 303 | 307 | 308 if redirects < MAX_REDIRECTS => {
                    let loc = resp
                        .header("location")
                        .ok_or_else(|| self.protocol("redirect without a Location"))?;
                    url = url
                        .join(loc)
                        .ok_or_else(|| self.protocol(format!("bad redirect \"{loc}\"")))?;
                    redirects += 1;
                }
                _ => return Ok(resp),
            }
        }
    }

    fn current_auth(&self) -> Option<String> {
        self.authorization
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Answers a challenge: the Basic header, or a Bearer token fetched from its realm.
    fn authenticate(&self, c: &Challenge) -> Result<String, RegistryError> {
        match c.scheme.as_str() {
            "basic" => match &self.creds {
                Some(creds) if self.current_auth().is_none() => Ok(creds.basic_header()),
                _ => Err(self.refused()),
            },
            "bearer" => {
                let realm = c
                    .params
                    .get("realm")
                    .ok_or_else(|| self.protocol("Bearer challenge without a realm"))?;
                let mut realm_url = Url::parse(realm)
                    .ok_or_else(|| self.protocol(format!("bad token realm \"{realm}\"")))?;
                let mut query = Vec::new();
                if let Some(s) = c.params.get("service") {
                    query.push(format!("service={}", query_escape(s)));
                }
                // The scope we need (push needs pull,push), else the one the registry names.
                if let Some(s) = self.scope.as_ref().or(c.params.get("scope")) {
                    query.push(format!("scope={}", query_escape(s)));
                }
                if !query.is_empty() {
                    let sep = if realm_url.path.contains('?') {
                        '&'
                    } else {
                        '?'
                    };
                    realm_url.path = format!("{}{sep}{}", realm_url.path, query.join("&"));
                }
                let mut headers = Vec::new();
                if let Some(creds) = &self.creds {
                    headers.push(("Authorization", creds.basic_header()));
                }
                let resp = http::send("GET", &realm_url, &headers, &Body::Empty).map_err(|e| {
                    RegistryError::Unreachable {
                        registry: format!("{} (token server {})", self.name, realm_url.origin()),
                        reason: e.to_string(),
                    }
                })?;
                match resp.status {
                    200 => {
                        let body = resp
                            .bytes(MAX_TOKEN_ANSWER)
                            .map_err(|e| self.protocol(format!("token answer: {e}")))?;
                        token_from_answer(&body)
                            .map(|t| format!("Bearer {t}"))
                            .ok_or_else(|| self.protocol("the token server's answer has no token"))
                    }
                    401 | 403 => Err(self.refused()),
                    s => Err(self.protocol(format!("the token server answered {s}"))),
                }
            }
            other => Err(self.protocol(format!("unsupported authentication scheme \"{other}\""))),
        }
    }

    /// An error for an unexpected answer, with the registry's own error message if any.
    pub(crate) fn unexpected(&self, what: &str, resp: Response) -> RegistryError {
        let status = resp.status;
        if status == 401 {
            return self.refused();
        }
        if status == 403 {
            return self.auth_error(format!("{what}: access denied (403)"));
        }
        let body = resp.bytes(64 << 10).unwrap_or_default();
        let detail = serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| {
                v.get("errors")?
                    .as_array()?
                    .iter()
                    .filter_map(|e| e.get("message").and_then(|m| m.as_str()))
                    .map(str::to_string)
                    .reduce(|a, b| format!("{a}; {b}"))
            })
            .unwrap_or_else(|| {
                String::from_utf8_lossy(&body)
                    .trim()
                    .chars()
                    .take(200)
                    .collect()
            });
        self.protocol(format!("{what}: answered {status} {detail}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader, Write};
    use std::net::TcpListener;
    use std::sync::Arc;

    /// A fake registry with a token server: answers each request by its path and
    /// Authorization, and records "PATH AUTH" for every request it got.
    fn fake_registry() -> (u16, Arc<Mutex<Vec<String>>>) {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming().take(8) {
                let Ok(mut conn) = conn else { return };
                let mut reader = BufReader::new(conn.try_clone().expect("clone"));
                let mut first = String::new();
                let _ = reader.read_line(&mut first);
                let path = first.split_whitespace().nth(1).unwrap_or("").to_string();
                let mut auth = String::new();
                loop {
                    let mut l = String::new();
                    if reader.read_line(&mut l).unwrap_or(0) == 0 || l.trim().is_empty() {
                        break;
                    }
                    if let Some(v) = l.strip_prefix("Authorization: ") {
                        auth = v.trim().to_string();
                    }
                }
                log.lock().expect("log").push(format!("{path} {auth}"));
                let answer = if path.starts_with("/token?") {
                    if auth == "Basic YWxpY2U6cHc=" {
                        "HTTP/1.1 200 OK\r\nContent-Length: 15\r\n\r\n{\"token\":\"T1\"}\n"
                            .to_string()
                    } else {
                        "HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n".to_string()
                    }
                } else if path == "/v2/old" {
                    "HTTP/1.1 307 Temporary Redirect\r\nLocation: /v2/x/manifests/1\r\nContent-Length: 0\r\n\r\n".to_string()
                } else if auth == "Bearer T1" {
                    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n"
                        .to_string()
                } else {
                    format!(
                        "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Bearer realm=\"http://127.0.0.1:{port}/token\",service=\"reg\",scope=\"repository:x:pull\"\r\nContent-Length: 0\r\n\r\n"
                    )
                };
                let _ = conn.write_all(answer.as_bytes());
            }
        });
        (port, seen)
    }

    fn session(port: u16, creds: Option<Credentials>) -> Session {
        Session::new(
            format!("127.0.0.1:{port}"),
            Url::parse(&format!("http://127.0.0.1:{port}")).expect("url"),
            creds,
            Some("repository:x:pull,push".into()),
        )
    }

    #[test]
    fn bearer_challenges_get_a_token_with_the_credentials() {
        let (port, seen) = fake_registry();
        let s = session(
            port,
            Some(Credentials {
                username: "alice".into(),
                password: "pw".into(),
            }),
        );
        let resp = s
            .request("GET", "/v2/old", &[], &Body::Empty)
            .expect("request");
        assert_eq!(resp.status, 200);
        assert_eq!(resp.bytes(100).expect("body"), b"ok");
        let seen = seen.lock().expect("log").clone();
        assert_eq!(seen[0], "/v2/old ");
        assert_eq!(seen[1], "/v2/x/manifests/1 ");
        // Our scope (pull,push) is asked for, not the challenge's, with Basic credentials.
        assert_eq!(
            seen[2],
            "/token?service=reg&scope=repository%3Ax%3Apull%2Cpush Basic YWxpY2U6cHc="
        );
        assert_eq!(seen[3], "/v2/x/manifests/1 Bearer T1");
        // The token is reused.
        let again = s
            .request("GET", "/v2/x/manifests/1", &[], &Body::Empty)
            .expect("request");
        assert_eq!(again.status, 200);
    }

    #[test]
    fn a_refused_token_request_is_an_auth_error() {
        let (port, _) = fake_registry();
        let err = session(port, None)
            .request("GET", "/v2/x/manifests/1", &[], &Body::Empty)
            .err()
            .expect("refused");
        let msg = err.to_string();
        assert!(
            matches!(err, RegistryError::Auth { .. }) && msg.contains("rstack login 127.0.0.1:"),
            "{msg}"
        );
    }
}
