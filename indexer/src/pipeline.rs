//! `etlake index`: list sources (S3 globs, local folders, key lists) as a stream, recognise each object,
//! extract documents in parallel (one GDAL dataset per worker), write them in batches, and keep an
//! honest per-object account in the run record. Memory is bounded by the batch, not the lake.
//! The run's account is in `report`, what it derives before listing in `setup`.
mod report;
mod setup;

pub use report::{Report, Stages};

use crate::claims::Annotations;
use crate::feed::{self, Batch, Feed, Work};
use crate::objects::{build, failed_row, object_uri, Context, Row, Yield};
use crate::recognition::Recogniser;
use crate::s3::{Fetch, ObjectRef, S3Options, S3};
use crate::{Error, Result};
use catalog_schema::checkpoint::{self, Version};
use catalog_schema::dataset::{self, NewDataset, Outcome, ProductCache};
use catalog_schema::runs::{self, ObjectOutcome};
use catalog_schema::Catalog;
use rayon::prelude::*;
use report::Accounting;
use serde_json::Value;
use setup::{derivation, listing_prefixes, measurement_definitions, tempdir_for_staging};
use std::path::PathBuf;

/// What to index and how.
#[derive(Debug, Clone, Default)]
pub struct IndexOptions {
    /// `s3://bucket/prefix/**/*.tif`, local paths (globs allowed), `file://` URLs, or `-` for keys on stdin.
    pub sources: Vec<String>,
    /// A file listing one URI per line.
    pub from_file: Option<PathBuf>,
    /// Restrict to these products.
    pub products: Vec<String>,
    /// Datasets per transaction.
    pub batch_size: usize,
    /// S3 settings.
    pub s3: S3Options,
    /// The product-defs folder (its `recognition/` is used).
    pub defs_dir: PathBuf,
    /// Go through every step but write nothing.
    pub dry_run: bool,
    /// What to do with existing datasets whose metadata document changed.
    pub update: dataset::UpdatePolicy,
    /// What to do when a raw file's re-extracted document changed (the object changed): datacube's
    /// safe rules by default, any change with `--allow-unsafe`.
    pub raw_update: dataset::UpdatePolicy,
    /// STAC href prefix rewrites (`FROM`, `TO`).
    pub href_rewrites: Vec<(String, String)>,
    /// Index STAC items as this product whatever their collection says.
    pub rename_product: Option<String>,
    /// Archive less mature datasets of the same product/region/time (leniency in ms).
    pub archive_less_mature: Option<u32>,
    /// Write one JSON line per object (uri, product, dataset, outcome, stage, error) here.
    pub report_file: Option<PathBuf>,
    /// Also index the items of a STAC API search.
    pub stac_api: Option<crate::stac_api::StacSearch>,
    /// Record, skip, or require lineage.
    pub lineage: dataset::LineagePolicy,
    /// Read every object again, even those the crawl checkpoint says are unchanged.
    pub recheck: bool,
    /// Take only this shard's objects (`--shard i/N`); the others are left to the other runs.
    pub shard: Option<crate::shard::Shard>,
    /// Objects given one by one (what an SQS batch announced), indexed before the sources; only their
    /// own checkpoints are read.
    pub objects: Vec<ObjectRef>,
    /// What the run record names as its sources instead of `sources` (e.g. the queue's URL).
    pub run_label: Option<String>,
    /// Append to the `--report` file instead of starting it afresh (one file for a run of many batches).
    pub report_append: bool,
    /// List the objects from this S3 Inventory report (`s3://…/manifest.json`, or an inventory's prefix
    /// for its newest report) instead of listing `sources`, which then select objects of it.
    pub inventory: Option<String>,
}

