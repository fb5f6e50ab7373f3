//! `etlake sync`: load the lake from the canonical providers. Discover what a provider publishes for a
//! product and time range, compare it with what the lake holds (size, ETag/Last-Modified, checksum),
//! download what is missing or changed resumably into a `.partial`, verify it, and place it under the
//! provider's own layout (a local folder, or an `s3://` prefix) so `etlake index` recognises it.
//! Providers: CHIRPS and gridMET (HTTPS listings), MODIS and GPM IMERG (NASA CMR + Earthdata Login),
//! and Landsat Collection 2 Level-2 (USGS's STAC API + the requester-pays `s3://usgs-landsat`).
//! The CLI (`etlake sync`) indexes what was synced with the indexer; this crate never calls back.
pub mod cmr;
pub mod dest;
pub mod direct;
pub mod download;
pub mod earthdata;
pub mod edl;
pub mod http;
pub mod landsat;
pub mod listing;
pub mod providers;
pub mod report;
pub mod requester_pays;
pub mod secrets;
pub mod time_range;
pub mod verify;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

pub use providers::Provider;

/// What can stop a sync before any file is tried (usage or set-up errors); per-file problems are
/// reported per file instead.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad arguments: the message says which and why.
    #[error("{0}")]
    Usage(String),
    /// The destination or the runtime could not be set up.
    #[error("{object}: {message}")]
    Setup {
        /// What failed (a path, a bucket).
        object: String,
        /// Why.
        message: String,
    },
}

/// Result of this crate.
pub type Result<T> = std::result::Result<T, Error>;

/// A checksum a provider publishes for a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checksum {
    /// `MD5`, `SHA-256` or `SHA-512` (as CMR's UMM-G names them).
    pub algorithm: String,
    /// Lower-case hex digest.
    pub value: String,
}

/// One file the provider publishes.
#[derive(Debug, Clone)]
pub struct Remote {
    /// Where to download it.
    pub url: String,
    /// Its path in the lake, relative to the destination (the provider's canonical layout).
    pub rel: String,
    /// The ODC product it belongs to.
    pub product: String,
    /// Maturity the indexer will give it (`final`, `interim`), when the provider distinguishes.
    pub maturity: Option<&'static str>,
    /// Size in bytes (HEAD's Content-Length).
    pub size: Option<u64>,
    /// ETag as the server sent it (quotes included).
    pub etag: Option<String>,
    /// Last-Modified.
    pub last_modified: Option<SystemTime>,
    /// Checksum, when the provider publishes one.
    pub checksum: Option<Checksum>,
    /// `s3://` URL read directly (in-region with `s3credentials`, or from a requester-pays
    /// bucket) instead of `url`.
    pub direct: Option<String>,
}

/// What happened to one discovered file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Outcome {
    /// Already in the lake with the same size and validators.
    Skipped,
    /// New in the lake.
    Downloaded,
    /// In the lake before, but the provider's copy changed: replaced.
    Replaced,
    /// Dry run: would be downloaded.
    WouldDownload,
    /// Dry run: would be replaced.
    WouldReplace,
    /// Could not be synced (reason in the row).
    Failed,
}

impl Outcome {
    /// The word used in reports.
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Skipped => "skipped",
            Outcome::Downloaded => "downloaded",
            Outcome::Replaced => "replaced",
            Outcome::WouldDownload => "would-download",
            Outcome::WouldReplace => "would-replace",
            Outcome::Failed => "failed",
        }
    }
}

/// The account of one file.
#[derive(Debug, Clone)]
pub struct FileResult {
    /// The file as discovered (validators as last seen).
    pub remote: Remote,
    /// What happened.
    pub outcome: Outcome,
    /// Where it is (or would be) in the lake: a local path or an `s3://` URI.
    pub location: String,
    /// Body bytes received in this run.
    pub bytes: u64,
    /// How it was verified (`size`, `md5`, …).
    pub verified: Option<String>,
    /// Why it failed, or notes (e.g. restarted because the server ignored Range).
    pub reason: Option<String>,
}

/// Where the lake is and how to reach S3.
#[derive(Debug, Clone, Default)]
pub struct S3Settings {
    /// Custom endpoint (path-style addressing then); also `$AWS_ENDPOINT_URL`.
    pub endpoint_url: Option<String>,
    /// Region (default: the AWS chain's, else us-east-1).
    pub region: Option<String>,
    /// Objects of at least this many bytes are uploaded in parts.
    pub multipart_threshold: u64,
    /// Part size of multipart uploads (at least 5 MiB, S3's minimum).
    pub part_size: u64,
}

