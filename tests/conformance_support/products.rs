//! The product definitions against the providers' specifications, and the indexed documents of the
//! families whose grids carry a quirk (MOD13Q1's sinusoidal tile, gridMET's half-cell-off attribute).
#![allow(dead_code)]
use crate::common::*;
use crate::conformance_support::*;
use conformance_lake as cl;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::Path;

/// (measurement, dtype, nodata, scale_factor, add_offset) as the providers publish them; `None` nodata
/// or packing = not checked (unverified).
type Spec = (&'static str, &'static str, Option<f64>, Option<(f64, f64)>);

pub fn check_products(f: &mut Findings, products: &BTreeMap<String, Value>, hh: Option<&str>) {
    let mut expect: Vec<(String, Vec<Spec>)> = vec![];
    for v in &cl::gridmet::VARIABLES {
        // The first measurement of each gridMET product, whatever its name.
        expect.push((
            format!("gridmet_{}", v.file),
            vec![(
                "",
                "uint16",
                Some(cl::gridmet::FILL as f64),
                Some((v.scale_factor, v.add_offset)),
            )],
        ));
    }
    expect.push((
        "chirps_v2_daily_p05".into(),
        vec![("", "float32", Some(-9999.0), Some((1.0, 0.0)))],
    ));
    let modis: Vec<Spec> = vec![
        ("ndvi", "int16", Some(-3000.0), Some((0.0001, 0.0))),
        ("evi", "int16", Some(-3000.0), Some((0.0001, 0.0))),
        ("vi_quality", "uint16", Some(65535.0), Some((1.0, 0.0))),
        ("red", "int16", Some(-1000.0), Some((0.0001, 0.0))),
        ("nir", "int16", Some(-1000.0), Some((0.0001, 0.0))),
        ("blue", "int16", Some(-1000.0), Some((0.0001, 0.0))),
        ("mir", "int16", Some(-1000.0), Some((0.0001, 0.0))),
        (
            "composite_day_of_year",
            "int16",
            Some(-1.0),
            Some((1.0, 0.0)),
        ),
        ("pixel_reliability", "int8", None, Some((1.0, 0.0))),
    ];
    expect.push(("mod13q1_061".into(), modis));
    expect.push((
        "gpm_imerg_day_v07".into(),
        vec![("precipitation", "float32", Some(-9999.9), None)],
    ));
    if let Some(hh) = hh {
        expect.push((
            hh.to_string(),
            vec![("precipitation", "float32", Some(-9999.9), None)],
        ));
    }
    let sr = cl::landsat::SR_SCALE;
    let st = cl::landsat::ST_SCALE;
    for p in ["ls8_c2l2_sr", "ls9_c2l2_sr"] {
        let mut m: Vec<Spec> = [
            "coastal", "blue", "green", "red", "nir08", "swir16", "swir22",
        ]
        .into_iter()
        .map(|n| (n, "uint16", Some(0.0), Some(sr)))
        .collect();
        m.push(("qa_pixel", "uint16", None, Some((1.0, 0.0))));
        m.push(("qa_radsat", "uint16", None, Some((1.0, 0.0))));
        m.push(("qa_aerosol", "uint8", None, Some((1.0, 0.0))));
        expect.push((p.into(), m));
    }
    for p in ["ls8_c2l2_st", "ls9_c2l2_st"] {
        expect.push((p.into(), vec![("lwir11", "uint16", Some(0.0), Some(st))]));
    }
    for (product, specs) in expect {
        let Some(def) = products.get(&product) else {
            f.check(false, || format!("product {product} is not defined"));
            continue;
        };
        let ms = def["measurements"].as_array().cloned().unwrap_or_default();
        for (name, dtype, nodata, packing) in specs {
            let m = if name.is_empty() {
                ms.first()
            } else {
                ms.iter().find(|m| m["name"] == name)
            };
            let Some(m) = m else {
                f.check(false, || format!("{product}: no measurement {name}"));
                continue;
            };
            let mname = m["name"].as_str().unwrap_or("?");
            f.check(m["dtype"] == dtype, || {
                format!(
                    "{product}.{mname}: dtype {} but the provider's files store {dtype}",
                    m["dtype"]
                )
            });
            if let Some(nd) = nodata {
                let got = m["nodata"]
                    .as_f64()
                    .or_else(|| m["nodata"].as_str().and_then(|s| s.parse().ok()));
                f.check(got.is_some_and(|g| (g - nd).abs() < 1e-3), || {
                    format!(
                        "{product}.{mname}: nodata {} but the provider's fill is {nd}",
                        m["nodata"]
                    )
                });
            }
            if let Some((s, o)) = packing {
                let gs = m["scale_factor"].as_f64().unwrap_or(1.0);
                let go = m["add_offset"].as_f64().unwrap_or(0.0);
                f.check((gs - s).abs() <= 1e-12 * s.abs().max(1.0) && (go - o).abs() < 1e-9, || {
                    format!(
                        "{product}.{mname}: scale_factor/add_offset {}/{} but the provider's packing is {s}/{o}",
                        m["scale_factor"], m["add_offset"]
                    )
                });
            }
        }
        if product.ends_with("_sr") {
            f.check(!ms.iter().any(|m| m["name"] == "lwir11"), || {
                format!("{product}: requires lwir11, which USGS publishes in the ST item, not the SR item")
            });
        }
    }
}