/// Runs an indexing job. `progress` is called after each batch with the counts so far. With
/// `dry_run` every object goes through the same steps and gets the outcome a real run would give, but
/// nothing is written to the index (not even a run record).
pub fn index(
    catalog: &mut Catalog,
    opts: &IndexOptions,
    progress: &dyn Fn(&Report),
) -> Result<Report> {
    let started = std::time::Instant::now();
    crate::raster::configure_for_indexing();
    let mut recogniser = Recogniser::load_dir(&opts.defs_dir.join("recognition"))?;
    let all_specs = recogniser.clone();
    let mut specs: Vec<String> = recogniser.specs().map(|s| format!("{s:?}")).collect();
    // Routing looks at every spec's rules, also with --product (items of other products are then
    // skipped as not selected, not as unknown).
    let routes = crate::routing::Routes::from_specs(recogniser.specs());
    specs.sort();
    if !opts.products.is_empty() {
        let known: Vec<String> = recogniser.specs().map(|s| s.product.clone()).collect();
        for p in &opts.products {
            if !known.contains(p) {
                return Err(Error::Source {
                    source_arg: format!("--product {p}"),
                    message: format!("no recognition spec for it (known: {})", known.join(", ")),
                });
            }
        }
        recogniser.retain(|s| opts.products.contains(&s.product));
    }
    let products = ProductCache::load(catalog)?;
    let derivation = derivation(&specs, &products, opts);
    let definitions = measurement_definitions(&products);
    let needs_s3 = opts.sources.iter().any(|s| s.starts_with("s3://"))
        || opts.objects.iter().any(|o| o.uri.starts_with("s3://"))
        || opts.from_file.is_some()
        || opts.inventory.is_some()
        || opts.sources.iter().any(|s| s == "-");
    let s3 = if needs_s3 {
        Some(S3::new(&opts.s3)?)
    } else {
        None
    };
    if let Some(s3) = &s3 {
        s3.configure_gdal()?;
    }
    tracing::debug!("s3 client ready");
    // The manifest is read and checked before anything else: a damaged one stops the run at once.
    let inventory = match (&opts.inventory, &s3) {
        (Some(location), Some(s3)) => {
            Some(crate::inventory_listing::Inventory::open(s3, location)?)
        }
        _ => None,
    };
    let mut sources = opts.sources.clone();
    if let Some(f) = &opts.from_file {
        sources.push(format!("@{}", f.display()));
    }
    let jsonl = match &opts.report_file {
        Some(p) => Some(std::io::BufWriter::new(
            std::fs::OpenOptions::new()
                .create(true)
                .write(true)
                .append(opts.report_append)
                .truncate(!opts.report_append)
                .open(p)
                .map_err(|source| Error::Io {
                    path: p.clone(),
                    source,
                })?,
        )),
        None => None,
    };
    let run = if opts.dry_run {
        0
    } else {
        let mut label = match &opts.run_label {
            Some(l) => vec![l.clone()],
            None => sources.clone(),
        };
        if let Some(inv) = &inventory {
            label.insert(0, format!("inventory {}", inv.manifest_uri));
        }
        runs::start(catalog, "index", &label)?
    };
    let mut acc = Accounting {
        report: Report {
            run,
            ..Default::default()
        },
        dry_run: opts.dry_run,
        jsonl,
        jsonl_path: opts.report_file.clone(),
        siblings: crate::unclaimed::Siblings::of_specs(&all_specs),
        all_specs,
    };
    let stage = tempdir_for_staging()?;
    // Objects whose version is the one last indexed are not read again, unless asked (or unless the
    // run means to update documents, which may have to be derived again).
    let checkpoints = if opts.recheck || opts.update != dataset::UpdatePolicy::Never {
        Default::default()
    } else {
        let prefixes: Vec<String> = if let (Some(inv), true) = (&inventory, sources.is_empty()) {
            vec![format!("s3://{}/", inv.manifest.source_bucket)]
        } else if opts.objects.is_empty() {
            listing_prefixes(&sources)
        } else if sources.is_empty() && opts.stac_api.is_none() {
            opts.objects.iter().map(|o| o.uri.clone()).collect()
        } else {
            Vec::new()
        };
        let mut seen = checkpoint::load(catalog, &prefixes)?;
        // With --product, an object of other products goes through recognition (and is skipped).
        if !opts.products.is_empty() {
            seen.retain(|_, s| s.datasets.iter().all(|(_, p)| opts.products.contains(p)));
        }
        seen
    };
    tracing::debug!(checkpoints = checkpoints.len(), "ready to list");

    let (tx, rx) = tokio::sync::mpsc::channel::<Result<ObjectRef>>(10_000);
    let lister = {
        let s3 = s3.clone();
        let sources = sources.clone();
        let api = opts.stac_api.clone();
        let objects = opts.objects.clone();
        let (inventory, shard) = (inventory.clone(), opts.shard);
        std::thread::spawn(move || {
            for o in objects {
                if tx.blocking_send(Ok(o)).is_err() {
                    return;
                }
            }
            match (&inventory, &s3) {
                // The sources select objects of the inventory; a shard reads its share of data files.
                (Some(inv), Some(s3)) => {
                    if let Err(e) = inv.send(s3, &sources, shard, &tx) {
                        let _ = tx.blocking_send(Err(e));
                        return;
                    }
                }
                _ => crate::sources::list_all(&sources, s3.as_ref(), tx.clone()),
            }
            if let Some(api) = api {
                let result = crate::stac_api::search(&api, |o| tx.blocking_send(Ok(o)).is_ok());
                if let Err(e) = result {
                    let _ = tx.blocking_send(Err(e));
                }
            }
        })
    };
    let ctx = Context {
        recogniser: &recogniser,
        routes: &routes,
        definitions: &definitions,
        products: &products,
        s3: s3.as_ref(),
        stage: stage.path(),
        products_filter: &opts.products,
        href_rewrites: &opts.href_rewrites,
        rename_product: opts.rename_product.as_deref(),
        raw_update: opts.raw_update,
        write: dataset::WriteOptions {
            dry_run: opts.dry_run,
            update: opts.update,
            archive_less_mature: opts.archive_less_mature,
            lineage: opts.lineage,
        },
    };
    // Three stages run at once: the feeder lists, recognises and starts reads for batch k+2, a worker
    // extracts batch k+1, and this thread writes batch k. Prepared documents are the heavy part, so the
    // worker hands a batch over only when this thread takes it: memory stays bounded by a few batches.
    let mut listing_error = None;
    // A sibling file goes to the shard of the file that claims it (every spec's, as `skip` tells them).
    let shard_siblings = crate::unclaimed::Siblings::of_specs(&acc.all_specs);
    std::thread::scope(|scope| -> Result<()> {
        let (feed_tx, feed_rx) = std::sync::mpsc::sync_channel(1);
        let (ready_tx, ready_rx) = std::sync::mpsc::sync_channel(0);
        let (recogniser, s3, batch) = (&recogniser, s3.as_ref(), opts.batch_size.max(1));
        let checkpoints = &checkpoints;
        let seen = (checkpoints, derivation.as_str());
        // An inventory run is split by data file already.
        let shard = opts
            .shard
            .filter(|_| inventory.is_none())
            .map(|s| (s, &shard_siblings));
        scope.spawn(move || feed::feed(rx, recogniser, s3, seen, batch, shard, feed_tx));
        let ctx = &ctx;
        scope.spawn(move || {
            for msg in feed_rx {
                let next = match msg {
                    Feed::Batch(b) => Ok(prepare(b, ctx)),
                    Feed::ListingFailed(e) => Err(e),
                };
                if ready_tx.send(next).is_err() {
                    return;
                }
            }
        });
        for ready in ready_rx {
            match ready {
                Ok(b) => {
                    write(catalog, &mut acc, b, ctx, &derivation)?;
                    acc.report.elapsed = started.elapsed();
                    progress(&acc.report);
                }
                Err(e) => listing_error = Some(e),
            }
        }
        Ok(())
    })?;
    let _ = lister.join();
    if let Some(w) = &mut acc.jsonl {
        use std::io::Write;
        let _ = w.flush();
    }
    let mut report = acc.report;
    report.elapsed = started.elapsed();
    let mut counts = serde_json::to_value(&report.counts).unwrap_or_default();
    counts["seconds"] = serde_json::json!(report.elapsed.as_secs_f64());
    if let Some(e) = listing_error {
        counts["error"] = Value::String(e.to_string());
        if !opts.dry_run {
            catalog.reconnecting("finishing the run record", |c| {
                runs::finish(c, run, "failed", &counts)
            })?;
        }
        return Err(e);
    }
    if !opts.dry_run {
        let status = if report.ok() { "succeeded" } else { "partial" };
        catalog.reconnecting("finishing the run record", |c| {
            runs::finish(c, run, status, &counts)
        })?;
    }
    Ok(report)
}

