//! The compiled filter in the container's processes: read from its file by the shim (before the
//! clone) or by nsexec (before it joins the container), installed just before execve.

use super::compile::MAX_INSNS;
use std::path::Path;

/// Decoded programs, ready for the `seccomp` system call, in installation order.
pub struct Filters {
    programs: Vec<Vec<libc::sock_filter>>,
}

impl Filters {
    pub fn read(path: &Path) -> Result<Filters, String> {
        let bytes = std::fs::read(path)
            .map_err(|e| format!("reading the seccomp filter {}: {e}", path.display()))?;
        Filters::decode(&bytes).map_err(|e| format!("seccomp filter {}: {e}", path.display()))
    }

    /// Parses `compile::encode`'s format.
    pub fn decode(mut bytes: &[u8]) -> Result<Filters, String> {
        let mut programs = Vec::new();
        while !bytes.is_empty() {
            let (len, rest) = bytes
                .split_first_chunk::<4>()
                .ok_or("truncated program header")?;
            let len = u32::from_le_bytes(*len) as usize;
            if len == 0 || len > MAX_INSNS {
                return Err(format!("program of {len} instructions"));
            }
            let body = rest.get(..len * 8).ok_or("truncated program")?;
            programs.push(
                body.chunks_exact(8)
                    .map(|i| libc::sock_filter {
                        code: u16::from_le_bytes([i[0], i[1]]),
                        jt: i[2],
                        jf: i[3],
                        k: u32::from_le_bytes([i[4], i[5], i[6], i[7]]),
                    })
                    .collect(),
            );
            bytes = &rest[len * 8..];
        }
        if programs.is_empty() {
            return Err("no program".into());
        }
        Ok(Filters { programs })
    }

    pub fn instructions(&self) -> usize {
        self.programs.iter().map(Vec::len).sum()
    }

    /// Installs every program on the calling thread. Needs `no_new_privs` or CAP_SYS_ADMIN.
    /// Only system calls the filter allows may follow (the default profile allows execve).
    pub fn install(&self) -> Result<(), String> {
        for p in &self.programs {
            let prog = libc::sock_fprog {
                len: p.len() as u16,
                filter: p.as_ptr().cast_mut(),
            };
            // SAFETY: `prog` points at `p`, which outlives the call; the kernel copies it.
            let r = unsafe {
                libc::syscall(
                    libc::SYS_seccomp,
                    libc::SECCOMP_SET_MODE_FILTER,
                    0,
                    &prog as *const libc::sock_fprog,
                )
            };
            if r != 0 {
                return Err(format!(
                    "installing the seccomp filter: {}",
                    std::io::Error::last_os_error()
                ));
            }
        }
        Ok(())
    }
}
