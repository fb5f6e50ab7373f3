//! USGS Landsat Collection 2 Level-2 STAC as USGS writes it (`sample_lake::usgs_items`), indexed with no
//! flags but `--href-rewrite`: SR and ST items reach their products through product-defs' routing rules
//! (a Landsat 9 item to ls9, a Landsat 7 item — no product — skipped naming its collection and platform),
//! and the STAC 0.7.0 items USGS wrote in 2020 for the same scenes (date-only `datetime`, file-suffix
//! asset keys, `eo:bands` by index, no projection) are completed from each scene's `_MTL.json` to the
//! same product, measurements, grid, CRS and time as the current items. A sidecar that is not JSON
//! fails by name. Real Postgres, GDAL COGs and MTL files.
mod common;
use common::*;
use serde_json::{json, Value};
use std::path::Path;

fn landsat_cluster() -> Cluster {
    let defs = workspace().join("product-defs/products");
    cluster_with(
        &["ls8_c2l2_sr", "ls8_c2l2_st", "ls9_c2l2_sr", "ls9_c2l2_st"]
            .map(|p| defs.join(format!("{p}.odc-product.yaml"))),
    )
}

fn write_json(path: &Path, v: &Value) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, serde_json::to_vec_pretty(v).unwrap()).unwrap();
}

/// Indexes `lake` with USGS hrefs mapped onto it; returns (exit code, output, report rows).
fn index(pg: &Cluster, lake: &Path) -> (Option<i32>, String, Vec<Value>) {
    let report = lake.join("report.jsonl");
    let out = etlake(
        &pg.url,
        &[
            "index",
            lake.join("collection02").to_str().unwrap(),
            "--href-rewrite",
            &format!(
                "{}=file://{}/",
                sample_lake::scenes::USGS_DATA,
                lake.display()
            ),
            "--report",
            report.to_str().unwrap(),
        ],
    );
    let rows = std::fs::read_to_string(&report)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (out.status.code(), text(&out), rows)
}

/// What must agree between the current and the old shape of a scene, lake root replaced by `LAKE`.
fn relevant(pg: &Cluster, lake: &Path) -> Vec<String> {
    rows(
        &pg.url,
        "SELECT p.name || ' ' || (d.metadata->'properties'->>'datetime') || ' ' || (d.metadata->>'crs') || ' ' \
         || (d.metadata->'grids')::text || ' ' || (d.metadata->'measurements')::text || ' ' \
         || (d.metadata->'properties'->>'eo:platform') \
         FROM agdc.dataset d JOIN agdc.dataset_type p ON p.id = d.dataset_type_ref \
         WHERE d.metadata->'properties'->>'eo:platform' = 'LANDSAT_8' ORDER BY 1",
    )
    .into_iter()
    .map(|r| r.replace(&lake.display().to_string(), "LAKE"))
    .collect()
}

#[test]
fn usgs_items_are_routed_and_old_items_equal_current_ones() {
    // Current items, plus a Landsat 9 and a Landsat 7 item in the same collection.
    let now = tempdir();
    let scenes = sample_lake::scenes::write_scenes(now.path()).unwrap();
    let sr: Value = serde_json::from_slice(&std::fs::read(&scenes[1].sr_item).unwrap()).unwrap();
    for (sat, platform) in [("09", "LANDSAT_9"), ("07", "LANDSAT_7")] {
        let mut item = sr.clone();
        let id = item["id"]
            .as_str()
            .unwrap()
            .replace("LC08", &format!("LC{sat}"));
        item["id"] = json!(id);
        item["properties"]["platform"] = json!(platform);
        write_json(
            &now.path()
                .join(format!("collection02/other/{id}_stac.json")),
            &item,
        );
    }
    let pg_now = landsat_cluster();
    let (code, t, report) = index(&pg_now, now.path());
    assert_eq!(code, Some(0), "{t}");
    assert!(t.contains("5 indexed") && !t.contains("failed"), "{t}");
    assert_eq!(
        rows(
            &pg_now.url,
            "SELECT p.name || '=' || count(*) FROM agdc.dataset d JOIN agdc.dataset_type p \
             ON p.id = d.dataset_type_ref GROUP BY p.name ORDER BY 1"
        ),
        ["ls8_c2l2_sr=2", "ls8_c2l2_st=2", "ls9_c2l2_sr=1"]
    );
    let l7 = report
        .iter()
        .find(|r| r["uri"].as_str().is_some_and(|u| u.contains("LC07")))
        .unwrap();
    assert_eq!(l7["outcome"], "skipped", "{l7}");
    let reason = l7["error"].as_str().or(l7["reason"].as_str()).unwrap();
    assert!(
        reason.contains(r#"collection "landsat-c2l2-sr", platform "LANDSAT_7""#)
            && reason.contains("landsat_c2l2_sr (its collection's name) is not in the index"),
        "{reason}"
    );
    // Dataset ids stay datacube's: uuid5 over the item's own collection and id.
    let expected = catalog_schema::stac_eo3::dataset_id(&sr)
        .unwrap()
        .to_string();
    assert_eq!(
        rows(
            &pg_now.url,
            &format!(
                "SELECT metadata->'product'->>'name' FROM agdc.dataset WHERE id = '{expected}'"
            )
        ),
        ["ls8_c2l2_sr"]
    );

    // The same scenes with USGS's STAC 0.7.0 items, and one sidecar that is an error page.
    let old = tempdir();
    let scenes = sample_lake::scenes::write_scenes(old.path()).unwrap();
    for s in &scenes {
        write_json(&s.sr_item, &s.legacy_items.0);
        write_json(&s.st_item, &s.legacy_items.1);
    }
    let broken = old.path().join(
        "collection02/level-2/standard/oli-tirs/2020/034/032/LC08_L2SP_034032_20200802_20200908_02_T1/LC08_L2SP_034032_20200802_20200908_02_T1_SR_stac.json",
    );
    std::fs::create_dir_all(broken.parent().unwrap()).unwrap();
    std::fs::write(
        &broken,
        "<html><body>503 Service Unavailable</body></html>\n",
    )
    .unwrap();
    let pg_old = landsat_cluster();
    let (code, t, report) = index(&pg_old, old.path());
    assert_eq!(code, Some(1), "{t}");
    assert!(t.contains("4 indexed") && t.contains("1 failed"), "{t}");
    let failed: Vec<&Value> = report.iter().filter(|r| r["outcome"] == "failed").collect();
    assert_eq!(failed.len(), 1, "{report:?}");
    let reason = failed[0]["reason"]
        .as_str()
        .or(failed[0]["error"].as_str())
        .unwrap();
    assert!(
        reason.contains("LC08_L2SP_034032_20200802_20200908_02_T1_SR_stac.json")
            && reason.contains("not JSON"),
        "{reason}"
    );

    let (a, b) = (relevant(&pg_now, now.path()), relevant(&pg_old, old.path()));
    assert_eq!(a.len(), 4, "{a:?}");
    assert_eq!(a, b, "old-format items differ from current ones");
    // The time is the scene centre from the MTL (7 digits truncated), not the bare date.
    assert!(a[0].contains("2020-06-15T17:36:12.517027"), "{}", a[0]);
    assert!(
        a.iter().any(|r| r.starts_with("ls8_c2l2_st")
            && r.contains(r#""qa_radsat""#)
            && r.contains(r#""trad""#)
            && r.contains(r#""lwir11""#)),
        "{a:?}"
    );
}
