//! Where `etlake index` finds objects: S3 prefixes and globs (listed through [`S3::list`]), local folders
//! and globs (walked in name order), and key lists from a file or stdin, all streamed into one channel.
use crate::s3::{split_s3, ObjectRef, S3};
use crate::{Error, Result};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Lists every source into the channel; stops at the first fatal listing error (sent as `Err`).
pub(crate) fn list_all(
    sources: &[String],
    s3: Option<&S3>,
    tx: tokio::sync::mpsc::Sender<Result<ObjectRef>>,
) {
    for source in sources {
        let result = list_one(source, s3, &tx);
        if let Err(e) = result {
            let _ = tx.blocking_send(Err(e));
            return;
        }
    }
}

fn list_one(
    source: &str,
    s3: Option<&S3>,
    tx: &tokio::sync::mpsc::Sender<Result<ObjectRef>>,
) -> Result<()> {
    let bad = |m: &str| Error::Source {
        source_arg: source.to_string(),
        message: m.to_string(),
    };
    if let Some(list) = source.strip_prefix('@') {
        let file = std::fs::File::open(list).map_err(|source| Error::Io {
            path: list.into(),
            source,
        })?;
        return send_lines(std::io::BufReader::new(file), list, tx);
    }
    if source == "-" {
        return send_lines(std::io::stdin().lock(), "stdin", tx);
    }
    if source.starts_with("s3://") {
        let (bucket, rest) = split_s3(source).ok_or_else(|| bad("expected s3://bucket/prefix"))?;
        let (prefix, pattern) = split_glob(rest);
        let matcher = match pattern {
            Some(p) => Some(glob(&format!("{prefix}{p}")).map_err(|m| bad(&m))?),
            None => None,
        };
        let keep: Arc<dyn Fn(&str) -> bool + Send + Sync> =
            Arc::new(move |k: &str| matcher.as_ref().is_none_or(|m| m.is_match(k)));
        let s3 = s3.ok_or_else(|| bad("no S3 client"))?;
        return s3.list(bucket, &prefix, keep, tx.clone());
    }
    let path = source.strip_prefix("file://").unwrap_or(source);
    let (root, pattern) = split_glob(path);
    let root_path = if root.is_empty() {
        PathBuf::from(".")
    } else {
        PathBuf::from(&root)
    };
    let matcher = match pattern {
        Some(p) => Some(glob(&format!("{root}{p}")).map_err(|m| bad(&m))?),
        None => None,
    };
    if root_path.is_file() && matcher.is_none() {
        let abs = std::fs::canonicalize(&root_path).map_err(|source| Error::Io {
            path: root_path.clone(),
            source,
        })?;
        let _ = tx.blocking_send(Ok(local_ref(&abs)));
        return Ok(());
    }
    if !root_path.is_dir() {
        return Err(bad("no such file or directory"));
    }
    // Absolute paths from the root resolved once, not one canonicalize (a stat per component) per file.
    let root_abs = std::fs::canonicalize(&root_path).map_err(|source| Error::Io {
        path: root_path.clone(),
        source,
    })?;
    walk(&root_path, &mut |p: &Path| {
        let text = p.to_string_lossy();
        if matcher.as_ref().is_none_or(|m| m.is_match(text.as_ref())) {
            let abs = match p.strip_prefix(&root_path) {
                Ok(rel) => root_abs.join(rel),
                Err(_) => p.to_path_buf(),
            };
            return tx.blocking_send(Ok(local_ref(&abs))).is_ok();
        }
        true
    })
    .map(|_| ())
}

/// A local file with its size and a version tag from its modification time and size (what the crawl
/// checkpoint compares, as an S3 ETag).
fn local_ref(p: &Path) -> ObjectRef {
    let meta = std::fs::metadata(p).ok();
    let etag = meta.as_ref().and_then(|m| {
        let t = m
            .modified()
            .ok()?
            .duration_since(std::time::UNIX_EPOCH)
            .ok()?;
        Some(format!(
            "mtime:{}.{:09}:{}",
            t.as_secs(),
            t.subsec_nanos(),
            m.len()
        ))
    });
    ObjectRef {
        uri: p.display().to_string(),
        size: meta.map(|m| m.len()),
        etag,
        body: None,
    }
}

/// Depth-first walk in name order, with file types from the directory listing (a stat only for
/// symbolic links); `visit` returns false to stop the whole walk, and so does this.
fn walk(dir: &Path, visit: &mut dyn FnMut(&Path) -> bool) -> Result<bool> {
    let mut entries: Vec<(PathBuf, bool)> = std::fs::read_dir(dir)
        .map_err(|source| Error::Io {
            path: dir.to_path_buf(),
            source,
        })?
        .filter_map(|e| {
            let e = e.ok()?;
            let kind = e.file_type().ok()?;
            let p = e.path();
            let is_dir = kind.is_dir() || (kind.is_symlink() && p.is_dir());
            Some((p, is_dir))
        })
        .collect();
    entries.sort();
    for (p, is_dir) in entries {
        let go_on = if is_dir { walk(&p, visit)? } else { visit(&p) };
        if !go_on {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Sends one object per line of a key list (blank lines and `#` comments skipped), streaming: a list of
/// millions of keys is never held in memory.
fn send_lines(
    lines: impl std::io::BufRead,
    name: &str,
    tx: &tokio::sync::mpsc::Sender<Result<ObjectRef>>,
) -> Result<()> {
    for line in lines.lines() {
        let line = line.map_err(|source| Error::Io {
            path: name.into(),
            source,
        })?;
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let uri = line.strip_prefix("file://").unwrap_or(line).to_string();
        let obj = ObjectRef {
            uri,
            size: None,
            etag: None,
            body: None,
        };
        if tx.blocking_send(Ok(obj)).is_err() {
            break;
        }
    }
    Ok(())
}

/// Splits `dir/sub/*.tif` into the literal directory prefix `dir/sub/` and the glob part `*.tif`.
pub(crate) fn split_glob(s: &str) -> (String, Option<String>) {
    match s.find(['*', '?', '[', '{']) {
        None => (s.to_string(), None),
        Some(i) => {
            let cut = s[..i].rfind('/').map(|j| j + 1).unwrap_or(0);
            (s[..cut].to_string(), Some(s[cut..].to_string()))
        }
    }
}

pub(crate) fn glob(pattern: &str) -> std::result::Result<globset::GlobMatcher, String> {
    globset::GlobBuilder::new(pattern)
        .literal_separator(true)
        .build()
        .map(|g| g.compile_matcher())
        .map_err(|e| format!("bad glob: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_split_at_the_last_literal_directory() {
        assert_eq!(
            split_glob("lake/modis/**/*.hdf"),
            ("lake/modis/".into(), Some("**/*.hdf".into()))
        );
        assert_eq!(split_glob("lake/chirps"), ("lake/chirps".into(), None));
        assert_eq!(
            split_glob("{a,b}/x.tif"),
            ("".into(), Some("{a,b}/x.tif".into()))
        );
        let m = glob("lake/**/chirps-v2.0.*.{tif,tif.gz}").unwrap();
        assert!(m.is_match("lake/p05/2023/chirps-v2.0.2023.01.01.tif.gz"));
        assert!(!m.is_match("lake/p05/2023/chirps-v2.0.2023.01.01.nc"));
        assert!(!glob("lake/*.tif").unwrap().is_match("lake/sub/x.tif"));
    }
}
