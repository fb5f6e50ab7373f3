//! What the conformance test expects, computed from the conformance lake's own value rules and the
//! providers' specifications (never from etlake's product definitions), and the Python (datacube 1.9.20,
//! numpy) scripts it runs.
#![allow(dead_code)]
pub mod products;
pub mod stacks;
pub mod veget;

use crate::common::*;
use conformance_lake as cl;
use serde_json::{json, Value};

/// Runs a Python script of the venv (datacube 1.9.20) with one argument against the index; its last
/// stdout line is JSON.
pub fn python_json(url: &catalog_schema::DbUrl, script: &str, arg: &str) -> Value {
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

/// Collects every disagreement so one run lists them all.
#[derive(Default)]
pub struct Findings(pub Vec<String>);

impl Findings {
    pub fn check(&mut self, ok: bool, what: impl FnOnce() -> String) {
        if !ok {
            let w = what();
            eprintln!("FINDING: {w}");
            self.0.push(w);
        }
    }
}

/// One `dc.load` of a product on a stated grid, and the values the provider's files hold there
/// (per time step, row-major; `None` = the provider's nodata).
pub struct LoadCase {
    pub name: String,
    pub product: String,
    pub measurement: String,
    pub time: (String, String),
    pub crs: String,
    pub shape: (usize, usize),
    pub transform: [f64; 6],
    pub expected: Vec<Vec<Option<f64>>>,
}

impl LoadCase {
    pub fn to_json(&self) -> Value {
        json!({"name": self.name, "product": self.product, "measurement": self.measurement,
               "time": [self.time.0, self.time.1], "crs": self.crs,
               "shape": [self.shape.0, self.shape.1], "transform": self.transform})
    }
}

/// Expected values on a raster window: `f(t, r, c)`.
pub fn grid_values(
    steps: usize,
    (rows, cols): (usize, usize),
    f: impl Fn(usize, usize, usize) -> Option<f64>,
) -> Vec<Vec<Option<f64>>> {
    (0..steps)
        .map(|t| {
            (0..rows)
                .flat_map(|r| (0..cols).map(move |c| (r, c)))
                .map(|(r, c)| f(t, r, c))
                .collect()
        })
        .collect()
}

/// gridMET: the first five days of the year (day index 3 holds one fill cell) on the true window grid.
pub fn gridmet_case(var: &str) -> LoadCase {
    let g = cl::gridmet::transform();
    LoadCase {
        name: format!("gridmet_{var}"),
        product: format!("gridmet_{var}"),
        measurement: String::new(),
        time: ("2021-01-01".into(), "2021-01-05".into()),
        crs: "EPSG:4326".into(),
        shape: (cl::gridmet::ROWS, cl::gridmet::COLS),
        transform: [g[0], g[1], g[2], g[3], g[4], g[5]],
        expected: grid_values(5, (cl::gridmet::ROWS, cl::gridmet::COLS), |t, r, c| {
            let v = cl::gridmet::stored(var, t, r, c);
            (v != cl::gridmet::FILL).then_some(v as f64)
        }),
    }
}

/// CHIRPS: days 1–5 of June (final 1–3, prelim 4–5) on the window of the p05 grid.
pub fn chirps_case() -> LoadCase {
    use cl::chirps::*;
    let days: Vec<u32> = FINAL_DAYS
        .iter()
        .chain(PRELIM_DAYS.iter())
        .copied()
        .collect();
    LoadCase {
        name: "chirps".into(),
        product: "chirps_v2_daily_p05".into(),
        measurement: String::new(),
        time: ("2021-06-01".into(), "2021-06-05".into()),
        crs: "EPSG:4326".into(),
        shape: (ROWS, COLS),
        transform: transform(),
        expected: grid_values(days.len(), (ROWS, COLS), |t, r, c| {
            let v = stored(days[t], r, c);
            (v != NODATA).then_some(v as f64)
        }),
    }
}

/// IMERG on the raster equivalent of its grid (row 0 northmost), the rain window.
pub fn imerg_case(name: &str, product: &str, time: (&str, &str), steps: &[u32]) -> LoadCase {
    use cl::imerg::*;
    let w = WIN;
    let west = -180.0 + 0.1 * LON0 as f64;
    let north = -90.0 + 0.1 * (LAT0 + w) as f64;
    let steps = steps.to_vec();
    LoadCase {
        name: name.into(),
        product: product.into(),
        measurement: String::new(),
        time: (time.0.into(), time.1.into()),
        crs: "EPSG:4326".into(),
        shape: (w, w),
        transform: [west, 0.1, 0.0, north, 0.0, -0.1],
        expected: grid_values(steps.len(), (w, w), |t, r, c| {
            let v = stored(steps[t], LON0 + c, LAT0 + w - 1 - r);
            (v != FILL).then_some(v as f64)
        }),
    }
}

/// A Landsat band of scene `s` on the scene's own grid.
pub fn landsat_case(s: usize, product: &str, measurement: &str, suffix: &str) -> LoadCase {
    use cl::landsat::*;
    let sc = &SCENES[s];
    let b = all_bands().find(|b| b.suffix == suffix).unwrap();
    LoadCase {
        name: format!("{product}:{measurement}:{}", sc.product_id),
        product: product.into(),
        measurement: measurement.into(),
        time: (sc.date.into(), sc.date.into()),
        crs: format!("EPSG:{}", epsg(sc)),
        shape: (SIZE, SIZE),
        transform: transform(sc),
        expected: grid_values(1, (SIZE, SIZE), |_, r, c| {
            let v = stored(s, suffix, r, c);
            (Some(v) != b.nodata).then_some(v)
        }),
    }
}

/// Runs `dc.load` for each case; per case the values (row-major per step, `null` for NaN), time labels,
/// dtype and nodata, or the error.
pub const LOAD_SCRIPT: &str = r#"
import json, sys, numpy as np, datacube
from affine import Affine
from odc.geo.geobox import GeoBox
dc = datacube.Datacube()
out = {}
for c in json.loads(sys.argv[1]):
    try:
        m = c["measurement"] or list(dc.index.products.get_by_name(c["product"]).measurements)[0]
        t = c["transform"]  # GDAL order (x0, dx, rx, y0, ry, dy)
        gb = GeoBox(tuple(c["shape"]), Affine(t[1], t[2], t[0], t[4], t[5], t[3]), c["crs"])
        d = dc.load(product=c["product"], measurements=[m], like=gb, time=tuple(c["time"]), resampling="nearest")
        if m not in d:
            out[c["name"]] = {"error": "dc.load returned no data (no datasets found)"}
            continue
        a = d[m]
        out[c["name"]] = {"measurement": m, "dtype": str(a.dtype), "nodata": None if a.attrs.get("nodata") is None else float(a.attrs["nodata"]),
                          "times": [str(t)[:19] for t in d.time.values],
                          "values": [[None if np.isnan(v) else float(v) for v in a.values[i].astype("float64").ravel()] for i in range(a.shape[0])]}
    except Exception as e:
        out[c["name"]] = {"error": f"{type(e).__name__}: {e}"}
print(json.dumps(out))
"#;

/// `etlake stack` against `dc.load` with the same parameters: per case, shapes, time labels and values.
pub const PARITY_SCRIPT: &str = r#"
import json, sys, numpy as np, xarray as xr, datacube
dc = datacube.Datacube()
out = {}
for c in json.loads(sys.argv[1]):
    try:
        m = c["measurement"]
        d = dc.load(product=c["product"], measurements=[m], x=(c["bbox"][0], c["bbox"][2]), y=(c["bbox"][1], c["bbox"][3]),
                    output_crs=c["crs"], resolution=(-c["res"], c["res"]), align=tuple(c["align"]),
                    time=tuple(c["time"]), resampling="nearest")
        if m not in d:
            out[c["name"]] = {"error": "dc.load found no datasets"}
            continue
        # Decoded as CF readers do (`_Unsigned`, `_FillValue` → NaN); dc.load's nodata becomes NaN too.
        e = xr.open_dataset(c["path"])
        a, b = d[m], e[m]
        r = {"shape_dc": list(a.shape), "shape_etlake": list(b.shape),
             "times_dc": [str(t)[:19] for t in d.time.values], "times_etlake": [str(t)[:19] for t in e.time.values]}
        if a.shape == b.shape:
            ya, yb = a[a.dims[1]].values, b[b.dims[1]].values
            xa, xb = a[a.dims[2]].values, b[b.dims[2]].values
            r["coord_diff"] = float(max(np.abs(ya - yb).max(), np.abs(xa - xb).max()))
            av, bv = a.values.astype("float64"), b.values.astype("float64")
            nod = a.attrs.get("nodata")
            if nod is not None:
                av[av == nod] = np.nan
            same = (av == bv) | (np.isnan(av) & np.isnan(bv))
            r["mismatch"] = int((~same).sum())
            if r["mismatch"]:
                k = np.argwhere(~same)[0]
                r["example"] = {"at": [int(x) for x in k], "dc_load": float(av[tuple(k)]), "etlake": float(bv[tuple(k)]),
                                "dtype_dc": str(a.dtype), "dtype_etlake": str(b.dtype), "attrs_etlake": {x: str(y) for x, y in b.attrs.items()}}
            r["cells"] = int(av.size)
            r["valid"] = int((~np.isnan(av)).sum())
        out[c["name"]] = r
    except Exception as e:
        out[c["name"]] = {"error": f"{type(e).__name__}: {e}"}
print(json.dumps(out))
"#;

/// The VegET kernel in numpy (veget.md §3, strict mode on valid inputs: rain fraction clamped to
/// [0, 1], potential melt clamped at 0), fed with inputs made physical **with the providers' packing**
/// (gridMET ×0.1 + offset, K → °C; MOD13Q1 NDVI ÷10000 interpolated between composite starts), against
/// etlake's daily outputs.
pub const VEGET_SCRIPT: &str = r#"
import json, sys, numpy as np, xarray as xr
c = json.load(open(sys.argv[1]))
n = c["pixels"]
inside = np.array(c["inside"], dtype=bool)
whc, fc, sat, icpt = c["whc"], c["fc"], c["sat"], c["interception"]
swf = np.zeros(n); pack = np.zeros(n)
worst = {"etasw": 0.0, "swf": 0.0}
checked = 0
for k, day in enumerate(c["days"]):
    i = day["inputs"]
    p = np.array(i["pr"]) * 0.1
    eto = np.array(i["pet"]) * 0.1
    tmin = np.array(i["tmmn"]) * 0.1 + 220.0 - 273.15
    tmax = np.array(i["tmmx"]) * 0.1 + 220.0 - 273.15
    ndvi = (np.array(i["ndvi0"]) + day["w"] * (np.array(i["ndvi1"]) - np.array(i["ndvi0"]))) / 10000.0
    tavg = (tmin + tmax) / 2
    peff = p * (1 - icpt / 100.0)
    fr = np.where(tavg <= 0, 0.0, np.where(tavg >= 6, 1.0, np.clip(0.167 * tavg, 0, 1)))
    rain = fr * peff
    if k == 0:
        newpack = np.zeros(n); swi = 0.5 * whc + peff
    else:
        snow = (1 - fr) * peff
        mpot = np.where(tavg > 0, np.maximum(0.06 * tmax * (tmax - np.maximum(tmin, 0)), 0), 0.0)
        melt = np.where(mpot <= snow + pack, mpot, snow + pack)
        newpack = np.maximum(pack + snow - melt, 0)
        swi = swf + rain + melt
    etobc = 0.85 * eto
    kcp = np.where(ndvi > 0.4, 1.25 * ndvi + 0.2, 1.25 * ndvi)
    ks = np.where(swi > 0.5 * whc, 1.0, swi / (0.5 * whc))
    eta = np.minimum(np.minimum(ks * kcp * etobc, swi), whc)
    swf = np.where(swi > whc, whc - eta, np.maximum(swi - eta, 0))
    pack = newpack
    o = xr.open_dataset(day["file"], mask_and_scale=True)
    for var, ref in (("etasw", eta), ("swf", swf)):
        v = o[var].values
        v = v.reshape(v.shape[-2], v.shape[-1])
        ydim = o[var].dims[-2]
        if o[ydim].values[0] < o[ydim].values[-1]:
            v = v[::-1]
        v = v.ravel().astype("float64")[inside]
        r = ref[inside]
        worst[var] = max(worst[var], float(np.nanmax(np.abs(v - r))) if np.isfinite(v).any() else float("inf"))
        worst[var + "_nan"] = int(np.isnan(v).sum()) + worst.get(var + "_nan", 0)
        checked += int(inside.sum())
print(json.dumps({"checked": checked, "inside": int(inside.sum()), "worst": worst, "eta_mean_last": float(np.mean(eta[inside]))}))
"#;
