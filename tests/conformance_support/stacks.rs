//! `etlake stack` against `dc.load` and against the values written, and `--physical`.
#![allow(dead_code)]
use crate::common::*;
use crate::conformance_support::*;
use conformance_lake as cl;
use serde_json::json;
use std::path::Path;

const SINU: &str = cl::modis::CRS;

pub struct StackCase {
    name: &'static str,
    product: String,
    measurement: String,
    bbox: [f64; 4],
    crs: String,
    res: f64,
    align: (f64, f64),
    time: (&'static str, &'static str),
}

pub fn run_stack(
    url: &catalog_schema::DbUrl,
    c: &StackCase,
    out: &Path,
    extra: &[&str],
) -> Result<(), String> {
    let bbox = format!(
        "--bbox={},{},{},{}",
        c.bbox[0], c.bbox[1], c.bbox[2], c.bbox[3]
    );
    let time = format!("{}/{}", c.time.0, c.time.1);
    let res = format!("{}", c.res);
    let align = format!("{},{}", c.align.0, c.align.1);
    let mut args = vec![
        "stack",
        "--product",
        &c.product,
        "--measurements",
        &c.measurement,
        "--time",
        &time,
        &bbox,
        "--crs",
        &c.crs,
        "--resolution",
        &res,
        "--align",
        &align,
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let o = etlake(url, &args);
    if o.status.success() {
        Ok(())
    } else {
        Err(text(&o))
    }
}

pub fn check_stack_parity(f: &mut Findings, url: &catalog_schema::DbUrl, w: &Path) {
    let gm = cl::gridmet::transform();
    let utm = |s: usize| format!("EPSG:{}", cl::landsat::epsg(&cl::landsat::SCENES[s]));
    let ls_bbox = |s: usize| {
        let sc = &cl::landsat::SCENES[s];
        let (x, y) = sc.ul_centre;
        let ll = cl::landsat::to_lonlat(sc, &[(x + 300.0, y - 1500.0), (x + 1500.0, y - 300.0)])
            .unwrap();
        [ll[0].0, ll[0].1, ll[1].0, ll[1].1]
    };
    let mut cases = vec![
        StackCase {
            name: "gridmet_pet",
            product: "gridmet_pet".into(),
            measurement: String::new(),
            bbox: [gm[0] + 0.1, gm[3] - 0.9, gm[0] + 1.2, gm[3] - 0.1],
            crs: "EPSG:4326".into(),
            res: 1.0 / 24.0,
            align: (gm[0].rem_euclid(gm[1]), gm[3].rem_euclid(gm[1])),
            time: ("2021-01-01", "2021-01-05"),
        },
        StackCase {
            name: "chirps",
            product: "chirps_v2_daily_p05".into(),
            measurement: String::new(),
            bbox: [-105.4, 36.1, -103.6, 37.4],
            crs: "EPSG:4326".into(),
            res: 0.05,
            align: (0.0, 0.0),
            time: ("2021-06-01", "2021-06-05"),
        },
        // IMERG has no parity case: datacube's reader refuses its files (no georeferencing in them,
        // README "Limits known today"); `check_imerg_stack` compares etlake's stack with the files'
        // cells instead, and the load checks pin datacube's refusal.
    ];
    for (name, s, p, m) in [
        ("ls8_sr", 0, "ls8_c2l2_sr", "red"),
        ("ls9_sr", 1, "ls9_c2l2_sr", "nir08"),
        ("ls8_st", 0, "ls8_c2l2_st", "lwir11"),
        ("ls8_sr_stac070", 2, "ls8_c2l2_sr", "red"),
    ] {
        let sc = &cl::landsat::SCENES[s];
        cases.push(StackCase {
            name,
            product: p.into(),
            measurement: m.into(),
            bbox: ls_bbox(s),
            crs: utm(s),
            res: 30.0,
            align: (15.0, 15.0),
            time: (sc.date, sc.date),
        });
    }
    // Measurement names not stated: the product's first (from the index).
    for c in cases.iter_mut().filter(|c| c.measurement.is_empty()) {
        c.measurement = rows(
            url,
            &format!(
                "SELECT definition->'measurements'->0->>'name' FROM agdc.dataset_type WHERE name = '{}'",
                c.product
            ),
        )
        .into_iter()
        .next()
        .unwrap_or_default();
    }
    let mut py = vec![];
    for c in &cases {
        let out = w.join(format!("stack-{}.nc", c.name));
        match run_stack(url, c, &out, &[]) {
            Ok(()) => py.push(json!({"name": c.name, "bytes": std::fs::metadata(&out).map(|m| m.len()).unwrap_or(0), "product": c.product, "measurement": c.measurement,
                "bbox": c.bbox, "crs": c.crs, "res": c.res, "align": [c.align.0, c.align.1],
                "time": [c.time.0, format!("{}T23:59:59", c.time.1)], "path": out})),
            Err(e) => f.check(false, || format!("etlake stack {}: {e}", c.name)),
        }
    }
    let r = python_json(url, PARITY_SCRIPT, &serde_json::to_string(&py).unwrap());
    for c in &py {
        let name = c["name"].as_str().unwrap();
        let x = &r[name];
        if let Some(e) = x.get("error") {
            f.check(false, || {
                format!(
                    "stack parity {name} (etlake stack exited 0, wrote {} bytes): {e}",
                    c["bytes"]
                )
            });
            continue;
        }
        f.check(
            x["shape_dc"] == x["shape_etlake"] && x["times_dc"] == x["times_etlake"],
            || {
                format!(
                    "stack parity {name}: dc.load {} {} vs etlake {} {}",
                    x["shape_dc"], x["times_dc"], x["shape_etlake"], x["times_etlake"]
                )
            },
        );
        f.check(
            x["mismatch"].as_u64() == Some(0) && x["coord_diff"].as_f64().is_some_and(|d| d < 1e-6),
            || {
                format!(
                    "stack parity {name}: {} of {} cells differ, coordinates differ by {} (e.g. {})",
                    x["mismatch"], x["cells"], x["coord_diff"], x["example"]
                )
            },
        );
        f.check(x["valid"].as_u64().is_some_and(|v| v > 0), || {
            format!("stack parity {name}: no valid cells compared")
        });
    }
}

/// `etlake stack` of MOD13Q1 NDVI on the tile's own grid returns the granule's stored values.
pub fn check_modis_stack(f: &mut Findings, url: &catalog_schema::DbUrl, w: &Path) {
    let c = StackCase {
        name: "modis",
        product: "mod13q1_061".into(),
        measurement: "ndvi".into(),
        bbox: [-104.6, 36.6, -104.5, 36.7],
        crs: SINU.into(),
        res: cl::modis::PIXEL,
        align: (0.0, 0.0),
        time: ("2021-05-25", "2021-06-10"),
    };
    let out = w.join("stack-modis.nc");
    if let Err(e) = run_stack(url, &c, &out, &[]) {
        f.check(false, || format!("etlake stack mod13q1_061: {e}"));
        return;
    }
    let (gt, steps) = read_stack(f, &out, "ndvi");
    f.check(steps.len() == 2, || {
        format!(
            "etlake stack mod13q1_061: {} steps, the lake has 2 composites",
            steps.len()
        )
    });
    let (x0, y0) = cl::modis::tile_ul(cl::modis::H, cl::modis::V);
    for (g, (shape, v)) in steps.iter().enumerate() {
        let mut bad = 0;
        for (i, &got) in v.iter().enumerate() {
            let (r, c) = (i / shape.1, i % shape.1);
            let x = gt[0] + (c as f64 + 0.5) * gt[1];
            let y = gt[3] + (r as f64 + 0.5) * gt[5];
            let tr = ((y0 - y) / cl::modis::PIXEL).floor() as usize;
            let tc = ((x - x0) / cl::modis::PIXEL).floor() as usize;
            if got != cl::modis::stored(0, g, tr, tc) as f64 {
                bad += 1;
            }
        }
        f.check(bad == 0 && !v.is_empty(), || {
            format!(
                "etlake stack mod13q1_061 step {g}: {bad} of {} pixels differ from the granule",
                v.len()
            )
        });
    }
}

/// `etlake stack` of IMERG daily precipitation on the 0.1° grid returns each cell's value of the file
/// (the file stores (time, lon, lat) with ascending latitude; the stack is north-up).
pub fn check_imerg_stack(
    f: &mut Findings,
    url: &catalog_schema::DbUrl,
    w: &Path,
    product: &str,
    time: (&'static str, &'static str),
    steps_written: &[u32],
) {
    use cl::imerg::*;
    let west = -180.0 + 0.1 * LON0 as f64;
    let south = -90.0 + 0.1 * LAT0 as f64;
    let c = StackCase {
        name: "imerg_values",
        product: product.into(),
        measurement: "precipitation".into(),
        bbox: [
            west + 0.01,
            south + 0.01,
            west + 0.1 * WIN as f64 - 0.01,
            south + 0.1 * WIN as f64 - 0.01,
        ],
        crs: "EPSG:4326".into(),
        res: 0.1,
        align: (0.0, 0.0),
        time,
    };
    let out = w.join(format!("stack-imerg-{product}.nc"));
    if let Err(e) = run_stack(url, &c, &out, &[]) {
        f.check(false, || format!("etlake stack {product}: {e}"));
        return;
    }
    let (gt, steps) = read_stack(f, &out, "precipitation");
    f.check(steps.len() == steps_written.len(), || {
        format!(
            "etlake stack {product}: {} steps, the lake has {}",
            steps.len(),
            steps_written.len()
        )
    });
    for ((shape, v), &day) in steps.iter().zip(steps_written) {
        let mut bad = vec![];
        for (k, &got) in v.iter().enumerate() {
            let lon = gt[0] + ((k % shape.1) as f64 + 0.5) * gt[1];
            let lat = gt[3] + ((k / shape.1) as f64 + 0.5) * gt[5];
            let i = ((lon + 180.0) / 0.1).floor() as usize;
            let j = ((lat + 90.0) / 0.1).floor() as usize;
            let want = stored(day, i, j);
            if got as f32 != want {
                bad.push(format!("lon {lon:.2} lat {lat:.2}: {got} vs {want}"));
            }
        }
        f.check(bad.is_empty() && !v.is_empty(), || {
            format!(
                "etlake stack {product} step {day}: {} of {} cells differ, e.g. {:?}",
                bad.len(),
                v.len(),
                bad.iter().take(3).collect::<Vec<_>>()
            )
        });
    }
}

/// Per step: (rows, cols) and the values.
pub type Steps = Vec<((usize, usize), Vec<f64>)>;

/// Reads every step of `var` from a stack NetCDF through GDAL: the geotransform and the steps; an
/// output GDAL cannot open is a finding (and an empty result).
pub fn read_stack(f: &mut Findings, path: &Path, var: &str) -> ([f64; 6], Steps) {
    let ds = match gdal::Dataset::open(format!("NETCDF:\"{}\":{var}", path.display())) {
        Ok(ds) => ds,
        Err(e) => {
            let bytes = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
            f.check(false, || {
                format!(
                    "etlake stack exited 0 but GDAL cannot open {var} in {} ({bytes} bytes): {e}",
                    path.display()
                )
            });
            return ([0.0; 6], vec![]);
        }
    };
    let gt = ds.geo_transform().unwrap();
    let (w, h) = ds.raster_size();
    let steps = (1..=ds.raster_count())
        .map(|b| {
            let v = ds
                .rasterband(b)
                .unwrap()
                .read_as::<f64>((0, 0), (w, h), (w, h), None)
                .unwrap()
                .into_shape_and_vec()
                .1;
            ((h, w), v)
        })
        .collect();
    (gt, steps)
}

/// `etlake stack --physical` unpacks gridMET tmmx with the provider's packing (×0.1 + 220 K), NaN at fill.
pub fn check_physical(f: &mut Findings, url: &catalog_schema::DbUrl, w: &Path) {
    let gm = cl::gridmet::transform();
    let c = StackCase {
        name: "tmmx_physical",
        product: "gridmet_tmmx".into(),
        measurement: rows(url, "SELECT definition->'measurements'->0->>'name' FROM agdc.dataset_type WHERE name = 'gridmet_tmmx'")
            .into_iter()
            .next()
            .unwrap_or_default(),
        bbox: [gm[0] + 0.01, gm[3] - cl::gridmet::ROWS as f64 * gm[1] + 0.01, gm[0] + cl::gridmet::COLS as f64 * gm[1] - 0.01, gm[3] - 0.01],
        crs: "EPSG:4326".into(),
        res: gm[1],
        align: (gm[0].rem_euclid(gm[1]), gm[3].rem_euclid(gm[1])),
        time: ("2021-01-01", "2021-01-05"),
    };
    let out = w.join("stack-tmmx-physical.nc");
    if let Err(e) = run_stack(url, &c, &out, &["--physical"]) {
        f.check(false, || {
            format!("etlake stack --physical gridmet_tmmx: {e}")
        });
        return;
    }
    let (gt, steps) = read_stack(f, &out, &c.measurement);
    let v = &cl::gridmet::VARIABLES[3];
    let mut bad = vec![];
    for (d, (shape, vals)) in steps.iter().enumerate() {
        for (i, &got) in vals.iter().enumerate() {
            let lon = gt[0] + (i % shape.1) as f64 * gt[1] + gt[1] / 2.0;
            let lat = gt[3] + (i / shape.1) as f64 * gt[5] + gt[5] / 2.0;
            let col = ((lon - (cl::gridmet::lon(0) - cl::gridmet::RES / 2.0)) / cl::gridmet::RES)
                .floor() as usize;
            let row = (((cl::gridmet::lat(0) + cl::gridmet::RES / 2.0) - lat) / cl::gridmet::RES)
                .floor() as usize;
            let s = cl::gridmet::stored("tmmx", d, row, col);
            let want = (s != cl::gridmet::FILL)
                .then_some((s as f64 * v.scale_factor + v.add_offset) as f32);
            let got = got as f32;
            let same = match want {
                Some(x) => (got - x).abs() <= 1e-3,
                None => got.is_nan(),
            };
            if !same {
                bad.push(format!("day {d} ({row},{col}): {got} vs {want:?}"));
            }
        }
    }
    f.check(bad.is_empty() && steps.len() == 5, || {
        format!("etlake stack --physical gridmet_tmmx: {} steps, {} cells differ from the provider's unpacked values, e.g. {:?}", steps.len(), bad.len(), bad.iter().take(3).collect::<Vec<_>>())
    });
}
