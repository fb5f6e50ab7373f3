//! A VegET run on gridMET met and MOD13Q1 NDVI against the numpy reference.
#![allow(dead_code)]
use crate::common::*;
use crate::conformance_support::*;
use conformance_lake as cl;
use serde_json::json;
use std::collections::BTreeMap;
use std::path::Path;

/// The VegET area (lon/lat), inside the gridMET window and MOD13Q1 tile h09v05.
const AREA: [f64; 4] = [-104.6, 36.6, -104.5, 36.7];

/// The VegET run and its numpy reference (on the pixels whose centre lies in the area; the run masks
/// the others).
pub fn check_veget(f: &mut Findings, url: &catalog_schema::DbUrl, w: &Path) {
    let (whc, fc, sat, icpt) = (120.0, 100.0, 180.0, 5.0);
    let config = w.join("veget.yaml");
    std::fs::write(
        &config,
        format!(
            r#"
period: {{start: 2021-06-01, end: 2021-06-05}}
area: {{bbox: [{}, {}, {}, {}]}}
grid: {{like: mod13q1_061}}
inputs:
  precipitation: {{product: gridmet_pr}}
  eto: {{product: gridmet_pet}}
  ndvi: {{product: mod13q1_061, measurement: ndvi, align: interpolate}}
  tmin: {{product: gridmet_tmmn}}
  tmax: {{product: gridmet_tmmx}}
  whc: {{value: {whc}}}
  field_capacity: {{value: {fc}}}
  saturation: {{value: {sat}}}
  interception: {{value: {icpt}}}
  water: {{value: 0}}
output: {{dir: veget-out, daily: true}}
"#,
            AREA[0], AREA[1], AREA[2], AREA[3]
        ),
    )
    .unwrap();
    let o = etlake(
        url,
        &["veget", "run", "--no-index", config.to_str().unwrap()],
    );
    if !o.status.success() {
        f.check(false, || {
            format!(
                "veget run (gridMET + MOD13Q1, each product's packing applied): {}",
                text(&o)
            )
        });
        return;
    }
    let first = w.join("veget-out/daily/veget_daily_20210601.nc");
    let ds = gdal::Dataset::open(format!("NETCDF:\"{}\":etasw", first.display())).unwrap();
    let gt = ds.geo_transform().unwrap();
    let (cols, rows) = ds.raster_size();
    let (x0, y0) = cl::modis::tile_ul(cl::modis::H, cl::modis::V);
    let r = cl::modis::R_SPHERE;
    let mut days = vec![];
    let mut mask = vec![];
    let mut outside = 0;
    for (k, date) in [
        "2021-06-01",
        "2021-06-02",
        "2021-06-03",
        "2021-06-04",
        "2021-06-05",
    ]
    .iter()
    .enumerate()
    {
        let d = chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d").unwrap();
        let doy0 = (d - chrono::NaiveDate::from_ymd_opt(2021, 1, 1).unwrap()).num_days() as usize;
        let b = (d - chrono::NaiveDate::from_ymd_opt(2021, 5, 25).unwrap()).num_days() as f64;
        let mut inputs: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
        for i in 0..rows * cols {
            let x = gt[0] + ((i % cols) as f64 + 0.5) * gt[1];
            let y = gt[3] + ((i / cols) as f64 + 0.5) * gt[5];
            let tr = ((y0 - y) / cl::modis::PIXEL).floor() as usize;
            let tc = ((x - x0) / cl::modis::PIXEL).floor() as usize;
            inputs
                .entry("ndvi0")
                .or_default()
                .push(cl::modis::stored(0, 0, tr, tc) as f64);
            inputs
                .entry("ndvi1")
                .or_default()
                .push(cl::modis::stored(0, 1, tr, tc) as f64);
            // Nearest gridMET cell of the pixel centre (sinusoid on the sphere, inverted exactly).
            let lat = (y / r).to_degrees();
            let lon = (x / (r * (y / r).cos())).to_degrees();
            if k == 0 {
                let inside =
                    (AREA[0]..=AREA[2]).contains(&lon) && (AREA[1]..=AREA[3]).contains(&lat);
                mask.push(inside);
            }
            let gc =
                ((lon - (cl::gridmet::lon(0) - cl::gridmet::RES / 2.0)) / cl::gridmet::RES).floor();
            let gr =
                (((cl::gridmet::lat(0) + cl::gridmet::RES / 2.0) - lat) / cl::gridmet::RES).floor();
            if gc < 0.0
                || gr < 0.0
                || gc as usize >= cl::gridmet::COLS
                || gr as usize >= cl::gridmet::ROWS
            {
                outside += 1;
                continue;
            }
            for v in ["pr", "pet", "tmmn", "tmmx"] {
                inputs.entry(v).or_default().push(cl::gridmet::stored(
                    v,
                    doy0,
                    gr as usize,
                    gc as usize,
                ) as f64);
            }
        }
        let file = w.join(format!(
            "veget-out/daily/veget_daily_{}.nc",
            date.replace('-', "")
        ));
        days.push(json!({"inputs": inputs, "w": b / 16.0, "file": file, "k": k}));
    }
    assert_eq!(outside, 0, "the VegET area lies inside the gridMET window");
    let input = w.join("veget-reference.json");
    std::fs::write(
        &input,
        json!({"pixels": rows * cols, "inside": mask, "whc": whc, "fc": fc, "sat": sat, "interception": icpt, "days": days}).to_string(),
    )
    .unwrap();
    let res = python_json(url, VEGET_SCRIPT, input.to_str().unwrap());
    eprintln!("veget reference: {res}");
    let worst = &res["worst"];
    f.check(
        worst["etasw"].as_f64().is_some_and(|x| x < 1e-3)
            && worst["swf"].as_f64().is_some_and(|x| x < 1e-3),
        || format!("veget run differs from the numpy reference on the providers' values: {res}"),
    );
    f.check(worst["etasw_nan"].as_u64() == Some(0), || {
        format!("veget run: nodata ETa where every input is valid: {res}")
    });
}
