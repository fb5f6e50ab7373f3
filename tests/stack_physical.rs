//! `etlake stack --physical` against `dc.load` (datacube 1.9.20) unpacked by hand: Landsat 8 C2 L2
//! surface reflectance (stored uint16, scale 2.75e-05, offset −0.2 as the product says, from USGS's
//! Collection 2 Level-2 Science Product Guide) and its QA band (no packing), written as NetCDF, Zarr
//! and band by band; CF attributes say what was applied and leave nothing to apply again.
mod common;
use common::*;
use serde_json::{json, Value};

#[test]
fn physical_stacks_equal_dc_load_unpacked_by_hand() {
    let pg = cluster_with_products();
    let lake = tempdir();
    sample_lake::scenes::write_scenes(lake.path()).unwrap();
    let rewrite = format!(
        "{}=file://{}/",
        sample_lake::scenes::USGS_DATA,
        lake.path().display()
    );
    let printed = ok(etlake(
        &pg.url,
        &[
            "index",
            lake.path().to_str().unwrap(),
            "--href-rewrite",
            &rewrite,
        ],
    ));
    // USGS's SR items are routed to ls8_c2l2_sr by the recognition rules.
    assert!(!printed.contains("failed"), "{printed}");
    let out = tempdir();
    let o = |name: &str| out.path().join(name).display().to_string();
    let (nc, zarr, banded, stored) = (
        o("phys.nc"),
        o("phys.zarr"),
        o("phys-banded.nc"),
        o("stored.nc"),
    );
    let args = |path: &str, physical: bool| {
        let mut a = vec![
            "stack".to_string(),
            "--product".into(),
            "ls8_c2l2_sr".into(),
            "--measurements".into(),
            "red,nir08,qa_pixel".into(),
            "--bbox".into(),
            "-105.37,39.66,-105.26,39.76".into(),
            "--crs".into(),
            "EPSG:32613".into(),
            "--resolution".into(),
            "30".into(),
            "--out".into(),
            path.to_string(),
        ];
        if physical {
            a.push("--physical".into());
        }
        a
    };
    let run = |a: Vec<String>| {
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        ok(etlake(&pg.url, &a))
    };
    run(args(&nc, true));
    run(args(&zarr, true));
    run(args(&stored, false));
    let mut a = args(&banded, true);
    a.extend(["--max-memory".into(), "0.000001".into()]);
    assert!(run(a).contains("bands of 1 rows"));
    assert!(
        std::fs::read(&nc).unwrap() == std::fs::read(&banded).unwrap(),
        "the banded physical NetCDF differs from the whole one"
    );

    let script = format!(
        r#"
import json, numpy as np, xarray as xr, datacube
dc = datacube.Datacube()
d = dc.load(product="ls8_c2l2_sr", x=(-105.37, -105.26), y=(39.66, 39.76), output_crs="EPSG:32613",
            resolution=(-30, 30), measurements=["red", "nir08", "qa_pixel"])
defs = {{m["name"]: m for m in dc.index.products.get_by_name("ls8_c2l2_sr").definition["measurements"]}}
stored = xr.open_dataset({stored:?})
out = {{}}
for key, path in (("netcdf", {nc:?}), ("zarr", {zarr:?})):
    e = xr.open_zarr(path) if key == "zarr" else xr.open_dataset(path)
    for v in ("red", "nir08", "qa_pixel"):
        m = defs[v]
        a = d[v].values.astype("float64")
        a[a == m["nodata"]] = np.nan
        want = (a * m.get("scale_factor", 1.0) + m.get("add_offset", 0.0)).astype("float32")
        got = e[v].values
        enc = e[v].encoding
        out[f"{{key}}/{{v}}"] = {{
            "dtype": str(got.dtype),
            "mismatch": int((~((want == got) | (np.isnan(want) & np.isnan(got)))).sum()),
            "valid": int((~np.isnan(want)).sum()),
            "nan": int(np.isnan(got).sum()),
            "units": e[v].attrs.get("units"),
            "packing_left": [k for k in ("scale_factor", "add_offset") if k in e[v].attrs or k in enc],
            "fill_nan": bool(np.isnan(enc.get("_FillValue", 0.0))),
            "applied": [e[v].attrs.get("applied_scale_factor"), e[v].attrs.get("applied_add_offset")],
            "source_dtype": e[v].attrs.get("source_dtype"),
        }}
# The default stack is still the stored values, as dc.load returns them.
stored = xr.open_dataset({stored:?}, mask_and_scale=False)
out["stored_same"] = [bool(np.array_equal(d[v].values, stored[v].values.astype(d[v].dtype))) for v in ("red", "nir08", "qa_pixel")]
print(json.dumps(out))
"#
    );
    let printed = ok(python(&pg.url, &script));
    let r: Value = serde_json::from_str(printed.lines().last().unwrap()).unwrap();
    eprintln!("{}", serde_json::to_string_pretty(&r).unwrap());
    assert_eq!(r["stored_same"], json!([true, true, true]), "{r}");
    for key in ["netcdf", "zarr"] {
        for (v, applied, units) in [
            ("red", json!([2.75e-05, -0.2]), "1"),
            ("nir08", json!([2.75e-05, -0.2]), "1"),
            ("qa_pixel", json!([1.0, 0.0]), "bit_index"),
        ] {
            let x = &r[format!("{key}/{v}")];
            assert_eq!(x["dtype"], "float32", "{key}/{v}: {x}");
            assert_eq!(x["mismatch"], 0, "{key}/{v}: {x}");
            // Pixels outside the scene are stored nodata, now NaN.
            assert!(x["valid"].as_u64().unwrap() > 100, "{key}/{v}: {x}");
            assert!(x["nan"].as_u64().unwrap() > 100, "{key}/{v}: {x}");
            assert_eq!(x["packing_left"], json!([]), "{key}/{v}: {x}");
            assert_eq!(x["fill_nan"], true, "{key}/{v}: {x}");
            assert_eq!(x["applied"], applied, "{key}/{v}: {x}");
            assert_eq!(x["units"], units, "{key}/{v}: {x}");
            assert_eq!(x["source_dtype"], "uint16", "{key}/{v}: {x}");
        }
    }
}
