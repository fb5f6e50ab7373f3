//! The lake side of a sync: a local folder or an `s3://bucket/prefix`. What is there (size and the
//! provider's validators: a local file's mtime is set to the provider's Last-Modified, as `wget -N`
//! and `curl -R` do; an object carries the provider's ETag and Last-Modified as metadata), where the
//! `.partial` of a file lives, and how a verified file is placed: an atomic rename beside the final
//! name, or an upload (in parts for large files).
use crate::{Remote, S3Settings};
use aws_sdk_s3::primitives::ByteStream;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// Object metadata keys holding the provider's validators.
const META_ETAG: &str = "source-etag";
const META_LAST_MODIFIED: &str = "source-last-modified";

/// The lake's copy of a file.
#[derive(Debug, Clone, Default)]
pub struct Present {
    /// Its size.
    pub size: Option<u64>,
    /// The provider's ETag it was downloaded with (S3 destinations).
    pub etag: Option<String>,
    /// The provider's Last-Modified it was downloaded with.
    pub last_modified: Option<SystemTime>,
}

/// Whether the lake's copy is the provider's current version: same size, and same ETag and
/// Last-Modified wherever both sides know them (at least one of the three compared).
pub fn up_to_date(p: &Present, r: &Remote) -> bool {
    let mut compared = false;
    if let (Some(a), Some(b)) = (p.size, r.size) {
        if a != b {
            return false;
        }
        compared = true;
    }
    if let (Some(a), Some(b)) = (&p.etag, &r.etag) {
        if a != b {
            return false;
        }
        compared = true;
    }
    if let (Some(a), Some(b)) = (p.last_modified, r.last_modified) {
        if secs(a) != secs(b) {
            return false;
        }
        compared = true;
    }
    compared
}

/// Why the lake's copy is not current (for the report of a replacement).
pub fn difference(p: &Present, r: &Remote) -> String {
    let mut d = Vec::new();
    if p.size != r.size {
        d.push(format!("size {:?} → {:?}", p.size, r.size));
    }
    if p.etag.is_some() && r.etag.is_some() && p.etag != r.etag {
        d.push(format!("ETag {:?} → {:?}", p.etag, r.etag));
    }
    if p.last_modified.map(secs) != r.last_modified.map(secs) {
        let f = |t: Option<SystemTime>| t.map_or("unknown".into(), httpdate::fmt_http_date);
        d.push(format!(
            "Last-Modified {} → {}",
            f(p.last_modified),
            f(r.last_modified)
        ));
    }
    format!("the provider's copy changed: {}", d.join(", "))
}

