//! S3 access shared by the indexer (and later the model): client set-up from the standard AWS chain
//! plus `--endpoint-url`/`--no-sign-request`/`--request-payer`, streaming listings fanned out over
//! prefixes, object reads, and the matching GDAL `/vsis3/` configuration.
use crate::{Error, Result};
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_s3::types::RequestPayer;
use aws_sdk_s3::Client;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
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
    in_flight: Arc<tokio::sync::Semaphore>,
    /// Cheaper GETs for small documents, falling back on the SDK.
    fast: Option<Arc<crate::fast_get::FastGet>>,
}

/// A whole-object read running in the background ([`S3::spawn_get`]); [`S3::wait`] collects it.
pub struct Fetch {
    uri: String,
    task: tokio::task::JoinHandle<Result<Vec<u8>>>,
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
        let (client, fast) = runtime.block_on(async {
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
            let mut conf = aws_sdk_s3::config::Builder::from(&shared)
                .force_path_style(endpoint.is_some())
                .response_checksum_validation(
                    aws_sdk_s3::config::ResponseChecksumValidation::WhenRequired,
                );
            if shared.region().is_none() {
                conf = conf.region(aws_config::Region::new("us-east-1"));
            }
            let region = shared
                .region()
                .map_or("us-east-1", |r| r.as_ref())
                .to_string();
            let fast = crate::fast_get::FastGet::new(
                &shared,
                endpoint.as_deref(),
                &region,
                options.no_sign_request,
                options.request_payer,
            );
            (Client::from_conf(conf.build()), fast.map(Arc::new))
        });
        let mut options = options.clone();
        options.endpoint_url = endpoint;
        Ok(S3 {
            runtime: Arc::new(runtime),
            client,
            options,
            in_flight: Arc::new(tokio::sync::Semaphore::new(128)),
            fast,
        })
    }

    /// The options in effect (with the endpoint taken from the environment, if any).
    pub fn options(&self) -> &S3Options {
        &self.options
    }

    /// Lists every key under `prefix` accepted by `keep`, sending them to `out` as they arrive. A flat
    /// listing starts at once; when it has more than one page, the first level of "directories" is
    /// probed with a delimiter, and when the probe finds several, the flat listing stops after its
    /// current page and the rest is listed per directory (16 at a time, each resuming after the last
    /// key already sent), so small prefixes pay no extra request and wide lakes list fast, with flat
    /// memory. A missing bucket, denied access or bad credentials end the listing with one error
    /// naming the bucket.
    pub fn list(
        &self,
        bucket: &str,
        prefix: &str,
        keep: Arc<dyn Fn(&str) -> bool + Send + Sync>,
        out: tokio::sync::mpsc::Sender<Result<ObjectRef>>,
    ) -> Result<()> {
        let lister = Lister {
            client: self.client.clone(),
            bucket: bucket.to_string(),
            payer: self.options.request_payer,
            keep,
            out,
        };
        let prefix = prefix.to_string();
        self.runtime.block_on(async move {
            let stop = Arc::new(AtomicBool::new(false));
            let more = Arc::new(tokio::sync::Notify::new());
            let mut flat = {
                let (lister, prefix) = (lister.clone(), prefix.clone());
                let (stop, more) = (stop.clone(), more.clone());
                tokio::spawn(async move {
                    // Asked after each page that has a next one.
                    let until = || {
                        more.notify_one();
                        stop.load(Ordering::Relaxed)
                    };
                    lister.pages(&prefix, None, None, true, &until).await
                })
            };
            let joined = |r: std::result::Result<Result<Listing>, tokio::task::JoinError>| {
                r.map_err(|e| Error::S3 {
                    object: format!("s3://{}/{prefix}", lister.bucket),
                    message: e.to_string(),
                })?
            };
            // The probe waits for the flat listing's first page: a prefix that fits in one page needs
            // none, and the first keys are not delayed by it.
            tokio::select! {
                _ = more.notified() => {}
                done = &mut flat => {
                    joined(done)?;
                    return Ok(());
                }
            }
            let probe = lister
                .pages(&prefix, Some("/"), None, false, &|| flat.is_finished())
                .await?;
            let wide = probe.stopped_after.is_none() && probe.subs.len() >= 2;
            stop.store(wide, Ordering::Relaxed);
            let Some(last) = joined(flat.await)?.stopped_after else {
                return Ok(()); // the flat listing got everything
            };
            // Everything up to `last` was sent: resume each directory (and the loose keys of the top
            // level) after it.
            let limit = Arc::new(tokio::sync::Semaphore::new(16));
            let mut tasks = tokio::task::JoinSet::new();
            let mut rest: Vec<(String, Option<&'static str>, Option<String>)> =
                vec![(prefix.clone(), Some("/"), Some(last.clone()))];
            for sub in probe.subs {
                if last.starts_with(&sub) {
                    rest.push((sub, None, Some(last.clone())));
                } else if sub > last {
                    rest.push((sub, None, None));
                }
            }
            tracing::debug!("the listing fans out after {last}: {} parts", rest.len());
            for (p, delimiter, after) in rest {
                let (lister, limit) = (lister.clone(), limit.clone());
                tasks.spawn(async move {
                    let _permit = limit.acquire().await;
                    lister.pages(&p, delimiter, after, true, &|| false).await
                });
            }
            while let Some(r) = tasks.join_next().await {
                joined(r)?;
            }
            Ok(())
        })
    }

    /// Reads a whole object.
    pub fn get(&self, uri: &str) -> Result<Vec<u8>> {
        self.runtime
            .block_on(sdk_get(&self.client, self.options.request_payer, uri))
    }

    /// Starts reading a whole object in the background and returns at once; at most 128 reads are in
    /// flight per client (small metadata documents are latency-bound: one GET at a time per worker would
    /// cap a crawl at a few hundred per second), later ones queue in the order they were started.
    pub fn spawn_get(&self, uri: &str) -> Fetch {
        let (client, object, limit, payer) = (
            self.client.clone(),
            uri.to_string(),
            self.in_flight.clone(),
            self.options.request_payer,
        );
        let fast = self.fast.clone();
        let task = self.runtime.spawn(async move {
            let (uri, _permit) = (object, limit.acquire_owned().await);
            if let (Some(f), Some((bucket, key))) = (&fast, split_s3(&uri)) {
                if let Some(bytes) = f.get(bucket, key).await {
                    return Ok(bytes);
                }
            }
            sdk_get(&client, payer, &uri).await
        });
        Fetch {
            uri: uri.to_string(),
            task,
        }
    }

    /// Waits for background reads, results in the same order.
    pub fn wait(&self, fetches: Vec<Fetch>) -> Vec<Result<Vec<u8>>> {
        self.runtime.block_on(async {
            let mut out = Vec::with_capacity(fetches.len());
            for f in fetches {
                out.push(f.task.await.unwrap_or_else(|e| {
                    Err(Error::S3 {
                        object: f.uri,
                        message: format!("the read stopped: {e}"),
                    })
                }));
            }
            out
        })
    }

    /// Whether an object exists (a HEAD request): `Ok(false)` only when S3 says there is no such key;
    /// refusals and unreachable endpoints are errors, so an unreadable object is never taken for absent.
    pub fn exists(&self, uri: &str) -> Result<bool> {
        let (bucket, key) = split_s3(uri).ok_or_else(|| Error::S3 {
            object: uri.into(),
            message: "not an s3:// URI".into(),
        })?;
        let mut req = self.client.head_object().bucket(bucket).key(key);
        if self.options.request_payer {
            req = req.request_payer(RequestPayer::Requester);
        }
        match self.runtime.block_on(req.send()) {
            Ok(_) => Ok(true),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => Ok(false),
            Err(e) => Err(s3_error(uri, &e)),
        }
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
    // GDAL retries nothing by default: throttling (429, 503 SlowDown), 500/502/504 and reset
    // connections are retried with its exponential backoff, unless the user set these.
    for (k, v) in [
        ("GDAL_HTTP_MAX_RETRY", "5"),
        ("GDAL_HTTP_RETRY_DELAY", "0.5"),
    ] {
        if gdal::config::get_config_option(k, "")
            .unwrap_or_default()
            .is_empty()
        {
            set(k, v)?;
        }
    }
    Ok(())
}

/// Reads a whole object through the SDK (its retries, its error codes turned into clear messages).
async fn sdk_get(client: &Client, payer: bool, uri: &str) -> Result<Vec<u8>> {
    let (bucket, key) = split_s3(uri).ok_or_else(|| Error::S3 {
        object: uri.into(),
        message: "not an s3:// URI".into(),
    })?;
    // The SDK retries requests that fail (throttling, 5xx, connections refused or reset); a body cut
    // off after the headers is not the SDK's to retry, so the whole read is tried again here.
    let mut delay = std::time::Duration::from_millis(200);
    let mut attempt = 1;
    loop {
        let mut req = client.get_object().bucket(bucket).key(key);
        if payer {
            req = req.request_payer(RequestPayer::Requester);
        }
        let resp = req.send().await.map_err(|e| s3_error(uri, &e))?;
        match resp.body.collect().await {
            Ok(body) => return Ok(body.into_bytes().to_vec()),
            Err(e) if attempt < BODY_ATTEMPTS => {
                tracing::debug!("{uri}: the body stopped ({e}); reading again in {delay:?}");
            }
            Err(e) => {
                return Err(Error::S3 {
                    object: uri.into(),
                    message: format!("the body stopped after {attempt} attempts: {e}"),
                })
            }
        }
        tokio::time::sleep(delay).await;
        delay *= 2;
        attempt += 1;
    }
}

/// Attempts at reading an object's body when it stops short.
const BODY_ATTEMPTS: u32 = 4;

/// What one paginated listing saw.
struct Listing {
    /// The common prefixes (with a delimiter).
    subs: Vec<String>,
    /// The last key seen, when the listing stopped before its end.
    stopped_after: Option<String>,
}

/// The parts of a listing shared by its concurrent requests.
#[derive(Clone)]
struct Lister {
    client: Client,
    bucket: String,
    payer: bool,
    keep: Arc<dyn Fn(&str) -> bool + Send + Sync>,
    out: tokio::sync::mpsc::Sender<Result<ObjectRef>>,
}

impl Lister {
    /// Lists `prefix` page by page (with a delimiter: one level, collecting the sub-prefixes), from
    /// after `start_after`, sending the kept keys when `emit`; `until` is asked after each page and
    /// stops the listing there.
    async fn pages(
        &self,
        prefix: &str,
        delimiter: Option<&str>,
        start_after: Option<String>,
        emit: bool,
        until: &(dyn Fn() -> bool + Sync),
    ) -> Result<Listing> {
        let bucket = &self.bucket;
        let mut req = self
            .client
            .list_objects_v2()
            .bucket(bucket)
            .prefix(prefix)
            .max_keys(1000)
            .set_delimiter(delimiter.map(str::to_string))
            .set_start_after(start_after);
        if self.payer {
            req = req.request_payer(RequestPayer::Requester);
        }
        let mut pages = req.into_paginator().send();
        let mut listing = Listing {
            subs: Vec::new(),
            stopped_after: None,
        };
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| s3_error(&format!("s3://{bucket}/{prefix}"), &e))?;
            listing.subs.extend(
                page.common_prefixes()
                    .iter()
                    .filter_map(|p| p.prefix().map(str::to_string)),
            );
            let mut last = None;
            for o in page.contents() {
                let Some(key) = o.key() else { continue };
                last = Some(key);
                if !emit || !(self.keep)(key) {
                    continue;
                }
                // The version the crawl checkpoint compares: the ETag, or (servers that list none)
                // the modification time and size.
                let etag = o
                    .e_tag()
                    .map(|e| e.trim_matches('"').to_string())
                    .filter(|e| !e.is_empty())
                    .or_else(|| {
                        let t = o.last_modified()?;
                        Some(format!(
                            "modified:{}.{:09}:{}",
                            t.secs(),
                            t.subsec_nanos(),
                            o.size()?
                        ))
                    });
                let obj = ObjectRef {
                    uri: format!("s3://{bucket}/{key}"),
                    size: o.size().map(|s| s as u64),
                    etag,
                    body: None,
                };
                if self.out.send(Ok(obj)).await.is_err() {
                    return Ok(listing); // the consumer stopped
                }
            }
            if page.is_truncated() == Some(true) && until() {
                // Resuming after the last key, or the last sub-prefix when a page held only those.
                let last_sub = listing.subs.last().map(String::as_str);
                listing.stopped_after = last.max(last_sub).map(str::to_string);
                break;
            }
        }
        Ok(listing)
    }
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
