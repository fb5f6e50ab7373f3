//! Landsat 8 Collection 2 Level-2 scenes for the demo lake, in the layout of `s3://usgs-landsat`:
//! COG bands (a 9 km subset of the scene), `_MTL.json` and `_SR_stac.json` as USGS publishes them.
use crate::lake::{ndvi, temperature};
use gdal::raster::{Buffer, GdalType};
use gdal::spatial_ref::{AxisMappingStrategy, CoordTransform, SpatialRef};
use gdal::DriverManager;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

/// The prefix USGS hrefs start with; the demo maps it onto its bucket with `--href-rewrite`.
pub const USGS_DATA: &str = "https://landsatlook.usgs.gov/data/";
/// Subset size (pixels) and pixel size (m), upper-left corner in UTM 13N.
const N: usize = 300;
const RES: f64 = 30.0;
const UL: (f64, f64) = (470_010.0, 4_400_010.0);

/// (product id, acquisition date, processing date, days since 1970-01-01 of the acquisition).
const SCENES: [(&str, &str, i64); 2] = [
    (
        "LC08_L2SP_034032_20200615_20200824_02_T1",
        "2020-06-15",
        18428,
    ),
    (
        "LC08_L2SP_034032_20200717_20200911_02_T1",
        "2020-07-17",
        18460,
    ),
];

fn cog<T: GdalType + Copy>(path: &Path, data: Vec<T>, nodata: f64) -> gdal::errors::Result<()> {
    let mem = DriverManager::get_driver_by_name("MEM")?;
    let mut ds = mem.create_with_band_type::<T, _>("", N, N, 1)?;
    ds.set_geo_transform(&[UL.0, RES, 0.0, UL.1, 0.0, -RES])?;
    ds.set_spatial_ref(&SpatialRef::from_epsg(32613)?)?;
    let mut b = ds.rasterband(1)?;
    b.write((0, 0), (N, N), &mut Buffer::new((N, N), data))?;
    b.set_no_data_value(Some(nodata))?;
    let opts = gdal::cpl::CslStringList::from_iter(["COMPRESS=DEFLATE"]);
    ds.create_copy(&DriverManager::get_driver_by_name("COG")?, path, &opts)?;
    Ok(())
}

/// Surface reflectance → Collection 2 DN (scale 2.75e-5, offset −0.2).
fn dn(rho: f64) -> u16 {
    ((rho + 0.2) / 2.75e-5).round().clamp(1.0, 65535.0) as u16
}

