//! Writes one small MOD13Q1-shaped HDF-EOS2 tile: `cargo run -p sample-lake --example modis_tile -- OUT.hdf`
use sample_lake::hdfeos::GridWriter;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = std::env::args().nth(1).ok_or("usage: modis_tile OUT.hdf")?;
    let n = 48;
    let mut w = GridWriter::modis_tile(
        std::path::Path::new(&out),
        "MODIS_Grid_16DAY_250m_500m_VI",
        9,
        5,
        n,
        n,
    )?;
    w.field("250m 16 days NDVI", -3000i16, &vec![5000i16; n * n])?;
    w.field("250m 16 days pixel reliability", -1i8, &vec![0i8; n * n])?;
    w.finish()?;
    Ok(())
}
