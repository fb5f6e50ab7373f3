//! Bad product and metadata-type input: each gets an error naming the file, the key and the rule,
//! exit code 1, and leaves the database exactly as it was; a stack with no dataset writes nothing.
mod common;
use common::*;
use std::path::Path;

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

const GOOD: &str =
    "name: rain\ndescription: Daily rain\nmetadata_type: eo3\nmetadata: {product: {name: rain}}\n\
    measurements:\n  - {name: precip, dtype: float32, nodata: -9999.0, units: mm}\n\
    load: {crs: 'EPSG:4326', resolution: {latitude: -0.05, longitude: 0.05}}\n";

#[track_caller]
fn refused(url: &catalog_schema::DbUrl, args: &[&str], expect: &[&str]) {
    let before = pg_dump(url, &[]);
    let out = etlake(url, args);
    let t = text(&out);
    assert_eq!(
        out.status.code(),
        Some(1),
        "expected failure for {args:?}:\n{t}"
    );
    for e in expect {
        assert!(
            t.contains(e),
            "error for {args:?} should mention {e:?}:\n{t}"
        );
    }
    assert!(
        before == pg_dump(url, &[]),
        "a refused command changed the database: {args:?}"
    );
}

#[test]
fn bad_products_are_refused_with_clear_errors_and_nothing_written() {
    let pg = Cluster::start();
    ok(etlake(&pg.url, &["db", "init"]));
    let dir = tempdir();
    let d = dir.path();
    let good = write(d, "good.yaml", GOOD);

    let f = write(d, "malformed.yaml", "name: rain\nmeasurements: [\n");
    refused(
        &pg.url,
        &["product", "add", &f],
        &["malformed.yaml", "not valid YAML"],
    );

    let f = write(
        d,
        "unknown-mdt.yaml",
        &GOOD.replace("metadata_type: eo3", "metadata_type: eo4"),
    );
    refused(
        &pg.url,
        &["product", "add", &f],
        &[
            "unknown-mdt.yaml",
            "metadata_type",
            "eo4",
            "etlake metadata add",
        ],
    );

    let f = write(
        d,
        "nodata.yaml",
        &GOOD.replace(
            "dtype: float32, nodata: -9999.0",
            "dtype: uint8, nodata: -9999.0",
        ),
    );
    refused(
        &pg.url,
        &["product", "add", &f],
        &[
            "nodata.yaml",
            "measurements[0] (precip).nodata",
            "outside the range of uint8",
        ],
    );

    let f = write(
        d,
        "nan-int.yaml",
        &GOOD.replace(
            "dtype: float32, nodata: -9999.0",
            "dtype: int16, nodata: NaN",
        ),
    );
    refused(
        &pg.url,
        &["product", "add", &f],
        &["nan-int.yaml", "NaN is not representable in int16"],
    );

    let f = write(
        d,
        "load.yaml",
        &GOOD.replace("{latitude: -0.05, longitude: 0.05}", "{y: -0.05, x: 0.05}"),
    );
    refused(
        &pg.url,
        &["product", "add", &f],
        &["load.yaml", "load.resolution", "latitude/longitude"],
    );

    // A batch with one bad file writes none of them, not even the good one before it.
    let f = write(
        d,
        "nodesc.yaml",
        &GOOD
            .replace("name: rain", "name: snow")
            .replace("description: Daily rain\n", ""),
    );
    refused(
        &pg.url,
        &["product", "add", &good, &f],
        &["nodesc.yaml", "description: required"],
    );

    // The same product twice in one command is refused by name, not by a database error.
    let twin = write(d, "twin.yaml", GOOD);
    refused(
        &pg.url,
        &["product", "add", &good, &twin],
        &["twin.yaml", "also defined in", "good.yaml"],
    );

    // Now add it for real; an identical re-add is a no-op, a different one is refused.
    ok(etlake(&pg.url, &["product", "add", &good]));
    assert!(ok(etlake(&pg.url, &["product", "add", &good])).contains("unchanged"));
    let f = write(
        d,
        "changed.yaml",
        &GOOD.replace("nodata: -9999.0", "nodata: -1.0"),
    );
    refused(
        &pg.url,
        &["product", "add", &f],
        &[
            "changed.yaml",
            "different definition",
            "measurements.0.nodata",
            "etlake product update",
        ],
    );

    // update: unsafe changes need --allow-unsafe; safe ones apply.
    refused(
        &pg.url,
        &["product", "update", &f],
        &[
            "changed.yaml",
            "unsafe changes",
            "measurements.0.nodata",
            "--allow-unsafe",
        ],
    );
    let f2 = write(
        d,
        "desc.yaml",
        &GOOD.replace("Daily rain", "Daily rainfall"),
    );
    let out = ok(etlake(&pg.url, &["product", "update", &f2]));
    assert!(out.contains("safe change:   description"), "{out}");
    assert_eq!(rows(&pg.url, "SELECT definition->>'description', (updated IS NOT NULL)::text FROM agdc.dataset_type WHERE name = 'rain'"), ["Daily rainfall | true"]);
    ok(etlake(
        &pg.url,
        &["product", "update", "--allow-unsafe", &f],
    ));
    assert_eq!(rows(&pg.url, "SELECT definition#>>'{measurements,0,nodata}' FROM agdc.dataset_type WHERE name = 'rain'"), ["-1.0"]);
    // The view survives the update, the indexes are all there.
    assert_eq!(
        rows(&pg.url, "SELECT count(*)::text FROM pg_class WHERE relname IN ('dv_rain_dataset', 'dix_rain_lat_lon_time', 'dix_rain_time_lat_lon', 'dix_rain_region_code')"),
        ["4"]
    );
    let missing = write(d, "missing.yaml", &GOOD.replace("rain", "hail"));
    refused(
        &pg.url,
        &["product", "update", &missing],
        &["missing.yaml", "not in the index", "etlake product add"],
    );
    // A stack of a product with no dataset in the area is an error, and no file is left behind (an
    // empty stack has no time dimension: readers refuse such a file).
    let out_nc = d.join("empty.nc");
    refused(
        &pg.url,
        &[
            "stack",
            "--product",
            "rain",
            "--bbox",
            "0,0,1,1",
            "--out",
            out_nc.to_str().unwrap(),
        ],
        &["no dataset of product rain", "nothing written", "empty.nc"],
    );
    assert!(!out_nc.exists(), "an empty stack left {}", out_nc.display());
}

