//! The conformance lake (`conformance-lake/`, written from the providers' published specifications, not
//! from etlake's product definitions) through etlake and datacube 1.9.20:
//! - every file is indexed or skipped with a reason, and every data file ends up in an indexed dataset;
//! - the product definitions say what the providers' files hold (stored dtype, nodata, packing);
//! - per family, `dc.load` of the indexed datasets returns the values written, at their true place
//!   (MOD13Q1: PyPI rasterio has no HDF4 driver, so GDAL reads the indexed path and layer instead);
//! - `etlake stack` equals `dc.load` per family (MOD13Q1: equals the values written), and `--physical`
//!   unpacks with the providers' scale and offset;
//! - a VegET run on gridMET met and MOD13Q1 NDVI equals a numpy reference fed with the providers' values.
//!
//! Every check runs and every disagreement is listed at the end, so one run reports all of them.
mod common;
mod conformance_support;
use common::*;
use conformance_lake as cl;
use conformance_support::*;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::Path;

const SINU: &str = cl::modis::CRS;

#[test]
fn conformance_lake_indexes_loads_stacks_and_runs() {
    let lake = tempdir();
    let l = lake.path();
    let manifest = cl::write(l).unwrap();
    let pg = cluster_with_products();
    let work = tempdir();
    let w = work.path();
    let mut f = Findings::default();

    // 1. Every file indexed or skipped with a reason; every data file in an indexed dataset.
    let report = w.join("report.jsonl");
    // USGS's items point at landsatlook.usgs.gov; this lake mirrors the bucket's keys under landsat/.
    let rewrite = format!(
        "https://landsatlook.usgs.gov/data=file://{}/landsat",
        l.display()
    );
    let out = etlake(
        &pg.url,
        &[
            "index",
            l.to_str().unwrap(),
            "--report",
            report.to_str().unwrap(),
            "--href-rewrite",
            &rewrite,
        ],
    );
    eprintln!("{}", text(&out));
    let rows: BTreeMap<String, Value> = std::fs::read_to_string(&report)
        .unwrap()
        .lines()
        .map(|x| serde_json::from_str::<Value>(x).unwrap())
        .map(|r| {
            let uri = r["uri"].as_str().unwrap().to_string();
            let rel = uri
                .rsplit_once(&format!("{}/", l.display()))
                .map(|x| x.1.to_string());
            (rel.unwrap_or(uri), r)
        })
        .collect();
    let referenced = rows_of(
        &pg.url,
        "SELECT metadata::text FROM agdc.dataset WHERE archived IS NULL",
    )
    .into_iter()
    .chain(rows_of(
        &pg.url,
        "SELECT uri_body FROM agdc.dataset_location",
    ))
    .collect::<Vec<_>>()
    .join("\n");
    let mut unindexed: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for file in manifest.files() {
        let rel = file["path"].as_str().unwrap();
        let name = Path::new(rel)
            .file_name()
            .unwrap()
            .to_string_lossy()
            .to_string();
        // A STAC item's row names the item by its `self` link (the dataset's location).
        let self_href = rel
            .ends_with("_stac.json")
            .then(|| {
                let item: Value =
                    serde_json::from_str(&std::fs::read_to_string(l.join(rel)).unwrap()).unwrap();
                item["links"]
                    .as_array()
                    .and_then(|ls| ls.iter().find(|k| k["rel"] == "self"))
                    .map(|k| k["href"].as_str().unwrap_or("").to_string())
            })
            .flatten();
        let row = rows
            .get(rel)
            .or_else(|| self_href.as_ref().and_then(|h| rows.get(h)));
        f.check(row.is_some(), || format!("{rel}: no report row"));
        if let Some(r) = row {
            let outcome = r["outcome"].as_str().unwrap_or("");
            f.check(
                ["indexed", "unchanged", "skipped"].contains(&outcome),
                || format!("{rel}: {outcome} at {}: {}", r["stage"], r["error"]),
            );
            if outcome == "skipped" {
                f.check(
                    r["error"].as_str().is_some_and(|e| !e.trim().is_empty()),
                    || format!("{rel}: skipped without a reason"),
                );
            }
        }
        let is_data = file.get("variables").is_some() || file.get("bands").is_some();
        if is_data && !referenced.contains(&name) {
            let why = row
                .map(|r| format!("{}: {}", r["outcome"], r["error"]))
                .unwrap_or_default();
            unindexed
                .entry(file["family"].as_str().unwrap().to_string())
                .or_default()
                .push(format!("{name} ({why})"));
        }
    }
    for (family, files) in &unindexed {
        f.check(false, || {
            format!(
                "{family}: {} data file(s) the provider publishes are in no indexed dataset, e.g. {}",
                files.len(),
                files.iter().take(3).cloned().collect::<Vec<_>>().join("; ")
            )
        });
    }

    // 2. Product definitions against the providers' specifications.
    let products: BTreeMap<String, Value> = rows_of(
        &pg.url,
        "SELECT json_build_object('name', name, 'def', definition)::text FROM agdc.dataset_type",
    )
    .into_iter()
    .map(|t| {
        let v: Value = serde_json::from_str(&t).unwrap();
        (v["name"].as_str().unwrap().to_string(), v["def"].clone())
    })
    .collect();
    let hh_product = product_of_file(&pg.url, "3B-HHR.MS.MRG.3IMERG");
    f.check(hh_product.is_some(), || {
        "IMERG half-hourly HDF5 files are indexed by no product".to_string()
    });
    check_products(&mut f, &products, hh_product.as_deref());

    // 3. dc.load returns the values written, at their true place.
    let mut cases = vec![];
    for v in ["pr", "pet", "tmmn", "tmmx"] {
        cases.push(gridmet_case(v));
    }
    cases.push(chirps_case());
    cases.push(imerg_case(
        "imerg_day",
        "gpm_imerg_day_v07",
        ("2021-06-01", "2021-06-02"),
        &cl::imerg::DAILY_DAYS,
    ));
    if let Some(p) = &hh_product {
        cases.push(imerg_case(
            "imerg_hh",
            p,
            ("2021-06-01T00:00:00", "2021-06-01T00:59:59"),
            &cl::imerg::HALF_HOURS.map(|k| 100 + k),
        ));
    }
    for (s, sr, st) in [
        (0, "ls8_c2l2_sr", "ls8_c2l2_st"),
        (1, "ls9_c2l2_sr", "ls9_c2l2_st"),
        (2, "ls8_c2l2_sr", "ls8_c2l2_st"),
    ] {
        cases.push(landsat_case(s, sr, "red", "SR_B4"));
        cases.push(landsat_case(s, sr, "nir08", "SR_B5"));
        cases.push(landsat_case(s, sr, "qa_pixel", "QA_PIXEL"));
        cases.push(landsat_case(s, st, "lwir11", "ST_B10"));
    }
    let json_cases: Vec<Value> = cases.iter().map(LoadCase::to_json).collect();
    let loaded = python_json(
        &pg.url,
        LOAD_SCRIPT,
        &serde_json::to_string(&json_cases).unwrap(),
    );
    for c in &cases {
        compare_load(&mut f, c, &loaded[&c.name]);
    }
    // MOD13Q1 through the indexed path and layer (what datacube's reader opens), with GDAL.
    check_modis_documents(&mut f, &pg.url);
    // gridMET's indexed grid follows the coordinate variables, not the half-cell-off `GeoTransform`.
    check_gridmet_grids(&mut f, &pg.url);

    // 4. etlake stack equals dc.load; MOD13Q1's stack equals the values written; --physical unpacks.
    check_stack_parity(&mut f, &pg.url, w);
    check_modis_stack(&mut f, &pg.url, w);
    check_imerg_stack(&mut f, &pg.url, w);
    check_physical(&mut f, &pg.url, w);

    // 5. VegET on gridMET met and MOD13Q1 NDVI against the numpy reference.
    check_veget(&mut f, &pg.url, w);

    assert!(
        f.0.is_empty(),
        "{} disagreement(s) between etlake and the providers' files:\n- {}",
        f.0.len(),
        f.0.join("\n- ")
    );
}

