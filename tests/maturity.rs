//! `--archive-less-mature`: a final CHIRPS day archives the preliminary one of the same day; a later
//! preliminary copy is refused because a more mature dataset exists; searches see only the final one.
mod common;
use common::*;

#[test]
fn final_replaces_preliminary() {
    let pg = cluster_with_products();
    let lake = tempdir();
    let ((w, h), gt) = CHIRPS_GRID;
    let tif = |rel: &str, v: f32| {
        write_geotiff::<f32>(
            &lake.path().join(rel),
            (w, h),
            gt,
            -9999.0,
            &[&move |_, _| v],
        )
    };
    tif(
        "prelim/global_daily/tifs/p05/2023/chirps-v2.0.2023.01.01.tif",
        1.0,
    );
    let t = ok(etlake(
        &pg.url,
        &[
            "index",
            lake.path().join("prelim").to_str().unwrap(),
            "--archive-less-mature",
        ],
    ));
    assert!(t.contains("1 indexed"), "{t}");
    assert_eq!(rows(&pg.url, "SELECT metadata#>>'{properties,dea:dataset_maturity}' FROM agdc.dataset WHERE archived IS NULL"), ["interim"]);

    tif(
        "final/global_daily/tifs/p05/2023/chirps-v2.0.2023.01.01.tif",
        2.0,
    );
    let interim = rows(&pg.url, "SELECT id::text FROM agdc.dataset");
    let report = lake.path().join("final-report.jsonl");
    let t = ok(etlake(
        &pg.url,
        &[
            "index",
            lake.path().join("final").to_str().unwrap(),
            "--archive-less-mature",
            "--report",
            report.to_str().unwrap(),
        ],
    ));
    assert!(t.contains("1 indexed") && t.contains("1 archived"), "{t}");
    // The archived dataset has a report row of its own.
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&report)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let archived: Vec<&serde_json::Value> = lines
        .iter()
        .filter(|l| l["outcome"] == "archived")
        .collect();
    assert_eq!(archived.len(), 1, "{lines:?}");
    assert_eq!(archived[0]["dataset"], interim[0].as_str(), "{lines:?}");
    assert_eq!(
        rows(&pg.url, "SELECT metadata#>>'{properties,dea:dataset_maturity}', (archived IS NULL)::text FROM agdc.dataset ORDER BY 1"),
        ["final | true", "interim | false"]
    );

    tif(
        "again/prelim/global_daily/tifs/p05/2023/chirps-v2.0.2023.01.01.tif",
        3.0,
    );
    let out = etlake(
        &pg.url,
        &[
            "index",
            lake.path().join("again").to_str().unwrap(),
            "--archive-less-mature",
        ],
    );
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(
        t.contains("1 failed") && t.contains("at least as mature"),
        "{t}"
    );
    let found = ok(python(&pg.url, "import datacube\ndc = datacube.Datacube(app='t')\nprint('mat', [d.metadata_doc['properties']['dea:dataset_maturity'] for d in dc.find_datasets(product='chirps_v2_daily_p05')])"));
    assert!(found.contains("mat ['final']"), "{found}");
}
