//! Reading an image archive given to `import`: format detection (OCI archive, docker-save tar or
//! plain rootfs tar, each optionally gzip- or zstd-compressed), staging of its files with their sha256,
//! and verification of every blob against the digest that names it.

use std::collections::{HashMap, HashSet};
use std::fs::{self, File};
use std::io;
use std::path::{Component, Path, PathBuf};

use super::budget::{Budget, Charge, Metered};
use super::error::{ImageError, io_err, json_err};
use super::fsutil::{Compression, HashReader, open_decompressed, sniff_file};
use super::oci::{
    CONTAINERD_NAME, ConfigFile, Descriptor, DockerSaveEntry, Index, MT_LAYER_GZIP, MT_LAYER_TAR,
    MT_LAYER_ZSTD, MT_MANIFEST, Manifest, REF_NAME, host_arch, sha256_of,
};
use super::reference::{Reference, is_sha256_hex};

/// Largest `manifest.json` / `index.json` we read into memory.
const MAX_JSON: u64 = 16 << 20;
/// Nested indexes deeper than this are treated as malformed.
const MAX_INDEX_DEPTH: usize = 4;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    Oci,
    DockerSave,
    Rootfs,
}

/// Where the image config comes from.
pub(crate) enum ConfigSource {
    /// Verified config bytes from the archive, with their sha256 hex.
    Given { bytes: Vec<u8>, digest: String },
    /// A rootfs tar: the store writes a minimal config once the diff_id is known.
    Generate,
}

/// One verified layer blob, staged on disk.
pub(crate) struct PreparedLayer {
    pub blob: PathBuf,
    pub digest: String,
    pub size: u64,
    pub media_type: String,
    /// Expected diff_id hex, when the config names one.
    pub diff_id: Option<String>,
    /// Already extracted (while it downloaded) and checked against `diff_id`: the
    /// directory, on the store's filesystem, and its unpacked size.
    pub extracted: Option<(PathBuf, u64)>,
}

/// Everything the store needs to commit an image.
pub(crate) struct Prepared {
    pub config: ConfigSource,
    pub layers: Vec<PreparedLayer>,
    /// The original manifest (bytes, sha256 hex, media type) for OCI archives, so the image
    /// keeps its registry digest; docker-save and rootfs imports get a generated manifest.
    pub manifest: Option<(Vec<u8>, String, String)>,
}

#[derive(Clone)]
struct StagedFile {
    path: PathBuf,
    sha256: String,
    size: u64,
}

/// Detects the archive format and stages + verifies its content under `staging`, charging
/// what it writes to `budget`. `name` is how messages call the file.
pub(crate) fn prepare(
    file: &Path,
    name: &str,
    staging: &Path,
    reference: &Reference,
    budget: &Budget,
) -> Result<Prepared, ImageError> {
    let ctx = Ctx {
        file: name.to_string(),
        budget,
    };
    match ctx.detect(file)? {
        Format::Oci => {
            let files = ctx.stage(file, staging)?;
            ctx.prepare_oci(&files, reference)
        }
        Format::DockerSave => {
            let files = ctx.stage(file, staging)?;
            ctx.prepare_docker(&files, reference)
        }
        Format::Rootfs => ctx.prepare_rootfs(file, staging),
    }
}

/// One image of an archive being loaded: the names the archive gives it and its content.
pub(crate) struct Named {
    pub names: Vec<String>,
    pub prepared: Prepared,
}