/// Writes the scenes under `root` and returns the `_SR_stac.json` paths.
pub fn write_scenes(root: &Path) -> Result<Vec<PathBuf>, Box<dyn std::error::Error>> {
    let mut utm = SpatialRef::from_epsg(32613)?;
    let mut wgs = SpatialRef::from_epsg(4326)?;
    utm.set_axis_mapping_strategy(AxisMappingStrategy::TraditionalGisOrder);
    wgs.set_axis_mapping_strategy(AxisMappingStrategy::TraditionalGisOrder);
    let tr = CoordTransform::new(&utm, &wgs)?;
    let (mut lon, mut lat): (Vec<f64>, Vec<f64>) = (0..N * N)
        .map(|i| {
            let (r, c) = (i / N, i % N);
            (UL.0 + (c as f64 + 0.5) * RES, UL.1 - (r as f64 + 0.5) * RES)
        })
        .unzip();
    tr.transform_coords(&mut lon, &mut lat, &mut [])?;
    let mut corners_x = vec![UL.0, UL.0 + N as f64 * RES, UL.0 + N as f64 * RES, UL.0];
    let mut corners_y = vec![UL.1, UL.1, UL.1 - N as f64 * RES, UL.1 - N as f64 * RES];
    tr.transform_coords(&mut corners_x, &mut corners_y, &mut [])?;
    let ring: Vec<[f64; 2]> = (0..5)
        .map(|k| [corners_x[k % 4], corners_y[k % 4]])
        .collect();
    let bbox = [
        corners_x.iter().copied().fold(f64::INFINITY, f64::min),
        corners_y.iter().copied().fold(f64::INFINITY, f64::min),
        corners_x.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        corners_y.iter().copied().fold(f64::NEG_INFINITY, f64::max),
    ];
    let mut out = Vec::new();
    for (id, date, day) in SCENES {
        let year = &date[..4];
        let dir_key = format!("collection02/level-2/standard/oli-tirs/{year}/034/032/{id}");
        let dir = root.join(&dir_key);
        std::fs::create_dir_all(&dir)?;
        let v: Vec<f64> = lon
            .iter()
            .zip(&lat)
            .map(|(&x, &y)| ndvi(day, x, y))
            .collect();
        // NIR from vegetation cover; red so that (nir − red)/(nir + red) is the terrain's NDVI.
        let nir: Vec<f64> = v.iter().map(|n| 0.18 + 0.25 * n).collect();
        let red: Vec<f64> = nir
            .iter()
            .zip(&v)
            .map(|(r, n)| r * (1.0 - n) / (1.0 + n))
            .collect();
        let bands: [(&str, Vec<f64>); 7] = [
            ("SR_B1", red.iter().map(|r| r * 0.8 + 0.02).collect()),
            ("SR_B2", red.iter().map(|r| r * 0.9 + 0.01).collect()),
            (
                "SR_B3",
                red.iter().zip(&nir).map(|(r, n)| (r + n) / 2.5).collect(),
            ),
            ("SR_B4", red),
            ("SR_B5", nir.clone()),
            ("SR_B6", nir.iter().map(|n| n * 0.8).collect()),
            ("SR_B7", nir.iter().map(|n| n * 0.5).collect()),
        ];
        for (suffix, rho) in &bands {
            cog::<u16>(
                &dir.join(format!("{id}_{suffix}.TIF")),
                rho.iter().map(|&r| dn(r)).collect(),
                0.0,
            )?;
        }
        let st: Vec<u16> = lon
            .iter()
            .zip(&lat)
            .map(|(&x, &y)| {
                ((temperature(day, x, y, true) + 273.15 - 149.0) / 0.00341802).round() as u16
            })
            .collect();
        cog::<u16>(&dir.join(format!("{id}_ST_B10.TIF")), st, 0.0)?;
        cog::<u16>(
            &dir.join(format!("{id}_QA_PIXEL.TIF")),
            vec![21824u16; N * N],
            1.0,
        )?;
        cog::<u8>(
            &dir.join(format!("{id}_SR_QA_AEROSOL.TIF")),
            vec![224u8; N * N],
            1.0,
        )?;
        let mtl = mtl(id, date);
        std::fs::write(
            dir.join(format!("{id}_MTL.json")),
            serde_json::to_vec_pretty(&mtl)?,
        )?;
        let item = item(id, date, &dir_key, bbox, &ring);
        let p = dir.join(format!("{id}_SR_stac.json"));
        std::fs::write(&p, serde_json::to_vec_pretty(&item)?)?;
        out.push(p);
    }
    Ok(out)
}

/// The scene's `_MTL.json` (values as strings, as USGS writes them).
fn mtl(id: &str, date: &str) -> Value {
    let lr = (UL.0 + N as f64 * RES, UL.1 - N as f64 * RES);
    let mut contents = serde_json::Map::new();
    contents.insert("LANDSAT_PRODUCT_ID".into(), json!(id));
    contents.insert("PROCESSING_LEVEL".into(), json!("L2SP"));
    contents.insert("COLLECTION_NUMBER".into(), json!("02"));
    contents.insert("COLLECTION_CATEGORY".into(), json!(&id[id.len() - 2..]));
    for b in 1..=7 {
        contents.insert(
            format!("FILE_NAME_BAND_{b}"),
            json!(format!("{id}_SR_B{b}.TIF")),
        );
    }
    contents.insert(
        "FILE_NAME_BAND_ST_B10".into(),
        json!(format!("{id}_ST_B10.TIF")),
    );
    contents.insert(
        "FILE_NAME_QUALITY_L1_PIXEL".into(),
        json!(format!("{id}_QA_PIXEL.TIF")),
    );
    let mut l2 = serde_json::Map::new();
    for b in 1..=7 {
        l2.insert(format!("REFLECTANCE_MULT_BAND_{b}"), json!("2.75E-05"));
        l2.insert(format!("REFLECTANCE_ADD_BAND_{b}"), json!("-0.200000"));
    }
    json!({"LANDSAT_METADATA_FILE": {
        "PRODUCT_CONTENTS": contents,
        "IMAGE_ATTRIBUTES": {
            "SPACECRAFT_ID": "LANDSAT_8", "SENSOR_ID": "OLI_TIRS", "WRS_TYPE": "2",
            "WRS_PATH": "34", "WRS_ROW": "32", "DATE_ACQUIRED": date,
            "SCENE_CENTER_TIME": "17:36:12.5170270Z", "CLOUD_COVER": "1.23",
            "SUN_AZIMUTH": "128.53", "SUN_ELEVATION": "66.87"},
        "PROJECTION_ATTRIBUTES": {
            "MAP_PROJECTION": "UTM", "DATUM": "WGS84", "ELLIPSOID": "WGS84", "UTM_ZONE": "13",
            "GRID_CELL_SIZE_REFLECTIVE": "30.00", "GRID_CELL_SIZE_THERMAL": "30.00",
            "REFLECTIVE_LINES": N.to_string(), "REFLECTIVE_SAMPLES": N.to_string(),
            "THERMAL_LINES": N.to_string(), "THERMAL_SAMPLES": N.to_string(),
            "ORIENTATION": "NORTH_UP",
            "CORNER_UL_PROJECTION_X_PRODUCT": format!("{:.3}", UL.0 + RES / 2.0),
            "CORNER_UL_PROJECTION_Y_PRODUCT": format!("{:.3}", UL.1 - RES / 2.0),
            "CORNER_LR_PROJECTION_X_PRODUCT": format!("{:.3}", lr.0 - RES / 2.0),
            "CORNER_LR_PROJECTION_Y_PRODUCT": format!("{:.3}", lr.1 + RES / 2.0)},
        "LEVEL2_SURFACE_REFLECTANCE_PARAMETERS": l2,
    }})
}

