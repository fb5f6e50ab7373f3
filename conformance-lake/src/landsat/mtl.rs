//! The scene metadata file (MTL) in its three encodings, from one tree of groups and keys: `_MTL.json`
//! (root key `LANDSAT_METADATA_FILE`, every leaf a JSON string, numbers included), `_MTL.xml` (root element
//! `LANDSAT_METADATA_FILE`, no namespace) and `_MTL.txt` (ODL: `GROUP = …`, strings quoted, numbers and
//! dates bare). Groups, keys and their order follow the Landsat 8-9 C2 L2 DFCB (LSDS-1328) and real MTL
//! files (provider-specs.md §6, verified). LEVEL1_MIN_MAX_* and LEVEL1_RADIOMETRIC_RESCALING are omitted.
//! Corner coordinates are pixel centres (the published STAC `proj:transform` of the same scene starts
//! half a pixel outside them — provider-specs.md §5a's 353685 vs centres on the 30 m lattice).
use super::{to_lonlat, Scene, RES, SIZE, SR_SCALE, ST_SCALE};
use serde_json::{Map, Value};

/// A value and whether ODL quotes it.
pub struct V {
    pub text: String,
    pub quoted: bool,
}
pub type Tree = Vec<(&'static str, Vec<(String, V)>)>;

fn q(s: impl Into<String>) -> V {
    V {
        text: s.into(),
        quoted: true,
    }
}
fn n(s: impl Into<String>) -> V {
    V {
        text: s.into(),
        quoted: false,
    }
}

pub fn tree(s: &Scene) -> Result<Tree, String> {
    let pid = s.product_id;
    let l1_id = pid.replace("L2SP", "L1TP");
    let sat = &pid[2..4];
    let doy = chrono::NaiveDate::parse_from_str(s.date, "%Y-%m-%d")
        .map_err(|e| e.to_string())?
        .format("%j");
    let scene_id = format!(
        "LC{}{:03}{:03}{}{doy}LGN00",
        &sat[1..],
        s.path,
        s.row,
        &s.date[..4]
    );
    let f = |suffix: &str| q(format!("{pid}_{suffix}"));
    let mut pc: Vec<(String, V)> = vec![
        (
            "ORIGIN".into(),
            q("Image courtesy of the U.S. Geological Survey"),
        ),
        (
            "DIGITAL_OBJECT_IDENTIFIER".into(),
            q("https://doi.org/10.5066/P9OGBGM6"),
        ),
        ("LANDSAT_PRODUCT_ID".into(), q(pid)),
        ("PROCESSING_LEVEL".into(), q("L2SP")),
        ("COLLECTION_NUMBER".into(), n("02")),
        ("COLLECTION_CATEGORY".into(), q("T1")),
        ("OUTPUT_FORMAT".into(), q("GEOTIFF")),
    ];
    for b in 1..=7 {
        pc.push((format!("FILE_NAME_BAND_{b}"), f(&format!("SR_B{b}.TIF"))));
    }
    for (k, suf) in [
        ("FILE_NAME_BAND_ST_B10", "ST_B10.TIF"),
        ("FILE_NAME_THERMAL_RADIANCE", "ST_TRAD.TIF"),
        ("FILE_NAME_UPWELL_RADIANCE", "ST_URAD.TIF"),
        ("FILE_NAME_DOWNWELL_RADIANCE", "ST_DRAD.TIF"),
        ("FILE_NAME_ATMOSPHERIC_TRANSMITTANCE", "ST_ATRAN.TIF"),
        ("FILE_NAME_EMISSIVITY", "ST_EMIS.TIF"),
        ("FILE_NAME_EMISSIVITY_STDEV", "ST_EMSD.TIF"),
        ("FILE_NAME_CLOUD_DISTANCE", "ST_CDIST.TIF"),
        ("FILE_NAME_QUALITY_L2_AEROSOL", "SR_QA_AEROSOL.TIF"),
        ("FILE_NAME_QUALITY_L2_SURFACE_TEMPERATURE", "ST_QA.TIF"),
        ("FILE_NAME_QUALITY_L1_PIXEL", "QA_PIXEL.TIF"),
        (
            "FILE_NAME_QUALITY_L1_RADIOMETRIC_SATURATION",
            "QA_RADSAT.TIF",
        ),
        ("FILE_NAME_ANGLE_COEFFICIENT", "ANG.txt"),
        ("FILE_NAME_METADATA_ODL", "MTL.txt"),
        ("FILE_NAME_METADATA_XML", "MTL.xml"),
    ] {
        pc.push((k.into(), f(suf)));
    }
    for b in 1..=7 {
        pc.push((format!("DATA_TYPE_BAND_{b}"), q("UINT16")));
    }
    for (k, t) in [
        ("DATA_TYPE_BAND_ST_B10", "UINT16"),
        ("DATA_TYPE_THERMAL_RADIANCE", "INT16"),
        ("DATA_TYPE_UPWELL_RADIANCE", "INT16"),
        ("DATA_TYPE_DOWNWELL_RADIANCE", "INT16"),
        ("DATA_TYPE_ATMOSPHERIC_TRANSMITTANCE", "INT16"),
        ("DATA_TYPE_EMISSIVITY", "INT16"),
        ("DATA_TYPE_EMISSIVITY_STDEV", "INT16"),
        ("DATA_TYPE_CLOUD_DISTANCE", "INT16"),
        ("DATA_TYPE_QUALITY_L2_AEROSOL", "UINT8"),
        ("DATA_TYPE_QUALITY_L2_SURFACE_TEMPERATURE", "INT16"),
        ("DATA_TYPE_QUALITY_L1_PIXEL", "UINT16"),
        ("DATA_TYPE_QUALITY_L1_RADIOMETRIC_SATURATION", "UINT16"),
    ] {
        pc.push((k.into(), q(t)));
    }

    let ia: Vec<(String, V)> = vec![
        ("SPACECRAFT_ID".into(), q(s.spacecraft)),
        ("SENSOR_ID".into(), q("OLI_TIRS")),
        ("WRS_TYPE".into(), n("2")),
        ("WRS_PATH".into(), n(s.path.to_string())),
        ("WRS_ROW".into(), n(s.row.to_string())),
        ("NADIR_OFFNADIR".into(), q("NADIR")),
        ("TARGET_WRS_PATH".into(), n(s.path.to_string())),
        ("TARGET_WRS_ROW".into(), n(s.row.to_string())),
        ("DATE_ACQUIRED".into(), n(s.date)),
        ("SCENE_CENTER_TIME".into(), q(s.center_time)),
        ("STATION_ID".into(), q("LGN")),
        ("CLOUD_COVER".into(), n(format!("{:.2}", s.cloud_cover))),
        (
            "CLOUD_COVER_LAND".into(),
            n(format!("{:.2}", s.cloud_cover)),
        ),
        ("IMAGE_QUALITY_OLI".into(), n("9")),
        ("IMAGE_QUALITY_TIRS".into(), n("9")),
        ("ROLL_ANGLE".into(), n("-0.001")),
        ("SUN_AZIMUTH".into(), n(format!("{:.8}", s.sun_azimuth))),
        ("SUN_ELEVATION".into(), n(format!("{:.8}", s.sun_elevation))),
        ("EARTH_SUN_DISTANCE".into(), n("1.0141204")),
    ];

    let (x0, y0) = s.ul_centre;
    let x1 = x0 + (SIZE - 1) as f64 * RES;
    let y1 = y0 - (SIZE - 1) as f64 * RES;
    let corners = [
        ("UL", x0, y0),
        ("UR", x1, y0),
        ("LL", x0, y1),
        ("LR", x1, y1),
    ];
    let ll = to_lonlat(s, &corners.map(|c| (c.1, c.2)))?;
    let mut pa: Vec<(String, V)> = vec![
        ("MAP_PROJECTION".into(), q("UTM")),
        ("DATUM".into(), q("WGS84")),
        ("ELLIPSOID".into(), q("WGS84")),
        ("UTM_ZONE".into(), n(s.utm_zone.to_string())),
        ("GRID_CELL_SIZE_REFLECTIVE".into(), n("30.00")),
        ("GRID_CELL_SIZE_THERMAL".into(), n("30.00")),
        ("REFLECTIVE_LINES".into(), n(SIZE.to_string())),
        ("REFLECTIVE_SAMPLES".into(), n(SIZE.to_string())),
        ("THERMAL_LINES".into(), n(SIZE.to_string())),
        ("THERMAL_SAMPLES".into(), n(SIZE.to_string())),
        ("ORIENTATION".into(), q("NORTH_UP")),
    ];
    for ((name, _, _), (lon, lat)) in corners.iter().zip(&ll) {
        pa.push((format!("CORNER_{name}_LAT_PRODUCT"), n(format!("{lat:.5}"))));
        pa.push((format!("CORNER_{name}_LON_PRODUCT"), n(format!("{lon:.5}"))));
    }
    for (name, x, y) in corners {
        pa.push((
            format!("CORNER_{name}_PROJECTION_X_PRODUCT"),
            n(format!("{x:.3}")),
        ));
        pa.push((
            format!("CORNER_{name}_PROJECTION_Y_PRODUCT"),
            n(format!("{y:.3}")),
        ));
    }

    let l2: Vec<(String, V)> = vec![
        (
            "ORIGIN".into(),
            q("Image courtesy of the U.S. Geological Survey"),
        ),
        (
            "DIGITAL_OBJECT_IDENTIFIER".into(),
            q("https://doi.org/10.5066/P9OGBGM6"),
        ),
        ("REQUEST_ID".into(), q("L2")),
        ("LANDSAT_PRODUCT_ID".into(), q(pid)),
        ("PROCESSING_LEVEL".into(), q("L2SP")),
        ("OUTPUT_FORMAT".into(), q("GEOTIFF")),
        (
            "DATE_PRODUCT_GENERATED".into(),
            n(format!("{}T05:12:34Z", s.processed)),
        ),
        ("PROCESSING_SOFTWARE_VERSION".into(), q("LPGS_15.4.0")),
        (
            "ALGORITHM_SOURCE_SURFACE_REFLECTANCE".into(),
            q("LaSRC_1.5.0"),
        ),
        ("DATA_SOURCE_OZONE".into(), q("MODIS")),
        ("DATA_SOURCE_PRESSURE".into(), q("Calculated")),
        ("DATA_SOURCE_WATER_VAPOR".into(), q("MODIS")),
        ("DATA_SOURCE_AIR_TEMPERATURE".into(), q("MODIS")),
        ("ALGORITHM_SOURCE_SURFACE_TEMPERATURE".into(), q("st_1.3.0")),
        ("DATA_SOURCE_REANALYSIS".into(), q("GEOS-5 FP-IT")),
    ];
    let mut sr: Vec<(String, V)> = vec![];
    for b in 1..=7 {
        sr.push((format!("REFLECTANCE_MAXIMUM_BAND_{b}"), n("1.602213")));
        sr.push((format!("REFLECTANCE_MINIMUM_BAND_{b}"), n("-0.199972")));
    }
    for b in 1..=7 {
        sr.push((format!("QUANTIZE_CAL_MAX_BAND_{b}"), n("65535")));
        sr.push((format!("QUANTIZE_CAL_MIN_BAND_{b}"), n("1")));
    }
    for b in 1..=7 {
        sr.push((
            format!("REFLECTANCE_MULT_BAND_{b}"),
            n(format!("{:e}", SR_SCALE.0).replace("e-5", "e-05")),
        ));
        sr.push((
            format!("REFLECTANCE_ADD_BAND_{b}"),
            n(format!("{}", SR_SCALE.1)),
        ));
    }
    let st: Vec<(String, V)> = vec![
        ("TEMPERATURE_MAXIMUM_BAND_ST_B10".into(), n("372.999941")),
        ("TEMPERATURE_MINIMUM_BAND_ST_B10".into(), n("149.003418")),
        ("QUANTIZE_CAL_MAXIMUM_BAND_ST_B10".into(), n("65535")),
        ("QUANTIZE_CAL_MINIMUM_BAND_ST_B10".into(), n("1")),
        (
            "TEMPERATURE_MULT_BAND_ST_B10".into(),
            n(format!("{}", ST_SCALE.0)),
        ),
        (
            "TEMPERATURE_ADD_BAND_ST_B10".into(),
            n(format!("{:.1}", ST_SCALE.1)),
        ),
    ];
    let l1: Vec<(String, V)> = vec![
        (
            "ORIGIN".into(),
            q("Image courtesy of the U.S. Geological Survey"),
        ),
        (
            "DIGITAL_OBJECT_IDENTIFIER".into(),
            q("https://doi.org/10.5066/P975CC9B"),
        ),
        ("REQUEST_ID".into(), q("L1")),
        ("LANDSAT_SCENE_ID".into(), q(scene_id)),
        ("LANDSAT_PRODUCT_ID".into(), q(l1_id)),
        ("PROCESSING_LEVEL".into(), q("L1TP")),
        ("COLLECTION_CATEGORY".into(), q("T1")),
        ("OUTPUT_FORMAT".into(), q("GEOTIFF")),
        (
            "DATE_PRODUCT_GENERATED".into(),
            n(format!("{}T04:51:02Z", s.processed)),
        ),
        ("PROCESSING_SOFTWARE_VERSION".into(), q("LPGS_15.4.0")),
    ];
    let tc: Vec<(String, V)> = vec![
        ("K1_CONSTANT_BAND_10".into(), n("774.8853")),
        ("K2_CONSTANT_BAND_10".into(), n("1321.0789")),
        ("K1_CONSTANT_BAND_11".into(), n("480.8883")),
        ("K2_CONSTANT_BAND_11".into(), n("1201.1442")),
    ];
    let pp: Vec<(String, V)> = vec![
        ("MAP_PROJECTION".into(), q("UTM")),
        ("DATUM".into(), q("WGS84")),
        ("ELLIPSOID".into(), q("WGS84")),
        ("UTM_ZONE".into(), n(s.utm_zone.to_string())),
        ("GRID_CELL_SIZE_PANCHROMATIC".into(), n("15.00")),
        ("GRID_CELL_SIZE_REFLECTIVE".into(), n("30.00")),
        ("GRID_CELL_SIZE_THERMAL".into(), n("30.00")),
        ("ORIENTATION".into(), q("NORTH_UP")),
        ("RESAMPLING_OPTION".into(), q("CUBIC_CONVOLUTION")),
    ];
    Ok(vec![
        ("PRODUCT_CONTENTS", pc),
        ("IMAGE_ATTRIBUTES", ia),
        ("PROJECTION_ATTRIBUTES", pa),
        ("LEVEL2_PROCESSING_RECORD", l2),
        ("LEVEL2_SURFACE_REFLECTANCE_PARAMETERS", sr),
        ("LEVEL2_SURFACE_TEMPERATURE_PARAMETERS", st),
        ("LEVEL1_PROCESSING_RECORD", l1),
        ("LEVEL1_THERMAL_CONSTANTS", tc),
        ("LEVEL1_PROJECTION_PARAMETERS", pp),
    ])
}

/// A leaf of the tree by group and key (for STAC items built from the same facts).
pub fn get<'a>(t: &'a Tree, group: &str, key: &str) -> &'a str {
    t.iter()
        .find(|g| g.0 == group)
        .and_then(|g| g.1.iter().find(|kv| kv.0 == key))
        .map(|kv| kv.1.text.as_str())
        .unwrap_or_else(|| panic!("MTL {group}/{key}"))
}

