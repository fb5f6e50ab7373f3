//! `etlake index`: list sources (S3 globs, local folders, key lists) as a stream, recognise each object,
//! extract documents in parallel (one GDAL dataset per worker), write them in batches, and keep an
//! honest per-object account in the run record. Memory is bounded by the batch, not the lake.
use crate::crs::GdalCrs;
use crate::extract::{self, Draft, MeasurementDef, ProductDef};
use crate::recognition::Recogniser;
use crate::s3::{split_s3, ObjectRef, S3Options, S3};
use crate::{Error, Result};
use catalog_schema::dataset::{self, NewDataset, Outcome, ProductCache};
use catalog_schema::runs::{self, ObjectOutcome};
use catalog_schema::{eo3, stac_eo3, stac_item, Catalog};
use rayon::prelude::*;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

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
}

/// The account of a run.
#[derive(Debug, Default, Clone)]
pub struct Report {
    /// Run id.
    pub run: i64,
    /// outcome → count (`indexed`, `unchanged`, `exists-different`, `skipped`, `failed`).
    pub counts: BTreeMap<&'static str, usize>,
    /// (object, reason) of everything failed or different.
    pub problems: Vec<(String, String)>,
    /// Skip reasons → count (not stored per object: a lake has many files no product claims).
    pub skipped: BTreeMap<String, usize>,
    /// Wall time so far.
    pub elapsed: std::time::Duration,
    /// Objects through each stage so far.
    pub stages: Stages,
}

/// Per-stage counts: objects listed, recognised (a template or a metadata document), extracted (datasets
/// built from them) and written (datasets whose batch committed, whatever their outcome).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Stages {
    /// Objects listed.
    pub listed: usize,
    /// Objects recognised as a product's file or a metadata document.
    pub recognised: usize,
    /// Datasets built.
    pub extracted: usize,
    /// Datasets through the batch writer.
    pub written: usize,
}

impl Report {
    /// True when nothing failed.
    pub fn ok(&self) -> bool {
        self.counts.get("failed").copied().unwrap_or(0) == 0
    }
    pub(crate) fn add(&mut self, label: &'static str) {
        *self.counts.entry(label).or_insert(0) += 1;
    }
}

thread_local! {
    static CRS: GdalCrs = GdalCrs::new();
}

/// Where every outcome goes: the counts and problems of the [`Report`], the run record in the index
/// (unless dry run), and the `--report` JSON-lines file.
struct Accounting {
    report: Report,
    dry_run: bool,
    jsonl: Option<std::io::BufWriter<std::fs::File>>,
    jsonl_path: Option<PathBuf>,
}

/// One object's outcome at one stage (`recognise`, `extract`, `write`).
struct Row {
    outcome: ObjectOutcome,
    stage: &'static str,
}

impl Accounting {
    fn skip(&mut self, uri: &str, reason: &str) -> Result<()> {
        self.report.add("skipped");
        *self.report.skipped.entry(reason.to_string()).or_insert(0) += 1;
        self.write_line(&serde_json::json!({"uri": object_uri(uri), "outcome": "skipped", "stage": "recognise", "error": reason}))
    }

    fn record(&mut self, catalog: &mut Catalog, rows: Vec<Row>) -> Result<()> {
        for r in &rows {
            let o = &r.outcome;
            self.report.add(o.outcome);
            if let (Some(reason), "failed" | "exists-different") = (&o.reason, o.outcome) {
                self.report.problems.push((o.uri.clone(), reason.clone()));
            }
            self.write_line(&serde_json::json!({
                "uri": o.uri, "product": o.product, "dataset": o.dataset, "outcome": o.outcome,
                "stage": r.stage, "error": o.reason,
            }))?;
        }
        if !self.dry_run {
            let outcomes: Vec<ObjectOutcome> = rows.into_iter().map(|r| r.outcome).collect();
            runs::record(catalog, self.report.run, &outcomes)?;
        }
        Ok(())
    }

