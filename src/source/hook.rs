//! Push webhook signatures: GitHub's `X-Hub-Signature-256: sha256=<hex>` and Gitea's
//! `X-Gitea-Signature: <hex>`, both HMAC-SHA256 of the raw body with the source's secret.
//! The comparison is constant-time (hmac's `verify_slice`), so a forger learns nothing from
//! how long a refusal takes.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// Why a webhook was refused. The messages name the header and what the sender must do;
/// they never echo the secret or the expected signature.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum HookError {
    #[error(
        "webhook has no signature: send X-Hub-Signature-256 (GitHub) or X-Gitea-Signature \
         (Gitea) computed with the source's secret"
    )]
    Missing,
    #[error("webhook header {header} is malformed: expected {expected}")]
    Malformed {
        header: &'static str,
        expected: &'static str,
    },
    #[error(
        "webhook signature in {header} does not match the body: check that the webhook's \
         secret equals the source's secret"
    )]
    Mismatch { header: &'static str },
}

const GITHUB: &str = "X-Hub-Signature-256";
const GITEA: &str = "X-Gitea-Signature";

/// Checks the signature of a webhook `body`. `headers` looks a header up by name (callers
/// match names case-insensitively, as HTTP does). GitHub's header wins when both are sent.
pub fn verify(
    secret: &[u8],
    body: &[u8],
    headers: &impl Fn(&str) -> Option<String>,
) -> Result<(), HookError> {
    let (header, hex_sig) = if let Some(value) = headers(GITHUB) {
        let hex_sig = value
            .trim()
            .strip_prefix("sha256=")
            .ok_or(HookError::Malformed {
                header: GITHUB,
                expected: "sha256=<64 hex digits>",
            })?
            .to_owned();
        (GITHUB, hex_sig)
    } else if let Some(value) = headers(GITEA) {
        (GITEA, value.trim().to_owned())
    } else {
        return Err(HookError::Missing);
    };
    let expected = match header {
        GITHUB => "sha256=<64 hex digits>",
        _ => "<64 hex digits>",
    };
    let sig = hex::decode(&hex_sig)
        .ok()
        .filter(|s| s.len() == 32)
        .ok_or(HookError::Malformed { header, expected })?;
    // HMAC accepts keys of any length: new_from_slice cannot fail here.
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret)
        .map_err(|_| HookError::Mismatch { header })?;
    mac.update(body);
    mac.verify_slice(&sig)
        .map_err(|_| HookError::Mismatch { header })
}

#[cfg(test)]
mod tests {
    use super::*;

    // GitHub's documented example ("Validating webhook deliveries").
    const SECRET: &[u8] = b"It's a Secret to Everybody";
    const BODY: &[u8] = b"Hello, World!";
    const SIG: &str = "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";

    fn one(name: &'static str, value: String) -> impl Fn(&str) -> Option<String> {
        move |h: &str| h.eq_ignore_ascii_case(name).then(|| value.clone())
    }

    #[test]
    fn github_test_vector_is_accepted() {
        let h = one(GITHUB, format!("sha256={SIG}"));
        assert_eq!(verify(SECRET, BODY, &h), Ok(()));
    }

    #[test]
    fn gitea_signature_is_accepted() {
        let h = one(GITEA, SIG.to_owned());
        assert_eq!(verify(SECRET, BODY, &h), Ok(()));
        let upper = one(GITEA, SIG.to_uppercase());
        assert_eq!(verify(SECRET, BODY, &upper), Ok(()));
    }

    #[test]
    fn wrong_secret_or_body_is_refused() {
        let h = one(GITHUB, format!("sha256={SIG}"));
        assert_eq!(
            verify(b"another secret", BODY, &h),
            Err(HookError::Mismatch { header: GITHUB })
        );
        assert_eq!(
            verify(SECRET, b"Hello, World?", &h),
            Err(HookError::Mismatch { header: GITHUB })
        );
    }

    #[test]
    fn missing_and_malformed_headers_are_refused() {
        assert_eq!(
            verify(SECRET, BODY, &|_: &str| None),
            Err(HookError::Missing)
        );
        let no_prefix = one(GITHUB, SIG.to_owned());
        assert!(matches!(
            verify(SECRET, BODY, &no_prefix),
            Err(HookError::Malformed { header: GITHUB, .. })
        ));
        let short = one(GITEA, "abcd".to_owned());
        assert!(matches!(
            verify(SECRET, BODY, &short),
            Err(HookError::Malformed { header: GITEA, .. })
        ));
        let not_hex = one(GITHUB, format!("sha256={}", "zz".repeat(32)));
        assert!(matches!(
            verify(SECRET, BODY, &not_hex),
            Err(HookError::Malformed { .. })
        ));
        // The message never carries the expected signature.
        let err = verify(b"x", BODY, &one(GITHUB, format!("sha256={SIG}"))).unwrap_err();
        assert!(!err.to_string().contains(SIG));
    }
}