pub fn to_json(t: &Tree) -> String {
    let mut groups = Map::new();
    for (g, kvs) in t {
        let mut m = Map::new();
        for (k, v) in kvs {
            m.insert(k.clone(), Value::String(v.text.clone()));
        }
        groups.insert(g.to_string(), Value::Object(m));
    }
    let mut root = Map::new();
    root.insert("LANDSAT_METADATA_FILE".into(), Value::Object(groups));
    serde_json::to_string_pretty(&Value::Object(root)).expect("JSON of strings")
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

pub fn to_xml(t: &Tree) -> String {
    let mut s =
        String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<LANDSAT_METADATA_FILE>\n");
    for (g, kvs) in t {
        s.push_str(&format!("  <{g}>\n"));
        for (k, v) in kvs {
            s.push_str(&format!("    <{k}>{}</{k}>\n", xml_escape(&v.text)));
        }
        s.push_str(&format!("  </{g}>\n"));
    }
    s.push_str("</LANDSAT_METADATA_FILE>\n");
    s
}

pub fn to_odl(t: &Tree) -> String {
    let mut s = String::from("GROUP = LANDSAT_METADATA_FILE\n");
    for (g, kvs) in t {
        s.push_str(&format!("  GROUP = {g}\n"));
        for (k, v) in kvs {
            if v.quoted {
                s.push_str(&format!("    {k} = \"{}\"\n", v.text));
            } else {
                s.push_str(&format!("    {k} = {}\n", v.text));
            }
        }
        s.push_str(&format!("  END_GROUP = {g}\n"));
    }
    s.push_str("END_GROUP = LANDSAT_METADATA_FILE\nEND\n");
    s
}