#[test]
fn bad_metadata_types_are_refused_and_custom_ones_work() {
    let pg = Cluster::start();
    ok(etlake(&pg.url, &["db", "init"]));
    let dir = tempdir();
    let d = dir.path();
    let f = write(d, "mdt-bad-type.yaml", "name: eo3_cc\ndescription: eo3 with indexed cloud cover\n\
        dataset:\n  id: [id]\n  creation_dt: [properties, 'odc:processing_datetime']\n  label: [label]\n  sources: [lineage, source_datasets]\n\
        \x20 search_fields:\n    cloud_cover: {type: percentage, offset: [properties, 'eo:cloud_cover']}\n");
    refused(
        &pg.url,
        &["metadata", "add", &f],
        &[
            "mdt-bad-type.yaml",
            "search_fields.cloud_cover: type: unknown type \"percentage\"",
        ],
    );
    let good = std::fs::read_to_string(&f)
        .unwrap()
        .replace("percentage", "double");
    let f = write(d, "mdt.yaml", &good);
    assert!(ok(etlake(&pg.url, &["metadata", "add", &f])).contains("Added"));
    // A product of the custom type gets datacube's individual index on the indexed double field.
    let p = write(
        d,
        "p.yaml",
        &GOOD.replace("metadata_type: eo3", "metadata_type: eo3_cc"),
    );
    ok(etlake(&pg.url, &["product", "add", &p]));
    assert_eq!(rows(&pg.url, "SELECT to_regclass('agdc.dix_rain_cloud_cover')::text, to_regclass('agdc.dv_eo3_cc_dataset')::text"), ["agdc.dix_rain_cloud_cover | agdc.dv_eo3_cc_dataset"]);
    // And datacube agrees it can read it.
    let listed = ok(datacube(&pg.url, &["metadata", "list"]));
    assert!(listed.contains("eo3_cc"), "{listed}");
}
