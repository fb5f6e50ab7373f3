//! `etlake veget run` end to end: a generated lake indexed by etlake, VegET run from the index, the
//! water balance closing on every land pixel, outputs indexed back and read by `dc.load` with the
//! values etlake wrote, and a run resumed from saved state equal to an uninterrupted one.
mod common;
use common::*;
use std::path::Path;

fn config(
    dir: &Path,
    name: &str,
    start: &str,
    end: &str,
    resume: Option<&Path>,
) -> std::path::PathBuf {
    let text = format!(
        r#"
period: {{start: {start}, end: {end}}}
area: {{bbox: [-105.4, 39.2, -104.8, 39.8]}}
grid: {{like: mod13q1_061}}
inputs:
  precipitation: {{product: chirps_v2_daily_p05, measurement: precip}}
  eto: {{product: gridmet_pet}}
  ndvi: {{product: mod13q1_061, measurement: ndvi, align: interpolate}}
  tmin: {{product: gridmet_tmmn}}
  tmax: {{product: gridmet_tmmx}}
  whc: {{product: soil_whc, measurement: whc}}
  field_capacity: {{product: soil_whc, measurement: field_capacity}}
  saturation: {{product: soil_whc, measurement: saturation}}
  interception: {{value: 10}}
  water: {{value: 0}}
output: {{dir: {name}-out, daily: true}}
{}
"#,
        resume
            .map(|p| format!("resume: {}", p.display()))
            .unwrap_or_default()
    );
    let p = dir.join(format!("{name}.yaml"));
    std::fs::write(&p, text).unwrap();
    p
}

fn read_nc(path: &Path, var: &str) -> Vec<f64> {
    let ds = gdal::Dataset::open(format!("NETCDF:\"{}\":{var}", path.display())).unwrap();
    let (w, h) = ds.raster_size();
    ds.rasterband(1)
        .unwrap()
        .read_as::<f64>((0, 0), (w, h), (w, h), None)
        .unwrap()
        .into_shape_and_vec()
        .1
}

