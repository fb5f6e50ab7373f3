//! The `--report` file: one JSON line per event of each file (discovered, skipped, downloaded or
//! replaced, verified, indexed, failed with the reason), written as they happen so an interrupted
//! run still leaves its account.
use crate::{Outcome, Remote};
use serde_json::{json, Value};
use std::io::Write;

/// Writes rows to a file, or nowhere.
pub struct Writer {
    out: Option<std::io::BufWriter<std::fs::File>>,
}

impl Writer {
    /// A writer to `path` (truncated), or one that drops rows.
    pub fn new(path: Option<&std::path::Path>) -> std::io::Result<Writer> {
        let out = match path {
            Some(p) => Some(std::io::BufWriter::new(std::fs::File::create(p)?)),
            None => None,
        };
        Ok(Writer { out })
    }

    /// Appends one row.
    pub fn row(&mut self, row: Value) {
        if let Some(out) = &mut self.out {
            if let Err(e) = writeln!(out, "{row}") {
                tracing::warn!("writing the sync report: {e}");
                self.out = None;
            }
        }
    }

    /// Flushes what is buffered.
    pub fn flush(&mut self) {
        if let Some(out) = &mut self.out {
            let _ = out.flush();
        }
    }
}

fn http_date(t: Option<std::time::SystemTime>) -> Value {
    t.map_or(Value::Null, |t| json!(httpdate::fmt_http_date(t)))
}

/// The `discovered` row of a file.
pub fn discovered(r: &Remote, location: &str) -> Value {
    json!({
        "event": "discovered", "url": r.url, "location": location, "product": r.product,
        "maturity": r.maturity, "size": r.size, "etag": r.etag,
        "last_modified": http_date(r.last_modified),
        "checksum": r.checksum.as_ref().map(|c| json!({"algorithm": c.algorithm, "value": c.value})),
    })
}

/// The row of a file's outcome (`skipped`, `downloaded`, `replaced`, `would-…`, `failed`, or with
/// `verified` the verification).
pub fn result_row(
    r: &Remote,
    location: &str,
    outcome: Outcome,
    bytes: u64,
    verified: Option<&str>,
    reason: Option<&str>,
) -> Value {
    let mut row = json!({
        "event": outcome.name(), "url": r.url, "location": location, "product": r.product,
        "size": r.size, "bytes": bytes,
    });
    if let Some(v) = verified {
        row["verified"] = json!(v);
    }
    if let Some(why) = reason {
        row["reason"] = json!(why);
    }
    row
}
