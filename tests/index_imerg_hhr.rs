//! GPM IMERG V07 half-hourly HDF5 files (group `/Grid`, `precipitation(time, lon, lat)` in mm/hr, no
//! georeferencing; provider-specs §4a, from the OPeNDAP listing of a real 3B-HHR file): each file is one
//! dataset spanning the S..E half hour of its name, with the run's maturity, on the stated grid, and
//! `etlake stack` returns the file's value at each lon/lat.
mod common;
use common::*;
use std::process::Command;

/// Writes half-hourly files as GES DISC publishes them (HDF5 written through netCDF4 in the venv):
/// `/Grid/lon`, `/Grid/lat` centres ascending from −179.95/−89.95, `/Grid/time` in seconds since
/// 1980-01-06, `/Grid/precipitation` float32 with `_FillValue` −9999.9.
fn write_hhr(dir: &std::path::Path, files: &[(&str, u32, i64)]) {
    let code = r#"
import sys, netCDF4, numpy as np
d = sys.argv[1]
for arg in sys.argv[2:]:
    name, seed, t0 = arg.split(":")
    f = netCDF4.Dataset(f"{d}/{name}", "w", format="NETCDF4")
    f.FileHeader = "DOI=10.5067/GPM/IMERG/3B-HH/07;\nAlgorithmID=3IMERGHH;\nTimeInterval=HALF_HOUR;\n"
    g = f.createGroup("Grid")
    g.GridHeader = "BinMethod=ARITHMETIC_MEAN;\nRegistration=CENTER;\nLatitudeResolution=0.1;\nLongitudeResolution=0.1;\nNorthBoundingCoordinate=90;\nSouthBoundingCoordinate=-90;\nEastBoundingCoordinate=180;\nWestBoundingCoordinate=-180;\nOrigin=SOUTHWEST;\n"
    g.createDimension("time", 1); g.createDimension("lon", 3600); g.createDimension("lat", 1800)
    t = g.createVariable("time", "i4", ("time",)); t.units = "seconds since 1980-01-06 00:00:00 UTC"; t[:] = [int(t0)]
    lon = g.createVariable("lon", "f4", ("lon",)); lon.units = "degrees_east"; lon[:] = -179.95 + 0.1 * np.arange(3600)
    lat = g.createVariable("lat", "f4", ("lat",)); lat.units = "degrees_north"; lat[:] = -89.95 + 0.1 * np.arange(1800)
    p = g.createVariable("precipitation", "f4", ("time", "lon", "lat"), fill_value=np.float32(-9999.9), zlib=True)
    p.units = "mm/hr"; p.DimensionNames = "time,lon,lat"
    i, j = np.meshgrid(np.arange(3600), np.arange(1800), indexing="ij")
    v = ((i * 7 + j * 13 + int(seed) * 101) % 997 / 10.0).astype("f4")
    v[(i + j) % 23 == 0] = -9999.9
    p[0] = v
    f.close()
"#;
    let mut cmd = Command::new(venv().join("bin/python"));
    cmd.arg("-c").arg(code).arg(dir);
    for (name, seed, t0) in files {
        cmd.arg(format!("{name}:{seed}:{t0}"));
    }
    ok(cmd.output().unwrap());
}

#[test]
fn half_hourly_files_are_datasets_of_their_half_hour() {
    let pg = cluster_with_products();
    let lake = tempdir();
    let dir = lake.path().join("GPM_3IMERGHH.07/2024/015");
    std::fs::create_dir_all(&dir).unwrap();
    let first = "3B-HHR.MS.MRG.3IMERG.20240115-S000000-E002959.0000.V07B.HDF5";
    let second = "3B-HHR-E.MS.MRG.3IMERG.20240115-S003000-E005959.0030.V07B.HDF5";
    // 2024-01-15T00:00Z in seconds since 1980-01-06 (GPS epoch, no leap seconds).
    let t0 = 1_389_225_600;
    write_hhr(&dir, &[(first, 1, t0), (second, 2, t0 + 1800)]);
    let out = etlake(&pg.url, &["index", lake.path().to_str().unwrap()]);
    let t = text(&out);
    assert!(out.status.success() && t.contains("2 indexed"), "{t}");
    assert_eq!(
        rows(
            &pg.url,
            "SELECT concat_ws(' ', metadata->>'label', metadata#>>'{properties,dtr:start_datetime}', \
             metadata#>>'{properties,dtr:end_datetime}', metadata#>>'{properties,dea:dataset_maturity}', \
             metadata#>>'{measurements,precipitation,layer}', metadata#>>'{grids,default,transform}') \
             FROM agdc.dataset ORDER BY 1"
        ),
        [
            "gpm_imerg_hhr_v07_20240115T0000 2024-01-15T00:00:00Z 2024-01-15T00:29:59.999999Z final //Grid/precipitation [0.0, 0.1, -180.0, 0.1, 0.0, -90.0, 0.0, 0.0, 1.0]",
            "gpm_imerg_hhr_v07_20240115T0030 2024-01-15T00:30:00Z 2024-01-15T00:59:59.999999Z nrt //Grid/precipitation [0.0, 0.1, -180.0, 0.1, 0.0, -90.0, 0.0, 0.0, 1.0]",
        ]
    );
    // A time query for the second half hour finds only it.
    let found = ok(python(
        &pg.url,
        r#"
import datacube
dc = datacube.Datacube()
print([d.metadata.dataset_maturity for d in dc.find_datasets(product="gpm_imerg_hhr_v07", time=("2024-01-15T00:40", "2024-01-15T00:50"))])
"#,
    ));
    assert!(found.contains("['nrt']"), "{found}");

    // The stack reads each file through the stated grid: the file's own value at every lon/lat.
    let out_nc = lake.path().join("hhr.nc");
    ok(etlake(
        &pg.url,
        &[
            "stack",
            "--product",
            "gpm_imerg_hhr_v07",
            "--measurements",
            "precipitation",
            "--time",
            "2024-01-15",
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
checked = 0
for t, name in enumerate(["{f1}", "{f2}"]):
    s = netCDF4.Dataset("{dir}/" + name)
    g = s["Grid"]; g.set_auto_mask(False)
    lon, lat, p = g["lon"][:], g["lat"][:], g["precipitation"][0]
    for i, la in enumerate(o.latitude.values):
        for j, lo in enumerate(o.longitude.values):
            want = p[int(np.argmin(abs(lon - lo))), int(np.argmin(abs(lat - la)))]
            assert v[t, i, j] == want, (t, la, lo, v[t, i, j], want)
            checked += 1
print("checked", checked)
"#,
        out = out_nc.display(),
        dir = dir.display(),
        f1 = first,
        f2 = second
    );
    let r = ok(python(&pg.url, &compare));
    assert!(r.contains("checked 200"), "{r}");
}
