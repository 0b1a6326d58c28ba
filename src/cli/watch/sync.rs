//! Copying changed files into a running container: one tar stream of the files that still
//! exist, sent to the daemon's cp-to-container API (entries named by their full path in the
//! container, unpacked from `/`), and one `rm -rf` exec for the ones that were deleted.

use crate::api::Client;
use crate::api::attach::Frame;
use crate::api::client::query_escape;
use crate::api::types::ExecRequest;
use anyhow::{Context, Result, bail};
use std::io::Write;
use std::path::{Path, PathBuf};

/// A host path and where it goes in the container.
pub type Change = (PathBuf, String);

/// Syncs `changes` into `service`'s container; returns how many paths were copied or deleted.
pub fn sync(client: &Client, project: &str, service: &str, changes: &[Change]) -> Result<usize> {
    let mut b = tar::Builder::new(Vec::new());
    b.follow_symlinks(false);
    let mut copied = 0;
    let mut deleted = Vec::new();
    for (host, dest) in changes {
        let name = dest.trim_start_matches('/');
        if name.is_empty() {
            continue;
        }
        let Ok(meta) = std::fs::symlink_metadata(host) else {
            deleted.push(dest.clone());
            continue;
        };
        append(&mut b, host, name, &meta).with_context(|| format!("reading {}", host.display()))?;
        copied += 1;
    }
    let body = b.into_inner()?;
    if copied > 0 {
        let path = format!(
            "/v1/projects/{project}/cp/to?service={}&path=%2F&archive=false&stream=true",
            query_escape(service)
        );
        let _: u64 = client
            .upload(&path, &body[..], body.len() as u64)
            .with_context(|| format!("copying into {service}"))?;
    }
    if !deleted.is_empty() {
        let mut cmd = vec!["rm".to_string(), "-rf".into(), "--".into()];
        cmd.extend(deleted.iter().cloned());
        let code = exec(client, project, service, cmd, Vec::new(), None, None)?;
        if code != 0 {
            bail!("deleting files in {service}: rm exited with {code}");
        }
    }
    Ok(copied + deleted.len())
}

fn append(
    b: &mut tar::Builder<Vec<u8>>,
    host: &Path,
    name: &str,
    meta: &std::fs::Metadata,
) -> Result<()> {
    if meta.is_dir() {
        b.append_dir_all(name, host)?;
    } else if meta.file_type().is_symlink() {
        let mut h = tar::Header::new_gnu();
        h.set_metadata(meta);
        b.append_link(&mut h, name, std::fs::read_link(host)?)?;
    } else {
        let mut f = std::fs::File::open(host)?;
        b.append_file(name, &mut f)?;
    }
    Ok(())
}

/// Runs `cmd` in `service`'s container, its output on ours; returns its exit code.
pub fn exec(
    client: &Client,
    project: &str,
    service: &str,
    cmd: Vec<String>,
    env: Vec<String>,
    workdir: Option<String>,
    user: Option<String>,
) -> Result<i32> {
    let req = ExecRequest {
        service: service.to_string(),
        cmd,
        env,
        workdir,
        user,
        tty: None,
        index: None,
    };
    let code = client.attach(
        &format!("/v1/projects/{project}/exec"),
        &req,
        None::<std::io::Empty>,
        None,
        |frame| {
            let _ = match frame {
                Frame::Stdout(d) => {
                    let mut out = std::io::stdout().lock();
                    out.write_all(&d).and_then(|_| out.flush())
                }
                Frame::Stderr(d) => std::io::stderr().write_all(&d),
                _ => Ok(()),
            };
        },
    )?;
    Ok(code)
}

/// Every path below `root` (files, symlinks and empty directories), for `initial_sync`.
pub fn walk(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(p) = stack.pop() {
        let Ok(meta) = std::fs::symlink_metadata(&p) else {
            continue;
        };
        if meta.is_dir() {
            let Ok(rd) = std::fs::read_dir(&p) else {
                continue;
            };
            let before = stack.len();
            stack.extend(rd.flatten().map(|e| e.path()));
            if stack.len() == before && p != root {
                out.push(p);
            }
        } else {
            out.push(p);
        }
    }
    out.sort();
    out
}
