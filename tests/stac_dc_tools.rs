//! STAC sidecars (the Landsat benchmark workload) indexed by etlake store exactly what odc-apps-dc-tools
//! 1.9.9 `s3-to-dc --stac` stores for the same items — documents and locations — so a lake first indexed
//! by dc-tools is found `unchanged` by etlake, never duplicated.
mod common;
use common::*;

const CREDS: [(&str, &str); 3] = [
    ("AWS_ACCESS_KEY_ID", "test"),
    ("AWS_SECRET_ACCESS_KEY", "test"),
    ("AWS_REGION", "us-east-1"),
];
const FINGERPRINT: &str = "SELECT count(*)::text || ' ' || md5(string_agg(d.metadata::text || ' ' || l.uri_scheme || ':' || l.uri_body, ',' ORDER BY d.id)) \
    FROM agdc.dataset d JOIN agdc.dataset_location l ON l.dataset_ref = d.id";

#[test]
fn etlake_stores_what_dc_tools_stores_and_does_not_duplicate_it() {
    let s3 = S3Server::start(false);
    let lake = tempdir();
    let base = "s3://usgs-landsat";
    let mut uploads = Vec::new();
    for i in 0..20 {
        let (key, item) = sample_lake::landsat::bench_item(i, base);
        let p = lake.path().join(format!("item{i}.json"));
        std::fs::write(&p, serde_json::to_vec(&item).unwrap()).unwrap();
        uploads.push((key, p));
    }
    // A Landsat MTL sidecar beside the items is skipped, not failed.
    let mtl = lake.path().join("mtl.json");
    std::fs::write(&mtl, r#"{"LANDSAT_METADATA_FILE": {}}"#).unwrap();
    uploads.push((
        "collection02/level-2/standard/oli-tirs/2020/030/030/x_MTL.json".into(),
        mtl,
    ));
    s3.upload("usgs-landsat", &uploads);

    let theirs = cluster_with_bench_product();
    let mut cmd = std::process::Command::new(venv().join("bin/s3-to-dc"));
    cmd.env("ODC_DEFAULT_DB_URL", theirs.url.python_url())
        .env("AWS_ENDPOINT_URL", &s3.endpoint)
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .envs(CREDS)
        .args([
            "--stac",
            "s3://usgs-landsat/collection02/**/*_SR_stac.json",
            "ls8_c2l2_sr",
        ]);
    let out = ok(cmd.output().unwrap());
    assert!(out.contains("Added 20 datasets"), "{out}");

    let ours = cluster_with_bench_product();
    let t = ok(etlake_with(
        &ours.url,
        &CREDS,
        &[
            "index",
            "s3://usgs-landsat/collection02/",
            "--endpoint-url",
            &s3.endpoint,
        ],
    ));
    assert!(t.contains("20 indexed") && t.contains("1 skipped"), "{t}");

    let (a, b) = (rows(&theirs.url, FINGERPRINT), rows(&ours.url, FINGERPRINT));
    assert!(a[0].starts_with("20 "), "{a:?}");
    assert_eq!(
        a, b,
        "etlake's stored documents or locations differ from s3-to-dc's"
    );

    // Switching a dc-tools lake to etlake: everything is already there.
    let t = ok(etlake_with(
        &theirs.url,
        &CREDS,
        &[
            "index",
            "s3://usgs-landsat/collection02/",
            "--endpoint-url",
            &s3.endpoint,
        ],
    ));
    assert!(t.contains("20 unchanged") && !t.contains("indexed"), "{t}");
    assert_eq!(rows(&theirs.url, FINGERPRINT), a);

    // STAC 1.1 items with proj:code (projection v2) index too, with the same result as proj:epsg.
    let (key, mut item) = sample_lake::landsat::bench_item(20, base);
    item["stac_version"] = serde_json::json!("1.1.0");
    let props = item["properties"].as_object_mut().unwrap();
    props.remove("proj:epsg");
    props.insert("proj:code".into(), serde_json::json!("EPSG:32613"));
    for a in item["assets"].as_object_mut().unwrap().values_mut() {
        let a = a.as_object_mut().unwrap();
        a.remove("proj:epsg");
        a.insert("proj:code".into(), serde_json::json!("EPSG:32613"));
    }
    let p = lake.path().join("v11.json");
    std::fs::write(&p, serde_json::to_vec(&item).unwrap()).unwrap();
    s3.upload("usgs-landsat", &[(key, p)]);
    let t = ok(etlake_with(
        &ours.url,
        &CREDS,
        &[
            "index",
            "s3://usgs-landsat/collection02/",
            "--endpoint-url",
            &s3.endpoint,
        ],
    ));
    assert!(t.contains("1 indexed") && t.contains("20 unchanged"), "{t}");
    assert_eq!(
        rows(
            &ours.url,
            "SELECT DISTINCT metadata->>'crs' FROM agdc.dataset"
        ),
        ["EPSG:32613"]
    );
    let out = validate_stac_items(&ours.url, "assert p['proj:code'] == 'EPSG:32613', p");
    assert!(out.contains("stac valid 21"), "{out}");
}
