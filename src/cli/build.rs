//! `rstack image build`: the Dockerfile is read and checked here, so its errors (every one,
//! with file:line:col) come before anything is sent; the context directory is sent as a tar
//! without what `.dockerignore` excludes; the daemon's lines are printed as they come
//! (`[2/7] RUN ...`, `CACHED`, the RUN's output).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Seek, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::api::Client;
use crate::api::build::{BuildLine, BuildOptions};
use crate::api::client::query_escape;
use crate::build::dockerfile;
use crate::build::ignore::{self, Ignore};

/// What one build needs from the command line or a service's `build:`.
#[derive(Debug, Clone, Default)]
pub struct BuildSpec {
    pub context: PathBuf,
    /// The Dockerfile's path (relative to the current directory, or absolute); default
    /// `CONTEXT/Dockerfile`.
    pub file: Option<PathBuf>,
    /// A Dockerfile given inline (`dockerfile_inline`).
    pub inline: Option<String>,
    pub tags: Vec<String>,
    pub args: BTreeMap<String, String>,
    pub target: Option<String>,
    pub no_cache: bool,
    pub pull: bool,
    pub labels: BTreeMap<String, String>,
    pub network: Option<String>,
    /// Named contexts (`additional_contexts`): a directory, or `docker-image://REF`.
    pub additional: BTreeMap<String, String>,
    /// Print only the image id at the end (`-q`).
    pub quiet: bool,
}

/// Builds `spec`; returns the image id.
pub fn build(client: &Client, spec: &BuildSpec) -> Result<String> {
    let (text, file_name, file_path) = match &spec.inline {
        Some(t) => (t.clone(), "dockerfile_inline".to_string(), None),
        None => {
            let path = spec
                .file
                .clone()
                .unwrap_or_else(|| spec.context.join("Dockerfile"));
            let text = std::fs::read_to_string(&path).with_context(|| {
                format!(
                    "reading the Dockerfile {}: give its path with -f, or add one to the context",
                    path.display()
                )
            })?;
            (text, path.display().to_string(), Some(path))
        }
    };
    // Every problem at once, before the context is even read.
    if let Err(d) = dockerfile::parse(&text, &file_name) {
        bail!("{d}");
    }
    if !spec.context.is_dir() {
        bail!(
            "the build context {} is not a directory",
            spec.context.display()
        );
    }
    let df_path = file_path.unwrap_or_else(|| spec.context.join("Dockerfile"));
    let ign = ignore::candidates(&spec.context, &df_path)
        .into_iter()
        .find_map(|p| std::fs::read_to_string(p).ok())
        .map(|t| Ignore::parse(&t))
        .unwrap_or_default();
    let mut spool = Spool::new();
    // The main context under ctx/, each additional one under named/N/.
    {
        let mut b = tar::Builder::new(&mut spool);
        b.mode(tar::HeaderMode::Complete);
        b.follow_symlinks(false);
        add_dir(&mut b, &spec.context, Path::new(""), Path::new("ctx"), &ign)
            .with_context(|| format!("reading the build context {}", spec.context.display()))?;
        for (i, (name, value)) in spec.additional.iter().enumerate() {
            if value.contains("://") {
                continue;
            }
            let dir = Path::new(value);
            if !dir.is_dir() {
                bail!("additional context {name}: {value} is not a directory");
            }
            let prefix = PathBuf::from(format!("named/{i}"));
            add_dir(&mut b, dir, Path::new(""), &prefix, &Ignore::default())
                .with_context(|| format!("reading the additional context {name} ({value})"))?;
        }
        b.finish().context("writing the build context")?;
    }
    let options = BuildOptions {
        dockerfile: text,
        file_name,
        tags: spec.tags.clone(),
        args: spec.args.clone(),
        target: spec.target.clone(),
        no_cache: spec.no_cache,
        pull: spec.pull,
        labels: spec.labels.clone(),
        network: spec.network.clone(),
        contexts: spec
            .additional
            .iter()
            .enumerate()
            .map(|(i, (name, value))| {
                let v = match value.strip_prefix("docker-image://") {
                    Some(r) => format!("image:{r}"),
                    None if value.contains("://") => format!("unsupported:{value}"),
                    None => format!("named/{i}"),
                };
                (name.clone(), v)
            })
            .collect(),
        auths: super::registry::auths(),
    };
    let path = format!(
        "/v1/images/build?options={}",
        query_escape(&serde_json::to_string(&options)?)
    );
    let len = spool.len();
    let resp = client.upload_streaming(&path, spool.reader()?, len)?;
    let mut reader = BufReader::new(resp.into_reader());
    let mut buf = String::new();
    let err = std::io::stderr();
    loop {
        buf.clear();
        if reader
            .read_line(&mut buf)
            .context("reading the daemon's answer")?
            == 0
        {
            bail!("the daemon ended the build without a result");
        }
        if buf.trim().is_empty() {
            continue;
        }
        let item: BuildLine = serde_json::from_str(&buf).context("reading the daemon's answer")?;
        let mut e = err.lock();
        if let Some(s) = &item.step {
            if !spec.quiet {
                let mark = if s.cached { " CACHED" } else { "" };
                let _ = writeln!(e, "[{}/{}] {}{mark}", s.n, s.total, s.text);
            }
            continue;
        }
        if let Some(o) = &item.output {
            if !spec.quiet {
                let _ = writeln!(e, "  {o}");
            }
            continue;
        }
        if let Some(msg) = item.error {
            bail!("{msg}");
        }
        if let Some(img) = item.image {
            if spec.quiet {
                println!("{}", img.id);
            } else {
                for t in &spec.tags {
                    let _ = writeln!(e, "Built {t} ({})", img.id);
                }
                if spec.tags.is_empty() {
                    println!("{}", img.id);
                }
            }
            return Ok(img.id);
        }
    }
}

