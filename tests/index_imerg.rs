//! GPM IMERG daily files (NetCDF4/HDF5 with no CRS and (time, lon, lat) axes) served from S3: indexed
//! on the grid the recognition spec states, found by `dc.find_datasets` anywhere on the globe with
//! their maturity, valid STAC items, and `etlake stack` returns the file's own values at each lon/lat.
mod common;
use common::*;
use std::process::Command;

/// Writes IMERG-like daily files with the real layout (netCDF4 in the test venv): float32
/// `precipitation(time, lon, lat)`, lon/lat centres from -179.95/-89.95, fill -9999.9; `(name, seed,
/// lons, lats)` per file (IMERG's grid is 3600 × 1800).
fn write_imerg(dir: &std::path::Path, files: &[(&str, u32, usize, usize)]) {
    let code = r#"
import sys, netCDF4, numpy as np
d = sys.argv[1]
for arg in sys.argv[2:]:
    name, seed, nlon, nlat = arg.split(":")
    nlon, nlat = int(nlon), int(nlat)
    f = netCDF4.Dataset(f"{d}/{name}", "w", format="NETCDF4")
    f.createDimension("time", 1); f.createDimension("lon", nlon); f.createDimension("lat", nlat)
    t = f.createVariable("time", "i4", ("time",)); t.units = "days since 1970-01-01 00:00:00Z"; t[:] = [19737]
    lon = f.createVariable("lon", "f4", ("lon",)); lon.units = "degrees_east"
    lon[:] = -179.95 + 0.1 * np.arange(nlon)
    lat = f.createVariable("lat", "f4", ("lat",)); lat.units = "degrees_north"
    lat[:] = -89.95 + 0.1 * np.arange(nlat)
    p = f.createVariable("precipitation", "f4", ("time", "lon", "lat"), fill_value=np.float32(-9999.9), zlib=True)
    p.units = "mm/day"
    i, j = np.meshgrid(np.arange(nlon), np.arange(nlat), indexing="ij")
    v = ((i * 7 + j * 13 + int(seed) * 101) % 997 / 10.0).astype("f4")
    v[(i + j) % 23 == 0] = -9999.9
    p[0] = v
    f.close()
"#;
    let mut cmd = Command::new(venv().join("bin/python"));
    cmd.arg("-c").arg(code).arg(dir);
    for (name, seed, nlon, nlat) in files {
        cmd.arg(format!("{name}:{seed}:{nlon}:{nlat}"));
    }
    ok(cmd.output().unwrap());
}

