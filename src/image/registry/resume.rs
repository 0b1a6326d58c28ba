//! Downloading one layer so that an interruption costs only what was not yet received: the
//! bytes go to the store's `partial/<hex>` (locked while written), a dropped connection is
//! retried up to `RETRIES` times, each retry (and a later pull) asking with one HTTP Range
//! request for the rest. The whole file is verified against its digest and size before it
//! moves to the transfer's staging directory; a mismatch discards it.

use std::fs::{File, OpenOptions};
use std::io::{self, Seek, SeekFrom};
use std::os::fd::AsRawFd;
use std::path::Path;
use std::time::Duration;

use super::error::RegistryError;
use super::http::Body;
use super::progress::{Counted, Event, short};
use super::session::Session;
use super::stream::Growth;
use crate::image::ImageStore;
use crate::image::budget::{Budget, Charge, Metered};
use crate::image::error::{ImageError, io_err};
use crate::image::fsutil::HashReader;
use crate::image::oci::Descriptor;
use sha2::{Digest, Sha256};

/// Retries of a layer download after a dropped connection (each resumes where it stopped).
pub(crate) const RETRIES: u32 = 3;

/// Streams blob `d` (`hex`) to `dest`, resuming a partial download kept in the store.
#[allow(clippy::too_many_arguments)]
pub(crate) fn download(
    store: &ImageStore,
    s: &Session,
    repo: &str,
    d: &Descriptor,
    hex: &str,
    dest: &Path,
    budget: &Budget,
    progress: &(dyn Fn(Event) + Sync),
    growth: &Growth,
) -> Result<(), RegistryError> {
    let dir = store.partial_dir()?;
    let shared = dir.join(hex);
    let (mut file, part) = match open_locked(&shared)? {
        Some(f) => (f, shared),
        // Another pull is downloading this blob: download a private copy, not resumable.
        None => {
            let p = dest.with_extension("part");
            let f = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(true)
                .open(&p)
                .map_err(io_err(format!("creating {}", p.display())))?;
            (f, p)
        }
    };
    let layer = short(&d.digest);
    growth.opened(
        &file,
        file.metadata()
            .map_err(io_err(format!("reading {}", part.display())))?
            .len(),
    );
    let mut round = 0;
    // The digest of the file, when the last request hashed it as it wrote.
    let mut hashed: Option<(String, u64)> = None;
    loop {
        let have = file
            .metadata()
            .map_err(io_err(format!("reading {}", part.display())))?
            .len();
        if d.size != 0 && have >= d.size {
            break;
        }
        match fetch_rest(s, repo, d, &mut file, have, budget, progress, layer, growth) {
            Ok(h) => {
                hashed = Some(h);
                break;
            }
            // Not worth keeping (a full disk, the budget, a refusal): give the space back.
            Err(Fetch::Fatal(e)) => {
                drop(file);
                let _ = std::fs::remove_file(&part);
                return Err(e);
            }
            Err(Fetch::Dropped(e)) if round < RETRIES => {
                round += 1;
                let now = file.metadata().map(|m| m.len()).unwrap_or(0);
                progress(Event::Step(&format!(
                    "{layer}: {e}; resuming at {} (retry {round} of {RETRIES})",
                    crate::image::budget::human(now)
                )));
                std::thread::sleep(Duration::from_millis(200 * u64::from(round)));
            }
            Err(Fetch::Dropped(e)) => {
                // Kept for the next pull to resume, unless nothing came.
                if file.metadata().is_ok_and(|m| m.len() == 0) {
                    let _ = std::fs::remove_file(&part);
                }
                return Err(e);
            }
        }
    }
    let (actual, size) = match hashed {
        Some(h) => h,
        None => hash_file(&mut file, &part)?,
    };
    verify(s, d, hex, &actual, size, &part)?;
    // Not synced here: the commit records the blob as not yet on disk before index.json
    // names it (`durable.rs`), and a partial file cut short by a crash fails its digest check.
    std::fs::rename(&part, dest).map_err(io_err(format!(
        "moving {} to {}",
        part.display(),
        dest.display()
    )))?;
    Ok(())
}

/// A failure worth retrying (the connection) or not (a status, the disk, the budget).
enum Fetch {
    Dropped(RegistryError),
    Fatal(RegistryError),
}

