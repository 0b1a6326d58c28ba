//! Seccomp for every container, as Docker does it: Docker's default profile unless the service
//! says `seccomp=unconfined` or names its own profile (Docker's JSON format).
//!
//! The daemon compiles a profile for a capability set once (`FilterCache`), to one classic BPF
//! program (`compile`: rstack's own emitter, a binary search over the call numbers) in a file
//! under `<data_root>/seccomp/` that config.json names (`seccomp_filter`). The shim
//! reads it before the clone, and the init installs it just before execve; nsexec (`exec`,
//! healthcheck probes) installs the same file. Only x86_64 is supported: elsewhere no filter
//! is installed.
//!
//! `default.json` is Docker's default profile, copied unchanged from
//! https://github.com/moby/profiles (`seccomp/default.json`, commit cd3bed8061c7, 2026-06-30),
//! Copyright The Moby Authors, licensed under the Apache License, Version 2.0
//! (http://www.apache.org/licenses/LICENSE-2.0).

mod bpf;
pub mod compile;
pub mod install;
mod layout;
pub mod profile;
mod syscalls;

use super::config::Seccomp;
use super::error::{Result, RuntimeError};
pub use install::Filters;
pub use profile::ProfileError;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Docker's default profile (see the module doc for its origin and license).
pub const DEFAULT_PROFILE: &str = include_str!("default.json");

/// Whether filters can be built on this architecture.
pub const SUPPORTED: bool = cfg!(target_arch = "x86_64");

/// The programs for `seccomp` and a container with capabilities `caps` on a kernel
/// (major, minor), encoded for the filter file; `None` when no filter applies.
pub fn compile_for(
    seccomp: &Seccomp,
    caps: &[String],
    kernel: (u32, u32),
) -> Result<Option<Vec<u8>>> {
    let text = match seccomp {
        Seccomp::Unconfined => return Ok(None),
        _ if !SUPPORTED => return Ok(None),
        Seccomp::Default => DEFAULT_PROFILE,
        Seccomp::Profile(text) => text.as_str(),
    };
    let fail = |e: String| RuntimeError::Seccomp(e);
    let p = profile::parse(text).map_err(|e| fail(e.to_string()))?;
    let policy =
        profile::resolve(&p, &profile::Host { caps, kernel }).map_err(|e| fail(e.to_string()))?;
    // None: defaultAction ALLOW and no rules, nothing to filter.
    let program = compile::compile(&policy).map_err(fail)?;
    Ok(program.map(|p| compile::encode(&[p])))
}

/// The filters a container's processes install: the daemon's compiled file when config.json
/// names one, else compiled here (a config written without the daemon's cache).
pub fn filters_for(cfg: &super::config::ContainerConfig) -> Result<Option<Filters>> {
    if let Some(path) = &cfg.seccomp_filter {
        return Filters::read(path).map(Some).map_err(RuntimeError::Seccomp);
    }
    match compile_for(&cfg.seccomp, &cfg.process.capabilities, host_kernel())? {
        Some(bytes) => Filters::decode(&bytes)
            .map(Some)
            .map_err(RuntimeError::Seccomp),
        None => Ok(None),
    }
}

/// This kernel's (major, minor), for `minKernel` conditions.
pub fn host_kernel() -> (u32, u32) {
    nix::sys::utsname::uname()
        .ok()
        .and_then(|u| profile::kernel_version(&u.release().to_string_lossy()).ok())
        .unwrap_or((0, 0))
}

/// The daemon's compiled filters by (profile, capability set): each is compiled and written
/// once per daemon, then every container start and exec only names its file.
pub struct FilterCache {
    dir: PathBuf,
    kernel: (u32, u32),
    done: std::sync::Mutex<HashMap<CacheKey, Option<PathBuf>>>,
}

/// (sha256 of a profile's text, `None` for the built-in default; capability mask).
type CacheKey = (Option<[u8; 32]>, u64);

impl FilterCache {
    /// Files go to `dir` (made on first use).
    pub fn new(dir: PathBuf) -> FilterCache {
        FilterCache {
            dir,
            kernel: host_kernel(),
            done: Default::default(),
        }
    }

    /// The filter file for a container with this profile and these capabilities; `None` when
    /// it runs unconfined.
    pub fn filter_for(&self, seccomp: &Seccomp, caps: &[String]) -> Result<Option<PathBuf>> {
        let ident = match seccomp {
            Seccomp::Unconfined => return Ok(None),
            Seccomp::Default => None,
            Seccomp::Profile(text) => {
                use sha2::Digest;
                Some(sha2::Sha256::digest(text.as_bytes()).into())
            }
        };
        let key = (ident, super::caps::cap_mask(caps)?);
        let mut done = self.done.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(path) = done.get(&key) {
            return Ok(path.clone());
        }
        let path = match compile_for(seccomp, caps, self.kernel)? {
            Some(bytes) => {
                let name = match &key.0 {
                    None => format!("default-{:016x}.bpf", key.1),
                    Some(h) => format!("{}-{:016x}.bpf", hex::encode(&h[..8]), key.1),
                };
                let path = self.dir.join(name);
                write_atomically(&self.dir, &path, &bytes)?;
                Some(path)
            }
            None => None,
        };
        done.insert(key, path.clone());
        Ok(path)
    }
}

/// Written anew by each daemon (never trusting a previous binary's file), through a rename so
/// that a shim never reads half a file.
fn write_atomically(dir: &Path, path: &Path, bytes: &[u8]) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| RuntimeError::io("mkdir", dir, e))?;
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, bytes).map_err(|e| RuntimeError::io("write", &tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| RuntimeError::io("rename", path, e))
}

#[cfg(test)]
mod equiv_tests;
#[cfg(test)]
mod interp;
#[cfg(test)]
mod legacy;
#[cfg(test)]
mod tests;
