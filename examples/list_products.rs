//! Connect the way `etlake` does (datacube config, ODC variables, or the embedded cluster), make sure
//! the index exists, and list its products — the library calls behind `etlake db init` and `product list`.
//!
//! Run: `cargo run --example list_products`
use catalog_schema::config::{self, ConnectOptions, SystemEnv};
use catalog_schema::{init, product, Catalog};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let resolved = config::resolve(&ConnectOptions::default(), &SystemEnv)?;
    println!("database from {}", resolved.source);
    let mut catalog = Catalog::open(&resolved, &SystemEnv)?;
    let report = init::init(&mut catalog)?;
    if report.created_agdc {
        println!("created the ODC index");
    }
    for p in product::list(&mut catalog)? {
        println!(
            "{:<28}{:>8} datasets  {:?}",
            p.name,
            p.active_datasets,
            product::measurement_names(&p.definition)
        );
    }
    Ok(())
}
