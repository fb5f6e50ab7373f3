//! CHIRPS v2.0 daily precipitation at 0.05° (p05), as the UCSB Climate Hazards Center publishes it under
//! `https://data.chc.ucsb.edu/products/CHIRPS-2.0/`.
//!
//! Layout (README-CHIRPS.txt at that address; https://www.chc.ucsb.edu/data/chirps; Funk et al. 2015,
//! Sci. Data 2:150066, doi:10.1038/sdata.2015.66; data-families.md §3.1; provider-specs.md §CHIRPS):
//! - final, gzipped GeoTIFF: `global_daily/tifs/p05/{YYYY}/chirps-v2.0.{YYYY}.{MM}.{DD}.tif.gz`;
//! - final, Cloud Optimized GeoTIFF: `global_daily/cogs/p05/{YYYY}/chirps-v2.0.{YYYY}.{MM}.{DD}.cog`
//!   (`.cog` extension; [secondary]: several codebases and the CHC FTP listing, provider-specs.md §2);
//! - preliminary: `prelim/global_daily/tifs/p05/{YYYY}/chirps-v2.0.{YYYY}.{MM}.{DD}.tif.gz` in most sources,
//!   plain `.tif` in one [unverified which is current]: this lake writes one prelim day of each;
//! - one float32 band, mm per day, −9999 over the ocean and outside 50°S–50°N, EPSG:4326, the global p05
//!   grid: 7200 × 2000 cells with its corner at (−180, 50) (derived from the ERDDAP cell centres ±179.975,
//!   ±49.975 [verified for the NetCDF form]);
//! - whether the GeoTIFF header declares −9999 as nodata is [unverified]; code reading the final `.tif.gz`
//!   sets it itself after opening, so the final gzipped files here do **not** declare it, while the COGs
//!   and prelim files do.
//!
//! This lake writes a window of the global grid (rows [`ROW0`]…, columns [`COL0`]…, on the real 0.05°
//! alignment) so the files stay small.
use crate::manifest::Manifest;
use crate::raster::{self, Band};
use serde_json::json;
use std::path::Path;

pub const RES: f64 = 0.05;
/// Window of the global p05 grid (row 0 at 50°N, column 0 at 180°W) and its size.
pub const ROW0: usize = 250;
pub const COL0: usize = 1490;
pub const ROWS: usize = 30;
pub const COLS: usize = 40;
pub const NODATA: f32 = -9999.0;
pub const YEAR: i32 = 2021;
pub const MONTH: u32 = 6;
/// Days of [`MONTH`] published final (gzipped GeoTIFF and COG) and preliminary (day 4 gzipped, day 5
/// plain GeoTIFF).
pub const FINAL_DAYS: [u32; 3] = [1, 2, 3];
pub const PRELIM_DAYS: [u32; 2] = [4, 5];
/// Does the file of this variant declare nodata in its header?
pub fn declares_nodata(rel: &str) -> bool {
    !rel.ends_with(".tif.gz") || rel.contains("/prelim/")
}

/// The grid of the window.
pub fn transform() -> [f64; 6] {
    [
        -180.0 + COL0 as f64 * RES,
        RES,
        0.0,
        50.0 - ROW0 as f64 * RES,
        0.0,
        -RES,
    ]
}

/// Stored value (mm) on `day` of the month at window cell (`r`, `c`): quarter-millimetre steps so the
/// float32 values are exact; the last column is nodata ("ocean").
pub fn stored(day: u32, r: usize, c: usize) -> f32 {
    if c == COLS - 1 {
        return NODATA;
    }
    (((day as usize * 13 + r * 3 + c * 7) % 160) as f32) * 0.25
}

fn values(day: u32) -> Vec<f32> {
    (0..ROWS)
        .flat_map(|r| (0..COLS).map(move |c| stored(day, r, c)))
        .collect()
}

