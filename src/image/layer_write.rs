//! Writes a layer directory in the store's (overlayfs) form back as an OCI layer tar: what a
//! build step changed (a RUN container's upper directory, a COPY's new files) becomes a blob
//! that registries, `docker load` and skopeo read.
//!
//! The form conversions are `layer.rs`'s in reverse: a whiteout (a 0:0 character device)
//! becomes an empty `.wh.NAME` file, a directory marked opaque (`trusted.overlay.opaque=y`)
//! gets a `.wh..wh..opq` entry, overlayfs's own `trusted.overlay.*` attributes are dropped
//! and the others (file capabilities) are kept as PAX `SCHILY.xattr.*` records. Entries are
//! written in name order, so the same tree gives the same tar (and diff_id) again; hard
//! links within the layer become link entries.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::fs::{self, File};
use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use tar::{EntryType, Header};

const OPAQUE_XATTR: &str = "trusted.overlay.opaque";

/// What writing a layer tar produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrittenLayer {
    /// sha256 hex of the tar (its diff_id; also its digest, as it is not compressed).
    pub digest: String,
    /// Bytes of the tar.
    pub size: u64,
    /// Bytes of the regular files in it (each hard-linked file once).
    pub unpacked: u64,
    /// Whether the layer holds no entry at all.
    pub empty: bool,
}

/// Writes the tar of the layer directory `dir` to the new file `out`.
pub fn write_layer_tar(dir: &Path, out: &Path) -> io::Result<WrittenLayer> {
    let file = File::create(out)?;
    let mut hashed = HashWriter {
        inner: io::BufWriter::with_capacity(256 * 1024, file),
        hasher: Sha256::new(),
        count: 0,
    };
    let mut w = Walk {
        links: HashMap::new(),
        unpacked: 0,
        entries: 0,
    };
    {
        let mut builder = tar::Builder::new(&mut hashed);
        builder.mode(tar::HeaderMode::Complete);
        w.dir_contents(&mut builder, dir, Path::new(""))?;
        builder.finish()?;
    }
    // Not synced here: the build's commit syncs the store's filesystem once.
    hashed.inner.flush()?;
    Ok(WrittenLayer {
        digest: hex::encode(hashed.hasher.finalize()),
        size: hashed.count,
        unpacked: w.unpacked,
        empty: w.entries == 0,
    })
}

struct HashWriter<W> {
    inner: W,
    hasher: Sha256,
    count: u64,
}

impl<W: Write> Write for HashWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

struct Walk {
    /// (dev, ino) of a file with several links -> the path it was first written under.
    links: HashMap<(u64, u64), PathBuf>,
    unpacked: u64,
    entries: u64,
}

impl Walk {
    fn dir_contents<W: Write>(
        &mut self,
        b: &mut tar::Builder<W>,
        dir: &Path,
        rel: &Path,
    ) -> io::Result<()> {
        let mut names: Vec<_> = fs::read_dir(dir)?
            .map(|e| e.map(|e| e.file_name()))
            .collect::<io::Result<_>>()?;
        names.sort();
        for name in names {
            self.entry(b, &dir.join(&name), &rel.join(&name), &name)?;
        }
        Ok(())
    }

