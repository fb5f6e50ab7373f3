//! S3 access shared by the indexer (and later the model): client set-up from the standard AWS chain
//! plus `--endpoint-url`/`--no-sign-request`/`--request-payer`, streaming listings fanned out over
//! prefixes, object reads, and the matching GDAL `/vsis3/` configuration.
use crate::{Error, Result};
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_s3::types::RequestPayer;
use aws_sdk_s3::Client;
use std::path::Path;
use std::sync::Arc;

/// How to talk to S3.
#[derive(Debug, Clone, Default)]
pub struct S3Options {
    /// Custom endpoint (e.g. `http://127.0.0.1:9000`); path-style addressing is used with it.
    pub endpoint_url: Option<String>,
    /// Anonymous requests (public buckets).
    pub no_sign_request: bool,
    /// Send `x-amz-request-payer: requester` on every list and get (e.g. `usgs-landsat`).
    pub request_payer: bool,
    /// Region; else the AWS chain's, else `us-east-1`.
    pub region: Option<String>,
}

/// One listed object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectRef {
    /// `s3://bucket/key` or an absolute local path.
    pub uri: String,
    /// Size in bytes.
    pub size: Option<u64>,
    /// ETag (S3) — a cheap change detector.
    pub etag: Option<String>,
    /// The content, when the source delivered it with the listing (STAC API items).
    pub body: Option<Arc<Vec<u8>>>,
}

/// An S3 client with its own runtime, usable from synchronous code and worker threads.
#[derive(Clone)]
pub struct S3 {
    runtime: Arc<tokio::runtime::Runtime>,
    client: Client,
    options: S3Options,
}

/// Splits `s3://bucket/key` into (bucket, key).
pub fn split_s3(uri: &str) -> Option<(&str, &str)> {
    let rest = uri.strip_prefix("s3://")?;
    let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
    (!bucket.is_empty()).then_some((bucket, key))
}

impl S3 {
    /// Builds the client from the AWS environment (`AWS_PROFILE`, `AWS_ENDPOINT_URL`, credentials, region)
    /// and the options.
    pub fn new(options: &S3Options) -> Result<S3> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(4)
            .enable_all()
            .build()
            .map_err(|source| Error::Io {
                path: "tokio runtime".into(),
                source,
            })?;
        let endpoint = options
            .endpoint_url
            .clone()
            .or_else(|| std::env::var("AWS_ENDPOINT_URL_S3").ok())
            .or_else(|| std::env::var("AWS_ENDPOINT_URL").ok());
        let client = runtime.block_on(async {
            let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
            if let Some(r) = &options.region {
                loader = loader.region(aws_config::Region::new(r.clone()));
            }
            if options.no_sign_request {
                loader = loader.no_credentials();
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
            Client::from_conf(conf.build())
        });
        let mut options = options.clone();
        options.endpoint_url = endpoint;
        Ok(S3 {
            runtime: Arc::new(runtime),
            client,
            options,
        })
    }

    /// The options in effect (with the endpoint taken from the environment, if any).
    pub fn options(&self) -> &S3Options {
        &self.options
    }

