//! `rstack cp` (both directions) and `rstack export`, as `docker compose cp`/`export`: the
//! daemon sends or takes tar streams; this side reads and writes the user's files with the
//! user's own rights (the daemon never opens a host path a client names).

use super::output::is_tty;
use super::project;
use crate::api::Client;
use crate::api::client::query_escape;
use crate::api::cp::{CpFromRequest, top_name};
use anyhow::{Context, Result, bail};
use clap::Args;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

#[derive(Debug, Args)]
pub struct CpArgs {
    /// Index of the container if service has multiple replicas
    #[arg(long)]
    pub index: Option<u32>,
    /// Include containers created by the run command (used when the service has no
    /// container of its own: the latest started, or with --index the n-th)
    #[arg(long)]
    pub all: bool,
    /// Archive mode (copy all uid/gid information)
    #[arg(short = 'a', long)]
    pub archive: bool,
    /// Always follow symbol link in SRC_PATH
    #[arg(short = 'L', long)]
    pub follow_link: bool,
    /// SERVICE:SRC_PATH or SRC_PATH|-
    pub source: String,
    /// DEST_PATH|- or SERVICE:DEST_PATH
    pub destination: String,
}

#[derive(Debug, Args)]
#[command(
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true,
    after_help = "`rstack export kubernetes` writes Kubernetes manifests instead. To export the \
container of a service literally named kubernetes: rstack export -- kubernetes"
)]
pub struct ExportArgs {
    #[command(subcommand)]
    pub target: Option<super::kube_export::ExportTarget>,
    /// index of the container if service has multiple replicas.
    #[arg(long)]
    pub index: Option<u32>,
    /// Write to a file, instead of STDOUT
    #[arg(short = 'o', long)]
    pub output: Option<PathBuf>,
    #[arg(required = true)]
    pub service: Option<String>,
}

/// `SERVICE:PATH` as (service, path); a local path (starting with `/` or `.`, or with a `/`
/// before its first `:`) is `None`, as docker cp tells them apart.
pub fn container_side(arg: &str) -> Option<(&str, &str)> {
    if arg.starts_with('/') || arg.starts_with('.') {
        return None;
    }
    let (svc, path) = arg.split_once(':')?;
    (!svc.is_empty() && !svc.contains('/')).then_some((svc, path))
}

pub fn cp(cli: &super::args::Cli, client: &Client, a: &CpArgs) -> Result<i32> {
    let p = project::project_name(cli)?;
    match (container_side(&a.source), container_side(&a.destination)) {
        (Some((svc, src)), None) => cp_from(client, &p, a, svc, src),
        (None, Some((svc, dest))) => cp_to(client, &p, a, svc, dest),
        (Some(_), Some(_)) => {
            bail!("copying between containers is not supported: copy through a local path")
        }
        (None, None) => bail!(
            "one of SRC and DEST must be SERVICE:PATH (got {} and {})",
            a.source,
            a.destination
        ),
    }
}

