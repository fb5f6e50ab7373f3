//! A data manager's own files (issue 13 point 7): a static GeoTIFF named as the user's lake names it,
//! claimed by a recognition spec whose template is that literal name (`examples/user-static`, the
//! recipe of product-defs/README.md), with optional siblings. One sibling is present, one absent;
//! the dry run names the claiming spec and template, an unclaimed look-alike gets an actionable reason,
//! a required sibling that is missing fails naming the file, and datacube 1.9.20 reads the values.
mod common;
use common::*;
use std::path::Path;

/// The test grid: 40 × 20 pixels of 1/480° (the product's load resolution) from lon −105, lat 41.
const GRID: ((usize, usize), [f64; 6]) = (
    (40, 20),
    [-105.0, 1.0 / 480.0, 0.0, 41.0, 0.0, -1.0 / 480.0],
);

fn write_static(path: &Path, offset: f32) {
    let (size, gt) = GRID;
    write_geotiff::<f32>(
        path,
        size,
        gt,
        -9999.0,
        &[&|r, c| offset + (r * 100 + c) as f32],
    );
}

fn report_lines(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn user_named_static_with_optional_siblings() {
    let example = workspace().join("examples/user-static");
    let pg = cluster_with(&[
        workspace().join("product-defs/products"),
        example.join("soil_conus_v2.odc-product.yaml"),
    ]);

    // The user's product-defs: the shipped recognition specs plus theirs. A second spec of the same
    // product requires its sibling.
    let defs = tempdir();
    let rec = defs.path().join("recognition");
    std::fs::create_dir_all(&rec).unwrap();
    for e in std::fs::read_dir(workspace().join("product-defs/recognition")).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, rec.join(p.file_name().unwrap())).unwrap();
    }
    std::fs::copy(
        example.join("recognition/soil_conus_v2.yaml"),
        rec.join("soil_conus_v2.yaml"),
    )
    .unwrap();
    std::fs::write(
        rec.join("soil_conus_v1.yaml"),
        "product: soil_conus_v2\nfile_format: GeoTIFF\ntemplates: [whc_conus_250m_v1.tif]\n\
         time: {start: '2018-01-01', period: P1Y}\nmeasurements:\n  whc: {band: 1}\n  \
         field_capacity: {file: fc_conus_250m_v1.tif, optional: true}\n  \
         saturation: {file: sat_conus_250m_v1.tif}\n",
    )
    .unwrap();
    let defs_arg = defs.path().to_str().unwrap();

    let lake = tempdir();
    let statics = lake.path().join("statics");
    write_static(&statics.join("whc_conus_250m_v2.tif"), 0.0);
    write_static(&statics.join("sat_conus_250m_v2.tif"), 5000.0);
    // fc_conus_250m_v2.tif is absent: optional.
    write_static(&statics.join("whc_conus_250m_v1.tif"), 0.0);
    // sat_conus_250m_v1.tif is absent: required.
    write_static(&statics.join("whc_conus_250m_v3.tif"), 0.0);
    let lake_arg = lake.path().to_str().unwrap();

    // Dry run: which spec claimed what, why v3 was not claimed, and the v1 failure.
    let jsonl = defs.path().join("dry.jsonl");
    let out = etlake(
        &pg.url,
        &[
            "index",
            lake_arg,
            "--defs",
            defs_arg,
            "--dry-run",
            "--report",
            jsonl.to_str().unwrap(),
        ],
    );
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    let spec_v2 = rec.join("soil_conus_v2.yaml").display().to_string();
    let spec_v1 = rec.join("soil_conus_v1.yaml").display().to_string();
    assert!(
        t.contains(&format!(
            "claimed 1 file as soil_conus_v2 by {spec_v2} template \"whc_conus_250m_v2.tif\""
        )) && t.contains(&format!(
            "claimed 1 file as soil_conus_v2 by {spec_v1} template \"whc_conus_250m_v1.tif\""
        )),
        "{t}"
    );
    assert!(
        t.contains("note 1: optional measurement field_capacity of soil_conus_v2 left out")
            && t.contains(&format!(
                "(its file is absent) (e.g. {})",
                statics.join("fc_conus_250m_v2.tif").display()
            )),
        "{t}"
    );
    // The unclaimed look-alike: the closest template is the user's, and what it lacks is said.
    assert!(t.contains("skipped 1: no template matches"), "{t}");
    assert!(
        t.contains("whc_conus_250m_v3.tif: closest: ")
            && t.contains(&format!(
                "{spec_v2} template \"whc_conus_250m_v2.tif\" \
                 (the name departs from it after \"whc_conus_250m_v\")"
            )),
        "{t}"
    );
    assert!(
        t.contains("add a recognition spec: product-defs/README.md, \"Adding a file of your own\""),
        "{t}"
    );
    // The required sibling: a failure naming the file expected and the spec to change.
    let sat_v1 = statics.join("sat_conus_250m_v1.tif").display().to_string();
    assert!(
        t.contains(&format!("saturation: its file {sat_v1} is missing"))
            && t.contains(&format!("`optional: true` in {spec_v1}")),
        "{t}"
    );
    assert_eq!(
        rows(&pg.url, "SELECT count(*)::text FROM agdc.dataset"),
        ["0"]
    );
    let lines = report_lines(&jsonl);
    let by_name = |name: &str| {
        lines
            .iter()
            .find(|l| l["uri"].as_str().unwrap().ends_with(name))
            .unwrap_or_else(|| panic!("no row for {name}: {lines:?}"))
            .clone()
    };
    let v2 = by_name("whc_conus_250m_v2.tif");
    assert_eq!(
        (
            v2["outcome"].as_str(),
            v2["spec"].as_str(),
            v2["template"].as_str()
        ),
        (
            Some("indexed"),
            Some(spec_v2.as_str()),
            Some("whc_conus_250m_v2.tif")
        )
    );
    assert!(
        v2["notes"][0]
            .as_str()
            .unwrap()
            .contains("fc_conus_250m_v2.tif is absent"),
        "{v2}"
    );
    let v1 = by_name("whc_conus_250m_v1.tif");
    assert_eq!(
        (
            v1["outcome"].as_str(),
            v1["stage"].as_str(),
            v1["spec"].as_str()
        ),
        (Some("failed"), Some("extract"), Some(spec_v1.as_str()))
    );
    let v3 = by_name("whc_conus_250m_v3.tif");
    assert_eq!(v3["outcome"], "skipped");
    assert!(
        v3["error"]
            .as_str()
            .unwrap()
            .starts_with("no template matches: closest:"),
        "{v3}"
    );
    let user = v3["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["spec"] == spec_v2.as_str())
        .unwrap_or_else(|| panic!("{v3}"));
    assert_eq!(
        (user["template"].as_str(), user["differs_after"].as_str()),
        (Some("whc_conus_250m_v2.tif"), Some("whc_conus_250m_v"))
    );
    // A sibling is not a file of its own, nor an unknown one: it is read with the file claimed.
    let sat = by_name("sat_conus_250m_v2.tif");
    assert_eq!(
        (
            sat["outcome"].as_str(),
            sat["error"].as_str(),
            sat["measurement"].as_str()
        ),
        (
            Some("skipped"),
            Some("sibling of a claimed file (read as one of its measurements)"),
            Some("saturation")
        )
    );
    assert!(t.contains("skipped 1: sibling of a claimed file"), "{t}");

    // The run: the v2 static is indexed with the measurements whose files exist.
    let out = etlake(&pg.url, &["index", lake_arg, "--defs", defs_arg]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(t.contains("1 indexed") && t.contains("1 failed"), "{t}");
    assert!(
        t.contains("note 1: optional measurement field_capacity"),
        "{t}"
    );
    assert_eq!(
        rows(
            &pg.url,
            "SELECT (SELECT string_agg(k, ',' ORDER BY k) FROM jsonb_object_keys(metadata->'measurements') k), \
             metadata#>>'{properties,dtr:start_datetime}', metadata#>>'{measurements,saturation,path}' FROM agdc.dataset"
        ),
        ["saturation,whc | 2020-01-01T00:00:00Z | sat_conus_250m_v2.tif"]
    );

    // datacube 1.9.20 reads the present measurements; the absent one is "No such band".
    let code = r#"
import datacube, numpy as np
dc = datacube.Datacube(app='etlake-test')
d = dc.load(product='soil_conus_v2', measurements=['whc', 'saturation'])
w = d.whc.isel(time=0)
rows_ = np.floor((41.0 - w.latitude.values) * 480 + 1e-9).astype(int)
cols_ = np.floor((w.longitude.values + 105.0) * 480 + 1e-9).astype(int)
exp = (rows_[:, None] * 100 + cols_[None, :]).astype('float32')
print('shape', w.shape, 'whc', bool((w.values == exp).all()), 'sat', bool((d.saturation.isel(time=0).values == exp + 5000).all()))
try:
    dc.load(product='soil_conus_v2', measurements=['field_capacity'])
    print('fc loaded')
except ValueError as e:
    print('fc error:', e)
"#;
    let out = ok(python(&pg.url, code));
    assert!(out.contains("shape (20, 40) whc True sat True"), "{out}");
    assert!(
        out.contains("fc error: No such band: field_capacity"),
        "{out}"
    );

    // An object indexed without an optional sibling is read again by the next run (not
    // checkpointed), so the sibling is picked up once it arrives: an addition, applied as safe.
    let out = etlake(&pg.url, &["index", lake_arg, "--defs", defs_arg]);
    let t = text(&out);
    assert!(
        t.contains("1 unchanged") && !t.contains("not read again"),
        "{t}"
    );
    write_static(&statics.join("fc_conus_250m_v2.tif"), 3000.0);
    let t = text(&etlake(&pg.url, &["index", lake_arg, "--defs", defs_arg]));
    assert!(t.contains("1 updated") && !t.contains("note "), "{t}");
    let code = r#"
import datacube, numpy as np
dc = datacube.Datacube(app='etlake-test')
d = dc.load(product='soil_conus_v2')
print('all', sorted(d.data_vars), float(d.field_capacity.max()), float(d.whc.max()))
"#;
    let out = ok(python(&pg.url, code));
    assert!(
        out.contains("all ['field_capacity', 'saturation', 'whc'] 4939.0 1939.0"),
        "{out}"
    );
    // Now complete, the object is checkpointed: the next run does not read it again.
    let t = text(&etlake(&pg.url, &["index", lake_arg, "--defs", defs_arg]));
    assert!(t.contains("not read again 1"), "{t}");
}