    /// Lists every key under `prefix` accepted by `keep`, sending them to `out` as they arrive. The
    /// first level of "directories" is listed with a delimiter and each is then listed concurrently
    /// (16 at a time), so wide lakes list fast while memory stays flat. A missing bucket, denied access
    /// or bad credentials end the listing with one error naming the bucket.
    pub fn list(
        &self,
        bucket: &str,
        prefix: &str,
        keep: Arc<dyn Fn(&str) -> bool + Send + Sync>,
        out: tokio::sync::mpsc::Sender<Result<ObjectRef>>,
    ) -> Result<()> {
        let client = self.client.clone();
        let payer = self.options.request_payer;
        let (bucket, prefix) = (bucket.to_string(), prefix.to_string());
        self.runtime.block_on(async move {
            let top = list_level(&client, &bucket, &prefix, Some("/"), payer, &keep, &out).await?;
            let limit = Arc::new(tokio::sync::Semaphore::new(16));
            let mut tasks = tokio::task::JoinSet::new();
            for sub in top {
                let (client, bucket, keep, out, limit) = (
                    client.clone(),
                    bucket.clone(),
                    keep.clone(),
                    out.clone(),
                    limit.clone(),
                );
                tasks.spawn(async move {
                    let _permit = limit.acquire().await;
                    list_level(&client, &bucket, &sub, None, payer, &keep, &out)
                        .await
                        .map(|_| ())
                });
            }
            while let Some(r) = tasks.join_next().await {
                r.map_err(|e| Error::S3 {
                    object: format!("s3://{bucket}/{prefix}"),
                    message: e.to_string(),
                })??;
            }
            Ok(())
        })
    }

    /// Reads a whole object.
    pub fn get(&self, uri: &str) -> Result<Vec<u8>> {
        let (bucket, key) = split_s3(uri).ok_or_else(|| Error::S3 {
            object: uri.into(),
            message: "not an s3:// URI".into(),
        })?;
        let mut req = self.client.get_object().bucket(bucket).key(key);
        if self.options.request_payer {
            req = req.request_payer(RequestPayer::Requester);
        }
        self.runtime.block_on(async {
            let resp = req.send().await.map_err(|e| s3_error(uri, &e))?;
            let body = resp.body.collect().await.map_err(|e| Error::S3 {
                object: uri.into(),
                message: e.to_string(),
            })?;
            Ok(body.into_bytes().to_vec())
        })
    }

    /// Reads many objects concurrently (64 requests in flight), results in input order. Small metadata
    /// documents are latency-bound: one GET at a time per worker would cap a crawl at a few hundred per second.
    pub fn get_many(&self, uris: &[String]) -> Vec<Result<Vec<u8>>> {
        let limit = Arc::new(tokio::sync::Semaphore::new(64));
        self.runtime.block_on(async {
            let mut tasks = tokio::task::JoinSet::new();
            for (i, uri) in uris.iter().enumerate() {
                let (client, uri, limit, payer) = (
                    self.client.clone(),
                    uri.clone(),
                    limit.clone(),
                    self.options.request_payer,
                );
                tasks.spawn(async move {
                    let _permit = limit.acquire().await;
                    let Some((bucket, key)) = split_s3(&uri) else {
                        return (
                            i,
                            Err(Error::S3 {
                                object: uri.clone(),
                                message: "not an s3:// URI".into(),
                            }),
                        );
                    };
                    let mut req = client.get_object().bucket(bucket).key(key);
                    if payer {
                        req = req.request_payer(RequestPayer::Requester);
                    }
                    let result = match req.send().await {
                        Ok(resp) => resp
                            .body
                            .collect()
                            .await
                            .map(|b| b.into_bytes().to_vec())
                            .map_err(|e| Error::S3 {
                                object: uri.clone(),
                                message: e.to_string(),
                            }),
                        Err(e) => Err(s3_error(&uri, &e)),
                    };
                    (i, result)
                });
            }
            let mut out: Vec<Option<Result<Vec<u8>>>> = (0..uris.len()).map(|_| None).collect();
            while let Some(joined) = tasks.join_next().await {
                if let Ok((i, r)) = joined {
                    out[i] = Some(r);
                }
            }
            out.into_iter()
                .zip(uris)
                .map(|(r, u)| {
                    r.unwrap_or_else(|| {
                        Err(Error::S3 {
                            object: u.clone(),
                            message: "request task failed".into(),
                        })
                    })
                })
                .collect()
        })
    }

    /// Copies an object to a local file (HDF4 cannot be read remotely).
    pub fn download(&self, uri: &str, to: &Path) -> Result<()> {
        let bytes = self.get(uri)?;
        std::fs::write(to, bytes).map_err(|source| Error::Io {
            path: to.to_path_buf(),
            source,
        })
    }