/// A batch ready to write: its datasets, and the account of everything else the feeder and the
/// extraction saw.
struct Prepared {
    datasets: Vec<NewDataset>,
    /// Failures before writing (recognise, read, convert, build).
    rows: Vec<Row>,
    /// (object, reason) of objects skipped.
    skipped: Vec<(String, String)>,
    listed: usize,
    other_shards: usize,
    recognised: usize,
    /// Objects the checkpoint says are unchanged, with their datasets (id, product).
    unchanged: Vec<(String, Vec<(uuid::Uuid, String)>)>,
    /// Raw files with what claimed them, as reported (object URI, recognition).
    claims: Vec<(String, crate::Recognised)>,
    /// (object URI, summary key, detail, example) of notes about objects indexed all the same.
    notes: Vec<(String, String, String, String)>,
    /// Versioned objects of the batch and the datasets (indexes into `datasets`) they gave, when
    /// nothing of theirs failed: their checkpoint is recorded once the datasets are written.
    versions: Vec<(ObjectRef, Vec<usize>)>,
    fetch_ms: u64,
    extract_ms: u64,
}

/// Waits for the batch's remote reads (started by the feeder), then extracts and builds every object's
/// datasets and STAC items in parallel, each worker with its own GDAL handles.
fn prepare(fed: Batch, ctx: &Context<'_>) -> Prepared {
    let t0 = std::time::Instant::now();
    let mut works = fed.works;
    // Each work's read, if the feeder started one, collected in place.
    let pending: Vec<Option<Fetch>> = works
        .iter_mut()
        .map(|w| match w {
            Work::Document(_, f) => f.take(),
            Work::Raw(..) => None,
        })
        .collect();
    let started: Vec<bool> = pending.iter().map(Option::is_some).collect();
    let mut fetched = match ctx.s3 {
        Some(s3) => s3.wait(pending.into_iter().flatten().collect()),
        None => Vec::new(),
    }
    .into_iter();
    let inputs: Vec<(Work, Option<Result<Vec<u8>>>)> = works
        .into_iter()
        .zip(started)
        .map(|(w, read)| (w, if read { fetched.next() } else { None }))
        .collect();
    let t1 = std::time::Instant::now();
    let yields: Vec<Vec<Yield>> = inputs
        .par_iter()
        .map(|(w, read)| build(w, read.as_ref(), ctx))
        .collect();
    let mut out = Prepared {
        datasets: Vec::new(),
        rows: fed
            .failed
            .into_iter()
            .map(|(uri, reason)| Row {
                outcome: failed_row(&uri, None, reason),
                stage: "recognise",
            })
            .chain(fed.unlisted.into_iter().map(|(uri, reason)| Row {
                outcome: failed_row(&uri, None, reason),
                stage: "list",
            }))
            .collect(),
        skipped: fed.skipped,
        listed: fed.listed,
        other_shards: fed.other_shards,
        recognised: inputs.len(),
        unchanged: fed.unchanged,
        claims: Vec::new(),
        notes: Vec::new(),
        versions: Vec::new(),
        fetch_ms: (t1 - t0).as_millis() as u64,
        extract_ms: t1.elapsed().as_millis() as u64,
    };
    for ((work, _), ys) in inputs.iter().zip(yields) {
        let first = out.datasets.len();
        let mut clean = !ys.is_empty();
        if let Work::Raw(obj, rec) = work {
            out.claims.push((object_uri(&obj.uri), rec.clone()));
        }
        for y in ys {
            match y {
                // An object indexed without an optional sibling is not checkpointed: the next run
                // reads it again and picks up the sibling once it arrives.
                Yield::Note(key, detail, example) => {
                    clean = false;
                    out.notes
                        .push((object_uri(&work.object().uri), key, detail, example))
                }
                Yield::Dataset(d) => out.datasets.push(*d),
                Yield::Skipped(reason) => {
                    clean = false;
                    out.skipped.push((work.object().uri.clone(), reason))
                }
                Yield::Failed(row) => {
                    clean = false;
                    out.rows.push(row)
                }
            }
        }
        if clean && work.object().etag.is_some() {
            out.versions
                .push((work.object().clone(), (first..out.datasets.len()).collect()));
        }
    }
    out
}