fn rows_of(url: &catalog_schema::DbUrl, sql: &str) -> Vec<String> {
    rows(url, sql)
}

/// The product of the dataset whose location or measurement paths name this file prefix.
fn product_of_file(url: &catalog_schema::DbUrl, prefix: &str) -> Option<String> {
    rows(
        url,
        &format!(
            "SELECT DISTINCT p.name FROM agdc.dataset d JOIN agdc.dataset_type p ON p.id = d.dataset_type_ref \
             LEFT JOIN agdc.dataset_location l ON l.dataset_ref = d.id \
             WHERE d.archived IS NULL AND (l.uri_body LIKE '%{prefix}%' OR d.metadata::text LIKE '%{prefix}%')"
        ),
    )
    .into_iter()
    .next()
}

fn python_json(url: &catalog_schema::DbUrl, script: &str, arg: &str) -> Value {
    let home = tempdir();
    let path = home.path().join("script.py");
    std::fs::write(&path, script).unwrap();
    let o = std::process::Command::new(venv().join("bin/python"))
        .env("ODC_DEFAULT_DB_URL", url.python_url())
        .env_remove("DATACUBE_DB_URL")
        .arg(&path)
        .arg(arg)
        .output()
        .unwrap();
    let t = text(&o);
    assert!(o.status.success(), "python failed: {t}");
    let last = String::from_utf8_lossy(&o.stdout)
        .lines()
        .last()
        .unwrap_or("")
        .to_string();
    serde_json::from_str(&last).unwrap_or_else(|e| panic!("{e}: {t}"))
}

/// (measurement, dtype, nodata, scale_factor, add_offset) as the providers publish them; `None` nodata
/// or packing = not checked (unverified).
type Spec = (&'static str, &'static str, Option<f64>, Option<(f64, f64)>);

