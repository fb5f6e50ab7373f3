//! gridMET yearly NetCDF files, one per variable and year, as the University of Idaho / Northwest
//! Knowledge Network publishes them at `https://www.northwestknowledge.net/metdata/data/{var}_{YYYY}.nc`.
//!
//! Layout (reproduced from the published files' headers, `ncdump -h pr_YYYY.nc`, and the gridMET page
//! https://www.climatologylab.org/gridmet.html; see /work/shared-research/provider-specs.md §gridMET and
//! data-families.md §3.6):
//! - NetCDF-4 (HDF5) file: the data variable is `ushort`, which only the NetCDF-4 model has;
//! - dimensions `lon`, `lat`, `day` (and `crs` = 1); data variable `(day, lat, lon)`;
//! - `lat` descending from 49.4 and `lon` ascending from −124.7666666333333 in steps of 1/24° (cell
//!   centres of the 1386 × 585 CONUS grid);
//! - `day` = days since 1900-01-01 00:00:00, `calendar = gregorian`;
//! - packing: `pet` is verified (provider-specs.md §1a, a real `pet_2015.nc` listing): `ushort`,
//!   `scale_factor` 0.1, `add_offset` 0, `_FillValue` = `missing_value` = 32767, `_Unsigned = "true"`,
//!   chunks (day 61, lat 98, lon 231), DEFLATE level 9. `pr` is written the same way [unverified: by analogy
//!   with `pet`]. `tmmn`/`tmmx` keep `scale_factor` 0.1 with `add_offset` 220 K [unverified: no published
//!   header found; 0.1/220 is the commonly cited packing for both (provider-specs.md §1a). A lower offset
//!   for `tmmn` (e.g. 210, for headroom below −53 °C) is possible; one real `tmmn_YYYY.nc` header decides];
//! - variable `crs` with `grid_mapping_name = latitude_longitude` and a `GeoTransform` text attribute of
//!   five numbers (the verified string, double space included) whose origin is the **first cell centre**
//!   (−124.7666666333333, 49.4), half a cell off the grid corner the coordinates imply (−124.7875,
//!   49.42083) [verified: provider-specs.md §1a].
//!
//! This lake writes a window of the real grid (rows [`ROW0`]…, columns [`COL0`]…, real resolution and
//! alignment) and every day of one year. The `GeoTransform` attribute keeps the real file's text (the whole
//! grid's), which is what a reader trusting it would misplace.
use crate::manifest::Manifest;
use crate::netcdf::{File, NcType};
use serde_json::json;
use std::path::Path;

/// The year written (not a leap year: 365 days).
pub const YEAR: i32 = 2021;
pub const DAYS: usize = 365;
/// Window of the CONUS grid: first row (from the north) and column, and its size.
pub const ROW0: usize = 288;
pub const COL0: usize = 468;
pub const ROWS: usize = 24;
pub const COLS: usize = 32;
/// Cell size, degrees (1/24°).
pub const RES: f64 = 1.0 / 24.0;
/// Centre of the north-west cell of the full grid, as the files' coordinates give it.
pub const LON0: f64 = -124.7666666333333;
pub const LAT0: f64 = 49.4;
pub const FILL: u16 = 32767;

/// One gridMET variable: file prefix, NetCDF variable, attributes and packing.
pub struct Variable {
    pub file: &'static str,
    pub name: &'static str,
    pub long_name: &'static str,
    /// `standard_name` as the file writes it (`pet` in the verified pet file, not the CF name).
    pub standard_name: &'static str,
    pub description: &'static str,
    /// [secondary] from the pre-2019 header notes.
    pub cell_methods: Option<&'static str>,
    pub height: Option<&'static str>,
    pub units: &'static str,
    pub scale_factor: f64,
    pub add_offset: f64,
}

