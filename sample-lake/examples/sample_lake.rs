//! Writes the demo's sample lake: `cargo run -p sample-lake --example sample_lake -- DIR [DAYS]`
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = args
        .next()
        .ok_or("usage: sample_lake DIR [DAYS (default 366: the 2020 water year)]")?;
    let days: usize = args.next().map(|d| d.parse()).transpose()?.unwrap_or(366);
    let w = sample_lake::lake::write(std::path::Path::new(&dir), days)?;
    println!(
        "sample lake in {dir}: {} CHIRPS days, {} gridMET files, {} MODIS tiles, {} soil grids, {} Landsat scenes",
        w.chirps, w.gridmet, w.modis, w.soil, w.landsat
    );
    Ok(())
}
