//! `push`: every blob the registry lacks (a HEAD says which it has), each as one monolithic
//! upload (POST for a location, then PUT with the digest), then the manifest under the tag,
//! byte for byte as stored, so the digests are the same on both sides.

use std::collections::BTreeMap;

use super::error::RegistryError;
use super::http::Body;
use super::{Settings, session};
use crate::image::ImageStore;
use crate::image::reference::Reference;

/// Pushes the stored image `reference` to the registry its name says. `progress` gets one
/// line per blob. Returns the manifest digest.
pub fn push(
    store: &ImageStore,
    settings: &Settings,
    reference: &str,
    auths: &BTreeMap<String, String>,
    progress: &(dyn Fn(&str) + Sync),
) -> Result<String, RegistryError> {
    let parsed = Reference::parse(reference)?;
    let shown = parsed.familiar();
    let (manifest, media_type, blobs) = store.push_parts(&shown)?;
    // Mirrors are for pulls: a push goes to the registry itself.
    let ep = settings
        .endpoints(&parsed.domain)?
        .pop()
        .ok_or_else(|| RegistryError::Protocol {
            registry: parsed.domain.clone(),
            reason: "no endpoint".into(),
        })?;
    let s = session(&ep, auths, &parsed.path, "pull,push");
    let repo = &parsed.path;
    for (d, path) in &blobs {
        let head = s.request(
            "HEAD",
            &format!("/v2/{repo}/blobs/{}", d.digest),
            &[],
            &Body::Empty,
        )?;
        match head.status {
            200 => {
                progress(&format!("{}: already in the registry", short(&d.digest)));
                continue;
            }
            404 => {}
            _ => return Err(s.unexpected(&format!("checking blob {}", d.digest), head)),
        }
        let start = s.request(
            "POST",
            &format!("/v2/{repo}/blobs/uploads/"),
            &[],
            &Body::Empty,
        )?;
        if start.status != 202 {
            return Err(s.unexpected(&format!("starting the upload of {}", d.digest), start));
        }
        let location = start
            .header("location")
            .ok_or_else(|| s.protocol("upload answer without a Location"))?
            .to_string();
        let sep = if location.contains('?') { '&' } else { '?' };
        let size = std::fs::metadata(path)
            .map_err(crate::image::error::io_err(format!(
                "reading blob {}",
                d.digest
            )))?
            .len();
        let put = s.request(
            "PUT",
            &format!("{location}{sep}digest={}", d.digest.replace(':', "%3A")),
            &[("Content-Type", "application/octet-stream".to_string())],
            &Body::File(path, size),
        )?;
        if put.status != 201 {
            return Err(s.unexpected(&format!("uploading {}", d.digest), put));
        }
        progress(&format!(
            "{}: pushed {}",
            short(&d.digest),
            crate::image::budget::human(size)
        ));
    }
    let tag = parsed
        .digest
        .clone()
        .or_else(|| parsed.tag.clone())
        .unwrap_or_else(|| "latest".into());
    let resp = s.request(
        "PUT",
        &format!("/v2/{repo}/manifests/{tag}"),
        &[("Content-Type", media_type)],
        &Body::Bytes(&manifest),
    )?;
    if resp.status != 201 {
        return Err(s.unexpected(&format!("pushing the manifest of {shown}"), resp));
    }
    let digest = format!("sha256:{}", crate::image::fsutil::sha256_hex(&manifest));
    progress(&format!("{tag}: digest: {digest} size: {}", manifest.len()));
    Ok(digest)
}

fn short(digest: &str) -> &str {
    let hex = digest.strip_prefix("sha256:").unwrap_or(digest);
    &hex[..hex.len().min(12)]
}
