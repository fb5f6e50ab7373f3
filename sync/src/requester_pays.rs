//! Reads from a requester-pays bucket (USGS's `s3://usgs-landsat`, us-west-2): every request carries
//! `x-amz-request-payer: requester` (S3 refuses a request to such a bucket without it, with 403,
//! whatever the credentials), signed with the AWS credentials of the usual chain (environment,
//! profile, instance or container role) — the requester pays the transfer.
//!
//! `head` gives a file's size, ETag and Last-Modified (USGS publishes no checksum in its STAC items,
//! so these are what the lake's copy is compared with and verified against). `fetch` reads an object
//! into its `.partial` and resumes the bytes of the same version (the `.partial.meta` names the ETag,
//! as `download.rs` does over HTTP) with `Range: bytes=N-` and `If-Match: <ETag>`: an object replaced
//! since answers 412 and the read restarts from byte 0.
use aws_sdk_s3::types::RequestPayer;
use std::path::Path;
use std::time::{Duration, SystemTime};

/// Where the source bucket is reached.
#[derive(Debug, Clone)]
pub struct SourceSettings {
    /// S3 endpoint (tests, a VPC endpoint); path-style addressing then. Default: AWS's (and the
    /// SDK's `$AWS_ENDPOINT_URL_S3` / `$AWS_ENDPOINT_URL`).
    pub endpoint_url: Option<String>,
    /// The bucket's region (`usgs-landsat` is in us-west-2).
    pub region: String,
}

impl Default for SourceSettings {
    fn default() -> Self {
        SourceSettings {
            endpoint_url: None,
            region: "us-west-2".into(),
        }
    }
}

/// An object's validators.
#[derive(Debug, Clone, Default)]
pub struct Head {
    /// Content-Length.
    pub size: Option<u64>,
    /// ETag, quotes included.
    pub etag: Option<String>,
    /// Last-Modified.
    pub last_modified: Option<SystemTime>,
}

/// A client for a requester-pays bucket.
pub struct RequesterPays {
    client: aws_sdk_s3::Client,
}

/// `s3://bucket/key` → (bucket, key).
pub fn split(s3_url: &str) -> Option<(&str, &str)> {
    s3_url
        .strip_prefix("s3://")?
        .split_once('/')
        .filter(|(b, k)| !b.is_empty() && !k.is_empty())
}

fn to_system_time(t: &aws_sdk_s3::primitives::DateTime) -> Option<SystemTime> {
    let secs = u64::try_from(t.secs()).ok()?;
    Some(SystemTime::UNIX_EPOCH + Duration::from_secs(secs))
}

impl RequesterPays {
    /// A client with the AWS credential chain, for the bucket's region and endpoint.
    pub async fn new(s: &SourceSettings) -> RequesterPays {
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new(s.region.clone()));
        if let Some(e) = &s.endpoint_url {
            loader = loader.endpoint_url(e);
        }
        let shared = loader.load().await;
        let path_style = s.endpoint_url.is_some()
            || std::env::var_os("AWS_ENDPOINT_URL_S3").is_some()
            || std::env::var_os("AWS_ENDPOINT_URL").is_some();
        let conf = aws_sdk_s3::config::Builder::from(&shared).force_path_style(path_style);
        RequesterPays {
            client: aws_sdk_s3::Client::from_conf(conf.build()),
        }
    }

    /// HEAD of `s3://bucket/key`, paid by the requester.
    pub async fn head(&self, s3_url: &str) -> Result<Head, String> {
        let (bucket, key) = split(s3_url).ok_or_else(|| format!("{s3_url}: not an s3:// URL"))?;
        let out = self
            .client
            .head_object()
            .bucket(bucket)
            .key(key)
            .request_payer(RequestPayer::Requester)
            .send()
            .await
            .map_err(|e| {
                let status = e.raw_response().map(|r| r.status().as_u16());
                let hint = match status {
                    Some(403) => " (HTTP 403: access refused — AWS credentials are needed, and the requester pays)",
                    Some(404) => " (HTTP 404: not in the bucket)",
                    _ => "",
                };
                format!(
                    "HEAD {s3_url}: {}{hint}",
                    aws_sdk_s3::error::DisplayErrorContext(&e)
                )
            })?;
        Ok(Head {
            size: out.content_length().and_then(|n| u64::try_from(n).ok()),
            etag: out.e_tag().map(str::to_string),
            last_modified: out.last_modified().and_then(to_system_time),
        })
    }

    /// Reads `s3_url` (the version whose ETag is `etag`) into `partial`, resuming what a previous
    /// run left of that version. Returns the bytes received and a note when it restarted.
    pub async fn fetch(
        &self,
        s3_url: &str,
        etag: Option<&str>,
        partial: &Path,
        bar: Option<&indicatif::ProgressBar>,
    ) -> Result<(u64, Option<String>), (u64, String)> {
        let (bucket, key) =
            split(s3_url).ok_or_else(|| (0, format!("{s3_url}: not an s3:// URL")))?;
        if let Some(dir) = partial.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| (0, format!("creating {}: {e}", dir.display())))?;
        }
        let meta = crate::download::meta_path(partial);
        let len = std::fs::metadata(partial).map_or(0, |m| m.len());
        let recorded = std::fs::read_to_string(&meta).ok();
        let mut offset = match (recorded, etag) {
            (Some(r), Some(e)) if len > 0 && r.trim() == e => len,
            _ => 0,
        };
        let mut note = (offset > 0).then(|| format!("resumed at byte {offset}"));
        let out = loop {
            let mut req = self
                .client
                .get_object()
                .bucket(bucket)
                .key(key)
                .request_payer(RequestPayer::Requester);
            if offset > 0 {
                req = req.range(format!("bytes={offset}-"));
                if let Some(e) = etag {
                    req = req.if_match(e);
                }
            }
            match req.send().await {
                Ok(out) => break out,
                Err(e) => {
                    let status = e.raw_response().map(|r| r.status().as_u16());
                    if offset > 0 && matches!(status, Some(412) | Some(416)) {
                        // Replaced since the partial bytes were read (or they are all there and
                        // more): start again from byte 0.
                        offset = 0;
                        note = Some("restarted from byte 0: the object changed since".into());
                        continue;
                    }
                    let hint = if status == Some(403) {
                        " (HTTP 403: access refused — AWS credentials are needed, and the requester pays)"
                    } else {
                        ""
                    };
                    return Err((
                        0,
                        format!(
                            "GET {s3_url}: {}{hint}",
                            aws_sdk_s3::error::DisplayErrorContext(&e)
                        ),
                    ));
                }
            }
        };
        // The version read must be the one discovered (and the one the partial bytes belong to).
        if let (Some(want), Some(got)) = (etag, out.e_tag()) {
            if want != got {
                return Err((
                    0,
                    format!("{s3_url}: the object changed since it was listed (ETag {want} → {got}); sync again"),
                ));
            }
        }
        if let Some(e) = etag {
            std::fs::write(&meta, e)
                .map_err(|e| (0, format!("writing {}: {e}", meta.display())))?;
        }
        // The partial and its meta stay when the body is interrupted: the next run resumes.
        let bytes = crate::direct::write_object(out, offset, partial, bar, s3_url).await?;
        Ok((bytes, note))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s3_urls_split() {
        assert_eq!(
            split("s3://usgs-landsat/collection02/a.TIF"),
            Some(("usgs-landsat", "collection02/a.TIF"))
        );
        assert_eq!(split("s3://usgs-landsat/"), None);
        assert_eq!(split("https://x/y"), None);
    }
}
