//! Direct S3 reads of Earthdata Cloud files, for a sync running in the DAAC's region (us-west-2):
//! the DAAC's `s3credentials` endpoint hands out temporary credentials to an Earthdata-Login
//! authenticated user (TEA's "S3 Direct Access": `GET /s3credentials` → JSON `accessKeyId`,
//! `secretAccessKey`, `sessionToken`, `expiration`, valid one hour), and the granule's
//! `GET DATA VIA DIRECT ACCESS` URL (`s3://bucket/key`, from its UMM-G record) is read with them.
//! Credentials are fetched again five minutes before they expire. Reads resume a `.partial` with a
//! `Range` (the object's checksum is verified afterwards anyway).
use crate::http::Http;
use aws_sdk_s3::config::Credentials;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::io::AsyncWriteExt;

/// Credentials are renewed this long before their expiration.
pub const MARGIN: Duration = Duration::from_secs(300);

/// Where direct reads go.
#[derive(Debug, Clone)]
pub struct DirectSettings {
    /// The DAAC's `s3credentials` URL.
    pub credentials_url: String,
    /// S3 endpoint (tests, or a VPC endpoint); path-style addressing then.
    pub endpoint_url: Option<String>,
    /// Region of the DAAC's buckets.
    pub region: String,
}

/// A client for the DAAC's buckets, renewed with fresh credentials before they expire.
pub struct Direct {
    http: Arc<Http>,
    settings: DirectSettings,
    current: tokio::sync::Mutex<Option<(aws_sdk_s3::Client, SystemTime)>>,
}

fn parse_expiration(v: &serde_json::Value) -> Option<SystemTime> {
    // TEA writes "2023-06-26 21:49:15+00:00"; accept RFC 3339 as well.
    let s = v.as_str()?;
    let t = chrono::DateTime::parse_from_rfc3339(s)
        .or_else(|_| chrono::DateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%:z"))
        .ok()?;
    Some(SystemTime::UNIX_EPOCH + Duration::from_secs(t.timestamp().max(0) as u64))
}

impl Direct {
    /// Direct reads through `http` (which carries the Earthdata Login credential).
    pub fn new(http: Arc<Http>, settings: DirectSettings) -> Direct {
        Direct {
            http,
            settings,
            current: tokio::sync::Mutex::new(None),
        }
    }

    /// A client whose credentials are valid for at least `MARGIN` more.
    pub async fn client(&self) -> Result<aws_sdk_s3::Client, String> {
        let mut cur = self.current.lock().await;
        if let Some((c, until)) = cur.as_ref() {
            if SystemTime::now() + MARGIN < *until {
                return Ok(c.clone());
            }
        }
        use http_body_util::BodyExt;
        let url = &self.settings.credentials_url;
        let resp = self.http.send_data("GET", url, &[]).await?;
        let status = resp.status();
        let body = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| format!("{}: {e}", crate::http::public(url)))?
            .to_bytes();
        if !status.is_success() {
            return Err(format!(
                "{}: temporary S3 credentials refused: HTTP {status}",
                crate::http::public(url)
            ));
        }
        let v: serde_json::Value = serde_json::from_slice(&body).map_err(|e| {
            format!(
                "{}: not an s3credentials answer: {e}",
                crate::http::public(url)
            )
        })?;
        let field = |k: &str| {
            v[k].as_str().map(str::to_string).ok_or_else(|| {
                format!(
                    "{}: the s3credentials answer has no {k}",
                    crate::http::public(url)
                )
            })
        };
        let until = parse_expiration(&v["expiration"]).ok_or_else(|| {
            format!(
                "{}: the s3credentials answer has no readable expiration",
                crate::http::public(url)
            )
        })?;
        let creds = Credentials::new(
            field("accessKeyId")?,
            field("secretAccessKey")?,
            Some(field("sessionToken")?),
            Some(until),
            "earthdata-s3credentials",
        );
        let mut conf = aws_sdk_s3::config::Builder::new()
            .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
            .region(aws_sdk_s3::config::Region::new(
                self.settings.region.clone(),
            ))
            .credentials_provider(creds);
        if let Some(e) = &self.settings.endpoint_url {
            conf = conf.endpoint_url(e).force_path_style(true);
        }
        let client = aws_sdk_s3::Client::from_conf(conf.build());
        tracing::info!(
            "temporary S3 credentials from {}, valid until {}",
            crate::http::public(url),
            httpdate::fmt_http_date(until)
        );
        *cur = Some((client.clone(), until));
        Ok(client)
    }

    /// Reads `s3://bucket/key` into `partial`, resuming what is there. Returns the bytes received.
    pub async fn fetch(
        &self,
        s3_url: &str,
        partial: &Path,
        bar: Option<&indicatif::ProgressBar>,
    ) -> Result<u64, (u64, String)> {
        let (bucket, key) = s3_url
            .strip_prefix("s3://")
            .and_then(|r| r.split_once('/'))
            .ok_or_else(|| (0, format!("{s3_url}: not an s3:// URL")))?;
        let client = self.client().await.map_err(|e| (0, e))?;
        if let Some(dir) = partial.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| (0, format!("creating {}: {e}", dir.display())))?;
        }
        let offset = std::fs::metadata(partial).map_or(0, |m| m.len());
        let mut req = client.get_object().bucket(bucket).key(key);
        if offset > 0 {
            req = req.range(format!("bytes={offset}-"));
        }
        let out = req.send().await.map_err(|e| {
            (
                0,
                format!("{s3_url}: {}", aws_sdk_s3::error::DisplayErrorContext(&e)),
            )
        })?;
        write_object(out, offset, partial, bar, s3_url).await
    }
}

/// Streams a GetObject answer into `partial`: appended when it answers a ranged request from
/// `offset`, else written from byte 0. The `.partial` stays when the body is interrupted, so a later
/// run resumes. Errors carry the body bytes received. Shared by the in-region and requester-pays reads.
pub(crate) async fn write_object(
    out: aws_sdk_s3::operation::get_object::GetObjectOutput,
    offset: u64,
    partial: &std::path::Path,
    bar: Option<&indicatif::ProgressBar>,
    s3_url: &str,
) -> Result<u64, (u64, String)> {
    let append = offset > 0 && out.content_range().is_some();
    let mut file = tokio::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .append(append)
        .truncate(!append)
        .open(partial)
        .await
        .map_err(|e| (0, format!("opening {}: {e}", partial.display())))?;
    let mut body = out.body;
    let mut bytes = 0u64;
    loop {
        match body.try_next().await {
            Ok(Some(chunk)) => {
                file.write_all(&chunk)
                    .await
                    .map_err(|e| (bytes, format!("writing {}: {e}", partial.display())))?;
                bytes += chunk.len() as u64;
                if let Some(b) = bar {
                    b.inc(chunk.len() as u64);
                }
            }
            Ok(None) => break,
            Err(e) => return Err((bytes, format!("{s3_url}: read interrupted: {e}"))),
        }
    }
    file.flush()
        .await
        .map_err(|e| (bytes, format!("writing {}: {e}", partial.display())))?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expirations_as_tea_writes_them() {
        let a = parse_expiration(&serde_json::json!("2023-06-26 21:49:15+00:00")).unwrap();
        let b = parse_expiration(&serde_json::json!("2023-06-26T21:49:15Z")).unwrap();
        assert_eq!(a, b);
        assert_eq!(
            a.duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs(),
            1_687_816_155
        );
        assert!(parse_expiration(&serde_json::json!("soon")).is_none());
    }
}
