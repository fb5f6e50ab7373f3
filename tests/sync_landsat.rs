//! `etlake sync landsat` against a loopback imitation of USGS's STAC API (item search paged by `next`
//! links, tests/landsat_support) and a moto bucket named `usgs-landsat` behind a gate that refuses,
//! as S3 does for that requester-pays bucket, any request without `x-amz-request-payer: requester`.
//!
//! The fixture is sample-lake's Landsat 8 Collection 2 Level-2 scenes (`sample_lake::scenes`): COG
//! bands, `_MTL.json`, and the `_SR_stac.json` / `_ST_stac.json` items as USGS publishes them — STAC
//! 1.0.0 items of collections `landsat-c2l2-sr` / `landsat-c2l2-st`, `platform: LANDSAT_8`, asset
//! hrefs `https://landsatlook.usgs.gov/data/collection02/…` with `alternate.s3.href`
//! `s3://usgs-landsat/collection02/…` (`storage:requester_pays: true`), in the bucket's layout
//! `collection02/level-2/standard/oli-tirs/{YYYY}/{PPP}/{RRR}/{product id}/` (USGS, "Landsat
//! Collection 2 Level-2 Science Products" and the Landsat 8-9 OLI/TIRS Collection 2 Level-2 Data
//! Format Control Book, LSDS-1328; spec/data-families.md §1). The search serves those same items, plus
//! a Landsat 9 item the `platform` query must leave out. End to end: sync → placed in the canonical
//! layout → `--index` → the datasets are in the index as ls8_c2l2_sr and ls8_c2l2_st.
mod common;
mod landsat_support;
use common::*;
use landsat_support::{RequesterPaysGate, StacApi};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

fn landsat_cluster() -> Cluster {
    let defs = workspace().join("product-defs/products");
    cluster_with(
        &["ls8_c2l2_sr", "ls8_c2l2_st", "ls9_c2l2_sr", "ls9_c2l2_st"]
            .map(|p| defs.join(format!("{p}.odc-product.yaml"))),
    )
}

fn report_rows(p: &Path) -> Vec<Value> {
    std::fs::read_to_string(p)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Every file under `dir`, as (key relative to `root`, path).
fn files_under(root: &Path, dir: &Path) -> Vec<(String, PathBuf)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(files_under(root, &p));
        } else {
            let key = p.strip_prefix(root).unwrap().display().to_string();
            out.push((key, p));
        }
    }
    out.sort();
    out
}

struct Fixture {
    _work: tempfile::TempDir,
    src: PathBuf,
    scenes: Vec<sample_lake::scenes::Written>,
    _s3: S3Server,
    gate: RequesterPaysGate,
    stac: StacApi,
}

/// The scenes in the `usgs-landsat` bucket (behind the gate) and their items in the STAC API.
fn fixture(work: tempfile::TempDir) -> Fixture {
    let src = work.path().join("usgs");
    let scenes = sample_lake::scenes::write_scenes(&src).unwrap();
    let s3 = S3Server::start(false);
    s3.upload("usgs-landsat", &files_under(&src, &src));
    let gate = RequesterPaysGate::start(&s3.endpoint, "usgs-landsat");
    let read = |p: &Path| -> Value { serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap() };
    let mut items = Vec::new();
    for s in &scenes {
        items.push(read(&s.sr_item));
        items.push(read(&s.st_item));
    }
    // A Landsat 9 SR item in range: the platform query leaves it out (its files are not in the bucket).
    let mut l9 = items[0].clone();
    let id = l9["id"].as_str().unwrap().replace("LC08", "LC09");
    l9["id"] = json!(id);
    l9["properties"]["platform"] = json!("LANDSAT_9");
    items.push(l9);
    let stac = StacApi::start(items);
    Fixture {
        _work: work,
        src,
        scenes,
        _s3: s3,
        gate,
        stac,
    }
}

fn sync_args<'a>(lake: &'a str, report: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut v = vec![
        "sync",
        "landsat",
        "--product",
        "ls8_c2l2_sr",
        "--product",
        "ls8_c2l2_st",
        "--time",
        "2020-06-01/2020-07-31",
        "--bbox",
        "-106,39,-104,41",
        "--page-size",
        "1",
        "--to",
        lake,
        "--report",
        report,
    ];
    v.extend_from_slice(extra);
    v
}

