//! `etlake sync`: runs the provider sync of `lake_sync`, prints its account, and with `--index` hands
//! the files now in the lake to the indexer (CHIRPS with the maturity rules), merging the indexer's
//! outcomes into the sync's `--report`.
use crate::cli::{ConnArgs, SyncArgs};
use crate::commands::{open_index, parse_bbox, Success};
use crate::index_command::defs_dir;
use crate::report::print_report;
use lake_sync::{Outcome, Provider};
use std::error::Error;
use std::time::Duration;

fn usage(message: String) -> ! {
    eprintln!("etlake sync: error: {message}");
    std::process::exit(2);
}

pub fn sync(conn: &ConnArgs, a: &SyncArgs) -> Result<Success, Box<dyn Error>> {
    let provider: Provider = a.provider.parse().unwrap_or_else(|e| usage(e));
    let time = lake_sync::time_range::parse(&a.time).unwrap_or_else(|e| usage(e));
    let bbox = a
        .bbox
        .as_ref()
        .map(|b| parse_bbox(b).unwrap_or_else(|e| usage(e.to_string())));
    if a.part_size < 5 {
        usage(format!(
            "--part-size {}: S3 parts are at least 5 MiB",
            a.part_size
        ));
    }
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} {elapsed} [{bar:30}] {bytes}/{total_bytes} {binary_bytes_per_sec} ETA {eta} {msg}",
        )
        .expect("valid template")
        .progress_chars("=> "),
    );
    bar.enable_steady_tick(Duration::from_millis(200));
    let opts = lake_sync::SyncOptions {
        provider,
        products: a
            .products
            .iter()
            .cloned()
            .chain(a.short_name.as_ref().map(|s| {
                if !provider.earthdata() {
                    usage(format!(
                        "--short-name {s}: only for the CMR providers (modis, imerg)"
                    ));
                }
                format!(
                    "{s}.{}",
                    a.collection_version.as_deref().unwrap_or_default()
                )
            }))
            .collect(),
        time,
        bbox,
        to: a.to.clone(),
        base_url: a.base_url.clone(),
        cog: a.cog,
        dry_run: a.dry_run,
        per_host: a.connections_per_host.max(1),
        retries: a.retries,
        max_retry_wait: Duration::from_secs(a.max_retry_wait),
        s3: lake_sync::S3Settings {
            endpoint_url: a.endpoint_url.clone(),
            region: a.region.clone(),
            multipart_threshold: a.multipart_threshold << 20,
            part_size: a.part_size << 20,
        },
        staging: a.staging.clone(),
        progress: Some(bar.clone()),
        page_size: a.page_size.clamp(1, 2000),
        direct_s3: a.direct_s3.then(|| {
            if !provider.earthdata() {
                usage("--direct-s3: only for the CMR providers (modis, imerg)".into());
            }
            lake_sync::direct::DirectSettings {
                credentials_url: a
                    .s3credentials_url
                    .clone()
                    .or_else(|| std::env::var("ETLAKE_S3CREDENTIALS_URL").ok())
                    .unwrap_or_else(|| {
                        match provider {
                            Provider::Imerg => {
                                "https://data.gesdisc.earthdata.nasa.gov/s3credentials"
                            }
                            _ => "https://data.lpdaac.earthdatacloud.nasa.gov/s3credentials",
                        }
                        .into()
                    }),
                endpoint_url: a.direct_endpoint_url.clone(),
                region: a.direct_region.clone(),
            }
        }),
        // landsat: the requester-pays bucket, at the same flags' endpoint and region.
        source_s3: lake_sync::requester_pays::SourceSettings {
            endpoint_url: a.direct_endpoint_url.clone(),
            region: a.direct_region.clone(),
        },
    };
    let mut rows = lake_sync::report::Writer::new(a.report.as_deref()).map_err(|e| {
        format!(
            "--report {}: {e}",
            a.report.as_deref().unwrap_or_else(|| "".as_ref()).display()
        )
    })?;
    let report = match lake_sync::run(&opts, &mut rows) {
        Ok(r) => r,
        Err(lake_sync::Error::Usage(m)) => {
            bar.finish_and_clear();
            usage(m)
        }
        Err(e) => {
            bar.finish_and_clear();
            return Err(e.into());
        }
    };
    bar.finish_and_clear();
    for (url, reason) in &report.discovery_failures {
        eprintln!("{url}: {reason}");
    }
    for f in &report.files {
        if f.outcome == Outcome::Failed {
            eprintln!(
                "{}: {}",
                f.remote.url,
                f.reason.as_deref().unwrap_or("failed")
            );
        }
    }
    let counts: Vec<String> = report
        .counts()
        .iter()
        .map(|(k, v)| format!("{v} {k}"))
        .collect();
    let secs = report.elapsed.as_secs_f64().max(1e-3);
    let mb = report.bytes() as f64 / 1e6;
    println!(
        "sync {}{}: {} files discovered: {} ; {mb:.1} MB received in {secs:.1} s ({:.1} MB/s)",
        a.provider,
        if a.dry_run {
            " dry run (nothing written)"
        } else {
            ""
        },
        report.files.len(),
        if counts.is_empty() {
            "nothing to do".into()
        } else {
            counts.join(", ")
        },
        mb / secs
    );
    for n in &report.notes {
        println!("  note: {n}");
    }
    let mut ok = report.ok();
    if a.index && a.dry_run {
        println!("  --index: not run in a dry run");
    } else if a.index {
        ok &= index(conn, a, provider, &report, &mut rows)?;
    }
    rows.flush();
    Ok(ok)
}

