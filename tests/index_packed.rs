//! gridMET as the University of Idaho publishes it (NetCDF-4, uint16 packed with scale_factor/
//! add_offset, fill 32767, a `crs` GeoTransform half a cell off the coordinates; provider-specs §1a):
//! a file packed like its product is indexed on the grid its lat/lon coordinates give and `dc.load`
//! returns every stored value at its true lon/lat; a file packed otherwise (a repacked year beside a
//! year packed like the product), the pre-2019 float32 format, and a file without its variable are
//! each one failed object whose reason names the file's and the product's values, and nothing of
//! theirs is indexed.
mod common;
use common::*;
use sample_lake::gridmet::{self, LatLonGrid};
use sample_lake::netcdf4::{self, Attr, Data, Var};

/// A 12 × 16 window at the real gridMET grid's north-west corner (cell edges −124.7875, 49.4208…).
const GRID: LatLonGrid = LatLonGrid {
    north: 49.420833333333334,
    west: -124.7875,
    res: 1.0 / 24.0,
    ny: 12,
    nx: 16,
};

/// Stored values unique per day and pixel, so a pixel read from anywhere else shows.
fn stored(d: usize, r: usize, c: usize) -> u16 {
    (5000 * d + 100 * r + c) as u16
}

/// The pre-2019 format: float32 `air_temperature(day, lat, lon)` with `missing_value` −32767.
fn old_format(path: &std::path::Path) {
    let lat: Vec<f64> = (0..GRID.ny)
        .map(|r| GRID.north - (r as f64 + 0.5) * GRID.res)
        .collect();
    let lon: Vec<f64> = (0..GRID.nx)
        .map(|c| GRID.west + (c as f64 + 0.5) * GRID.res)
        .collect();
    let text = |s: &str| Attr::Text(s.into());
    let coord = |name: &str, units: &str, v: Vec<f64>, dim| Var {
        name: name.into(),
        dims: vec![dim],
        attrs: vec![("units".into(), text(units))],
        data: Data::Double(v),
        chunks: None,
    };
    netcdf4::write(
        path,
        &[("lon", GRID.nx), ("lat", GRID.ny), ("day", 1)],
        &[],
        &[
            coord("lon", "degrees_east", lon, 0),
            coord("lat", "degrees_north", lat, 1),
            coord("day", "days since 1900-01-01 00:00:00", vec![43829.0], 2),
            Var {
                name: "air_temperature".into(),
                dims: vec![2, 1, 0],
                attrs: vec![
                    ("units".into(), text("K")),
                    ("missing_value".into(), Attr::Float(-32767.0)),
                ],
                data: Data::Float(vec![270.5; GRID.ny * GRID.nx]),
                chunks: None,
            },
        ],
    )
    .unwrap();
}

