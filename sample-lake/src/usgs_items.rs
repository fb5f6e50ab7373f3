//! The STAC items USGS writes beside a Landsat Collection 2 Level-2 scene: the current
//! `_SR_stac.json` (collection `landsat-c2l2-sr`) and `_ST_stac.json` (`landsat-c2l2-st`) — STAC 1.0.0
//! with the eo, view, projection, raster and landsat extensions, ids `<product id>_SR`/`_ST`,
//! `platform: LANDSAT_8`, item-level `proj:*`, absolute landsatlook hrefs with `alternate.s3` bucket
//! hrefs, no `raster:bands`, as in a stac-server response recorded in stactools-packages/landsat
//! `tests/fixtures/usgs_stac_api.yml` (shared-research/provider-specs.md §5a) — and the STAC 0.7.0 items
//! of the 2020 processing, laid out as USGS's own file of scene LC08_L2SP_001062_20201031_20201106_02_T2
//! (`s3://usgs-landsat/collection02/level-2/standard/oli-tirs/2020/001/062/…_SR_stac.json` and
//! `…_ST_stac.json`, as copied in cogeotiff/rio-tiler-pds `tests/fixtures/usgs-landsat`): date-only
//! `datetime`, `eo:platform`/`eo:instrument`, file-suffix asset keys (`SR_B4.TIF`), asset `eo:bands`
//! as indices into `properties.eo:bands`, no projection extension, the product id as item id.
use serde_json::{json, Map, Value};

/// Where hrefs start; the demo maps it onto its bucket with `--href-rewrite`.
pub const USGS_DATA: &str = "https://landsatlook.usgs.gov/data/";
const COG: &str = "image/vnd.stac.geotiff; cloud-optimized=true";

/// What the items of one scene say about it.
pub struct Scene<'a> {
    /// Landsat product id, e.g. `LC08_L2SP_034032_20200615_20200824_02_T1`.
    pub id: &'a str,
    /// Acquisition date `YYYY-MM-DD`.
    pub date: &'a str,
    /// Scene-centre time as the current items write it (microseconds): `17:36:12.517027`.
    pub time: &'a str,
    /// The scene's folder key under the bucket.
    pub dir_key: &'a str,
    /// Lon/lat bounding box and footprint ring.
    pub bbox: [f64; 4],
    /// Footprint ring (closed), lon/lat.
    pub ring: &'a [[f64; 2]],
    /// UTM zone (north) of the grid.
    pub utm_zone: u32,
    /// Rows and columns.
    pub shape: [usize; 2],
    /// eo3/STAC affine `[a, b, c, d, e, f]`.
    pub transform: [f64; 6],
}

/// The SR and ST reflective/thermal bands: (asset key, file suffix, title, common name, centre µm).
const SR_BANDS: [(&str, &str, &str, &str, f64); 7] = [
    (
        "coastal",
        "SR_B1",
        "Coastal/Aerosol Band (B1)",
        "coastal",
        0.44,
    ),
    ("blue", "SR_B2", "Blue Band (B2)", "blue", 0.48),
    ("green", "SR_B3", "Green Band (B3)", "green", 0.56),
    ("red", "SR_B4", "Red Band (B4)", "red", 0.65),
    (
        "nir08",
        "SR_B5",
        "Near Infrared Band 0.8 (B5)",
        "nir08",
        0.86,
    ),
    (
        "swir16",
        "SR_B6",
        "Short-wave Infrared Band 1.6 (B6)",
        "swir16",
        1.6,
    ),
    (
        "swir22",
        "SR_B7",
        "Short-wave Infrared Band 2.2 (B7)",
        "swir22",
        2.2,
    ),
];

/// The ST intermediate and QA bands: (asset key, file suffix, title). Current items key them in upper
/// case (`TRAD`, …, `QA`), as USGS's TM ST item of the same era does (provider-specs.md §5a; no OLI ST
/// item of that shape was found: [unverified] for Landsat 8/9).
const ST_AUX: [(&str, &str, &str); 8] = [
    ("TRAD", "ST_TRAD", "Thermal Radiance Band"),
    ("URAD", "ST_URAD", "Upwelled Radiance Band"),
    ("DRAD", "ST_DRAD", "Downwelled Radiance Band"),
    ("ATRAN", "ST_ATRAN", "Atmospheric Transmittance Band"),
    ("EMIS", "ST_EMIS", "Emissivity Band"),
    ("EMSD", "ST_EMSD", "Emissivity Standard Deviation Band"),
    ("CDIST", "ST_CDIST", "Cloud Distance Band"),
    ("QA", "ST_QA", "Surface Temperature Quality Assessment Band"),
];