fn check_products(f: &mut Findings, products: &BTreeMap<String, Value>, hh: Option<&str>) {
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

fn compare_load(f: &mut Findings, c: &LoadCase, got: &Value) {
    if let Some(e) = got.get("error") {
        f.check(false, || format!("dc.load {}: {e}", c.name));
        return;
    }
    let vals = got["values"].as_array().cloned().unwrap_or_default();
    f.check(vals.len() == c.expected.len(), || {
        format!(
            "dc.load {}: {} time steps {}, the lake has {}",
            c.name,
            vals.len(),
            got["times"],
            c.expected.len()
        )
    });
    let nodata = got["nodata"].as_f64();
    for (t, (v, e)) in vals.iter().zip(&c.expected).enumerate() {
        let v = v.as_array().unwrap();
        let mut bad = vec![];
        for (i, (g, want)) in v.iter().zip(e).enumerate() {
            let g = g.as_f64().filter(|g| Some(*g) != nodata);
            let same = match (g, want) {
                (Some(a), Some(b)) => (a - b).abs() <= 1e-6 * b.abs().max(1.0),
                (None, None) => true,
                _ => false,
            };
            if !same {
                bad.push(format!(
                    "(row {}, col {}) got {g:?} want {want:?}",
                    i / c.shape.1,
                    i % c.shape.1
                ));
            }
        }
        f.check(bad.is_empty(), || {
            format!(
                "dc.load {} step {t}: {} of {} pixels differ from the provider's values, e.g. {}",
                c.name,
                bad.len(),
                e.len(),
                bad.iter().take(3).cloned().collect::<Vec<_>>().join("; ")
            )
        });
    }
}

/// Each indexed MOD13Q1 dataset: the measurement `ndvi` opened as datacube's reader would (path + layer
/// through GDAL), its grid equal to the tile's, and its values those of the granule.
fn check_modis_documents(f: &mut Findings, url: &catalog_schema::DbUrl) {
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

fn check_gridmet_grids(f: &mut Findings, url: &catalog_schema::DbUrl) {
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

struct StackCase {
    name: &'static str,
    product: String,
    measurement: String,
    bbox: [f64; 4],
    crs: String,
    res: f64,
    align: (f64, f64),
    time: (&'static str, &'static str),
}

fn run_stack(
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

fn check_stack_parity(f: &mut Findings, url: &catalog_schema::DbUrl, w: &Path) {
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
        StackCase {
            name: "imerg_day",
            product: "gpm_imerg_day_v07".into(),
            measurement: "precipitation".into(),
            bbox: [-105.9, 35.1, -103.1, 37.9],
            crs: "EPSG:4326".into(),
            res: 0.1,
            align: (0.0, 0.0),
            time: ("2021-06-01", "2021-06-02"),
        },
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
fn check_modis_stack(f: &mut Findings, url: &catalog_schema::DbUrl, w: &Path) {
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
    let (gt, steps) = read_stack(&out, "ndvi");
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
fn check_imerg_stack(f: &mut Findings, url: &catalog_schema::DbUrl, w: &Path) {
    use cl::imerg::*;
    let west = -180.0 + 0.1 * LON0 as f64;
    let south = -90.0 + 0.1 * LAT0 as f64;
    let c = StackCase {
        name: "imerg_values",
        product: "gpm_imerg_day_v07".into(),
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
        time: ("2021-06-01", "2021-06-02"),
    };
    let out = w.join("stack-imerg-values.nc");
    if let Err(e) = run_stack(url, &c, &out, &[]) {
        f.check(false, || format!("etlake stack gpm_imerg_day_v07: {e}"));
        return;
    }
    let (gt, steps) = read_stack(&out, "precipitation");
    f.check(steps.len() == DAILY_DAYS.len(), || {
        format!("etlake stack gpm_imerg_day_v07: {} steps", steps.len())
    });
    for ((shape, v), day) in steps.iter().zip(DAILY_DAYS) {
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
                "etlake stack gpm_imerg_day_v07 day {day}: {} of {} cells differ, e.g. {:?}",
                bad.len(),
                v.len(),
                bad.iter().take(3).collect::<Vec<_>>()
            )
        });
    }
}

/// Reads every step of `var` from a stack NetCDF through GDAL: the geotransform and per step (shape, values).
/// Per step: (rows, cols) and the values.
type Steps = Vec<((usize, usize), Vec<f64>)>;

fn read_stack(path: &Path, var: &str) -> ([f64; 6], Steps) {
    let ds = gdal::Dataset::open(format!("NETCDF:\"{}\":{var}", path.display())).unwrap();
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
fn check_physical(f: &mut Findings, url: &catalog_schema::DbUrl, w: &Path) {
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
    let (gt, steps) = read_stack(&out, &c.measurement);
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

/// The VegET area (lon/lat), inside the gridMET window and MOD13Q1 tile h09v05.
const AREA: [f64; 4] = [-104.6, 36.6, -104.5, 36.7];

/// The VegET run and its numpy reference (on the pixels whose centre lies in the area; the run masks
/// the others).
fn check_veget(f: &mut Findings, url: &catalog_schema::DbUrl, w: &Path) {
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