    /// Sets GDAL's `/vsis3/` options to reach the same endpoint with the same rules.
    pub fn configure_gdal(&self) -> Result<()> {
        configure_gdal(&self.options)
    }
}

/// Sets GDAL's `/vsis3/` options (endpoint, path-style addressing, anonymous access, requester pays,
/// region) from etlake's S3 options, so GDAL reads from the same place the S3 client lists.
pub fn configure_gdal(options: &S3Options) -> Result<()> {
    let set = |k: &str, v: &str| {
        gdal::config::set_config_option(k, v).map_err(|e| Error::Raster {
            path: format!("GDAL option {k}"),
            message: e.to_string(),
        })
    };
    if let Some(e) = &options.endpoint_url {
        let (https, host) = match e.split_once("://") {
            Some((scheme, host)) => (scheme == "https", host.trim_end_matches('/')),
            None => (true, e.as_str()),
        };
        set("AWS_S3_ENDPOINT", host)?;
        set("AWS_HTTPS", if https { "YES" } else { "NO" })?;
        set("AWS_VIRTUAL_HOSTING", "FALSE")?;
    }
    if options.no_sign_request {
        set("AWS_NO_SIGN_REQUEST", "YES")?;
    }
    if options.request_payer {
        set("AWS_REQUEST_PAYER", "requester")?;
    }
    if let Some(r) = &options.region {
        set("AWS_REGION", r)?;
    }
    Ok(())
}

/// Lists one level (with a delimiter: returns the sub-prefixes) or everything below (without).
async fn list_level(
    client: &Client,
    bucket: &str,
    prefix: &str,
    delimiter: Option<&str>,
    payer: bool,
    keep: &Arc<dyn Fn(&str) -> bool + Send + Sync>,
    out: &tokio::sync::mpsc::Sender<Result<ObjectRef>>,
) -> Result<Vec<String>> {
    let mut req = client
        .list_objects_v2()
        .bucket(bucket)
        .prefix(prefix)
        .max_keys(1000);
    if let Some(d) = delimiter {
        req = req.delimiter(d);
    }
    if payer {
        req = req.request_payer(RequestPayer::Requester);
    }
    let mut pages = req.into_paginator().send();
    let mut subs = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| s3_error(&format!("s3://{bucket}/{prefix}"), &e))?;
        subs.extend(
            page.common_prefixes()
                .iter()
                .filter_map(|p| p.prefix().map(str::to_string)),
        );
        for o in page.contents() {
            let Some(key) = o.key() else { continue };
            if !keep(key) {
                continue;
            }
            let obj = ObjectRef {
                uri: format!("s3://{bucket}/{key}"),
                size: o.size().map(|s| s as u64),
                etag: o.e_tag().map(|e| e.trim_matches('"').to_string()),
                body: None,
            };
            if out.send(Ok(obj)).await.is_err() {
                return Ok(vec![]); // the consumer stopped
            }
        }
    }
    Ok(subs)
}

fn s3_error<E, R>(object: &str, e: &aws_sdk_s3::error::SdkError<E, R>) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let code = e
        .as_service_error()
        .and_then(|s| s.code())
        .map(str::to_string);
    let message = match code.as_deref() {
        Some("NoSuchBucket") => "the bucket does not exist (NoSuchBucket)".to_string(),
        Some("AccessDenied") => "access denied (check the credentials' permissions, or --request-payer / --no-sign-request)".to_string(),
        Some("InvalidAccessKeyId") | Some("SignatureDoesNotMatch") | Some("ExpiredToken") => format!(
            "the credentials were refused ({}): check AWS_PROFILE / AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY",
            code.unwrap_or_default()
        ),
        Some("NoSuchKey") => "no such object (NoSuchKey)".to_string(),
        _ => format!("{}", DisplayErrorContext(e)),
    };
    Error::S3 {
        object: object.to_string(),
        message,
    }
}
