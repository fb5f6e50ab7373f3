//! `etlake index s3://…` against a real S3-protocol server (moto) on loopback: globs, fan-out
//! listing, ranged GeoTIFF reads over /vsis3/, staged NetCDF, key lists, and one clear error for a
//! missing bucket, refused credentials or an unreachable endpoint.
mod common;
use common::*;
use sample_lake::gridmet;
use std::path::PathBuf;

const CREDS: [(&str, &str); 3] = [
    ("AWS_ACCESS_KEY_ID", "test"),
    ("AWS_SECRET_ACCESS_KEY", "test"),
    ("AWS_REGION", "us-east-1"),
];

#[test]
fn s3_lake_is_indexed_and_errors_are_clear() {
    let pg = cluster_with_products();

    let s3 = S3Server::start(false);
    let files = tempdir();
    // The crawl of s3://lake/ fans out over its top-level prefixes (CHIRPS-2.0/, gridmet/).
    let mut uploads: Vec<(String, PathBuf)> = Vec::new();
    for day in 1..=12u32 {
        let p = files
            .path()
            .join(format!("chirps-v2.0.2023.01.{day:02}.tif"));
        let (size, gt) = CHIRPS_GRID;
        write_geotiff::<f32>(&p, size, gt, -9999.0, &[&|_, _| day as f32]);
        uploads.push((
            format!("CHIRPS-2.0/global_daily/tifs/p05/2023/chirps-v2.0.2023.01.{day:02}.tif"),
            p,
        ));
    }
    let nc = files.path().join("pr_2021.nc");
    let grid = gridmet::LatLonGrid {
        north: 41.0,
        west: -105.0,
        res: 1.0 / 24.0,
        ny: 24,
        nx: 48,
    };
    gridmet::yearly_file(&nc, &gridmet::PR, 2021, 2, grid, |d, _, _| d as u16).unwrap();
    let mut all = uploads.clone();
    all.push(("gridmet/pr_2021.nc".into(), nc));
    all.push(("gridmet/notes.txt".into(), files.path().join("pr_2021.nc")));
    s3.upload("lake", &all);

    let endpoint = s3.endpoint.as_str();
    // A glob restricts the crawl to January 1–9.
    let out = etlake_with(
        &pg.url,
        &CREDS,
        &[
            "index",
            "s3://lake/CHIRPS-2.0/**/chirps-v2.0.2023.01.0?.tif",
            "--endpoint-url",
            endpoint,
        ],
    );
    let t = ok(out);
    assert!(t.contains("9 indexed"), "{t}");
    assert_eq!(
        rows(
            &pg.url,
            "SELECT count(*)::text FROM agdc.dataset_location WHERE uri_scheme = 's3'"
        ),
        ["9"]
    );
    assert_eq!(
        rows(
            &pg.url,
            "SELECT uri_body FROM agdc.dataset_location ORDER BY uri_body LIMIT 1"
        ),
        ["//lake/CHIRPS-2.0/global_daily/tifs/p05/2023/chirps-v2.0.2023.01.01.tif"]
    );
    // The whole bucket: the rest of CHIRPS, the NetCDF (staged locally, 2 days) and a skipped file.
    let t = ok(etlake_with(
        &pg.url,
        &CREDS,
        &["index", "s3://lake/", "--endpoint-url", endpoint],
    ));
    assert!(
        t.contains("5 indexed") && t.contains("9 unchanged") && t.contains("1 skipped"),
        "{t}"
    );
    assert_eq!(
        rows(&pg.url, "SELECT metadata#>>'{measurements,pr,band}' FROM agdc.dataset WHERE metadata#>>'{product,name}' = 'gridmet_pr' ORDER BY 1"),
        ["1", "2"]
    );
    // A key list.
    let list = files.path().join("keys.txt");
    std::fs::write(
        &list,
        "s3://lake/CHIRPS-2.0/global_daily/tifs/p05/2023/chirps-v2.0.2023.01.12.tif\n",
    )
    .unwrap();
    let t = ok(etlake_with(
        &pg.url,
        &CREDS,
        &[
            "index",
            "--from-file",
            list.to_str().unwrap(),
            "--endpoint-url",
            endpoint,
        ],
    ));
    assert!(t.contains("1 unchanged"), "{t}");

    // Errors: each stops the run with one clear message and exit code 1, and nothing is lost.
    let before = rows(&pg.url, "SELECT count(*)::text FROM agdc.dataset");
    let out = etlake_with(
        &pg.url,
        &CREDS,
        &[
            "index",
            "s3://no-such-bucket/x/",
            "--endpoint-url",
            endpoint,
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).contains("s3://no-such-bucket/x/: the bucket does not exist (NoSuchBucket)"),
        "{}",
        text(&out)
    );
    let out = etlake_with(
        &pg.url,
        &CREDS,
        &[
            "index",
            "s3://lake/",
            "--endpoint-url",
            "http://127.0.0.1:1",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("s3://lake/"), "{}", text(&out));
    let strict = S3Server::start(true);
    let out = etlake_with(
        &pg.url,
        &CREDS,
        &["index", "s3://lake/", "--endpoint-url", &strict.endpoint],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).contains("credentials were refused"),
        "{}",
        text(&out)
    );
    assert_eq!(
        rows(&pg.url, "SELECT count(*)::text FROM agdc.dataset"),
        before
    );
    assert_eq!(
        rows(
            &pg.url,
            "SELECT count(*)::text FROM etlake.index_run WHERE status = 'failed'"
        ),
        ["3"]
    );
}
