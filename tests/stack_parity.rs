//! `etlake stack` against `dc.load` (datacube 1.9.20) on generated data of three families —
//! geographic CHIRPS GeoTIFFs (plain and gzipped) and gridMET NetCDF, projected UTM soil grids (two
//! overlapping tiles fused), sinusoidal MODIS HDF-EOS2 (against `gdalwarp`, which PyPI rasterio cannot
//! read) — plus Landsat C2 L2 SR COGs of the sample lake shrunk onto a grid whose origin falls between
//! source pixels — same grid, same time labels, identical pixels with nearest, close with bilinear.
mod common;
use common::*;
use sample_lake::gridmet;
use serde_json::{json, Value};
use std::path::Path;

/// A GeoTIFF in any EPSG CRS (the common helper writes EPSG:4326 only).
fn write_utm(path: &Path, size: (usize, usize), gt: [f64; 6], value: impl Fn(usize, usize) -> f32) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let d = gdal::DriverManager::get_driver_by_name("GTiff").unwrap();
    let mut ds = d
        .create_with_band_type::<f32, _>(path, size.0, size.1, 1)
        .unwrap();
    ds.set_geo_transform(&gt).unwrap();
    ds.set_spatial_ref(&gdal::spatial_ref::SpatialRef::from_epsg(32613).unwrap())
        .unwrap();
    let data: Vec<f32> = (0..size.1)
        .flat_map(|r| (0..size.0).map(move |c| (r, c)))
        .map(|(r, c)| value(r, c))
        .collect();
    let mut b = ds.rasterband(1).unwrap();
    b.write((0, 0), size, &mut gdal::raster::Buffer::new(size, data))
        .unwrap();
    b.set_no_data_value(Some(-9999.0)).unwrap();
}

fn write_lake(l: &Path) {
    let daily = l.join("chirps/global_daily/tifs/p05/2023");
    let (size, gt) = CHIRPS_GRID;
    for day in 1..=2usize {
        write_geotiff::<f32>(
            &daily.join(format!("chirps-v2.0.2023.01.0{day}.tif")),
            size,
            gt,
            -9999.0,
            &[&move |r, c| {
                if (r + c) % 17 == 0 {
                    -9999.0
                } else {
                    (day * 10000 + r * 40 + c) as f32 * 0.25
                }
            }],
        );
    }
    let gz = std::process::Command::new("gzip")
        .arg(daily.join("chirps-v2.0.2023.01.02.tif"))
        .status()
        .unwrap();
    assert!(gz.success());
    // Two overlapping UTM soil tiles of the same year: one time step, fused first-valid.
    for (region, x0, base) in [("a", 480_000.0, 100.0), ("b", 483_000.0, 500.0)] {
        for (suffix, k) in [("whc", 1.0), ("fc", 2.0), ("sat", 3.0)] {
            write_utm(
                &l.join(format!("soil/soil_{region}_2020_{suffix}.tif")),
                (60, 50),
                [x0, 100.0, 0.0, 4_440_000.0, 0.0, -100.0],
                |r, c| {
                    if region == "a" && c > 50 && r < 10 {
                        -9999.0 // a hole that tile b fills
                    } else {
                        (base + (r * 60 + c) as f64 * k) as f32
                    }
                },
            );
        }
    }
    std::fs::create_dir_all(l.join("gridmet")).unwrap();
    gridmet::yearly_file(
        &l.join("gridmet/pr_2020.nc"),
        &gridmet::PR,
        2020,
        2,
        gridmet::LatLonGrid {
            north: 41.0,
            west: -105.0,
            res: 1.0 / 24.0,
            ny: 24,
            nx: 48,
        },
        |d, r, c| (d * 1000 + r * 48 + c) as u16,
    )
    .unwrap();
    // The sample lake's USGS Landsat 8 scenes (30 m COGs from x 470010, y 4400010, under
    // `landsat/`, indexed through their STAC items with an href rewrite).
    sample_lake::scenes::write_scenes(&l.join("landsat")).unwrap();
    let modis = l.join("modis/MOD13Q1.A2020001.h09v05.061.2020017000000.hdf");
    std::fs::create_dir_all(modis.parent().unwrap()).unwrap();
    let ndvi: Vec<i16> = (0..48 * 48).map(|i| (i * 3 % 9000) as i16).collect();
    sample_lake::hdfeos::mod13q1_tile(&modis, 9, 5, 48, &ndvi, 1).unwrap();
}

