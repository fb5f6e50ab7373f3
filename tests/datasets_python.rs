//! Datasets written by etlake are found and loaded by ODC Python (`find_datasets`, `dataset search`,
//! `dc.load`), Python-written datasets sit beside them, and bad documents are refused without writes.
mod common;
use common::*;

#[test]
fn python_finds_and_loads_what_etlake_indexed() {
    let pg = Cluster::start();
    ok(etlake(&pg.url, &["db", "init"]));
    let (precip_p, multi_p) = (
        reference("product_precip.odc-product.yaml"),
        reference("product_multi.odc-product.yaml"),
    );
    ok(etlake(
        &pg.url,
        &[
            "product",
            "add",
            precip_p.to_str().unwrap(),
            multi_p.to_str().unwrap(),
        ],
    ));

    let lake = tempdir();
    let l = lake.path();
    std::fs::copy(
        reference("precip_20200101.odc-metadata.yaml"),
        l.join("precip_20200101.odc-metadata.yaml"),
    )
    .unwrap();
    std::fs::copy(
        reference("multi.odc-metadata.yaml"),
        l.join("multi.odc-metadata.yaml"),
    )
    .unwrap();
    // The reference 20 × 10 grid (0.1°, lon 130–132, lat −21…−20): b1 = 100·row + col, b2 = 7.
    let grid = [130.0, 0.1, 0.0, -20.0, 0.0, -0.1];
    write_geotiff::<i16>(
        &l.join("multi.tif"),
        (20, 10),
        grid,
        -999.0,
        &[&|r, c| (100 * r + c) as i16, &|_, _| 7],
    );

    // The derived dataset first: its lineage waits until the source arrives.
    let out = ok(etlake(
        &pg.url,
        &[
            "dataset",
            "add",
            l.join("multi.odc-metadata.yaml").to_str().unwrap(),
        ],
    ));
    assert!(out.contains("1 indexed"), "{out}");
    assert_eq!(
        rows(&pg.url, "SELECT count(*)::text FROM etlake.pending_lineage"),
        ["1"]
    );
    let out = ok(etlake(&pg.url, &["dataset", "add", l.to_str().unwrap()]));
    assert!(
        out.contains("1 indexed") && out.contains("1 unchanged"),
        "{out}"
    );
    assert_eq!(
        rows(
            &pg.url,
            "SELECT classifier, source_dataset_ref::text FROM agdc.dataset_source"
        ),
        ["source_a | 3f2a9a3e-7a0c-4c71-9d8e-3a7b0c1d2e01"]
    );
    assert_eq!(
        rows(&pg.url, "SELECT count(*)::text FROM etlake.pending_lineage"),
        ["0"]
    );

    // The stored document is exactly what datacube stores for the same file.
    let expected: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(reference("stored-dataset-doc.postgres-driver.json")).unwrap(),
    )
    .unwrap();
    let stored = rows(
        &pg.url,
        "SELECT metadata::text FROM agdc.dataset WHERE id = '3f2a9a3e-7a0c-4c71-9d8e-3a7b0c1d2e01'",
    );
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&stored[0]).unwrap(),
        expected
    );

    let code = r#"
import datacube, numpy as np
dc = datacube.Datacube(app='etlake-test')
hit = dc.find_datasets(product='test_precip', time=('2020-01-01', '2020-01-02'), x=(130.5, 131), y=(-20.5, -20.2))
print('precip hit', sorted(str(d.id) for d in hit))
miss = dc.find_datasets(product='test_precip', time=('2020-01-01', '2020-01-02'), x=(140, 141), y=(-20.5, -20.2))
print('precip miss', len(miss))
late = dc.find_datasets(product='test_precip', time=('2020-02-01', '2020-02-02'))
print('precip late', len(late))
ds = dc.load(product='test_multi', time=('2020-01-01', '2020-01-02'), x=(130.25, 131.05), y=(-20.85, -20.15),
             output_crs='EPSG:4326', resolution=(-0.1, 0.1))
