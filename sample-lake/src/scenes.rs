//! Landsat 8 Collection 2 Level-2 scenes for the demo lake, in the layout of `s3://usgs-landsat`:
//! COG bands (a 9 km subset of the scene: SR, ST and QA files), `_MTL.json`, and the `_SR_stac.json`
//! and `_ST_stac.json` items as USGS publishes them (`crate::usgs_items`).
use crate::lake::{ndvi, temperature};
use gdal::raster::{Buffer, GdalType};
use gdal::spatial_ref::{AxisMappingStrategy, CoordTransform, SpatialRef};
use gdal::DriverManager;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

use crate::usgs_items::Scene;
pub use crate::usgs_items::USGS_DATA;
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

/// One written scene: its folder and its two STAC items.
#[derive(Debug, Clone)]
pub struct Written {
    /// Landsat product id.
    pub product_id: String,
    /// The scene's folder.
    pub dir: PathBuf,
    /// `<product id>_SR_stac.json`.
    pub sr_item: PathBuf,
    /// `<product id>_ST_stac.json`.
    pub st_item: PathBuf,
    /// The same items in USGS's STAC 0.7.0 shape of 2020 (SR, ST), to write in their place.
    pub legacy_items: (Value, Value),
}

/// Writes the scenes under `root`.
pub fn write_scenes(root: &Path) -> Result<Vec<Written>, Box<dyn std::error::Error>> {
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
        // ST intermediate bands: plausible constants in their stored int16 units (Science Product
        // Guide scales: radiance ×0.001, transmittance and emissivity ×0.0001, distance ×0.01 km,
        // uncertainty ×0.01 K).
        for (suffix, value) in [
            ("ST_TRAD", 9_000i16),
            ("ST_URAD", 1_200),
            ("ST_DRAD", 2_000),
            ("ST_ATRAN", 8_500),
            ("ST_EMIS", 9_800),
            ("ST_EMSD", 100),
            ("ST_CDIST", 1_500),
            ("ST_QA", 150),
        ] {
            cog::<i16>(
                &dir.join(format!("{id}_{suffix}.TIF")),
                vec![value; N * N],
                -9999.0,
            )?;
        }
        cog::<u16>(
            &dir.join(format!("{id}_QA_PIXEL.TIF")),
            vec![21824u16; N * N],
            1.0,
        )?;
        cog::<u16>(
            &dir.join(format!("{id}_QA_RADSAT.TIF")),
            vec![0u16; N * N],
            65535.0,
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
        let scene = Scene {
            id,
            date,
            time: "17:36:12.517027",
            dir_key: &dir_key,
            bbox,
            ring: &ring,
            utm_zone: 13,
            shape: [N, N],
            transform: [RES, 0.0, UL.0, 0.0, -RES, UL.1],
        };
        let sr_item = dir.join(format!("{id}_SR_stac.json"));
        std::fs::write(&sr_item, serde_json::to_vec_pretty(&scene.sr_item())?)?;
        let st_item = dir.join(format!("{id}_ST_stac.json"));
        std::fs::write(&st_item, serde_json::to_vec_pretty(&scene.st_item())?)?;
        out.push(Written {
            product_id: id.to_string(),
            dir: dir.clone(),
            sr_item,
            st_item,
            legacy_items: (scene.legacy_sr_item(), scene.legacy_st_item()),
        });
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
    // Names and storage types as in USGS's MTL of LC08_L2SP_001062_20201031_20201106_02_T2.
    for (key, suffix, dtype) in [
        ("THERMAL_RADIANCE", "ST_TRAD", "INT16"),
        ("UPWELL_RADIANCE", "ST_URAD", "INT16"),
        ("DOWNWELL_RADIANCE", "ST_DRAD", "INT16"),
        ("ATMOSPHERIC_TRANSMITTANCE", "ST_ATRAN", "INT16"),
        ("EMISSIVITY", "ST_EMIS", "INT16"),
        ("EMISSIVITY_STDEV", "ST_EMSD", "INT16"),
        ("CLOUD_DISTANCE", "ST_CDIST", "INT16"),
        ("QUALITY_L2_AEROSOL", "SR_QA_AEROSOL", "UINT8"),
        ("QUALITY_L2_SURFACE_TEMPERATURE", "ST_QA", "INT16"),
        ("QUALITY_L1_PIXEL", "QA_PIXEL", "UINT16"),
        ("QUALITY_L1_RADIOMETRIC_SATURATION", "QA_RADSAT", "UINT16"),
    ] {
        contents.insert(
            format!("FILE_NAME_{key}"),
            json!(format!("{id}_{suffix}.TIF")),
        );
        contents.insert(format!("DATA_TYPE_{key}"), json!(dtype));
    }
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
        "LEVEL2_SURFACE_TEMPERATURE_PARAMETERS": {
            "TEMPERATURE_MULT_BAND_ST_B10": "0.00341802", "TEMPERATURE_ADD_BAND_ST_B10": "149.0"},
    }})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scenes_agree_with_their_sidecars() {
        let d = tempfile::tempdir().unwrap();
        let scenes = write_scenes(d.path()).unwrap();
        assert_eq!(scenes.len(), 2);
        let item: Value =
            serde_json::from_slice(&std::fs::read(&scenes[0].sr_item).unwrap()).unwrap();
        let st: Value =
            serde_json::from_slice(&std::fs::read(&scenes[0].st_item).unwrap()).unwrap();
        assert_eq!(st["collection"], "landsat-c2l2-st");
        assert!(item["assets"].get("lwir11").is_none() && st["assets"].get("lwir11").is_some());
        let dir = scenes[0].dir.as_path();
        // Every asset of both items is a file of the scene (thumbnails aside).
        for a in item["assets"]
            .as_object()
            .unwrap()
            .values()
            .chain(st["assets"].as_object().unwrap().values())
        {
            let name = a["href"].as_str().unwrap().rsplit('/').next().unwrap();
            assert!(dir.join(name).exists(), "{name}");
        }
        let trad = gdal::Dataset::open(dir.join(format!("{}_ST_TRAD.TIF", SCENES[0].0))).unwrap();
        assert_eq!(
            trad.rasterband(1).unwrap().band_type(),
            gdal::raster::GdalDataType::Int16
        );
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
