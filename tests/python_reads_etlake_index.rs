//! ODC Python on an etlake-built index: `datacube system check`, `product list`, `metadata list`,
//! and `datacube product add` (which needs datacube's roles and ownership) all work.
mod common;
use common::*;

#[test]
fn datacube_reads_and_writes_an_etlake_index() {
    let pg = Cluster::start();
    ok(etlake(&pg.url, &["db", "init"]));
    let defs = workspace().join("product-defs/products");
    ok(etlake(&pg.url, &["product", "add", defs.to_str().unwrap()]));

    let check = ok(datacube(&pg.url, &["system", "check"]));
    assert!(
        check.contains("Valid connection:") && check.contains("YES"),
        "{check}"
    );

    let listed = ok(datacube(&pg.url, &["product", "list"]));
    for p in product_defs() {
        let name = p
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .trim_end_matches(".odc-product.yaml")
            .to_string();
        assert!(
            listed.contains(&name),
            "datacube product list does not show {name}:\n{listed}"
        );
    }
    let mdts = ok(datacube(&pg.url, &["metadata", "list"]));
    for m in ["eo3", "eo", "telemetry"] {
        assert!(
            mdts.lines().any(|l| l.split_whitespace().next() == Some(m)),
            "{m} missing from:\n{mdts}"
        );
    }

    // Python writes into the etlake index: this needs agdc_admin/agdc_manage to exist and own things.
    let multi = reference("product_multi.odc-product.yaml");
    let out = ok(datacube(
        &pg.url,
        &["product", "add", multi.to_str().unwrap()],
    ));
    assert!(!out.contains("Traceback"), "{out}");
    assert_eq!(
        rows(&pg.url, "SELECT to_regclass('agdc.dix_test_multi_lat_lon_time')::text, to_regclass('agdc.dv_test_multi_dataset')::text"),
        ["agdc.dix_test_multi_lat_lon_time | agdc.dv_test_multi_dataset"]
    );
    // ... and etlake sees what Python added, unchanged when re-added from the same file.
    let ours = ok(etlake(&pg.url, &["product", "list", "--format", "csv"]));
    assert!(ours.contains("test_multi,eo3,0,"), "{ours}");
    let again = ok(etlake(
        &pg.url,
        &["product", "add", multi.to_str().unwrap()],
    ));
    assert!(again.contains("unchanged"), "{again}");

    // The Python API loads every product's definition (measurements, load hints) without complaint.
    let code = "import datacube\n\
        dc = datacube.Datacube(app='etlake-test')\n\
        for p in dc.index.products.get_all():\n\
        \x20   m = p.measurements\n\
        \x20   print(p.name, len(m), p.load_hints() is not None)\n";
    let out = ok(python(&pg.url, code));
    assert!(out.contains("test_multi 2"), "{out}");
    assert!(
        out.lines().filter(|l| !l.trim().is_empty()).count() > product_defs().len(),
        "{out}"
    );
}