struct Case {
    name: &'static str,
    product: &'static str,
    measurements: &'static str,
    time: Option<&'static str>,
    bbox: [f64; 4],
    crs: &'static str,
    res: f64,
    resampling: &'static str,
    group_by: &'static str,
}

const CASES: &[Case] = &[
    // Same grid as the files: datacube pastes pixels.
    Case {
        name: "chirps-native",
        product: "chirps_v2_daily_p05",
        measurements: "precip",
        time: Some("2023-01-01/2023-01-02"),
        bbox: [-104.83, 40.21, -103.91, 40.87],
        crs: "EPSG:4326",
        res: 0.05,
        resampling: "nearest",
        group_by: "time",
    },
    // Finer grid, same CRS: a linear warp.
    Case {
        name: "chirps-finer",
        product: "chirps_v2_daily_p05",
        measurements: "precip",
        time: Some("2023-01-01/2023-01-02"),
        bbox: [-104.83, 40.21, -103.91, 40.87],
        crs: "EPSG:4326",
        res: 0.02,
        resampling: "nearest",
        group_by: "solar_day",
    },
    // Geographic to UTM: a true reprojection.
    Case {
        name: "chirps-utm",
        product: "chirps_v2_daily_p05",
        measurements: "precip",
        time: Some("2023-01-02"),
        bbox: [-104.9, 40.2, -104.1, 40.8],
        crs: "EPSG:32613",
        res: 1000.0,
        resampling: "nearest",
        group_by: "time",
    },
    Case {
        name: "chirps-bilinear",
        product: "chirps_v2_daily_p05",
        measurements: "precip",
        time: Some("2023-01-01"),
        bbox: [-104.83, 40.21, -103.91, 40.87],
        crs: "EPSG:4326",
        res: 0.02,
        resampling: "bilinear",
        group_by: "time",
    },
    // Twice coarser than the files, averaging.
    Case {
        name: "chirps-average",
        product: "chirps_v2_daily_p05",
        measurements: "precip",
        time: Some("2023-01-01"),
        bbox: [-104.83, 40.21, -103.91, 40.87],
        crs: "EPSG:4326",
        res: 0.1,
        resampling: "average",
        group_by: "time",
    },
    // Shrunk by a non-integer factor: dc.load reads the files decimated 2×, then warps.
    Case {
        name: "chirps-coarse",
        product: "chirps_v2_daily_p05",
        measurements: "precip",
        time: Some("2023-01-01/2023-01-02"),
        bbox: [-104.95, 40.05, -103.05, 40.95],
        crs: "EPSG:4326",
        res: 0.13,
        resampling: "nearest",
        group_by: "time",
    },
    Case {
        name: "chirps-utm-coarse",
        product: "chirps_v2_daily_p05",
        measurements: "precip",
        time: Some("2023-01-02"),
        bbox: [-104.95, 40.05, -103.05, 40.95],
        crs: "EPSG:32613",
        res: 12000.0,
        resampling: "nearest",
        group_by: "time",
    },
    Case {
        name: "soil-utm-coarse",
        product: "soil_whc",
        measurements: "whc",
        time: None,
        bbox: [-105.24, 40.045, -105.13, 40.1],
        crs: "EPSG:32613",
        res: 250.0,
        resampling: "nearest",
        group_by: "time",
    },
    // Two UTM tiles fused on their own grid, and reprojected to lon/lat.
    Case {
        name: "soil-utm",
        product: "soil_whc",
        measurements: "whc,field_capacity",
        time: None,
        bbox: [-105.22, 40.06, -105.16, 40.1],
        crs: "EPSG:32613",
        res: 100.0,
        resampling: "nearest",
        group_by: "time",
    },
    Case {
        name: "soil-lonlat",
        product: "soil_whc",
        measurements: "whc",
        time: None,
        bbox: [-105.22, 40.06, -105.16, 40.1],
        crs: "EPSG:4326",
        res: 0.001,
        resampling: "nearest",
        group_by: "time",
    },
    // 30 m Landsat SR/QA COGs on a 60 m grid: datacube reads them decimated 2× and pastes them, the
    // grid's origin (multiples of 60 m) being half a decimated pixel off the files' (470010,
    // 4400010), which odc-geo snaps toward zero.
    Case {
        name: "landsat-sr-60m",
        product: "ls8_c2l2_sr",
        measurements: "coastal,blue,green,red,nir08,swir16,swir22,qa_pixel,qa_radsat,qa_aerosol",
        time: Some("2020-06-01/2020-07-31"),
        bbox: [-105.37, 39.66, -105.26, 39.76],
        crs: "EPSG:32613",
        res: 60.0,
        resampling: "nearest",
        group_by: "time",
    },
    // NetCDF days addressed by band.
    Case {
        name: "gridmet",
        product: "gridmet_pr",
        measurements: "pr",
        time: Some("2020-01-01/2020-01-02"),
        bbox: [-104.9, 40.1, -103.3, 40.9],
        crs: "EPSG:4326",
        res: 0.02,
        resampling: "nearest",
        group_by: "time",
    },
];

