//! The product-defs folder is consistent: every recognition spec loads, names a product that exists,
//! and maps exactly that product's measurements; every product passes etlake's validation.
mod common;
use common::*;

#[test]
fn recognition_specs_match_their_products() {
    let defs = workspace().join("product-defs");
    let recogniser = indexer::Recogniser::load_dir(&defs.join("recognition")).unwrap();
    let mut products = std::collections::BTreeMap::new();
    for f in product_defs() {
        let doc = catalog_schema::document::read_documents(&f)
            .unwrap()
            .remove(0);
        catalog_schema::product::validate(&doc.object, &doc.value).unwrap();
        let name = doc.value["name"].as_str().unwrap().to_string();
        assert_eq!(
            f.file_name().unwrap().to_str().unwrap(),
            format!("{name}.odc-product.yaml"),
            "file name must follow the product name"
        );
        products.insert(name, catalog_schema::product::measurement_names(&doc.value));
    }
    let mut n = 0;
    for spec in recogniser.specs() {
        n += 1;
        let measurements = products
            .get(&spec.product)
            .unwrap_or_else(|| panic!("recognition for unknown product {}", spec.product));
        let mut mapped: Vec<&String> = spec.measurements.keys().collect();
        mapped.sort();
        let mut wanted: Vec<&String> = measurements.iter().collect();
        wanted.sort();
        assert_eq!(
            mapped, wanted,
            "{}: recognition measurements must be the product's",
            spec.product
        );
        assert!(
            ["GeoTIFF", "NetCDF", "HDF4_EOS:EOS_GRID", "HDF5"].contains(&spec.file_format.as_str()),
            "{}: {}",
            spec.product,
            spec.file_format
        );
    }
    assert!(n >= 10, "only {n} recognition specs");
}

#[test]
fn real_names_are_recognised_as_the_right_products() {
    let recogniser =
        indexer::Recogniser::load_dir(&workspace().join("product-defs/recognition")).unwrap();
    let cases = [
        ("s3://lp-prod-protected/MOD13Q1.061/MOD13Q1.A2023161.h29v09.061.2023177233537/MOD13Q1.A2023161.h29v09.061.2023177233537.hdf", "mod13q1_061", "2023-06-10", "2023-06-25", Some("h29v09")),
        ("MOD09A1.A2020001.h29v11.061.2020010000000.hdf", "mod09a1_061", "2020-01-01", "2020-01-08", Some("h29v11")),
        ("https://data.chc.ucsb.edu/products/CHIRPS-2.0/global_daily/tifs/p05/2023/chirps-v2.0.2023.01.01.tif.gz", "chirps_v2_daily_p05", "2023-01-01", "2023-01-01", None),
        ("products/CHIRPS-2.0/global_daily/cogs/p05/2023/chirps-v2.0.2023.01.01.cog", "chirps_v2_daily_p05", "2023-01-01", "2023-01-01", None),
        ("products/CHIRPS-2.0/prelim/global_daily/tifs/p05/2024/chirps-v2.0.2024.01.01.tif.gz", "chirps_v2_daily_p05", "2024-01-01", "2024-01-01", None),
        ("GPM_L3/GPM_3IMERGHH.07/2024/015/3B-HHR.MS.MRG.3IMERG.20240115-S000000-E002959.0000.V07B.HDF5", "gpm_imerg_hhr_v07", "2024-01-15", "2024-01-15", None),
        ("GPM_L3/GPM_3IMERGDF.07/2024/01/3B-DAY.MS.MRG.3IMERG.20240115-S000000-E235959.V07B.nc4", "gpm_imerg_day_v07", "2024-01-15", "2024-01-15", None),
        ("metdata/pr_2015.nc", "gridmet_pr", "2015-01-01", "2015-12-31", None),
        ("metdata/pet_2015.nc", "gridmet_pet", "2015-01-01", "2015-12-31", None),
        ("metdata/tmmn_2015.nc", "gridmet_tmmn", "2015-01-01", "2015-12-31", None),
        ("metdata/tmmx_2015.nc", "gridmet_tmmx", "2015-01-01", "2015-12-31", None),
        ("collection02/level-2/standard/oli-tirs/2023/092/068/LC09_L2SP_092068_20230522_20230524_02_T2/LC09_L2SP_092068_20230522_20230524_02_T2_SR_stac.json", "ls9_c2l2_sr", "2023-05-22", "2023-05-22", Some("092068")),
        ("collection02/level-2/standard/oli-tirs/2020/001/062/LC08_L2SP_001062_20201031_20201106_02_T2/LC08_L2SP_001062_20201031_20201106_02_T2_ST_stac.json", "ls8_c2l2_st", "2020-10-31", "2020-10-31", Some("001062")),
    ];
    for (key, product, start, end, region) in cases {
        let r = recogniser
            .recognise(key)
            .unwrap()
            .unwrap_or_else(|| panic!("{key} not recognised"));
        assert_eq!(r.product, product, "{key}");
        assert_eq!(
            (r.start.to_string().as_str(), r.end.to_string().as_str()),
            (start, end),
            "{key}"
        );
        assert_eq!(r.region_code.as_deref(), region, "{key}");
    }
    // Half hours carry their S..E span and run maturity; 48 a day, told apart by time.
    let hh = recogniser
        .recognise("GPM_3IMERGHHL.07/2024/015/3B-HHR-L.MS.MRG.3IMERG.20240115-S233000-E235959.1410.V07B.HDF5")
        .unwrap()
        .unwrap();
    assert_eq!(
        (
            hh.start_time.map(|t| t.to_string()),
            hh.end_time.map(|t| t.to_string()),
            hh.maturity.as_deref()
        ),
        (
            Some("23:30:00".into()),
            Some("23:59:59.999999".into()),
            Some("interim")
        )
    );
    for key in [
        "MOD13Q1.A2023161.h29v09.061.2023177233537.hdf.xml",
        "3B-HHR.MS.MRG.3IMERG.20240115-S000000-E002959.0000.V06B.HDF5",
        "global_daily/cogs/p25/2023/chirps-v2.0.2023.01.01.cog",
        "global_pentad/tifs/chirps-v2.0.2020.07.3.tif.gz",
        "README.txt",
    ] {
        assert!(
            recogniser.recognise(key).unwrap().is_none(),
            "{key} should not be recognised"
        );
    }
}

