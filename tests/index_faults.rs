//! Runs that survive faults: `etlake index s3://…` through a fault-injecting proxy in front of moto's S3
//! (HTTP 503 SlowDown and 500 InternalError, connection resets, bodies cut off, slow first bytes —
//! listings, GDAL's ranged reads and whole-object reads all meet them) indexes every dataset once; and
//! a Postgres restart in the middle of a run either is survived or fails the run with a clear error,
//! after which a re-run completes with nothing lost or duplicated.
mod common;
mod fault_proxy;
use common::*;
use fault_proxy::{Fault, FaultProxy, Plan};
use sample_lake::gridmet;
use std::path::PathBuf;
use std::time::Duration;

const CREDS: [(&str, &str); 3] = [
    ("AWS_ACCESS_KEY_ID", "test"),
    ("AWS_SECRET_ACCESS_KEY", "test"),
    ("AWS_REGION", "us-east-1"),
];

/// Uploads `days` CHIRPS tiles (and, with `netcdf`, a gridMET yearly file of 2 days) to s3://lake.
fn lake(s3: &S3Server, days: u32, netcdf: bool) -> tempfile::TempDir {
    let files = tempdir();
    let mut uploads: Vec<(String, PathBuf)> = Vec::new();
    for day in 1..=days {
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
    if netcdf {
        let nc = files.path().join("pr_2021.nc");
        let grid = gridmet::LatLonGrid {
            north: 41.0,
            west: -105.0,
            res: 1.0 / 24.0,
            ny: 24,
            nx: 48,
        };
        gridmet::yearly_file(&nc, &gridmet::PR, 2021, 2, grid, |d, _, _| d as u16).unwrap();
        uploads.push(("gridmet/pr_2021.nc".into(), nc));
    }
    s3.upload("lake", &uploads);
    files
}

const DUPLICATES: &str = "SELECT count(*)::text FROM (SELECT uri_body FROM agdc.dataset_location \
     GROUP BY uri_body, dataset_ref HAVING count(*) > 1 UNION ALL SELECT d.id::text FROM agdc.dataset d \
     GROUP BY d.id HAVING count(*) > 1) x";

#[test]
fn s3_faults_are_retried_and_every_dataset_indexed_once() {
    let pg = cluster_with_products();
    let s3 = S3Server::start(false);
    let _files = lake(&s3, 12, true);
    let proxy = FaultProxy::start(&s3.endpoint, Plan::all_kinds());

    let out = etlake_with(
        &pg.url,
        &CREDS,
        &["index", "s3://lake/", "--endpoint-url", &proxy.endpoint],
    );
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(t.contains("14 indexed") && !t.contains("failed"), "{t}");
    for kind in [
        Fault::SlowDown503,
        Fault::Internal500,
        Fault::Reset,
        Fault::Truncated,
        Fault::SlowFirstByte,
    ] {
        assert!(
            proxy.count(kind) > 0,
            "no {kind:?} was injected ({} requests): the test proves nothing about it",
            proxy.requests.lock().unwrap()
        );
    }
    assert_eq!(
        rows(&pg.url, "SELECT count(*)::text FROM agdc.dataset"),
        ["14"]
    );
    assert_eq!(rows(&pg.url, DUPLICATES), ["0"]);
    // The documents are those of a run without faults.
    let faulty = rows(
        &pg.url,
        "SELECT md5(string_agg(metadata::text, ',' ORDER BY id)) FROM agdc.dataset",
    );
    let clean = cluster_with_products();
    ok(etlake_with(
        &clean.url,
        &CREDS,
        &["index", "s3://lake/", "--endpoint-url", &s3.endpoint],
    ));
    assert_eq!(
        rows(
            &clean.url,
            "SELECT md5(string_agg(metadata::text, ',' ORDER BY id)) FROM agdc.dataset"
        ),
        faulty
    );
    // Again through the faults: nothing new, nothing read again.
    let t = ok(etlake_with(
        &pg.url,
        &CREDS,
        &["index", "s3://lake/", "--endpoint-url", &proxy.endpoint],
    ));
    assert!(t.contains("14 unchanged") && !t.contains("indexed"), "{t}");
}

#[test]
fn postgres_restarted_mid_run_loses_and_duplicates_nothing() {
    let pg = cluster_with_products();
    let s3 = S3Server::start(false);
    let days = 24;
    let _files = lake(&s3, days, false);
    // A slow server keeps the run going long enough to restart Postgres under it.
    let proxy = FaultProxy::start(&s3.endpoint, Plan::slow(Duration::from_millis(150)));

    let home = tempdir();
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_etlake"));
    clean_env(&mut cmd, home.path());
    let child = cmd
        .current_dir(home.path())
        .envs(CREDS)
        .args(["--db", &pg.url.python_url(), "index", "s3://lake/"])
        .args(["--batch-size", "2", "--endpoint-url", &proxy.endpoint])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Restart once the first batches are committed and before the last.
    let committed = || -> usize {
        rows(&pg.url, "SELECT count(*)::text FROM agdc.dataset")[0]
            .parse()
            .unwrap()
    };
    let t0 = std::time::Instant::now();
    while committed() < 2 {
        assert!(t0.elapsed() < Duration::from_secs(120), "nothing committed");
        std::thread::sleep(Duration::from_millis(50));
    }
    let before = committed();
    pg.embedded.stop().unwrap();
    pg.embedded.ensure_running().unwrap();
    let out = child.wait_with_output().unwrap();
    let t = text(&out);
    assert!(
        before < days as usize,
        "the run ended before the restart ({before} committed)"
    );
    if !out.status.success() {
        // A clear error, naming what was being done, not a panic.
        assert!(!t.contains("panicked"), "{t}");
        assert!(
            t.contains("etlake: error:") && t.to_lowercase().contains("connection"),
            "{t}"
        );
    }
    // The re-run completes: what was committed is found unchanged, the rest indexed, once each.
    let t2 = ok(etlake_with(
        &pg.url,
        &CREDS,
        &["index", "s3://lake/", "--endpoint-url", &s3.endpoint],
    ));
    assert!(!t2.contains("failed"), "{t2}");
    assert_eq!(committed(), days as usize, "first run: {t}\nre-run: {t2}");
    assert_eq!(rows(&pg.url, DUPLICATES), ["0"]);
    assert_eq!(
        rows(
            &pg.url,
            "SELECT count(*)::text FROM etlake.source_object WHERE cardinality(dataset_refs) = 1"
        ),
        [days.to_string()]
    );
}