pub const VARIABLES: [Variable; 4] = [
    Variable {
        file: "pr",
        name: "precipitation_amount",
        long_name: "pr",
        standard_name: "precipitation_amount",
        description: "Daily Accumulated Precipitation",
        cell_methods: Some("time: sum(interval: 24 hours)"),
        height: None,
        units: "mm",
        scale_factor: 0.1,
        add_offset: 0.0,
    },
    Variable {
        file: "pet",
        name: "potential_evapotranspiration",
        long_name: "pet",
        standard_name: "pet",
        description: "Daily reference evapotranspiration (short grass)",
        cell_methods: None,
        height: None,
        units: "mm",
        scale_factor: 0.1,
        add_offset: 0.0,
    },
    Variable {
        file: "tmmn",
        name: "air_temperature",
        long_name: "tmmn",
        standard_name: "air_temperature",
        description: "Daily Minimum Temperature",
        cell_methods: Some("time: minimum(interval: 24 hours)"),
        height: Some("2 m"),
        units: "K",
        scale_factor: 0.1,
        add_offset: 220.0,
    },
    Variable {
        file: "tmmx",
        name: "air_temperature",
        long_name: "tmmx",
        standard_name: "air_temperature",
        description: "Daily Maximum Temperature",
        cell_methods: Some("time: maximum(interval: 24 hours)"),
        height: Some("2 m"),
        units: "K",
        scale_factor: 0.1,
        add_offset: 220.0,
    },
];

/// The stored (packed) value of variable `v` on day index `d` (0 = 1 January) at window cell (`r`, `c`).
/// One cell per variable is fill on every 10th day so nodata handling is exercised.
pub fn stored(v: &str, d: usize, r: usize, c: usize) -> u16 {
    if d % 10 == 3 && r == 2 && c == 5 {
        return FILL;
    }
    let (d, r, c) = (d as u32, r as u32, c as u32);
    (match v {
        // 0…39.9 mm: 0 on two days of three.
        "pr" => {
            if d % 3 == 0 {
                (d * 7 + r * 5 + c * 3) % 400
            } else {
                0
            }
        }
        // ETo 1…12 mm.
        "pet" => 10 + (d * 3 + r + c * 2) % 110,
        // tmmn: 220 + 0.1·v K → 255…285 K.
        "tmmn" => 350 + (d * 5 + r * 2 + c) % 300,
        // tmmx: 220 + 0.1·v K → 270…310 K.
        "tmmx" => 500 + (d * 5 + r * 2 + c) % 400,
        _ => panic!("unknown gridMET variable {v}"),
    }) as u16
}

/// Lon of window column `c` / lat of window row `r` (cell centres, as the coordinate variables hold them).
pub fn lon(c: usize) -> f64 {
    LON0 + (COL0 + c) as f64 * RES
}
pub fn lat(r: usize) -> f64 {
    LAT0 - (ROW0 + r) as f64 * RES
}

/// The window's true grid: corner = first centre − half a cell.
pub fn transform() -> [f64; 6] {
    [lon(0) - RES / 2.0, RES, 0.0, lat(0) + RES / 2.0, 0.0, -RES]
}

pub fn file_name(v: &Variable) -> String {
    format!("{}_{YEAR}.nc", v.file)
}

const SPEC: &[&str] = &[
    "https://www.climatologylab.org/gridmet.html",
    "https://www.northwestknowledge.net/metdata/data/ (published {var}_{YYYY}.nc headers)",
    "Abatzoglou 2013, Int. J. Climatol., doi:10.1002/joc.3413",
    "CF Conventions 1.6 §8.1 (packed data), §5.6 (grid mappings)",
];

/// Writes `gridmet/{var}_{YEAR}.nc` for the four variables VegET takes from gridMET.
pub fn write(root: &Path, m: &mut Manifest) -> Result<(), String> {
    let dir = root.join("gridmet");
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    for v in &VARIABLES {
        let rel = format!("gridmet/{}", file_name(v));
        write_one(&root.join(&rel), v)?;
        let days_since_1900 = days_since_1900(YEAR, 1);
        m.add(
            &rel,
            "gridmet",
            SPEC,
            json!({
                "format": "NetCDF-4",
                "variables": [{
                    "name": v.name,
                    "file_var": v.file,
                    "dims": ["day", "lat", "lon"],
                    "dtype": "uint16",
                    "scale_factor": v.scale_factor,
                    "add_offset": v.add_offset,
                    "nodata": FILL,
                    "units": v.units,
                    "rule": "conformance_lake::gridmet::stored(file_var, day_index, row, col); physical = stored*scale_factor+add_offset",
                }],
                "grid": {"crs": "EPSG:4326", "shape": [ROWS, COLS], "transform": transform(),
                         "window_of": {"shape": [585, 1386], "row0": ROW0, "col0": COL0}},
                "geotransform_attribute": geotransform_attr(),
                "time": {"first": format!("{YEAR}-01-01"), "steps": DAYS, "step": "P1D",
                          "day_first": days_since_1900},
            }),
        );
    }
    Ok(())
}

