//! One daemon per data root: an exclusive flock on `<data_root>/daemon.lock`, held for the
//! daemon's lifetime and released by the kernel however the daemon ends.

use anyhow::{Result, bail};
use std::fs::File;
use std::io::{Read, Seek, Write};
use std::os::fd::AsRawFd;
use std::path::Path;

pub struct DataRootLock {
    _file: File,
}

impl DataRootLock {
    pub fn acquire(root: &Path) -> Result<DataRootLock> {
        let path = root.join("daemon.lock");
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| anyhow::anyhow!("opening {}: {e}", path.display()))?;
        // SAFETY: flock on a descriptor we own.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if rc != 0 {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            let holder = holder.trim();
            let who = if holder.is_empty() {
                String::new()
            } else {
                format!(" (pid {holder})")
            };
            bail!(
                "another rstack daemon{who} is already using data root {}: stop it first, or give this one its own --data-root",
                root.display()
            );
        }
        file.set_len(0)?;
        file.rewind()?;
        write!(file, "{}", std::process::id())?;
        Ok(DataRootLock { _file: file })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_lock_on_same_root_is_refused_with_the_holder() {
        let dir = std::env::temp_dir().join(format!("rstack-lock-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("mkdir");
        let first = DataRootLock::acquire(&dir).expect("first");
        // flock locks belong to the open file description: a second open conflicts.
        let err = DataRootLock::acquire(&dir)
            .err()
            .expect("refused")
            .to_string();
        assert!(err.contains("already using data root"), "{err}");
        assert!(
            err.contains(&format!("pid {}", std::process::id())),
            "{err}"
        );
        drop(first);
        assert!(DataRootLock::acquire(&dir).is_ok());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
