//! `pull`: manifest (through an index to the host's platform), config, then the layers the
//! store lacks, downloaded in parallel (at most `PARALLEL` at once), streamed to the store's
//! staging directory, verified against their digest, and committed with the image as an
//! import is (layers already extracted are neither downloaded nor extracted again).

use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use super::error::RegistryError;
use super::http::Body;
use super::manifest::{self, Kind};
use super::progress::{Event, short};
use super::resume;
use super::session::Session;
use super::stream::{GrowingReader, Growth};
use super::{Platform, Settings, session};
use crate::image::ImageInfo;
use crate::image::ImageStore;
use crate::image::archive::{ConfigSource, Prepared, PreparedLayer};
use crate::image::budget::Budget;
use crate::image::error::ImageError;
use crate::image::error::io_err;
use crate::image::fsutil::{sha256_hex, spawn_named};
use crate::image::oci::{ConfigFile, Descriptor, Index, MT_LAYER_TAR, Manifest, sha256_of};
use crate::image::reference::Reference;

/// Layers downloaded at once.
const PARALLEL: usize = 3;
/// Largest manifest or config accepted.
const MAX_DOCUMENT: u64 = 8 << 20;
/// Index -> manifest is one level; a deeper chain is malformed.
const MAX_DEPTH: usize = 3;

/// Pulls `reference` into `store` for `platform` (default: the host's), tagging it with its
/// normalized name and recording the time of the pull. `progress` gets one line per step
/// (per layer: downloaded, or already present).
pub fn pull(
    store: &ImageStore,
    settings: &Settings,
    reference: &str,
    platform: Option<&Platform>,
    auths: &BTreeMap<String, String>,
    progress: &(dyn Fn(Event) + Sync),
) -> Result<ImageInfo, RegistryError> {
    let host = Platform::host();
    let platform = platform.unwrap_or(&host);
    let parsed = Reference::parse(reference)?;
    let shown = parsed.familiar();
    let endpoints = settings.endpoints(&parsed.domain)?;
    let mut last_err = None;
    for (i, ep) in endpoints.iter().enumerate() {
        let s = session(ep, auths, &parsed.path, "pull");
        match fetch_image_manifest(&s, &parsed, &shown, platform) {
            Ok(found) => {
                let info = pull_from(store, &s, &parsed, &shown, found, platform, progress)?;
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs());
                store.mark_pulled(&info.reference, now)?;
                return Ok(info);
            }
            Err(e) if i + 1 < endpoints.len() => {
                progress(Event::Step(&format!(
                    "{}: {e}; trying the next source",
                    ep.name
                )));
                last_err = Some(e);
            }
            Err(e) => return Err(e),
        }
    }
    Err(last_err.unwrap_or_else(|| RegistryError::Protocol {
        registry: parsed.domain.clone(),
        reason: "no source to pull from".into(),
    }))
}

/// A verified image manifest: its bytes, sha256 hex and media type, parsed.
pub(super) struct Found {
    bytes: Vec<u8>,
    pub(super) hex: String,
    media_type: String,
    pub(super) manifest: Manifest,
}

pub(super) fn fetch_image_manifest(
    s: &Session,
    r: &Reference,
    shown: &str,
    platform: &Platform,
) -> Result<Found, RegistryError> {
    let mut want = r
        .digest
        .clone()
        .or_else(|| r.tag.clone())
        .unwrap_or_else(|| "latest".into());
    let mut expected = r.digest.clone();
    for _ in 0..MAX_DEPTH {
        let resp = s.request(
            "GET",
            &format!("/v2/{}/manifests/{want}", r.path),
            &[("Accept", manifest::accept())],
            &Body::Empty,
        )?;
        match resp.status {
            200 => {}
            404 => {
                return Err(RegistryError::ManifestUnknown {
                    reference: shown.to_string(),
                    registry: s.name.clone(),
                });
            }
            _ => return Err(s.unexpected(&format!("manifest of {shown}"), resp)),
        }
        let content_type = resp.header("content-type").map(str::to_string);
        let bytes = resp
            .bytes(MAX_DOCUMENT)
            .map_err(|e| s.protocol(format!("reading the manifest of {shown}: {e}")))?;
        let hex = sha256_hex(&bytes);
        if let Some(exp) = &expected
            && *exp != format!("sha256:{hex}")
        {
            return Err(ImageError::DigestMismatch {
                what: format!("manifest of {shown} from {}", s.name),
                expected: exp.clone(),
                actual: format!("sha256:{hex}"),
            }
            .into());
        }
        let unsupported = |reason: String| RegistryError::Unsupported {
            reference: shown.to_string(),
            reason,
        };
        let (kind, media_type) =
            manifest::classify(content_type.as_deref(), &bytes).map_err(unsupported)?;
        match kind {
            Kind::Index => {
                let index: Index = serde_json::from_slice(&bytes)
                    .map_err(|e| unsupported(format!("bad index: {e}")))?;
                let d = manifest::select_platform(&index, platform).map_err(unsupported)?;
                want = d.digest.clone();
                expected = Some(d.digest.clone());
            }
            Kind::Image => {
                let manifest: Manifest = serde_json::from_slice(&bytes)
                    .map_err(|e| unsupported(format!("bad manifest: {e}")))?;
                return Ok(Found {
                    bytes,
                    hex,
                    media_type,
                    manifest,
                });
            }
        }
    }
    Err(RegistryError::Unsupported {
        reference: shown.to_string(),
        reason: "image indexes nested too deeply".into(),
    })
}

