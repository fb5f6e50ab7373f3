//! MODIS HDF-EOS2 tiles (genuine grid files written with the HDF-EOS library) are indexed from a
//! folder and from S3 (staged locally): sinusoidal PROJ CRS, the tile's grid, one `layer` per SDS,
//! region code, and a footprint Python's search finds. Pixels are compared through GDAL with the exact
//! `HDF4_EOS:EOS_GRID:"<path>":<layer>` string datacube's reader builds.
mod common;
use common::*;
use sample_lake::hdfeos::{modis_tile_upper_left, GridWriter, MODIS_TILE_SIZE};
use std::path::Path;

const GRID: &str = "MODIS_Grid_16DAY_250m_500m_VI";
const N: usize = 48;

/// A MOD13Q1-shaped tile at coarse resolution: every SDS of the product with its real name and type,
/// NDVI packed with `scale_factor` `ndvi_scale` (MODIS land's divide convention: 10000 = ×0.0001).
fn write_mod13q1(path: &Path, h: u32, v: u32, ndvi_scale: f64) {
    let mut w = GridWriter::modis_tile(path, GRID, h, v, N, N).unwrap();
    w.packing("250m 16 days NDVI", ndvi_scale, 0.0);
    let ndvi: Vec<i16> = (0..N * N).map(|i| (i % 10000) as i16).collect();
    w.field("250m 16 days NDVI", -3000i16, &ndvi).unwrap();
    w.field("250m 16 days EVI", -3000i16, &vec![1500i16; N * N])
        .unwrap();
    w.field("250m 16 days VI Quality", 65535u16, &vec![2116u16; N * N])
        .unwrap();
    w.field("250m 16 days pixel reliability", -1i8, &vec![0i8; N * N])
        .unwrap();
    w.field(
        "250m 16 days composite day of the year",
        -1i16,
        &vec![165i16; N * N],
    )
    .unwrap();
    for sds in [
        "250m 16 days red reflectance",
        "250m 16 days NIR reflectance",
        "250m 16 days blue reflectance",
        "250m 16 days MIR reflectance",
    ] {
        w.field(sds, -1000i16, &vec![800i16; N * N]).unwrap();
    }
    for (sds, fill) in [
        ("250m 16 days view zenith angle", -10000i16),
        ("250m 16 days sun zenith angle", -10000),
        ("250m 16 days relative azimuth angle", -4000),
    ] {
        w.field(sds, fill, &vec![1500i16; N * N]).unwrap();
    }
    w.finish().unwrap();
}