fn secs(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A local folder or an S3 prefix.
pub enum Dest {
    /// A folder.
    Local(PathBuf),
    /// A bucket and key prefix (no trailing slash), with the staging folder for `.partial` files.
    S3 {
        /// The client.
        client: aws_sdk_s3::Client,
        /// Bucket.
        bucket: String,
        /// Key prefix (may be empty).
        prefix: String,
        /// Where partial downloads wait.
        staging: PathBuf,
        /// Multipart threshold and part size.
        settings: S3Settings,
    },
}

impl Dest {
    /// Opens `DIR` (created if missing) or `s3://bucket/prefix` (the bucket must exist).
    pub async fn open(to: &str, s3: &S3Settings, staging: Option<&Path>) -> crate::Result<Dest> {
        let Some(rest) = to.strip_prefix("s3://") else {
            let dir = PathBuf::from(to);
            std::fs::create_dir_all(&dir).map_err(|e| crate::Error::Setup {
                object: to.into(),
                message: format!("cannot create the destination folder: {e}"),
            })?;
            let dir = dir.canonicalize().unwrap_or(dir);
            return Ok(Dest::Local(dir));
        };
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(crate::Error::Usage(format!("--to {to}: no bucket named")));
        }
        let endpoint = s3
            .endpoint_url
            .clone()
            .or_else(|| std::env::var("AWS_ENDPOINT_URL_S3").ok())
            .or_else(|| std::env::var("AWS_ENDPOINT_URL").ok());
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
        if let Some(r) = &s3.region {
            loader = loader.region(aws_config::Region::new(r.clone()));
        }
        if let Some(e) = &endpoint {
            loader = loader.endpoint_url(e);
        }
        let shared = loader.load().await;
        let mut conf =
            aws_sdk_s3::config::Builder::from(&shared).force_path_style(endpoint.is_some());
        if shared.region().is_none() {
            conf = conf.region(aws_config::Region::new("us-east-1"));
        }
        let client = aws_sdk_s3::Client::from_conf(conf.build());
        client
            .head_bucket()
            .bucket(bucket)
            .send()
            .await
            .map_err(|e| crate::Error::Setup {
                object: format!("s3://{bucket}"),
                message: format!(
                    "the bucket cannot be reached: {}",
                    aws_sdk_s3::error::DisplayErrorContext(&e)
                ),
            })?;
        let staging = staging.map(Path::to_path_buf).unwrap_or_else(|| {
            std::env::temp_dir()
                .join("etlake-sync")
                .join(bucket)
                .join(prefix.trim_matches('/'))
        });
        Ok(Dest::S3 {
            client,
            bucket: bucket.into(),
            prefix: prefix.trim_matches('/').into(),
            staging,
            settings: s3.clone(),
        })
    }

    fn key(prefix: &str, rel: &str) -> String {
        if prefix.is_empty() {
            rel.into()
        } else {
            format!("{prefix}/{rel}")
        }
    }

    /// Where a file is in the lake: a local path or `s3://bucket/key`.
    pub fn location(&self, rel: &str) -> String {
        match self {
            Dest::Local(dir) => dir.join(rel).display().to_string(),
            Dest::S3 { bucket, prefix, .. } => format!("s3://{bucket}/{}", Self::key(prefix, rel)),
        }
    }

    /// The `.partial` of a file: beside it in a folder, under the staging folder for S3.
    pub fn partial_path(&self, rel: &str) -> PathBuf {
        let base = match self {
            Dest::Local(dir) => dir.join(rel),
            Dest::S3 { staging, .. } => staging.join(rel),
        };
        let mut s = base.into_os_string();
        s.push(".partial");
        PathBuf::from(s)
    }

    /// The lake's copy of a file, if any.
    pub async fn present(&self, rel: &str) -> Result<Option<Present>, String> {
        match self {
            Dest::Local(dir) => match std::fs::metadata(dir.join(rel)) {
                Ok(m) => Ok(Some(Present {
                    size: Some(m.len()),
                    etag: None,
                    last_modified: m.modified().ok(),
                })),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(e.to_string()),
            },
            Dest::S3 {
                client,
                bucket,
                prefix,
                ..
            } => {
                let key = Self::key(prefix, rel);
                match client.head_object().bucket(bucket).key(&key).send().await {
                    Ok(h) => {
                        let meta = h.metadata();
                        let get = |k: &str| meta.and_then(|m| m.get(k)).cloned();
                        Ok(Some(Present {
                            size: h.content_length().map(|n| n as u64),
                            etag: get(META_ETAG),
                            last_modified: get(META_LAST_MODIFIED)
                                .and_then(|v| httpdate::parse_http_date(&v).ok()),
                        }))
                    }
                    Err(e) => {
                        let not_found = e.as_service_error().is_some_and(|s| s.is_not_found());
                        if not_found {
                            Ok(None)
                        } else {
                            Err(format!(
                                "s3://{bucket}/{key}: {}",
                                aws_sdk_s3::error::DisplayErrorContext(&e)
                            ))
                        }
                    }
                }
            }
        }
    }

    /// Places a verified `.partial` as the file `r.rel`: renamed (with the provider's Last-Modified
    /// as its mtime) or uploaded (with the provider's validators as metadata), then the partial and
    /// its meta are removed.
    pub async fn place(&self, r: &Remote, partial: &Path) -> Result<(), String> {
        match self {
            Dest::Local(dir) => {
                let target = dir.join(&r.rel);
                if let Some(lm) = r.last_modified {
                    let f = std::fs::File::options()
                        .write(true)
                        .open(partial)
                        .map_err(|e| format!("{}: {e}", partial.display()))?;
                    f.set_modified(lm)
                        .map_err(|e| format!("{}: {e}", partial.display()))?;
                }
                std::fs::rename(partial, &target)
                    .map_err(|e| format!("renaming into {}: {e}", target.display()))?;
            }
            Dest::S3 {
                client,
                bucket,
                prefix,
                settings,
                ..
            } => {
                let key = Self::key(prefix, &r.rel);
                let mut meta = std::collections::HashMap::new();
                if let Some(e) = &r.etag {
                    meta.insert(META_ETAG.to_string(), e.clone());
                }
                if let Some(lm) = r.last_modified {
                    meta.insert(META_LAST_MODIFIED.to_string(), httpdate::fmt_http_date(lm));
                }
                let len = std::fs::metadata(partial)
                    .map_err(|e| format!("{}: {e}", partial.display()))?
                    .len();
                if len >= settings.multipart_threshold.max(1) {
                    upload_parts(client, bucket, &key, partial, meta, settings.part_size).await?;
                } else {
                    let body = ByteStream::from_path(partial)
                        .await
                        .map_err(|e| format!("{}: {e}", partial.display()))?;
                    client
                        .put_object()
                        .bucket(bucket)
                        .key(&key)
                        .set_metadata(Some(meta))
                        .body(body)
                        .send()
                        .await
                        .map_err(|e| {
                            format!(
                                "s3://{bucket}/{key}: {}",
                                aws_sdk_s3::error::DisplayErrorContext(&e)
                            )
                        })?;
                }
                let _ = std::fs::remove_file(partial);
            }
        }
        let mut meta = partial.as_os_str().to_owned();
        meta.push(".meta");
        let _ = std::fs::remove_file(PathBuf::from(meta));
        Ok(())
    }
}