/// Options of `rstack build` and `up --build` for every service built.
#[derive(Debug, Clone, Default)]
pub struct ServiceOptions {
    pub no_cache: bool,
    pub pull: bool,
    pub quiet: bool,
}

/// What building service `svc` means: its `build:` with the service's image as the first
/// tag. `None` for a service without `build:`.
pub fn service_spec(svc: &crate::model::Service, o: &ServiceOptions) -> Option<BuildSpec> {
    let b = svc.build.as_ref()?;
    let mut tags = vec![svc.image.clone()];
    tags.extend(b.tags.iter().filter(|t| **t != svc.image).cloned());
    Some(BuildSpec {
        context: PathBuf::from(&b.context),
        file: (b.dockerfile_inline.is_none() && !b.dockerfile.is_empty())
            .then(|| PathBuf::from(&b.dockerfile)),
        inline: b.dockerfile_inline.clone(),
        tags,
        args: b.args.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        target: b.target.clone(),
        no_cache: b.no_cache || o.no_cache,
        pull: b.pull || o.pull,
        labels: b
            .labels
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        network: b.network.clone().filter(|n| n != "default"),
        additional: b.additional_contexts.clone().into_iter().collect(),
        quiet: o.quiet,
    })
}

/// Builds the services named (all when none is) that have `build:`, one after the other;
/// services that share an image are built once. A named service without `build:` is an
/// error, as in Compose.
pub fn build_services(
    client: &Client,
    stack: &crate::model::Stack,
    names: &[String],
    o: &ServiceOptions,
) -> Result<()> {
    for n in names {
        let Some(svc) = stack.services.get(n) else {
            bail!("no such service: {n}");
        };
        if svc.build.is_none() {
            bail!(
                "service {n} has no build: section; it uses the image {}",
                svc.image
            );
        }
    }
    let mut done: Vec<String> = Vec::new();
    for (name, svc) in &stack.services {
        if !names.is_empty() && !names.contains(name) {
            continue;
        }
        let Some(spec) = service_spec(svc, o) else {
            continue;
        };
        if done.contains(&svc.image) {
            continue;
        }
        if !o.quiet {
            eprintln!("Building {name} ({})", svc.image);
        }
        build(client, &spec).with_context(|| format!("building service {name}"))?;
        done.push(svc.image.clone());
    }
    Ok(())
}

