//! Indexing a model run's outputs back into the index: the step `etlake veget run` takes after the
//! run (unless `--no-index`) and `etlake.veget_run` takes from Python, kept here so that both make
//! the same call — the output folder indexed through the pipeline, restricted to the output products.
//! Also where the product-defs folder is found when nobody names it.
use crate::pipeline::{self, IndexOptions, Report};
use crate::Result;
use catalog_schema::dataset::UpdatePolicy;
use catalog_schema::Catalog;
use std::path::{Path, PathBuf};

/// The products a VegET run writes (daily, monthly and annual NetCDF files).
pub const VEGET_PRODUCTS: [&str; 3] = ["veget_daily", "veget_monthly", "veget_annual"];

/// The product-defs folder: `given`, else `$ETLAKE_PRODUCT_DEFS`, else `./product-defs` when it
/// holds a `recognition/` folder, else the workspace's own (where this crate was built from).
pub fn defs_dir(given: Option<&Path>) -> PathBuf {
    if let Some(d) = given {
        return d.to_path_buf();
    }
    if let Some(d) = std::env::var_os("ETLAKE_PRODUCT_DEFS").filter(|d| !d.is_empty()) {
        return d.into();
    }
    let local = PathBuf::from("product-defs");
    if local.join("recognition").is_dir() {
        return local;
    }
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap_or(Path::new(env!("CARGO_MANIFEST_DIR")))
        .join("product-defs")
}

/// Indexes the files of `products` under `dir` (recognised by `defs_dir`'s specs), with datacube's
/// safe update rules: a re-run whose files did not change reports them unchanged, not again. Hidden
/// entries of `dir` (a tiled run's `.veget-run/` bookkeeping) are not sources: they are the run's, not
/// outputs, and would only be reported as unrecognised files. An `s3://` dir is indexed from its
/// `daily/`, `monthly/` and `annual/` prefixes.
pub fn index_outputs(
    catalog: &mut Catalog,
    dir: &Path,
    products: &[&str],
    defs_dir: PathBuf,
    progress: &dyn Fn(&Report),
) -> Result<Report> {
    let shown = dir.to_string_lossy();
    if shown.starts_with("s3://") {
        // A run on S3 writes its products' COGs under these prefixes (its ledger and state beside).
        let base = shown.trim_end_matches('/');
        let sources = ["daily", "monthly", "annual"].map(|s| format!("{base}/{s}/"));
        return index_sources(catalog, sources.to_vec(), products, defs_dir, progress);
    }
    let mut sources: Vec<String> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
                .map(|e| e.path().display().to_string())
                .collect()
        })
        .unwrap_or_default();
    sources.sort();
    if sources.is_empty() {
        // Nothing visible (or unreadable): the folder itself, so the run reports what it found.
        sources.push(dir.display().to_string());
    }
    index_sources(catalog, sources, products, defs_dir, progress)
}

fn index_sources(
    catalog: &mut Catalog,
    sources: Vec<String>,
    products: &[&str],
    defs_dir: PathBuf,
    progress: &dyn Fn(&Report),
) -> Result<Report> {
    let opts = IndexOptions {
        sources,
        products: products.iter().map(|p| p.to_string()).collect(),
        batch_size: 1000,
        defs_dir,
        update: UpdatePolicy::Safe,
        raw_update: UpdatePolicy::Safe,
        ..Default::default()
    };
    pipeline::index(catalog, &opts, progress)
}