#[test]
fn landsat_from_stac_and_the_requester_pays_bucket_is_placed_and_indexed() {
    let pg = landsat_cluster();
    let fx = fixture(tempdir());
    let out_dir = tempdir();
    let lake = out_dir.path().join("lake");
    let report = out_dir.path().join("sync.jsonl");
    let (lake_s, report_s) = (lake.to_str().unwrap(), report.to_str().unwrap());
    let endpoint = fx.gate.endpoint.clone();
    let vars = [
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("ETLAKE_LANDSAT_STAC_URL", fx.stac.url.as_str()),
    ];
    let run = |extra: &[&str]| {
        let mut e = vec!["--direct-endpoint-url", endpoint.as_str()];
        e.extend_from_slice(extra);
        etlake_with(&pg.url, &vars, &sync_args(lake_s, report_s, &e))
    };

    // The bucket refuses a request without the requester-pays header.
    let key = files_under(&fx.src, &fx.src)[0].0.clone();
    let refused = fx.gate.plain_get(&format!("/usgs-landsat/{key}"));
    assert!(refused.contains("403"), "{refused}");
    fx.gate.clear_log();

    // Dry run: 22 files a scene (SR and ST items share QA_PIXEL, QA_RADSAT and the MTL), none written.
    let t = ok(run(&["--dry-run"]));
    assert!(t.contains("44 would-download"), "{t}");
    assert!(!lake.join("collection02").exists());
    assert!(fx.gate.hits().iter().all(|h| h.method == "HEAD" && h.payer));

    // The sync, indexed.
    fx.stac.clear_log();
    fx.gate.clear_log();
    let t = ok(run(&["--index"]));
    assert!(t.contains("44 downloaded"), "{t}");
    // Every bucket request carried the header; none was refused.
    let hits = fx.gate.hits();
    assert!(!hits.is_empty() && hits.iter().all(|h| h.payer), "{hits:?}");
    assert_eq!(hits.iter().filter(|h| h.method == "GET").count(), 44);
    // The search: per collection, a POST with the platform query, then the pages its next links
    // give (limit 1: SR's second page by a merged POST body, ST's by a GET token).
    let pages = fx.stac.hits();
    let first: Vec<&Value> = pages
        .iter()
        .filter(|h| h.method == "POST" && h.body.get("next").is_none())
        .map(|h| &h.body)
        .collect();
    assert_eq!(first.len(), 2, "{pages:?}");
    assert_eq!(pages.len(), 4, "{pages:?}");
    for b in &first {
        assert_eq!(
            b["query"],
            json!({"platform": {"in": ["LANDSAT_8"]}}),
            "{b}"
        );
        assert_eq!(b["datetime"], "2020-06-01T00:00:00Z/2020-07-31T23:59:59Z");
        assert_eq!(b["bbox"], json!([-106.0, 39.0, -104.0, 41.0]));
        assert_eq!(b["limit"], 1);
    }
    assert!(
        pages
            .iter()
            .any(|h| h.method == "POST" && h.body["next"] == 1 && h.body["collections"].is_array()),
        "{pages:?}"
    );
    assert!(
        pages
            .iter()
            .any(|h| h.method == "GET" && h.target.contains("token=")),
        "{pages:?}"
    );
    // The canonical layout, byte for byte.
    for s in &fx.scenes {
        let rel = s.dir.strip_prefix(&fx.src).unwrap();
        assert!(rel.starts_with("collection02/level-2/standard/oli-tirs/2020/034/032"));
        for (k, p) in files_under(&fx.src, &s.dir) {
            assert_eq!(
                std::fs::read(lake.join(&k)).unwrap(),
                std::fs::read(&p).unwrap(),
                "{k}"
            );
        }
        assert!(!lake
            .join(rel)
            .join(format!("{}_SR_B4.TIF.partial", s.product_id))
            .exists());
    }
    assert!(!lake
        .join("collection02/level-2/standard/oli-tirs/2020/034/032")
        .read_dir()
        .unwrap()
        .any(|e| e.unwrap().file_name().to_string_lossy().starts_with("LC09")));
    let rows = report_rows(&report);
    let verified: Vec<&Value> = rows.iter().filter(|r| r["event"] == "verified").collect();
    assert_eq!(verified.len(), 44);
    assert!(
        verified.iter().all(|r| r["verified"] == "size+etag"),
        "{rows:?}"
    );
    let discovered = rows.iter().find(|r| r["event"] == "discovered").unwrap();
    assert!(
        discovered["url"]
            .as_str()
            .unwrap()
            .starts_with("s3://usgs-landsat/collection02/level-2/standard/oli-tirs/2020/034/032/"),
        "{discovered}"
    );
    // Indexed from the two items of each scene, with hrefs on the lake's copy.
    assert_eq!(
        rows.iter().filter(|r| r["event"] == "indexed").count(),
        4,
        "{rows:?}"
    );
    assert_eq!(
        common::rows(
            &pg.url,
            "SELECT p.name || '=' || count(*) FROM agdc.dataset d JOIN agdc.dataset_type p \
             ON p.id = d.dataset_type_ref WHERE d.archived IS NULL GROUP BY p.name ORDER BY 1"
        ),
        ["ls8_c2l2_sr=2", "ls8_c2l2_st=2"]
    );
    let lake_root = lake.canonicalize().unwrap().display().to_string();
    let measured = common::rows(
        &pg.url,
        "SELECT d.metadata->'measurements'->'red'->>'path' FROM agdc.dataset d JOIN agdc.dataset_type p \
         ON p.id = d.dataset_type_ref WHERE p.name = 'ls8_c2l2_sr' ORDER BY 1",
    );
    assert_eq!(measured.len(), 2);
    for m in &measured {
        assert!(
            m.ends_with("_SR_B4.TIF") && !m.contains("landsatlook"),
            "{m}"
        );
    }
    // The dataset location stays the item's `self` link (the indexer's rule for absolute self
    // links); the measurements are the lake's files.
    for m in &measured {
        assert!(
            m.starts_with(&format!(
                "file://{lake_root}/collection02/level-2/standard/oli-tirs/2020/034/032/"
            )),
            "{m}"
        );
    }

    // Again with nothing changed: every file skipped by its size and Last-Modified, no object read.
    fx.gate.clear_log();
    let t = ok(run(&[]));
    assert!(t.contains("44 skipped") && !t.contains("downloaded"), "{t}");
    assert!(fx.gate.hits().iter().all(|h| h.method == "HEAD"));

    // An interrupted download: a `.partial` whose meta names the object's ETag resumes with a Range
    // (the rest of the bytes only); one naming another ETag starts again from byte 0.
    let rows = report_rows(&report);
    let discovered = |suffix: &str| {
        rows.iter()
            .find(|r| r["event"] == "discovered" && r["url"].as_str().unwrap().ends_with(suffix))
            .unwrap()
            .clone()
    };
    let a = discovered("20200615_20200824_02_T1_SR_B4.TIF");
    let b = discovered("20200717_20200911_02_T1_SR_B5.TIF");
    let mut want = Vec::new();
    for (row, etag) in [
        (&a, a["etag"].as_str().unwrap()),
        (&b, "\"another-version\""),
    ] {
        let path = PathBuf::from(row["location"].as_str().unwrap());
        let bytes = std::fs::read(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        let partial = PathBuf::from(format!("{}.partial", path.display()));
        std::fs::write(&partial, &bytes[..bytes.len() / 2]).unwrap();
        std::fs::write(format!("{}.meta", partial.display()), etag).unwrap();
        want.push((path, bytes));
    }
    let t = ok(run(&[]));
    assert!(
        t.contains("2 downloaded") && t.contains("42 skipped"),
        "{t}"
    );
    for (path, bytes) in &want {
        assert_eq!(&std::fs::read(path).unwrap(), bytes, "{}", path.display());
    }
    let rows = report_rows(&report);
    let done = |loc: &str| {
        rows.iter()
            .find(|r| r["event"] == "downloaded" && r["location"] == loc)
            .unwrap()
            .clone()
    };
    let (ra, rb) = (
        done(a["location"].as_str().unwrap()),
        done(b["location"].as_str().unwrap()),
    );
    let size = |r: &Value| r["size"].as_u64().unwrap();
    assert_eq!(
        ra["bytes"].as_u64().unwrap(),
        size(&ra) - size(&ra) / 2,
        "{ra}"
    );
    assert!(
        ra["reason"].as_str().unwrap().contains("resumed at byte"),
        "{ra}"
    );
    assert_eq!(rb["bytes"].as_u64().unwrap(), size(&rb), "{rb}");
}

#[test]
fn without_the_requester_pays_header_the_bucket_refuses_and_the_files_fail() {
    // A sync whose requests lose the requester-pays header on the way is refused by the bucket: every
    // HEAD fails with 403, nothing is placed, exit 1, and the message names the cause (on AWS, missing
    // credentials give the same 403).
    let fx = fixture(tempdir());
    let out_dir = tempdir();
    let lake = out_dir.path().join("lake");
    let report = out_dir.path().join("r.jsonl");
    // A gate in front of the first gate that strips the header: requests then reach the bucket without it.
    let stripping = StripPayer::start(&fx.gate.endpoint);
    let out = etlake_env(
        out_dir.path(),
        &[
            ("AWS_ACCESS_KEY_ID", "test"),
            ("AWS_SECRET_ACCESS_KEY", "test"),
            ("ETLAKE_LANDSAT_STAC_URL", fx.stac.url.as_str()),
        ],
        &sync_args(
            lake.to_str().unwrap(),
            report.to_str().unwrap(),
            &[
                "--direct-endpoint-url",
                &stripping,
                "--product",
                "ls8_c2l2_sr",
            ],
        ),
    );
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(
        t.contains("0 files discovered") || t.contains("nothing to do"),
        "{t}"
    );
    assert!(
        t.contains("HTTP 403") && t.contains("requester pays"),
        "{t}"
    );
    assert!(fx.gate.hits().iter().all(|h| !h.payer));
    assert!(!lake.join("collection02").exists());
}

/// A proxy that drops `x-amz-request-payer` from every request, in front of `upstream`; its endpoint.
struct StripPayer;

impl StripPayer {
    fn start(upstream: &str) -> String {
        use std::io::{BufRead, BufReader, Read, Write};
        let upstream = upstream.trim_start_matches("http://").to_string();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let upstream = upstream.clone();
                std::thread::spawn(move || {
                    let mut r = BufReader::new(client.try_clone().unwrap());
                    let mut client = client;
                    let mut head = String::new();
                    loop {
                        let mut l = String::new();
                        if r.read_line(&mut l).unwrap_or(0) == 0 {
                            return;
                        }
                        if l.trim_end().is_empty() {
                            break;
                        }
                        let lower = l.to_ascii_lowercase();
                        if !lower.starts_with("x-amz-request-payer")
                            && !lower.starts_with("connection:")
                        {
                            head.push_str(&l);
                        }
                    }
                    head.push_str("Connection: close\r\n\r\n");
                    let Ok(mut up) = std::net::TcpStream::connect(&upstream) else {
                        return;
                    };
                    let _ = up.write_all(head.as_bytes());
                    let mut resp = Vec::new();
                    let _ = up.read_to_end(&mut resp);
                    let _ = client.write_all(&resp);
                });
            }
        });
        endpoint
    }
}

