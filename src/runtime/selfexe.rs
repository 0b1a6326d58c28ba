//! The binary the shim and nsexec helpers are exec'd from: a sealed memfd copy of
//! /proc/self/exe, so no container process can ever open the host binary for writing through
//! /proc/PID/exe (CVE-2019-5736; crun does the same).

use super::error::{Result, RuntimeError};
use std::fs::File;
use std::os::fd::{AsRawFd, FromRawFd};
use std::path::{Path, PathBuf};

#[derive(Debug)]
pub struct SelfExe {
    /// Keeps the memfd open for the daemon's lifetime.
    _memfd: Option<File>,
    path: PathBuf,
}

impl SelfExe {
    /// Copies /proc/self/exe into a sealed memfd; once per daemon.
    pub fn new() -> Result<SelfExe> {
        Self::sealed_copy(Path::new("/proc/self/exe"))
    }

    /// Sealed memfd copy of any binary (tests use it on the built `rstack`).
    pub fn sealed_copy(binary: &Path) -> Result<SelfExe> {
        let src = File::open(binary).map_err(|e| RuntimeError::io("open", binary, e))?;
        let name = c"rstack";
        // SAFETY: valid C string; flags are plain integers.
        let fd = unsafe {
            libc::memfd_create(name.as_ptr(), libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING)
        };
        if fd < 0 {
            return Err(RuntimeError::io(
                "memfd_create",
                "rstack",
                std::io::Error::last_os_error(),
            ));
        }
        // SAFETY: fd was just created and is owned by nobody else.
        let mem = unsafe { File::from_raw_fd(fd) };
        let len = src
            .metadata()
            .map_err(|e| RuntimeError::io("stat", binary, e))?
            .len();
        let mut done = 0u64;
        while done < len {
            // SAFETY: both fds are open; null offsets use and advance the file positions.
            let n = unsafe {
                libc::sendfile(
                    mem.as_raw_fd(),
                    src.as_raw_fd(),
                    std::ptr::null_mut(),
                    (len - done) as usize,
                )
            };
            if n < 0 {
                return Err(RuntimeError::io(
                    "sendfile",
                    "memfd",
                    std::io::Error::last_os_error(),
                ));
            }
            if n == 0 {
                break;
            }
            done += n as u64;
        }
        let seals =
            libc::F_SEAL_SEAL | libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_WRITE;
        // SAFETY: fcntl on our own fd.
        if unsafe { libc::fcntl(mem.as_raw_fd(), libc::F_ADD_SEALS, seals) } != 0 {
            return Err(RuntimeError::io(
                "seal",
                "memfd",
                std::io::Error::last_os_error(),
            ));
        }
        let path = PathBuf::from(format!("/proc/self/fd/{}", mem.as_raw_fd()));
        Ok(SelfExe {
            _memfd: Some(mem),
            path,
        })
    }

    /// Runs helpers from a plain path (tests; the binary is then reachable from containers).
    pub fn from_path(path: impl Into<PathBuf>) -> SelfExe {
        SelfExe {
            _memfd: None,
            path: path.into(),
        }
    }

    /// What to exec. For the memfd this is `/proc/self/fd/N`, resolved in the spawned child,
    /// which inherits the (CLOEXEC) fd until its exec succeeds.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memfd_copy_is_sealed_and_identical() {
        let s = SelfExe::new().unwrap();
        let fd = s._memfd.as_ref().unwrap().as_raw_fd();
        // SAFETY: fcntl on a descriptor the SelfExe owns.
        let seals = unsafe { libc::fcntl(fd, libc::F_GET_SEALS) };
        assert_ne!(seals & libc::F_SEAL_WRITE, 0);
        let a = std::fs::metadata("/proc/self/exe").unwrap().len();
        let b = std::fs::metadata(s.path()).unwrap().len();
        assert_eq!(a, b);
        assert!(
            std::fs::OpenOptions::new()
                .write(true)
                .open(s.path())
                .is_err()
                // SAFETY: a one-byte write from a static buffer to a descriptor we own.
                || unsafe { libc::write(fd, b"x".as_ptr().cast(), 1) } < 0
        );
    }
}
