//! USGS Landsat Collection 2 Level-2 scene folders (Landsat 8 and 9 OLI/TIRS), laid out as USGS publishes
//! them in `s3://usgs-landsat/collection02/level-2/standard/oli-tirs/{YYYY}/{PPP}/{RRR}/{PRODUCT_ID}/`
//! (HTTPS `https://landsatlook.usgs.gov/data/collection02/…`).
//!
//! Sources:
//! - Landsat 8-9 Collection 2 Level-2 Science Product Guide (USGS LSDS-1619) — file list, band data types,
//!   fill values, scale/offset (SR ×2.75e-05 −0.2, fill 0; ST ×0.00341802 +149.0 K, fill 0);
//! - USGS FAQ "How do I use a scale factor with Landsat Level-2 science products?"
//!   (https://www.usgs.gov/faqs/how-do-i-use-a-scale-factor-landsat-level-2-science-products);
//! - Landsat 8-9 Collection 2 Data Format Control Book (LSDS-1822/1328) — MTL groups and keys;
//! - real MTL files and USGS STAC items stored in stactools-packages/landsat `tests/` (provider-specs.md §5–6).
//!
//! Rasters are COGs (DEFLATE, 256 × 256 tiles with overviews — [unverified: USGS's exact creation options]).
//! Auxiliary bands' types and nodata follow the DFCB/stactools band tables (QA_PIXEL uint16 nodata 1,
//! SR_QA_AEROSOL uint8 nodata 1, ST_* auxiliary int16 nodata −9999; [secondary]). Each scene is a 64 × 64
//! pixel window at 30 m whose MTL and STAC grids say the same. Thumbnails, `_ANG.txt` are not written.
pub mod mtl;
pub mod stac;

use crate::manifest::Manifest;
use crate::raster::{self, Band};
use gdal::spatial_ref::{AxisMappingStrategy, CoordTransform, SpatialRef};
use serde_json::json;
use std::path::Path;

pub const SIZE: usize = 64;
pub const RES: f64 = 30.0;

/// STAC shapes USGS published.
#[derive(Clone, Copy, PartialEq, Debug)]
pub enum StacShape {
    /// STAC 1.0.0 items as `https://landsatlook.usgs.gov/stac-server` serves them (`…_SR`, `…_ST` ids).
    Current,
    /// The 2020-era static `_SR_stac.json` / `_ST_stac.json` items of STAC 0.7.0.
    Legacy070,
}

pub struct Scene {
    pub product_id: &'static str,
    pub spacecraft: &'static str,
    pub path: u32,
    pub row: u32,
    pub date: &'static str,
    pub processed: &'static str,
    pub center_time: &'static str,
    pub utm_zone: u32,
    /// Centre of the upper-left pixel (what the MTL's CORNER_UL_PROJECTION_*_PRODUCT holds).
    pub ul_centre: (f64, f64),
    pub cloud_cover: f64,
    pub sun_azimuth: f64,
    pub sun_elevation: f64,
    pub stac: StacShape,
}

pub const SCENES: [Scene; 3] = [
    Scene {
        product_id: "LC08_L2SP_033034_20210602_20210608_02_T1",
        spacecraft: "LANDSAT_8",
        path: 33,
        row: 34,
        date: "2021-06-02",
        processed: "2021-06-08",
        center_time: "17:34:52.1855680Z",
        utm_zone: 13,
        ul_centre: (544800.0, 4018020.0),
        cloud_cover: 0.12,
        sun_azimuth: 117.40528263,
        sun_elevation: 66.06123497,
        stac: StacShape::Current,
    },
    Scene {
        product_id: "LC09_L2SP_033034_20220605_20220607_02_T1",
        spacecraft: "LANDSAT_9",
        path: 33,
        row: 34,
        date: "2022-06-05",
        processed: "2022-06-07",
        center_time: "17:34:41.0093260Z",
        utm_zone: 13,
        ul_centre: (544800.0, 4018020.0),
        cloud_cover: 2.31,
        sun_azimuth: 116.81934021,
        sun_elevation: 66.44112777,
        stac: StacShape::Current,
    },
    Scene {
        product_id: "LC08_L2SP_034034_20200530_20200820_02_T1",
        spacecraft: "LANDSAT_8",
        path: 34,
        row: 34,
        date: "2020-05-30",
        processed: "2020-08-20",
        center_time: "17:40:38.4466870Z",
        utm_zone: 13,
        ul_centre: (400020.0, 4020000.0),
        cloud_cover: 0.05,
        sun_azimuth: 119.0142346,
        sun_elevation: 65.23881071,
        stac: StacShape::Legacy070,
    },
];