#[test]
fn landsat_into_an_s3_lake_is_indexed_there() {
    let pg = landsat_cluster();
    let fx = fixture(tempdir());
    // The lake is another bucket of a plain moto (the requester-pays gate guards usgs-landsat only).
    let lake_s3 = S3Server::start(false);
    lake_s3.upload("lake", &[]);
    let staging = tempdir();
    let args = [
        "sync",
        "landsat",
        "--product",
        "ls8_c2l2_sr",
        "--time",
        "2020-06-15",
        "--to",
        "s3://lake/landsat",
        "--staging",
        staging.path().to_str().unwrap(),
        "--direct-endpoint-url",
        fx.gate.endpoint.as_str(),
        "--index",
    ];
    let vars = [
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ENDPOINT_URL", lake_s3.endpoint.as_str()),
        ("ETLAKE_LANDSAT_STAC_URL", fx.stac.url.as_str()),
    ];
    let t = ok(etlake_with(&pg.url, &vars, &args));
    // One scene's SR item: 7 bands, 3 QA, the MTL and the sidecar.
    assert!(t.contains("12 downloaded"), "{t}");
    assert!(fx.gate.hits().iter().all(|h| h.payer));
    let id = &fx.scenes[0].product_id;
    let dir = format!("s3://lake/landsat/collection02/level-2/standard/oli-tirs/2020/034/032/{id}");
    assert_eq!(
        common::rows(
            &pg.url,
            "SELECT p.name || ' ' || (d.metadata->'measurements'->'nir08'->>'path') FROM agdc.dataset d \
             JOIN agdc.dataset_type p ON p.id = d.dataset_type_ref"
        ),
        [format!("ls8_c2l2_sr {dir}/{id}_SR_B5.TIF")]
    );
    // Unchanged: skipped by the objects' size and the source ETag and Last-Modified kept as metadata.
    fx.gate.clear_log();
    let t = ok(etlake_with(&pg.url, &vars, &args));
    assert!(t.contains("12 skipped"), "{t}");
    assert!(fx.gate.hits().iter().all(|h| h.method == "HEAD"));
}