#[test]
fn packed_gridmet_is_indexed_where_its_coordinates_put_it_and_other_packings_are_refused() {
    let pg = cluster_with_products();
    let lake = tempdir();
    let l = lake.path();
    gridmet::yearly_file(
        &l.join("tmmx_2020.nc"),
        &gridmet::TMMX,
        2020,
        3,
        GRID,
        stored,
    )
    .unwrap();
    // One year packed like the product, the next repacked with another offset: a product has one
    // packing, so the repacked file is refused and the other indexed.
    gridmet::yearly_file(
        &l.join("tmmn_2021.nc"),
        &gridmet::TMMN,
        2021,
        2,
        GRID,
        stored,
    )
    .unwrap();
    let repacked = gridmet::Variable {
        offset: 200.0,
        ..gridmet::TMMN
    };
    gridmet::yearly_file(&l.join("tmmn_2020.nc"), &repacked, 2020, 2, GRID, stored).unwrap();
    old_format(&l.join("tmmn_2019.nc"));
    let wrong = gridmet::Variable {
        name: "potential_evapotranspiration_typo",
        ..gridmet::PET
    };
    gridmet::yearly_file(&l.join("pet_2020.nc"), &wrong, 2020, 2, GRID, stored).unwrap();

    // GDAL sees the GeoTransform attribute the provider wrote, half a cell off the coordinates.
    let nc = l.join("tmmx_2020.nc");
    let dump = std::process::Command::new("gdalinfo")
        .arg(format!("NETCDF:\"{}\":air_temperature", nc.display()))
        .output()
        .unwrap();
    let dump = text(&dump);
    assert!(
        dump.lines().any(
            |l| l.trim().starts_with("crs#GeoTransform=-124.76666666666")
                && l.contains(" 0  49.39")
        ),
        "{dump}"
    );

    let reports = tempdir();
    let report = reports.path().join("report.jsonl");
    let out = etlake(
        &pg.url,
        &[
            "index",
            l.to_str().unwrap(),
            "--report",
            report.to_str().unwrap(),
        ],
    );
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(t.contains("5 indexed") && t.contains("3 failed"), "{t}");
    // libhdf5 prints a trace for every attribute probe on worker threads unless told not to: the
    // failures above are reported once each, by etlake, and nothing else reaches the terminal.
    assert!(!t.contains("HDF5-DIAG"), "{t}");
    for (file, reason) in [
        (
            "tmmn_2020.nc",
            "tmmn: the file stores uint16 scale 0.1 offset 200 nodata 32767, product gridmet_tmmn says uint16 scale 0.1 offset 220 nodata 32767; a product has one packing: define a product of its own for files packed this way",
        ),
        (
            "tmmn_2019.nc",
            "tmmn: the file stores float32 scale 1 offset 0 nodata -32767, product gridmet_tmmn says uint16 scale 0.1 offset 220 nodata 32767",
        ),
        (
            "pet_2020.nc",
            "pet: the file has no variable potential_evapotranspiration (it has: lon, lat, day, crs, potential_evapotranspiration_typo)",
        ),
    ] {
        let line = std::fs::read_to_string(&report)
            .unwrap()
            .lines()
            .find(|line| line.contains(file))
            .unwrap_or_else(|| panic!("no report row for {file}"))
            .to_string();
        let row: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(
            (row["outcome"].as_str(), row["stage"].as_str()),
            (Some("failed"), Some("extract")),
            "{line}"
        );
        assert!(line.contains(reason), "{file}: {line}");
    }
    assert_eq!(
        rows(&pg.url, "SELECT p.name || ' ' || count(*) FROM agdc.dataset d JOIN agdc.dataset_type p ON p.id = d.dataset_type_ref GROUP BY p.name ORDER BY 1"),
        ["gridmet_tmmn 2", "gridmet_tmmx 3"]
    );

    // The stored grid is the coordinates' (cell edges), not the GeoTransform attribute's.
    let grids = rows(
        &pg.url,
        "SELECT DISTINCT metadata#>>'{grids,default}' FROM agdc.dataset",
    );
    assert_eq!(grids.len(), 1, "{grids:?}");
    let g: serde_json::Value = serde_json::from_str(&grids[0]).unwrap();
    assert_eq!(g["shape"], serde_json::json!([12, 16]));
    let tr: Vec<f64> = g["transform"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    let want = [
        1.0 / 24.0,
        0.0,
        -124.7875,
        0.0,
        -1.0 / 24.0,
        49.420833333333334,
    ];
    for (got, w) in tr.iter().zip(want) {
        assert!((got - w).abs() < 1e-9, "transform {tr:?}, want {want:?}");
    }

    // dc.load returns the stored values (uint16, fill 32767, the product's packing as attributes)
    // with every pixel at its true place: its value is the one written for the cell whose centre
    // it reports.
    let code = r#"
import datacube, numpy as np
dc = datacube.Datacube()
x = dc.load(product='gridmet_tmmx', time=('2020-01-01', '2020-01-03'), latitude=(48.8, 49.5), longitude=(-124.9, -124.0))
v = x.tmmx
assert v.dtype == np.uint16, v.dtype
assert v.attrs['nodata'] == 32767, v.attrs
r = np.rint((49.420833333333334 - v.latitude.values) * 24 - 0.5).astype(int)
c = np.rint((v.longitude.values + 124.7875) * 24 - 0.5).astype(int)
assert np.allclose(49.420833333333334 - (r + 0.5) / 24, v.latitude.values, atol=1e-9)
assert np.allclose(-124.7875 + (c + 0.5) / 24, v.longitude.values, atol=1e-9)
ok = 0
for t in range(3):
    exp = 5000 * t + 100 * r[:, None] + c[None, :]
    inside = (r[:, None] < 12) & (c[None, :] < 16) & (r[:, None] >= 0) & (c[None, :] >= 0)
    got = v.isel(time=t).values
    assert (got[inside] == exp[inside]).all(), (t, got, exp)
    assert (got[~inside] == 32767).all()
    ok += int(inside.sum())
p = v.sel(latitude=49.420833333333334 - 5.5 / 24, longitude=-124.7875 + 7.5 / 24, method='nearest').isel(time=1)
print('checked', ok, 'pixel', int(p), float(p.latitude), float(p.longitude))
"#;
    let out = ok(python(&pg.url, code));
    assert!(out.contains("checked 576 pixel 5507 "), "{out}");
}