b1 = ds.b1.isel(time=0)
rows_ = np.floor((-20.0 - b1.latitude.values) / 0.1).astype(int)
cols_ = np.floor((b1.longitude.values - 130.0) / 0.1).astype(int)
expected = 100 * rows_[:, None] + cols_[None, :]
print('load shape', b1.shape, 'equal', bool((b1.values == expected).all()), 'b2', int(ds.b2.values.min()), int(ds.b2.values.max()))
src = dc.index.datasets.get('3f2a9a3e-7a0c-4c71-9d8e-3a7b0c1d2e02', include_sources=True)
print('sources', sorted(src.sources.keys()))
"#;
    let out = ok(python(&pg.url, code));
    assert!(
        out.contains("precip hit ['3f2a9a3e-7a0c-4c71-9d8e-3a7b0c1d2e01']"),
        "{out}"
    );
    assert!(
        out.contains("precip miss 0") && out.contains("precip late 0"),
        "{out}"
    );
    assert!(
        out.contains("equal True") && out.contains("b2 7 7"),
        "{out}"
    );
    assert!(out.contains("sources ['source_a']"), "{out}");

    let cli = ok(datacube(
        &pg.url,
        &[
            "dataset",
            "search",
            "product=test_precip",
            "time in [2020-01-01, 2020-01-02]",
            "lat in [-20.5, -20.2]",
            "lon in [130.5, 131]",
        ],
    ));
    assert!(
        cli.contains("3f2a9a3e-7a0c-4c71-9d8e-3a7b0c1d2e01"),
        "{cli}"
    );

    // Python adds a dataset to the etlake index; etlake counts it and re-adding it from etlake is `unchanged`.
    let third = std::fs::read_to_string(l.join("multi.odc-metadata.yaml"))
        .unwrap()
        .replace("2e02", "2e03");
    std::fs::write(l.join("third.odc-metadata.yaml"), third).unwrap();
    ok(datacube(
        &pg.url,
        &[
            "dataset",
            "add",
            l.join("third.odc-metadata.yaml").to_str().unwrap(),
        ],
    ));
    assert!(
        ok(etlake(&pg.url, &["product", "list", "--format", "csv"])).contains("test_multi,eo3,2,")
    );
    let again = ok(etlake(
        &pg.url,
        &[
            "dataset",
            "add",
            l.join("third.odc-metadata.yaml").to_str().unwrap(),
        ],
    ));
    assert!(again.contains("1 unchanged"), "{again}");
}