#[test]
fn stack_matches_dc_load_and_gdalwarp() {
    let pg = cluster_with_products();
    let lake = tempdir();
    write_lake(lake.path());
    let rewrite = format!(
        "{}=file://{}/",
        sample_lake::scenes::USGS_DATA,
        lake.path().join("landsat").display()
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
    assert!(!printed.contains("failed"), "{printed}");
    let out = tempdir();

    let mut python_cases = Vec::new();
    for c in CASES {
        let path = out.path().join(format!("{}.nc", c.name));
        let bbox = c.bbox.map(|v| v.to_string()).join(",");
        let res = c.res.to_string();
        let mut args = vec![
            "stack",
            "--product",
            c.product,
            "--measurements",
            c.measurements,
            "--bbox",
            &bbox,
            "--crs",
            c.crs,
            "--resolution",
            &res,
            "--resampling",
            c.resampling,
            "--group-by",
            c.group_by,
            "--out",
            path.to_str().unwrap(),
        ];
        if let Some(t) = c.time {
            args.extend(["--time", t]);
        }
        let whole_args = args.clone();
        let printed = ok(etlake(&pg.url, &args));
        assert!(printed.contains(c.product), "{printed}");
        // The same stack assembled and written one row at a time is the same file, byte for byte.
        let banded = out.path().join(format!("{}-banded.nc", c.name));
        let (whole, part) = (path.to_str().unwrap(), banded.to_str().unwrap());
        let mut args: Vec<&str> = args
            .iter()
            .map(|&a| if a == whole { part } else { a })
            .collect();
        let png = out.path().join(format!("{}-banded.png", c.name));
        args.extend(["--max-memory", "0.000001", "--png", png.to_str().unwrap()]);
        let printed = ok(etlake(&pg.url, &args));
        assert!(printed.contains("bands of 1 rows"), "{printed}");
        // Its quicklook is read back from the written file.
        assert!(printed.contains("quicklook"), "{printed}");
        assert_eq!(&std::fs::read(&png).unwrap()[..4], b"\x89PNG", "{}", c.name);
        assert!(
            std::fs::read(&path).unwrap() == std::fs::read(&banded).unwrap(),
            "{}: the banded NetCDF differs from the whole one",
            c.name
        );
        // COGs per step: converted from the banded NetCDF, the same as written from memory.
        let (cogs, cogs_banded) = (
            out.path().join(format!("{}-cogs", c.name)),
            out.path().join(format!("{}-cogs-banded", c.name)),
        );
        let mut a = whole_args.clone();
        a.extend(["--cog-dir", cogs.to_str().unwrap()]);
        ok(etlake(&pg.url, &a));
        let mut a: Vec<&str> = whole_args
            .iter()
            .map(|&a| if a == whole { part } else { a })
            .collect();
        a.extend([
            "--max-memory",
            "0.000001",
            "--cog-dir",
            cogs_banded.to_str().unwrap(),
        ]);
        assert!(ok(etlake(&pg.url, &a)).contains("converted from"));
        same_cogs(&cogs, &cogs_banded, c.name);
        // The same stack as a Zarr store, whole and band by band.
        let zarr = out.path().join(format!("{}.zarr", c.name));
        let zarr_banded = out.path().join(format!("{}-banded.zarr", c.name));
        let zarr_png = out.path().join(format!("{}-zarr.png", c.name));
        for (target, banded) in [(&zarr, false), (&zarr_banded, true)] {
            let mut args: Vec<&str> = args
                .iter()
                .map(|&a| {
                    if a == part {
                        target.to_str().unwrap()
                    } else {
                        a
                    }
                })
                .map(|a| {
                    if a == png.to_str().unwrap() {
                        zarr_png.to_str().unwrap()
                    } else {
                        a
                    }
                })
                .collect();
            if !banded {
                let at = args.iter().position(|&a| a == "--max-memory").unwrap();
                args.drain(at..at + 4);
            }
            ok(etlake(&pg.url, &args));
        }
        // The banded store's quicklook is read back from the store.
        assert_eq!(
            &std::fs::read(&zarr_png).unwrap()[..4],
            b"\x89PNG",
            "{}",
            c.name
        );
        let time = c.time.map(|t| {
            let (a, b) = t.split_once('/').unwrap_or((t, t));
            json!([a, b])
        });
        python_cases.push(json!({
            "name": c.name, "product": c.product, "path": path, "bbox": c.bbox, "crs": c.crs,
            "res": c.res, "resampling": c.resampling, "group_by": c.group_by, "time": time,
            "measurements": c.measurements.split(',').collect::<Vec<_>>(),
            "zarr": zarr, "zarr_banded": zarr_banded,
        }));
    }
    let script = format!(
        r#"
import json, numpy as np, xarray as xr, datacube
dc = datacube.Datacube()
out = {{}}
for c in json.loads({cases:?}):
    kw = dict(product=c["product"], x=(c["bbox"][0], c["bbox"][2]), y=(c["bbox"][1], c["bbox"][3]),
              output_crs=c["crs"], resolution=(-c["res"], c["res"]), measurements=c["measurements"],
              resampling=c["resampling"], group_by=c["group_by"])
    if c["time"]:
        kw["time"] = tuple(c["time"])
    d = dc.load(**kw)
    e = xr.open_dataset(c["path"])
    m0 = c["measurements"][0]
    ddims, edims = d[m0].dims, e[m0].dims
    r = {{"dims_dc": list(ddims), "dims_etlake": list(edims),
          "shape_dc": [int(d.sizes[k]) for k in ddims],
          "shape_etlake": [int(e.sizes[k]) for k in edims],
          "times_dc": [str(t) for t in d.time.values], "times_etlake": [str(t) for t in e.time.values]}}
    if r["shape_dc"] == r["shape_etlake"]:
        r["dx_px"] = float(np.max(np.abs(d[ddims[2]].values - e[edims[2]].values))) / c["res"]
        r["dy_px"] = float(np.max(np.abs(d[ddims[1]].values - e[edims[1]].values))) / c["res"]
        for v in c["measurements"]:
            a = d[v].values.astype("float64")
            nod = d[v].attrs.get("nodata")
            if nod is not None and not np.isnan(nod):
                a[a == nod] = np.nan
            b = e[v].values.astype("float64")
            same = (a == b) | (np.isnan(a) & np.isnan(b))
            diff = np.abs(a - b)
            r[v] = {{"mismatch": int((~same).sum()), "valid": int((~np.isnan(a)).sum()),
                     "nan_mismatch": int((np.isnan(a) != np.isnan(b)).sum()),
                     "max_abs_diff": float(np.nanmax(diff)) if np.isfinite(diff).any() else 0.0}}
        r["crs_etlake"] = e.spatial_ref.attrs.get("crs_wkt", "")[:40]
    # The Zarr stores hold what the NetCDF holds: dims, coordinates, time labels, CRS and values.
    for key in ("zarr", "zarr_banded"):
        z = xr.open_zarr(c[key])
        same = (list(z[m0].dims) == list(edims)
                and all(np.array_equal(z[k].values, e[k].values) for k in edims)
                and z.spatial_ref.attrs.get("crs_wkt") == e.spatial_ref.attrs.get("crs_wkt")
                and all(np.array_equal(z[v].values, e[v].values, equal_nan=True)
                        and z[v].dtype == e[v].dtype for v in c["measurements"]))
        r[key] = "same" if same else f"differs: {{z}}"
    out[c["name"]] = r
print(json.dumps(out))
"#,
        cases = serde_json::to_string(&python_cases).unwrap()
    );
    let printed = ok(python(&pg.url, &script));
    let results: Value = serde_json::from_str(printed.lines().last().unwrap()).unwrap();
    eprintln!("{}", serde_json::to_string_pretty(&results).unwrap());
    for c in CASES {
        let r = &results[c.name];
        assert_eq!(
            r["shape_dc"], r["shape_etlake"],
            "{}: grid shape: {r}",
            c.name
        );
        assert_eq!(
            r["times_dc"], r["times_etlake"],
            "{}: time labels: {r}",
            c.name
        );
        assert_eq!(r["zarr"], "same", "{}: Zarr store: {r}", c.name);
        assert_eq!(
            r["zarr_banded"], "same",
            "{}: banded Zarr store: {r}",
            c.name
        );
        let wkt = r["crs_etlake"].as_str().unwrap();
        let want = if c.crs == "EPSG:4326" {
            "GEOGCS[\"WGS 84\""
        } else {
            "PROJCS[\"WGS 84 / UTM zone 13N\""
        };
        assert!(
            wkt.starts_with(want),
            "{}: CRS of the NetCDF: {wkt}",
            c.name
        );
        assert!(
            r["dx_px"].as_f64().unwrap() < 1e-9,
            "{}: x coords: {r}",
            c.name
        );
        assert!(
            r["dy_px"].as_f64().unwrap() < 1e-9,
            "{}: y coords: {r}",
            c.name
        );
        for m in c.measurements.split(',') {
            let v = &r[m];
            assert!(
                v["valid"].as_u64().unwrap() > 0,
                "{}: {m} has data: {r}",
                c.name
            );
            assert_eq!(v["nan_mismatch"], 0, "{}: {m} nodata pattern: {r}", c.name);
            if c.resampling == "nearest" {
                assert_eq!(v["mismatch"], 0, "{}: {m} pixels: {r}", c.name);
            } else {
                // Bilinear: GDAL computes both; only float rounding of the working type may differ.
                assert!(
                    v["max_abs_diff"].as_f64().unwrap() < 1e-3,
                    "{}: {m}: {r}",
                    c.name
                );
            }
        }
    }

    // MODIS sinusoidal → lon/lat: PyPI rasterio lacks HDF4, so compare with gdalwarp on the same grid.
    let nc = out.path().join("modis.nc");
    ok(etlake(
        &pg.url,
        &[
            "stack",
            "--product",
            "mod13q1_061",
            "--measurements",
            "ndvi",
            "--bbox",
            "-104.5,34.5,-103.5,35.5",
            "--crs",
            "EPSG:4326",
            "--resolution",
            "0.01",
            "--out",
            nc.to_str().unwrap(),
        ],
    ));
    let ours = gdal::Dataset::open(format!("NETCDF:\"{}\":ndvi", nc.display())).unwrap();
    let gt = ours.geo_transform().unwrap();
    let (w, h) = ours.raster_size();
    let hdf = lake
        .path()
        .join("modis/MOD13Q1.A2020001.h09v05.061.2020017000000.hdf");
    let warped = out.path().join("gdalwarp.tif");
    let te = [
        gt[0],
        gt[3] + gt[5] * h as f64,
        gt[0] + gt[1] * w as f64,
        gt[3],
    ];
    let status = std::process::Command::new("gdalwarp")
        .args(["-q", "-t_srs", "EPSG:4326", "-r", "near", "-te"])
        .args(te.map(|v| v.to_string()))
        .args(["-ts", &w.to_string(), &h.to_string(), "-dstnodata", "-3000"])
        .arg(format!(
            "HDF4_EOS:EOS_GRID:\"{}\":MODIS_Grid_16DAY_250m_500m_VI:\"250m 16 days NDVI\"",
            hdf.display()
        ))
        .arg(&warped)
        .status()
        .unwrap();
    assert!(status.success());
    let theirs = gdal::Dataset::open(&warped).unwrap();
    let read = |ds: &gdal::Dataset| {
        ds.rasterband(1)
            .unwrap()
            .read_as::<i16>((0, 0), (w, h), (w, h), None)
            .unwrap()
            .into_shape_and_vec()
            .1
    };
    let (a, b) = (read(&ours), read(&theirs));
    let valid = a.iter().filter(|&&v| v != -3000).count();
    let differ = a.iter().zip(&b).filter(|(x, y)| x != y).count();
    assert!(
        valid > w * h / 2,
        "MODIS stack mostly valid ({valid} of {})",
        w * h
    );
    assert_eq!(
        differ,
        0,
        "etlake and gdalwarp differ on {differ} of {} pixels",
        w * h
    );
}

/// Two folders of COGs hold the same files with the same grid, type, nodata and values.
fn same_cogs(a: &std::path::Path, b: &std::path::Path, case: &str) {
    let names = |d: &std::path::Path| {
        let mut v: Vec<String> = std::fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    };
    let (na, nb) = (names(a), names(b));
    assert!(
        !na.is_empty() && na == nb,
        "{case}: COG files {na:?} vs {nb:?}"
    );
    for n in na {
        let (x, y) = (
            gdal::Dataset::open(a.join(&n)).unwrap(),
            gdal::Dataset::open(b.join(&n)).unwrap(),
        );
        assert_eq!(x.raster_size(), y.raster_size(), "{case} {n}");
        assert_eq!(
            x.geo_transform().unwrap(),
            y.geo_transform().unwrap(),
            "{case} {n}"
        );
        let (bx, by) = (x.rasterband(1).unwrap(), y.rasterband(1).unwrap());
        assert_eq!(bx.band_type(), by.band_type(), "{case} {n}");
        assert_eq!(
            format!("{:?}", bx.no_data_value()),
            format!("{:?}", by.no_data_value()),
            "{case} {n}"
        );
        let size = x.raster_size();
        let read = |b: &gdal::raster::RasterBand| {
            b.read_as::<f64>((0, 0), size, size, None)
                .unwrap()
                .into_shape_and_vec()
                .1
        };
        let (vx, vy) = (read(&bx), read(&by));
        assert!(
            vx.iter()
                .zip(&vy)
                .all(|(p, q)| p == q || p.is_nan() && q.is_nan()),
            "{case} {n}: values differ"
        );
    }
}
