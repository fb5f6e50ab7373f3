//! Re-runs of `etlake index` do not read again what did not change: each object's version (S3 ETag,
//! a local file's mtime and size) is checkpointed with its datasets once they are written. A changed
//! object, a purged dataset, or `--recheck` makes objects read again; outcomes stay the same.
mod common;
use common::*;
use std::path::PathBuf;

const CREDS: [(&str, &str); 3] = [
    ("AWS_ACCESS_KEY_ID", "test"),
    ("AWS_SECRET_ACCESS_KEY", "test"),
    ("AWS_REGION", "us-east-1"),
];

fn chirps(dir: &std::path::Path, day: u32, value: f32) -> PathBuf {
    let p = dir.join(format!(
        "global_daily/tifs/p05/2023/chirps-v2.0.2023.01.{day:02}.tif"
    ));
    let (size, gt) = CHIRPS_GRID;
    write_geotiff::<f32>(&p, size, gt, -9999.0, &[&move |_, _| value]);
    p
}

#[test]
fn reruns_skip_unchanged_objects_and_read_changed_ones() {
    let pg = cluster_with_products();
    let lake = tempdir();
    for day in 1..=3 {
        chirps(lake.path(), day, day as f32);
    }
    let src = lake.path().to_str().unwrap();
    let first = ok(etlake(&pg.url, &["index", src]));
    assert!(first.contains("3 indexed"), "{first}");
    assert!(!first.contains("not read again"), "{first}");

    let again = ok(etlake(&pg.url, &["index", src]));
    assert!(again.contains("3 unchanged"), "{again}");
    assert!(again.contains("not read again 3"), "{again}");

    // A rewritten file (new mtime) is read again; its document is the same: unchanged.
    std::thread::sleep(std::time::Duration::from_millis(20));
    chirps(lake.path(), 2, 42.0);
    let changed = ok(etlake(&pg.url, &["index", src]));
    assert!(changed.contains("3 unchanged"), "{changed}");
    assert!(changed.contains("not read again 2"), "{changed}");

    // Other conversion options (or product definitions, recognition specs, etlake's version) change
    // what documents derive from: every object is read again, then remembered with them.
    let rewrite = [
        "index",
        src,
        "--href-rewrite",
        "https://example.com/=s3://example/",
    ];
    let other = ok(etlake(&pg.url, &rewrite));
    assert!(
        other.contains("3 unchanged") && !other.contains("not read again"),
        "{other}"
    );
    assert!(ok(etlake(&pg.url, &rewrite)).contains("not read again 3"));
    assert!(!ok(etlake(&pg.url, &["index", src])).contains("not read again"));

    // A dataset purged from the index (as `datacube dataset purge` does) brings its object back.
    let purged = rows(
        &pg.url,
        "SELECT id::text FROM agdc.dataset WHERE metadata->>'label' LIKE '%20230103'",
    );
    assert_eq!(purged.len(), 1);
    let mut c = connect(&pg.url);
    c.batch_execute(&format!(
        "DELETE FROM agdc.dataset_location WHERE dataset_ref = '{0}'; \
         DELETE FROM etlake.stac_item WHERE dataset_ref = '{0}'; \
         DELETE FROM agdc.dataset WHERE id = '{0}'",
        purged[0]
    ))
    .unwrap();
    let back = ok(etlake(&pg.url, &["index", src]));
    assert!(
        back.contains("1 indexed, 2 unchanged") || back.contains("1 indexed"),
        "{back}"
    );
    assert!(back.contains("not read again 2"), "{back}");
    assert_eq!(
        rows(
            &pg.url,
            "SELECT count(*)::text FROM agdc.dataset WHERE archived IS NULL"
        ),
        ["3"]
    );

    // --recheck reads everything; a dry run uses the checkpoint as a real run would.
    let all = ok(etlake(&pg.url, &["index", src, "--recheck"]));
    assert!(
        all.contains("3 unchanged") && !all.contains("not read again"),
        "{all}"
    );
    let dry = ok(etlake(&pg.url, &["index", src, "--dry-run"]));
    assert!(dry.contains("not read again 3"), "{dry}");
    // The run record keeps one row per dataset, as a full read would, saying why it was not read.
    assert!(ok(etlake(&pg.url, &["index", src])).contains("not read again 3"));
    let recorded = rows(
        &pg.url,
        "SELECT count(*)::text FROM etlake.index_outcome \
         WHERE run_ref = (SELECT max(id) FROM etlake.index_run) AND outcome = 'unchanged' \
           AND reason LIKE 'not read again%' AND dataset_ref IS NOT NULL",
    );
    assert_eq!(recorded, ["3"]);
}

#[test]
fn s3_reruns_compare_etags() {
    let pg = cluster_with_products();
    let s3 = S3Server::start(false);
    let files = tempdir();
    let mut uploads = Vec::new();
    for day in 1..=4 {
        let p = chirps(files.path(), day, day as f32);
        let key = format!(
            "CHIRPS-2.0/global_daily/tifs/p05/2023/{}",
            p.file_name().unwrap().to_str().unwrap()
        );
        uploads.push((key, p));
    }
    s3.upload("lake", &uploads);
    let index = || {
        etlake_with(
            &pg.url,
            &CREDS,
            &["index", "s3://lake/", "--endpoint-url", &s3.endpoint],
        )
    };
    let first = ok(index());
    assert!(first.contains("4 indexed"), "{first}");
    let again = ok(index());
    assert!(again.contains("not read again 4"), "{again}");
    // New content under the same key: a new ETag, read again.
    let p = chirps(files.path(), 4, 99.0);
    s3.upload("lake", &[(uploads[3].0.clone(), p)]);
    let changed = ok(index());
    assert!(
        changed.contains("not read again 3") && changed.contains("4 unchanged"),
        "{changed}"
    );
    let saved = rows(
        &pg.url,
        "SELECT count(*)::text FROM etlake.source_object WHERE uri LIKE 's3://lake/%' AND etag NOT LIKE 'mtime:%'",
    );
    assert_eq!(saved, ["4"]);
}
