//! Recognise object keys with the templates in `product-defs/recognition`: which product, which days,
//! which region — what `etlake index` decides for every key it lists.
//!
//! Run: `cargo run --example recognise -- MOD13Q1.A2023161.h09v05.061.2023177233537.hdf pr_2020.nc`
use indexer::Recogniser;
use std::path::Path;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("product-defs/recognition");
    let recogniser = Recogniser::load_dir(&dir)?;
    for key in std::env::args().skip(1) {
        match recogniser.recognise(&key)? {
            Some(r) => println!(
                "{key}: {} {}..{} region={} maturity={}",
                r.product,
                r.start,
                r.end,
                r.region_code.unwrap_or_default(),
                r.maturity.unwrap_or_default()
            ),
            None => println!("{key}: no product matches (skipped)"),
        }
    }
    Ok(())
}
