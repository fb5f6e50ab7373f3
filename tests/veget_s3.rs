//! `etlake veget run` with `output.dir` on S3 (a loopback moto server): each tile's rows written as
//! COGs of its own, the run's ledger kept beside them (a share of the tiles, then the rest, then
//! nothing left to run), the outputs indexed with `s3://` locations, and `dc.load` reading from S3
//! exactly the values a run on a filesystem writes into its NetCDF files.
mod common;
use common::*;
use std::path::{Path, PathBuf};

const START: &str = "2019-10-20";
const END: &str = "2019-11-06";

fn config(dir: &Path, name: &str, out: &str) -> PathBuf {
    let text = format!(
        r#"
period: {{start: {START}, end: {END}}}
area: {{bbox: [-105.4, 39.2, -104.8, 39.8]}}
grid: {{like: mod13q1_061}}
inputs:
  precipitation: {{product: chirps_v2_daily_p05, measurement: precip}}
  eto: {{product: gridmet_pet}}
  ndvi: {{product: mod13q1_061, measurement: ndvi, align: interpolate}}
  tmin: {{product: gridmet_tmmn}}
  tmax: {{product: gridmet_tmmx}}
  whc: {{product: soil_whc, measurement: whc}}
  field_capacity: {{product: soil_whc, measurement: field_capacity}}
  saturation: {{product: soil_whc, measurement: saturation}}
  interception: {{value: 10}}
  water: {{value: 0}}
output: {{dir: "{out}", daily: true}}
"#
    );
    let p = dir.join(format!("{name}.yaml"));
    std::fs::write(&p, text).unwrap();
    p
}

fn read_nc(path: &Path, var: &str) -> Vec<f64> {
    let ds = gdal::Dataset::open(format!("NETCDF:\"{}\":{var}", path.display())).unwrap();
    let (w, h) = ds.raster_size();
    ds.rasterband(1)
        .unwrap()
        .read_as::<f64>((0, 0), (w, h), (w, h), None)
        .unwrap()
        .into_shape_and_vec()
        .1
}

/// `dc.load` of every measurement of `product` at `time` on the whole grid (the union of the tiles'
/// grids), read from S3 through rasterio: `{name: [value or null, …]}`.
const LOAD: &str = r#"
import json, sys, numpy as np, datacube
from affine import Affine
from odc.geo.geobox import GeoBox
product, time = sys.argv[1], sys.argv[2]
dc = datacube.Datacube()
dss = dc.find_datasets(product=product, time=time)
assert dss and all(d.uris[0].startswith("s3://") for d in dss), [d.uris for d in dss]
grids = sorted((d.metadata_doc["grids"]["default"] for d in dss), key=lambda g: -g["transform"][5])
top = grids[0]
shape = (sum(g["shape"][0] for g in grids), top["shape"][1])
gb = GeoBox(shape, Affine(*top["transform"][:6]), dss[0].crs)
ds = dc.load(product=product, time=time, like=gb)
print(json.dumps({"tiles": len(dss), "values": {
    k: [None if np.isnan(x) else float(x) for x in ds[k].values[0].astype("float64").ravel()]
    for k in ds.data_vars}}))
"#;