/// Each indexed MOD13Q1 dataset: the measurement `ndvi` opened as datacube's reader would (path + layer
/// through GDAL), its grid equal to the tile's, and its values those of the granule.
pub fn check_modis_documents(f: &mut Findings, url: &catalog_schema::DbUrl) {
    let docs = rows(
        url,
        "SELECT d.metadata::text || E'\\t' || l.uri_scheme || ':' || l.uri_body FROM agdc.dataset d \
         JOIN agdc.dataset_type p ON p.id = d.dataset_type_ref JOIN agdc.dataset_location l ON l.dataset_ref = d.id \
         WHERE p.name = 'mod13q1_061' AND d.archived IS NULL",
    );
    f.check(docs.len() == cl::modis::GRANULES.len(), || {
        format!(
            "mod13q1_061: {} datasets indexed, the lake has {} granules",
            docs.len(),
            cl::modis::GRANULES.len()
        )
    });
    for line in docs {
        let (doc, loc) = line.split_once('\t').unwrap();
        let doc: Value = serde_json::from_str(doc).unwrap();
        let m = &doc["measurements"]["ndvi"];
        let path = m["path"].as_str().unwrap_or("");
        let base = loc.trim_start_matches("file:").trim_start_matches("//");
        let file = if path.starts_with('/') {
            path.to_string()
        } else {
            Path::new(base)
                .parent()
                .unwrap()
                .join(path)
                .display()
                .to_string()
        };
        let Some(g) =
            (0..cl::modis::GRANULES.len()).find(|&g| file.ends_with(&cl::modis::granule_name(g)))
        else {
            f.check(false, || {
                format!("mod13q1_061: dataset at {file} is no granule of the lake")
            });
            continue;
        };
        let grid = &doc["grids"]["default"];
        let t = cl::modis::transform();
        let gt: Vec<f64> = grid["transform"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_f64)
            .collect();
        f.check(
            grid["shape"] == json!([cl::modis::N, cl::modis::N])
                && gt.len() >= 6
                && (gt[2] - t[0]).abs() < 1e-3
                && (gt[5] - t[3]).abs() < 1e-3
                && (gt[0] - t[1]).abs() < 1e-6,
            || {
                format!(
                    "mod13q1_061 {}: grid {grid} is not the tile's {t:?}",
                    cl::modis::granule_name(g)
                )
            },
        );
        let layer = m["layer"].as_str().unwrap_or("");
        let ds = gdal::Dataset::open(format!("HDF4_EOS:EOS_GRID:\"{file}\":{layer}"));
        let Ok(ds) = ds else {
            f.check(false, || {
                format!("mod13q1_061: GDAL cannot open {file} layer {layer}")
            });
            continue;
        };
        let (r0, c0, n) = (1500, 2900, 64);
        let v = ds
            .rasterband(1)
            .unwrap()
            .read_as::<f64>((c0 as isize, r0 as isize), (n, n), (n, n), None)
            .unwrap()
            .into_shape_and_vec()
            .1;
        let bad = (0..n * n)
            .filter(|&i| v[i] != cl::modis::stored(0, g, r0 + i / n, c0 + i % n) as f64)
            .count();
        f.check(bad == 0, || {
            format!(
                "mod13q1_061 {}: {bad} NDVI pixels differ from the granule's",
                cl::modis::granule_name(g)
            )
        });
    }
}

pub fn check_gridmet_grids(f: &mut Findings, url: &catalog_schema::DbUrl) {
    let t = cl::gridmet::transform();
    let grids = rows(
        url,
        "SELECT p.name || E'\t' || (d.metadata->'grids'->'default')::text FROM agdc.dataset d \
         JOIN agdc.dataset_type p ON p.id = d.dataset_type_ref WHERE p.name LIKE 'gridmet_%' AND d.archived IS NULL",
    );
    let mut wrong = BTreeMap::new();
    for line in &grids {
        let (p, g) = line.split_once('\t').unwrap();
        let g: Value = serde_json::from_str(g).unwrap();
        let gt: Vec<f64> = g["transform"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_f64).collect())
            .unwrap_or_default();
        // eo3 transform order: [a, b, c, d, e, f] = [dx, rx, x0, ry, dy, y0].
        let ok = g["shape"] == json!([cl::gridmet::ROWS, cl::gridmet::COLS])
            && gt.len() >= 6
            && (gt[2] - t[0]).abs() < 1e-9
            && (gt[5] - t[3]).abs() < 1e-9
            && (gt[0] - t[1]).abs() < 1e-12
            && (gt[4] - t[5]).abs() < 1e-12;
        if !ok {
            wrong.insert(p.to_string(), g.to_string());
        }
    }
    f.check(!grids.is_empty() && wrong.is_empty(), || {
        format!(
            "gridMET: {} of {} datasets' grids are not the one the lat/lon coordinates give (corner {}, {}): {wrong:?}",
            wrong.len(),
            grids.len(),
            t[0],
            t[3]
        )
    });
}
