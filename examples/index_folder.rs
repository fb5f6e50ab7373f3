//! Index a local folder (or `s3://bucket/prefix/**`) the way `etlake index` does: every file a
//! product's templates recognise becomes a dataset, exactly once; prints the account of the run.
//!
//! Run: `cargo run --example index_folder -- DIR` (against the configured or embedded index)
use catalog_schema::config::{self, ConnectOptions, SystemEnv};
use catalog_schema::Catalog;
use indexer::pipeline::{index, IndexOptions};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let source = std::env::args().nth(1).ok_or("usage: index_folder DIR")?;
    let resolved = config::resolve(&ConnectOptions::default(), &SystemEnv)?;
    let mut catalog = Catalog::open(&resolved, &SystemEnv)?;
    let opts = IndexOptions {
        sources: vec![source],
        from_file: None,
        products: vec![],
        batch_size: 1000,
        s3: Default::default(),
        defs_dir: concat!(env!("CARGO_MANIFEST_DIR"), "/product-defs").into(),
        dry_run: false,
        update: catalog_schema::dataset::UpdatePolicy::Never,
        raw_update: catalog_schema::dataset::UpdatePolicy::Safe,
        href_rewrites: vec![],
        rename_product: None,
        archive_less_mature: None,
        report_file: None,
        stac_api: None,
        lineage: Default::default(),
        recheck: false,
        shard: None,
        ..Default::default()
    };
    let report = index(&mut catalog, &opts, &|_| {})?;
    println!(
        "run {}: {:?} in {:.1?}",
        report.run, report.counts, report.elapsed
    );
    for (object, reason) in &report.problems {
        println!("  {object}: {reason}");
    }
    Ok(())
}