/// `image load`: stages a docker-save or OCI archive once and prepares every image in it,
/// each with the names the archive gives it (RepoTags; an OCI index entry's
/// `io.containerd.image.name`, else its ref name when that is a whole reference).
pub(crate) fn prepare_all(
    file: &Path,
    name: &str,
    staging: &Path,
    budget: &Budget,
) -> Result<Vec<Named>, ImageError> {
    let ctx = Ctx {
        file: name.to_string(),
        budget,
    };
    let format = ctx.detect(file)?;
    if format == Format::Rootfs {
        return Err(ctx.invalid(
            "it is neither a docker-save nor an OCI archive (a plain rootfs tar is added with \"rstack image import FILE NAME\")",
        ));
    }
    let files = ctx.stage(file, staging)?;
    let mut out: Vec<Named> = Vec::new();
    if format == Format::DockerSave {
        let bytes = ctx.read(ctx.get(&files, "manifest.json")?, "manifest.json")?;
        let entries: Vec<DockerSaveEntry> = serde_json::from_slice(&bytes)
            .map_err(|e| ctx.invalid(format!("manifest.json: {e}")))?;
        for entry in &entries {
            out.push(Named {
                names: entry.repo_tags.clone().unwrap_or_default(),
                prepared: ctx.prepare_docker_entry(&files, entry)?,
            });
        }
        return Ok(out);
    }
    let index_bytes = ctx.read(ctx.get(&files, "index.json")?, "index.json")?;
    let index: Index = serde_json::from_slice(&index_bytes)
        .map_err(|e| ctx.invalid(format!("index.json: {e}")))?;
    let mut seen: Vec<(String, usize)> = Vec::new();
    for desc in &index.manifests {
        let name = desc
            .annotations
            .get(CONTAINERD_NAME)
            .or_else(|| {
                desc.annotations
                    .get(REF_NAME)
                    .filter(|n| n.contains(':') || n.contains('/'))
            })
            .filter(|n| Reference::parse(n).is_ok())
            .cloned();
        match seen.iter().find(|(d, _)| *d == desc.digest) {
            Some((_, i)) => out[*i].names.extend(name),
            None => {
                seen.push((desc.digest.clone(), out.len()));
                out.push(Named {
                    names: name.into_iter().collect(),
                    prepared: ctx.prepare_oci_from(&files, desc.clone())?,
                });
            }
        }
    }
    Ok(out)
}

struct Ctx<'a> {
    file: String,
    budget: &'a Budget,
}