#[test]
fn veget_writes_cogs_to_s3_resumes_there_and_dc_load_reads_them() {
    let pg = cluster_with_products();
    let lake = tempdir();
    sample_lake::lake::write(lake.path(), 37).unwrap();
    ok(etlake(&pg.url, &["index", lake.path().to_str().unwrap()]));
    let s3 = S3Server::start(false);
    s3.upload("out", &[]);
    let port = s3.endpoint.rsplit(':').next().unwrap().to_string();
    let aws = [
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ENDPOINT_URL_S3", s3.endpoint.as_str()),
    ];
    let work = tempdir();
    let w = work.path();

    // The reference: the same run into NetCDF files on disk, not indexed.
    let local = config(w, "local", "local-out");
    let arg = |p: &Path| p.to_str().unwrap().to_string();
    ok(etlake(
        &pg.url,
        &[
            "veget",
            "run",
            "--no-index",
            "--tile-rows",
            "7",
            &arg(&local),
        ],
    ));

    // On S3: half the tiles, then the rest (the ledger on S3 says which are done), then nothing.
    let remote = config(w, "remote", "s3://out/run");
    let half = ok(etlake_with(
        &pg.url,
        &aws,
        &[
            "veget",
            "run",
            "--tile-rows",
            "7",
            "--tile",
            "0/2",
            &arg(&remote),
        ],
    ));
    assert!(half.contains("tiles 0/2 of s3://out/run"), "{half}");
    let rest = ok(etlake_with(&pg.url, &aws, &["veget", "run", &arg(&remote)]));
    assert!(rest.contains(" 0 failed"), "{rest}");
    let ran: usize = rest
        .lines()
        .find(|l| l.contains(" tiles of 7 rows, "))
        .and_then(|l| {
            l.split(", ")
                .nth(1)?
                .split_whitespace()
                .next()?
                .parse()
                .ok()
        })
        .unwrap_or_else(|| panic!("no tiling line: {rest}"));
    let tiles: usize = rest
        .lines()
        .find(|l| l.contains(" tiles of 7 rows, "))
        .and_then(|l| l.split_whitespace().next()?.parse().ok())
        .unwrap();
    assert!(tiles >= 4 && ran == tiles / 2, "{rest}");
    assert!(
        rest.contains("COGs (one per tile and variable) in s3://out/run/daily/"),
        "{rest}"
    );
    let days = 18;
    let indexed = rows(
        &pg.url,
        "select p.name || '=' || count(*) from agdc.dataset d join agdc.dataset_type p on p.id = d.dataset_type_ref \
         where p.name like 'veget%' and d.archived is null group by p.name order by p.name",
    );
    assert_eq!(
        indexed,
        [
            format!("veget_annual={tiles}"),
            format!("veget_daily={}", days * tiles),
            format!("veget_monthly={}", 2 * tiles)
        ]
    );
    let locations = rows(
        &pg.url,
        "select count(*)::text from agdc.dataset_location where uri_scheme = 's3' and uri_body like '//out/run/%'",
    );
    assert_eq!(locations, [(tiles * (1 + days + 2)).to_string()]);
    let again = ok(etlake_with(&pg.url, &aws, &["veget", "run", &arg(&remote)]));
    assert!(again.contains(", 0 run now"), "{again}");

    // dc.load from S3 gives what the run on disk wrote, bit for bit (float32 and int16 counts).
    let py = |product: &str, time: &str| -> serde_json::Value {
        let home = tempdir();
        let mut cmd = std::process::Command::new(venv().join("bin/python"));
        clean_env(&mut cmd, home.path());
        let out = cmd
            .current_dir(home.path())
            .env("ODC_DEFAULT_DB_URL", pg.url.python_url())
            .envs([
                ("AWS_ACCESS_KEY_ID", "test"),
                ("AWS_SECRET_ACCESS_KEY", "test"),
                ("AWS_REGION", "us-east-1"),
                ("AWS_S3_ENDPOINT", &format!("127.0.0.1:{port}")),
                ("AWS_HTTPS", "NO"),
                ("AWS_VIRTUAL_HOSTING", "FALSE"),
            ])
            .args(["-c", LOAD, product, time])
            .output()
            .unwrap();
        let printed = ok(out);
        let line = printed
            .lines()
            .find(|l| l.starts_with("{\"tiles\""))
            .unwrap_or_else(|| panic!("{printed}"));
        serde_json::from_str(line).unwrap()
    };
    let out = w.join("local-out");
    for (product, time, file) in [
        (
            "veget_monthly",
            "2019-10",
            "monthly/veget_monthly_201910.nc",
        ),
        ("veget_annual", "2019", "annual/veget_annual_2019.nc"),
        ("veget_daily", "2019-11-06", "daily/veget_daily_20191106.nc"),
    ] {
        let got = py(product, time);
        assert_eq!(got["tiles"], tiles, "{product}");
        let values = got["values"].as_object().unwrap();
        assert!(values.len() >= 6, "{product}: {:?}", values.keys());
        for (var, v) in values {
            let ours = read_nc(&out.join(file), var);
            let v = v.as_array().unwrap();
            assert_eq!(v.len(), ours.len(), "{product} {var}");
            assert!(
                ours.iter().filter(|x| x.is_finite()).count() > 50,
                "{product} {var}"
            );
            for (i, (p, o)) in v.iter().zip(&ours).enumerate() {
                match p.as_f64() {
                    Some(p) => assert_eq!(p as f32, *o as f32, "{product} {var} pixel {i}"),
                    None => assert!(o.is_nan(), "{product} {var} pixel {i}: {o} vs nodata"),
                }
            }
        }
    }
}