#[test]
fn veget_runs_from_the_index_and_its_outputs_are_indexed_back() {
    let pg = cluster_with_products();
    let lake = tempdir();
    sample_lake::lake::write(lake.path(), 45).unwrap();
    ok(etlake(&pg.url, &["index", lake.path().to_str().unwrap()]));
    // Soil measurements come from the sibling files of the recognised `_whc.tif`.
    let soil = rows(
        &pg.url,
        "select d.metadata->'measurements'->'saturation'->>'path' from agdc.dataset d \
         join agdc.dataset_type p on p.id = d.dataset_type_ref where p.name = 'soil_whc'",
    );
    assert_eq!(soil, ["soil_frontrange_2020_sat.tif"]);
    let work = tempdir();
    let w = work.path();

    // The whole period in one run.
    let full = config(w, "full", "2019-10-01", "2019-11-14", None);
    // A grid that cannot fit the memory allowed is refused before anything is read.
    let tight = etlake(
        &pg.url,
        &[
            "veget",
            "run",
            "--max-memory",
            "0.01",
            full.to_str().unwrap(),
        ],
    );
    assert_ne!(tight.status.code(), Some(0), "{}", text(&tight));
    assert!(
        text(&tight).contains("more than the 0.0 MiB --max-memory")
            && text(&tight).contains("smaller area"),
        "{}",
        text(&tight)
    );
    let printed = ok(etlake(&pg.url, &["veget", "run", full.to_str().unwrap()]));
    eprintln!("{printed}");
    let balance = printed
        .lines()
        .find(|l| l.starts_with("water balance:"))
        .unwrap_or_else(|| panic!("no balance line: {printed}"));
    let checked: usize = balance.split_whitespace().nth(2).unwrap().parse().unwrap();
    assert!(checked > 50, "{balance}");
    assert!(balance.contains(" 0 failed"), "{balance}");
    assert!(
        printed.contains("2019-10 ") && printed.contains("2019-11 "),
        "monthly table: {printed}"
    );
    let counts = rows(
        &pg.url,
        "select p.name || '=' || count(*) from agdc.dataset d join agdc.dataset_type p on p.id = d.dataset_type_ref \
         where p.name like 'veget%' and d.archived is null group by p.name order by p.name",
    );
    assert_eq!(
        counts,
        ["veget_annual=1", "veget_daily=45", "veget_monthly=2"]
    );
    let eta_png = w.join("full-out/eta_20191001_20191114.png");
    let png = gdal::Dataset::open(&eta_png).unwrap();
    assert_eq!(png.driver().short_name(), "PNG");
    assert!(png.raster_size().0 >= 300, "{:?}", png.raster_size());

    // Re-running indexes nothing new.
    let again = ok(etlake(&pg.url, &["veget", "run", full.to_str().unwrap()]));
    let line = again
        .lines()
        .find(|l| l.starts_with("outputs indexed:"))
        .unwrap();
    assert!(line.contains("48 unchanged"), "{line}");
    assert!(
        !line.contains(" indexed,") && !line.contains(" indexed in"),
        "{line}"
    );

    // Python reads the annual ETa etlake wrote.
    let annual = w.join("full-out/annual/veget_annual_2019.nc");
    let ours = read_nc(&annual, "etasw");
    let script = r#"
import json, numpy as np, datacube
from affine import Affine
from odc.geo.geobox import GeoBox
dc = datacube.Datacube()
ds = dc.find_datasets(product="veget_annual")[0]
g = ds.metadata_doc["grids"]["default"]
gb = GeoBox(tuple(g["shape"]), Affine(*g["transform"][:6]), ds.crs)
v = dc.load(product="veget_annual", measurements=["etasw"], like=gb).etasw.values[0]
print(json.dumps([None if np.isnan(x) else float(x) for x in v.ravel()]))
"#;
    let out = ok(python(&pg.url, script));
    let py: Vec<Option<f64>> = serde_json::from_str(out.lines().last().unwrap()).unwrap();
    assert_eq!(py.len(), ours.len());
    assert!(ours.iter().filter(|v| v.is_finite()).count() > 50);
    for (i, (p, o)) in py.iter().zip(&ours).enumerate() {
        match p {
            Some(p) => assert_eq!(*p as f32, *o as f32, "pixel {i}"),
            None => assert!(o.is_nan(), "pixel {i}: {o} vs nodata"),
        }
    }

    // Resume: two halves chained through the saved state end where the whole run ends.
    let first = config(w, "first", "2019-10-01", "2019-10-20", None);
    ok(etlake(
        &pg.url,
        &["veget", "run", "--no-index", first.to_str().unwrap()],
    ));
    let state = w.join("first-out/state/veget_state_20191020.nc");
    let second = config(w, "second", "2019-10-21", "2019-11-14", Some(&state));
    ok(etlake(
        &pg.url,
        &["veget", "run", "--no-index", second.to_str().unwrap()],
    ));
    for var in ["swf", "snwpk"] {
        let a = read_nc(&w.join("full-out/state/veget_state_20191114.nc"), var);
        let b = read_nc(&w.join("second-out/state/veget_state_20191114.nc"), var);
        assert_eq!(a.len(), b.len());
        let differ = a
            .iter()
            .zip(&b)
            .filter(|(x, y)| !(x == y || x.is_nan() && y.is_nan()))
            .count();
        assert_eq!(differ, 0, "{var}: resumed run differs on {differ} pixels");
    }

    // The product's scale_factor (NDVI) and kelvin to °C apply by themselves: a config converting
    // again is refused, saying what to remove.
    let twice = config(w, "twice", "2019-10-01", "2019-10-03", None);
    let text_of = std::fs::read_to_string(&twice).unwrap();
    std::fs::write(
        &twice,
        text_of.replace(
            "tmin: {product: gridmet_tmmn}",
            "tmin: {product: gridmet_tmmn, offset: -273.15}",
        ),
    )
    .unwrap();
    let o = etlake(&pg.url, &["veget", "run", twice.to_str().unwrap()]);
    assert!(!o.status.success());
    let t = text(&o);
    assert!(
        t.contains("inputs.tmin: product gridmet_tmmn measurement tmmn is in K")
            && t.contains("Remove `offset: -273.15` from inputs.tmin"),
        "{t}"
    );
    // Stated units make the config's own conversion the only one: the same run. gridMET is stored
    // packed (×0.1 + 220 K), so the config's map is ×0.1 + (220 − 273.15), written as the double
    // etlake's own composition gives.
    let stated = config(w, "stated", "2019-10-01", "2019-10-03", None);
    let short = config(w, "short", "2019-10-01", "2019-10-03", None);
    let text_of = std::fs::read_to_string(&stated).unwrap();
    assert_eq!(format!("{}", 220.0 - 273.15), "-53.14999999999998");
    std::fs::write(
        &stated,
        text_of.replace(
            "tmin: {product: gridmet_tmmn}",
            "tmin: {product: gridmet_tmmn, scale: 0.1, offset: -53.14999999999998, units: degC}",
        ),
    )
    .unwrap();
    for c in [&stated, &short] {
        ok(etlake(
            &pg.url,
            &["veget", "run", "--no-index", c.to_str().unwrap()],
        ));
    }
    let a = read_nc(&w.join("stated-out/state/veget_state_20191003.nc"), "swf");
    let b = read_nc(&w.join("short-out/state/veget_state_20191003.nc"), "swf");
    assert!(a.iter().filter(|v| v.is_finite()).count() > 50);
    assert!(
        a.iter()
            .zip(&b)
            .all(|(x, y)| x == y || x.is_nan() && y.is_nan()),
        "a config stating °C after its own offset runs as etlake's conversion does"
    );

    // A missing input day is an error naming the product and the date, with a failing exit code.
    let early = config(w, "early", "2019-09-20", "2019-09-25", None);
    let o = etlake(&pg.url, &["veget", "run", early.to_str().unwrap()]);
    assert!(!o.status.success());
    let t = text(&o);
    assert!(
        t.contains("chirps_v2_daily_p05") && t.contains("2019-09-20"),
        "{t}"
    );
}

