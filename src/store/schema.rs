//! The state database's schema version (`PRAGMA user_version`) and its ordered migrations.
//!
//! `MIGRATIONS[i]` takes a database from version `i` to `i + 1`; each step runs in one
//! transaction together with its version bump, so a daemon killed mid-upgrade leaves the
//! database at one version or the next, never between. A table the next features need is a
//! new step at the end: a step that was released is never edited.
//!
//! Releases before versioning never set `user_version`, so version 0 means either an empty
//! database or one with the first schema. Step 1 is that schema written with
//! `IF NOT EXISTS` (as those releases ran it at every open): on an empty database it creates
//! the tables, on an old one it changes nothing, and both end at version 1.
//!
//! A version above the last step was written by a newer rstack: the database is refused
//! without a write (no migration, no journal-mode change, no checkpoint at close), so that
//! rstack can still read it.

use super::StoreError;
use rusqlite::Connection;
use rusqlite::config::DbConfig;

/// The schema steps, in order. Never edit a released step; append one.
const MIGRATIONS: &[&str] = &[
    // 1: projects (their last applied stack) and containers (one JSON record each).
    "CREATE TABLE IF NOT EXISTS projects (
        name TEXT PRIMARY KEY, stack TEXT NOT NULL, updated_ms INTEGER NOT NULL);
     CREATE TABLE IF NOT EXISTS containers (
        id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, project TEXT NOT NULL,
        service TEXT NOT NULL, doc TEXT NOT NULL);
     CREATE INDEX IF NOT EXISTS containers_project ON containers(project);",
    // 2: sync sources (spec and status as one JSON document) and the revisions each applied,
    // with the stack applied, so a rollback needs nothing from the source. `IF NOT EXISTS`:
    // a database whose version was set back by hand (as the upgrade tests do) still opens.
    "CREATE TABLE IF NOT EXISTS sources (name TEXT PRIMARY KEY, doc TEXT NOT NULL);
     CREATE TABLE IF NOT EXISTS source_history (
        name TEXT NOT NULL, seq INTEGER NOT NULL, revision TEXT NOT NULL,
        applied_ms INTEGER NOT NULL, stack TEXT NOT NULL, plan TEXT NOT NULL,
        PRIMARY KEY (name, seq));",
];

/// The schema version this build writes.
pub(super) const LATEST: i64 = MIGRATIONS.len() as i64;

/// Refuses a database of a newer schema; reads only. Checkpoint-on-close stays off until
/// the version is known to be ours, so even a refused WAL database is not written.
pub(super) fn check_version(conn: &Connection, path: &str) -> Result<i64, StoreError> {
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, true)?;
    let found: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if !(0..=LATEST).contains(&found) {
        return Err(StoreError::NewerSchema {
            path: path.to_string(),
            found,
            known: LATEST,
        });
    }
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, false)?;
    Ok(found)
}

/// Runs the steps after `from`, each in a transaction with its version bump.
pub(super) fn migrate(conn: &mut Connection, from: i64) -> Result<(), StoreError> {
    for (done, step) in MIGRATIONS.iter().enumerate().skip(from as usize) {
        let tx = conn.transaction()?;
        tx.execute_batch(step)?;
        tx.pragma_update(None, "user_version", done as i64 + 1)?;
        tx.commit()?;
    }
    Ok(())
}
