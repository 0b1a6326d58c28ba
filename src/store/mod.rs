//! Crash-consistent daemon state in SQLite: projects (their last applied stack) and containers.
//!
//! Rows hold a JSON document plus the columns queries filter on; every write is one
//! transaction, so a daemon killed at any point restarts from a consistent picture.

mod checkpoint;
pub mod health_log;
mod schema;
pub mod sources;
#[cfg(test)]
mod upgrade_tests;

use crate::model::{Service, Stack};
use crate::runtime::config::ContainerConfig;
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("state database {path}: {source}")]
    Open {
        path: String,
        source: rusqlite::Error,
    },
    #[error("state database {path}: making it private to root: {source}")]
    Private {
        path: String,
        source: std::io::Error,
    },
    #[error("state database: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error("state database holds a record it cannot read: {0}")]
    Decode(#[from] serde_json::Error),
    #[error(
        "state database {path} was written by a newer rstack (schema {found}, this one knows up to {known}): upgrade rstack, or run the rstack that wrote it; the file was left unchanged"
    )]
    NewerSchema {
        path: String,
        found: i64,
        known: i64,
    },
}

/// Where a container is in its life, as `ps` shows it.
/// The database and its WAL and shared-memory files hold every service's environment, so
/// secrets: mode 0600. SQLite gives the WAL and shm files the database file's mode, so the
/// database is created 0600 before SQLite opens it; existing files are fixed.
fn private_files(db: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(db)?;
    for suffix in ["", "-wal", "-shm"] {
        let mut p = db.as_os_str().to_owned();
        p.push(suffix);
        match std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
    }
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    Created,
    Running,
    Restarting,
    Exited,
    Dead,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Created => "created",
            State::Running => "running",
            State::Restarting => "restarting",
            State::Exited => "exited",
            State::Dead => "dead",
        }
    }
}

/// Everything the daemon knows of one container; persisted on every change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContainerRecord {
    pub id: String,
    pub name: String,
    pub project: String,
    pub service: String,
    pub one_off: bool,
    pub config_hash: String,
    pub image: String,
    pub image_id: String,
    pub service_def: Service,
    pub config: ContainerConfig,
    pub state: State,
    pub pid: Option<i32>,
    pub shim_pid: Option<i32>,
    pub exit_code: Option<i32>,
    pub oom_killed: bool,
    pub restarts: u32,
    pub started_at: Option<u64>,
    pub finished_at: Option<u64>,
    pub health: Option<String>,
    /// Stopped by `stop`/`down`/daemon shutdown: restart policies other than `always` at
    /// boot leave it alone.
    pub stopped_by_user: bool,
    pub error: Option<String>,
    /// Delay before the pending restart, while `Restarting`.
    #[serde(default)]
    pub restart_delay_ms: Option<u64>,
    /// A one-off run with `--rm`: removed once it has exited, even if the run's client (or
    /// the daemon) went away before that.
    #[serde(default)]
    pub auto_remove: bool,
    /// The last healthcheck results, oldest first (Docker's State.Health.Log).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub health_log: Vec<health_log::ProbeResult>,
    /// Failed probes in a row that counted (Docker's State.Health.FailingStreak).
    #[serde(default, skip_serializing_if = "health_log::is_zero")]
    pub failing_streak: u32,
}

impl ContainerRecord {
    /// A `run --rm` one-off: saved only while it runs (see `Engine::create_and_start`).
    pub fn is_ephemeral(&self) -> bool {
        self.one_off && self.auto_remove
    }
}

pub struct Store {
    conn: Mutex<Connection>,
    /// For a database on disk: checkpoints off the writer's thread (see `checkpoint`).
    _checkpointer: Option<checkpoint::Checkpointer>,
}

/// How often the WAL is checkpointed into the database.
const CHECKPOINT_EVERY: Duration = Duration::from_secs(2);

