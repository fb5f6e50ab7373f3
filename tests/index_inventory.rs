//! `etlake index --inventory` against moto's S3 on loopback. moto stores inventory configurations but
//! never produces reports, so the test writes the report itself, in the layout AWS documents:
//!
//! - "Locating your inventory list"
//!   (https://docs.aws.amazon.com/AmazonS3/latest/userguide/storage-inventory-location.html):
//!   `destination-prefix/source-bucket/config-ID/YYYY-MM-DDTHH-MMZ/manifest.json`, beside it
//!   `manifest.checksum` (the MD5 of manifest.json's content, hex), data files under
//!   `destination-prefix/source-bucket/config-ID/data/`; manifest fields `sourceBucket`,
//!   `destinationBucket` (the bucket's ARN), `version`, `creationTimestamp`, `fileFormat`,
//!   `fileSchema` (column names, comma and space separated), `files[].{key, size, MD5checksum}`.
//! - "Amazon S3 Inventory list" (https://docs.aws.amazon.com/AmazonS3/latest/userguide/storage-inventory.html):
//!   CSV data files are gzip-compressed, one object per row, no header, the key URL-encoded.
//!
//! Objects are listed from the newest report (not LIST), keys decoded, source globs select, a
//! re-run (or a crawl of the bucket) reads nothing again, two shards split the data files, and a
//! damaged manifest or data file is refused, naming it.
mod common;
use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;

const CREDS: [(&str, &str); 3] = [
    ("AWS_ACCESS_KEY_ID", "test"),
    ("AWS_SECRET_ACCESS_KEY", "test"),
    ("AWS_REGION", "us-east-1"),
];