fn cp_from(client: &Client, p: &str, a: &CpArgs, svc: &str, src: &str) -> Result<i32> {
    let dest = Path::new(&a.destination);
    let contents = top_name(src) == Path::new(".");
    // Where the archive is unpacked, and under which top name.
    let (into, name) = if a.destination == "-" {
        (None, None)
    } else if dest.is_dir() {
        (Some(dest.to_path_buf()), None)
    } else if contents {
        std::fs::create_dir_all(dest).with_context(|| format!("creating {}", dest.display()))?;
        (Some(dest.to_path_buf()), None)
    } else {
        let parent = match dest.parent() {
            Some(x) if !x.as_os_str().is_empty() => x.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let base = dest
            .file_name()
            .with_context(|| format!("{}: name a file or directory", dest.display()))?;
        (Some(parent), Some(base.to_string_lossy().into_owned()))
    };
    let req = CpFromRequest {
        service: svc.to_string(),
        index: a.index,
        all: a.all,
        path: src.to_string(),
        follow_link: a.follow_link,
        name,
    };
    let resp = client
        .request("POST", &format!("/v1/projects/{p}/cp/from"), Some(&req))?
        .ok()?;
    let mut body = resp.into_reader();
    match into {
        None => {
            if is_tty(1) {
                bail!("refusing to write a tar stream to a terminal: redirect stdout");
            }
            let mut out = std::io::stdout().lock();
            std::io::copy(&mut body, &mut out).context("receiving the archive")?;
            out.flush()?;
        }
        Some(dir) => {
            let mut ar = tar::Archive::new(body);
            ar.set_preserve_permissions(true);
            ar.set_preserve_ownerships(a.archive);
            ar.set_overwrite(true);
            // `unpack` keeps every entry below `dir` (no `..`, no write through a symlink).
            ar.unpack(&dir)
                .with_context(|| format!("copying {svc}:{src} to {}", a.destination))?;
        }
    }
    Ok(0)
}

/// The tar of a local path, its top entry named as `cp` names it.
fn local_tar(src: &Path, follow: bool) -> Result<Vec<u8>> {
    let name = top_name(&src.to_string_lossy());
    let mut b = tar::Builder::new(Vec::new());
    b.follow_symlinks(false);
    let meta = match follow {
        true => std::fs::metadata(src),
        false => std::fs::symlink_metadata(src),
    }
    .with_context(|| format!("{}: no such file or directory", src.display()))?;
    if meta.is_dir() {
        b.append_dir_all(&name, src)
            .with_context(|| format!("reading {}", src.display()))?;
    } else if meta.file_type().is_symlink() {
        let mut h = tar::Header::new_gnu();
        h.set_metadata(&meta);
        b.append_link(&mut h, &name, std::fs::read_link(src)?)?;
    } else {
        let mut f =
            std::fs::File::open(src).with_context(|| format!("reading {}", src.display()))?;
        b.append_file(&name, &mut f)
            .with_context(|| format!("reading {}", src.display()))?;
    }
    Ok(b.into_inner()?)
}

fn cp_to(client: &Client, p: &str, a: &CpArgs, svc: &str, dest: &str) -> Result<i32> {
    let stream = a.source == "-";
    let body = if stream {
        let mut v = Vec::new();
        std::io::stdin()
            .lock()
            .read_to_end(&mut v)
            .context("reading the tar stream on stdin")?;
        v
    } else {
        local_tar(Path::new(&a.source), a.follow_link)?
    };
    let mut path = format!(
        "/v1/projects/{p}/cp/to?service={}&path={}&archive={}&stream={stream}",
        query_escape(svc),
        query_escape(dest),
        a.archive
    );
    if let Some(i) = a.index {
        path.push_str(&format!("&index={i}"));
    }
    if a.all {
        path.push_str("&all=true");
    }
    let _: u64 = client.upload(&path, &body[..], body.len() as u64)?;
    Ok(0)
}

pub fn export(cli: &super::args::Cli, client: &Client, a: &ExportArgs) -> Result<i32> {
    let p = project::project_name(cli)?;
    if a.output.is_none() && is_tty(1) {
        bail!("refusing to write a tar archive to a terminal: use -o FILE or redirect stdout");
    }
    let req = CpFromRequest {
        service: a.service.clone().unwrap_or_default(),
        index: a.index,
        ..Default::default()
    };
    let resp = client
        .request("POST", &format!("/v1/projects/{p}/export"), Some(&req))?
        .ok()?;
    let mut body = resp.into_reader();
    match &a.output {
        None => {
            let mut out = std::io::stdout().lock();
            std::io::copy(&mut body, &mut out).context("receiving the archive")?;
            out.flush()?;
        }
        Some(path) => {
            // Written next to the target and renamed: a failed export leaves no short archive.
            let tmp = path.with_file_name(format!(
                ".{}.rstack-export-{}",
                path.file_name()
                    .map(|n| n.to_string_lossy())
                    .unwrap_or_default(),
                std::process::id()
            ));
            let res = (|| -> Result<()> {
                let mut f = std::fs::File::create(&tmp)
                    .with_context(|| format!("creating {}", path.display()))?;
                std::io::copy(&mut body, &mut f).context("receiving the archive")?;
                f.sync_all()?;
                std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))
            })();
            if res.is_err() {
                let _ = std::fs::remove_file(&tmp);
            }
            res?;
        }
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tells_container_paths_from_local_ones() {
        assert_eq!(container_side("web:/etc/x"), Some(("web", "/etc/x")));
        assert_eq!(container_side("web:rel"), Some(("web", "rel")));
        assert_eq!(container_side("./a:b"), None);
        assert_eq!(container_side("/tmp/a:b"), None);
        assert_eq!(container_side("dir/a:b"), None);
        assert_eq!(container_side("-"), None);
        assert_eq!(container_side("file"), None);
    }
}