    fn write_line(&mut self, v: &Value) -> Result<()> {
        use std::io::Write;
        if let (Some(w), Some(p)) = (&mut self.jsonl, &self.jsonl_path) {
            writeln!(w, "{v}").map_err(|source| Error::Io {
                path: p.clone(),
                source,
            })?;
        }
        Ok(())
    }
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
    let definitions = measurement_definitions(&products);
    let needs_s3 = opts.sources.iter().any(|s| s.starts_with("s3://"))
        || opts.from_file.is_some()
        || opts.sources.iter().any(|s| s == "-");
    let s3 = if needs_s3 {
        Some(S3::new(&opts.s3)?)
    } else {
        None
    };
    if let Some(s3) = &s3 {
        s3.configure_gdal()?;
    }
    let mut sources = opts.sources.clone();
    if let Some(f) = &opts.from_file {
        sources.push(format!("@{}", f.display()));
    }
    let jsonl = match &opts.report_file {
        Some(p) => Some(std::io::BufWriter::new(std::fs::File::create(p).map_err(
            |source| Error::Io {
                path: p.clone(),
                source,
            },
        )?)),
        None => None,
    };
    let run = if opts.dry_run {
        0
    } else {
        runs::start(catalog, "index", &sources)?
    };
    let mut acc = Accounting {
        report: Report {
            run,
            ..Default::default()
        },
        dry_run: opts.dry_run,
        jsonl,
        jsonl_path: opts.report_file.clone(),
    };
    let stage = tempdir_for_staging()?;

    let (tx, mut rx) = tokio::sync::mpsc::channel::<Result<ObjectRef>>(10_000);
    let lister = {
        let s3 = s3.clone();
        let sources = sources.clone();
        let api = opts.stac_api.clone();
        std::thread::spawn(move || {
            list_all(&sources, s3.as_ref(), tx.clone());
            if let Some(api) = api {
                let result = crate::stac_api::search(&api, |o| tx.blocking_send(Ok(o)).is_ok());
                if let Err(e) = result {
                    let _ = tx.blocking_send(Err(e));
                }
            }
        })
    };
    let batch = opts.batch_size.max(1);
    let mut pending: Vec<Work> = Vec::new();
    let mut listing_error = None;
    loop {
        let next = rx.blocking_recv();
        let done = next.is_none();
        if matches!(next, Some(Ok(_))) {
            acc.report.stages.listed += 1;
            // Between batches too, so a long listing shows life.
            if acc.report.stages.listed.is_multiple_of(500) {
                acc.report.elapsed = started.elapsed();
                progress(&acc.report);
            }
        }
        match next {
            Some(Ok(obj)) if obj.body.is_some() || is_document_key(&obj.uri) => {
                acc.report.stages.recognised += 1;
                pending.push(Work::Document(obj))
            }
            Some(Ok(obj)) => match recogniser.recognise(&obj.uri) {
                Ok(Some(r)) => {
                    acc.report.stages.recognised += 1;
                    pending.push(Work::Raw(obj, r))
                }
                Ok(None) => acc.skip(&obj.uri, "no template matches")?,
                Err(e) => {
                    let row = Row {
                        outcome: failed_row(&obj.uri, None, e.to_string()),
                        stage: "recognise",
                    };
                    acc.record(catalog, vec![row])?;
                }
            },
            Some(Err(e)) => {
                listing_error = Some(e);
                break;
            }
            None => {}
        }
        if pending.len() >= batch || (done && !pending.is_empty()) {
            let chunk = std::mem::take(&mut pending);
            let ctx = Context {
                recogniser: &recogniser,
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
            process(catalog, &mut acc, &chunk, &ctx)?;
            acc.report.elapsed = started.elapsed();
            progress(&acc.report);
        }
        if done {
            break;
        }
    }
    drop(rx);
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
            runs::finish(catalog, run, "failed", &counts)?;
        }
        return Err(e);
    }
    if !opts.dry_run {
        let status = if report.ok() { "succeeded" } else { "partial" };
        runs::finish(catalog, run, status, &counts)?;
    }
    Ok(report)
}

/// What every batch needs besides the catalog.
struct Context<'a> {
    recogniser: &'a Recogniser,
    definitions: &'a BTreeMap<String, ProductDef>,
    products: &'a ProductCache,
    s3: Option<&'a S3>,
    stage: &'a Path,
    products_filter: &'a [String],
    href_rewrites: &'a [(String, String)],
    rename_product: Option<&'a str>,
    write: dataset::WriteOptions,
    raw_update: dataset::UpdatePolicy,
}

/// One unit of work: a raw file a template recognised, or a metadata document (eo3 or STAC).
enum Work {
    Raw(ObjectRef, crate::Recognised),
    Document(ObjectRef),
}

impl Work {
    fn object(&self) -> &ObjectRef {
        match self {
            Work::Raw(o, _) | Work::Document(o) => o,
        }
    }
}