    fn entry<W: Write>(
        &mut self,
        b: &mut tar::Builder<W>,
        full: &Path,
        rel: &Path,
        name: &OsStr,
    ) -> io::Result<()> {
        let md = fs::symlink_metadata(full)?;
        let ft = md.file_type();
        if ft.is_char_device() && md.rdev() == 0 {
            // An overlayfs whiteout: the lower file is deleted.
            let mut wh = name.as_bytes().to_vec();
            wh.splice(0..0, b".wh.".iter().copied());
            let path = rel.with_file_name(OsStr::from_bytes(&wh));
            let mut h = header(&md, EntryType::Regular);
            h.set_mode(0o644);
            h.set_size(0);
            self.entries += 1;
            return b.append_data(&mut h, path, io::empty());
        }
        if ft.is_socket() {
            // Sockets cannot be archived (tar has no type for them), as in Docker.
            return Ok(());
        }
        let xattrs = xattrs(full)?;
        let opaque = xattrs
            .iter()
            .any(|(k, v)| k == OPAQUE_XATTR && v.as_slice() == b"y");
        let kept: Vec<(String, Vec<u8>)> = xattrs
            .into_iter()
            .filter(|(k, _)| !k.starts_with("trusted.overlay."))
            .collect();
        if !kept.is_empty() {
            let pax: Vec<(String, Vec<u8>)> = kept
                .into_iter()
                .map(|(k, v)| (format!("SCHILY.xattr.{k}"), v))
                .collect();
            b.append_pax_extensions(pax.iter().map(|(k, v)| (k.as_str(), v.as_slice())))?;
        }
        self.entries += 1;
        if ft.is_dir() {
            let mut h = header(&md, EntryType::Directory);
            h.set_size(0);
            let mut p = rel.as_os_str().as_bytes().to_vec();
            p.push(b'/');
            b.append_data(&mut h, OsStr::from_bytes(&p), io::empty())?;
            if opaque {
                let mut h = header(&md, EntryType::Regular);
                h.set_mode(0o644);
                h.set_size(0);
                b.append_data(&mut h, rel.join(".wh..wh..opq"), io::empty())?;
            }
            return self.dir_contents(b, full, rel);
        }
        if ft.is_symlink() {
            let target = fs::read_link(full)?;
            let mut h = header(&md, EntryType::Symlink);
            h.set_size(0);
            return b.append_link(&mut h, rel, target);
        }
        if ft.is_file() {
            if md.nlink() > 1 {
                let key = (md.dev(), md.ino());
                if let Some(first) = self.links.get(&key) {
                    let mut h = header(&md, EntryType::Link);
                    h.set_size(0);
                    return b.append_link(&mut h, rel, first);
                }
                self.links.insert(key, rel.to_path_buf());
            }
            self.unpacked += md.len();
            let mut h = header(&md, EntryType::Regular);
            h.set_size(md.len());
            let f = File::open(full)?;
            return b.append_data(&mut h, rel, f);
        }
        let kind = if ft.is_char_device() {
            EntryType::Char
        } else if ft.is_block_device() {
            EntryType::Block
        } else {
            EntryType::Fifo
        };
        let mut h = header(&md, kind);
        h.set_size(0);
        let dev = md.rdev();
        h.set_device_major(libc::major(dev))?;
        h.set_device_minor(libc::minor(dev))?;
        b.append_data(&mut h, rel, io::empty())
    }
}

fn header(md: &fs::Metadata, kind: EntryType) -> Header {
    let mut h = Header::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(md.mode() & 0o7777);
    h.set_uid(md.uid() as u64);
    h.set_gid(md.gid() as u64);
    h.set_mtime(md.mtime().max(0) as u64);
    h
}