/// One request for the bytes after `have`, appended to `file`.
#[allow(clippy::too_many_arguments)]
fn fetch_rest(
    s: &Session,
    repo: &str,
    d: &Descriptor,
    file: &mut File,
    have: u64,
    budget: &Budget,
    progress: &(dyn Fn(Event) + Sync),
    layer: &str,
    growth: &Growth,
) -> Result<(String, u64), Fetch> {
    let headers = if have > 0 {
        vec![("Range", format!("bytes={have}-"))]
    } else {
        vec![]
    };
    let resp = s
        .request(
            "GET",
            &format!("/v2/{repo}/blobs/{}", d.digest),
            &headers,
            &Body::Empty,
        )
        .map_err(|e| match e {
            RegistryError::Unreachable { .. } => Fetch::Dropped(e),
            e => Fetch::Fatal(e),
        })?;
    let start = match resp.status {
        206 if have > 0 => have,
        200 => 0,
        // The registry refused the range (416, or it ignores it and errs): start over.
        416 => {
            file.set_len(0).map_err(|e| Fetch::Fatal(io_fail(e)))?;
            growth.truncated(0);
            return Err(Fetch::Dropped(s.protocol(format!(
                "layer {}: the registry refused to resume; starting over",
                d.digest
            ))));
        }
        _ => {
            return Err(Fetch::Fatal(
                s.unexpected(&format!("layer {}", d.digest), resp),
            ));
        }
    };
    file.set_len(start).map_err(|e| Fetch::Fatal(io_fail(e)))?;
    growth.truncated(start);
    file.seek(SeekFrom::Start(start))
        .map_err(|e| Fetch::Fatal(io_fail(e)))?;
    let mut body = Metered::new(
        Counted::new(resp.reader(), layer, start, d.size, progress),
        budget,
        Charge::Written,
    );
    // The digest is taken as the bytes are written: the part kept from before first.
    let mut hasher = Sha256::new();
    if start > 0 {
        let mut buf = vec![0u8; 1 << 20];
        let mut at = 0u64;
        while at < start {
            let want = buf.len().min((start - at) as usize);
            let n = std::os::unix::fs::FileExt::read_at(&*file, &mut buf[..want], at)
                .map_err(|e| Fetch::Fatal(io_fail(e)))?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            at += n as u64;
        }
    }
    let mut out = Told {
        file,
        growth,
        hasher: &mut hasher,
        count: start,
    };
    match copy_big(&mut body, &mut out) {
        Ok(_) => {
            let count = out.count;
            Ok((hex::encode(hasher.finalize()), count))
        }
        Err(_) if budget.exceeded() => {
            Err(Fetch::Fatal(RegistryError::Image(budget.error(&d.digest))))
        }
        // Writing failed (disk full...): the store's error, not the registry's.
        Err(e) if e.raw_os_error().is_some() && is_write_error(&e) => Err(Fetch::Fatal(io_fail(e))),
        Err(e) => Err(Fetch::Dropped(
            s.protocol(format!("downloading layer {}: {e}", d.digest)),
        )),
    }
}

/// The download's file, hashing what is written and telling the reader of each write
/// (`stream.rs`).
struct Told<'a> {
    file: &'a mut File,
    growth: &'a Growth,
    hasher: &'a mut Sha256,
    count: u64,
}

impl io::Write for Told<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.file.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        self.growth.grew(n as u64);
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

/// `io::copy` with a 256 KiB buffer: a layer of 100 MB in 400 writes, not 12,000.
fn copy_big(r: &mut impl io::Read, w: &mut impl io::Write) -> io::Result<u64> {
    let mut buf = vec![0u8; 256 * 1024];
    let mut total = 0u64;
    loop {
        let n = match r.read(&mut buf) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        w.write_all(&buf[..n])?;
        total += n as u64;
    }
}

fn is_write_error(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::ENOSPC) | Some(libc::EDQUOT) | Some(libc::EROFS) | Some(libc::EIO)
    )
}

fn io_fail(e: io::Error) -> RegistryError {
    RegistryError::Image(io_err("writing a layer download")(e))
}

/// Hashes the whole file (a download complete before this pull began).
fn hash_file(file: &mut File, part: &Path) -> Result<(String, u64), RegistryError> {
    file.seek(SeekFrom::Start(0))
        .map_err(io_err(format!("reading {}", part.display())))?;
    let mut hashed = HashReader::new(&mut *file);
    io::copy(&mut hashed, &mut io::sink())
        .map_err(io_err(format!("reading {}", part.display())))?;
    Ok(hashed
        .finish()
        .map_err(io_err(format!("reading {}", part.display())))?)
}

/// A wrong digest or size discards the file.
fn verify(
    s: &Session,
    d: &Descriptor,
    hex: &str,
    actual: &str,
    size: u64,
    part: &Path,
) -> Result<(), RegistryError> {
    if actual != hex {
        let _ = std::fs::remove_file(part);
        return Err(ImageError::DigestMismatch {
            what: format!("layer {} from {}", d.digest, s.name),
            expected: d.digest.clone(),
            actual: format!("sha256:{actual}"),
        }
        .into());
    }
    if d.size != 0 && size != d.size {
        let _ = std::fs::remove_file(part);
        return Err(s.protocol(format!(
            "layer {} is {size} bytes, its descriptor says {}",
            d.digest, d.size
        )));
    }
    Ok(())
}

/// Opens `path` for appending under an exclusive lock; `None` if another pull holds it.
fn open_locked(path: &Path) -> Result<Option<File>, RegistryError> {
    let f = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(io_err(format!("opening {}", path.display())))?;
    // SAFETY: flock on a descriptor we own; the lock goes with it when it is closed.
    let r = unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if r == 0 {
        return Ok(Some(f));
    }
    Ok(None)
}
