//! `etlake index` over a local lake of generated files (CHIRPS GeoTIFF and .tif.gz, a gridMET yearly
//! NetCDF): each recognised file becomes datasets exactly once, bad files are reported and skipped
//! files counted, and ODC Python loads the same pixels that were written.
mod common;
use common::*;
use sample_lake::gridmet;

#[test]
fn local_lake_is_indexed_once_and_python_loads_it() {
    let pg = cluster_with_products();

    let lake = tempdir();
    let l = lake.path();
    let daily = l.join("chirps/global_daily/tifs/p05/2023");
    let (size, gt) = CHIRPS_GRID;
    write_geotiff::<f32>(
        &daily.join("chirps-v2.0.2023.01.01.tif"),
        size,
        gt,
        -9999.0,
        &[&|r, c| (r * 40 + c) as f32],
    );
    write_geotiff::<f32>(
        &daily.join("chirps-v2.0.2023.01.02.tif"),
        size,
        gt,
        -9999.0,
        &[&|r, c| (r * 40 + c) as f32 + 0.5],
    );
    let gz = std::process::Command::new("gzip")
        .arg(daily.join("chirps-v2.0.2023.01.02.tif"))
        .status()
        .unwrap();
    assert!(gz.success());
    write_geotiff::<i16>(
        &daily.join("chirps-v2.0.2023.01.03.tif"),
        size,
        gt,
        -9999.0,
        &[&|_, _| 1],
    );
    std::fs::write(daily.join("chirps-v2.0.2023.01.04.tif"), b"II*\0 truncated").unwrap();
    std::fs::write(l.join("README.txt"), "not data").unwrap();
    std::fs::create_dir_all(l.join("gridmet")).unwrap();
    let grid = gridmet::LatLonGrid {
        north: 41.0,
        west: -105.0,
        res: 1.0 / 24.0,
        ny: 24,
        nx: 48,
    };
    // Packed as gridMET publishes (uint16): stored values d·1000 + r·100 + c.
    gridmet::yearly_file(
        &l.join("gridmet/pr_2020.nc"),
        &gridmet::PR,
        2020,
        3,
        grid,
        |d, r, c| (d * 1000 + r * 100 + c) as u16,
    )
    .unwrap();
    // A NetCDF missing the variable its product reads.
    let not_pet = gridmet::Variable {
        name: "not_pet",
        ..gridmet::PET
    };
    gridmet::yearly_file(
        &l.join("gridmet/pet_2020.nc"),
        &not_pet,
        2020,
        1,
        grid,
        |_, _, _| 1,
    )
    .unwrap();

    // A dry run reports exactly what a run would do and writes nothing, not even a run record.
    let elsewhere = tempdir();
    let report = elsewhere.path().join("dry-run.jsonl");
    let out = etlake(
        &pg.url,
        &[
            "index",
            l.to_str().unwrap(),
            "--dry-run",
            "--report",
            report.to_str().unwrap(),
        ],
    );
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(
        t.contains("dry run (nothing written): ")
            && t.contains("5 indexed")
            && t.contains("3 failed"),
        "{t}"
    );
    assert_eq!(
        rows(
            &pg.url,
            "SELECT ((SELECT count(*) FROM agdc.dataset) + (SELECT count(*) FROM etlake.index_run))::text"
        ),
        ["0"]
    );
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&report)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 9, "{lines:?}");
    let dtype = lines
        .iter()
        .find(|l| l["uri"].as_str().unwrap().ends_with("2023.01.03.tif"))
        .unwrap();
    assert_eq!(
        (dtype["outcome"].as_str(), dtype["stage"].as_str()),
        (Some("failed"), Some("extract"))
    );
    assert!(lines
        .iter()
        .any(|l| l["outcome"] == "skipped" && l["uri"].as_str().unwrap().ends_with("README.txt")));
    assert_eq!(
        lines
            .iter()
            .filter(|l| l["outcome"] == "indexed"
                && l["stage"] == "write"
                && l["dataset"].is_string())
            .count(),
        5
    );

    let out = etlake(&pg.url, &["index", l.to_str().unwrap()]);
    let t = text(&out);
    assert_eq!(
        out.status.code(),
        Some(1),
        "failures must make the exit code 1:\n{t}"
    );
    assert!(
        t.contains("5 indexed") && t.contains("3 failed") && t.contains("1 skipped"),
        "{t}"
    );
    assert!(
        t.contains("chirps-v2.0.2023.01.03.tif")
            && t.contains(
                "precip: the file stores int16 scale 1 offset 0 nodata -9999, product chirps_v2_daily_p05 says float32"
            ),
        "{t}"
    );
    assert!(
        t.contains("chirps-v2.0.2023.01.04.tif") && t.contains("GDAL"),
        "{t}"
    );
    assert!(
        t.contains("pet_2020.nc")
            && t.contains("pet: the file has no variable potential_evapotranspiration (it has: ")
            && t.contains("not_pet"),
        "{t}"
    );

    // Exactly once: a second run adds nothing.
    let t = text(&etlake(&pg.url, &["index", l.to_str().unwrap()]));
    assert!(t.contains("5 unchanged") && !t.contains("indexed"), "{t}");
    assert_eq!(
        rows(&pg.url, "SELECT count(*)::text FROM agdc.dataset"),
        ["5"]
    );
    assert_eq!(
        rows(&pg.url, "SELECT p.name, count(*)::text FROM agdc.dataset d JOIN agdc.dataset_type p ON p.id = d.dataset_type_ref GROUP BY 1 ORDER BY 1"),
        ["chirps_v2_daily_p05 | 2", "gridmet_pr | 3"]
    );
    assert_eq!(
        rows(&pg.url, "SELECT metadata#>>'{properties,dtr:start_datetime}', metadata#>>'{measurements,pr,band}' FROM agdc.dataset WHERE metadata#>>'{product,name}' = 'gridmet_pr' ORDER BY 1"),
        ["2020-01-01T00:00:00Z | 1", "2020-01-02T00:00:00Z | 2", "2020-01-03T00:00:00Z | 3"]
    );

    // Every dataset has a STAC 1.1 item, written in the same transaction, valid against the STAC item
    // schema (checked offline with the schemas pystac ships) and carrying the extension fields.
    assert_eq!(rows(&pg.url, "SELECT count(*)::text FROM etlake.stac_item s JOIN agdc.dataset d ON d.id = s.dataset_ref"), ["5"]);
    let out = validate_stac_items(&pg.url, "assert p['proj:code'] == 'EPSG:4326', p");
    assert!(out.contains("stac valid 5"), "{out}");

    // A changed object: the same file rewritten on another grid. Raw files that changed are updated
    // under datacube's safe rules: this change is unsafe, so it is reported, not silently rewritten;
    // --allow-unsafe applies it (and its STAC item).
    let moved = daily.join("chirps-v2.0.2023.01.01.tif");
    let shifted = [-104.0, 0.05, 0.0, 41.0, 0.0, -0.05];
    write_geotiff::<f32>(
        &moved,
        size,
        shifted,
        -9999.0,
        &[&|r, c| (r * 40 + c) as f32],
    );
    let one = moved.to_str().unwrap();
    let out = etlake(&pg.url, &["index", one]);
    let t = text(&out);
    assert!(
        out.status.success()
            && t.contains("1 exists-different")
            && t.contains("unsafe changes")
            && t.contains("extent.lon.begin"),
        "{t}"
    );
    let t = ok(etlake(&pg.url, &["index", one, "--allow-unsafe"]));
    assert!(t.contains("1 updated"), "{t}");
    assert_eq!(
        rows(&pg.url, "SELECT d.metadata#>>'{extent,lon,begin}', s.item#>>'{bbox,0}', (d.updated IS NOT NULL)::text \
                       FROM agdc.dataset d JOIN etlake.stac_item s ON s.dataset_ref = d.id WHERE d.metadata->>'label' LIKE '%20230101'"),
        ["-104.0 | -104.0 | true"]
    );
    write_geotiff::<f32>(&moved, size, gt, -9999.0, &[&|r, c| (r * 40 + c) as f32]);
    ok(etlake(
        &pg.url,
        &["index", one, "--update-if-exists", "--allow-unsafe"],
    ));

    let code = r#"