/// The `_SR_stac.json` item: STAC 1.0.0 with the eo, view, projection and landsat extensions and
/// absolute landsatlook hrefs.
fn item(id: &str, date: &str, dir_key: &str, bbox: [f64; 4], ring: &[[f64; 2]]) -> Value {
    let href = |suffix: &str| format!("{USGS_DATA}{dir_key}/{id}_{suffix}");
    let band = |suffix: &str, title: &str, common: Option<&str>, gsd: f64| {
        let mut a = json!({
            "title": title, "href": href(&format!("{suffix}.TIF")),
            "type": "image/vnd.stac.geotiff; cloud-optimized=true", "roles": ["data"],
            "raster:bands": [{"nodata": 0, "data_type": "uint16", "scale": 2.75e-05, "offset": -0.2, "spatial_resolution": gsd}],
        });
        if let Some(c) = common {
            a["eo:bands"] = json!([{"name": suffix.trim_start_matches("SR_"), "common_name": c}]);
        }
        a
    };
    let mut assets = serde_json::Map::new();
    for (key, suffix, title, common) in [
        ("coastal", "SR_B1", "Coastal/Aerosol Band (B1)", "coastal"),
        ("blue", "SR_B2", "Blue Band (B2)", "blue"),
        ("green", "SR_B3", "Green Band (B3)", "green"),
        ("red", "SR_B4", "Red Band (B4)", "red"),
        ("nir08", "SR_B5", "Near Infrared Band 0.8 (B5)", "nir08"),
        (
            "swir16",
            "SR_B6",
            "Short-wave Infrared Band 1.6 (B6)",
            "swir16",
        ),
        (
            "swir22",
            "SR_B7",
            "Short-wave Infrared Band 2.2 (B7)",
            "swir22",
        ),
    ] {
        assets.insert(key.into(), band(suffix, title, Some(common), 30.0));
    }
    // USGS puts ST_B10 in the companion `_ST_stac.json` item; etlake's ls8_c2l2_sr product carries
    // all ten bands, so the demo's SR items list it too.
    assets.insert("lwir11".into(), json!({"title": "Surface Temperature Band (B10)", "href": href("ST_B10.TIF"),
        "type": "image/vnd.stac.geotiff; cloud-optimized=true", "roles": ["temperature"],
        "raster:bands": [{"nodata": 0, "data_type": "uint16", "scale": 0.00341802, "offset": 149.0, "unit": "kelvin"}]}));
    assets.insert("qa_pixel".into(), json!({"title": "Pixel Quality Assessment Band", "href": href("QA_PIXEL.TIF"),
        "type": "image/vnd.stac.geotiff; cloud-optimized=true", "roles": ["cloud", "cloud-shadow", "snow-ice", "water-mask"],
        "raster:bands": [{"nodata": 1, "data_type": "uint16", "unit": "bit index"}]}));
    assets.insert("qa_aerosol".into(), json!({"title": "Aerosol Quality Analysis Band", "href": href("SR_QA_AEROSOL.TIF"),
        "type": "image/vnd.stac.geotiff; cloud-optimized=true", "roles": ["metadata", "data-mask", "water-mask"],
        "raster:bands": [{"nodata": 1, "data_type": "uint8", "unit": "bit index"}]}));
    assets.insert(
        "MTL.json".into(),
        json!({"title": "Product Metadata File (json)", "href": href("MTL.json"),
        "type": "application/json", "roles": ["metadata"]}),
    );
    json!({
        "type": "Feature",
        "stac_version": "1.0.0",
        "stac_extensions": [
            "https://landsat.usgs.gov/stac/landsat-extension/v1.1.1/schema.json",
            "https://stac-extensions.github.io/view/v1.0.0/schema.json",
            "https://stac-extensions.github.io/projection/v1.0.0/schema.json",
            "https://stac-extensions.github.io/eo/v1.0.0/schema.json",
            "https://stac-extensions.github.io/raster/v1.0.0/schema.json"
        ],
        "id": format!("{id}_SR"),
        "description": "Landsat Collection 2 Level-2 Surface Reflectance Product",
        "bbox": bbox,
        "geometry": {"type": "Polygon", "coordinates": [ring]},
        "properties": {
            "datetime": format!("{date}T17:36:12.517027Z"),
            "eo:cloud_cover": 1.23,
            "view:sun_azimuth": 128.53,
            "view:sun_elevation": 66.87,
            "platform": "LANDSAT_8",
            "instruments": ["OLI", "TIRS"],
            "view:off_nadir": 0,
            "landsat:cloud_cover_land": 1.23,
            "landsat:wrs_type": "2",
            "landsat:wrs_path": "034",
            "landsat:wrs_row": "032",
            "landsat:scene_id": format!("LC8034032{}LGN00", &date[..4]),
            "landsat:collection_category": &id[id.len() - 2..],
            "landsat:collection_number": "02",
            "landsat:correction": "L2SP",
            "proj:epsg": 32613,
            "proj:shape": [N, N],
            "proj:transform": [RES, 0.0, UL.0, 0.0, -RES, UL.1],
        },
        "assets": assets,
        "links": [
            {"rel": "self", "href": format!("https://landsatlook.usgs.gov/stac-server/collections/landsat-c2l2-sr/items/{id}_SR")},
            {"rel": "parent", "href": "https://landsatlook.usgs.gov/stac-server/collections/landsat-c2l2-sr"},
            {"rel": "collection", "href": "https://landsatlook.usgs.gov/stac-server/collections/landsat-c2l2-sr"},
            {"rel": "root", "href": "https://landsatlook.usgs.gov/stac-server/"}
        ],
        "collection": "landsat-c2l2-sr"
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scenes_agree_with_their_sidecars() {
        let d = tempfile::tempdir().unwrap();
        let items = write_scenes(d.path()).unwrap();
        assert_eq!(items.len(), 2);
        let item: Value = serde_json::from_slice(&std::fs::read(&items[0]).unwrap()).unwrap();
        let dir = items[0].parent().unwrap();
        let id = SCENES[0].0;
        let ds = gdal::Dataset::open(dir.join(format!("{id}_SR_B5.TIF"))).unwrap();
        assert_eq!(ds.raster_size(), (N, N));
        let gt = ds.geo_transform().unwrap();
        let t = &item["properties"]["proj:transform"];
        assert_eq!(
            [gt[1], gt[0], gt[5], gt[3]],
            [
                t[0].as_f64().unwrap(),
                t[2].as_f64().unwrap(),
                t[4].as_f64().unwrap(),
                t[5].as_f64().unwrap()
            ]
        );
        let b = item["bbox"].as_array().unwrap();
        assert!(
            b[0].as_f64().unwrap() > -105.5 && b[2].as_f64().unwrap() < -104.5,
            "{b:?}"
        );
        let first_pixel = |suffix: &str| {
            gdal::Dataset::open(dir.join(format!("{id}_{suffix}.TIF")))
                .unwrap()
                .rasterband(1)
                .unwrap()
                .read_as::<u16>((0, 0), (1, 1), (1, 1), None)
                .unwrap()
                .into_shape_and_vec()
                .1[0]
        };
        let (r, n) = (first_pixel("SR_B4"), first_pixel("SR_B5"));
        let (rr, nn) = (r as f64 * 2.75e-5 - 0.2, n as f64 * 2.75e-5 - 0.2);
        let ndvi = (nn - rr) / (nn + rr);
        assert!(ndvi > 0.1 && ndvi < 0.9, "{ndvi}");
        let mtl: Value =
            serde_json::from_slice(&std::fs::read(dir.join(format!("{id}_MTL.json"))).unwrap())
                .unwrap();
        assert_eq!(
            mtl["LANDSAT_METADATA_FILE"]["PROJECTION_ATTRIBUTES"]["UTM_ZONE"],
            "13"
        );
    }
}
