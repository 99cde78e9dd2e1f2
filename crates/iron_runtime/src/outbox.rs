//! The lease client's durable queue of usage reports: one SQLite file.
//!
//! A report is written here before anything tries to send it and deleted only
//! after the Control Panel acknowledged it, so a server outage or a runtime
//! restart loses nothing; the server dedupes on `request_id`, so a report sent
//! twice (acknowledgement lost) counts once.
//!
//! When the file cannot be written (disk full, I/O error), a report is not
//! dropped: it is kept in memory and sent from there, [`Outbox::push`] says so
//! with an error, and [`Outbox::error`] stays set until the reports kept in
//! memory could be written to the file, so that the lease client refuses new
//! calls meanwhile rather than make calls it cannot record durably.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rusqlite::{params, Connection};
use serde_json::Value;

/// One queued report.
#[derive(Debug, Clone)]
pub struct Pending {
    /// Row id (delivery order); negative for a report kept in memory.
    pub seq: i64,
    /// The lease the call was made under.
    pub lease_id: String,
    /// The report body (`request_id`, model, tokens, `cost_usd`, ...).
    pub report: Value,
}

#[derive(Debug)]
struct State {
    conn: Connection,
    /// Reports the file would not take, oldest first.
    spill: Vec<Pending>,
    last_spill_seq: i64,
    /// Why the file cannot be written, while reports wait in memory.
    broken: Option<String>,
}

/// A SQLite-backed FIFO of reports.
#[derive(Debug)]
pub struct Outbox {
    path: PathBuf,
    state: Mutex<State>,
}

fn err(e: &rusqlite::Error) -> String {
    format!("outbox: {e}")
}

const INSERT: &str =
    "INSERT OR IGNORE INTO reports (request_id, lease_id, body) VALUES (?1, ?2, ?3)";

fn request_id(report: &Value) -> Result<&str, String> {
    report
        .get("request_id")
        .and_then(Value::as_str)
        .ok_or_else(|| "outbox: report without request_id".to_string())
}

impl State {
    /// While the file is broken: writes the reports kept in memory to it (all or
    /// none), or, with none, tries a write; true when the file takes writes again.
    fn repair(&mut self, path: &Path) -> bool {
        if self.broken.is_none() {
            return true;
        }
        let written = (|| -> Result<(), rusqlite::Error> {
            let tx = self.conn.transaction()?;
            {
                let mut stmt = tx.prepare_cached(INSERT)?;
                for p in &self.spill {
                    let id = p.report["request_id"].as_str().unwrap_or_default();
                    stmt.execute(params![id, p.lease_id, p.report.to_string()])?;
                }
                if self.spill.is_empty() {
                    stmt.execute(params!["", "", ""])?;
                    tx.execute("DELETE FROM reports WHERE request_id = ''", [])?;
                }
            }
            tx.commit()
        })();
        match written {
            Ok(()) => {
                self.spill.clear();
                self.broken = None;
                true
            }
            Err(e) => {
                self.broken = Some(broken_message(path, &e, self.spill.len()));
                false
            }
        }
    }
}

fn broken_message(path: &Path, e: &rusqlite::Error, in_memory: usize) -> String {
    format!(
        "outbox {}: cannot write usage reports ({e}); {in_memory} kept in memory (lost if this process dies) \
         and new calls are refused until the outbox can be written again",
        path.display()
    )
}

