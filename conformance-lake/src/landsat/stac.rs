//! USGS's STAC items for a scene, in the two shapes USGS published (provider-specs.md §5, verified from
//! real items stored in stactools-packages/landsat `tests/`):
//! - [`StacShape::Current`]: STAC 1.0.0 as `https://landsatlook.usgs.gov/stac-server` serves it — ids with
//!   an `_SR`/`_ST` suffix, `platform`/`instruments`, `view:*`, zero-padded string WRS path/row,
//!   `proj:epsg`/`proj:shape`/`proj:transform` at item level only, asset keys by common name (`red`,
//!   `nir08`, `qa_pixel`, …; ST auxiliary keys upper-case `ATRAN`, … `QA`), `alternate.s3` requester-pays
//!   hrefs, no `raster:bands`. The Landsat 8/9 thermal key `lwir11` is [unverified] (USGS's TM ST item
//!   uses `lwir`); the `file` extension's checksums are not written (the extension is then not declared);
//! - [`StacShape::Legacy070`]: STAC 0.7.0 static items — id without suffix, date-only `datetime`,
//!   `eo:*` properties, `eo:bands` in properties referenced from assets by index, asset keys that are file
//!   suffixes (`SR_B4.TIF`), no roles, no projection fields, unpadded WRS path.
use super::{key_prefix, mtl, to_lonlat, transform, Scene, StacShape, RES, SIZE};
use serde_json::{json, Map, Value};

const HTTPS: &str = "https://landsatlook.usgs.gov/data/";
const S3: &str = "s3://usgs-landsat/";
const COG: &str = "image/vnd.stac.geotiff; cloud-optimized=true";

struct Spec {
    suffix: &'static str,
    key: &'static str,
    title: &'static str,
    eo: Option<(&'static str, &'static str, f64, f64)>,
    roles: &'static [&'static str],
}

const SR_ASSETS: [Spec; 10] = [
    Spec {
        suffix: "SR_B1.TIF",
        key: "coastal",
        title: "Coastal/Aerosol Band (B1)",
        eo: Some(("B1", "coastal", 30.0, 0.44)),
        roles: &["data"],
    },
    Spec {
        suffix: "SR_B2.TIF",
        key: "blue",
        title: "Blue Band (B2)",
        eo: Some(("B2", "blue", 30.0, 0.48)),
        roles: &["data"],
    },
    Spec {
        suffix: "SR_B3.TIF",
        key: "green",
        title: "Green Band (B3)",
        eo: Some(("B3", "green", 30.0, 0.56)),
        roles: &["data"],
    },
    Spec {
        suffix: "SR_B4.TIF",
        key: "red",
        title: "Red Band (B4)",
        eo: Some(("B4", "red", 30.0, 0.65)),
        roles: &["data"],
    },
    Spec {
        suffix: "SR_B5.TIF",
        key: "nir08",
        title: "Near Infrared Band 0.8 (B5)",
        eo: Some(("B5", "nir08", 30.0, 0.86)),
        roles: &["data", "reflectance"],
    },
    Spec {
        suffix: "SR_B6.TIF",
        key: "swir16",
        title: "Short-wave Infrared Band 1.6 (B6)",
        eo: Some(("B6", "swir16", 30.0, 1.6)),
        roles: &["data", "reflectance"],
    },
    Spec {
        suffix: "SR_B7.TIF",
        key: "swir22",
        title: "Short-wave Infrared Band 2.2 (B7)",
        eo: Some(("B7", "swir22", 30.0, 2.2)),
        roles: &["data", "reflectance"],
    },
    Spec {
        suffix: "SR_QA_AEROSOL.TIF",
        key: "qa_aerosol",
        title: "Aerosol Quality Analysis Band",
        eo: None,
        roles: &["metadata", "data-mask", "water-mask"],
    },
    Spec {
        suffix: "QA_PIXEL.TIF",
        key: "qa_pixel",
        title: "Pixel Quality Assessment Band",
        eo: None,
        roles: &["cloud", "cloud-shadow", "snow-ice", "water-mask"],
    },
    Spec {
        suffix: "QA_RADSAT.TIF",
        key: "qa_radsat",
        title: "Radiometric Saturation Quality Assessment Band",
        eo: None,
        roles: &["saturation"],
    },
];

