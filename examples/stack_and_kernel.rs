//! Query the index and assemble aligned stacks on the NDVI grid, then run the VegET kernel on them:
//! the library calls behind `etlake stack` and `etlake veget run`, on the demo lake's products.
//!
//! Run after `make demo` (with `etlake db start`): `cargo run --release --example stack_and_kernel`
use catalog_schema::config::{self, ConnectOptions, SystemEnv};
use catalog_schema::search::parse_time_range;
use catalog_schema::Catalog;
use chrono::NaiveDate;
use model::stack::{
    self, grid, source::Stager, to_daily, Alignment, GroupBy, LoadRequest, Resampling,
};
use model::veget::{self, Options, Params, State, Statics};
use std::collections::HashMap;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let resolved = config::resolve(&ConnectOptions::default(), &SystemEnv)?;
    let mut catalog = Catalog::open(&resolved, &SystemEnv)?;
    let area = [-105.5, 39.0, -104.5, 40.0];
    // The model grid is the MODIS NDVI grid cropped to the area.
    let geobox = grid::like_product(&mut catalog, "mod13q1_061", area)?;
    let days: Vec<NaiveDate> = (1..=30)
        .map(|d| NaiveDate::from_ymd_opt(2020, 6, d).expect("June"))
        .collect();
    let stager = Stager::new()?;
    let mut load = |product: &str, measurement: &str, time: &str, how: Alignment| {
        let req = LoadRequest {
            product: product.into(),
            measurements: vec![measurement.into()],
            time: Some(parse_time_range(time)?),
            lonlat: Some(area),
            geobox: geobox.clone(),
            resampling: Resampling::Nearest,
            resampling_of: HashMap::new(),
            group_by: GroupBy::Time,
            // Physical values: NDVI unpacked with its scale_factor, packed gridMET with its own.
            physical: true,
            default: None,
        };
        let s = stack::load(&mut catalog, &req, &stager)?;
        println!(
            "{product}: {} steps on {}×{}",
            s.times.len(),
            geobox.width,
            geobox.height
        );
        Ok::<_, Box<dyn std::error::Error>>(to_daily(&s, measurement, &days, how)?)
    };
    let p = load(
        "chirps_v2_daily_p05",
        "precip",
        "2020-06-01/2020-06-30",
        Alignment::Daily,
    )?;
    let eto = load(
        "gridmet_pet",
        "pet",
        "2020-06-01/2020-06-30",
        Alignment::Daily,
    )?;
    let ndvi = load(
        "mod13q1_061",
        "ndvi",
        "2020-05-01/2020-07-31",
        Alignment::Interpolate { fixed16: false },
    )?;
    let kelvin = |v: Vec<f64>| v.into_iter().map(|k| k - 273.15).collect::<Vec<f64>>();
    let tmin = kelvin(load(
        "gridmet_tmmn",
        "tmmn",
        "2020-06-01/2020-06-30",
        Alignment::Daily,
    )?);
    let tmax = kelvin(load(
        "gridmet_tmmx",
        "tmmx",
        "2020-06-01/2020-06-30",
        Alignment::Daily,
    )?);
    let tavg: Vec<f64> = tmin.iter().zip(&tmax).map(|(a, b)| (a + b) / 2.0).collect();
    let n = geobox.width * geobox.height;
    let (whc, fc, sat) = (vec![120.0; n], vec![170.0; n], vec![230.0; n]);
    let (icpt, water) = (vec![10.0; n], vec![0.0; n]);
    let statics = Statics {
        whc: &whc,
        fc: &fc,
        sat: &sat,
        interception: &icpt,
        water: &water,
    };
    let inputs = veget::Stack {
        pixels: n,
        days: days.len(),
        p: &p,
        eto: &eto,
        ndvi: &ndvi,
        tmin: &tmin,
        tmax: &tmax,
        tavg: &tavg,
    };
    let (state, sums) = veget::run(
        &Params::default(),
        &Options::default(),
        statics,
        inputs,
        State::new(n),
        2048,
    );
    let valid: Vec<usize> = (0..n).filter(|&i| sums.valid_days[i] > 0).collect();
    let mean = |v: &[f64]| valid.iter().map(|&i| v[i]).sum::<f64>() / valid.len().max(1) as f64;
    println!(
        "June 2020 over {} pixels: ETa {:.1} mm, runoff {:.1} mm, drainage {:.1} mm, end soil water {:.1} mm",
        valid.len(),
        mean(&sums.etasw),
        mean(&sums.srf),
        mean(&sums.dd),
        mean(&state.swf)
    );
    Ok(())
}
