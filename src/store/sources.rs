//! Sync sources in the store: one JSON document per source (its spec and status, which the
//! daemon's sync controller defines) and the last applied revisions of each.

use super::{Store, StoreError};
use crate::model::Stack;
use rusqlite::params;
use serde::{Deserialize, Serialize};

/// How many applied revisions a source keeps.
pub const HISTORY_KEEP: i64 = 10;

/// One applied revision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryEntry {
    pub seq: i64,
    pub revision: String,
    pub applied_ms: u64,
    pub stack: Stack,
    /// What the apply did, as text (one line per action).
    pub plan: String,
}

impl Store {
    pub fn put_source(&self, name: &str, doc: &str) -> Result<(), StoreError> {
        self.conn().execute(
            "INSERT INTO sources(name, doc) VALUES (?1, ?2)
             ON CONFLICT(name) DO UPDATE SET doc = excluded.doc",
            params![name, doc],
        )?;
        Ok(())
    }

    /// Every source's document, by name.
    pub fn sources(&self) -> Result<Vec<(String, String)>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare("SELECT name, doc FROM sources ORDER BY name")?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?;
        Ok(rows)
    }

    /// Removes a source and its history in one transaction.
    pub fn delete_source(&self, name: &str) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        tx.execute("DELETE FROM sources WHERE name = ?1", [name])?;
        tx.execute("DELETE FROM source_history WHERE name = ?1", [name])?;
        tx.commit()?;
        Ok(())
    }

    /// Appends an applied revision and keeps only the last [`HISTORY_KEEP`].
    pub fn push_history(
        &self,
        name: &str,
        revision: &str,
        applied_ms: u64,
        stack: &Stack,
        plan: &str,
    ) -> Result<i64, StoreError> {
        let doc = serde_json::to_string(stack)?;
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let seq: i64 = tx.query_row(
            "SELECT COALESCE(MAX(seq), 0) + 1 FROM source_history WHERE name = ?1",
            [name],
            |r| r.get(0),
        )?;
        tx.execute(
            "INSERT INTO source_history(name, seq, revision, applied_ms, stack, plan)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![name, seq, revision, applied_ms as i64, doc, plan],
        )?;
        tx.execute(
            "DELETE FROM source_history WHERE name = ?1 AND seq <= ?2",
            params![name, seq - HISTORY_KEEP],
        )?;
        tx.commit()?;
        Ok(seq)
    }

    /// A source's applied revisions, newest first.
    pub fn history(&self, name: &str) -> Result<Vec<HistoryEntry>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT seq, revision, applied_ms, stack, plan FROM source_history
             WHERE name = ?1 ORDER BY seq DESC",
        )?;
        let rows: Vec<(i64, String, i64, String, String)> = stmt
            .query_map([name], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
            })?
            .collect::<Result<_, _>>()?;
        rows.into_iter()
            .map(|(seq, revision, ms, stack, plan)| {
                Ok(HistoryEntry {
                    seq,
                    revision,
                    applied_ms: ms as u64,
                    stack: serde_json::from_str(&stack)?,
                    plan,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_keeps_the_last_ten_newest_first() {
        let s = Store::in_memory().unwrap();
        let stack = Stack::default();
        for i in 0..13 {
            s.push_history("a", &format!("r{i}"), i, &stack, "")
                .unwrap();
        }
        s.push_history("b", "x", 0, &stack, "").unwrap();
        let h = s.history("a").unwrap();
        assert_eq!(h.len(), 10);
        assert_eq!(h[0].revision, "r12");
        assert_eq!(h[9].revision, "r3");
        s.put_source("a", "{}").unwrap();
        s.delete_source("a").unwrap();
        assert!(s.history("a").unwrap().is_empty());
        assert_eq!(s.history("b").unwrap().len(), 1);
        assert!(s.sources().unwrap().is_empty());
    }
}