const ST_ASSETS: [Spec; 11] = [
    Spec {
        suffix: "ST_B10.TIF",
        key: "lwir11",
        title: "Surface Temperature Band (B10)",
        eo: Some(("B10", "lwir11", 100.0, 10.9)),
        roles: &["data", "temperature"],
    },
    Spec {
        suffix: "ST_ATRAN.TIF",
        key: "ATRAN",
        title: "Atmospheric Transmittance Band",
        eo: None,
        roles: &["data"],
    },
    Spec {
        suffix: "ST_CDIST.TIF",
        key: "CDIST",
        title: "Cloud Distance Band",
        eo: None,
        roles: &["data"],
    },
    Spec {
        suffix: "ST_DRAD.TIF",
        key: "DRAD",
        title: "Downwelled Radiance Band",
        eo: None,
        roles: &["data"],
    },
    Spec {
        suffix: "ST_URAD.TIF",
        key: "URAD",
        title: "Upwelled Radiance Band",
        eo: None,
        roles: &["data"],
    },
    Spec {
        suffix: "ST_TRAD.TIF",
        key: "TRAD",
        title: "Thermal Radiance Band",
        eo: None,
        roles: &["data"],
    },
    Spec {
        suffix: "ST_EMIS.TIF",
        key: "EMIS",
        title: "Emissivity Band",
        eo: None,
        roles: &["data"],
    },
    Spec {
        suffix: "ST_EMSD.TIF",
        key: "EMSD",
        title: "Emissivity Standard Deviation Band",
        eo: None,
        roles: &["data"],
    },
    Spec {
        suffix: "ST_QA.TIF",
        key: "QA",
        title: "Surface Temperature Quality Assessment Band",
        eo: None,
        roles: &["data"],
    },
    Spec {
        suffix: "QA_PIXEL.TIF",
        key: "qa_pixel",
        title: "Pixel Quality Assessment Band",
        eo: None,
        roles: &["cloud", "cloud-shadow", "snow-ice", "water-mask"],
    },
    Spec {
        suffix: "QA_RADSAT.TIF",
        key: "qa_radsat",
        title: "Radiometric Saturation Quality Assessment Band",
        eo: None,
        roles: &["saturation"],
    },
];

const META: [(&str, &str, &str); 4] = [
    ("ANG.txt", "Angle Coefficients File", "text/plain"),
    ("MTL.txt", "Product Metadata File", "text/plain"),
    ("MTL.xml", "Product Metadata File (xml)", "application/xml"),
    (
        "MTL.json",
        "Product Metadata File (json)",
        "application/json",
    ),
];

fn footprint(s: &Scene) -> Result<(Value, Vec<f64>), String> {
    let gt = transform(s);
    let (x0, y0) = (gt[0], gt[3]);
    let (x1, y1) = (x0 + SIZE as f64 * RES, y0 - SIZE as f64 * RES);
    let ll = to_lonlat(s, &[(x0, y0), (x1, y0), (x1, y1), (x0, y1)])?;
    let mut ring: Vec<Value> = ll.iter().map(|(x, y)| json!([x, y])).collect();
    ring.push(ring[0].clone());
    let lons: Vec<f64> = ll.iter().map(|p| p.0).collect();
    let lats: Vec<f64> = ll.iter().map(|p| p.1).collect();
    let min = |v: &[f64]| v.iter().cloned().fold(f64::INFINITY, f64::min);
    let max = |v: &[f64]| v.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    Ok((
        json!({"type": "Polygon", "coordinates": [ring]}),
        vec![min(&lons), min(&lats), max(&lons), max(&lats)],
    ))
}

/// The `_SR_stac.json` (`kind` = "SR") or `_ST_stac.json` item of a scene.
pub fn item(s: &Scene, kind: &str) -> Result<Value, String> {
    match s.stac {
        StacShape::Current => current(s, kind),
        StacShape::Legacy070 => legacy(s, kind),
    }
}

fn microseconds(t: &str) -> String {
    // SCENE_CENTER_TIME has 7 fractional digits; the STAC datetime carries 6.
    let (hms, frac) = t.trim_end_matches('Z').split_once('.').unwrap_or((t, "0"));
    format!("{hms}.{:0<6.6}Z", frac)
}

