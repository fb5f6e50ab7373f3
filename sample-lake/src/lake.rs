//! The demo's sample lake: one water year over Colorado's Front Range (foothills to plains) in the
//! real layouts — CHIRPS daily GeoTIFFs (half gzipped), gridMET yearly NetCDF-4 (packed uint16), MODIS MOD13Q1 HDF-EOS2
//! tiles, UTM soil grids — from one synthetic terrain, so rain, temperature and NDVI agree.
use crate::gridmet;
use crate::landsat::{civil_from_days, fraction};
use gdal::spatial_ref::SpatialRef;
use gdal::DriverManager;
use std::path::Path;

/// What was written, per family.
#[derive(Debug, Default, Clone, Copy)]
pub struct Written {
    /// CHIRPS daily files.
    pub chirps: usize,
    /// gridMET yearly files.
    pub gridmet: usize,
    /// MODIS tiles.
    pub modis: usize,
    /// Soil grids.
    pub soil: usize,
    /// Landsat scenes.
    pub landsat: usize,
}

/// Days since 1970-01-01 of the demo's first day, 2019-10-01 (the water year starts in October).
pub const FIRST_DAY: i64 = 18170;

/// Elevation (m) of the synthetic terrain: mountains in the west rising over the plains.
pub fn elevation(lon: f64, lat: f64) -> f64 {
    let mountains = 1.0 / (1.0 + ((lon + 105.15) * 7.0).exp());
    1600.0 + 1700.0 * mountains + 120.0 * (lat * 9.0).sin() * mountains
}

/// Days since 1970-01-01 of 1 January of `year`.
fn jan1(year: i64) -> i64 {
    let y = year - 1;
    365 * (year - 1970) + (y / 4 - y / 100 + y / 400) - (1969 / 4 - 1969 / 100 + 1969 / 400)
}

/// Year and day of year (1-based) of day `d` since 1970-01-01.
fn doy(d: i64) -> (i64, u32) {
    let (y, _, _) = civil_from_days(d);
    (y, (d - jan1(y) + 1) as u32)
}

/// Seasonal cycle in [0, 1], peaking on day-of-year `peak`.
fn season(doy: u32, peak: f64) -> f64 {
    (((doy as f64 - peak) / 365.25 * std::f64::consts::TAU).cos() + 1.0) / 2.0
}

/// Precipitation (mm) on day `d` at a place: storms on about a third of the days, wetter in spring
/// and at altitude, snow-season totals in the mountains.
pub fn precipitation(d: i64, lon: f64, lat: f64) -> f64 {
    let (_, j) = doy(d);
    let storm = fraction(d as u64 * 7 + 1);
    if storm > 0.33 {
        return 0.0;
    }
    let size = 1.0 + 14.0 * fraction(d as u64 * 13 + 5).powi(2);
    let wet_season = 0.4 + 0.6 * season(j, 130.0);
    let orographic = 0.7 + (elevation(lon, lat) - 1600.0) / 1700.0;
    size * wet_season * orographic
}

/// Air temperature (°C): the seasonal cycle, a daily swing, and the lapse rate.
pub fn temperature(d: i64, lon: f64, lat: f64, max: bool) -> f64 {
    let (_, j) = doy(d);
    let base = -2.0 + 22.0 * season(j, 200.0) - 6.5 * (elevation(lon, lat) - 1600.0) / 1000.0;
    let noise = 3.0 * (fraction(d as u64 * 31 + 7) - 0.5);
    if max {
        base + 8.0 + noise
    } else {
        base - 8.0 + noise
    }
}

/// Grass reference ET (mm/day).
pub fn reference_et(d: i64, lon: f64, lat: f64) -> f64 {
    let (_, j) = doy(d);
    (0.8 + 6.2 * season(j, 190.0)) * (1.0 - (elevation(lon, lat) - 1600.0) / 6000.0)
}

/// NDVI of the composite starting on day `d`: green-up later and greener higher up.
pub fn ndvi(d: i64, lon: f64, lat: f64) -> f64 {
    let e = elevation(lon, lat);
    let (_, j) = doy(d);
    let peak = 170.0 + (e - 1600.0) / 40.0;
    let cover = 0.35 + 0.4 * ((e - 1600.0) / 1700.0).clamp(0.0, 1.0);
    0.12 + cover * season(j, peak).powf(1.5)
}

