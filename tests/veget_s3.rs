//! `etlake veget run` with `output.dir` on S3 (a loopback moto server): each tile's rows written as
//! COGs of its own, the run's ledger kept beside them (a share of the tiles, then the rest, then
//! nothing left to run), the outputs indexed with `s3://` locations, and `dc.load` reading from S3
//! exactly the values a run on a filesystem writes into its NetCDF files. Also some daily variables
//! only (`output.daily: [etasw, …]`), on S3 and on disk: the same values, indexed with the others
//! left out; and none (`daily: false`): the same monthly, annual and state files.
mod common;
use common::*;
use std::path::{Path, PathBuf};

const START: &str = "2019-10-20";
const END: &str = "2019-11-06";

fn config(dir: &Path, name: &str, out: &str, daily: &str) -> PathBuf {
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
output: {{dir: "{out}", daily: {daily}}}
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

/// `dc.load` of every measurement the datasets of `product` at `time` with locations of URI scheme
/// `scheme` hold, on the whole grid (the union of the tiles' grids), read through rasterio:
/// `{"tiles": N, "values": {name: [value or null, …]}}`.
const LOAD: &str = r#"
import json, sys, numpy as np, datacube
from affine import Affine
from odc.geo.geobox import GeoBox
product, time, scheme = sys.argv[1:4]
dc = datacube.Datacube()
dss = [d for d in dc.find_datasets(product=product, time=time) if d.uris[0].startswith(scheme + ":")]
assert dss, scheme
grids = sorted((d.metadata_doc["grids"]["default"] for d in dss), key=lambda g: -g["transform"][5])
top = grids[0]
shape = (sum(g["shape"][0] for g in grids), top["shape"][1])
gb = GeoBox(shape, Affine(*top["transform"][:6]), dss[0].crs)
names = sorted(set.intersection(*(set(d.measurements) for d in dss)))
ds = dc.load(product=product, measurements=names, datasets=dss, like=gb)
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
    let arg = |p: &Path| p.to_str().unwrap().to_string();
    // A run on disk in tiles of 7 rows, not indexed.
    let on_disk = |cfg: &Path| {
        ok(etlake(
            &pg.url,
            &["veget", "run", "--no-index", "--tile-rows", "7", &arg(cfg)],
        ))
    };
    on_disk(&config(w, "local", "local-out", "true"));

    // On S3: half the tiles, then the rest (the ledger on S3 says which are done), then nothing.
    let remote = config(w, "remote", "s3://out/run", "[swf, etasw]");
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
    let py = |product: &str, time: &str, scheme: &str| -> serde_json::Value {
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
            .args(["-c", LOAD, product, time, scheme])
            .output()
            .unwrap();
        let printed = ok(out);
        let line = printed
            .lines()
            .find(|l| l.starts_with("{\"tiles\""))
            .unwrap_or_else(|| panic!("{printed}"));
        serde_json::from_str(line).unwrap()
    };
    // Daily ETa only, on disk: the same monthly, annual and state files; daily files with ETa and the
    // gap count only, indexed (the other variables noted as left out) and read back.
    let eta = config(w, "eta", "eta-out", "[etasw]");
    let printed = ok(etlake(
        &pg.url,
        &["veget", "run", "--tile-rows", "7", &arg(&eta)],
    ));
    assert!(printed.contains("outputs indexed"), "{printed}");
    // And no daily file at all (the kernel adds into the sums alone).
    on_disk(&config(w, "sums", "sums-out", "false"));
    assert!(!w.join("sums-out/daily").exists());
    let reference = w.join("local-out");
    for run in ["eta-out", "sums-out"] {
        for file in [
            "monthly/veget_monthly_201910.nc",
            "monthly/veget_monthly_201911.nc",
            "annual/veget_annual_2019.nc",
            "state/veget_state_20191106.nc",
        ] {
            let (a, b) = (reference.join(file), w.join(run).join(file));
            assert!(
                std::fs::read(&a).unwrap() == std::fs::read(&b).unwrap(),
                "{run}/{file} differs"
            );
        }
    }
    let checks = [
        (
            "veget_monthly",
            "2019-10",
            "monthly/veget_monthly_201910.nc",
            "s3",
            tiles,
            6,
        ),
        (
            "veget_annual",
            "2019",
            "annual/veget_annual_2019.nc",
            "s3",
            tiles,
            9,
        ),
        (
            "veget_daily",
            "2019-11-06",
            "daily/veget_daily_20191106.nc",
            "s3",
            tiles,
            3,
        ),
        (
            "veget_daily",
            "2019-10-31",
            "daily/veget_daily_20191031.nc",
            "file",
            1,
            2,
        ),
    ];
    for (product, time, file, scheme, datasets, measurements) in checks {
        let got = py(product, time, scheme);
        assert_eq!(got["tiles"], datasets, "{product} {scheme}");
        let values = got["values"].as_object().unwrap();
        assert_eq!(values.len(), measurements, "{product}: {:?}", values.keys());
        for (var, v) in values {
            let ours = read_nc(&reference.join(file), var);
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