fn current(s: &Scene, kind: &str) -> Result<Value, String> {
    let t = mtl::tree(s)?;
    let pid = s.product_id;
    let prefix = key_prefix(s);
    let (geometry, bbox) = footprint(s)?;
    let mut assets = Map::new();
    assets.insert("thumbnail".into(), json!({"title": "Thumbnail image", "type": "image/jpeg", "roles": ["thumbnail"],
        "href": format!("{HTTPS}{prefix}/{pid}_thumb_small.jpeg"),
        "alternate": {"s3": {"storage:platform": "AWS", "storage:requester_pays": true, "href": format!("{S3}{prefix}/{pid}_thumb_small.jpeg")}}}));
    assets.insert("reduced_resolution_browse".into(), json!({"title": "Reduced resolution browse image", "type": "image/jpeg", "roles": ["overview"],
        "href": format!("{HTTPS}{prefix}/{pid}_thumb_large.jpeg"),
        "alternate": {"s3": {"storage:platform": "AWS", "storage:requester_pays": true, "href": format!("{S3}{prefix}/{pid}_thumb_large.jpeg")}}}));
    assets.insert(
        "index".into(),
        json!({"title": "HTML index page", "type": "text/html", "roles": ["metadata"],
        "href": format!("https://landsatlook.usgs.gov/stac-browser/{prefix}")}),
    );
    let specs: &[Spec] = if kind == "SR" { &SR_ASSETS } else { &ST_ASSETS };
    for sp in specs {
        let mut a = json!({
            "title": sp.title,
            "description": format!("Collection 2 Level-2 {} {}", sp.title,
                if kind == "SR" { "Surface Reflectance" } else { "Surface Temperature" }),
            "type": COG,
            "roles": sp.roles,
            "href": format!("{HTTPS}{prefix}/{pid}_{}", sp.suffix),
            "alternate": {"s3": {"storage:platform": "AWS", "storage:requester_pays": true,
                                 "href": format!("{S3}{prefix}/{pid}_{}", sp.suffix)}},
        });
        if let Some((name, common, gsd, cw)) = sp.eo {
            a["eo:bands"] =
                json!([{"name": name, "common_name": common, "gsd": gsd, "center_wavelength": cw}]);
        }
        assets.insert(sp.key.into(), a);
    }
    for (suf, title, ty) in META {
        assets.insert(suf.into(), json!({"title": title, "type": ty, "roles": ["metadata"],
            "href": format!("{HTTPS}{prefix}/{pid}_{suf}"),
            "alternate": {"s3": {"storage:platform": "AWS", "storage:requester_pays": true, "href": format!("{S3}{prefix}/{pid}_{suf}")}}}));
    }
    let coll = format!("landsat-c2l2-{}", kind.to_lowercase());
    let id = format!("{pid}_{kind}");
    let scene_id = mtl::get(&t, "LEVEL1_PROCESSING_RECORD", "LANDSAT_SCENE_ID");
    let num = |g: &str, k: &str| mtl::get(&t, g, k).parse::<f64>().unwrap_or(0.0);
    let created = format!("{}T06:01:12.154Z", s.processed);
    Ok(json!({
        "type": "Feature",
        "stac_version": "1.0.0",
        "stac_extensions": [
            "https://stac-extensions.github.io/landsat/v2.0.0/schema.json",
            "https://stac-extensions.github.io/view/v1.0.0/schema.json",
            "https://stac-extensions.github.io/projection/v1.0.0/schema.json",
            "https://stac-extensions.github.io/eo/v1.0.0/schema.json",
            "https://stac-extensions.github.io/alternate-assets/v1.1.0/schema.json",
            "https://stac-extensions.github.io/storage/v1.0.0/schema.json"
        ],
        "id": id,
        "description": if kind == "SR" { "Landsat Collection 2 Level-2 Surface Reflectance Product" }
                       else { "Landsat Collection 2 Level-2 Surface Temperature Product" },
        "bbox": bbox,
        "geometry": geometry,
        "properties": {
            "datetime": format!("{}T{}", s.date, microseconds(s.center_time)),
            "eo:cloud_cover": s.cloud_cover,
            "view:sun_azimuth": num("IMAGE_ATTRIBUTES", "SUN_AZIMUTH"),
            "view:sun_elevation": num("IMAGE_ATTRIBUTES", "SUN_ELEVATION"),
            "platform": s.spacecraft,
            "instruments": ["OLI", "TIRS"],
            "view:off_nadir": 0,
            "landsat:cloud_cover_land": s.cloud_cover,
            "landsat:wrs_type": "2",
            "landsat:wrs_path": format!("{:03}", s.path),
            "landsat:wrs_row": format!("{:03}", s.row),
            "landsat:scene_id": scene_id,
            "landsat:collection_category": "T1",
            "landsat:collection_number": "02",
            "landsat:correction": "L2SP",
            "proj:epsg": super::epsg(s),
            "proj:shape": [SIZE, SIZE],
            "proj:transform": transform(s),
            "created": created,
            "updated": created,
        },
        "assets": assets,
        "links": [
            {"rel": "self", "href": format!("https://landsatlook.usgs.gov/stac-server/collections/{coll}/items/{id}")},
            {"rel": "parent", "href": format!("https://landsatlook.usgs.gov/stac-server/collections/{coll}")},
            {"rel": "collection", "href": format!("https://landsatlook.usgs.gov/stac-server/collections/{coll}")},
            {"rel": "root", "href": "https://landsatlook.usgs.gov/stac-server/"}
        ],
        "collection": coll,
    }))
}