impl Scene<'_> {
    fn href(&self, suffix: &str) -> String {
        format!("{USGS_DATA}{}/{}_{suffix}", self.dir_key, self.id)
    }

    /// A current item's data asset: landsatlook href and its requester-pays bucket alternate.
    fn asset(&self, suffix: &str, title: &str, description: &str, roles: &[&str]) -> Value {
        json!({"title": title, "description": description, "type": COG, "roles": roles,
            "href": self.href(suffix),
            "alternate": {"s3": {"storage:platform": "AWS", "storage:requester_pays": true,
                "href": format!("s3://usgs-landsat/{}/{}_{suffix}", self.dir_key, self.id)}}})
    }

    fn wrs(&self) -> (&str, &str) {
        (&self.id[10..13], &self.id[13..16])
    }

    fn category(&self) -> &str {
        &self.id[self.id.len() - 2..]
    }

    fn scene_id(&self) -> String {
        let (path, row) = self.wrs();
        let d = chrono_free_doy(self.date);
        format!("LC8{path}{row}{}{d:03}LGN00", &self.date[..4])
    }

    /// The current `_SR_stac.json` (`landsat-c2l2-sr`).
    pub fn sr_item(&self) -> Value {
        let mut assets = Map::new();
        for (key, suffix, title, common, centre) in SR_BANDS {
            let roles: &[&str] = if key.starts_with("nir") || key.starts_with("swir") {
                &["data", "reflectance"]
            } else {
                &["data"]
            };
            let mut a = self.asset(
                &format!("{suffix}.TIF"),
                title,
                &format!("Collection 2 Level-2 {title} Surface Reflectance"),
                roles,
            );
            a["eo:bands"] = json!([{"name": suffix.trim_start_matches("SR_"), "common_name": common,
                "gsd": 30, "center_wavelength": centre}]);
            assets.insert(key.into(), a);
        }
        assets.insert(
            "qa_aerosol".into(),
            self.asset(
                "SR_QA_AEROSOL.TIF",
                "Aerosol Quality Analysis Band",
                "Collection 2 Level-2 Aerosol Quality Analysis Band (ANG) Surface Reflectance",
                &["metadata", "data-mask", "water-mask"],
            ),
        );
        self.current_item("SR", "landsat-c2l2-sr", "Surface Reflectance", assets)
    }

    /// The current `_ST_stac.json` (`landsat-c2l2-st`).
    pub fn st_item(&self) -> Value {
        let mut assets = Map::new();
        let mut lwir = self.asset(
            "ST_B10.TIF",
            "Surface Temperature Band (B10)",
            "Landsat Collection 2 Level-2 Surface Temperature Band (B10) Surface Temperature Product",
            &["data", "temperature"],
        );
        lwir["eo:bands"] = json!([{"name": "B10", "common_name": "lwir11", "gsd": 100, "center_wavelength": 10.9}]);
        assets.insert("lwir11".into(), lwir);
        for (key, suffix, title) in ST_AUX {
            let description =
                format!("Landsat Collection 2 Level-2 {title} Surface Temperature Product");
            assets.insert(
                key.into(),
                self.asset(&format!("{suffix}.TIF"), title, &description, &["data"]),
            );
        }
        self.current_item("ST", "landsat-c2l2-st", "Surface Temperature", assets)
    }

    fn current_item(
        &self,
        kind: &str,
        collection: &str,
        title: &str,
        mut assets: Map<String, Value>,
    ) -> Value {
        assets.insert(
            "qa_pixel".into(),
            self.asset(
                "QA_PIXEL.TIF",
                "Pixel Quality Assessment Band",
                &format!("Collection 2 Level-2 Pixel Quality Assessment Band {title}"),
                &["cloud", "cloud-shadow", "snow-ice", "water-mask"],
            ),
        );
        assets.insert(
            "qa_radsat".into(),
            self.asset(
                "QA_RADSAT.TIF",
                "Radiometric Saturation Quality Assessment Band",
                &format!(
                    "Collection 2 Level-2 Radiometric Saturation Quality Assessment Band {title}"
                ),
                &["saturation"],
            ),
        );
        assets.insert(
            "MTL.json".into(),
            json!({"title": "Product Metadata File (json)", "href": self.href("MTL.json"),
            "type": "application/json", "roles": ["metadata"]}),
        );
        let (path, row) = self.wrs();
        let item_id = format!("{}_{kind}", self.id);
        let api = "https://landsatlook.usgs.gov/stac-server";
        json!({
            "type": "Feature",
            "stac_version": "1.0.0",
            "stac_extensions": [
                "https://stac-extensions.github.io/landsat/v2.0.0/schema.json",
                "https://stac-extensions.github.io/view/v1.0.0/schema.json",
                "https://stac-extensions.github.io/projection/v1.0.0/schema.json",
                "https://stac-extensions.github.io/file/v1.0.0/schema.json",
                "https://stac-extensions.github.io/eo/v1.0.0/schema.json",
                "https://stac-extensions.github.io/alternate-assets/v1.1.0/schema.json",
                "https://stac-extensions.github.io/storage/v1.0.0/schema.json"
            ],
            "id": item_id,
            "description": format!("Landsat Collection 2 Level-2 {title} Product"),
            "bbox": self.bbox,
            "geometry": {"type": "Polygon", "coordinates": [self.ring]},
            "properties": {
                "datetime": format!("{}T{}Z", self.date, self.time),
                "eo:cloud_cover": 1.23,
                "view:sun_azimuth": 128.53,
                "view:sun_elevation": 66.87,
                "platform": "LANDSAT_8",
                "instruments": ["OLI", "TIRS"],
                "view:off_nadir": 0,
                "landsat:cloud_cover_land": 1.23,
                "landsat:wrs_type": "2",
                "landsat:wrs_path": path,
                "landsat:wrs_row": row,
                "landsat:scene_id": self.scene_id(),
                "landsat:collection_category": self.category(),
                "landsat:collection_number": "02",
                "landsat:correction": "L2SP",
                "proj:epsg": 32600 + self.utm_zone,
                "proj:shape": self.shape,
                "proj:transform": self.transform,
                "created": "2020-09-11T04:12:33.120Z",
                "updated": "2020-09-11T04:12:33.120Z",
            },
            "assets": assets,
            "links": [
                {"rel": "self", "href": format!("{api}/collections/{collection}/items/{item_id}")},
                {"rel": "parent", "href": format!("{api}/collections/{collection}")},
                {"rel": "collection", "href": format!("{api}/collections/{collection}")},
                {"rel": "root", "href": format!("{api}/")}
            ],
            "collection": collection
        })
    }

    /// The STAC 0.7.0 `_SR_stac.json` USGS wrote in 2020 for the same scene.
    pub fn legacy_sr_item(&self) -> Value {
        let bands: Vec<Value> = SR_BANDS
            .iter()
            .map(|(_, suffix, _, common, centre)| {
                json!({"name": suffix, "common_name": common, "gsd": 30, "center_wavelength": centre})
            })
            .collect();
        let mut assets = Map::new();
        for (i, (_, suffix, title, _, _)) in SR_BANDS.iter().enumerate() {
            assets.insert(
                format!("{suffix}.TIF"),
                json!({"title": title,
                "description": format!("Collection 2 Level-2 {title} Surface Reflectance"),
                "type": COG, "eo:bands": [i], "href": self.href(&format!("{suffix}.TIF"))}),
            );
        }
        assets.insert("SR_QA_AEROSOL.TIF".into(), json!({"title": "Aerosol Quality Analysis Band",
            "description": "Collection 2 Level-2 Aerosol Quality Analysis Band (ANG) Surface Reflectance",
            "type": COG, "href": self.href("SR_QA_AEROSOL.TIF")}));
        self.legacy_item("landsat-c2l2-sr", "Surface Reflectance", bands, assets)
    }

    /// The STAC 0.7.0 `_ST_stac.json` USGS wrote in 2020 for the same scene.
    pub fn legacy_st_item(&self) -> Value {
        let bands = vec![
            json!({"name": "ST_B10", "common_name": "tir11", "gsd": 30, "center_wavelength": 10.9}),
        ];
        let mut assets = Map::new();
        assets.insert("ST_B10.TIF".into(), json!({"title": "Surface Temperature Band (B10)",
            "description": "Landsat Collection 2 Level-2 Surface Temperature Band (B10) Surface Temperature Product",
            "type": COG, "href": self.href("ST_B10.TIF")}));
        for (_, suffix, title) in ST_AUX {
            assets.insert(format!("{suffix}.TIF"), json!({"title": title,
                "description": format!("Landsat Collection 2 Level-2 {title} Surface Temperature Product"),
                "type": COG, "href": self.href(&format!("{suffix}.TIF"))}));
        }
        self.legacy_item("landsat-c2l2-st", "Surface Temperature", bands, assets)
    }

    fn legacy_item(
        &self,
        collection: &str,
        title: &str,
        bands: Vec<Value>,
        mut assets: Map<String, Value>,
    ) -> Value {
        let (path, row) = self.wrs();
        let mut all = Map::new();
        for (key, t, href) in [
            (
                "thumbnail",
                "Thumbnail image",
                self.href("thumb_small.jpeg"),
            ),
            (
                "reduced_resolution_browse",
                "Reduced resolution browse image",
                self.href("thumb_large.jpeg"),
            ),
        ] {
            all.insert(
                key.into(),
                json!({"href": href, "title": t, "type": "image/jpeg"}),
            );
        }
        all.append(&mut assets);
        for (key, t, kind) in [
            ("MTL.txt", "Product Metadata File", "text/plain"),
            ("MTL.xml", "Product Metadata File (xml)", "application/xml"),
            (
                "MTL.json",
                "Product Metadata File (json)",
                "application/json",
            ),
        ] {
            all.insert(
                key.into(),
                json!({"title": t, "type": kind, "href": self.href(key)}),
            );
        }
        for (key, t) in [
            ("QA_PIXEL.TIF", "Pixel Quality Assessment Band"),
            (
                "QA_RADSAT.TIF",
                "Radiometric Saturation Quality Assessment Band",
            ),
        ] {
            all.insert(
                key.into(),
                json!({"title": t, "type": COG, "href": self.href(key)}),
            );
        }
        let folder = format!("{USGS_DATA}{}", self.dir_key);
        json!({
            "stac_version": "0.7.0",
            "stac_extensions": ["eo", "https://landsat.usgs.gov/stac/landsat-extension/schema.json"],
            "id": self.id,
            "type": "Feature",
            "bbox": self.bbox,
            "geometry": {"type": "Polygon", "coordinates": [self.ring]},
            "description": format!("Landsat Collection 2 Level-2 {title} Product"),
            "properties": {
                "datetime": self.date,
                "eo:cloud_cover": 1.23,
                "eo:sun_azimuth": 128.53,
                "eo:sun_elevation": 66.87,
                "eo:platform": "LANDSAT_8",
                "eo:instrument": "OLI_TIRS",
                "eo:off_nadir": 0,
                "landsat:cloud_cover_land": 1.23,
                "landsat:wrs_type": "2",
                "landsat:wrs_path": path.trim_start_matches('0'),
                "landsat:wrs_row": row.trim_start_matches('0'),
                "landsat:scene_id": self.scene_id(),
                "landsat:collection_category": self.category(),
                "landsat:collection_number": "02",
                "eo:bands": bands,
            },
            "assets": all,
            "links": [
                {"rel": "root", "href": format!("{USGS_DATA}catalog.json")},
                {"rel": "parent", "href": format!("{folder}/catalog.json")},
                {"rel": "collection", "href": format!("{USGS_DATA}collection02/{collection}.json")},
                {"rel": "self", "href": format!("{folder}/{}_{}_stac.json", self.id, if collection.ends_with("st") { "ST" } else { "SR" })}
            ],
            "collection": collection
        })
    }
}

/// Day of year of `YYYY-MM-DD` (Gregorian), without a date library.
fn chrono_free_doy(date: &str) -> u32 {
    let n = |r: std::ops::Range<usize>| date[r].parse::<u32>().unwrap_or(1);
    let (y, m, d) = (n(0..4), n(5..7), n(8..10));
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let before = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334];
    before[(m as usize - 1).min(11)] + d + u32::from(leap && m > 2)
}