/// Everything a sync needs.
#[derive(Debug, Clone)]
pub struct SyncOptions {
    /// The provider.
    pub provider: Provider,
    /// The products (provider-specific defaults when empty).
    pub products: Vec<String>,
    /// First and last day, inclusive.
    pub time: (chrono::NaiveDate, chrono::NaiveDate),
    /// Longitude/latitude box W,S,E,N: a provider whose coverage it misses has nothing to sync.
    pub bbox: Option<[f64; 4]>,
    /// `DIR` or `s3://bucket/prefix`.
    pub to: String,
    /// The provider's base URL (default: its public one, or the provider's environment variable).
    pub base_url: Option<String>,
    /// CHIRPS: take the cloud-optimised GeoTIFFs (`cogs/`) of final days instead of `tifs/`.
    pub cog: bool,
    /// Plan only: report what would be downloaded or replaced.
    pub dry_run: bool,
    /// Requests in flight per host.
    pub per_host: usize,
    /// Attempts per request after the first (429/503/5xx, dropped connections).
    pub retries: u32,
    /// The longest wait a `Retry-After` is allowed to impose.
    pub max_retry_wait: Duration,
    /// S3 settings (for an `s3://` destination).
    pub s3: S3Settings,
    /// Where `.partial` files of an S3 destination are kept (they resume from there).
    pub staging: Option<PathBuf>,
    /// Progress bar (bytes with rate and ETA; files in the message).
    pub progress: Option<indicatif::ProgressBar>,
    /// CMR granule search: items per page.
    pub page_size: usize,
    /// modis, imerg: read the DAAC's buckets directly with temporary `s3credentials`.
    pub direct_s3: Option<direct::DirectSettings>,
    /// landsat: where the requester-pays bucket is (region, endpoint).
    pub source_s3: requester_pays::SourceSettings,
}

impl Default for SyncOptions {
    fn default() -> Self {
        SyncOptions {
            provider: Provider::Chirps,
            products: Vec::new(),
            time: (chrono::NaiveDate::MIN, chrono::NaiveDate::MIN),
            bbox: None,
            to: String::new(),
            base_url: None,
            cog: false,
            dry_run: false,
            per_host: 8,
            retries: 6,
            max_retry_wait: Duration::from_secs(120),
            s3: S3Settings {
                endpoint_url: None,
                region: None,
                multipart_threshold: 64 << 20,
                part_size: 16 << 20,
            },
            staging: None,
            progress: None,
            page_size: 2000,
            direct_s3: None,
            source_s3: requester_pays::SourceSettings::default(),
        }
    }
}

/// The account of a sync.
#[derive(Debug, Default)]
pub struct Report {
    /// One entry per discovered file, in discovery order.
    pub files: Vec<FileResult>,
    /// Discovery problems (a listing that failed): (URL, reason).
    pub discovery_failures: Vec<(String, String)>,
    /// Wall time.
    pub elapsed: Duration,
    /// A note when the bbox misses the provider's coverage.
    pub notes: Vec<String>,
}

impl Report {
    /// Nothing failed.
    pub fn ok(&self) -> bool {
        self.discovery_failures.is_empty()
            && self.files.iter().all(|f| f.outcome != Outcome::Failed)
    }

    /// Outcome → count.
    pub fn counts(&self) -> std::collections::BTreeMap<&'static str, usize> {
        let mut m = std::collections::BTreeMap::new();
        for f in &self.files {
            *m.entry(f.outcome.name()).or_insert(0) += 1;
        }
        m
    }

    /// Body bytes received.
    pub fn bytes(&self) -> u64 {
        self.files.iter().map(|f| f.bytes).sum()
    }

    /// The files now in the lake (skipped as present, downloaded or replaced), as locations.
    pub fn in_lake(&self) -> Vec<&FileResult> {
        self.files
            .iter()
            .filter(|f| {
                matches!(
                    f.outcome,
                    Outcome::Skipped | Outcome::Downloaded | Outcome::Replaced
                )
            })
            .collect()
    }
}

/// Runs a sync: discover, plan, fetch, verify, place. Rows go to `report` as they happen.
pub fn run(opts: &SyncOptions, report: &mut report::Writer) -> Result<Report> {
    let started = std::time::Instant::now();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Error::Setup {
            object: "tokio runtime".into(),
            message: e.to_string(),
        })?;
    let mut r = runtime.block_on(run_async(opts, report))?;
    r.elapsed = started.elapsed();
    Ok(r)
}