/// The real files' `crs:GeoTransform` text: origin at the first cell centre (half a cell off).
pub fn geotransform_attr() -> String {
    "-124.7666666333333 0.041666666666666 0  49.400000000000000 -0.041666666666666".to_string()
}

fn days_since_1900(year: i32, doy: u32) -> i64 {
    let d = chrono::NaiveDate::from_yo_opt(year, doy).expect("valid day");
    let base = chrono::NaiveDate::from_ymd_opt(1900, 1, 1).expect("valid day");
    (d - base).num_days()
}

fn write_one(path: &Path, v: &Variable) -> Result<(), String> {
    let f = File::create(path)?;
    let g = f.root();
    let dlon = f.dim(g, "lon", COLS)?;
    let dlat = f.dim(g, "lat", ROWS)?;
    let dday = f.dim(g, "day", DAYS)?;
    let dcrs = f.dim(g, "crs", 1)?;
    let vlon = f.var(g, "lon", NcType::Double, &[dlon], None)?;
    for (k, val) in [
        ("units", "degrees_east"),
        ("description", "longitude"),
        ("long_name", "longitude"),
        ("standard_name", "longitude"),
        ("axis", "X"),
    ] {
        f.text(g, Some(vlon), k, val)?;
    }
    let vlat = f.var(g, "lat", NcType::Double, &[dlat], None)?;
    for (k, val) in [
        ("units", "degrees_north"),
        ("description", "latitude"),
        ("long_name", "latitude"),
        ("standard_name", "latitude"),
        ("axis", "Y"),
    ] {
        f.text(g, Some(vlat), k, val)?;
    }
    let vday = f.var(g, "day", NcType::Double, &[dday], None)?;
    for (k, val) in [
        ("units", "days since 1900-01-01 00:00:00"),
        ("calendar", "gregorian"),
        ("description", "days since 1900-01-01"),
        ("long_name", "time"),
        ("standard_name", "time"),
    ] {
        f.text(g, Some(vday), k, val)?;
    }
    let vdata = f.var(
        g,
        v.name,
        NcType::UShort,
        &[dday, dlat, dlon],
        Some((9, &[61, ROWS.min(98), COLS.min(231)])),
    )?;
    f.num(g, Some(vdata), "_FillValue", &[FILL])?;
    f.text(g, Some(vdata), "units", v.units)?;
    f.text(g, Some(vdata), "description", v.description)?;
    f.text(g, Some(vdata), "long_name", v.long_name)?;
    f.text(g, Some(vdata), "standard_name", v.standard_name)?;
    if let Some(cm) = v.cell_methods {
        f.text(g, Some(vdata), "cell_methods", cm)?;
    }
    if let Some(h) = v.height {
        f.text(g, Some(vdata), "height", h)?;
    }
    f.num(g, Some(vdata), "missing_value", &[FILL])?;
    f.text(g, Some(vdata), "dimensions", "lon lat time")?;
    f.text(g, Some(vdata), "grid_mapping", "crs")?;
    f.text(g, Some(vdata), "coordinate_system", "WGS84,EPSG:4326")?;
    f.num(g, Some(vdata), "scale_factor", &[v.scale_factor])?;
    f.num(g, Some(vdata), "add_offset", &[v.add_offset])?;
    f.text(g, Some(vdata), "coordinates", "lon lat")?;
    f.text(g, Some(vdata), "_Unsigned", "true")?;
    // [unverified] the published files declare `crs` as a one-element variable; its stored type is taken
    // as `ushort` here. Only its attributes carry meaning.
    let vcrs = f.var(g, "crs", NcType::UShort, &[dcrs], None)?;
    f.text(g, Some(vcrs), "grid_mapping_name", "latitude_longitude")?;
    f.num(g, Some(vcrs), "longitude_of_prime_meridian", &[0.0f64])?;
    f.num(g, Some(vcrs), "semi_major_axis", &[6378137.0f64])?;
    f.text(g, Some(vcrs), "long_name", "WGS 84")?;
    f.num(g, Some(vcrs), "inverse_flattening", &[298.257223563f64])?;
    f.text(g, Some(vcrs), "GeoTransform", &geotransform_attr())?;
    f.text(
        g,
        Some(vcrs),
        "spatial_ref",
        "GEOGCS[\"WGS 84\",DATUM[\"WGS_1984\",SPHEROID[\"WGS 84\",6378137,298.257223563,AUTHORITY[\"EPSG\",\"7030\"]],AUTHORITY[\"EPSG\",\"6326\"]],PRIMEM[\"Greenwich\",0,AUTHORITY[\"EPSG\",\"8901\"]],UNIT[\"degree\",0.0174532925199433,AUTHORITY[\"EPSG\",\"9122\"]],AUTHORITY[\"EPSG\",\"4326\"]]",
    )?;
    // Global attributes (the published files' set; values for the window where they describe extent).
    let gl = [
        ("geospatial_bounds_crs", "EPSG:4326".to_string()),
        ("Conventions", "CF-1.6".to_string()),
        // As in the real files these bounds are the extreme cell *centres* (here: of the window).
        ("geospatial_bounds", format!(
            "POLYGON(({w} {n}, {w} {s}, {e} {s}, {e} {n}, {w} {n}))",
            w = lon(0), e = lon(COLS - 1), n = lat(0), s = lat(ROWS - 1))),
        ("geospatial_lat_min", format!("{}", lat(ROWS - 1))),
        ("geospatial_lat_max", format!("{}", lat(0))),
        ("geospatial_lon_min", format!("{}", lon(0))),
        ("geospatial_lon_max", format!("{}", lon(COLS - 1))),
        ("geospatial_lon_resolution", "0.041666666666666".to_string()),
        ("geospatial_lat_resolution", "0.041666666666666".to_string()),
        ("geospatial_lat_units", "decimal_degrees north".to_string()),
        ("geospatial_lon_units", "decimal_degrees east".to_string()),
        ("coordinate_system", "EPSG:4326".to_string()),
        ("author", "John Abatzoglou - University of Idaho, jabatzoglou@uidaho.edu".to_string()),
        ("date", "04 July 2019".to_string()),
        ("note1", "The projection information for this file is: GCS WGS 1984.".to_string()),
        ("note2", "Citation: Abatzoglou, J.T., 2013, Development of gridded surface meteorological data for ecological applications and modeling, International Journal of Climatology, DOI: 10.1002/joc.3413".to_string()),
        ("note3", "Data in slices after last_permanent_slice (1-based) are considered provisional and subject to change with subsequent updates".to_string()),
        ("note4", "Data in slices after last_provisional_slice (1-based) are considered early and subject to change with subsequent updates".to_string()),
        ("note5", "Days correspond approximately to calendar days ending at midnight, Mountain Standard Time (7 UTC the next calendar day)".to_string()),
    ];
    for (k, val) in gl {
        f.text(g, None, k, &val)?;
    }
    f.enddef()?;
    f.put(vlon, &(0..COLS).map(lon).collect::<Vec<_>>())?;
    f.put(vlat, &(0..ROWS).map(lat).collect::<Vec<_>>())?;
    let d0 = days_since_1900(YEAR, 1) as f64;
    f.put(vday, &(0..DAYS).map(|d| d0 + d as f64).collect::<Vec<_>>())?;
    let mut data = Vec::with_capacity(DAYS * ROWS * COLS);
    for d in 0..DAYS {
        for r in 0..ROWS {
            for c in 0..COLS {
                data.push(stored(v.file, d, r, c));
            }
        }
    }
    f.put(vdata, &data)?;
    f.put(vcrs, &[0u16])?;
    f.close()
}
