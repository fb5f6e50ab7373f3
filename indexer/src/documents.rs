//! Indexing metadata documents that already exist (eo3 YAML/JSON): read, validate, prepare with GDAL's
//! CRS rules, write in batches, and account for every file in the run record.
use crate::crs::GdalCrs;
use crate::pipeline::Report;
use catalog_schema::dataset::{self, NewDataset, Outcome, ProductCache};
use catalog_schema::runs::{self, ObjectOutcome};
use catalog_schema::{document, eo3, Catalog};
use std::path::{Path, PathBuf};

/// `file://` URI of a local path (absolute, with the characters that would break a URI escaped).
pub fn file_uri(path: &Path) -> String {
    // Listed paths are already absolute and canonical: resolving again costs a syscall per path segment.
    let abs = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
    };
    let mut s = String::from("file://");
    for c in abs.to_string_lossy().chars() {
        match c {
            ' ' => s.push_str("%20"),
            '%' => s.push_str("%25"),
            '#' => s.push_str("%23"),
            '?' => s.push_str("%3F"),
            c => s.push(c),
        }
    }
    s
}

/// Indexes eo3 documents from files and directories, `batch_size` datasets per transaction.
pub fn index_eo3_files(
    catalog: &mut Catalog,
    paths: &[PathBuf],
    batch_size: usize,
    options: dataset::WriteOptions,
) -> catalog_schema::Result<Report> {
    let started = std::time::Instant::now();
    let sources: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    let command = if options.update == dataset::UpdatePolicy::Never {
        "dataset add"
    } else {
        "dataset update"
    };
    // A dry run writes nothing, not even a run record.
    let run = if options.dry_run {
        0
    } else {
        runs::start(catalog, command, &sources)?
    };
    let products = ProductCache::load(catalog)?;
    let crs = GdalCrs::new();
    let mut report = Report {
        run,
        ..Default::default()
    };
    let mut pending: Vec<(String, NewDataset)> = Vec::new();
    let mut failures: Vec<ObjectOutcome> = Vec::new();
    for file in document::expand_paths(paths)? {
        let uri = file_uri(&file);
        let docs = match document::read_documents(&file) {
            Ok(d) => d,
            Err(e) => {
                failures.push(failed(&uri, None, e.to_string()));
                continue;
            }
        };
        for d in docs {
            match eo3::prepare(&d.value, &crs) {
                Ok(prepared) => pending.push((
                    d.object.clone(),
                    NewDataset {
                        prepared,
                        location: Some(uri.clone()),
                        stac: None,
                        update: None,
                        absent_ok: Vec::new(),
                    },
                )),
                Err(m) => failures.push(failed(
                    &uri,
                    d.value.pointer("/product/name").and_then(|v| v.as_str()),
                    format!("{}: {m}", d.object),
                )),
            }
        }
    }
    record(catalog, &mut report, failures, options.dry_run)?;
    for chunk in pending.chunks(batch_size.max(1)) {
        let batch: Vec<NewDataset> = chunk.iter().map(|(_, d)| d.clone()).collect();
        let outcomes = dataset::write_batch(catalog, &products, &batch, options)?.outcomes;
        let rows = chunk
            .iter()
            .zip(outcomes)
            .map(|((object, d), o)| {
                let reason = match &o {
                    Outcome::ExistsDifferent(r) | Outcome::Failed(r) | Outcome::Updated(r) => {
                        Some(format!("{object}: {r}"))
                    }
                    _ => None,
                };
                ObjectOutcome {
                    uri: d.location.clone().unwrap_or_default(),
                    outcome: o.label(),
                    product: Some(d.prepared.product.clone()),
                    dataset: Some(d.prepared.id),
                    reason,
                }
            })
            .collect();
        record(catalog, &mut report, rows, options.dry_run)?;
    }
    report.elapsed = started.elapsed();
    let status = if report.ok() { "succeeded" } else { "partial" };
    let counts = serde_json::to_value(&report.counts).unwrap_or_default();
    if !options.dry_run {
        runs::finish(catalog, run, status, &counts)?;
    }
    Ok(report)
}

fn failed(uri: &str, product: Option<&str>, reason: String) -> ObjectOutcome {
    ObjectOutcome {
        uri: uri.to_string(),
        outcome: "failed",
        product: product.map(str::to_string),
        dataset: None,
        reason: Some(reason),
    }
}

fn record(
    catalog: &mut Catalog,
    report: &mut Report,
    rows: Vec<ObjectOutcome>,
    dry_run: bool,
) -> catalog_schema::Result<()> {
    for r in &rows {
        report.add(r.outcome);
        if let Some(reason) = &r.reason {
            report.problems.push((r.uri.clone(), reason.clone()));
        }
    }
    if dry_run {
        return Ok(());
    }
    runs::record(catalog, report.run, &rows)
}