impl Ctx<'_> {
    fn invalid(&self, reason: impl Into<String>) -> ImageError {
        ImageError::InvalidArchive {
            file: self.file.clone(),
            reason: reason.into(),
        }
    }

    fn not_archive(&self) -> ImageError {
        ImageError::NotAnArchive {
            file: self.file.clone(),
        }
    }

    fn open(&self, file: &Path) -> Result<tar::Archive<Box<dyn io::Read + Send>>, ImageError> {
        let f = File::open(file).map_err(io_err(format!("opening {}", self.file)))?;
        let (reader, _) = open_decompressed(f).map_err(io_err(format!("reading {}", self.file)))?;
        Ok(tar::Archive::new(reader))
    }

    /// One pass over the tar headers: is it a tar at all, and which markers does it hold?
    fn detect(&self, file: &Path) -> Result<Format, ImageError> {
        // The scan writes nothing, but it decompresses everything that staging will write:
        // a bomb is stopped here, before its first byte reaches the disk.
        let scan = self.budget.for_scan();
        let f = File::open(file).map_err(io_err(format!("opening {}", self.file)))?;
        let (reader, _) = open_decompressed(f).map_err(io_err(format!("reading {}", self.file)))?;
        let mut archive = tar::Archive::new(Metered::new(reader, &scan, Charge::Written));
        let entries = archive.entries().map_err(|_| self.not_archive())?;
        let mut count = 0usize;
        let mut markers = HashSet::new();
        let mut docker_manifest_ok = false;
        for entry in entries {
            let mut entry = match entry {
                Ok(e) => e,
                Err(_) if scan.exceeded() => return Err(scan.error(&self.file)),
                Err(_) if count == 0 => return Err(self.not_archive()),
                Err(e) => return Err(self.invalid(format!("truncated or corrupt tar: {e}"))),
            };
            count += 1;
            let Ok(path) = entry.path() else { continue };
            let key = archive_key(&path);
            if matches!(key.as_deref(), Some("oci-layout" | "index.json")) {
                markers.extend(key);
            } else if key.as_deref() == Some("manifest.json") && entry.size() <= MAX_JSON {
                let mut bytes = Vec::new();
                if io::Read::read_to_end(&mut entry, &mut bytes).is_ok() {
                    docker_manifest_ok =
                        serde_json::from_slice::<Vec<DockerSaveEntry>>(&bytes).is_ok();
                }
            }
        }
        if count == 0 {
            return Err(self.not_archive());
        }
        Ok(
            if markers.contains("oci-layout") && markers.contains("index.json") {
                Format::Oci
            } else if docker_manifest_ok {
                Format::DockerSave
            } else {
                Format::Rootfs
            },
        )
    }

    /// Copies every regular file of the archive into `dir`, hashing it; links become aliases.
    fn stage(&self, file: &Path, dir: &Path) -> Result<HashMap<String, StagedFile>, ImageError> {
        let mut archive = self.open(file)?;
        let mut files: HashMap<String, StagedFile> = HashMap::new();
        let mut links: Vec<(String, String)> = Vec::new();
        let entries = archive
            .entries()
            .map_err(io_err(format!("reading {}", self.file)))?;
        for (n, entry) in entries.enumerate() {
            let mut entry = entry.map_err(|e| self.invalid(format!("corrupt tar: {e}")))?;
            let path = entry
                .path()
                .map_err(|e| self.invalid(format!("bad path: {e}")))?
                .into_owned();
            let Some(key) = archive_key(&path) else {
                return Err(self.invalid(format!("unsafe path {}", path.display())));
            };
            match entry.header().entry_type() {
                tar::EntryType::Regular | tar::EntryType::Continuous => {
                    // Staged under a numbered name: archive paths never touch the filesystem.
                    let dest = dir.join(format!("f{n}"));
                    let mut out = File::create(&dest)
                        .map_err(io_err(format!("creating {}", dest.display())))?;
                    let mut hashed =
                        HashReader::new(Metered::new(&mut entry, self.budget, Charge::Written));
                    io::copy(&mut hashed, &mut out)
                        .map_err(|e| self.invalid(format!("reading {key}: {e}")))?;
                    let (sha256, size) = hashed
                        .finish()
                        .map_err(|e| self.invalid(format!("reading {key}: {e}")))?;
                    out.sync_all()
                        .map_err(io_err(format!("writing {}", dest.display())))?;
                    files.insert(
                        key,
                        StagedFile {
                            path: dest,
                            sha256,
                            size,
                        },
                    );
                }
                kind @ (tar::EntryType::Symlink | tar::EntryType::Link) => {
                    let Ok(Some(target)) = entry.link_name() else {
                        continue;
                    };
                    // Older docker save links duplicate layers: `a/layer.tar -> ../b/layer.tar`.
                    let base = if kind == tar::EntryType::Symlink {
                        Path::new(&key)
                            .parent()
                            .unwrap_or(Path::new(""))
                            .join(&target)
                    } else {
                        target.into_owned()
                    };
                    if let Some(t) = archive_key(&base) {
                        links.push((key, t));
                    }
                }
                _ => {}
            }
        }
        for (key, target) in links {
            if let Some(f) = files.get(&target).cloned() {
                files.insert(key, f);
            }
        }
        Ok(files)
    }

    fn get<'a>(
        &self,
        files: &'a HashMap<String, StagedFile>,
        key: &str,
    ) -> Result<&'a StagedFile, ImageError> {
        files
            .get(key)
            .ok_or_else(|| self.invalid(format!("missing {key}")))
    }

    fn read(&self, f: &StagedFile, what: &str) -> Result<Vec<u8>, ImageError> {
        if f.size > MAX_JSON {
            return Err(self.invalid(format!("{what} is too large")));
        }
        fs::read(&f.path).map_err(io_err(format!("reading staged {what}")))
    }

    /// The staged blob a descriptor names, checked against its digest and size.
    fn blob<'a>(
        &self,
        files: &'a HashMap<String, StagedFile>,
        desc: &Descriptor,
        what: &str,
    ) -> Result<&'a StagedFile, ImageError> {
        let hex = sha256_of(&desc.digest).ok_or_else(|| {
            self.invalid(format!("{what} has unsupported digest \"{}\"", desc.digest))
        })?;
        let f = self.get(files, &format!("blobs/sha256/{hex}"))?;
        if f.sha256 != hex {
            return Err(ImageError::DigestMismatch {
                what: format!("{what} in {}", self.file),
                expected: desc.digest.clone(),
                actual: format!("sha256:{}", f.sha256),
            });
        }
        if desc.size != 0 && desc.size != f.size {
            return Err(self.invalid(format!(
                "{what} {} has size {} but the descriptor says {}",
                desc.digest, f.size, desc.size
            )));
        }
        Ok(f)
    }

    fn prepare_oci(
        &self,
        files: &HashMap<String, StagedFile>,
        reference: &Reference,
    ) -> Result<Prepared, ImageError> {
        let index_bytes = self.read(self.get(files, "index.json")?, "index.json")?;
        let index: Index = serde_json::from_slice(&index_bytes)
            .map_err(|e| self.invalid(format!("index.json: {e}")))?;
        let desc = self.select_named(&index.manifests, reference)?.clone();
        self.prepare_oci_from(files, desc)
    }

    /// Prepares the image an OCI index entry names (an index resolves to the host platform).
    fn prepare_oci_from(
        &self,
        files: &HashMap<String, StagedFile>,
        mut desc: Descriptor,
    ) -> Result<Prepared, ImageError> {
        for _ in 0..MAX_INDEX_DEPTH {
            let staged = self.blob(files, &desc, "manifest")?;
            let bytes = self.read(staged, "manifest")?;
            let value: serde_json::Value = serde_json::from_slice(&bytes)
                .map_err(|e| self.invalid(format!("manifest {}: {e}", desc.digest)))?;
            if value.get("manifests").is_some() {
                let nested: Index = serde_json::from_value(value)
                    .map_err(|e| self.invalid(format!("index {}: {e}", desc.digest)))?;
                desc = self.select_platform(&nested.manifests)?.clone();
                continue;
            }
            let manifest: Manifest = serde_json::from_value(value)
                .map_err(|e| self.invalid(format!("manifest {}: {e}", desc.digest)))?;
            let config_file = self.blob(files, &manifest.config, "image config")?;
            let config_bytes = self.read(config_file, "image config")?;
            let config: ConfigFile = serde_json::from_slice(&config_bytes)
                .map_err(json_err(format!("image config in {}", self.file)))?;
            let diff_ids = self.diff_ids(&config, manifest.layers.len())?;
            let mut layers = Vec::new();
            for (d, diff_id) in manifest.layers.iter().zip(diff_ids) {
                // Artifacts (wasm modules, helm charts, ...) are not filesystem layers.
                if !d.media_type.is_empty() && !d.media_type.contains("tar") {
                    return Err(ImageError::Unsupported {
                        what: format!(
                            "layer {} has media type {}, which is not a filesystem tar",
                            d.digest, d.media_type
                        ),
                    });
                }
                let f = self.blob(files, d, "layer")?;
                layers.push(PreparedLayer {
                    blob: f.path.clone(),
                    digest: f.sha256.clone(),
                    size: f.size,
                    media_type: if d.media_type.is_empty() {
                        MT_LAYER_TAR.to_string()
                    } else {
                        d.media_type.clone()
                    },
                    diff_id: Some(diff_id),
                    extracted: None,
                });
            }
            let media_type = if desc.media_type.is_empty() {
                MT_MANIFEST.to_string()
            } else {
                desc.media_type.clone()
            };
            return Ok(Prepared {
                config: ConfigSource::Given {
                    bytes: config_bytes,
                    digest: config_file.sha256.clone(),
                },
                layers,
                manifest: Some((bytes, staged.sha256.clone(), media_type)),
            });
        }
        Err(self.invalid("image indexes nested too deeply"))
    }

    fn diff_ids(&self, config: &ConfigFile, layers: usize) -> Result<Vec<String>, ImageError> {
        if config.rootfs.diff_ids.len() != layers {
            return Err(self.invalid(format!(
                "image config lists {} diff_ids for {} layers",
                config.rootfs.diff_ids.len(),
                layers
            )));
        }
        config
            .rootfs
            .diff_ids
            .iter()
            .map(|d| {
                sha256_of(d)
                    .map(str::to_string)
                    .ok_or_else(|| self.invalid(format!("unsupported diff_id \"{d}\"")))
            })
            .collect()
    }

    /// Picks the manifest named like `reference`, else the only one, else the host platform's.
    fn select_named<'a>(
        &self,
        descs: &'a [Descriptor],
        reference: &Reference,
    ) -> Result<&'a Descriptor, ImageError> {
        let want = reference.familiar();
        let named: Vec<&Descriptor> = descs
            .iter()
            .filter(|d| {
                [REF_NAME, CONTAINERD_NAME].iter().any(|k| {
                    d.annotations.get(*k).is_some_and(|v| {
                        Some(v) == reference.tag.as_ref()
                            || Reference::parse(v).is_ok_and(|r| r.familiar() == want)
                    })
                })
            })
            .collect();
        if let [one] = named.as_slice() {
            return Ok(one);
        }
        self.select_platform(descs)
    }

    fn select_platform<'a>(&self, descs: &'a [Descriptor]) -> Result<&'a Descriptor, ImageError> {
        if let [one] = descs {
            return Ok(one);
        }
        if descs.is_empty() {
            return Err(self.invalid("the index lists no manifests"));
        }
        let host: Vec<&Descriptor> = descs
            .iter()
            .filter(|d| {
                d.platform
                    .as_ref()
                    .is_some_and(|p| p.os == "linux" && p.architecture == host_arch())
            })
            .collect();
        match host.first() {
            Some(d) => Ok(d),
            None => {
                let names: Vec<&str> = descs
                    .iter()
                    .filter_map(|d| {
                        d.annotations
                            .get(CONTAINERD_NAME)
                            .or_else(|| d.annotations.get(REF_NAME))
                            .map(String::as_str)
                    })
                    .collect();
                Err(self.invalid(format!(
                    "the archive holds {} images ({}) and none is named for this reference or built for linux/{}",
                    descs.len(),
                    if names.is_empty() { "unnamed".to_string() } else { names.join(", ") },
                    host_arch()
                )))
            }
        }
    }

    fn prepare_docker(
        &self,
        files: &HashMap<String, StagedFile>,
        reference: &Reference,
    ) -> Result<Prepared, ImageError> {
        let bytes = self.read(self.get(files, "manifest.json")?, "manifest.json")?;
        let entries: Vec<DockerSaveEntry> = serde_json::from_slice(&bytes)
            .map_err(|e| self.invalid(format!("manifest.json: {e}")))?;
        let want = reference.familiar();
        let tagged: Vec<&DockerSaveEntry> = entries
            .iter()
            .filter(|e| {
                e.repo_tags
                    .iter()
                    .flatten()
                    .any(|t| Reference::parse(t).is_ok_and(|r| r.familiar() == want))
            })
            .collect();
        let entry = match (tagged.as_slice(), entries.as_slice()) {
            ([one], _) => *one,
            ([], [one]) => one,
            _ => {
                return Err(self.invalid(format!(
                    "the archive holds {} images and none is tagged {want}",
                    entries.len()
                )));
            }
        };
        self.prepare_docker_entry(files, entry)
    }

    fn prepare_docker_entry(
        &self,
        files: &HashMap<String, StagedFile>,
        entry: &DockerSaveEntry,
    ) -> Result<Prepared, ImageError> {
        let config_file = self.get(files, &entry.config)?;
        self.check_named_digest(&entry.config, config_file, "image config")?;
        let config_bytes = self.read(config_file, "image config")?;
        let config: ConfigFile = serde_json::from_slice(&config_bytes)
            .map_err(json_err(format!("image config in {}", self.file)))?;
        let diff_ids = self.diff_ids(&config, entry.layers.len())?;
        let mut layers = Vec::new();
        for (path, diff_id) in entry.layers.iter().zip(diff_ids) {
            let f = self.get(files, path)?;
            self.check_named_digest(path, f, "layer")?;
            let media_type = match sniff_file(&f.path)
                .map_err(io_err(format!("reading staged layer {path}")))?
            {
                Compression::None => MT_LAYER_TAR,
                Compression::Gzip => MT_LAYER_GZIP,
                Compression::Zstd => MT_LAYER_ZSTD,
            };
            layers.push(PreparedLayer {
                blob: f.path.clone(),
                digest: f.sha256.clone(),
                size: f.size,
                media_type: media_type.to_string(),
                diff_id: Some(diff_id),
                extracted: None,
            });
        }
        Ok(Prepared {
            config: ConfigSource::Given {
                bytes: config_bytes,
                digest: config_file.sha256.clone(),
            },
            layers,
            manifest: None,
        })
    }

    /// docker-save names files after their digest (`<hex>.json`, `blobs/sha256/<hex>`): check it.
    fn check_named_digest(&self, name: &str, f: &StagedFile, what: &str) -> Result<(), ImageError> {
        let base = Path::new(name)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let hex = base.strip_suffix(".json").unwrap_or(&base);
        if is_sha256_hex(hex) && hex != f.sha256 {
            return Err(ImageError::DigestMismatch {
                what: format!("{what} {name} in {}", self.file),
                expected: format!("sha256:{hex}"),
                actual: format!("sha256:{}", f.sha256),
            });
        }
        Ok(())
    }

    fn prepare_rootfs(&self, file: &Path, staging: &Path) -> Result<Prepared, ImageError> {
        let dest = staging.join("rootfs-layer");
        let src = File::open(file).map_err(io_err(format!("opening {}", self.file)))?;
        let mut out =
            File::create(&dest).map_err(io_err(format!("creating {}", dest.display())))?;
        let mut hashed = HashReader::new(Metered::new(src, self.budget, Charge::Written));
        io::copy(&mut hashed, &mut out).map_err(io_err(format!("copying {}", self.file)))?;
        let (digest, size) = hashed
            .finish()
            .map_err(io_err(format!("reading {}", self.file)))?;
        out.sync_all()
            .map_err(io_err(format!("writing {}", dest.display())))?;
        let media_type =
            match sniff_file(&dest).map_err(io_err(format!("reading {}", dest.display())))? {
                Compression::Gzip => MT_LAYER_GZIP,
                Compression::Zstd => MT_LAYER_ZSTD,
                Compression::None => MT_LAYER_TAR,
            };
        Ok(Prepared {
            config: ConfigSource::Generate,
            layers: vec![PreparedLayer {
                blob: dest,
                digest,
                size,
                media_type: media_type.to_string(),
                diff_id: None,
                extracted: None,
            }],
            manifest: None,
        })
    }
}

/// Normalizes a path inside the archive to `a/b/c` form; `None` if it escapes the root.
fn archive_key(path: &Path) -> Option<String> {
    let mut parts: Vec<String> = Vec::new();
    for c in path.components() {
        match c {
            Component::Normal(n) => parts.push(n.to_string_lossy().into_owned()),
            Component::ParentDir => {
                parts.pop()?;
            }
            Component::CurDir | Component::RootDir => {}
            Component::Prefix(_) => return None,
        }
    }
    Some(parts.join("/"))
}