impl Store {
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        Self::open_with(path, CHECKPOINT_EVERY)
    }

    fn open_with(path: &Path, checkpoint_every: Duration) -> Result<Store, StoreError> {
        let open_err = |source| StoreError::Open {
            path: path.display().to_string(),
            source,
        };
        private_files(path).map_err(|e| StoreError::Private {
            path: path.display().to_string(),
            source: e,
        })?;
        let conn = Connection::open(path).map_err(open_err)?;
        let mut store = Self::init(conn, &path.display().to_string())?;
        store.conn().pragma_update(None, "wal_autocheckpoint", 0)?;
        store._checkpointer =
            Some(checkpoint::Checkpointer::start(path, checkpoint_every).map_err(open_err)?);
        Ok(store)
    }

    pub fn in_memory() -> Result<Store, StoreError> {
        Self::init(Connection::open_in_memory()?, ":memory:")
    }

    fn init(mut conn: Connection, path: &str) -> Result<Store, StoreError> {
        // First, and before any write: a newer rstack's database is refused untouched.
        let version = schema::check_version(&conn, path)?;
        // WAL + NORMAL: durable across a daemon crash (not a power cut mid-commit), and a
        // commit costs tens of microseconds instead of an fsync on the start path.
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        schema::migrate(&mut conn, version)?;
        Ok(Store {
            conn: Mutex::new(conn),
            _checkpointer: None,
        })
    }

    /// Whether the database at `path` holds no schema (missing, empty, or never written),
    /// read without creating or changing it. With containers on disk, that is a lost
    /// database (truncated after a crash, or replaced), not a fresh start.
    pub fn has_no_schema(path: &Path) -> Result<bool, StoreError> {
        if !path.exists() {
            return Ok(true);
        }
        // Read-write without create: a read-only open of a WAL database can fail for want of
        // its shm file, and reading never writes a schema.
        let conn = Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE)
            .map_err(|source| StoreError::Open {
            path: path.display().to_string(),
            source,
        })?;
        let tables: i64 = conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))?;
        Ok(tables == 0)
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave SQLite inconsistent (transactions),
        // so a poisoned lock is still safe to use.
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn put_project(&self, stack: &Stack, now_ms: u64) -> Result<(), StoreError> {
        let doc = serde_json::to_string(stack)?;
        self.conn().execute(
            "INSERT INTO projects(name, stack, updated_ms) VALUES (?1, ?2, ?3)
             ON CONFLICT(name) DO UPDATE SET stack = excluded.stack, updated_ms = excluded.updated_ms",
            params![stack.name, doc, now_ms as i64],
        )?;
        Ok(())
    }

    pub fn project(&self, name: &str) -> Result<Option<Stack>, StoreError> {
        let doc: Option<String> = self
            .conn()
            .query_row("SELECT stack FROM projects WHERE name = ?1", [name], |r| {
                r.get(0)
            })
            .optional()?;
        Ok(match doc {
            Some(d) => Some(serde_json::from_str(&d)?),
            None => None,
        })
    }

    pub fn projects(&self) -> Result<Vec<Stack>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare("SELECT stack FROM projects ORDER BY name")?;
        let docs: Vec<String> = stmt
            .query_map([], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        docs.iter()
            .map(|d| serde_json::from_str(d).map_err(StoreError::from))
            .collect()
    }

    pub fn delete_project(&self, name: &str) -> Result<(), StoreError> {
        self.conn()
            .execute("DELETE FROM projects WHERE name = ?1", [name])?;
        Ok(())
    }

    pub fn put_container(&self, rec: &ContainerRecord) -> Result<(), StoreError> {
        let doc = serde_json::to_string(rec)?;
        self.conn().execute(
            "INSERT INTO containers(id, name, project, service, doc) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT(id) DO UPDATE SET doc = excluded.doc",
            params![rec.id, rec.name, rec.project, rec.service, doc],
        )?;
        Ok(())
    }

    pub fn delete_container(&self, id: &str) -> Result<(), StoreError> {
        self.conn()
            .execute("DELETE FROM containers WHERE id = ?1", [id])?;
        Ok(())
    }

    /// Containers of one project, or of all projects with `None`, ordered by name.
    pub fn containers(&self, project: Option<&str>) -> Result<Vec<ContainerRecord>, StoreError> {
        let conn = self.conn();
        let docs: Vec<String> = match project {
            Some(p) => conn
                .prepare("SELECT doc FROM containers WHERE project = ?1 ORDER BY name")?
                .query_map([p], |r| r.get(0))?
                .collect::<Result<_, _>>()?,
            None => conn
                .prepare("SELECT doc FROM containers ORDER BY name")?
                .query_map([], |r| r.get(0))?
                .collect::<Result<_, _>>()?,
        };
        docs.iter()
            .map(|d| serde_json::from_str(d).map_err(StoreError::from))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    use crate::testutil::TempDir;

    #[test]
    fn the_wal_is_checkpointed_off_the_writer() {
        let dir = TempDir::new("store-checkpoint");
        let db = dir.0.join("state.db");
        let store = Store::open_with(&db, Duration::from_millis(20)).expect("open");
        let size = || std::fs::metadata(&db).map(|m| m.len()).unwrap_or(0);
        let before = size();
        {
            let conn = store.conn();
            conn.execute_batch("CREATE TABLE filler (b BLOB)")
                .expect("table");
            for _ in 0..100 {
                conn.execute("INSERT INTO filler VALUES (zeroblob(4000))", [])
                    .expect("insert");
            }
        }
        // The writer never checkpoints: only the checkpointer moves pages into the file.
        let deadline = Instant::now() + Duration::from_secs(5);
        while size() < before + 200_000 {
            assert!(Instant::now() < deadline, "the WAL was never checkpointed");
            std::thread::sleep(Duration::from_millis(20));
        }
        drop(store);
    }
}