/// Indexes the files now in the lake; the indexer's outcomes become `indexed`/`failed` rows.
fn index(
    conn: &ConnArgs,
    a: &SyncArgs,
    provider: Provider,
    report: &lake_sync::Report,
    rows: &mut lake_sync::report::Writer,
) -> Result<bool, Box<dyn Error>> {
    // Sidecars (MODIS `.hdf.xml`) are kept beside their data file, not indexed themselves. A Landsat
    // scene is indexed from its USGS STAC items (`_SR_stac.json`, `_ST_stac.json`), whose asset
    // hrefs (https://landsatlook.usgs.gov/data/…) are rewritten onto the lake's copy.
    let files: Vec<_> = report
        .in_lake()
        .into_iter()
        .filter(|f| match provider {
            Provider::Landsat => f.location.ends_with("_stac.json"),
            _ => !f.location.ends_with(".xml"),
        })
        .collect();
    let href_rewrites = match (provider, files.first()) {
        (Provider::Landsat, Some(f)) => {
            let root = f
                .location
                .strip_suffix(f.remote.rel.as_str())
                .unwrap_or(&f.location);
            let root = if root.starts_with("s3://") {
                root.to_string()
            } else {
                format!("file://{root}")
            };
            vec![(lake_sync::landsat::USGS_DATA.to_string(), root)]
        }
        _ => Vec::new(),
    };
    if files.is_empty() {
        println!("  --index: nothing in the lake to index");
        return Ok(true);
    }
    let mut c = open_index(conn)?;
    let tmp = tempfile_path();
    let opts = indexer::pipeline::IndexOptions {
        sources: files.iter().map(|f| f.location.clone()).collect(),
        s3: indexer::s3::S3Options {
            endpoint_url: a.endpoint_url.clone(),
            region: a.region.clone(),
            ..Default::default()
        },
        defs_dir: defs_dir(&a.defs),
        batch_size: 250,
        report_file: Some(tmp.clone()),
        archive_less_mature: (provider == Provider::Chirps).then_some(500),
        href_rewrites,
        raw_update: if a.allow_unsafe {
            catalog_schema::dataset::UpdatePolicy::Any
        } else {
            catalog_schema::dataset::UpdatePolicy::Safe
        },
        ..Default::default()
    };
    let result = indexer::pipeline::index(&mut c, &opts, &|_| {});
    let text = std::fs::read_to_string(&tmp).unwrap_or_default();
    let _ = std::fs::remove_file(&tmp);
    let ir = result?;
    for line in text.lines() {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        let outcome = v["outcome"].as_str().unwrap_or_default();
        let event = if outcome == "failed" {
            "failed"
        } else {
            "indexed"
        };
        let mut row = serde_json::json!({
            "event": event, "location": v["uri"].as_str().map(|u| u.strip_prefix("file://").unwrap_or(u)),
            "product": v["product"], "dataset": v["dataset"], "outcome": outcome,
        });
        if event == "failed" {
            row["stage"] = serde_json::json!("index");
            row["reason"] = v["error"].clone();
        }
        rows.row(row);
    }
    print_report(&ir, format!("index run {}", ir.run));
    Ok(ir.ok())
}

fn tempfile_path() -> std::path::PathBuf {
    std::env::temp_dir().join(format!(
        "etlake-sync-index-{}-{}.jsonl",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
    ))
}