/// Python run with boto3 from the moto venv, `s3` bound to the server, and `write_inventory`, which
/// publishes an inventory report of the source bucket as S3 would.
fn py(endpoint: &str, code: &str) -> String {
    let venv = std::env::var("ETLAKE_MOTO_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|_| workspace().join(".venv-moto"));
    let prelude = format!(
        r#"import boto3, csv, gzip, hashlib, io, json, urllib.parse
s3 = boto3.client('s3', endpoint_url='{endpoint}', region_name='us-east-1', aws_access_key_id='test', aws_secret_access_key='test')
SCHEMA = ['Bucket', 'Key', 'Size', 'LastModifiedDate', 'ETag', 'StorageClass']

def write_inventory(source, dest, prefix, stamp, parts, schema_format='CSV', damage=None, checksum=None):
    """parts: lists of keys of `source`, one list per data file. damage: index of a data file whose
    bytes change after its MD5 was taken."""
    listed = {{o['Key']: o for p in s3.get_paginator('list_objects_v2').paginate(Bucket=source) for o in p.get('Contents', [])}}
    base = f'{{prefix}}/{{source}}/daily'
    files = []
    for i, keys in enumerate(parts):
        text = io.StringIO()
        w = csv.writer(text, quoting=csv.QUOTE_ALL, lineterminator='\n')
        for k in keys:
            o = listed[k]
            w.writerow([source, urllib.parse.quote_plus(k, safe='/'), o['Size'],
                        o['LastModified'].strftime('%Y-%m-%dT%H:%M:%S.000Z'), o['ETag'].strip('"'), 'STANDARD'])
        body = gzip.compress(text.getvalue().encode())
        key = f'{{base}}/data/{{stamp}}-{{i}}.csv.gz'
        files.append({{'key': key, 'size': len(body), 'MD5checksum': hashlib.md5(body).hexdigest()}})
        if damage == i:
            body = body[:-9] + b'\0' * 9
        s3.put_object(Bucket=dest, Key=key, Body=body)
    manifest = json.dumps({{'sourceBucket': source, 'destinationBucket': f'arn:aws:s3:::{{dest}}',
        'version': '2016-11-30', 'creationTimestamp': '1704067200000', 'fileFormat': schema_format,
        'fileSchema': ', '.join(SCHEMA), 'files': files}}, indent=4).encode()
    s3.put_object(Bucket=dest, Key=f'{{base}}/{{stamp}}/manifest.json', Body=manifest)
    s3.put_object(Bucket=dest, Key=f'{{base}}/{{stamp}}/manifest.checksum',
                  Body=(checksum or hashlib.md5(manifest).hexdigest()).encode())
    return f's3://{{dest}}/{{base}}/{{stamp}}/manifest.json'
"#
    );
    let out = Command::new(venv.join("bin/python"))
        .arg("-c")
        .arg(format!("{prelude}{code}"))
        .output()
        .unwrap();
    assert!(out.status.success(), "python failed: {}", text(&out));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn chirps(dir: &Path, day: u32) -> PathBuf {
    let p = dir.join(format!("chirps-v2.0.2023.01.{day:02}.tif"));
    let (size, gt) = CHIRPS_GRID;
    write_geotiff::<f32>(&p, size, gt, -9999.0, &[&|_, _| day as f32]);
    p
}

fn key(folder: &str, day: u32) -> String {
    format!("{folder}/CHIRPS-2.0/global_daily/tifs/p05/2023/chirps-v2.0.2023.01.{day:02}.tif")
}

fn run(url: &catalog_schema::DbUrl, s3: &str, args: &[&str]) -> std::process::Output {
    let mut a = vec!["index", "--endpoint-url", s3];
    a.extend_from_slice(args);
    etlake_with(url, &CREDS, &a)
}

fn count(url: &catalog_schema::DbUrl, sql: &str) -> String {
    rows(url, sql).join(",")
}

/// Python list literal of lists of keys.
fn parts(p: &[&[String]]) -> String {
    let lists: Vec<String> = p
        .iter()
        .map(|keys| {
            let k: Vec<String> = keys.iter().map(|k| format!("{k:?}")).collect();
            format!("[{}]", k.join(", "))
        })
        .collect();
    format!("[{}]", lists.join(", "))
}

#[test]
fn inventory_lists_checks_decodes_selects_and_shards() {
    let pg = cluster_with_products();
    let server = S3Server::start(false);
    let ep = server.endpoint.as_str();
    let files = tempdir();

    // Six tiles (two under a folder whose name the inventory URL-encodes) and a stray file.
    let odd = "deliveries 2023+new (v1)";
    let keys: Vec<String> = vec![
        key("a", 1),
        key("a", 2),
        key("a", 3),
        key("b", 4),
        key(odd, 5),
        key(odd, 6),
    ];
    let mut puts: Vec<(String, PathBuf)> = keys
        .iter()
        .enumerate()
        .map(|(i, k)| (k.clone(), chirps(files.path(), i as u32 + 1)))
        .collect();
    puts.push((
        "a/README.txt".into(),
        files.path().join("chirps-v2.0.2023.01.01.tif"),
    ));
    server.upload("lake", &puts);
    let readme = "a/README.txt".to_string();

    // An older report listing one tile, the newest listing everything in two data files.
    let older = [std::slice::from_ref(&keys[0])];
    let newest_parts = [
        &keys[..3],
        &[
            keys[3].clone(),
            keys[4].clone(),
            keys[5].clone(),
            readme.clone(),
        ][..],
    ];
    let manifest = py(
        ep,
        &format!(
            "s3.create_bucket(Bucket='inventory')\n\
             write_inventory('lake', 'inventory', 'inv', '2024-01-01T00-00Z', {})\n\
             print(write_inventory('lake', 'inventory', 'inv', '2024-01-02T00-00Z', {}))",
            parts(&older),
            parts(&newest_parts)
        ),
    );
    assert!(
        manifest.ends_with("2024-01-02T00-00Z/manifest.json"),
        "{manifest}"
    );

    // The prefix of the inventory: its newest report is read.
    let report = files.path().join("report.jsonl");
    let out = run(
        &pg.url,
        ep,
        &[
            "--inventory",
            "s3://inventory/inv/lake/daily/",
            "--report",
            report.to_str().unwrap(),
        ],
    );
    let t = ok(out);
    assert!(t.contains("6 indexed"), "{t}");
    assert!(
        t.contains("1 skipped"),
        "the stray file goes through recognition: {t}"
    );
    // The key as S3 holds it, not as the inventory encodes it.
    assert_eq!(
        count(
            &pg.url,
            &format!(
                "SELECT count(*)::text FROM agdc.dataset_location WHERE uri_body = '//lake/{}'",
                key(odd, 5)
            )
        ),
        "1"
    );
    assert_eq!(
        count(
            &pg.url,
            "SELECT sources::text FROM etlake.index_run WHERE command = 'index' ORDER BY id DESC LIMIT 1"
        ),
        format!("{{\"inventory {manifest}\"}}"),
        "the run record names the manifest read"
    );

    // Again, from the manifest itself: the ETags are the checkpoint's, nothing is read again; a crawl
    // of the bucket (LIST) agrees, so inventory and listing versions are the same.
    let t = ok(run(&pg.url, ep, &["--inventory", &manifest]));
    assert!(t.contains("not read again 6"), "{t}");
    let t = ok(run(&pg.url, ep, &["s3://lake/"]));
    assert!(t.contains("not read again 6"), "{t}");

    // Sources select objects of the inventory (a glob and a prefix): a dry run with --recheck reports
    // exactly those.
    let selected = files.path().join("selected.jsonl");
    let t = ok(run(
        &pg.url,
        ep,
        &[
            "--inventory",
            &manifest,
            "--recheck",
            "--dry-run",
            "--report",
            selected.to_str().unwrap(),
            "s3://lake/a/**/*.01.0[12].tif",
            "s3://lake/b/",
        ],
    ));
    let selected_rows = std::fs::read_to_string(&selected).unwrap();
    let mut uris: Vec<String> = selected_rows
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["uri"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    uris.sort();
    let want: Vec<String> = [&keys[0], &keys[1], &keys[3]]
        .iter()
        .map(|k| format!("s3://lake/{k}"))
        .collect();
    assert_eq!(uris, want, "{t}");

    // Two shards into a second database: each reads one data file, together they index what one
    // run indexed, no object twice.
    let sharded = pg.create_db("sharded");
    ok(etlake(&sharded, &["db", "init"]));
    let defs = workspace().join("product-defs/products");
    ok(etlake(
        &sharded,
        &["product", "add", defs.to_str().unwrap()],
    ));
    let shard_reports: Vec<PathBuf> = (0..2)
        .map(|i| files.path().join(format!("shard{i}.jsonl")))
        .collect();
    let outs: Vec<std::process::Output> = std::thread::scope(|s| {
        let runs: Vec<_> = (0..2)
            .map(|i| {
                let (sharded, manifest, r) = (&sharded, &manifest, &shard_reports[i]);
                s.spawn(move || {
                    let shard = format!("{i}/2");
                    run(
                        sharded,
                        ep,
                        &[
                            "--inventory",
                            manifest,
                            "--shard",
                            &shard,
                            "--report",
                            r.to_str().unwrap(),
                        ],
                    )
                })
            })
            .collect();
        runs.into_iter().map(|r| r.join().unwrap()).collect()
    });
    let texts: Vec<String> = outs.into_iter().map(ok).collect();
    assert!(
        texts[0].contains("3 indexed") && texts[0].contains("(shard 0/2)"),
        "{}",
        texts[0]
    );
    assert!(
        texts[1].contains("3 indexed") && texts[1].contains("1 skipped"),
        "{}",
        texts[1]
    );
    let ids = "SELECT d.id::text || ' ' || l.uri_body FROM agdc.dataset d \
               JOIN agdc.dataset_location l ON l.dataset_ref = d.id ORDER BY 1";
    assert_eq!(rows(&sharded, ids), rows(&pg.url, ids));
    let a = std::fs::read_to_string(&shard_reports[0]).unwrap();
    let b = std::fs::read_to_string(&shard_reports[1]).unwrap();
    for k in &keys[..3] {
        assert!(a.contains(k.as_str()) && !b.contains(k.as_str()), "{k}");
    }
}

#[test]
fn damaged_inventories_are_refused_naming_the_file() {
    let pg = cluster_with_products();
    let server = S3Server::start(false);
    let ep = server.endpoint.as_str();
    let files = tempdir();
    let keys: Vec<String> = (1..=4).map(|d| key("a", d)).collect();
    let puts: Vec<(String, PathBuf)> = keys
        .iter()
        .enumerate()
        .map(|(i, k)| (k.clone(), chirps(files.path(), i as u32 + 1)))
        .collect();
    server.upload("lake", &puts);
    let two = [&keys[..2], &keys[2..]];

    // A data file whose bytes are not the ones the manifest's MD5 names: it is reported as failed, the
    // other data file is indexed, the run exits 1.
    let manifest = py(
        ep,
        &format!(
            "s3.create_bucket(Bucket='inventory')\n\
             print(write_inventory('lake', 'inventory', 'inv', '2024-02-01T00-00Z', {}, damage=1))",
            parts(&two)
        ),
    );
    let report = files.path().join("report.jsonl");
    let out = run(
        &pg.url,
        ep,
        &[
            "--inventory",
            &manifest,
            "--report",
            report.to_str().unwrap(),
        ],
    );
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(t.contains("2 indexed") && t.contains("1 failed"), "{t}");
    let damaged = "s3://inventory/inv/lake/daily/data/2024-02-01T00-00Z-1.csv.gz";
    assert!(
        t.lines().any(|l| l.contains(damaged) && l.contains("MD5")),
        "the failure names the data file: {t}"
    );
    let rows_text = std::fs::read_to_string(&report).unwrap();
    assert!(
        rows_text
            .lines()
            .any(|l| l.contains(damaged) && l.contains("\"failed\"") && l.contains("\"list\"")),
        "{rows_text}"
    );
    assert_eq!(
        count(&pg.url, "SELECT count(*)::text FROM agdc.dataset"),
        "2"
    );

    // A manifest that does not match manifest.checksum: nothing is read, the error names it.
    let bad = py(
        ep,
        &format!(
            "print(write_inventory('lake', 'inventory', 'inv2', '2024-02-02T00-00Z', {}, checksum='0' * 32))",
            parts(&two)
        ),
    );
    let out = run(&pg.url, ep, &["--inventory", &bad]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(t.contains(&bad) && t.contains("manifest.checksum"), "{t}");
    assert_eq!(
        count(&pg.url, "SELECT count(*)::text FROM agdc.dataset"),
        "2"
    );

    // A Parquet inventory: refused, saying what is read.
    let parquet = py(
        ep,
        &format!(
            "print(write_inventory('lake', 'inventory', 'inv3', '2024-02-03T00-00Z', {}, schema_format='Parquet'))",
            parts(&two)
        ),
    );
    let t = text(&run(&pg.url, ep, &["--inventory", &parquet]));
    assert!(t.contains("fileFormat Parquet") && t.contains("CSV"), "{t}");

    // A prefix holding several inventories: which to read is asked, not guessed.
    let out = run(&pg.url, ep, &["--inventory", "s3://inventory/"]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(t.contains("3 inventories under this prefix"), "{t}");
    assert!(t.contains("s3://inventory/inv/lake/daily/"), "{t}");
    // A prefix with none.
    let t = text(&run(&pg.url, ep, &["--inventory", "s3://lake/a/"]));
    assert!(t.contains("no inventory manifest"), "{t}");
}