/// Relative paths of the files of one day per variant.
pub fn final_gz(day: u32) -> String {
    format!("chirps/global_daily/tifs/p05/{YEAR}/chirps-v2.0.{YEAR}.{MONTH:02}.{day:02}.tif.gz")
}
pub fn final_cog(day: u32) -> String {
    format!("chirps/global_daily/cogs/p05/{YEAR}/chirps-v2.0.{YEAR}.{MONTH:02}.{day:02}.cog")
}
pub fn prelim(day: u32) -> String {
    let ext = if day == PRELIM_DAYS[0] {
        "tif.gz"
    } else {
        "tif"
    };
    format!(
        "chirps/prelim/global_daily/tifs/p05/{YEAR}/chirps-v2.0.{YEAR}.{MONTH:02}.{day:02}.{ext}"
    )
}

const SPEC: &[&str] = &[
    "https://data.chc.ucsb.edu/products/CHIRPS-2.0/README-CHIRPS.txt",
    "https://www.chc.ucsb.edu/data/chirps",
    "Funk et al. 2015, Sci. Data 2:150066, doi:10.1038/sdata.2015.66",
];

pub fn write(root: &Path, m: &mut Manifest) -> Result<(), String> {
    let srs = raster::epsg(4326)?;
    let tmp = root.join(".chirps-tmp.tif");
    let mut record = |rel: &str, variant: &str, maturity: &str, day: u32| {
        m.add(
            rel,
            "chirps",
            SPEC,
            json!({
                "format": variant, "maturity": maturity,
                "bands": [{"band": 1, "dtype": "float32", "nodata": NODATA, "units": "mm/day",
                           "nodata_declared_in_header": declares_nodata(rel),
                           "rule": "conformance_lake::chirps::stored(day, row, col)"}],
                "grid": {"crs": "EPSG:4326", "shape": [ROWS, COLS], "transform": transform(),
                         "window_of": {"shape": [2000, 7200], "row0": ROW0, "col0": COL0}},
                "time": {"date": format!("{YEAR}-{MONTH:02}-{day:02}"), "period": "P1D"},
            }),
        );
    };
    for day in FINAL_DAYS {
        let data = values(day);
        let plain = [Band {
            data: &data,
            nodata: None,
        }];
        let band = [Band {
            data: &data,
            nodata: Some(NODATA as f64),
        }];
        // The published daily GeoTIFFs are plain striped GeoTIFFs; the archive is gzip of the whole file.
        raster::write(&tmp, "GTiff", &[], (COLS, ROWS), transform(), &srs, &plain)?;
        let gz = final_gz(day);
        std::fs::create_dir_all(root.join(&gz).parent().unwrap()).map_err(|e| e.to_string())?;
        raster::gzip(&tmp, &root.join(&gz))?;
        record(&gz, "GeoTIFF, gzip", "final", day);
        let cog = final_cog(day);
        raster::write(
            &root.join(&cog),
            "COG",
            &["COMPRESS=DEFLATE", "BLOCKSIZE=256"],
            (COLS, ROWS),
            transform(),
            &srs,
            &band,
        )?;
        record(&cog, "COG", "final", day);
    }
    for day in PRELIM_DAYS {
        let data = values(day);
        let band = [Band {
            data: &data,
            nodata: Some(NODATA as f64),
        }];
        let rel = prelim(day);
        if rel.ends_with(".gz") {
            raster::write(&tmp, "GTiff", &[], (COLS, ROWS), transform(), &srs, &band)?;
            std::fs::create_dir_all(root.join(&rel).parent().unwrap())
                .map_err(|e| e.to_string())?;
            raster::gzip(&tmp, &root.join(&rel))?;
            record(&rel, "GeoTIFF, gzip", "interim", day);
        } else {
            raster::write(
                &root.join(&rel),
                "GTiff",
                &[],
                (COLS, ROWS),
                transform(),
                &srs,
                &band,
            )?;
            record(&rel, "GeoTIFF", "interim", day);
        }
    }
    let _ = std::fs::remove_file(&tmp);
    Ok(())
}
