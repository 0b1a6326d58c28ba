//! Docker-style image reference parsing and normalization ("busybox" == "docker.io/library/busybox:latest").
//!
//! The store keys images by the *familiar* normalized form (what `docker images` shows), so that
//! every spelling of the same reference maps to one key.

use super::error::ImageError;

const DEFAULT_DOMAIN: &str = "docker.io";
const MAX_NAME_LEN: usize = 255;

/// A parsed reference: `[domain/]path[:tag][@digest]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// Registry domain, `docker.io` when none was given.
    pub domain: String,
    /// Repository path, with `library/` added for single-component docker.io names.
    pub path: String,
    /// Tag; `latest` when neither a tag nor a digest was given.
    pub tag: Option<String>,
    /// `sha256:<hex>` digest, if the reference pins one.
    pub digest: Option<String>,
}

impl Reference {
    /// Parses and normalizes a reference string.
    pub fn parse(input: &str) -> Result<Reference, ImageError> {
        let bad = |reason: &str| ImageError::InvalidReference {
            reference: input.to_string(),
            reason: reason.to_string(),
        };
        if input.is_empty() {
            return Err(bad("empty reference"));
        }
        let (rest, digest) = match input.split_once('@') {
            Some((r, d)) => {
                validate_digest(d).map_err(|e| bad(&e))?;
                (r, Some(d.to_string()))
            }
            None => (input, None),
        };
        let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match rest[last_slash..].rfind(':') {
            Some(i) => {
                let at = last_slash + i;
                (&rest[..at], Some(rest[at + 1..].to_string()))
            }
            None => (rest, None),
        };
        if let Some(t) = &tag {
            validate_tag(t).map_err(|e| bad(&e))?;
        }
        if name.is_empty() {
            return Err(bad("missing repository name"));
        }
        if name.len() > MAX_NAME_LEN {
            return Err(bad("repository name longer than 255 characters"));
        }
        // Same rule as docker: the first component is a registry only if it looks like a host.
        let (mut domain, mut path) = match name.split_once('/') {
            Some((first, remainder))
                if first.contains(['.', ':'])
                    || first == "localhost"
                    || first.to_lowercase() != first =>
            {
                (first.to_string(), remainder.to_string())
            }
            _ => (DEFAULT_DOMAIN.to_string(), name.to_string()),
        };
        validate_domain(&domain).map_err(|e| bad(&e))?;
        if domain == "index.docker.io" {
            domain = DEFAULT_DOMAIN.to_string();
        }
        if path.to_lowercase() != path {
            return Err(bad("repository name must be lowercase"));
        }
        for component in path.split('/') {
            validate_path_component(component).map_err(|e| bad(&e))?;
        }
        if domain == DEFAULT_DOMAIN && !path.contains('/') {
            path = format!("library/{path}");
        }
        let tag = match (tag, &digest) {
            (None, None) => Some("latest".to_string()),
            (t, _) => t,
        };
        Ok(Reference {
            domain,
            path,
            tag,
            digest,
        })
    }

    /// The repository name as `docker images` shows it (`busybox`, `user/app`, `ghcr.io/x/y`).
    pub fn familiar_name(&self) -> String {
        if self.domain == DEFAULT_DOMAIN {
            match self.path.strip_prefix("library/") {
                Some(short) if !short.contains('/') => short.to_string(),
                _ => self.path.clone(),
            }
        } else {
            format!("{}/{}", self.domain, self.path)
        }
    }

    /// The normalized familiar string: `name[:tag][@digest]`.
    pub fn familiar(&self) -> String {
        let mut s = self.familiar_name();
        if let Some(t) = &self.tag {
            s.push(':');
            s.push_str(t);
        }
        if let Some(d) = &self.digest {
            s.push('@');
            s.push_str(d);
        }
        s
    }
}

/// Normalizes a reference string to the familiar form the store uses as its key.
pub fn normalize_reference(input: &str) -> Result<String, ImageError> {
    Reference::parse(input).map(|r| r.familiar())
}

fn validate_digest(d: &str) -> Result<(), String> {
    let hex = d
        .strip_prefix("sha256:")
        .ok_or_else(|| "only sha256 digests are supported".to_string())?;
    if is_sha256_hex(hex) {
        Ok(())
    } else {
        Err("digest must be sha256: followed by 64 lowercase hex digits".to_string())
    }
}

