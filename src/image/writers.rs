//! The small files of a layer, written on worker threads. Creating a file is most of what
//! an extraction costs (the filesystem's inode allocation), and one thread creating them
//! one after another leaves the machine's other CPUs idle; the extractor reads each small
//! file's content from the tar and hands it here, then goes on with the next entry.
//!
//! Order that matters is kept by the extractor (`layer.rs`): it waits for every file handed
//! out (`barrier`) before an entry that could depend on one (a hard link, a whiteout, a
//! device, a path or parent already handed out), and before it applies the directories'
//! metadata at the end. Workers only create new files in directories that already exist.

use std::fs::{self, FileTimes, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::PathBuf;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Condvar, Mutex};
use std::time::SystemTime;

use super::fsutil::lock;

/// One file to write.
pub(crate) struct Job {
    pub full: PathBuf,
    pub data: Vec<u8>,
    /// chown to this, when not root's own.
    pub owner: Option<(u32, u32)>,
    pub mode: u32,
    pub mtime: SystemTime,
    pub xattrs: Vec<(String, Vec<u8>)>,
}

/// A worker's failure: what it was doing, the path, the error.
pub(crate) type Failure = (&'static str, PathBuf, io::Error);

#[derive(Default)]
struct State {
    in_flight: usize,
    failure: Option<Failure>,
}

/// The workers' queue and how far they got.
pub(crate) struct Writers {
    tx: SyncSender<Job>,
    state: Arc<(Mutex<State>, Condvar)>,
}

impl Writers {
    /// Starts `n` workers in `scope`; they end when the `Writers` is dropped (those started
    /// end too when a later one cannot be).
    pub(crate) fn start<'scope, 'env>(
        scope: &'scope std::thread::Scope<'scope, 'env>,
        n: usize,
    ) -> io::Result<Writers> {
        let (tx, rx) = sync_channel::<Job>(64);
        let rx = Arc::new(Mutex::new(rx));
        let state: Arc<(Mutex<State>, Condvar)> = Arc::default();
        for _ in 0..n {
            let (rx, state) = (rx.clone(), state.clone());
            super::fsutil::spawn_named(scope, "layer-write", move || work(&rx, &state))?;
        }
        Ok(Writers { tx, state })
    }

    /// Hands a file to the workers.
    pub(crate) fn submit(&self, job: Job) -> Result<(), Failure> {
        let full = job.full.clone();
        lock(&self.state.0).in_flight += 1;
        self.tx.send(job).map_err(|_| {
            lock(&self.state.0).in_flight -= 1;
            ("writing", full, io::Error::other("the writers stopped"))
        })
    }

    /// Waits until every file handed out is written; the first failure, if any.
    pub(crate) fn barrier(&self) -> Result<(), Failure> {
        let (m, cv) = &*self.state;
        let mut st = lock(m);
        while st.in_flight > 0 {
            st = cv.wait(st).unwrap_or_else(|p| p.into_inner());
        }
        match st.failure.take() {
            Some(f) => Err(f),
            None => Ok(()),
        }
    }
}

fn work(rx: &Mutex<Receiver<Job>>, state: &(Mutex<State>, Condvar)) {
    super::fsutil::behind_the_inflate();
    loop {
        let job = match lock(rx).recv() {
            Ok(j) => j,
            Err(_) => return,
        };
        let res = write(&job);
        let (m, cv) = state;
        let mut st = lock(m);
        if let Err(f) = res
            && st.failure.is_none()
        {
            st.failure = Some(f);
        }
        st.in_flight -= 1;
        if st.in_flight == 0 {
            cv.notify_all();
        }
    }
}

fn write(j: &Job) -> Result<(), Failure> {
    let fail = |what: &'static str| move |e: io::Error| (what, j.full.clone(), e);
    // With xattrs to set, the file stays writable by its owner until they are (a non-root
    // extraction could not set them on a read-only file).
    let (create, chmod) = match j.xattrs.is_empty() {
        true => super::fsutil::create_mode(j.mode),
        false => (0o600, true),
    };
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(create)
        .custom_flags(libc::O_NOFOLLOW)
        .open(&j.full)
        .map_err(fail("creating"))?;
    f.write_all(&j.data).map_err(fail("writing"))?;
    if let Some((u, g)) = j.owner {
        std::os::unix::fs::fchown(&f, Some(u), Some(g)).map_err(fail("chown"))?;
    }
    for (name, value) in &j.xattrs {
        match super::layer::set_xattr(&j.full, name, value) {
            Ok(()) => {}
            // Best effort, as in `layer.rs` (and docker).
            Err(e)
                if matches!(
                    e.raw_os_error(),
                    Some(libc::ENOTSUP) | Some(libc::EPERM) | Some(libc::EACCES)
                ) => {}
            Err(e) => return Err(("setting xattr on", j.full.clone(), e)),
        }
    }
    // A chown clears setuid bits: those (and modes the umask cut) are set after it.
    if chmod || j.owner.is_some() {
        f.set_permissions(fs::Permissions::from_mode(j.mode))
            .map_err(fail("chmod"))?;
    }
    f.set_times(FileTimes::new().set_accessed(j.mtime).set_modified(j.mtime))
        .map_err(fail("setting times of"))
}