/// The extended attributes of `path` (not following a symlink).
fn xattrs(path: &Path) -> io::Result<Vec<(String, Vec<u8>)>> {
    let c = std::ffi::CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    let mut names = vec![0u8; 1024];
    let n = loop {
        // SAFETY: the buffer is ours and its length is passed.
        let n = unsafe { libc::llistxattr(c.as_ptr(), names.as_mut_ptr().cast(), names.len()) };
        if n >= 0 {
            break n as usize;
        }
        let e = io::Error::last_os_error();
        match e.raw_os_error() {
            Some(libc::ERANGE) => names.resize(names.len() * 4, 0),
            Some(libc::ENOTSUP) => return Ok(Vec::new()),
            _ => return Err(e),
        }
    };
    let mut out = Vec::new();
    for name in names[..n].split(|b| *b == 0).filter(|s| !s.is_empty()) {
        let Ok(cname) = std::ffi::CString::new(name) else {
            continue;
        };
        let mut value = vec![0u8; 256];
        loop {
            // SAFETY: NUL-terminated names and a buffer we own with its length.
            let len = unsafe {
                libc::lgetxattr(
                    c.as_ptr(),
                    cname.as_ptr(),
                    value.as_mut_ptr().cast(),
                    value.len(),
                )
            };
            if len >= 0 {
                value.truncate(len as usize);
                break;
            }
            match io::Error::last_os_error().raw_os_error() {
                Some(libc::ERANGE) => value.resize(value.len() * 4 + 64 * 1024, 0),
                // Removed meanwhile: nothing to keep.
                _ => {
                    value.clear();
                    break;
                }
            }
        }
        out.push((String::from_utf8_lossy(name).into_owned(), value));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::TempDir;

    fn entries(tar: &Path) -> Vec<(String, EntryType)> {
        let mut a = tar::Archive::new(File::open(tar).expect("open"));
        a.entries()
            .expect("entries")
            .map(|e| {
                let e = e.expect("entry");
                (
                    e.path().expect("path").display().to_string(),
                    e.header().entry_type(),
                )
            })
            .collect()
    }

    #[test]
    fn writes_files_links_and_dirs_in_name_order() {
        let t = TempDir::new("layer-write");
        let d = t.0.join("l");
        fs::create_dir_all(d.join("b/c")).expect("mkdir");
        fs::write(d.join("b/c/f"), b"hello").expect("write");
        fs::hard_link(d.join("b/c/f"), d.join("a")).expect("link");
        std::os::unix::fs::symlink("b/c/f", d.join("s")).expect("symlink");
        let out = t.0.join("out.tar");
        let w = write_layer_tar(&d, &out).expect("tar");
        assert!(!w.empty);
        assert_eq!(w.unpacked, 5);
        let got = entries(&out);
        assert_eq!(
            got,
            vec![
                ("a".to_string(), EntryType::Regular),
                ("b/".to_string(), EntryType::Directory),
                ("b/c/".to_string(), EntryType::Directory),
                ("b/c/f".to_string(), EntryType::Link),
                ("s".to_string(), EntryType::Symlink),
            ]
        );
        // The same tree gives the same digest.
        let again = write_layer_tar(&d, &t.0.join("again.tar")).expect("tar");
        assert_eq!(again.digest, w.digest);
        assert_eq!(
            w.digest,
            crate::image::fsutil::sha256_hex(&fs::read(&out).expect("read"))
        );
    }

    #[test]
    fn an_empty_directory_is_an_empty_layer() {
        let t = TempDir::new("layer-write-empty");
        let d = t.0.join("l");
        fs::create_dir_all(&d).expect("mkdir");
        let w = write_layer_tar(&d, &t.0.join("o.tar")).expect("tar");
        assert!(w.empty);
    }

    #[test]
    fn whiteouts_and_opaque_dirs_round_trip_through_extraction() {
        if !crate::image::fsutil::is_root()
            && crate::testutil::skip("whiteouts_round_trip", "mknod of a whiteout needs root")
        {
            return;
        }
        let t = TempDir::new("layer-write-wh");
        let d = t.0.join("l");
        fs::create_dir_all(d.join("o")).expect("mkdir");
        let c = std::ffi::CString::new(d.join("gone").as_os_str().as_bytes()).expect("c");
        // SAFETY: a NUL-terminated path; a 0:0 character device is overlayfs's whiteout.
        assert_eq!(unsafe { libc::mknod(c.as_ptr(), libc::S_IFCHR, 0) }, 0);
        let co = std::ffi::CString::new(d.join("o").as_os_str().as_bytes()).expect("c");
        let name = std::ffi::CString::new(OPAQUE_XATTR).expect("c");
        // SAFETY: NUL-terminated strings and a one-byte value.
        let rc = unsafe { libc::setxattr(co.as_ptr(), name.as_ptr(), b"y".as_ptr().cast(), 1, 0) };
        assert_eq!(rc, 0);
        let out = t.0.join("o.tar");
        let w = write_layer_tar(&d, &out).expect("tar");
        let names: Vec<String> = entries(&out).into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, vec![".wh.gone", "o/", "o/.wh..wh..opq"]);
        // Extracted again by the import path, it is the same tree.
        let back = t.0.join("back");
        fs::create_dir_all(&back).expect("mkdir");
        let budget = crate::image::budget::Budget::new(u64::MAX, u64::MAX);
        let (diff, _) = crate::image::layer::extract_layer(&out, &back, &budget).expect("extract");
        assert_eq!(diff, w.digest);
        let md = fs::symlink_metadata(back.join("gone")).expect("whiteout");
        assert!(md.file_type().is_char_device() && md.rdev() == 0);
    }
}
