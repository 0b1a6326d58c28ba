//! `--dry-run` of pull and push: the registry is asked, read-only, what the real transfer
//! would find (the same endpoints, token flow and manifest resolution as `pull`; HEADs of
//! the manifest and of each blob for `push`), and the answer is said; nothing is downloaded,
//! uploaded or stored. An unreachable registry or an unknown tag fails as the real one would.

use std::collections::BTreeMap;

use super::error::RegistryError;
use super::http::Body;
use super::progress::short;
use super::pull::{fetch_image_manifest, fetch_small_blob};
use super::{Platform, Settings, session};
use crate::image::ImageStore;
use crate::image::budget::human;
use crate::image::fsutil::sha256_hex;
use crate::image::oci::{ConfigFile, sha256_of};
use crate::image::reference::Reference;

/// The `sha256:` digest of the manifest the store holds for `reference`, if any.
fn local_digest(store: &ImageStore, reference: &str) -> Option<String> {
    let (manifest, _, _) = store.push_parts(reference).ok()?;
    Some(format!("sha256:{}", sha256_hex(&manifest)))
}

/// What a pull of `reference` would do, one line per fact: up to date, or the digest it
/// would pull and how many layers (and bytes) it would download.
pub fn pull_check(
    store: &ImageStore,
    settings: &Settings,
    reference: &str,
    platform: Option<&Platform>,
    auths: &BTreeMap<String, String>,
) -> Result<Vec<String>, RegistryError> {
    let host = Platform::host();
    let platform = platform.unwrap_or(&host);
    let parsed = Reference::parse(reference)?;
    let shown = parsed.familiar();
    let endpoints = settings.endpoints(&parsed.domain)?;
    let mut last_err = None;
    for ep in &endpoints {
        let s = session(ep, auths, &parsed.path, "pull");
        let found = match fetch_image_manifest(&s, &parsed, &shown, platform) {
            Ok(f) => f,
            Err(e) => {
                last_err = Some(e);
                continue;
            }
        };
        let digest = format!("sha256:{}", found.hex);
        if local_digest(store, &shown).as_deref() == Some(digest.as_str()) {
            return Ok(vec![format!(
                "Image {shown}  Up to date ({digest} from {})",
                s.name
            )]);
        }
        // The config (small, read-only) says which layers the store has extracted already.
        let config_bytes = fetch_small_blob(&s, &parsed.path, &found.manifest.config, &shown)?;
        let config: ConfigFile = serde_json::from_slice(&config_bytes).unwrap_or_default();
        let layers = &found.manifest.layers;
        let missing: Vec<_> = layers
            .iter()
            .enumerate()
            .filter(|(i, l)| {
                let blob = sha256_of(&l.digest).is_some_and(|h| store.blob_if_present(h).is_some());
                let extracted = config
                    .rootfs
                    .diff_ids
                    .get(*i)
                    .and_then(|d| sha256_of(d))
                    .is_some_and(|h| store.has_layer(h));
                !blob && !extracted
            })
            .map(|(_, l)| l)
            .collect();
        let bytes: u64 = missing.iter().map(|l| l.size).sum();
        let mut out = vec![format!(
            "Image {shown}  Would pull {digest} from {} ({} layers, {} to download: {})",
            s.name,
            layers.len(),
            missing.len(),
            human(bytes)
        )];
        for l in missing {
            out.push(format!(
                "Layer {}  Would download ({})",
                short(&l.digest),
                human(l.size)
            ));
        }
        return Ok(out);
    }
    Err(last_err.unwrap_or_else(|| RegistryError::Protocol {
        registry: parsed.domain.clone(),
        reason: "no source to pull from".into(),
    }))
}

/// What a push of the stored `reference` would do: whether the registry has the tag (and
/// at which digest) and which blobs it lacks (a HEAD each); nothing is uploaded.
pub fn push_check(
    store: &ImageStore,
    settings: &Settings,
    reference: &str,
    auths: &BTreeMap<String, String>,
) -> Result<Vec<String>, RegistryError> {
    let parsed = Reference::parse(reference)?;
    let shown = parsed.familiar();
    let (manifest, _, blobs) = store.push_parts(&shown)?;
    let digest = format!("sha256:{}", sha256_hex(&manifest));
    // As the real push: the registry itself (mirrors are for pulls), the push scope asked.
    let ep = settings
        .endpoints(&parsed.domain)?
        .pop()
        .ok_or_else(|| RegistryError::Protocol {
            registry: parsed.domain.clone(),
            reason: "no endpoint".into(),
        })?;
    let s = session(&ep, auths, &parsed.path, "pull,push");
    let repo = &parsed.path;
    let tag = parsed
        .digest
        .clone()
        .or_else(|| parsed.tag.clone())
        .unwrap_or_else(|| "latest".into());
    let head = s.request(
        "HEAD",
        &format!("/v2/{repo}/manifests/{tag}"),
        &[("Accept", super::manifest::accept())],
        &Body::Empty,
    )?;
    let remote = match head.status {
        200 => Some(
            head.header("docker-content-digest")
                .unwrap_or("an unknown digest")
                .to_string(),
        ),
        404 => None,
        _ => return Err(s.unexpected(&format!("checking the manifest of {shown}"), head)),
    };
    let mut lacking = Vec::new();
    for (d, _) in &blobs {
        let head = s.request(
            "HEAD",
            &format!("/v2/{repo}/blobs/{}", d.digest),
            &[],
            &Body::Empty,
        )?;
        match head.status {
            200 => {}
            404 => lacking.push(d),
            _ => return Err(s.unexpected(&format!("checking blob {}", d.digest), head)),
        }
    }
    let mut out = Vec::new();
    match &remote {
        Some(r) if *r == digest && lacking.is_empty() => {
            out.push(format!(
                "Image {shown}  Up to date ({tag} is {digest} on {})",
                s.name
            ));
            return Ok(out);
        }
        Some(r) => out.push(format!(
            "Image {shown}  Would push {digest} to {} ({tag} is {r} there now)",
            s.name
        )),
        None => out.push(format!(
            "Image {shown}  Would push {digest} to {} ({tag} is not there yet)",
            s.name
        )),
    }
    let bytes: u64 = lacking.iter().map(|d| d.size).sum();
    out.push(format!(
        "Blobs {} of {} lacking on {}: {} to upload",
        lacking.len(),
        blobs.len(),
        s.name,
        human(bytes)
    ));
    for d in lacking {
        out.push(format!(
            "Blob {}  Would upload ({})",
            short(&d.digest),
            human(d.size)
        ));
    }
    Ok(out)
}