async fn run_async(opts: &SyncOptions, rows: &mut report::Writer) -> Result<Report> {
    let mut http = http::Http::new(opts.per_host, opts.retries, opts.max_retry_wait)?;
    if opts.provider.earthdata() && !opts.dry_run {
        let edl = edl::from_env().map_err(|message| Error::Setup {
            object: "Earthdata Login".into(),
            message,
        })?;
        if edl.credential.is_none() {
            tracing::warn!(
                "no Earthdata Login credential (EARTHDATA_TOKEN, EARTHDATA_USERNAME/EARTHDATA_PASSWORD or .netrc for {})",
                edl.host
            );
        }
        http = http.with_edl(edl);
    }
    let http = Arc::new(http);
    let direct = opts
        .direct_s3
        .clone()
        .map(|s| Arc::new(direct::Direct::new(http.clone(), s)));
    let source = match opts.provider {
        Provider::Landsat => Some(Arc::new(
            requester_pays::RequesterPays::new(&opts.source_s3).await,
        )),
        _ => None,
    };
    let dest = Arc::new(dest::Dest::open(&opts.to, &opts.s3, opts.staging.as_deref()).await?);
    let mut report = Report::default();
    let found = providers::discover(&http, opts, source.as_ref()).await?;
    report.notes = found.notes;
    for (url, reason) in &found.failures {
        rows.row(serde_json::json!({"event": "failed", "url": url, "stage": "discover", "reason": reason}));
    }
    report.discovery_failures = found.failures;
    // Plan: compare each file with the lake. What the lake holds is looked up first, so that only
    // the files it has (or, in a dry run, all) are HEADed when discovery gave no validators.
    let mut planned = Vec::with_capacity(found.files.len());
    for remote in found.files {
        let present = dest.present(&remote.rel).await;
        planned.push((remote, present));
    }
    if !found.validated {
        let wanted: Vec<usize> = (0..planned.len())
            .filter(|&i| opts.dry_run || matches!(planned[i].1, Ok(Some(_))))
            .collect();
        let heads = providers::head_all(
            &http,
            wanted.iter().map(|&i| planned[i].0.clone()).collect(),
        )
        .await?;
        let mut unpublished = vec![false; planned.len()];
        for (i, head) in wanted.into_iter().zip(heads) {
            match head {
                Ok(r) => planned[i].0 = r,
                Err(f) => {
                    rows.row(serde_json::json!({"event": "failed", "url": f.0, "stage": "discover", "reason": f.1}));
                    report.discovery_failures.push(f);
                    unpublished[i] = true;
                }
            }
        }
        let mut keep = unpublished.into_iter().map(|u| !u);
        planned.retain(|_| keep.next().unwrap_or(true));
    }
    let mut todo = Vec::new();
    for (remote, present) in planned {
        let location = dest.location(&remote.rel);
        rows.row(report::discovered(&remote, &location));
        let present = match present {
            Ok(p) => p,
            Err(e) => {
                let reason = format!("reading the lake's copy: {e}");
                rows.row(report::result_row(
                    &remote,
                    &location,
                    Outcome::Failed,
                    0,
                    None,
                    Some(&reason),
                ));
                report.files.push(FileResult {
                    remote,
                    outcome: Outcome::Failed,
                    location,
                    bytes: 0,
                    verified: None,
                    reason: Some(reason),
                });
                continue;
            }
        };
        let outcome = match &present {
            Some(p) if dest::up_to_date(p, &remote) => Outcome::Skipped,
            Some(_) => Outcome::Replaced,
            None => Outcome::Downloaded,
        };
        let outcome = match (opts.dry_run, outcome) {
            (true, Outcome::Downloaded) => Outcome::WouldDownload,
            (true, Outcome::Replaced) => Outcome::WouldReplace,
            (_, o) => o,
        };
        if matches!(outcome, Outcome::Downloaded | Outcome::Replaced) {
            todo.push((remote, outcome, location));
        } else {
            let reason = present
                .as_ref()
                .filter(|_| outcome == Outcome::WouldReplace)
                .map(|p| dest::difference(p, &remote));
            rows.row(report::result_row(
                &remote,
                &location,
                outcome,
                0,
                None,
                reason.as_deref(),
            ));
            report.files.push(FileResult {
                remote,
                outcome,
                location,
                bytes: 0,
                verified: None,
                reason,
            });
        }
    }
    let total_bytes: u64 = todo.iter().filter_map(|(r, _, _)| r.size).sum();
    let total_files = todo.len();
    if let Some(bar) = &opts.progress {
        bar.set_length(total_bytes);
        bar.set_message(format!("0/{total_files} files"));
    }
    let done = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    for (remote, outcome, location) in todo {
        let (http, dest, bar, done, direct, source) = (
            http.clone(),
            dest.clone(),
            opts.progress.clone(),
            done.clone(),
            direct.clone(),
            source.clone(),
        );
        tasks.spawn(async move {
            let via = Via {
                direct: direct.as_deref(),
                requester_pays: source.as_deref(),
            };
            let result = sync_one(&http, &dest, &remote, bar.as_ref(), via).await;
            let n = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
            if let Some(bar) = &bar {
                bar.set_message(format!("{n}/{total_files} files"));
            }
            (remote, outcome, location, result)
        });
    }
    while let Some(joined) = tasks.join_next().await {
        let (remote, outcome, location, result) = joined.map_err(|e| Error::Setup {
            object: "download task".into(),
            message: e.to_string(),
        })?;
        let file = match result {
            Ok(done) => {
                rows.row(report::result_row(
                    &done.remote,
                    &location,
                    outcome,
                    done.bytes,
                    None,
                    done.note.as_deref(),
                ));
                rows.row(
                    report::result_row(
                        &done.remote,
                        &location,
                        outcome,
                        0,
                        Some(&done.verified),
                        None,
                    )
                    .tap_event("verified"),
                );
                FileResult {
                    remote: done.remote,
                    outcome,
                    location,
                    bytes: done.bytes,
                    verified: Some(done.verified),
                    reason: done.note,
                }
            }
            Err((bytes, reason)) => {
                let reason = secrets::redact_urls(&reason);
                rows.row(report::result_row(
                    &remote,
                    &location,
                    Outcome::Failed,
                    bytes,
                    None,
                    Some(&reason),
                ));
                FileResult {
                    remote,
                    outcome: Outcome::Failed,
                    location,
                    bytes,
                    verified: None,
                    reason: Some(reason),
                }
            }
        };
        report.files.push(file);
    }
    if let Some(bar) = &opts.progress {
        bar.finish_and_clear();
    }
    Ok(report)
}

