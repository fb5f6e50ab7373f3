//! `etlake sync` against loopback imitations of the providers' servers (tests/sync_support): CHIRPS
//! daily from Apache directory listings into a local folder — with a server ignoring Range, a
//! dropped connection, a file republished mid-download, 429 with Retry-After, and, for a file the
//! lake holds, a HEAD declaring a wrong size — then indexed with the maturity rules and read back by `dc.load`; gridMET yearly
//! NetCDF into the loopback S3 bucket, re-fetched when the provider's copy grows.
//! File bodies are real: CHIRPS GeoTIFFs as CHC publishes them (EPSG:4326 float32, nodata −9999,
//! gzipped for the final `.tif.gz` days; data-families.md §3.1) and gridMET files from sample-lake's
//! writer (packed NetCDF-4 as the University of Idaho publishes them).
mod common;
mod sync_support;
use common::*;
use std::path::Path;
use sync_support::Server;

/// A CHIRPS-like day: the test grid, every pixel `value`.
fn chirps_tif(dir: &Path, name: &str, value: f32) -> Vec<u8> {
    let ((w, h), gt) = CHIRPS_GRID;
    let p = dir.join(name);
    write_geotiff::<f32>(&p, (w, h), gt, -9999.0, &[&move |_, _| value]);
    std::fs::read(&p).unwrap()
}

fn gzip(bytes: &[u8], dir: &Path) -> Vec<u8> {
    let p = dir.join("gz-input");
    std::fs::write(&p, bytes).unwrap();
    let out = std::process::Command::new("gzip")
        .arg("-c")
        .arg(&p)
        .output()
        .unwrap();
    assert!(out.status.success());
    out.stdout
}

fn report_rows(p: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(p)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn events<'a>(rows: &'a [serde_json::Value], event: &str) -> Vec<&'a serde_json::Value> {
    rows.iter().filter(|r| r["event"] == event).collect()
}

const FINAL: &str = "/products/CHIRPS-2.0/global_daily/tifs/p05/2023/";
const PRELIM: &str = "/products/CHIRPS-2.0/prelim/global_daily/tifs/p05/2023/";