#[test]
fn modis_tiles_are_indexed_from_disk_and_s3() {
    let pg = cluster_with_products();
    let lake = tempdir();
    let l = lake.path();
    let good = l.join("MOD13Q1.A2023161.h09v05.061.2023177233537.hdf");
    write_mod13q1(&good, 9, 5, 10000.0);
    std::fs::write(l.join("MOD13Q1.A2023177.h09v05.061.2023193000000.hdf"), b"").unwrap();
    // Packed ten times coarser than the product says: refused in the product's terms.
    write_mod13q1(
        &l.join("MOD13Q1.A2023193.h09v05.061.2023209000000.hdf"),
        9,
        5,
        1000.0,
    );

    // GDAL sees a genuine HDF-EOS grid.
    let info = std::process::Command::new("gdalinfo")
        .arg(&good)
        .output()
        .unwrap();
    let info = text(&info);
    assert!(
        info.contains(&format!(
            "HDF4_EOS:EOS_GRID:\"{}\":{GRID}:\"250m 16 days NDVI\"",
            good.display()
        )),
        "{info}"
    );

    let out = etlake(&pg.url, &["index", l.to_str().unwrap()]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(
        t.contains("1 indexed") && t.contains("2 failed") && t.contains("MOD13Q1.A2023177"),
        "{t}"
    );
    // GDAL 3.6 reports the SDS scale_factor as written (10000 and 1000); read as divisors, the first
    // is the product's 0.0001 and the second is not.
    assert!(
        t.contains("MOD13Q1.A2023193.h09v05.061.2023209000000.hdf: GDAL: ndvi: the file stores int16 scale 0.001 offset 0 nodata -3000, product mod13q1_061 says int16 scale 0.0001 offset 0 nodata -3000"),
        "{t}"
    );

    let doc = rows(&pg.url, "SELECT metadata::text FROM agdc.dataset");
    let doc: serde_json::Value = serde_json::from_str(&doc[0]).unwrap();
    assert_eq!(
        doc["crs"],
        "+proj=sinu +lon_0=0 +x_0=0 +y_0=0 +R=6371007.181 +units=m +no_defs"
    );
    assert_eq!(doc["properties"]["odc:region_code"], "h09v05");
    assert_eq!(doc["properties"]["odc:file_format"], "HDF4_EOS:EOS_GRID");
    assert_eq!(
        doc["properties"]["dtr:start_datetime"],
        "2023-06-10T00:00:00Z"
    );
    assert_eq!(
        doc["properties"]["dtr:end_datetime"],
        "2023-06-25T23:59:59.999999Z"
    );
    assert_eq!(
        doc["properties"]["odc:processing_datetime"],
        "2023-06-26T23:35:37Z"
    );
    assert_eq!(
        doc["measurements"]["ndvi"]["layer"],
        format!("{GRID}:\"250m 16 days NDVI\"")
    );
    let (x0, y0) = modis_tile_upper_left(9, 5);
    let t = doc["grids"]["default"]["transform"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect::<Vec<_>>();
    let px = MODIS_TILE_SIZE / N as f64;
    for (got, want) in t.iter().zip([px, 0.0, x0, 0.0, -px, y0]) {
        assert!((got - want).abs() < 1e-6, "transform {t:?}");
    }
    // Tile v05 spans 30°N–40°N.
    let lat = &doc["extent"]["lat"];
    assert!(
        (lat["begin"].as_f64().unwrap() - 30.0).abs() < 1e-6
            && (lat["end"].as_f64().unwrap() - 40.0).abs() < 1e-6,
        "{lat}"
    );

    // The path datacube's reader builds from format + location + layer opens and holds the pixels.
    let path = format!(
        "HDF4_EOS:EOS_GRID:\"{}\":{}",
        good.display(),
        doc["measurements"]["ndvi"]["layer"].as_str().unwrap()
    );
    let ds = gdal::Dataset::open(&path).unwrap();
    let band = ds.rasterband(1).unwrap();
    let buf = band.read_as::<i16>((0, 0), (N, N), (N, N), None).unwrap();
    let expected: Vec<i16> = (0..N * N).map(|i| (i % 10000) as i16).collect();
    assert_eq!(buf.data(), expected.as_slice());
    assert_eq!(band.no_data_value(), Some(-3000.0));
    assert_eq!((band.scale(), band.offset()), (Some(10000.0), Some(0.0)));

    // ODC Python finds it by place and time.
    let code = "import datacube\ndc = datacube.Datacube(app='etlake-test')\n\
        print('hit', len(dc.find_datasets(product='mod13q1_061', time=('2023-06-15', '2023-06-16'), lat=(34, 35), lon=(-100, -99))))\n\
        print('miss', len(dc.find_datasets(product='mod13q1_061', time=('2023-06-15', '2023-06-16'), lat=(44, 45), lon=(-100, -99))))\n";
    let out = ok(python(&pg.url, code));
    assert!(out.contains("hit 1") && out.contains("miss 0"), "{out}");

    let out = validate_stac_items(
        &pg.url,
        "assert p['proj:code'] is None and p['odc:region_code'] == 'h09v05', p",
    );
    assert!(out.contains("stac valid 1"), "{out}");

    // From S3: staged locally for GDAL, removed afterwards, indexed under its s3:// location.
    let s3 = S3Server::start(false);
    s3.upload(
        "modis",
        &[(
            "MOD13Q1.061/MOD13Q1.A2023161.h09v05.061.2023177233537.hdf".into(),
            good.clone(),
        )],
    );
    let creds = [
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("AWS_REGION", "us-east-1"),
    ];
    let t = ok(etlake_with(
        &pg.url,
        &creds,
        &[
            "index",
            "s3://modis/MOD13Q1.061/",
            "--endpoint-url",
            &s3.endpoint,
        ],
    ));
    assert!(t.contains("1 indexed"), "{t}");
    assert_eq!(
        rows(&pg.url, "SELECT uri_scheme || ':' || uri_body FROM agdc.dataset_location WHERE uri_scheme = 's3'"),
        ["s3://modis/MOD13Q1.061/MOD13Q1.A2023161.h09v05.061.2023177233537.hdf"]
    );
}
