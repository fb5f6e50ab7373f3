//! Writes the demo's sample lake: `cargo run -p sample-lake --example sample_lake -- DIR [DAYS [WEST]]`
//! (WEST: how far west CHIRPS and gridMET reach, a whole degree from −115 to −106, the default).
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = args.next().ok_or(
        "usage: sample_lake DIR [DAYS (default 366: the 2020 water year) [WEST (default -106)]]",
    )?;
    let days: usize = args.next().map(|d| d.parse()).transpose()?.unwrap_or(366);
    let west: f64 = args
        .next()
        .map(|d| d.parse())
        .transpose()?
        .unwrap_or(-106.0);
    let w = sample_lake::lake::write_west(std::path::Path::new(&dir), days, west)?;
    println!(
        "sample lake in {dir}: {} CHIRPS days, {} gridMET files, {} MODIS tiles, {} soil grids, {} Landsat scenes",
        w.chirps, w.gridmet, w.modis, w.soil, w.landsat
    );
    Ok(())
}