#[test]
fn chirps_sync_survives_faults_indexes_with_maturity_and_loads() {
    let pg = cluster_with_products();
    let work = tempdir();
    let srv = Server::start();
    let name = |d: u32, ext: &str| format!("chirps-v2.0.2023.01.{d:02}{ext}");
    // Day 1: final, gzipped. Day 2: final, server ignores Range and drops the first GET halfway.
    // Day 3: final, dropped halfway and republished meanwhile (a preliminary copy is also listed,
    // and must not be taken). Day 4: preliminary, throttled twice (429, Retry-After: 1).
    // Day 5: preliminary; republished later with a HEAD declaring a wrong size.
    let day1 = gzip(&chirps_tif(work.path(), "d1.tif", 1.0), work.path());
    srv.publish(&format!("{FINAL}{}", name(1, ".tif.gz")), day1.clone());
    srv.publish(
        &format!("{FINAL}{}", name(2, ".tif")),
        chirps_tif(work.path(), "d2.tif", 2.0),
    );
    srv.publish(
        &format!("{FINAL}{}", name(3, ".tif")),
        chirps_tif(work.path(), "d3.tif", 3.0),
    );
    srv.publish(
        &format!("{PRELIM}{}", name(3, ".tif")),
        chirps_tif(work.path(), "p3.tif", 99.0),
    );
    srv.publish(
        &format!("{PRELIM}{}", name(4, ".tif")),
        chirps_tif(work.path(), "p4.tif", 4.0),
    );
    srv.publish(
        &format!("{PRELIM}{}", name(5, ".tif")),
        chirps_tif(work.path(), "p5.tif", 5.0),
    );
    let republished = chirps_tif(work.path(), "d3b.tif", 30.0);
    srv.set(&format!("{FINAL}{}", name(2, ".tif")), |f| {
        f.ignore_range = true;
        f.drop_next = true;
    });
    srv.set(&format!("{FINAL}{}", name(3, ".tif")), |f| {
        f.drop_next = true;
        f.replace_with = Some(republished.clone());
    });
    srv.set(&format!("{PRELIM}{}", name(4, ".tif")), |f| f.throttle = 2);

    let lake = work.path().join("lake");
    let report = work.path().join("sync.jsonl");
    let base = format!("{}/products/CHIRPS-2.0", srv.base);
    let sync = |extra: &[&str]| {
        let mut args = vec![
            "sync",
            "chirps",
            "--time",
            "2023-01-01/2023-01-05",
            "--to",
            lake.to_str().unwrap(),
            "--report",
            report.to_str().unwrap(),
            "--index",
        ];
        args.extend_from_slice(extra);
        etlake_with(&pg.url, &[("ETLAKE_CHIRPS_URL", base.as_str())], &args)
    };
    let started = std::time::Instant::now();
    let t = ok(sync(&[]));
    assert!(t.contains("5 downloaded"), "{t}");
    // 429 with Retry-After: 1, twice: at least two seconds were waited.
    assert!(started.elapsed() >= std::time::Duration::from_secs(2));
    let p4 = srv.requests(&name(4, ".tif"));
    assert_eq!(p4.iter().filter(|(m, _)| m == "GET").count(), 3, "{p4:?}");
    // The lake was empty: no file was HEADed, each GET brought the validators.
    let heads = srv.requests(".tif");
    assert!(heads.iter().all(|(m, _)| m == "GET"), "{heads:?}");

    let rows = report_rows(&report);
    assert_eq!(events(&rows, "discovered").len(), 5, "{rows:?}");
    assert_eq!(events(&rows, "downloaded").len(), 5, "{rows:?}");
    assert_eq!(events(&rows, "verified").len(), 5, "{rows:?}");
    assert!(events(&rows, "failed").is_empty(), "{rows:?}");
    for r in events(&rows, "downloaded") {
        assert!(
            r["size"].as_u64().is_some_and(|n| n > 0),
            "the size from the GET: {r}"
        );
    }
    // The files are in the provider's layout, with the bytes the provider served last.
    let fin = lake.join("CHIRPS-2.0/global_daily/tifs/p05/2023");
    let pre = lake.join("CHIRPS-2.0/prelim/global_daily/tifs/p05/2023");
    assert_eq!(std::fs::read(fin.join(name(1, ".tif.gz"))).unwrap(), day1);
    assert_eq!(
        std::fs::read(fin.join(name(3, ".tif"))).unwrap(),
        republished
    );
    assert!(pre.join(name(4, ".tif")).is_file());
    assert!(
        !pre.join(name(3, ".tif")).exists(),
        "a day with a final file took the preliminary one"
    );
    let p5 = pre.join(name(5, ".tif"));
    let day5 = std::fs::read(&p5).unwrap();
    // Day 2: resumed with Range, the server answered 200 → restarted; day 3: If-Range failed → restart.
    let d2 = srv.requests(&format!("{FINAL}{}", name(2, ".tif")));
    assert!(d2.iter().any(|(m, r)| m == "GET" && r.is_some()), "{d2:?}");
    let note = |d: u32| {
        events(&rows, "downloaded")
            .into_iter()
            .find(|r| r["url"].as_str().unwrap().ends_with(&name(d, ".tif")))
            .map(|r| r["reason"].as_str().unwrap_or_default().to_string())
            .unwrap()
    };
    assert!(note(2).contains("ignored Range"), "{}", note(2));
    assert!(
        note(3).contains("changed during the download"),
        "{}",
        note(3)
    );
    // Indexed: finals final, the preliminary days interim.
    assert_eq!(events(&rows, "indexed").len(), 5, "{rows:?}");
    assert_eq!(
        rows_of(&pg, "SELECT metadata#>>'{properties,datetime}', metadata#>>'{properties,dea:dataset_maturity}' FROM agdc.dataset WHERE archived IS NULL ORDER BY 1"),
        [
            "2023-01-01T00:00:00Z | final",
            "2023-01-02T00:00:00Z | final",
            "2023-01-03T00:00:00Z | final",
            "2023-01-04T00:00:00Z | interim",
            "2023-01-05T00:00:00Z | interim"
        ]
    );

    // Again, day 4 now final and day 5 republished, its HEAD declaring a wrong size: the final day 4
    // is fetched (no HEAD: the lake lacks it), day 5 is HEADed (the lake has it), found changed,
    // fetched, and fails verification; the lake keeps its previous copy. Exit 1, day 5 named.
    srv.publish(
        &format!("{FINAL}{}", name(4, ".tif")),
        chirps_tif(work.path(), "d4.tif", 40.0),
    );
    srv.publish(
        &format!("{PRELIM}{}", name(5, ".tif")),
        chirps_tif(work.path(), "p5b.tif", 50.0),
    );
    let true_size = srv.state.lock().unwrap().files[&format!("{PRELIM}{}", name(5, ".tif"))]
        .body
        .len();
    srv.set(&format!("{PRELIM}{}", name(5, ".tif")), |f| {
        f.head_size = Some(true_size as u64 + 100)
    });
    srv.clear_log();
    let out = sync(&[]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(
        t.contains(&name(5, ".tif")) && t.contains("size mismatch"),
        "{t}"
    );
    assert!(
        t.contains("1 downloaded") && t.contains("1 failed") && t.contains("3 skipped"),
        "{t}"
    );
    assert_eq!(
        std::fs::read(&p5).unwrap(),
        day5,
        "the lake's copy was lost"
    );
    assert!(!pre.join(format!("{}.partial", name(5, ".tif"))).exists());
    let heads: Vec<String> = srv
        .state
        .lock()
        .unwrap()
        .log
        .iter()
        .filter(|(m, _, _)| m == "HEAD")
        .map(|(_, p, _)| p.clone())
        .collect();
    assert_eq!(heads.len(), 4, "the four files the lake holds: {heads:?}");
    assert!(!heads
        .iter()
        .any(|p| p.starts_with(FINAL) && p.ends_with(&name(4, ".tif"))));
    assert!(t.contains("1 archived"), "{t}");

    // The HEAD fixed: day 5 is replaced, the others skipped without a GET.
    srv.set(&format!("{PRELIM}{}", name(5, ".tif")), |f| {
        f.head_size = None
    });
    srv.clear_log();
    let t = ok(sync(&[]));
    assert!(t.contains("1 replaced") && t.contains("4 skipped"), "{t}");
    let gets: Vec<String> = srv
        .state
        .lock()
        .unwrap()
        .log
        .iter()
        .filter(|(m, p, _)| m == "GET" && !p.ends_with('/'))
        .map(|(_, p, _)| p.clone())
        .collect();
    assert_eq!(gets, [format!("{PRELIM}{}", name(5, ".tif"))]);
    assert_eq!(
        rows_of(&pg, "SELECT metadata#>>'{properties,datetime}', metadata#>>'{properties,dea:dataset_maturity}' FROM agdc.dataset WHERE archived IS NOT NULL"),
        ["2023-01-04T00:00:00Z | interim"]
    );
    // A dry run with nothing changed plans only skips.
    let t = ok(sync(&["--dry-run"]));
    assert!(t.contains("5 skipped") && !t.contains("download"), "{t}");

    // dc.load reads the synced days: the value each day's file holds (day 3 as republished, day 4
    // final, day 5 as replaced).
    let code = r#"
import datacube, numpy as np
dc = datacube.Datacube(app='etlake-sync-test')
c = dc.load(product='chirps_v2_daily_p05', time=('2023-01-01', '2023-01-05'), latitude=(40.2, 40.8), longitude=(-104.8, -104.2))
print('days', [float(np.unique(c.precip.isel(time=i).values)[0]) for i in range(c.sizes['time'])])
"#;
    let out = ok(python(&pg.url, code));
    assert!(out.contains("days [1.0, 2.0, 30.0, 40.0, 50.0]"), "{out}");
}

fn rows_of(pg: &Cluster, sql: &str) -> Vec<String> {
    rows(&pg.url, sql)
}

#[test]
fn gridmet_sync_to_s3_refetches_a_grown_year() {
    use sample_lake::gridmet::{self, LatLonGrid};
    let pg = cluster_with_products();
    let work = tempdir();
    let s3 = S3Server::start(false);
    s3.upload("lake", &[]);
    let srv = Server::start();
    let grid = LatLonGrid {
        north: 41.0,
        west: -105.0,
        res: 1.0 / 24.0,
        ny: 12,
        nx: 16,
    };
    let year = |days: usize, path: &Path| {
        gridmet::yearly_file(path, &gridmet::PR, 2020, days, grid, |d, r, c| {
            (1000 * d + 10 * r + c) as u16
        })
        .unwrap();
        std::fs::read(path).unwrap()
    };
    srv.publish(
        "/metdata/data/pr_2020.nc",
        year(3, &work.path().join("a.nc")),
    );
    let env = [
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ENDPOINT_URL", s3.endpoint.as_str()),
    ];
    let base = format!("{}/metdata/data", srv.base);
    let report = work.path().join("r.jsonl");
    let staging = work.path().join("staging");
    let sync = || {
        etlake_with(
            &pg.url,
            &env,
            &[
                "sync",
                "gridmet",
                "--product",
                "gridmet_pr",
                "--time",
                "2020-01-01/2020-12-31",
                "--to",
                "s3://lake/gridmet-lake",
                "--base-url",
                &base,
                "--index",
                "--report",
                report.to_str().unwrap(),
                "--staging",
                staging.to_str().unwrap(),
            ],
        )
    };
    let t = ok(sync());
    assert!(t.contains("1 downloaded"), "{t}");
    assert_eq!(
        rows(&pg.url, "SELECT count(*)::text FROM agdc.dataset"),
        ["3"]
    );
    let loc = rows(
        &pg.url,
        "SELECT uri_scheme || ':' || uri_body FROM agdc.dataset_location LIMIT 1",
    );
    assert_eq!(
        loc,
        ["s3://lake/gridmet-lake/gridmet/pr_2020.nc"],
        "{loc:?}"
    );
    // Unchanged: skipped, no body read.
    srv.clear_log();
    let t = ok(sync());
    assert!(t.contains("1 skipped"), "{t}");
    assert!(srv.requests("pr_2020").iter().all(|(m, _)| m == "HEAD"));
    // The provider's current year grows by two days: new size, ETag and Last-Modified → replaced,
    // and the new days are indexed.
    srv.publish(
        "/metdata/data/pr_2020.nc",
        year(5, &work.path().join("b.nc")),
    );
    let t = ok(sync());
    assert!(t.contains("1 replaced"), "{t}");
    let rows_ = report_rows(&report);
    assert_eq!(events(&rows_, "replaced").len(), 1, "{rows_:?}");
    assert_eq!(
        rows(
            &pg.url,
            "SELECT count(*)::text FROM agdc.dataset WHERE archived IS NULL"
        ),
        ["5"]
    );
}
