//! `etlake search` returns exactly the datasets `dc.find_datasets` returns for the same product, time
//! and lon/lat query (archived excluded, touching footprints excluded), and the query is served by
//! datacube's per-product indexes, not by a scan of agdc.dataset.
mod common;
use common::*;

/// A query: optional (start, end) dates and optional W,S,E,N box.
type Q = (Option<(&'static str, &'static str)>, Option<[f64; 4]>);

#[test]
fn search_equals_find_datasets() {
    let pg = cluster_with_products();
    let lake = tempdir();
    // Three places (B touches A's east edge at -103°) × three days.
    write_chirps_places(lake.path(), 3);
    assert!(ok(etlake(&pg.url, &["index", lake.path().to_str().unwrap()])).contains("9 indexed"));
    // One archived dataset must disappear from both.
    let archived = rows(
        &pg.url,
        "SELECT id::text FROM agdc.dataset WHERE metadata->>'label' = 'chirps_v2_daily_p05_20230103' AND metadata#>>'{extent,lon,begin}' = '10.0'",
    );
    assert!(ok(etlake(&pg.url, &["dataset", "archive", &archived[0]])).contains("Archived 1 of 1"));

    // Another dataset gets a newer location and an archived one: locations come newest first, archived
    // ones left out, as datacube lists them.
    let mut c = connect(&pg.url);
    c.batch_execute(
        "WITH d AS (SELECT id FROM agdc.dataset WHERE metadata->>'label' = 'chirps_v2_daily_p05_20230102' \
                    AND metadata#>>'{extent,lon,begin}' = '-105.0') \
         INSERT INTO agdc.dataset_location (dataset_ref, uri_scheme, uri_body, added, archived) \
         SELECT id, 's3', '//mirror/newer.tif', now() + interval '1 hour', NULL FROM d UNION ALL \
         SELECT id, 's3', '//mirror/archived.tif', now() + interval '2 hours', now() FROM d",
    )
    .unwrap();

    let queries: [Q; 8] = [
        (None, None),
        (Some(("2023-01-02", "2023-01-02")), None),
        (None, Some([-104.0, 40.2, -103.5, 40.8])),
        (None, Some([-103.5, 40.2, -102.5, 40.8])),
        (None, Some([-103.0, 40.2, -102.5, 40.8])),
        (None, Some([-101.0, 40.0, -100.0, 41.0])),
        (
            Some(("2023-01-01", "2023-01-02")),
            Some([-104.0, 40.0, -102.0, 41.0]),
        ),
        (
            Some(("2023-01-03", "2023-01-03")),
            Some([9.0, -6.0, 13.0, -3.0]),
        ),
    ];
    let mut py = String::from("import datacube\ndc = datacube.Datacube(app='etlake-test')\n");
    for (i, (time, bbox)) in queries.iter().enumerate() {
        let mut args = String::from("product='chirps_v2_daily_p05'");
        if let Some((a, b)) = time {
            args.push_str(&format!(", time=('{a}', '{b}')"));
        }
        if let Some([w, s, e, n]) = bbox {
            args.push_str(&format!(", lon=({w}, {e}), lat=({s}, {n})"));
        }
        py.push_str(&format!(
            "print('Q{i}', ','.join(sorted(str(d.id) for d in dc.find_datasets({args}))))\n"
        ));
    }
    py.push_str(
        "for d in dc.find_datasets(product='chirps_v2_daily_p05'):\n    print('U', d.id, '|'.join(d.uris))\n",
    );
    let python_out = ok(python(&pg.url, &py));
    let mut nonempty = 0;
    let mut mirrored = 0;
    for (i, (time, bbox)) in queries.iter().enumerate() {
        let mut args = vec![
            "search".to_string(),
            "--product".into(),
            "chirps_v2_daily_p05".into(),
            "--format".into(),
            "json".into(),
        ];
        if let Some((a, b)) = time {
            args.push("--time".into());
            args.push(format!("{a}/{b}"));
        }
        if let Some([w, s, e, n]) = bbox {
            args.push("--bbox".into());
            args.push(format!("{w},{s},{e},{n}"));
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let found: Vec<serde_json::Value> =
            serde_json::from_str(&ok(etlake(&pg.url, &args))).unwrap();
        let mut ids: Vec<String> = found
            .iter()
            .map(|f| f["id"].as_str().unwrap().to_string())
            .collect();
        ids.sort();
        let expected = python_out
            .lines()
            .find_map(|l| {
                l.strip_prefix(&format!("Q{i} "))
                    .or_else(|| (l == format!("Q{i}")).then_some(""))
            })
            .unwrap_or_else(|| panic!("no Python answer for Q{i}:\n{python_out}"));
        assert_eq!(ids.join(","), expected, "query {i} {time:?} {bbox:?}");
        for f in &found {
            let uris: Vec<&str> = f["uris"]
                .as_array()
                .unwrap()
                .iter()
                .map(|u| u.as_str().unwrap())
                .collect();
            let line = format!("U {} {}", f["id"].as_str().unwrap(), uris.join("|"));
            assert!(
                python_out.lines().any(|l| l == line),
                "{line} not in:\n{python_out}"
            );
            assert_eq!(uris.len(), 1 + usize::from(uris[0].ends_with("newer.tif")));
            mirrored += usize::from(uris.len() == 2);
        }
        nonempty += usize::from(!ids.is_empty());
    }
    assert!(nonempty >= 5, "the queries should exercise real matches");
    assert!(
        mirrored > 0,
        "the dataset with two locations should be found"
    );
    // Restored, it is found again; an unknown id is an error.
    assert!(ok(etlake(&pg.url, &["dataset", "restore", &archived[0]])).contains("Restored 1 of 1"));
    let again = ok(etlake(
        &pg.url,
        &[
            "search",
            "--product",
            "chirps_v2_daily_p05",
            "--time",
            "2023-01-03",
            "--bbox",
            "9,-6,13,-3",
            "--format",
            "csv",
        ],
    ));
    assert!(again.contains(&archived[0]), "{again}");
    let out = etlake(
        &pg.url,
        &["dataset", "archive", "00000000-0000-0000-0000-000000000001"],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("not in the index"));
}

#[test]
fn product_time_box_queries_use_the_dix_indexes() {
    let pg = cluster_with_products();
    // 200,000 synthetic daily datasets over a 100 × 100 grid of 0.1° cells, with documents shaped like
    // etlake's (extent, datetime range); enough rows that a scan would be the planner's worst choice.
    let sql = "INSERT INTO agdc.dataset (id, metadata_type_ref, dataset_type_ref, metadata) \
        SELECT md5(g::text)::uuid, p.metadata_type_ref, p.id, jsonb_build_object( \
          'extent', jsonb_build_object('lon', jsonb_build_object('begin', -110 + (g % 100) * 0.1, 'end', -110 + (g % 100) * 0.1 + 0.1), \
                                       'lat', jsonb_build_object('begin', 30 + ((g / 100) % 100) * 0.1, 'end', 30 + ((g / 100) % 100) * 0.1 + 0.1)), \
          'grid_spatial', jsonb_build_object('projection', jsonb_build_object('spatial_reference', 'EPSG:4326')), \
          'properties', jsonb_build_object('datetime', to_char(date '2000-01-01' + (g / 10000), 'YYYY-MM-DD') || 'T00:00:00Z', \
                                           'dtr:start_datetime', to_char(date '2000-01-01' + (g / 10000), 'YYYY-MM-DD') || 'T00:00:00Z', \
                                           'dtr:end_datetime', to_char(date '2000-01-01' + (g / 10000), 'YYYY-MM-DD') || 'T23:59:59.999999Z')) \
        FROM generate_series(1, 200000) g, agdc.dataset_type p WHERE p.name = 'chirps_v2_daily_p05'";
    let mut c = connect(&pg.url);
    c.batch_execute(sql).unwrap();
    c.batch_execute("ANALYZE agdc.dataset").unwrap();
    // The plan made for these values, and the generic plan Postgres caches after a few executions of
    // the same statement (bound values unknown): both must use the product's dix_ index.
    let plan = ok(etlake(
        &pg.url,
        &[
            "search",
            "--product",
            "chirps_v2_daily_p05",
            "--time",
            "2000-01-05/2000-01-06",
            "--bbox",
            "-105.05,34.95,-104.85,35.15",
            "--explain",
        ],
    ));
    let (custom, generic) = plan.split_once("generic plan").expect("both plans printed");
    for (which, plan) in [("custom", custom), ("generic", generic)] {
        assert!(
            plan.contains("dix_chirps_v2_daily_p05_"),
            "the {which} plan should use a dix_ index:\n{plan}"
        );
        assert!(
            !plan.contains("Seq Scan on dataset"),
            "no sequential scan of agdc.dataset in the {which} plan:\n{plan}"
        );
    }
    let found: Vec<serde_json::Value> = serde_json::from_str(&ok(etlake(
        &pg.url,
        &[
            "search",
            "--product",
            "chirps_v2_daily_p05",
            "--time",
            "2000-01-05/2000-01-06",
            "--bbox",
            "-105.05,34.95,-104.85,35.15",
            "--format",
            "json",
        ],
    )))
    .unwrap();
    // 3 × 3 cells (strict overlap) × 2 days.
    assert_eq!(found.len(), 18, "{found:?}");
}