fn pull_from(
    store: &ImageStore,
    s: &Session,
    r: &Reference,
    shown: &str,
    found: Found,
    platform: &Platform,
    progress: &(dyn Fn(Event) + Sync),
) -> Result<ImageInfo, RegistryError> {
    let m = &found.manifest;
    let unsupported = |reason: String| RegistryError::Unsupported {
        reference: shown.to_string(),
        reason,
    };
    for l in &m.layers {
        // Artifacts (wasm modules, helm charts...) are not filesystem layers.
        if !l.media_type.is_empty() && !l.media_type.contains("tar") {
            return Err(unsupported(format!(
                "layer {} has media type {}, which is not a filesystem tar",
                l.digest, l.media_type
            )));
        }
    }
    let config_bytes = fetch_small_blob(s, &r.path, &m.config, shown)?;
    let config_hex = sha256_hex(&config_bytes);
    let config: ConfigFile = serde_json::from_slice(&config_bytes)
        .map_err(|e| unsupported(format!("bad image config: {e}")))?;
    // A single-platform image (no index to choose from) must be the one asked for.
    if !config.architecture.is_empty()
        && !platform.matches(&config.os, &config.architecture, config.variant.as_deref())
    {
        let mut have = format!("{}/{}", config.os, config.architecture);
        if let Some(v) = &config.variant {
            have = format!("{have}/{v}");
        }
        return Err(unsupported(format!(
            "it is for {have}, not the {platform} asked for"
        )));
    }
    if config.rootfs.diff_ids.len() != m.layers.len() {
        return Err(unsupported(format!(
            "its config lists {} diff_ids for {} layers",
            config.rootfs.diff_ids.len(),
            m.layers.len()
        )));
    }
    let transfer = store.begin_transfer()?;
    // What each layer needs: a download, or nothing (blob stored; extracted or not).
    let mut plan = Vec::new();
    for (l, diff) in m.layers.iter().zip(&config.rootfs.diff_ids) {
        let hex = sha256_of(&l.digest)
            .ok_or_else(|| unsupported(format!("unsupported layer digest \"{}\"", l.digest)))?;
        let diff_hex = sha256_of(diff)
            .ok_or_else(|| unsupported(format!("unsupported diff_id \"{diff}\"")))?;
        let present = store.blob_if_present(hex);
        plan.push((l.clone(), hex.to_string(), diff_hex.to_string(), present));
    }
    let todo: VecDeque<usize> = plan
        .iter()
        .enumerate()
        .filter(|(_, p)| p.3.is_none())
        .map(|(i, _)| i)
        .collect();
    // Layers not yet extracted are extracted by the commit; said once it is done.
    let to_extract: Vec<(String, u64)> = plan
        .iter()
        .filter(|(_, _, diff_hex, _)| !store.has_layer(diff_hex))
        .map(|(l, ..)| (short(&l.digest).to_string(), l.size))
        .collect();
    for (l, _, _, present) in &plan {
        if present.is_some() {
            progress(Event::Layer {
                layer: short(&l.digest),
                size: l.size,
                state: "exists",
            });
        }
    }
    let downloaded = download_all(
        store,
        s,
        &r.path,
        &plan,
        todo,
        transfer.staging(),
        &transfer.budget,
        progress,
    );
    let (downloaded, mut extracted) = match downloaded {
        Ok(d) => d,
        Err(e) => {
            let exceeded = transfer
                .budget
                .exceeded()
                .then(|| transfer.budget.error(shown));
            drop(transfer);
            return Err(exceeded.map_or(e, RegistryError::from));
        }
    };
    let mut layers = Vec::new();
    for (i, (l, hex, diff_hex, present)) in plan.iter().enumerate() {
        let blob = match present {
            Some(p) => p.clone(),
            None => downloaded
                .get(&i)
                .cloned()
                .ok_or_else(|| s.protocol(format!("layer {} was not downloaded", l.digest)))?,
        };
        layers.push(PreparedLayer {
            blob,
            digest: hex.clone(),
            size: l.size,
            media_type: if l.media_type.is_empty() {
                MT_LAYER_TAR.to_string()
            } else {
                l.media_type.clone()
            },
            diff_id: Some(diff_hex.clone()),
            extracted: extracted.remove(&i),
        });
    }
    let prepared = Prepared {
        config: ConfigSource::Given {
            bytes: config_bytes,
            digest: config_hex,
        },
        layers,
        manifest: Some((found.bytes, found.hex.clone(), found.media_type)),
    };
    let info = store.commit_transfer(transfer, prepared, shown)?;
    for (layer, size) in &to_extract {
        progress(Event::Layer {
            layer,
            size: *size,
            state: "extracted",
        });
    }
    progress(Event::Step(&format!("Digest: sha256:{}", found.hex)));
    Ok(info)
}

