//! What an `etlake index` run works out before it lists anything: the products' measurement
//! definitions, the derivation tag its checkpoints carry, the listing prefixes whose checkpoints it
//! loads, and its staging directory. Kept apart from the stages that use them.
use super::IndexOptions;
use crate::extract::{MeasurementDef, ProductDef};
use crate::{Error, Result};
use catalog_schema::dataset::ProductCache;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// What an object's documents derive from besides its bytes — etlake's version, the products'
/// definitions, the recognition specs, the run's conversion options — as a short stable tag. The
/// checkpoint keeps it beside the object's version, so changing any of them makes objects read again.
pub(super) fn derivation(specs: &[String], products: &ProductCache, opts: &IndexOptions) -> String {
    let mut defs: Vec<String> = products
        .definitions()
        .map(|(n, d)| format!("{n}={d}"))
        .collect();
    defs.sort();
    let text = format!(
        "{}\n{}\n{}\n{:?} {:?}",
        catalog_schema::VERSION,
        defs.join("\n"),
        specs.join("\n"),
        opts.href_rewrites,
        opts.rename_product
    );
    uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, text.as_bytes())
        .simple()
        .to_string()[..12]
        .to_string()
}

/// The literal beginnings of the run's sources (an S3 prefix before any glob character, a local
/// folder's absolute path), to load only their checkpoints; empty (all) when a source has none (key
/// lists, stdin).
pub(super) fn listing_prefixes(sources: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for src in sources {
        let literal: String = src
            .chars()
            .take_while(|c| !matches!(c, '*' | '?' | '[' | '{'))
            .collect();
        if src.starts_with('@') || src == "-" {
            return Vec::new();
        } else if literal.starts_with("s3://") {
            out.push(literal);
        } else {
            let local = literal.strip_prefix("file://").unwrap_or(&literal);
            // A glob's literal part may end inside a file name: keep its folder.
            let path = Path::new(local);
            let dir = if src.len() > literal.len() && !literal.ends_with('/') {
                path.parent().unwrap_or(path)
            } else {
                path
            };
            match std::fs::canonicalize(if dir.as_os_str().is_empty() {
                Path::new(".")
            } else {
                dir
            }) {
                Ok(p) => out.push(p.display().to_string()),
                Err(_) => return Vec::new(),
            }
        }
    }
    out
}

/// Each product's measurements (dtype, nodata, packing) and load CRS, from the products the run already loaded.
pub(super) fn measurement_definitions(products: &ProductCache) -> BTreeMap<String, ProductDef> {
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
                    scale_factor: m["scale_factor"].as_f64(),
                    add_offset: m["add_offset"].as_f64(),
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

pub(super) fn tempdir_for_staging() -> Result<TempDir> {
    let base = std::env::temp_dir().join(format!("etlake-stage-{}", std::process::id()));
    std::fs::create_dir_all(&base).map_err(|source| Error::Io {
        path: base.clone(),
        source,
    })?;
    Ok(TempDir(base))
}

/// A staging directory removed at the end of the run.
pub(super) struct TempDir(PathBuf);
impl TempDir {
    pub(super) fn path(&self) -> &Path {
        &self.0
    }
}
impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