/// Writes a prepared batch in one transaction and accounts for every object in it.
fn write(
    catalog: &mut Catalog,
    acc: &mut Accounting,
    batch: Prepared,
    ctx: &Context<'_>,
    derivation: &str,
) -> Result<()> {
    let t0 = std::time::Instant::now();
    let stages = &mut acc.report.stages;
    stages.listed += batch.listed;
    stages.other_shards += batch.other_shards;
    stages.recognised += batch.recognised;
    stages.extracted += batch.datasets.len();
    stages.not_reread += batch.unchanged.len();
    for (uri, reason) in &batch.skipped {
        acc.skip(uri, reason, ctx.recogniser)?;
    }
    let mut extra = Annotations::new();
    for (uri, rec) in &batch.claims {
        acc.report.recognition.claimed(uri, rec, &mut extra);
    }
    for (uri, key, detail, example) in &batch.notes {
        acc.report
            .recognition
            .noted(uri, key, (detail.as_str(), example.as_str()), &mut extra);
    }
    let datasets = batch.datasets;
    let mut rows = batch.rows;
    for (uri, ds) in batch.unchanged {
        for (id, product) in ds {
            rows.push(Row {
                outcome: ObjectOutcome {
                    uri: object_uri(&uri),
                    outcome: "unchanged",
                    product: Some(product),
                    dataset: Some(id),
                    reason: Some("not read again: same version as last read".into()),
                },
                stage: "checkpoint",
            });
        }
    }
    let written = catalog.reconnecting("writing a batch", |c| {
        dataset::write_batch(c, ctx.products, &datasets, ctx.write)
    })?;
    let t1 = std::time::Instant::now();
    acc.report.stages.written += datasets.len();
    // Datasets archived by --archive-less-mature get a report row of their own.
    for (i, old) in &written.archived {
        let d = &datasets[*i];
        rows.push(Row {
            outcome: ObjectOutcome {
                uri: d.location.clone().unwrap_or_default(),
                outcome: "archived",
                product: Some(d.prepared.product.clone()),
                dataset: Some(*old),
                reason: Some(format!(
                    "less mature than dataset {} from this object",
                    d.prepared.id
                )),
            },
            stage: "write",
        });
    }
    for (d, o) in datasets.iter().zip(&written.outcomes) {
        let reason = match o {
            Outcome::ExistsDifferent(r) | Outcome::Failed(r) | Outcome::Updated(r) => {
                Some(r.clone())
            }
            _ => None,
        };
        let outcome = ObjectOutcome {
            uri: d.location.clone().unwrap_or_default(),
            outcome: o.label(),
            product: Some(d.prepared.product.clone()),
            dataset: Some(d.prepared.id),
            reason,
        };
        rows.push(Row {
            outcome,
            stage: "write",
        });
    }
    // The objects whose every dataset is now in the index, at the version read.
    let versions: Vec<Version> = batch
        .versions
        .into_iter()
        .filter(|(_, ix)| {
            ix.iter().all(|&i| {
                matches!(
                    written.outcomes.get(i),
                    Some(Outcome::Indexed | Outcome::Unchanged | Outcome::Updated(_))
                )
            })
        })
        .map(|(o, ix)| Version {
            uri: o.uri,
            etag: format!("{}#{derivation}", o.etag.unwrap_or_default()),
            size: o.size,
            datasets: ix.iter().map(|&i| datasets[i].prepared.id).collect(),
        })
        .collect();
    if !ctx.write.dry_run {
        let run = acc.report.run;
        catalog.reconnecting("recording checkpoints", |c| {
            checkpoint::save(c, run, &versions)
        })?;
    }
    acc.record(catalog, rows, &extra)?;
    tracing::debug!(
        listed = batch.listed,
        datasets = datasets.len(),
        fetch_wait_ms = batch.fetch_ms,
        extract_ms = batch.extract_ms,
        write_ms = (t1 - t0).as_millis() as u64,
        record_ms = t1.elapsed().as_millis() as u64,
        "batch written"
    );
    Ok(())
}