/// USGS's STAC collections reach the Landsat products by the routing rules of product-defs, in the
/// spellings USGS wrote over the years (`platform: LANDSAT_8` in STAC 1.0 items, `eo:platform` in
/// STAC 0.7 items) and the lower-case form other catalogues use; Landsat 7 has no product.
#[test]
fn usgs_collections_route_to_the_landsat_products() {
    let recogniser =
        indexer::Recogniser::load_dir(&workspace().join("product-defs/recognition")).unwrap();
    let routes = indexer::routing::Routes::from_specs(recogniser.specs());
    let item = |collection: &str, props: serde_json::Value| serde_json::json!({"type": "Feature", "stac_version": "1.0.0", "id": "x", "collection": collection, "properties": props});
    use serde_json::json;
    for (collection, props, product) in [
        (
            "landsat-c2l2-sr",
            json!({"platform": "LANDSAT_8"}),
            Some("ls8_c2l2_sr"),
        ),
        (
            "landsat-c2l2-sr",
            json!({"platform": "LANDSAT_9"}),
            Some("ls9_c2l2_sr"),
        ),
        (
            "landsat-c2l2-st",
            json!({"platform": "LANDSAT_8"}),
            Some("ls8_c2l2_st"),
        ),
        (
            "landsat-c2l2-st",
            json!({"platform": "landsat-9"}),
            Some("ls9_c2l2_st"),
        ),
        (
            "landsat-c2l2-sr",
            json!({"eo:platform": "LANDSAT_9"}),
            Some("ls9_c2l2_sr"),
        ),
        ("landsat-c2l2-sr", json!({"platform": "LANDSAT_7"}), None),
        ("landsat-c2l1", json!({"platform": "LANDSAT_8"}), None),
    ] {
        let i = item(collection, props.clone());
        assert_eq!(routes.route(&i).unwrap(), product, "{collection} {props}");
    }
}