/// True for exactly 64 lowercase hex digits.
pub(crate) fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn validate_tag(t: &str) -> Result<(), String> {
    let ok_first = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let bytes = t.as_bytes();
    match bytes.first() {
        Some(&b) if ok_first(b) => {}
        _ => return Err(format!("invalid tag \"{t}\"")),
    }
    if bytes.len() > 128 || !bytes.iter().all(|&b| ok_first(b) || b == b'.' || b == b'-') {
        return Err(format!("invalid tag \"{t}\""));
    }
    Ok(())
}

fn validate_domain(d: &str) -> Result<(), String> {
    let (host, port) = match d.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (d, None),
    };
    if let Some(p) = port
        && (p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(format!("invalid registry port in \"{d}\""));
    }
    let label_ok = |l: &str| {
        !l.is_empty()
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    };
    if host.split('.').all(label_ok) {
        Ok(())
    } else {
        Err(format!("invalid registry host \"{d}\""))
    }
}

/// `[a-z0-9]+` joined by `.`, `_`, `__` or runs of `-`.
fn validate_path_component(c: &str) -> Result<(), String> {
    let err = || format!("invalid repository name component \"{c}\"");
    let b = c.as_bytes();
    let alnum = |x: u8| x.is_ascii_lowercase() || x.is_ascii_digit();
    match (b.first(), b.last()) {
        (Some(&f), Some(&l)) if alnum(f) && alnum(l) => {}
        _ => return Err(err()),
    }
    let mut i = 0;
    while i < b.len() {
        if alnum(b[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && !alnum(b[i]) {
            i += 1;
        }
        let sep = &c[start..i];
        let valid = sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|x| x == b'-');
        if !valid {
            return Err(err());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_like_docker() {
        let cases = [
            ("busybox", "busybox:latest"),
            ("busybox:1", "busybox:1"),
            ("docker.io/library/busybox:1", "busybox:1"),
            ("index.docker.io/library/busybox", "busybox:latest"),
            ("library/busybox", "busybox:latest"),
            ("user/app", "user/app:latest"),
            ("docker.io/user/app:v2", "user/app:v2"),
            ("ghcr.io/org/app:1.0", "ghcr.io/org/app:1.0"),
            ("localhost:5000/app", "localhost:5000/app:latest"),
            ("localhost/app:x", "localhost/app:x"),
            ("my-app_x.y__z---w:t_1.2-3", "my-app_x.y__z---w:t_1.2-3"),
        ];
        for (input, want) in cases {
            assert_eq!(normalize_reference(input).unwrap(), want, "{input}");
        }
    }

    #[test]
    fn digests_are_kept_and_suppress_default_tag() {
        let d = format!("sha256:{}", "a".repeat(64));
        let r = Reference::parse(&format!("docker.io/library/busybox@{d}")).unwrap();
        assert_eq!(r.tag, None);
        assert_eq!(r.digest.as_deref(), Some(d.as_str()));
        assert_eq!(r.familiar(), format!("busybox@{d}"));
        assert_eq!(
            normalize_reference(&format!("busybox:1@{d}")).unwrap(),
            format!("busybox:1@{d}")
        );
    }

    #[test]
    fn rejects_invalid_references() {
        for input in [
            "",
            "Busybox",
            "busybox:",
            "busybox:-x",
            "bu$ybox",
            "a//b",
            "-a",
            "a-",
            "a..b",
            "busybox@sha256:abc",
            "busybox@md5:0123",
            ":tag",
            "host:port:x/app",
            "\u{fc}",
            "a/\u{fc}:1",
            "a:\u{fc}",
            "a@",
            "@sha256:x",
        ] {
            let err = normalize_reference(input).unwrap_err();
            assert!(
                matches!(err, ImageError::InvalidReference { .. }),
                "{input}: {err}"
            );
            assert!(err.to_string().contains("invalid image reference"));
        }
        let long = "a".repeat(300);
        assert!(normalize_reference(&long).is_err());
        assert!(normalize_reference(&format!("a:{}", "t".repeat(129))).is_err());
    }
}