/// The stage marker of objects that are skipped, not failed.
const SKIP: &str = "skip";

/// Whether a key names a metadata document rather than a raster.
fn is_document_key(uri: &str) -> bool {
    let lower = uri.to_lowercase();
    [".json", ".yaml", ".yml"]
        .iter()
        .any(|e| lower.ends_with(e))
}

/// (location, prepared dataset) pairs of one object, or (product if known, reason, stage).
type Extracted = std::result::Result<
    Vec<(String, eo3::PreparedDataset)>,
    (Option<String>, String, &'static str),
>;

fn extract_raw(obj: &ObjectRef, rec: &crate::Recognised, ctx: &Context<'_>) -> Extracted {
    let fail = |m: String, stage| (Some(rec.product.clone()), m, stage);
    let spec = ctx
        .recogniser
        .spec(&rec.product)
        .ok_or_else(|| fail("no spec".into(), "recognise"))?;
    let defs = ctx.definitions.get(&rec.product).ok_or_else(|| {
        fail(
            format!(
                "product {:?} is not in the index (add it with `etlake product add`)",
                rec.product
            ),
            "extract",
        )
    })?;
    let drafts = extract::extract(obj, rec, spec, defs, ctx.s3, ctx.stage)
        .map_err(|e| fail(e.to_string(), "extract"))?;
    drafts
        .into_iter()
        .map(|d: Draft| {
            CRS.with(|crs| eo3::prepare(&d.eo3, crs))
                .map(|p| (d.location, p))
                .map_err(|m| fail(format!("{}: {m}", obj.uri), "build"))
        })
        .collect()
}

/// The item as it should be converted: `--rename-product`, `--href-rewrite`, and for items with no
/// projection information the grid from the scene's `_MTL.json` or its first data asset's header.
fn prepare_item(
    mut item: Value,
    obj: &ObjectRef,
    ctx: &Context<'_>,
) -> std::result::Result<Value, String> {
    if let Some(name) = ctx.rename_product {
        if let Some(p) = item.get_mut("properties").and_then(Value::as_object_mut) {
            p.insert("odc:product".into(), Value::String(name.to_string()));
        }
    }
    stac_eo3::rewrite_hrefs(&mut item, ctx.href_rewrites);
    crate::item_grid::ensure_grid(&mut item, &obj.uri, ctx.s3)?;
    Ok(item)
}

/// A metadata document: eo3 as it is, STAC converted the way datacube's converter does. The location
/// is the document's own `location`/`self` link, else the object's URI.
fn extract_document(
    obj: &ObjectRef,
    fetched: Option<&Result<Vec<u8>>>,
    ctx: &Context<'_>,
) -> Extracted {
    let uri = object_uri(&obj.uri);
    let fail = |m: String, stage| (None, m, stage);
    let bytes = match (&obj.body, fetched) {
        (Some(b), _) => b.to_vec(),
        (None, Some(Ok(b))) => b.clone(),
        (None, Some(Err(e))) => return Err(fail(e.to_string(), "read")),
        (None, None) => {
            std::fs::read(&obj.uri).map_err(|e| fail(format!("{}: {e}", obj.uri), "read"))?
        }
    };
    let text =
        String::from_utf8(bytes).map_err(|_| fail(format!("{uri}: not UTF-8 text"), "read"))?;
    let docs = catalog_schema::document::parse_documents(&uri, &text)
        .map_err(|e| fail(e.to_string(), "read"))?;
    let mut out = Vec::new();
    for d in docs {
        let (eo3_doc, location) = if stac_eo3::is_stac_item(&d.value) {
            let item = prepare_item(d.value.clone(), obj, ctx)
                .map_err(|m| (None, format!("{}: {m}", d.object), "convert"))?;
            let d = catalog_schema::document::SourceDoc {
                object: d.object.clone(),
                value: item,
            };
            let product = stac_eo3::product_name(&d.value).unwrap_or_default();
            let defs = ctx.definitions.get(&product);
            let canonical = |key: &str| defs.and_then(|p| p.canonical(key));
            let converted = CRS
                .with(|crs| stac_eo3::convert(&d.value, &canonical, crs))
                .map_err(|m| {
                    (
                        Some(product.clone()),
                        format!("{}: {m}", d.object),
                        "convert",
                    )
                })?;
            (
                converted,
                stac_eo3::self_href(&d.value).unwrap_or_else(|| uri.clone()),
            )
        } else if d.value.get("$schema").is_some() {
            (d.value.clone(), uri.clone())
        } else {
            // Sidecars such as Landsat _MTL.json sit beside the items: not ours to index.
            return Err(fail("not an eo3 document or STAC item".into(), SKIP));
        };
        let mut prepared = CRS
            .with(|crs| eo3::prepare(&eo3_doc, crs))
            .map_err(|m| (None, format!("{}: {m}", d.object), "build"))?;
        let location = prepared.embedded_location.clone().unwrap_or(location);
        if stac_eo3::is_stac_item(&d.value) {
            // datacube's STAC path (dc-tools `--stac`) stores `lineage: {}`, not `{source_datasets: {}}`:
            // keep the same bytes so a lake indexed by dc-tools compares `unchanged`.
            prepared.stored["lineage"] = serde_json::json!({});
        }
        out.push((location, prepared));
    }
    Ok(out)
}

fn process(
    catalog: &mut Catalog,
    acc: &mut Accounting,
    chunk: &[Work],
    ctx: &Context<'_>,
) -> Result<()> {
    // Remote documents first, all at once (latency-bound); then extraction and document preparation in
    // parallel, each worker with its own GDAL handles.
    let remote: Vec<String> = chunk
        .iter()
        .filter_map(|w| match w {
            Work::Document(o) if o.body.is_none() && o.uri.starts_with("s3://") => {
                Some(o.uri.clone())
            }
            _ => None,
        })
        .collect();
    let fetched: std::collections::HashMap<&str, Result<Vec<u8>>> = match ctx.s3 {
        Some(s3) if !remote.is_empty() => remote
            .iter()
            .map(String::as_str)
            .zip(s3.get_many(&remote))
            .collect(),
        _ => Default::default(),
    };
    let results: Vec<Extracted> = chunk
        .par_iter()
        .map(|w| match w {
            Work::Raw(obj, rec) => extract_raw(obj, rec, ctx),
            Work::Document(obj) => extract_document(obj, fetched.get(obj.uri.as_str()), ctx),
        })
        .collect();
    let mut batch = Vec::new();
    let mut rows = Vec::new();
    for (work, result) in chunk.iter().zip(results) {
        let obj = work.object();
        let items = match result {
            Ok(items) => items,
            Err((_, reason, SKIP)) => {
                acc.skip(&obj.uri, &reason)?;
                continue;
            }
            Err((product, reason, stage)) => {
                rows.push(Row {
                    outcome: failed_row(&obj.uri, product.as_deref(), reason),
                    stage,
                });
                continue;
            }
        };
        for (location, prepared) in items {
            if !ctx.products_filter.is_empty() && !ctx.products_filter.contains(&prepared.product) {
                acc.skip(&obj.uri, "product not selected")?;
                continue;
            }
            let Some(defs) = ctx.definitions.get(&prepared.product) else {
                // A sibling product the index does not hold (e.g. Landsat ST items beside SR ones).
                acc.skip(
                    &obj.uri,
                    &format!("product {} is not in the index", prepared.product),
                )?;
                continue;
            };
            match stac_item::item(&prepared, &defs.definition, &location) {
                Ok(item) => {
                    let stac = Some((prepared.product.clone(), prepared.id.to_string(), item));
                    let update = matches!(work, Work::Raw(..)).then_some(ctx.raw_update);
                    batch.push(NewDataset {
                        prepared,
                        location: Some(location),
                        stac,
                        update,
                    });
                }
                Err(reason) => rows.push(Row {
                    outcome: failed_row(&obj.uri, Some(&prepared.product), reason),
                    stage: "build",
                }),
            }
        }
    }
    acc.report.stages.extracted += batch.len();
    let written = dataset::write_batch(catalog, ctx.products, &batch, ctx.write)?;
    acc.report.stages.written += batch.len();
    // Datasets archived by --archive-less-mature get a report row of their own.
    for (i, old) in &written.archived {
        let d = &batch[*i];
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
    for (d, o) in batch.iter().zip(written.outcomes) {
        let reason = match &o {
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
    acc.record(catalog, rows)
}

/// The URI an object is reported under: `s3://…` as listed, local paths as `file://` URIs (the same
/// form the dataset locations use).
fn object_uri(uri: &str) -> String {
    if uri.contains("://") {
        uri.to_string()
    } else {
        crate::documents::file_uri(Path::new(uri))
    }
}

fn failed_row(uri: &str, product: Option<&str>, reason: String) -> ObjectOutcome {
    ObjectOutcome {
        uri: object_uri(uri),
        outcome: "failed",
        product: product.map(str::to_string),
        dataset: None,
        reason: Some(reason),
    }
}

/// Each product's measurements (dtype, nodata) and load CRS, from the products the run already loaded.
fn measurement_definitions(products: &ProductCache) -> BTreeMap<String, ProductDef> {
    let mut out = BTreeMap::new();
    for (name, definition) in products.definitions() {
        let mut ms = BTreeMap::new();
        for m in definition
            .get("measurements")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let (Some(measurement), Some(dtype)) = (m["name"].as_str(), m["dtype"].as_str()) else {
                continue;
            };
            let nodata = match &m["nodata"] {
                Value::String(s) if s == "NaN" => f64::NAN,
                Value::String(s) if s.starts_with('-') => f64::NEG_INFINITY,
                Value::String(_) => f64::INFINITY,
                v => v.as_f64().unwrap_or(f64::NAN),
            };
            ms.insert(
                measurement.to_string(),
                MeasurementDef {
                    dtype: dtype.to_string(),
                    nodata,
                },
            );
        }
        let load_crs = definition
            .pointer("/load/crs")
            .and_then(Value::as_str)
            .map(str::to_string);
        out.insert(
            name.to_string(),
            ProductDef {
                load_crs,
                measurements: ms,
                definition: definition.clone(),
            },
        );
    }
    out
}

fn tempdir_for_staging() -> Result<TempDir> {
    let base = std::env::temp_dir().join(format!("etlake-stage-{}", std::process::id()));
    std::fs::create_dir_all(&base).map_err(|source| Error::Io {
        path: base.clone(),
        source,
    })?;
    Ok(TempDir(base))
}

/// A staging directory removed at the end of the run.
struct TempDir(PathBuf);
impl TempDir {
    fn path(&self) -> &Path {
        &self.0
    }
}
impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Lists every source into the channel; stops at the first fatal listing error (sent as `Err`).
fn list_all(sources: &[String], s3: Option<&S3>, tx: tokio::sync::mpsc::Sender<Result<ObjectRef>>) {
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
        let text = std::fs::read_to_string(list).map_err(|source| Error::Io {
            path: list.into(),
            source,
        })?;
        return send_lines(&text, tx);
    }
    if source == "-" {
        let text = std::io::read_to_string(std::io::stdin()).map_err(|source| Error::Io {
            path: "stdin".into(),
            source,
        })?;
        return send_lines(&text, tx);
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
    walk(&root_path, &mut |p: &Path| {
        let text = p.to_string_lossy();
        if matcher.as_ref().is_none_or(|m| m.is_match(text.as_ref())) {
            let abs = std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
            return tx.blocking_send(Ok(local_ref(&abs))).is_ok();
        }
        true
    })
}

fn local_ref(p: &Path) -> ObjectRef {
    let size = std::fs::metadata(p).ok().map(|m| m.len());
    ObjectRef {
        uri: p.display().to_string(),
        size,
        etag: None,
        body: None,
    }
}

/// Depth-first walk in name order; `visit` returns false to stop.
fn walk(dir: &Path, visit: &mut dyn FnMut(&Path) -> bool) -> Result<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|source| Error::Io {
            path: dir.to_path_buf(),
            source,
        })?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            walk(&p, visit)?;
        } else if !visit(&p) {
            break;
        }
    }
    Ok(())
}

fn send_lines(text: &str, tx: &tokio::sync::mpsc::Sender<Result<ObjectRef>>) -> Result<()> {
    for line in text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        let uri = match line.strip_prefix("file://") {
            Some(p) => p.to_string(),
            None => line.to_string(),
        };
        if tx
            .blocking_send(Ok(ObjectRef {
                uri,
                size: None,
                etag: None,
                body: None,
            }))
            .is_err()
        {
            break;
        }
    }
    Ok(())
}

/// Splits `dir/sub/*.tif` into the literal directory prefix `dir/sub/` and the glob part `*.tif`.
fn split_glob(s: &str) -> (String, Option<String>) {
    match s.find(['*', '?', '[', '{']) {
        None => (s.to_string(), None),
        Some(i) => {
            let cut = s[..i].rfind('/').map(|j| j + 1).unwrap_or(0);
            (s[..cut].to_string(), Some(s[cut..].to_string()))
        }
    }
}

fn glob(pattern: &str) -> std::result::Result<globset::GlobMatcher, String> {
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