#[test]
fn imerg_daily_files_are_indexed_on_the_stated_grid_and_stacked() {
    let pg = cluster_with_products();
    let lake = tempdir();
    let dir = lake.path().join("GPM_L3/GPM_3IMERGDF.07/2024/01");
    std::fs::create_dir_all(&dir).unwrap();
    let final_15 = "3B-DAY.MS.MRG.3IMERG.20240115-S000000-E235959.V07B.nc4";
    let late_16 = "3B-DAY-L.MS.MRG.3IMERG.20240116-S000000-E235959.V07B.nc4";
    // A file named like IMERG but on another grid contradicts the stated grid: a failure, not a
    // dataset on a wrong footprint.
    let early_17 = "3B-DAY-E.MS.MRG.3IMERG.20240117-S000000-E235959.V07B.nc4";
    write_imerg(
        &dir,
        &[
            (final_15, 1, 3600, 1800),
            (late_16, 2, 3600, 1800),
            (early_17, 3, 48, 24),
        ],
    );

    // Served from a real S3-protocol server: the indexer stages the NetCDF4 files locally for GDAL.
    let s3 = S3Server::start(false);
    let keys: Vec<(String, std::path::PathBuf)> = [final_15, late_16, early_17]
        .iter()
        .map(|n| (format!("GPM_L3/GPM_3IMERGDF.07/2024/01/{n}"), dir.join(n)))
        .collect();
    s3.upload("gesdisc", &keys);
    let env = [
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ENDPOINT_URL", s3.endpoint.as_str()),
    ];
    let reports = tempdir();
    let report = reports.path().join("report.jsonl");
    let out = etlake_with(
        &pg.url,
        &env,
        &[
            "index",
            "s3://gesdisc/GPM_L3/**",
            "--report",
            report.to_str().unwrap(),
        ],
    );
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(t.contains("2 indexed") && t.contains("1 failed"), "{t}");
    let failed: Vec<String> = std::fs::read_to_string(&report)
        .unwrap()
        .lines()
        .filter(|l| l.contains("\"failed\""))
        .map(str::to_string)
        .collect();
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert!(
        failed[0].contains("20240117")
            && failed[0].contains(
                "the file is 48×24 (rows×cols), the recognition spec's grid is 3600×1800"
            ),
        "{failed:?}"
    );

    // Global footprint: found from Colorado and from the other side of the antimeridian alike.
    let found = ok(python(
        &pg.url,
        r#"
import datacube
dc = datacube.Datacube()
for lat, lon in [((39, 40), (-105, -104)), ((-60, -59), (178, 179.9))]:
    ds = sorted(dc.find_datasets(product="gpm_imerg_day_v07", time=("2024-01-15", "2024-01-16"), lat=lat, lon=lon),
                key=lambda d: d.center_time)
    print([(str(d.center_time.date()), d.metadata.dataset_maturity) for d in ds])
d = ds[0]
e = d.metadata_doc["extent"]
print("extent", e["lon"]["begin"], e["lon"]["end"], e["lat"]["begin"], e["lat"]["end"])
"#,
    ));
    let expected = "[('2024-01-15', 'final'), ('2024-01-16', 'interim')]";
    assert_eq!(
        found.lines().filter(|l| *l == expected).count(),
        2,
        "{found}"
    );
    assert!(found.contains("extent -180.0 180.0 -90.0 90.0"), "{found}");
    let stac = validate_stac_items(&pg.url, "assert p['proj:code'] == 'EPSG:4326', p");
    assert!(stac.contains("stac valid 2"), "{stac}");

    // The stack reads the file through the stated grid: every output pixel is the file's value at
    // that lon/lat (nearest on an aligned 0.1° grid), nodata where the file has its fill.
    assert_eq!(
        rows(
            &pg.url,
            "SELECT count(*)::text FROM agdc.dataset_location WHERE uri_scheme = 's3'"
        ),
        ["2"]
    );
    let out_nc = lake.path().join("imerg.nc");
    ok(etlake_with(
        &pg.url,
        &env,
        &[
            "stack",
            "--product",
            "gpm_imerg_day_v07",
            "--measurements",
            "precipitation",
            "--time",
            "2024-01-15/2024-01-16",
            "--bbox=-105.5,39,-104.5,40",
            "--crs",
            "EPSG:4326",
            "--resolution",
            "0.1",
            "--out",
            out_nc.to_str().unwrap(),
        ],
    ));
    let compare = format!(
        r#"
import netCDF4, numpy as np, xarray as xr
o = xr.open_dataset("{out}", mask_and_scale=False)
v = o.precipitation.values
assert v.shape == (2, 10, 10), v.shape
checked = fills = 0
for t, name in enumerate(["{f1}", "{f2}"]):
    s = netCDF4.Dataset("{dir}/" + name)
    s.set_auto_mask(False)
    lon, lat, p = s["lon"][:], s["lat"][:], s["precipitation"][0]
    for i, la in enumerate(o.latitude.values):
        for j, lo in enumerate(o.longitude.values):
            want = p[int(np.argmin(abs(lon - lo))), int(np.argmin(abs(lat - la)))]
            assert v[t, i, j] == want, (t, la, lo, v[t, i, j], want)
            checked += 1
            fills += want == np.float32(-9999.9)
print("checked", checked, "fills", fills)
"#,
        out = out_nc.display(),
        dir = dir.display(),
        f1 = final_15,
        f2 = late_16
    );
    let r = ok(python(&pg.url, &compare));
    assert!(r.contains("checked 200"), "{r}");
    assert!(
        !r.contains("fills 0"),
        "the area should include fill pixels: {r}"
    );
}