/// One file of a scene: suffix, data type, nodata, and for SR/ST bands the scale and offset.
pub struct BandFile {
    pub suffix: &'static str,
    pub dtype: &'static str,
    pub nodata: Option<f64>,
    pub scale: Option<(f64, f64)>,
    pub item: &'static str,
}

pub const SR_SCALE: (f64, f64) = (2.75e-05, -0.2);
pub const ST_SCALE: (f64, f64) = (0.00341802, 149.0);

pub const BANDS: [BandFile; 19] = [
    BandFile {
        suffix: "SR_B1",
        dtype: "uint16",
        nodata: Some(0.0),
        scale: Some(SR_SCALE),
        item: "SR",
    },
    BandFile {
        suffix: "SR_B2",
        dtype: "uint16",
        nodata: Some(0.0),
        scale: Some(SR_SCALE),
        item: "SR",
    },
    BandFile {
        suffix: "SR_B3",
        dtype: "uint16",
        nodata: Some(0.0),
        scale: Some(SR_SCALE),
        item: "SR",
    },
    BandFile {
        suffix: "SR_B4",
        dtype: "uint16",
        nodata: Some(0.0),
        scale: Some(SR_SCALE),
        item: "SR",
    },
    BandFile {
        suffix: "SR_B5",
        dtype: "uint16",
        nodata: Some(0.0),
        scale: Some(SR_SCALE),
        item: "SR",
    },
    BandFile {
        suffix: "SR_B6",
        dtype: "uint16",
        nodata: Some(0.0),
        scale: Some(SR_SCALE),
        item: "SR",
    },
    BandFile {
        suffix: "SR_B7",
        dtype: "uint16",
        nodata: Some(0.0),
        scale: Some(SR_SCALE),
        item: "SR",
    },
    BandFile {
        suffix: "SR_QA_AEROSOL",
        dtype: "uint8",
        nodata: Some(1.0),
        scale: None,
        item: "SR",
    },
    BandFile {
        suffix: "QA_PIXEL",
        dtype: "uint16",
        nodata: Some(1.0),
        scale: None,
        item: "both",
    },
    BandFile {
        suffix: "QA_RADSAT",
        dtype: "uint16",
        nodata: None,
        scale: None,
        item: "both",
    },
    BandFile {
        suffix: "ST_B10",
        dtype: "uint16",
        nodata: Some(0.0),
        scale: Some(ST_SCALE),
        item: "ST",
    },
    BandFile {
        suffix: "ST_ATRAN",
        dtype: "int16",
        nodata: Some(-9999.0),
        scale: Some((0.0001, 0.0)),
        item: "ST",
    },
    BandFile {
        suffix: "ST_CDIST",
        dtype: "int16",
        nodata: Some(-9999.0),
        scale: Some((0.01, 0.0)),
        item: "ST",
    },
    BandFile {
        suffix: "ST_DRAD",
        dtype: "int16",
        nodata: Some(-9999.0),
        scale: Some((0.001, 0.0)),
        item: "ST",
    },
    BandFile {
        suffix: "ST_URAD",
        dtype: "int16",
        nodata: Some(-9999.0),
        scale: Some((0.001, 0.0)),
        item: "ST",
    },
    BandFile {
        suffix: "ST_TRAD",
        dtype: "int16",
        nodata: Some(-9999.0),
        scale: Some((0.001, 0.0)),
        item: "ST",
    },
    BandFile {
        suffix: "ST_EMIS",
        dtype: "int16",
        nodata: Some(-9999.0),
        scale: Some((0.0001, 0.0)),
        item: "ST",
    },
    BandFile {
        suffix: "ST_EMSD",
        dtype: "int16",
        nodata: Some(-9999.0),
        scale: Some((0.0001, 0.0)),
        item: "ST",
    },
    BandFile {
        suffix: "ST_QA",
        dtype: "int16",
        nodata: Some(-9999.0),
        scale: Some((0.01, 0.0)),
        item: "ST",
    },
];