impl Outbox {
    /// Opens (creating if needed) the outbox at `path`; `":memory:"` keeps it in memory.
    ///
    /// # Errors
    /// The file cannot be opened, created or written, or is not an outbox.
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
        .map_err(|e| format!("outbox {}: {e}", path.display()))?;
        Ok(Outbox {
            path: path.to_path_buf(),
            state: Mutex::new(State {
                conn,
                spill: Vec::new(),
                last_spill_seq: 0,
                broken: None,
            }),
        })
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Queues `report` (which must carry a string `request_id`) under `lease_id`.
    ///
    /// # Errors
    /// The report has no `request_id`; or the file cannot be written, in which
    /// case the report is kept in memory (and sent from there) and the error
    /// says so.
    pub fn push(&self, lease_id: &str, report: &Value) -> Result<(), String> {
        let id = request_id(report)?;
        let mut st = self.state();
        if st.repair(&self.path) {
            match st
                .conn
                .execute(INSERT, params![id, lease_id, report.to_string()])
            {
                Ok(_) => return Ok(()),
                Err(e) => st.broken = Some(broken_message(&self.path, &e, st.spill.len() + 1)),
            }
        }
        st.last_spill_seq -= 1;
        let seq = st.last_spill_seq;
        st.spill.push(Pending {
            seq,
            lease_id: lease_id.to_string(),
            report: report.clone(),
        });
        Err(st.broken.clone().unwrap_or_default())
    }

    /// Why the outbox cannot be written, if it could not last time (tries a write again first).
    #[must_use]
    pub fn error(&self) -> Option<String> {
        let mut st = self.state();
        st.repair(&self.path);
        st.broken.clone()
    }

    /// Up to `limit` oldest reports, all of the same lease (the oldest one's).
    ///
    /// # Errors
    /// The read failed.
    pub fn next_batch(&self, limit: usize) -> Result<Vec<Pending>, String> {
        let mut st = self.state();
        if !st.repair(&self.path) && !st.spill.is_empty() {
            let lease = st.spill[0].lease_id.clone();
            return Ok(st
                .spill
                .iter()
                .filter(|p| p.lease_id == lease)
                .take(limit)
                .cloned()
                .collect());
        }
        let mut stmt = st
            .conn
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
        let mut st = self.state();
        st.spill.retain(|p| !seqs.contains(&p.seq));
        if !seqs.iter().any(|s| *s > 0) {
            return Ok(());
        }
        let deleted = (|| -> Result<(), rusqlite::Error> {
            let tx = st.conn.transaction()?;
            {
                let mut stmt = tx.prepare_cached("DELETE FROM reports WHERE seq = ?1")?;
                for seq in seqs.iter().filter(|s| **s > 0) {
                    stmt.execute(params![seq])?;
                }
            }
            tx.commit()
        })();
        deleted.map_err(|e| {
            format!(
                "outbox {}: cannot delete delivered reports ({e}); they are sent again (the Control Panel counts them once)",
                self.path.display()
            )
        })
    }

    /// Reports still waiting (in the file and in memory).
    #[must_use]
    pub fn len(&self) -> usize {
        let st = self.state();
        st.conn
            .query_row("SELECT COUNT(*) FROM reports", [], |r| r.get::<_, i64>(0))
            .map_or(0, |n| usize::try_from(n).unwrap_or(0))
            + st.spill.len()
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

    #[test]
    fn a_report_the_file_will_not_take_is_kept_in_memory_and_flagged() {
        let o = Outbox::open(Path::new(":memory:")).expect("outbox");
        o.push("l1", &json!({"request_id": "a"})).expect("outbox");
        o.state()
            .conn
            .execute_batch("PRAGMA query_only=ON")
            .expect("pragma");
        let e = o
            .push("l1", &json!({"request_id": "b"}))
            .expect_err("read-only");
        assert!(e.contains("refused"), "{e}");
        assert!(o.error().is_some());
        assert_eq!(o.len(), 2);
        let batch = o.next_batch(10).expect("outbox");
        assert_eq!(batch.len(), 1);
        assert_eq!(batch[0].report["request_id"], "b");
        assert!(batch[0].seq < 0);
        o.state()
            .conn
            .execute_batch("PRAGMA query_only=OFF")
            .expect("pragma");
        assert!(o.error().is_none()); // the kept report is now in the file
        assert_eq!(o.len(), 2);
        let batch = o.next_batch(10).expect("outbox");
        o.remove(&batch.iter().map(|p| p.seq).collect::<Vec<_>>())
            .expect("outbox");
        assert!(o.is_empty());
    }
}