#[test]
fn bad_dataset_documents_are_reported_and_the_rest_is_indexed() {
    let pg = Cluster::start();
    ok(etlake(&pg.url, &["db", "init"]));
    let precip_p = reference("product_precip.odc-product.yaml");
    ok(etlake(
        &pg.url,
        &["product", "add", precip_p.to_str().unwrap()],
    ));
    let lake = tempdir();
    let l = lake.path();
    let good = std::fs::read_to_string(reference("precip_20200101.odc-metadata.yaml")).unwrap();
    std::fs::write(
        l.join("a-good.yaml"),
        good.replace("2020-01-01T12:00:00Z", "2020-01-01T22:00:00+10:00"),
    )
    .unwrap();
    std::fs::write(
        l.join("b-nocrs.yaml"),
        good.replace("2e01", "2e09").replace("crs: EPSG:4326\n", ""),
    )
    .unwrap();
    std::fs::write(
        l.join("c-unknown-product.yaml"),
        good.replace("2e01", "2e08")
            .replace("name: test_precip", "name: nope"),
    )
    .unwrap();
    std::fs::write(l.join("d-broken.yaml"), "id: [\n").unwrap();
    let out = etlake(&pg.url, &["dataset", "add", l.to_str().unwrap()]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(t.contains("1 indexed") && t.contains("3 failed"), "{t}");
    assert!(
        t.contains("b-nocrs.yaml") && t.contains("must have crs and grids"),
        "{t}"
    );
    assert!(
        t.contains("c-unknown-product.yaml") && t.contains("product \"nope\" is not in the index"),
        "{t}"
    );
    assert!(
        t.contains("d-broken.yaml") && t.contains("not valid YAML"),
        "{t}"
    );
    // The non-UTC time was normalised, so SQL search and Python agree.
    assert_eq!(
        rows(
            &pg.url,
            "SELECT metadata#>>'{properties,datetime}' FROM agdc.dataset"
        ),
        ["2020-01-01T12:00:00Z"]
    );
    assert_eq!(
        rows(&pg.url, "SELECT outcome, count(*)::text FROM etlake.index_outcome GROUP BY outcome ORDER BY outcome"),
        ["failed | 3", "indexed | 1"]
    );
    assert_eq!(
        rows(&pg.url, "SELECT status FROM etlake.index_run"),
        ["partial"]
    );
}

#[test]
fn lineage_options_skip_or_refuse_missing_sources() {
    let pg = Cluster::start();
    ok(etlake(&pg.url, &["db", "init"]));
    let multi_p = reference("product_multi.odc-product.yaml");
    let precip_p = reference("product_precip.odc-product.yaml");
    ok(etlake(
        &pg.url,
        &[
            "product",
            "add",
            precip_p.to_str().unwrap(),
            multi_p.to_str().unwrap(),
        ],
    ));
    // multi.odc-metadata.yaml names the precip dataset as its source; that source is not indexed.
    let lake = tempdir();
    let derived = lake.path().join("multi.odc-metadata.yaml");
    std::fs::copy(reference("multi.odc-metadata.yaml"), &derived).unwrap();
    let dir = lake.path().to_str().unwrap();
    let o = etlake(&pg.url, &["index", dir, "--fail-on-missing-lineage"]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(
        t.contains("1 failed") && t.contains("3f2a9a3e-7a0c-4c71-9d8e-3a7b0c1d2e01"),
        "{t}"
    );
    assert_eq!(
        rows(&pg.url, "SELECT count(*)::text FROM agdc.dataset"),
        ["0"]
    );
    // A later run that brings the source: nothing is missing any more, nothing refused.
    let both = tempdir();
    for f in [
        "multi.odc-metadata.yaml",
        "precip_20200101.odc-metadata.yaml",
    ] {
        std::fs::copy(reference(f), both.path().join(f)).unwrap();
    }
    // Skipping lineage indexes the derived dataset alone and records no edge, pending or not.
    let t = ok(etlake(&pg.url, &["index", dir, "--skip-lineage"]));
    assert!(t.contains("1 indexed"), "{t}");
    assert_eq!(
        rows(
            &pg.url,
            "SELECT ((SELECT count(*) FROM etlake.pending_lineage) + (SELECT count(*) FROM agdc.dataset_source))::text"
        ),
        ["0"]
    );
    let t = ok(etlake(
        &pg.url,
        &[
            "index",
            both.path().to_str().unwrap(),
            "--fail-on-missing-lineage",
        ],
    ));
    assert!(t.contains("1 indexed") && t.contains("1 unchanged"), "{t}");
}

#[test]
fn dataset_update_applies_datacube_rules() {
    let pg = Cluster::start();
    ok(etlake(&pg.url, &["db", "init"]));
    let precip_p = reference("product_precip.odc-product.yaml");
    ok(etlake(
        &pg.url,
        &["product", "add", precip_p.to_str().unwrap()],
    ));
    let lake = tempdir();
    let doc = lake.path().join("precip_20200101.odc-metadata.yaml");
    let original = std::fs::read_to_string(reference("precip_20200101.odc-metadata.yaml")).unwrap();
    std::fs::write(&doc, &original).unwrap();
    let f = doc.to_str().unwrap();
    ok(etlake(&pg.url, &["dataset", "add", f]));
    let stored = |key: &str| {
        rows(
            &pg.url,
            &format!("SELECT coalesce(metadata#>>'{{properties,{key}}}', '-') FROM agdc.dataset"),
        )
    };
    // A new property is a safe change; a dry run reports it and writes nothing.
    std::fs::write(
        &doc,
        original.replace("properties:\n", "properties:\n  eo:cloud_cover: 12.5\n"),
    )
    .unwrap();
    let t = ok(etlake(&pg.url, &["dataset", "update", "--dry-run", f]));
    assert!(t.contains("1 updated") && t.contains("dry run"), "{t}");
    assert_eq!(stored("eo:cloud_cover"), ["-"]);
    let t = ok(etlake(&pg.url, &["dataset", "update", f]));
    assert!(t.contains("1 updated"), "{t}");
    assert_eq!(stored("eo:cloud_cover"), ["12.5"]);
    // Changing a value is unsafe: refused (exit 1) unless --allow-unsafe.
    std::fs::write(
        &doc,
        original.replace("odc:region_code: au_tile_1", "odc:region_code: au_tile_2"),
    )
    .unwrap();
    let o = etlake(&pg.url, &["dataset", "update", f]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert_eq!(stored("odc:region_code"), ["au_tile_1"]);
    let t = ok(etlake(&pg.url, &["dataset", "update", "--allow-unsafe", f]));
    assert!(t.contains("1 updated"), "{t}");
    assert_eq!(stored("odc:region_code"), ["au_tile_2"]);
}
