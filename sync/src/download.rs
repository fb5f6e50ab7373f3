//! Resumable downloads into `<file>.partial`. A `.partial.meta` beside it records which version of
//! the file (ETag, else Last-Modified) the bytes belong to, so a later run resumes only the same
//! version. A resumed request sends `Range: bytes=N-` with `If-Range: <validator>`: a 206 starting
//! at N is appended; a 200 means the server ignored the range or the file changed since (If-Range
//! failed), and the download restarts from byte 0 with the new version's size and validators; a
//! connection dropped mid-body resumes from what was written.
//!
//! A file discovered without validators (a listing's name the lake lacks, not HEADed: see
//! `providers.rs`) takes its size, ETag and Last-Modified from the response that brings its bytes;
//! its `.partial` of an earlier run resumes with `If-Range` set to the recorded validator, so the
//! server itself decides whether those bytes are still the file's.
use crate::http::Http;
use crate::Remote;
use http_body_util::BodyExt;
use hyper::StatusCode;
use std::path::{Path, PathBuf};
use tokio::io::AsyncWriteExt;

/// The outcome of a completed fetch.
pub struct Fetched {
    /// The file's description, updated with the validators of the version actually received.
    pub remote: Remote,
    /// Body bytes received in this run.
    pub bytes: u64,
    /// What happened on the way (restarts), for the report.
    pub note: Option<String>,
}

pub(crate) fn meta_path(partial: &Path) -> PathBuf {
    let mut s = partial.as_os_str().to_owned();
    s.push(".meta");
    PathBuf::from(s)
}

/// The validator `If-Range` can use: a strong ETag, else Last-Modified.
fn validator(r: &Remote) -> Option<String> {
    match &r.etag {
        Some(e) if !e.starts_with("W/") => Some(e.clone()),
        _ => r.last_modified.map(httpdate::fmt_http_date),
    }
}

/// Removes a `.partial` and its meta (after a failed verification).
pub fn discard(partial: &Path) {
    let _ = std::fs::remove_file(partial);
    let _ = std::fs::remove_file(meta_path(partial));
}

/// Bytes already in `partial` that belong to this version of the file (0 when none or another).
fn resumable(partial: &Path, r: &Remote) -> u64 {
    let len = std::fs::metadata(partial).map_or(0, |m| m.len());
    if len == 0 {
        return 0;
    }
    let recorded = std::fs::read_to_string(meta_path(partial)).ok();
    match (recorded, validator(r)) {
        (Some(rec), Some(v)) if rec.trim() == v => len,
        _ => 0,
    }
}

/// Sets a file's size, ETag and Last-Modified from the response bringing its bytes (`size` from
/// Content-Length or Content-Range's total), and adds the size to the progress bar's length.
fn take_validators(
    r: &mut Remote,
    resp: &hyper::Response<hyper::body::Incoming>,
    size: Option<u64>,
    bar: Option<&indicatif::ProgressBar>,
) {
    r.etag = header(resp, hyper::header::ETAG);
    r.last_modified =
        header(resp, hyper::header::LAST_MODIFIED).and_then(|v| httpdate::parse_http_date(&v).ok());
    r.size = size;
    if let (Some(b), Some(n)) = (bar, size) {
        b.inc_length(n);
    }
}

