//! Replacing a small file's content in place, without truncating it to zero first.
//!
//! The start path rewrites files that an earlier container left (a recycled directory's
//! config.json, /etc/hosts, /etc/hostname and /etc/resolv.conf). `O_TRUNC` on ext4 is costly there: truncating
//! a file to size 0 marks it for `auto_da_alloc`, so its close starts writeback of the new
//! data, and the next truncation waits for that writeback to finish (0.2 ms median, over
//! 1 ms at times on this VM, measured on the daemon's start path). Writing over the old
//! bytes and then setting the length never truncates to zero: the pages just stay dirty.
//! A reader of the file meanwhile sees the old or the new bytes of each range, as with
//! `O_TRUNC` it could see an empty file. Nothing is synced: after a power loss a rewritten
//! file may hold old and new blocks mixed (with `O_TRUNC`, ext4's flush at close made that
//! less likely). The files are rewritten at every start, and a config.json that does not
//! parse at the daemon's boot is treated as one that was never written.

use std::fs::OpenOptions;
use std::io;
use std::os::unix::fs::{FileExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// Makes `path` hold exactly `data`, creating it with `mode` (umask applied) when missing.
/// `private`: the file's mode is set to `mode` even when it already exists (a file that
/// holds secrets must not keep a wider mode of an earlier run).
pub fn rewrite(path: &Path, data: &[u8], mode: u32, private: bool) -> io::Result<()> {
    let f = OpenOptions::new()
        .write(true)
        .create(true)
        .mode(mode)
        .open(path)?;
    if private {
        f.set_permissions(std::fs::Permissions::from_mode(mode))?;
    }
    f.write_all_at(data, 0)?;
    // Only a longer old content needs cutting; the new length is never zero unless the
    // data is empty, and an empty file has nothing in flight to wait for.
    if f.metadata()?.len() != data.len() as u64 {
        f.set_len(data.len() as u64)?;
    }
    Ok(())
}

/// Overwrites a file's bytes with zeros, keeping its length and inode: a recycled
/// directory's config.json (the old container's environment, secrets included) must not
/// be readable by whoever reads the directory next, and a truncation to zero would cost
/// the next start a writeback wait (see the module's note).
pub fn scrub(path: &Path) -> io::Result<()> {
    let f = OpenOptions::new().write(true).open(path)?;
    let len = f.metadata()?.len();
    let zeros = vec![0u8; usize::try_from(len).unwrap_or(0).min(1 << 20)];
    let mut at = 0u64;
    while at < len && !zeros.is_empty() {
        let n = zeros
            .len()
            .min(usize::try_from(len - at).unwrap_or(zeros.len()));
        f.write_all_at(&zeros[..n], at)?;
        at += n as u64;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn rewrite_keeps_the_inode_and_leaves_exactly_the_new_bytes() {
        let dir = crate::testutil::TempDir::new("rewrite");
        let p = dir.0.join("f");
        rewrite(&p, b"a longer first text\n", 0o644, false).expect("new");
        let ino = std::fs::metadata(&p).expect("stat").ino();
        rewrite(&p, b"short\n", 0o644, false).expect("shorter");
        assert_eq!(std::fs::read(&p).expect("read"), b"short\n");
        rewrite(&p, b"now longer than before\n", 0o644, false).expect("longer");
        assert_eq!(
            std::fs::read(&p).expect("read"),
            b"now longer than before\n"
        );
        rewrite(&p, b"", 0o644, false).expect("empty");
        assert_eq!(std::fs::read(&p).expect("read"), b"");
        assert_eq!(std::fs::metadata(&p).expect("stat").ino(), ino);
    }

    #[test]
    fn a_private_rewrite_narrows_an_existing_files_mode() {
        let dir = crate::testutil::TempDir::new("rewrite-mode");
        let p = dir.0.join("config.json");
        std::fs::write(&p, "{}").expect("write");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        rewrite(&p, b"{\"a\":1}", 0o600, true).expect("rewrite");
        let m = std::fs::metadata(&p).expect("stat");
        assert_eq!(m.mode() & 0o777, 0o600);
        assert_eq!(std::fs::read(&p).expect("read"), b"{\"a\":1}");
    }

    #[test]
    fn scrub_zeroes_the_bytes_and_keeps_the_length() {
        let dir = crate::testutil::TempDir::new("scrub");
        let p = dir.0.join("config.json");
        std::fs::write(&p, "SECRET=hunter2").expect("write");
        scrub(&p).expect("scrub");
        assert_eq!(std::fs::read(&p).expect("read"), vec![0u8; 14]);
    }
}
