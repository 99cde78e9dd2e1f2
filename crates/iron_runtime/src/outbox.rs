//! The lease client's durable queue of usage reports: one SQLite file.
//!
//! A report is written here before anything tries to send it and deleted only
//! after the Control Panel acknowledged it, so a server outage or a runtime
//! restart loses nothing; the server dedupes on `request_id`, so a report sent
//! twice (acknowledgement lost) counts once.

use std::path::Path;
use std::sync::Mutex;

use rusqlite::{params, Connection};
use serde_json::Value;

/// One queued report.
#[derive(Debug, Clone)]
pub struct Pending {
    /// Row id (delivery order).
    pub seq: i64,
    /// The lease the call was made under.
    pub lease_id: String,
    /// The report body (`request_id`, model, tokens, `cost_usd`, ...).
    pub report: Value,
}

/// A SQLite-backed FIFO of reports.
#[derive(Debug)]
pub struct Outbox {
    conn: Mutex<Connection>,
}

fn err(e: &rusqlite::Error) -> String {
    format!("outbox: {e}")
}

impl Outbox {
    /// Opens (creating if needed) the outbox at `path`; `":memory:"` keeps it in memory.
    ///
    /// # Errors
    /// The file cannot be opened or is not an outbox.
    pub fn open(path: &Path) -> Result<Self, String> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| format!("outbox directory {}: {e}", dir.display()))?;
        }
        let conn = Connection::open(path).map_err(|e| format!("outbox {}: {e}", path.display()))?;
        conn.execute_batch(
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=5000;
             CREATE TABLE IF NOT EXISTS reports (
                 seq INTEGER PRIMARY KEY AUTOINCREMENT,
                 request_id TEXT NOT NULL UNIQUE,
                 lease_id TEXT NOT NULL,
                 body TEXT NOT NULL
             );",
        )
        .map_err(|e| err(&e))?;
        Ok(Outbox {
            conn: Mutex::new(conn),
        })
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Queues `report` (which must carry a string `request_id`) under `lease_id`.
    ///
    /// # Errors
    /// The report has no `request_id`, or the write failed.
    pub fn push(&self, lease_id: &str, report: &Value) -> Result<(), String> {
        let id = report
            .get("request_id")
            .and_then(Value::as_str)
            .ok_or("outbox: report without request_id")?;
        self.conn()
            .execute(
                "INSERT OR IGNORE INTO reports (request_id, lease_id, body) VALUES (?1, ?2, ?3)",
                params![id, lease_id, report.to_string()],
            )
            .map_err(|e| err(&e))?;
        Ok(())
    }

    /// Up to `limit` oldest reports, all of the same lease (the oldest one's).
    ///
    /// # Errors
    /// The read failed.
    pub fn next_batch(&self, limit: usize) -> Result<Vec<Pending>, String> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached(
                "SELECT seq, lease_id, body FROM reports
                 WHERE lease_id = (SELECT lease_id FROM reports ORDER BY seq LIMIT 1)
                 ORDER BY seq LIMIT ?1",
            )
            .map_err(|e| err(&e))?;
        let rows = stmt
            .query_map(params![i64::try_from(limit).unwrap_or(i64::MAX)], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                ))
            })
            .map_err(|e| err(&e))?;
        let mut out = Vec::new();
        for row in rows {
            let (seq, lease_id, body) = row.map_err(|e| err(&e))?;
            let report =
                serde_json::from_str(&body).map_err(|e| format!("outbox row {seq}: {e}"))?;
            out.push(Pending {
                seq,
                lease_id,
                report,
            });
        }
        Ok(out)
    }

    /// Deletes acknowledged reports.
    ///
    /// # Errors
    /// The delete failed.
    pub fn remove(&self, seqs: &[i64]) -> Result<(), String> {
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(|e| err(&e))?;
        {
            let mut stmt = tx
                .prepare_cached("DELETE FROM reports WHERE seq = ?1")
                .map_err(|e| err(&e))?;
            for seq in seqs {
                stmt.execute(params![seq]).map_err(|e| err(&e))?;
            }
        }
        tx.commit().map_err(|e| err(&e))
    }

    /// Reports still waiting.
    #[must_use]
    pub fn len(&self) -> usize {
        self.conn()
            .query_row("SELECT COUNT(*) FROM reports", [], |r| r.get::<_, i64>(0))
            .map_or(0, |n| usize::try_from(n).unwrap_or(0))
    }

    /// True when nothing waits.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn batches_are_per_lease_in_order_and_survive_reopening() {
        let dir = std::env::temp_dir().join(format!("ic-outbox-{}", std::process::id()));
        let path = dir.join("o.db");
        let _ = std::fs::remove_file(&path);
        {
            let o = Outbox::open(&path).expect("outbox");
            o.push("l1", &json!({"request_id": "a"})).expect("outbox");
            o.push("l1", &json!({"request_id": "b"})).expect("outbox");
            o.push("l2", &json!({"request_id": "c"})).expect("outbox");
            o.push("l1", &json!({"request_id": "a"})).expect("outbox"); // same id: once
            assert_eq!(o.len(), 3);
            assert!(o.push("l1", &json!({})).is_err());
        }
        let o = Outbox::open(&path).expect("outbox");
        let first = o.next_batch(10).expect("outbox");
        assert_eq!(
            first
                .iter()
                .map(|p| p.report["request_id"].as_str().expect("outbox"))
                .collect::<Vec<_>>(),
            ["a", "b"]
        );
        o.remove(&first.iter().map(|p| p.seq).collect::<Vec<_>>())
            .expect("outbox");
        let second = o.next_batch(10).expect("outbox");
        assert_eq!(second.len(), 1);
        assert_eq!(second[0].lease_id, "l2");
        o.remove(&[second[0].seq]).expect("outbox");
        assert!(o.is_empty());
        let _ = std::fs::remove_dir_all(dir);
    }
}