/// Downloads the layers `todo` names (indexes into `plan`), `PARALLEL` at a time; the first
/// failure stops the others from starting new downloads.
#[allow(clippy::too_many_arguments)]
fn download_all(
    store: &ImageStore,
    s: &Session,
    repo: &str,
    plan: &[(Descriptor, String, String, Option<PathBuf>)],
    todo: VecDeque<usize>,
    staging: &std::path::Path,
    budget: &Budget,
    progress: &(dyn Fn(Event) + Sync),
) -> Result<Downloaded, RegistryError> {
    let queue = Mutex::new(todo);
    let failed = AtomicBool::new(false);
    let done: Mutex<BTreeMap<usize, PathBuf>> = Mutex::new(BTreeMap::new());
    let extracted: Mutex<BTreeMap<usize, (PathBuf, u64)>> = Mutex::new(BTreeMap::new());
    let first_err: Mutex<Option<RegistryError>> = Mutex::new(None);
    let workers = PARALLEL
        .min(queue.lock().map(|q| q.len()).unwrap_or(1))
        .max(1);
    std::thread::scope(|scope| {
        for _ in 0..workers {
            let started = spawn_named(scope, "pull-layer", || {
                loop {
                    if failed.load(Ordering::Relaxed) {
                        return;
                    }
                    let next = queue.lock().unwrap_or_else(|p| p.into_inner()).pop_front();
                    let Some(i) = next else { return };
                    let Some((d, hex, diff_hex, _)) = plan.get(i) else {
                        return;
                    };
                    let dest = staging.join(format!("layer-{hex}"));
                    // A layer not extracted yet is extracted as it arrives (`stream.rs`).
                    let growth = Growth::default();
                    let unpack = !store.has_layer(diff_hex);
                    let into = staging.join(format!("extract-{diff_hex}"));
                    let (res, unpacked) = std::thread::scope(|sc| {
                        // A thread that cannot start leaves the layer to the commit,
                        // which extracts it from the verified blob.
                        let ex = unpack
                            .then(|| {
                                spawn_named(sc, "pull-extract", || {
                                    crate::image::fsutil::behind_the_inflate();
                                    extract_streaming(&growth, &d.digest, &into, diff_hex, budget)
                                })
                                .ok()
                            })
                            .flatten();
                        let res = resume::download(
                            store, s, repo, d, hex, &dest, budget, progress, &growth,
                        );
                        match &res {
                            Ok(()) => growth.finish(),
                            Err(_) => growth.fail(),
                        }
                        let unpacked = ex.and_then(|h| h.join().ok()).flatten();
                        (res, unpacked)
                    });
                    if let (Ok(()), Some(size)) = (&res, unpacked) {
                        extracted
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .insert(i, (into.clone(), size));
                    } else {
                        let _ = crate::image::fsutil::remove_tree(&into);
                    }
                    match res {
                        Ok(()) => {
                            progress(Event::Layer {
                                layer: short(&d.digest),
                                size: d.size,
                                state: "downloaded",
                            });
                            done.lock()
                                .unwrap_or_else(|p| p.into_inner())
                                .insert(i, dest);
                        }
                        Err(e) => {
                            let _ = std::fs::remove_file(&dest);
                            failed.store(true, Ordering::Relaxed);
                            first_err
                                .lock()
                                .unwrap_or_else(|p| p.into_inner())
                                .get_or_insert(e);
                            return;
                        }
                    }
                }
            });
            if let Err(e) = started {
                failed.store(true, Ordering::Relaxed);
                first_err
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .get_or_insert(io_err("starting a download thread")(e).into());
            }
        }
    });
    if let Some(e) = first_err.into_inner().unwrap_or_else(|p| p.into_inner()) {
        return Err(e);
    }
    Ok((
        done.into_inner().unwrap_or_else(|p| p.into_inner()),
        extracted.into_inner().unwrap_or_else(|p| p.into_inner()),
    ))
}