fn legacy(s: &Scene, kind: &str) -> Result<Value, String> {
    let t = mtl::tree(s)?;
    let pid = s.product_id;
    let prefix = key_prefix(s);
    let (geometry, bbox) = footprint(s)?;
    let specs: &[Spec] = if kind == "SR" { &SR_ASSETS } else { &ST_ASSETS };
    // eo:bands at item level; 0.7.0 ST names the thermal band's common name "tir11".
    let bands: Vec<Value> = specs
        .iter()
        .filter_map(|sp| sp.eo)
        .map(|(_, common, _, cw)| {
            let name = if common == "lwir11" {
                "ST_B10".to_string()
            } else {
                specs
                    .iter()
                    .find(|x| x.eo.map(|e| e.1) == Some(common))
                    .unwrap()
                    .suffix
                    .trim_end_matches(".TIF")
                    .to_string()
            };
            let common = if common == "lwir11" { "tir11" } else { common };
            json!({"name": name, "common_name": common, "gsd": 30, "center_wavelength": cw})
        })
        .collect();
    let mut assets = Map::new();
    assets.insert(
        "thumbnail".into(),
        json!({"title": "Thumbnail image", "type": "image/jpeg",
        "href": format!("{HTTPS}{prefix}/{pid}_thumb_small.jpeg")}),
    );
    assets.insert(
        "reduced_resolution_browse".into(),
        json!({"title": "Reduced resolution browse image", "type": "image/jpeg",
        "href": format!("{HTTPS}{prefix}/{pid}_thumb_large.jpeg")}),
    );
    assets.insert(
        "index".into(),
        json!({"title": "HTML index page", "type": "text/html",
        "href": format!("https://landsatlook.usgs.gov/stac-browser/{prefix}")}),
    );
    let mut idx = 0;
    for sp in specs {
        let mut a = json!({"title": sp.title, "type": COG, "href": format!("{HTTPS}{prefix}/{pid}_{}", sp.suffix)});
        if sp.eo.is_some() {
            a["eo:bands"] = json!([idx]);
            idx += 1;
        }
        assets.insert(sp.suffix.into(), a);
    }
    for (suf, title, ty) in META {
        assets.insert(
            suf.into(),
            json!({"title": title, "type": ty, "href": format!("{HTTPS}{prefix}/{pid}_{suf}")}),
        );
    }
    let num = |g: &str, k: &str| mtl::get(&t, g, k).parse::<f64>().unwrap_or(0.0);
    let coll = format!("landsat-c2l2-{}", kind.to_lowercase());
    Ok(json!({
        "type": "Feature",
        "stac_version": "0.7.0",
        "stac_extensions": ["eo", "https://landsat.usgs.gov/stac/landsat-extension/schema.json"],
        "id": pid,
        "description": if kind == "SR" { "Landsat Collection 2 Level-2 Surface Reflectance Product" }
                       else { "Landsat Collection 2 Level-2 Surface Temperature Product" },
        "bbox": bbox,
        "geometry": geometry,
        "properties": {
            "datetime": s.date,
            "eo:cloud_cover": s.cloud_cover,
            "eo:sun_azimuth": num("IMAGE_ATTRIBUTES", "SUN_AZIMUTH"),
            "eo:sun_elevation": num("IMAGE_ATTRIBUTES", "SUN_ELEVATION"),
            "eo:platform": s.spacecraft,
            "eo:instrument": "OLI_TIRS",
            "eo:off_nadir": 0,
            "landsat:cloud_cover_land": s.cloud_cover,
            "landsat:wrs_type": "2",
            "landsat:wrs_path": s.path.to_string(),
            "landsat:wrs_row": s.row.to_string(),
            "landsat:scene_id": mtl::get(&t, "LEVEL1_PROCESSING_RECORD", "LANDSAT_SCENE_ID"),
            "landsat:collection_category": "T1",
            "landsat:collection_number": "02",
            "eo:bands": bands,
        },
        "assets": assets,
        "links": [
            {"rel": "root", "href": "https://landsatlook.usgs.gov/data/catalog.json"},
            {"rel": "parent", "href": "https://landsatlook.usgs.gov/data/catalog.json"},
            {"rel": "collection", "href": format!("https://landsatlook.usgs.gov/data/collection02/{coll}.json")},
            {"rel": "self", "href": format!("{HTTPS}{prefix}/{pid}_{kind}_stac.json")}
        ],
        "collection": coll,
    }))
}
