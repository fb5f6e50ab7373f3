//! A conformance lake: for each data family etlake indexes, files laid out and encoded as the provider
//! publishes them, written from the provider's published specification (cited in each module) rather
//! than from etlake's product definitions or the demo lake. Every stored value is a deterministic function
//! of known inputs (the `stored` function of each module), and `conformance-manifest.json` records per
//! file what was written, so tests can assert what readers return.
//!
//! Layout under the lake root (provider paths kept below a family folder):
//! - `gridmet/{var}_{YYYY}.nc`
//! - `chirps/global_daily/tifs/p05/…tif.gz`, `chirps/global_daily/cogs/p05/…cog`, `chirps/prelim/global_daily/tifs/p05/…`
//! - `modis/MOD13Q1.061/{granule}/{granule}.hdf` (+ `.hdf.xml`)
//! - `imerg/GPM_L3/GPM_3IMERGDF.07/{YYYY}/{MM}/…nc4`, `imerg/GPM_L3/GPM_3IMERGHH.07/{YYYY}/{DDD}/…HDF5`
//! - `landsat/collection02/level-2/standard/oli-tirs/{YYYY}/{PPP}/{RRR}/{PRODUCT_ID}/…`
pub mod chirps;
pub mod gridmet;
pub mod hdfeos;
pub mod imerg;
pub mod landsat;
pub mod manifest;
pub mod modis;
pub mod netcdf;
pub mod raster;

use std::path::Path;

/// Writes the whole lake under `root` and returns the manifest (also written to `root`).
pub fn write(root: &Path) -> Result<manifest::Manifest, String> {
    std::fs::create_dir_all(root).map_err(|e| format!("{}: {e}", root.display()))?;
    let mut m = manifest::Manifest::default();
    gridmet::write(root, &mut m)?;
    chirps::write(root, &mut m)?;
    imerg::write(root, &mut m)?;
    landsat::write(root, &mut m)?;
    modis::write(root, &mut m)?;
    m.write(root)?;
    Ok(m)
}
