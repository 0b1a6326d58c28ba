//! Copying changed files into a running container: one tar stream of the files that still
//! exist, sent to the daemon's cp-to-container API (entries named by their full path in the
//! container, unpacked from `/`), and one `rm -rf` exec for the ones that were deleted.
//! As compose, every running replica of the service gets the change (and the exec).

use crate::api::Client;
use crate::api::attach::Frame;
use crate::api::client::query_escape;
use crate::api::types::{ContainerView, ExecRequest};
use anyhow::{Context, Result, bail};
use std::io::Write;
use std::path::{Path, PathBuf};

/// A host path and where it goes in the container.
pub type Change = (PathBuf, String);

/// The replica numbers of `service`'s running containers (`None`: one without a number,
/// e.g. a `container_name`), lowest first.
pub fn replicas(client: &Client, project: &str, service: &str) -> Result<Vec<Option<u32>>> {
    let rows: Vec<ContainerView> = client.call::<(), _>(
        "GET",
        &format!("/v1/containers?project={}", query_escape(project)),
        None,
    )?;
    let mut out: Vec<Option<u32>> = rows
        .iter()
        .filter(|c| c.service == service && !c.one_off && c.state == "running")
        .map(|c| replica_number(project, service, &c.name))
        .collect();
    out.sort();
    out.dedup();
    Ok(out)
}

/// `project-service-N` -> N.
fn replica_number(project: &str, service: &str, name: &str) -> Option<u32> {
    name.strip_prefix(project)?
        .strip_prefix('-')?
        .strip_prefix(service)?
        .strip_prefix('-')?
        .parse()
        .ok()
}

/// Syncs `changes` into every running replica of `service`; returns how many paths were
/// copied or deleted (per replica).
pub fn sync(client: &Client, project: &str, service: &str, changes: &[Change]) -> Result<usize> {
    let replicas = replicas(client, project, service)?;
    if replicas.is_empty() {
        bail!("service \"{service}\" has no running container to sync to");
    }
    let mut n = 0;
    for index in replicas {
        n = sync_one(client, project, service, index, changes)?;
    }
    Ok(n)
}

fn sync_one(
    client: &Client,
    project: &str,
    service: &str,
    index: Option<u32>,
    changes: &[Change],
) -> Result<usize> {
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
        let mut path = format!(
            "/v1/projects/{project}/cp/to?service={}&path=%2F&archive=false&stream=true",
            query_escape(service)
        );
        if let Some(i) = index {
            path.push_str(&format!("&index={i}"));
        }
        let _: u64 = client
            .upload(&path, &body[..], body.len() as u64)
            .with_context(|| format!("copying into {service}"))?;
    }
    if !deleted.is_empty() {
        let mut cmd = vec!["rm".to_string(), "-rf".into(), "--".into()];
        cmd.extend(deleted.iter().cloned());
        let x = Exec {
            command: cmd,
            ..Default::default()
        };
        let code = exec(client, project, service, index, &x)?;
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

/// What to run in a container (a `sync+exec` rule's `exec`, or our `rm`).
pub type Exec = crate::model::WatchExec;

/// Runs `x` in replica `index` of `service`, its output on ours; returns its exit code.
pub fn exec(
    client: &Client,
    project: &str,
    service: &str,
    index: Option<u32>,
    x: &Exec,
) -> Result<i32> {
    let req = ExecRequest {
        service: service.to_string(),
        cmd: x.command.clone(),
        env: x.environment.clone(),
        workdir: x.working_dir.clone(),
        user: x.user.clone(),
        tty: None,
        index,
        privileged: x.privileged,
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

#[cfg(test)]
mod tests {
    use super::replica_number;

    #[test]
    fn replica_numbers_come_from_the_container_names() {
        assert_eq!(replica_number("p", "web", "p-web-2"), Some(2));
        assert_eq!(replica_number("p", "web", "p-web-api-1"), None);
        assert_eq!(replica_number("p", "web", "custom"), None);
    }
}