/// A multipart upload of `path` in parts of `part_size` (at least S3's 5 MiB), aborted on failure so
/// no orphaned parts are left behind.
async fn upload_parts(
    client: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    path: &Path,
    meta: std::collections::HashMap<String, String>,
    part_size: u64,
) -> Result<(), String> {
    use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
    use tokio::io::AsyncReadExt;
    let name = format!("s3://{bucket}/{key}");
    let fail = |e: &dyn std::fmt::Display| format!("{name}: multipart upload: {e}");
    let part_size = part_size.max(5 << 20) as usize;
    let created = client
        .create_multipart_upload()
        .bucket(bucket)
        .key(key)
        .set_metadata(Some(meta))
        .send()
        .await
        .map_err(|e| fail(&aws_sdk_s3::error::DisplayErrorContext(&e)))?;
    let upload_id = created.upload_id().unwrap_or_default().to_string();
    let result: Result<Vec<CompletedPart>, String> = async {
        let mut f = tokio::fs::File::open(path).await.map_err(|e| fail(&e))?;
        let mut parts = Vec::new();
        let mut number = 1;
        loop {
            let mut buf = Vec::with_capacity(part_size);
            let n = (&mut f)
                .take(part_size as u64)
                .read_to_end(&mut buf)
                .await
                .map_err(|e| fail(&e))?;
            if n == 0 && number > 1 {
                break;
            }
            let done = client
                .upload_part()
                .bucket(bucket)
                .key(key)
                .upload_id(&upload_id)
                .part_number(number)
                .body(ByteStream::from(buf))
                .send()
                .await
                .map_err(|e| fail(&aws_sdk_s3::error::DisplayErrorContext(&e)))?;
            parts.push(
                CompletedPart::builder()
                    .part_number(number)
                    .set_e_tag(done.e_tag().map(str::to_string))
                    .build(),
            );
            number += 1;
            if n < part_size {
                break;
            }
        }
        Ok(parts)
    }
    .await;
    match result {
        Ok(parts) => client
            .complete_multipart_upload()
            .bucket(bucket)
            .key(key)
            .upload_id(&upload_id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(parts))
                    .build(),
            )
            .send()
            .await
            .map(|_| ())
            .map_err(|e| fail(&aws_sdk_s3::error::DisplayErrorContext(&e))),
        Err(e) => {
            let _ = client
                .abort_multipart_upload()
                .bucket(bucket)
                .key(key)
                .upload_id(&upload_id)
                .send()
                .await;
            Err(e)
        }
    }
}