/// A file fetched, verified and placed.
struct Synced {
    remote: Remote,
    bytes: u64,
    verified: String,
    note: Option<String>,
}

/// How a file's `direct` S3 URL is read, if at all.
#[derive(Clone, Copy)]
struct Via<'a> {
    /// With Earthdata's temporary credentials.
    direct: Option<&'a direct::Direct>,
    /// From a requester-pays bucket with the AWS credential chain.
    requester_pays: Option<&'a requester_pays::RequesterPays>,
}

/// Fetch one file into its `.partial`, verify it, place it. Errors carry the bytes received.
async fn sync_one(
    http: &http::Http,
    dest: &dest::Dest,
    remote: &Remote,
    bar: Option<&indicatif::ProgressBar>,
    via: Via<'_>,
) -> std::result::Result<Synced, (u64, String)> {
    let partial = dest.partial_path(&remote.rel);
    let fetched = match (via.direct, via.requester_pays, &remote.direct) {
        (_, Some(rp), Some(s3_url)) => {
            let _permit = http.permit(s3_url).await;
            let (bytes, note) = rp
                .fetch(s3_url, remote.etag.as_deref(), &partial, bar)
                .await?;
            download::Fetched {
                remote: remote.clone(),
                bytes,
                note,
            }
        }
        (Some(d), _, Some(s3_url)) => {
            let _permit = http.permit(s3_url).await;
            let bytes = d.fetch(s3_url, &partial, bar).await?;
            download::Fetched {
                remote: remote.clone(),
                bytes,
                note: Some("read directly from S3 with temporary s3credentials".into()),
            }
        }
        _ => {
            let _permit = http.permit(&remote.url).await;
            download::fetch(http, remote, &partial, bar).await?
        }
    };
    let remote = fetched.remote.clone();
    let verified = match verify::verify(&partial, remote.size, remote.checksum.as_ref()) {
        // The requester-pays read also checked the object's ETag against the one discovered.
        Ok(how) if via.requester_pays.is_some() && remote.etag.is_some() => format!("{how}+etag"),
        Ok(how) => how,
        Err(e) => {
            download::discard(&partial);
            return Err((fetched.bytes, e));
        }
    };
    dest.place(&remote, &partial)
        .await
        .map_err(|e| (fetched.bytes, format!("placing in the lake: {e}")))?;
    Ok(Synced {
        remote,
        bytes: fetched.bytes,
        verified,
        note: fetched.note,
    })
}

trait TapEvent {
    fn tap_event(self, event: &str) -> Self;
}

impl TapEvent for serde_json::Value {
    fn tap_event(mut self, event: &str) -> Self {
        self["event"] = serde_json::json!(event);
        self
    }
}