fn header(
    resp: &hyper::Response<hyper::body::Incoming>,
    name: hyper::header::HeaderName,
) -> Option<String> {
    resp.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// `Content-Range: bytes START-END/TOTAL` → (START, TOTAL).
fn content_range(v: &str) -> Option<(u64, Option<u64>)> {
    let rest = v.trim().strip_prefix("bytes ")?;
    let (range, total) = rest.split_once('/')?;
    let (start, _) = range.split_once('-')?;
    Some((start.trim().parse().ok()?, total.trim().parse().ok()))
}

/// Downloads `remote` into `partial`, resuming what a previous attempt left of the same version.
/// Errors carry the body bytes received in this run.
pub async fn fetch(
    http: &Http,
    remote: &Remote,
    partial: &Path,
    bar: Option<&indicatif::ProgressBar>,
) -> Result<Fetched, (u64, String)> {
    let mut r = remote.clone();
    let mut bytes = 0u64;
    let mut notes: Vec<String> = Vec::new();
    if let Some(dir) = partial.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| (0, format!("creating {}: {e}", dir.display())))?;
    }
    // Nothing known about the file yet: learn its validators from the response.
    let learn = r.size.is_none() && r.etag.is_none() && r.last_modified.is_none();
    let recorded = std::fs::read_to_string(meta_path(partial))
        .ok()
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty());
    let mut offset = if learn && recorded.is_some() {
        std::fs::metadata(partial).map_or(0, |m| m.len())
    } else {
        resumable(partial, &r)
    };
    if offset == 0 {
        let _ = std::fs::remove_file(partial);
    } else {
        notes.push(format!("resumed at byte {offset}"));
    }
    let mut failures = 0u32;
    loop {
        if r.size.is_some_and(|s| offset == s) {
            break;
        }
        let mut headers = Vec::new();
        if offset > 0 {
            headers.push(("range", format!("bytes={offset}-")));
            if let Some(v) = validator(&r).or_else(|| recorded.clone()) {
                headers.push(("if-range", v));
            }
        }
        let resp = http
            .send_data("GET", &r.url, &headers)
            .await
            .map_err(|e| (bytes, e))?;
        let status = resp.status();
        let mut append = false;
        match status {
            StatusCode::PARTIAL_CONTENT if offset > 0 => {
                let start =
                    header(&resp, hyper::header::CONTENT_RANGE).and_then(|v| content_range(&v));
                match start {
                    Some((s, total)) if s == offset => {
                        append = true;
                        if learn && r.size.is_none() {
                            take_validators(&mut r, &resp, total, bar);
                        }
                        if let (Some(t), Some(size)) = (total, r.size) {
                            if t != size {
                                return Err((bytes, format!(
                                    "the server's Content-Range total {t} disagrees with the size {size} it declared"
                                )));
                            }
                        }
                    }
                    _ => {
                        // A range we did not ask for: start again from the beginning.
                        notes.push("restarted: the server answered another range".into());
                        offset = 0;
                        let _ = std::fs::remove_file(partial);
                        continue;
                    }
                }
            }
            StatusCode::OK => {
                if learn && r.size.is_none() && offset == 0 {
                    let length =
                        header(&resp, hyper::header::CONTENT_LENGTH).and_then(|v| v.parse().ok());
                    take_validators(&mut r, &resp, length, bar);
                }
                if offset > 0 {
                    let new_etag = header(&resp, hyper::header::ETAG);
                    let new_lm = header(&resp, hyper::header::LAST_MODIFIED)
                        .and_then(|v| httpdate::parse_http_date(&v).ok());
                    let unknown = learn && r.size.is_none();
                    let changed = if unknown {
                        // The bytes kept were of the recorded version: is this another one?
                        let now = validator(&Remote {
                            etag: new_etag.clone(),
                            last_modified: new_lm,
                            ..r.clone()
                        });
                        now.is_some() && now != recorded
                    } else {
                        (new_etag.is_some() && new_etag != r.etag)
                            || (new_lm.is_some() && new_lm != r.last_modified)
                    };
                    notes.push(if changed {
                        "restarted from byte 0: the file changed during the download".into()
                    } else {
                        "restarted from byte 0: the server ignored Range".into()
                    });
                    if unknown {
                        let length = header(&resp, hyper::header::CONTENT_LENGTH)
                            .and_then(|v| v.parse().ok());
                        take_validators(&mut r, &resp, length, bar);
                    } else if changed {
                        r.etag = new_etag;
                        r.last_modified = new_lm;
                        r.size = header(&resp, hyper::header::CONTENT_LENGTH)
                            .and_then(|v| v.parse().ok());
                        r.checksum = None;
                    }
                    offset = 0;
                }
            }
            StatusCode::RANGE_NOT_SATISFIABLE if offset > 0 => {
                notes.push("restarted: the range was not satisfiable".into());
                offset = 0;
                let _ = std::fs::remove_file(partial);
                continue;
            }
            s => {
                let hint = match s.as_u16() {
                    401 | 403 => " (access refused: credentials needed or not accepted)",
                    404 => " (not published at this URL)",
                    _ => "",
                };
                return Err((bytes, format!("HTTP {s}{hint}")));
            }
        }
        // Record the version the bytes belong to, then stream the body.
        if let Some(v) = validator(&r) {
            std::fs::write(meta_path(partial), v)
                .map_err(|e| (bytes, format!("writing {}: {e}", partial.display())))?;
        }
        let mut file = tokio::fs::OpenOptions::new()
            .create(true)
            .write(true)
            .append(append)
            .truncate(!append)
            .open(partial)
            .await
            .map_err(|e| (bytes, format!("opening {}: {e}", partial.display())))?;
        let mut body = resp.into_body();
        let mut dropped = None;
        loop {
            match body.frame().await {
                None => break,
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        file.write_all(&data)
                            .await
                            .map_err(|e| (bytes, format!("writing {}: {e}", partial.display())))?;
                        bytes += data.len() as u64;
                        offset += data.len() as u64;
                        if let Some(b) = bar {
                            b.inc(data.len() as u64);
                        }
                    }
                }
                Some(Err(e)) => {
                    dropped = Some(crate::http::source_chain(&e));
                    break;
                }
            }
        }
        file.flush()
            .await
            .map_err(|e| (bytes, format!("writing {}: {e}", partial.display())))?;
        drop(file);
        // A body that ended cleanly is complete (hyper reports one shorter than its Content-Length
        // as an error); whether it is the declared size is verification's question.
        let Some(e) = dropped else { break };
        failures += 1;
        if failures > http.retries() {
            return Err((bytes, format!("connection dropped at byte {offset}: {e}")));
        }
        tracing::info!(
            "{}: connection dropped at byte {offset} ({e}); resuming",
            r.url
        );
        if !notes.iter().any(|n| n.starts_with("resumed after")) {
            notes.push("resumed after a dropped connection".into());
        }
        tokio::time::sleep(crate::http::backoff(failures.saturating_sub(1))).await;
    }
    if r.size.is_none() {
        r.size = std::fs::metadata(partial).ok().map(|m| m.len());
    }
    Ok(Fetched {
        remote: r,
        bytes,
        note: (!notes.is_empty()).then(|| notes.join("; ")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_range_parses() {
        assert_eq!(content_range("bytes 100-199/1000"), Some((100, Some(1000))));
        assert_eq!(content_range("bytes 5-9/*"), Some((5, None)));
        assert_eq!(content_range("items 1-2/3"), None);
    }
}
