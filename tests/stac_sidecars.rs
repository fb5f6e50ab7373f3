//! STAC sidecars dc-tools cannot index: items without projection (grid from the scene's `_MTL.json`),
//! USGS https hrefs mapped to the bucket (`--href-rewrite`), and foreign collection names
//! (`--rename-product`); an item with neither projection nor MTL takes its grid from its first data COG's
//! header, and fails by name when that cannot be read either.
mod common;
use common::*;
use serde_json::json;

#[test]
fn mtl_fallback_href_rewrite_and_rename() {
    let pg = cluster_with_bench_product();
    let lake = tempdir();
    let write = |key: &str, v: &serde_json::Value| {
        let p = lake.path().join(key);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, serde_json::to_vec(v).unwrap()).unwrap();
    };
    let strip_proj = |item: &mut serde_json::Value| {
        item["properties"]
            .as_object_mut()
            .unwrap()
            .retain(|k, _| !k.starts_with("proj:"));
        for a in item["assets"].as_object_mut().unwrap().values_mut() {
            a.as_object_mut()
                .unwrap()
                .retain(|k, _| !k.starts_with("proj:"));
        }
    };
    // 1. No projection at all, USGS-style item id with _SR, MTL beside it with string values.
    let (key, mut item) = sample_lake::landsat::bench_item(0, "https://landsatlook.usgs.gov/data");
    strip_proj(&mut item);
    let product_id = item["id"].as_str().unwrap().to_string();
    item["id"] = json!(format!("{product_id}_SR"));
    for a in item["assets"].as_object_mut().unwrap().values_mut() {
        let href = a["href"].as_str().unwrap().to_string();
        let dir = &key[..key.rfind('/').unwrap()];
        a["href"] = json!(format!("https://landsatlook.usgs.gov/data/{dir}/{href}"));
    }
    write(&key, &item);
    let dir = &key[..key.rfind('/').unwrap()];
    write(
        &format!("{dir}/{product_id}_MTL.json"),
        &json!({"LANDSAT_METADATA_FILE": {"PROJECTION_ATTRIBUTES": {
        "UTM_ZONE": "13", "GRID_CELL_SIZE_REFLECTIVE": "30.00", "REFLECTIVE_LINES": "7801", "REFLECTIVE_SAMPLES": "7701",
        "CORNER_UL_PROJECTION_X_PRODUCT": "300015.000", "CORNER_UL_PROJECTION_Y_PRODUCT": "3999985.000"}}}),
    );
    // 2. A collection named the USGS way, renamed on the command line.
    let (key2, mut item2) = sample_lake::landsat::bench_item(1, "file:///elsewhere");
    item2["collection"] = json!("landsat-c2l2-sr");
    item2["properties"]
        .as_object_mut()
        .unwrap()
        .remove("odc:product");
    write(&key2, &item2);
    // 3. Neither projection nor MTL.
    let (key3, mut item3) = sample_lake::landsat::bench_item(2, "file:///elsewhere");
    strip_proj(&mut item3);
    write(&key3, &item3);
    // 4. Neither projection nor MTL, but a readable COG: its header gives the grid.
    let (key4, mut item4) = sample_lake::landsat::bench_item(3, "file:///elsewhere");
    strip_proj(&mut item4);
    write(&key4, &item4);
    let red = item4["assets"]["red"]["href"].as_str().unwrap().to_string();
    let cog = lake.path().join(&key4).parent().unwrap().join(red);
    let gtiff = gdal::DriverManager::get_driver_by_name("GTiff").unwrap();
    let mut ds = gtiff
        .create_with_band_type::<u16, _>(&cog, 100, 80, 1)
        .unwrap();
    ds.set_geo_transform(&[412_000.0, 30.0, 0.0, 4_410_000.0, 0.0, -30.0])
        .unwrap();
    ds.set_spatial_ref(&gdal::spatial_ref::SpatialRef::from_epsg(32613).unwrap())
        .unwrap();
    drop(ds);

    let out = etlake(
        &pg.url,
        &[
            "index",
            lake.path().to_str().unwrap(),
            "--href-rewrite",
            "https://landsatlook.usgs.gov/data=s3://usgs-landsat",
            "--rename-product",
            "ls8_c2l2_sr",
        ],
    );
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(
        t.contains("3 indexed") && t.contains("1 failed") && t.contains("2 skipped"),
        "{t}"
    );
    assert!(
        t.contains("no projection information, and its MTL")
            && t.contains(&format!("{}_MTL.json", item3["id"].as_str().unwrap())),
        "{t}"
    );
    let doc = rows(&pg.url, "SELECT metadata::text FROM agdc.dataset WHERE metadata#>>'{grids,default,transform,2}' = '300000.0'");
    assert!(!doc.is_empty(), "the MTL grid was not used");
    let from_cog = rows(&pg.url, "SELECT metadata#>>'{grids,default,shape}' FROM agdc.dataset WHERE metadata#>>'{grids,default,transform,2}' = '412000.0'");
    assert_eq!(from_cog, ["[80, 100]"], "the COG header grid was not used");
    let doc: serde_json::Value = serde_json::from_str(&doc[0]).unwrap();
    assert_eq!(doc["crs"], "EPSG:32613");
    assert_eq!(doc["grids"]["default"]["shape"], json!([7801, 7701]));
    assert!(
        doc["measurements"]["red"]["path"]
            .as_str()
            .unwrap()
            .starts_with("s3://usgs-landsat/collection02/"),
        "{doc}"
    );
    assert_eq!(rows(&pg.url, "SELECT count(*)::text FROM agdc.dataset_location WHERE uri_scheme = 's3' AND uri_body LIKE '//usgs-landsat/collection02/%'"), ["1"]);
    assert_eq!(
        rows(
            &pg.url,
            "SELECT DISTINCT metadata#>>'{product,name}' FROM agdc.dataset"
        ),
        ["ls8_c2l2_sr"]
    );
}