pub fn all_bands() -> impl Iterator<Item = &'static BandFile> {
    BANDS.iter()
}

/// Fill pixels: the first four pixels of row 0 are fill in every band (the scene edge).
pub fn is_fill(r: usize, c: usize) -> bool {
    r == 0 && c < 4
}

/// Stored value of band `suffix` in scene `s` at pixel (`r`, `c`).
pub fn stored(s: usize, suffix: &str, r: usize, c: usize) -> f64 {
    let b = all_bands()
        .find(|b| b.suffix == suffix)
        .expect("known band");
    if is_fill(r, c) {
        return b.nodata.unwrap_or(0.0);
    }
    let (r, c, s) = (r as u32, c as u32, s as u32);
    (match suffix {
        x if x.starts_with("SR_B") => {
            let n: u32 = x[4..].parse().unwrap();
            7273 + (n * 1000 + r * 37 + c * 11 + s * 500) % 30000
        }
        "SR_QA_AEROSOL" => 224,
        // Clear, low-confidence cloud/shadow/snow/cirrus (bits 6, 8, 10, 12, 14).
        "QA_PIXEL" => 21824,
        "QA_RADSAT" => 0,
        "ST_B10" => 40000 + (r * 13 + c * 7 + s * 100) % 5000,
        "ST_QA" => 150 + (r + c) % 50,
        _ => 1000 + (r + c * 2 + s) % 2000,
    }) as f64
}

/// The scene's 30 m grid: the transform's origin is half a pixel outside the MTL's corner centres.
pub fn transform(s: &Scene) -> [f64; 6] {
    [
        s.ul_centre.0 - RES / 2.0,
        RES,
        0.0,
        s.ul_centre.1 + RES / 2.0,
        0.0,
        -RES,
    ]
}

pub fn epsg(s: &Scene) -> u32 {
    32600 + s.utm_zone
}

/// `collection02/level-2/standard/oli-tirs/{YYYY}/{PPP}/{RRR}/{PRODUCT_ID}` (acquisition year).
pub fn key_prefix(s: &Scene) -> String {
    format!(
        "collection02/level-2/standard/oli-tirs/{}/{:03}/{:03}/{}",
        &s.date[..4],
        s.path,
        s.row,
        s.product_id
    )
}

/// Lon/lat of projected points of the scene's UTM zone.
pub fn to_lonlat(s: &Scene, pts: &[(f64, f64)]) -> Result<Vec<(f64, f64)>, String> {
    let src = raster::epsg(epsg(s))?;
    let mut dst = SpatialRef::from_epsg(4326).map_err(|e| e.to_string())?;
    dst.set_axis_mapping_strategy(AxisMappingStrategy::TraditionalGisOrder);
    let mut src = src;
    src.set_axis_mapping_strategy(AxisMappingStrategy::TraditionalGisOrder);
    let t = CoordTransform::new(&src, &dst).map_err(|e| e.to_string())?;
    let mut xs: Vec<f64> = pts.iter().map(|p| p.0).collect();
    let mut ys: Vec<f64> = pts.iter().map(|p| p.1).collect();
    let mut zs = vec![0.0; pts.len()];
    t.transform_coords(&mut xs, &mut ys, &mut zs)
        .map_err(|e| e.to_string())?;
    Ok(xs.into_iter().zip(ys).collect())
}