fn write_tif(
    path: &Path,
    (width, height): (usize, usize),
    gt: [f64; 6],
    epsg: u32,
    data: Vec<f32>,
) -> gdal::errors::Result<()> {
    let driver = DriverManager::get_driver_by_name("GTiff")?;
    let mut ds = driver.create_with_band_type::<f32, _>(path, width, height, 1)?;
    ds.set_geo_transform(&gt)?;
    ds.set_spatial_ref(&SpatialRef::from_epsg(epsg)?)?;
    let mut band = ds.rasterband(1)?;
    band.write(
        (0, 0),
        (width, height),
        &mut gdal::raster::Buffer::new((width, height), data),
    )?;
    band.set_no_data_value(Some(-9999.0))
}

/// A variable of the terrain: value on day `d` at (lon, lat).
type Field = dyn Fn(i64, f64, f64) -> f64;

/// Writes the lake under `root` for `days` days from 2019-10-01 (366 = the 2020 water year).
pub fn write(root: &Path, days: usize) -> Result<Written, Box<dyn std::error::Error>> {
    write_west(root, days, -106.0)
}

/// [`write`] with CHIRPS and gridMET reaching west to longitude `west` (a whole degree, −106 or
/// further west) instead of −106: a wider area for benchmarks, on the same terrain (the MODIS tile
/// h09v05 covers it to about −115° at these latitudes; the soil grids stay where they are).
pub fn write_west(
    root: &Path,
    days: usize,
    west: f64,
) -> Result<Written, Box<dyn std::error::Error>> {
    if !(-115.0..=-106.0).contains(&west) || west.fract() != 0.0 {
        return Err(format!("west edge {west}: a whole degree from -115 to -106").into());
    }
    let mut w = Written::default();
    let last = FIRST_DAY + days as i64 - 1;
    // CHIRPS p05 over lon west…−104 (20 columns a degree), lat 38.5…40.5 (40 rows).
    let cols = ((-104.0 - west) / 0.05).round() as usize;
    for d in FIRST_DAY..=last {
        let (y, m, day) = civil_from_days(d);
        let dir = root.join(format!("CHIRPS-2.0/global_daily/tifs/p05/{y}"));
        std::fs::create_dir_all(&dir)?;
        let path = dir.join(format!("chirps-v2.0.{y}.{m:02}.{day:02}.tif"));
        let data = (0..40 * cols)
            .map(|i| {
                let (r, c) = (i / cols, i % cols);
                precipitation(
                    d,
                    west + (c as f64 + 0.5) * 0.05,
                    40.5 - (r as f64 + 0.5) * 0.05,
                ) as f32
            })
            .collect();
        let gt = [west, 0.05, 0.0, 40.5, 0.0, -0.05];
        write_tif(&path, (cols, 40), gt, 4326, data)?;
        if d % 2 == 1 {
            // Half the days arrive gzipped, as CHIRPS v2 publishes them.
            if !std::process::Command::new("gzip")
                .arg("-f")
                .arg(&path)
                .status()?
                .success()
            {
                return Err("gzip failed".into());
            }
        }
        w.chirps += 1;
    }
    // gridMET yearly files at 1/24° (48 rows, 24 columns a degree), each calendar year touched, every day of the year,
    // packed as gridMET publishes them (uint16 with scale_factor/add_offset, fill 32767).
    let grid = gridmet::LatLonGrid {
        north: 40.5,
        west,
        res: 1.0 / 24.0,
        ny: 48,
        nx: ((-104.0 - west) * 24.0).round() as usize,
    };
    std::fs::create_dir_all(root.join("gridmet"))?;
    let (y0, y1) = (civil_from_days(FIRST_DAY).0, civil_from_days(last).0);
    for year in y0..=y1 {
        let first = jan1(year);
        let n = if year % 4 == 0 { 366 } else { 365 };
        let at = |r: usize, c: usize| {
            (
                west + (c as f64 + 0.5) / 24.0,
                40.5 - (r as f64 + 0.5) / 24.0,
            )
        };
        let vars: [(gridmet::Variable, &Field); 4] = [
            (gridmet::PR, &precipitation),
            (gridmet::PET, &reference_et),
            (gridmet::TMMN, &|d, x, y| {
                temperature(d, x, y, false) + 273.15
            }),
            (gridmet::TMMX, &|d, x, y| {
                temperature(d, x, y, true) + 273.15
            }),
        ];
        for (var, f) in vars {
            gridmet::yearly_file(
                &root.join(format!("gridmet/{}_{year}.nc", var.file)),
                &var,
                year,
                n,
                grid,
                |d, r, c| {
                    let (x, y) = at(r, c);
                    var.pack(f(first + d as i64, x, y))
                },
            )?;
            w.gridmet += 1;
        }
    }
    // MODIS 16-day NDVI composites of tile h09v05 at 480 × 480 (2.3 km), from the composite that
    // covers the first day to the one after the last, as VegET's interpolation needs.
    let dir = root.join("MOD13Q1.061");
    std::fs::create_dir_all(&dir)?;
    let size = 480;
    let (ulx, uly) = crate::hdfeos::modis_tile_upper_left(9, 5);
    let px = crate::hdfeos::MODIS_TILE_SIZE / size as f64;
    let lonlat = |r: usize, c: usize| {
        let y = uly - (r as f64 + 0.5) * px;
        let x = ulx + (c as f64 + 0.5) * px;
        let lat = y / crate::hdfeos::MODIS_SPHERE_RADIUS;
        let lon = x / (crate::hdfeos::MODIS_SPHERE_RADIUS * lat.cos());
        (lon.to_degrees(), lat.to_degrees())
    };
    let coords: Vec<(f64, f64)> = (0..size * size)
        .map(|i| lonlat(i / size, i % size))
        .collect();
    let mut d = FIRST_DAY - 16;
    while d <= last + 16 {
        let (year, j) = doy(d);
        if (j - 1) % 16 != 0 {
            d += 1;
            continue;
        }
        let path = dir.join(format!(
            "MOD13Q1.A{year}{j:03}.h09v05.061.{year}{:03}000000.hdf",
            (j + 16).min(365)
        ));
        let nd: Vec<i16> = coords
            .iter()
            .map(|&(x, y)| (ndvi(d, x, y) * 10000.0).round() as i16)
            .collect();
        crate::hdfeos::mod13q1_tile(&path, 9, 5, size, &nd, j)?;
        w.modis += 1;
        d += 1;
    }
    // Soil grids (the user-prepared statics): UTM 13N at 500 m, deeper soils on the plains.
    let soil = root.join("soil");
    std::fs::create_dir_all(&soil)?;
    let (x0, y0, res, n) = (410_000.0, 4_440_000.0, 500.0, 300);
    let mut utm = SpatialRef::from_epsg(32613)?;
    let mut wgs = SpatialRef::from_epsg(4326)?;
    wgs.set_axis_mapping_strategy(gdal::spatial_ref::AxisMappingStrategy::TraditionalGisOrder);
    utm.set_axis_mapping_strategy(gdal::spatial_ref::AxisMappingStrategy::TraditionalGisOrder);
    let tr = gdal::spatial_ref::CoordTransform::new(&utm, &wgs)?;
    let (mut xs, mut ys): (Vec<f64>, Vec<f64>) = (0..n * n)
        .map(|i| {
            (
                x0 + ((i % n) as f64 + 0.5) * res,
                y0 - ((i / n) as f64 + 0.5) * res,
            )
        })
        .unzip();
    tr.transform_coords(&mut xs, &mut ys, &mut [])?;
    let whc: Vec<f64> = xs
        .iter()
        .zip(&ys)
        .map(|(&x, &y)| 60.0 + 140.0 * (2600.0 - elevation(x, y)).clamp(0.0, 1000.0) / 1000.0)
        .collect();
    for (suffix, k, add) in [("whc", 1.0, 0.0), ("fc", 1.4, 10.0), ("sat", 1.9, 40.0)] {
        let data = whc.iter().map(|v| (v * k + add) as f32).collect();
        write_tif(
            &soil.join(format!("soil_frontrange_2020_{suffix}.tif")),
            (n, n),
            [x0, res, 0.0, y0, 0.0, -res],
            32613,
            data,
        )?;
        w.soil += 1;
    }
    w.landsat = crate::scenes::write_scenes(root)?.len();
    Ok(w)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calendar_helpers_agree() {
        assert_eq!(civil_from_days(FIRST_DAY), (2019, 10, 1));
        assert_eq!(jan1(2020), 18262);
        assert_eq!(doy(FIRST_DAY), (2019, 274));
        assert_eq!(doy(18262 + 365), (2020, 366));
    }

    #[test]
    fn the_terrain_gives_hydrology_not_noise() {
        assert!(elevation(-105.5, 39.5) > elevation(-104.6, 39.5) + 1000.0);
        assert!(temperature(18262 + 200, -104.6, 39.5, true) > 25.0);
        assert!(temperature(18262 + 15, -105.5, 39.5, false) < -10.0);
        let wet: f64 = (0..366)
            .map(|d| precipitation(FIRST_DAY + d, -105.5, 39.5))
            .sum();
        let dry: f64 = (0..366)
            .map(|d| precipitation(FIRST_DAY + d, -104.6, 39.5))
            .sum();
        assert!(wet > dry && dry > 150.0 && wet < 1500.0, "{wet} {dry}");
        assert!(ndvi(18262 + 180, -105.4, 39.5) > ndvi(18262 + 15, -105.4, 39.5) + 0.2);
    }
}