/// `rstack image build`.
pub fn image_build(client: &Client, a: &super::args::ImageBuildArgs) -> Result<i32> {
    let spec = BuildSpec {
        context: a.context.clone(),
        file: a.file.clone(),
        inline: None,
        tags: a.tags.clone(),
        args: key_values(&a.build_args, true)?,
        target: a.target.clone(),
        no_cache: a.no_cache,
        pull: a.pull,
        labels: key_values(&a.labels, false)?,
        network: a.network.clone(),
        additional: BTreeMap::new(),
        quiet: a.quiet,
    };
    build(client, &spec)?;
    Ok(0)
}

/// `KEY=VALUE` list to a map; with `from_env`, a bare `KEY` takes the environment's value
/// (and is left out when unset), as `docker build --build-arg` does.
fn key_values(list: &[String], from_env: bool) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for kv in list {
        match kv.split_once('=') {
            Some((k, v)) => {
                out.insert(k.to_string(), v.to_string());
            }
            None if from_env => {
                if let Ok(v) = std::env::var(kv) {
                    out.insert(kv.clone(), v);
                }
            }
            None => bail!("{kv}: give KEY=VALUE"),
        }
    }
    Ok(out)
}

/// Adds the contents of `dir` (context-relative `rel`) that `.dockerignore` keeps, under
/// `prefix` in the tar.
fn add_dir<W: Write>(
    b: &mut tar::Builder<W>,
    dir: &Path,
    rel: &Path,
    prefix: &Path,
    ign: &Ignore,
) -> std::io::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<std::io::Result<_>>()?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let r = rel.join(e.file_name());
        let key = r.to_string_lossy();
        let md = std::fs::symlink_metadata(e.path())?;
        let excluded = ign.is_excluded(&key);
        if md.is_dir() {
            if excluded && !ign.may_reinclude_inside(&key) {
                continue;
            }
            if !excluded {
                b.append_path_with_name(e.path(), prefix.join(&r))?;
            }
            add_dir(b, &e.path(), &r, prefix, ign)?;
        } else if !excluded && (md.is_file() || md.file_type().is_symlink()) {
            b.append_path_with_name(e.path(), prefix.join(&r))?;
        }
    }
    Ok(())
}

/// The context tar: in memory while small, in an unlinked temporary file past 64 MiB.
struct Spool {
    mem: Vec<u8>,
    file: Option<std::fs::File>,
    len: u64,
}

const SPILL: usize = 64 << 20;

impl Spool {
    fn new() -> Spool {
        Spool {
            mem: Vec::new(),
            file: None,
            len: 0,
        }
    }

    fn len(&self) -> u64 {
        self.len
    }

    fn reader(mut self) -> Result<Box<dyn Read>> {
        match self.file.take() {
            None => Ok(Box::new(std::io::Cursor::new(self.mem))),
            Some(mut f) => {
                f.flush()?;
                f.rewind()?;
                Ok(Box::new(f))
            }
        }
    }
}

impl Write for Spool {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.file.is_none() && self.mem.len() + buf.len() > SPILL {
            let dir = std::env::temp_dir();
            let path = dir.join(format!("rstack-context-{}", std::process::id()));
            let mut f = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create_new(true)
                .open(&path)?;
            let _ = std::fs::remove_file(&path);
            f.write_all(&self.mem)?;
            self.mem = Vec::new();
            self.file = Some(f);
        }
        let n = match &mut self.file {
            Some(f) => f.write(buf)?,
            None => {
                self.mem.extend_from_slice(buf);
                buf.len()
            }
        };
        self.len += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match &mut self.file {
            Some(f) => f.flush(),
            None => Ok(()),
        }
    }
}
