//! A small sample lake over one area (Colorado's Front Range, tile h09v05) for the demo: CHIRPS daily
//! GeoTIFFs (some gzipped), gridMET yearly NetCDF and MODIS MOD13Q1 HDF-EOS2 tiles, with real names
//! and layouts and a deterministic seasonal signal. (Landsat scenes with full sidecars come next.)
use crate::hdfeos::GridWriter;
use crate::netcdf3;
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
}

fn seasonal(doy: usize, lo: f64, hi: f64) -> f64 {
    let phase = ((doy as f64 - 200.0) / 365.0 * std::f64::consts::TAU).cos();
    lo + (hi - lo) * (phase + 1.0) / 2.0
}

/// Writes the lake under `root` for `days` days from 2020-01-01.
pub fn write(root: &Path, days: usize) -> Result<Written, Box<dyn std::error::Error>> {
    let mut w = Written::default();
    // CHIRPS p05 over lon -106..-104, lat 39..41 (40 × 40 pixels).
    let driver = DriverManager::get_driver_by_name("GTiff")?;
    for d in 0..days {
        let (m, day) = month_day(d);
        let dir = root.join("CHIRPS-2.0/global_daily/tifs/p05/2020");
        std::fs::create_dir_all(&dir)?;
        let path = dir.join(format!("chirps-v2.0.2020.{m:02}.{day:02}.tif"));
        {
            let mut ds = driver.create_with_band_type::<f32, _>(&path, 40, 40, 1)?;
            ds.set_geo_transform(&[-106.0, 0.05, 0.0, 41.0, 0.0, -0.05])?;
            ds.set_spatial_ref(&SpatialRef::from_epsg(4326)?)?;
            let rain = if d % 3 == 0 {
                seasonal(d + 1, 0.5, 6.0)
            } else {
                0.0
            };
            let data: Vec<f32> = (0..1600)
                .map(|i| (rain * (1.0 + (i % 40) as f64 / 80.0)) as f32)
                .collect();
            let mut band = ds.rasterband(1)?;
            band.write(
                (0, 0),
                (40, 40),
                &mut gdal::raster::Buffer::new((40, 40), data),
            )?;
            band.set_no_data_value(Some(-9999.0))?;
        }
        if d % 2 == 1 {
            // Half the days arrive gzipped, as CHIRPS v2 publishes them.
            let status = std::process::Command::new("gzip")
                .arg("-f")
                .arg(&path)
                .status()?;
            if !status.success() {
                return Err("gzip failed".into());
            }
        }
        w.chirps += 1;
    }
    // gridMET yearly files at 1/24° over the same area, one band per day.
    let grid = netcdf3::LatLonGrid {
        north: 41.0,
        west: -106.0,
        res: 1.0 / 24.0,
        ny: 48,
        nx: 48,
    };
    std::fs::create_dir_all(root.join("gridmet"))?;
    let vars = [
        ("pr", "precipitation_amount", 0.0, 4.0),
        ("pet", "potential_evapotranspiration", 1.0, 7.0),
        ("tmmn", "air_temperature", 258.0, 288.0),
        ("tmmx", "air_temperature", 270.0, 303.0),
    ];
    for (file, var, lo, hi) in vars {
        netcdf3::daily_grid(
            &root.join(format!("gridmet/{file}_2020.nc")),
            var,
            days,
            grid,
            |d, r, _| (seasonal(d + 1, lo, hi) - r as f64 * 0.01) as f32,
        );
        w.gridmet += 1;
    }
    // MODIS 16-day NDVI composites for tile h09v05, coarse (48 × 48) to stay small.
    for (k, doy) in (1..=days).step_by(16).enumerate() {
        let dir = root.join("MOD13Q1.061");
        std::fs::create_dir_all(&dir)?;
        let path = dir.join(format!(
            "MOD13Q1.A2020{doy:03}.h09v05.061.2020{:03}000000.hdf",
            (doy + 16).min(366)
        ));
        let mut g = GridWriter::modis_tile(&path, "MODIS_Grid_16DAY_250m_500m_VI", 9, 5, 48, 48)?;
        let ndvi = (seasonal(doy, 0.15, 0.75) * 10000.0) as i16;
        let n = 48 * 48;
        g.field("250m 16 days NDVI", -3000i16, &vec![ndvi; n])?;
        g.field("250m 16 days EVI", -3000i16, &vec![ndvi / 2; n])?;
        g.field("250m 16 days VI Quality", 65535u16, &vec![2116u16; n])?;
        g.field("250m 16 days pixel reliability", -1i8, &vec![0i8; n])?;
        g.field(
            "250m 16 days composite day of the year",
            -1i16,
            &vec![(doy + 7) as i16; n],
        )?;
        for sds in [
            "250m 16 days red reflectance",
            "250m 16 days NIR reflectance",
            "250m 16 days blue reflectance",
            "250m 16 days MIR reflectance",
        ] {
            g.field(sds, -1000i16, &vec![800 + k as i16; n])?;
        }
        g.finish()?;
        w.modis += 1;
    }
    Ok(w)
}

/// Day index from 2020-01-01 → (month, day) in the leap year 2020.
fn month_day(d: usize) -> (usize, usize) {
    let lengths = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    let mut left = d;
    for (m, len) in lengths.iter().enumerate() {
        if left < *len {
            return (m + 1, left + 1);
        }
        left -= len;
    }
    (12, 31)
}