/// A soil product delivered with `whc` and `field_capacity` only (an eo3 document without
/// `saturation`): VegET takes the missing measurement from the config's `default`, and without one
/// fails naming the dataset, product and measurement.
#[test]
fn missing_soil_measurements_come_from_config_defaults() {
    let pg = cluster_with_products();
    let lake = tempdir();
    sample_lake::lake::write(lake.path(), 3).unwrap();
    let work = tempdir();
    let w = work.path();
    let soil = w.join("my-soil");
    std::fs::create_dir_all(&soil).unwrap();
    for (from, to) in [("whc", "my_whc"), ("fc", "my_fc")] {
        std::fs::rename(
            lake.path()
                .join(format!("soil/soil_frontrange_2020_{from}.tif")),
            soil.join(format!("{to}.tif")),
        )
        .unwrap();
    }
    std::fs::remove_dir_all(lake.path().join("soil")).unwrap();
    let id = "5b0c5a3e-2f0e-4d35-9a53-0b6f7a1c9e11";
    let doc = soil.join("my_soil.odc-metadata.yaml");
    std::fs::write(
        &doc,
        format!(
            r#"$schema: https://schemas.opendatacube.org/dataset
id: {id}
label: my_soil_2020
product: {{name: soil_whc}}
crs: EPSG:32613
geometry:
  type: Polygon
  coordinates: [[[410000.0, 4440000.0], [560000.0, 4440000.0], [560000.0, 4290000.0], [410000.0, 4290000.0], [410000.0, 4440000.0]]]
grids:
  default:
    shape: [300, 300]
    transform: [500.0, 0.0, 410000.0, 0.0, -500.0, 4440000.0, 0.0, 0.0, 1.0]
properties:
  datetime: 2020-01-01T00:00:00Z
  odc:file_format: GeoTIFF
measurements:
  whc: {{path: my_whc.tif}}
  field_capacity: {{path: my_fc.tif}}
lineage: {{}}
"#
        ),
    )
    .unwrap();
    ok(etlake(&pg.url, &["index", lake.path().to_str().unwrap()]));
    // etlake's indexer and `datacube dataset add` both refuse a document without every measurement
    // of its product (until a recognition spec says which are optional): datacube's index API adds
    // it as it is, as an indexer that allows optional measurements would.
    let added = ok(python(
        &pg.url,
        &format!(
            r#"
import datacube, yaml
from datacube.index.eo3 import prep_eo3
from datacube.model import Dataset
dc = datacube.Datacube()
doc = yaml.safe_load(open({path:?}))
ds = Dataset(dc.index.products.get_by_name("soil_whc"), prep_eo3(doc), uri="file://{path}")
dc.index.datasets.add(ds, with_lineage=False)
print("added", ds.id)
"#,
            path = doc.display()
        ),
    ));
    let stored = rows(
        &pg.url,
        &format!("select (metadata->'measurements'->>'saturation' is null)::text from agdc.dataset where id = '{id}'"),
    );
    assert_eq!(stored, ["true"], "{added}");
    let run = |name: &str, saturation: &str| {
        let p = config(w, name, "2019-10-01", "2019-10-03", None);
        let t = std::fs::read_to_string(&p).unwrap().replace(
            "saturation: {product: soil_whc, measurement: saturation}",
            saturation,
        );
        std::fs::write(&p, t).unwrap();
        etlake(
            &pg.url,
            &["veget", "run", "--no-index", p.to_str().unwrap()],
        )
    };
    let o = run(
        "none",
        "saturation: {product: soil_whc, measurement: saturation}",
    );
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(
        t.contains(&format!(
            "inputs.saturation: dataset {id} of product soil_whc has no measurement \"saturation\""
        )) && t.contains("`default: VALUE` (in mm) in inputs.saturation"),
        "{t}"
    );
    let o = run(
        "default",
        "saturation: {product: soil_whc, measurement: saturation, default: 450}",
    );
    assert!(o.status.success(), "{}", text(&o));
    ok(run("value", "saturation: {value: 450}"));
    let a = read_nc(&w.join("default-out/state/veget_state_20191003.nc"), "swf");
    let b = read_nc(&w.join("value-out/state/veget_state_20191003.nc"), "swf");
    assert!(a.iter().filter(|v| v.is_finite()).count() > 50);
    assert!(
        a.iter()
            .zip(&b)
            .all(|(x, y)| x == y || x.is_nan() && y.is_nan()),
        "the default stands where the dataset lacks the measurement"
    );
}