import datacube, numpy as np
dc = datacube.Datacube(app='etlake-test')
c = dc.load(product='chirps_v2_daily_p05', time=('2023-01-01', '2023-01-02'), latitude=(40.5, 40.9), longitude=(-104.9, -104.1))
p = c.precip
rows_ = np.floor((41.0 - p.latitude.values) / 0.05 + 1e-9).astype(int)
cols_ = np.floor((p.longitude.values + 105.0) / 0.05 + 1e-9).astype(int)
exp = (rows_[:, None] * 40 + cols_[None, :]).astype('float32')
print('chirps', p.sizes['time'], bool((p.isel(time=0).values == exp).all()), bool((p.isel(time=1).values == exp + 0.5).all()))
g = dc.load(product='gridmet_pr', time=('2020-01-02', '2020-01-02'), latitude=(40.3, 40.9), longitude=(-104.9, -104.0),
            output_crs='EPSG:4326', resolution=(-1/24, 1/24))
v = g.pr.isel(time=0)
rows_ = np.floor((41.0 - v.latitude.values) * 24 + 1e-9).astype(int)
cols_ = np.floor((v.longitude.values + 105.0) * 24 + 1e-9).astype(int)
exp = (1000 + rows_[:, None] * 100 + cols_[None, :]).astype('uint16')
print('gridmet', g.sizes['time'], v.dtype, bool((v.values == exp).all()))
"#;
    let out = ok(python(&pg.url, code));
    assert!(out.contains("chirps 2 True True"), "{out}");
    assert!(out.contains("gridmet 1 uint16 True"), "{out}");
}
