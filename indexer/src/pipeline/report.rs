//! The account of an `etlake index` run: the [`Report`] it returns (counts, problems, stages, claims)
//! and the accounting that sends every object's outcome to it, to the run record in the index and to
//! the `--report` JSON-lines file, so that each object is accounted for once, in one place.
use crate::claims::{Annotations, Recognition};
use crate::objects::{object_uri, Row};
use crate::recognition::Recogniser;
use crate::{Error, Result};
use catalog_schema::runs::{self, ObjectOutcome};
use catalog_schema::Catalog;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::PathBuf;

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
    /// Which spec claimed what, notes, and why unclaimed files were not taken.
    pub recognition: Recognition,
    /// The objects (URIs as reported) with a failed outcome.
    pub failed_objects: std::collections::BTreeSet<String>,
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
    /// Objects not read again: the same version (ETag, or mtime and size) as when last indexed.
    pub not_reread: usize,
    /// Objects listed that belong to other shards (`--shard`): neither read nor reported here.
    pub other_shards: usize,
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

/// Where every outcome goes: the counts and problems of the [`Report`], the run record in the index
/// (unless dry run), and the `--report` JSON-lines file.
pub(super) struct Accounting {
    pub(super) report: Report,
    pub(super) dry_run: bool,
    pub(super) jsonl: Option<std::io::BufWriter<std::fs::File>>,
    pub(super) jsonl_path: Option<PathBuf>,
    /// Every recognition spec, `--product` or not: to tell why an unclaimed file was not taken.
    pub(super) all_specs: Recogniser,
    /// The names of their sibling files, which are read with the file a spec claims.
    pub(super) siblings: crate::unclaimed::Siblings,
}

impl Accounting {
    pub(super) fn skip(&mut self, uri: &str, reason: &str, selected: &Recogniser) -> Result<()> {
        use crate::unclaimed::{NO_TEMPLATE, SIBLING};
        let sibling = (reason == NO_TEMPLATE)
            .then(|| self.siblings.of(uri))
            .flatten();
        let reason = if sibling.is_some() { SIBLING } else { reason };
        self.report.add("skipped");
        *self.report.skipped.entry(reason.to_string()).or_insert(0) += 1;
        let mut line = serde_json::json!({"uri": object_uri(uri), "outcome": "skipped", "stage": "recognise", "error": reason});
        if let Some((spec, product, measurement)) = sibling {
            line["spec"] = serde_json::json!(spec);
            line["product"] = serde_json::json!(product);
            line["measurement"] = serde_json::json!(measurement);
        } else if reason == NO_TEMPLATE {
            let rows = self.jsonl.is_some();
            let explained = self
                .report
                .recognition
                .unclaimed(uri, selected, &self.all_specs, rows);
            if let (Some(fields), Some(l)) = (explained, line.as_object_mut()) {
                l.extend(fields);
            }
        }
        self.write_line(&line)
    }

    pub(super) fn record(
        &mut self,
        catalog: &mut Catalog,
        rows: Vec<Row>,
        extra: &Annotations,
    ) -> Result<()> {
        for r in &rows {
            let o = &r.outcome;
            self.report.add(o.outcome);
            if o.outcome == "failed" {
                self.report.failed_objects.insert(o.uri.clone());
            }
            if let (Some(reason), "failed" | "exists-different") = (&o.reason, o.outcome) {
                self.report.problems.push((o.uri.clone(), reason.clone()));
            }
            let mut line = serde_json::json!({
                "uri": o.uri, "product": o.product, "dataset": o.dataset, "outcome": o.outcome,
                "stage": r.stage, "error": o.reason,
            });
            if let (Some(fields), Some(l)) = (extra.get(&o.uri), line.as_object_mut()) {
                l.extend(fields.clone());
            }
            self.write_line(&line)?;
        }
        if !self.dry_run {
            let outcomes: Vec<ObjectOutcome> = rows.into_iter().map(|r| r.outcome).collect();
            let run = self.report.run;
            catalog.reconnecting("recording outcomes", |c| runs::record(c, run, &outcomes))?;
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