fn write_band(path: &Path, s: usize, b: &BandFile) -> Result<(), String> {
    let sc = &SCENES[s];
    let srs = raster::epsg(epsg(sc))?;
    let vals: Vec<f64> = (0..SIZE)
        .flat_map(|r| (0..SIZE).map(move |c| stored(s, b.suffix, r, c)))
        .collect();
    let opts = [
        "COMPRESS=DEFLATE",
        "PREDICTOR=2",
        "BLOCKSIZE=256",
        "OVERVIEWS=AUTO",
    ];
    let gt = transform(sc);
    let size = (SIZE, SIZE);
    match b.dtype {
        "uint16" => {
            let d: Vec<u16> = vals.iter().map(|v| *v as u16).collect();
            raster::write(
                path,
                "COG",
                &opts,
                size,
                gt,
                &srs,
                &[Band {
                    data: &d,
                    nodata: b.nodata,
                }],
            )
        }
        "int16" => {
            let d: Vec<i16> = vals.iter().map(|v| *v as i16).collect();
            raster::write(
                path,
                "COG",
                &opts,
                size,
                gt,
                &srs,
                &[Band {
                    data: &d,
                    nodata: b.nodata,
                }],
            )
        }
        "uint8" => {
            let d: Vec<u8> = vals.iter().map(|v| *v as u8).collect();
            raster::write(
                path,
                "COG",
                &opts,
                size,
                gt,
                &srs,
                &[Band {
                    data: &d,
                    nodata: b.nodata,
                }],
            )
        }
        t => unreachable!("{t}"),
    }
}

const SPEC: &[&str] = &[
    "Landsat 8-9 Collection 2 Level 2 Science Product Guide (USGS LSDS-1619)",
    "Landsat 8-9 OLI/TIRS Collection 2 Level 2 Data Format Control Book (USGS LSDS-1328)",
    "https://www.usgs.gov/faqs/how-do-i-use-a-scale-factor-landsat-level-2-science-products",
    "https://landsatlook.usgs.gov/stac-server (collections landsat-c2l2-sr, landsat-c2l2-st)",
];

pub fn write(root: &Path, m: &mut Manifest) -> Result<(), String> {
    for (i, sc) in SCENES.iter().enumerate() {
        let dir_rel = format!("landsat/{}", key_prefix(sc));
        let dir = root.join(&dir_rel);
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        for b in all_bands() {
            let rel = format!("{dir_rel}/{}_{}.TIF", sc.product_id, b.suffix);
            write_band(&root.join(&rel), i, b)?;
            m.add(
                &rel,
                "landsat",
                SPEC,
                json!({
                    "format": "COG", "scene": sc.product_id, "item": b.item,
                    "bands": [{"band": 1, "suffix": b.suffix, "dtype": b.dtype, "nodata": b.nodata,
                               "scale_factor": b.scale.map(|s| s.0), "add_offset": b.scale.map(|s| s.1),
                               "rule": format!("conformance_lake::landsat::stored({i}, \"{}\", row, col)", b.suffix)}],
                    "grid": {"crs": format!("EPSG:{}", epsg(sc)), "shape": [SIZE, SIZE], "transform": transform(sc)},
                    "time": {"datetime": format!("{}T{}", sc.date, sc.center_time)},
                }),
            );
        }
        let tree = mtl::tree(sc)?;
        for (ext, text) in [
            ("MTL.json", mtl::to_json(&tree)),
            ("MTL.xml", mtl::to_xml(&tree)),
            ("MTL.txt", mtl::to_odl(&tree)),
        ] {
            let rel = format!("{dir_rel}/{}_{ext}", sc.product_id);
            std::fs::write(root.join(&rel), text).map_err(|e| e.to_string())?;
            m.add(
                &rel,
                "landsat",
                SPEC,
                json!({"format": ext, "scene": sc.product_id}),
            );
        }
        for kind in ["SR", "ST"] {
            let item = stac::item(sc, kind)?;
            let rel = format!("{dir_rel}/{}_{kind}_stac.json", sc.product_id);
            let text = serde_json::to_string_pretty(&item).map_err(|e| e.to_string())?;
            std::fs::write(root.join(&rel), text).map_err(|e| e.to_string())?;
            m.add(
                &rel,
                "landsat",
                SPEC,
                json!({"format": "STAC item", "shape": format!("{:?}", sc.stac), "scene": sc.product_id,
                       "collection": format!("landsat-c2l2-{}", kind.to_lowercase()),
                       "href_prefix": "https://landsatlook.usgs.gov/data/ (maps to landsat/ in this lake)"}),
            );
        }
    }
    Ok(())
}