/// The downloaded blobs, and the layers extracted as they arrived (directory, unpacked
/// size), by their index in the plan.
type Downloaded = (BTreeMap<usize, PathBuf>, BTreeMap<usize, (PathBuf, u64)>);

/// Extracts a layer from its download as it arrives into `into`; its unpacked size when the
/// result is the layer `diff_hex`, else `None` (the commit extracts it again, from the
/// verified blob, and reports what is wrong).
fn extract_streaming(
    growth: &Growth,
    digest: &str,
    into: &std::path::Path,
    diff_hex: &str,
    budget: &Budget,
) -> Option<u64> {
    std::fs::create_dir(into).ok()?;
    crate::image::layer::set_root_mode(into).ok()?;
    let reader = GrowingReader::new(growth);
    // The reader borrows `growth`; extraction needs a 'static reader, so it reads through a
    // scoped pipe of chunks instead.
    let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<u8>>(16);
    // Read chunks come back to be filled again (no zeroed allocation per chunk).
    let (back_tx, back_rx) = std::sync::mpsc::sync_channel::<Vec<u8>>(20);
    std::thread::scope(|sc| {
        let feeder = spawn_named(sc, "pull-feed", move || {
            let mut reader = reader;
            loop {
                let mut buf = back_rx.try_recv().unwrap_or_default();
                buf.resize(256 * 1024, 0);
                match std::io::Read::read(&mut reader, &mut buf) {
                    Ok(0) => return true,
                    Ok(n) => {
                        buf.truncate(n);
                        if tx.send(buf).is_err() {
                            return false;
                        }
                    }
                    Err(_) => return false,
                }
            }
        })
        .ok()?;
        let res = crate::image::layer::extract_from(
            crate::image::fsutil::ChunkReader::new(rx).with_return(back_tx),
            digest,
            into,
            budget,
        );
        let fed = feeder.join().unwrap_or(false);
        match res {
            Ok((diff, size)) if fed && diff == diff_hex => Some(size),
            _ => None,
        }
    })
}

/// Fetches a small blob (the config) into memory, verified.
pub(super) fn fetch_small_blob(
    s: &Session,
    repo: &str,
    d: &Descriptor,
    shown: &str,
) -> Result<Vec<u8>, RegistryError> {
    let resp = s.request(
        "GET",
        &format!("/v2/{repo}/blobs/{}", d.digest),
        &[],
        &Body::Empty,
    )?;
    if resp.status != 200 {
        return Err(s.unexpected(&format!("config of {shown}"), resp));
    }
    let bytes = resp
        .bytes(MAX_DOCUMENT)
        .map_err(|e| s.protocol(format!("reading the config of {shown}: {e}")))?;
    let actual = format!("sha256:{}", sha256_hex(&bytes));
    if actual != d.digest {
        return Err(ImageError::DigestMismatch {
            what: format!("config of {shown} from {}", s.name),
            expected: d.digest.clone(),
            actual,
        }
        .into());
    }
    Ok(bytes)
}
