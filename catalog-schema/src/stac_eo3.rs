//! STAC items → eo3 documents, matching what datacube 1.9.20's converter (used by odc-apps-dc-tools
//! 1.9.9 `s3-to-dc --stac`/`fs-to-dc --stac`) stores, so a lake indexed by dc-tools is not duplicated
//! when switched to etlake — and tolerant where it is not: `proj:code`, `proj:epsg` on assets only,
//! relative hrefs. Items with no projection at all need a grid from elsewhere (the caller's fallback).
use crate::eo3::CrsTransform;
use serde_json::{json, Map, Value};
use uuid::Uuid;

/// The namespace datacube and odc-stac use for item ids that are not UUIDs: uuid5(URL, "https://stacspec.org").
pub const STAC_NAMESPACE: Uuid = Uuid::from_u128(0x55d26088_a6d0_5c77_bf9a_3a7f3c6a6dab);

/// Whether a JSON document is a STAC item.
pub fn is_stac_item(doc: &Value) -> bool {
    doc.get("type").and_then(Value::as_str) == Some("Feature") && doc.get("stac_version").is_some()
}

/// The collection id as datacube reads it: `collection`, else `properties.odc:product`, else `_`.
fn collection_id(item: &Value) -> String {
    match item.get("collection").and_then(Value::as_str) {
        Some(c) => c.to_string(),
        None => item
            .pointer("/properties/odc:product")
            .and_then(Value::as_str)
            .unwrap_or("_")
            .to_string(),
    }
}

/// The product an item belongs to: `odc:product`, else its collection, with `-` → `_`.
pub fn product_name(item: &Value) -> Option<String> {
    item.pointer("/properties/odc:product")
        .and_then(Value::as_str)
        .or_else(|| item.get("collection").and_then(Value::as_str))
        .map(|p| p.replace('-', "_"))
}

/// The dataset id datacube derives: the item id if it is a UUID, else
/// `uuid5(STAC_NAMESPACE, "<collection>\n<item id>\n")`.
pub fn dataset_id(item: &Value) -> Option<Uuid> {
    let id = item.get("id")?.as_str()?;
    Some(Uuid::parse_str(id).unwrap_or_else(|_| {
        Uuid::new_v5(
            &STAC_NAMESPACE,
            format!("{}\n{id}\n", collection_id(item)).as_bytes(),
        )
    }))
}

/// The item's `self` link, if any.
pub fn self_href(item: &Value) -> Option<String> {
    item.get("links")?
        .as_array()?
        .iter()
        .find(|l| l.get("rel").and_then(Value::as_str) == Some("self"))
        .and_then(|l| l.get("href")?.as_str().map(str::to_string))
}

/// A CRS from projection fields (`proj:code`, `proj:epsg`, `proj:wkt2`), `null`/`EPSG:None` as missing.
fn crs_of(fields: &Value) -> Option<String> {
    if let Some(c) = fields.get("proj:code").and_then(Value::as_str) {
        if !c.ends_with(":None") {
            return Some(c.to_string());
        }
    }
    if let Some(e) = fields.get("proj:epsg").and_then(Value::as_i64) {
        return Some(format!("EPSG:{e}"));
    }
    fields
        .get("proj:wkt2")
        .and_then(Value::as_str)
        .map(str::to_string)
}

/// datacube's property conversion: `proj:*` dropped, STAC names renamed to eo3 ones, instruments
/// joined, datetimes normalised to ISO with an offset (as Python's `isoformat` writes them), and
/// `odc:processing_datetime` defaulting to the item's `datetime` as written.
fn properties(props: &Map<String, Value>) -> Result<Map<String, Value>, String> {
    let rename = |k: &str| -> String {
        match k {
            "end_datetime" => "dtr:end_datetime",
            "start_datetime" => "dtr:start_datetime",
            "gsd" => "eo:gsd",
            "instruments" => "eo:instrument",
            "platform" => "eo:platform",
            "constellation" => "eo:constellation",
            "view:off_nadir" => "eo:off_nadir",
            "view:azimuth" => "eo:azimuth",
            "view:sun_azimuth" => "eo:sun_azimuth",
            "view:sun_elevation" => "eo:sun_elevation",
            "created" => "odc:processing_datetime",
            other => other,
        }
        .to_string()
    };
    let mut out = Map::new();
    for (k, v) in props {
        if k.starts_with("proj:") {
            continue;
        }
        let value = if k == "instruments" {
            match v.as_array() {
                Some(l) if !l.is_empty() => json!(l
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::to_uppercase)
                    .collect::<Vec<_>>()
                    .join("_")),
                _ => Value::Null,
            }
        } else if (k == "created" || k.contains("datetime")) && v.is_string() {
            json!(python_isoformat(v.as_str().unwrap_or_default())
                .map_err(|e| format!("properties.{k}: {e}"))?)
        } else {
            v.clone()
        };
        out.insert(rename(k), value);
    }
    if out
        .get("odc:processing_datetime")
        .is_none_or(Value::is_null)
    {
        out.insert(
            "odc:processing_datetime".into(),
            props.get("datetime").cloned().unwrap_or(Value::Null),
        );
    }
    if out.get("odc:file_format").is_none_or(Value::is_null) {
        out.insert("odc:file_format".into(), json!("GeoTIFF"));
    }
    Ok(out)
}

/// An ISO timestamp as Python's `datetime.isoformat()` writes it after datacube parses it: UTC offsets
/// as `+00:00`, microseconds only when non-zero. (Non-UTC offsets become UTC: see eo3::normalise_utc.)
fn python_isoformat(s: &str) -> Result<String, String> {
    let parsed = chrono::DateTime::parse_from_rfc3339(s)
        .or_else(|_| chrono::DateTime::parse_from_rfc3339(&format!("{s}Z")))
        .map_err(|e| format!("{s:?} is not an ISO 8601 timestamp: {e}"))?
        .with_timezone(&chrono::Utc);
    let base = parsed.format("%Y-%m-%dT%H:%M:%S").to_string();
    let micros = parsed.timestamp_subsec_micros();
    Ok(if micros == 0 {
        format!("{base}+00:00")
    } else {
        format!("{base}.{micros:06}+00:00")
    })
}

/// Whether an asset holds raster data (datacube's rule: a GeoTIFF/COG/JP2 media type, not a thumbnail).
fn is_raster(asset: &Value) -> bool {
    let t = asset
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let thumb = asset
        .get("roles")
        .and_then(Value::as_array)
        .is_some_and(|r| r.iter().any(|x| x == "thumbnail"));
    (t.contains("geotiff") || t.contains("jp2")) && !thumb
}

/// Converts a STAC item to the pure eo3 document datacube's converter would produce.
/// `canonical` maps an asset key to the product's measurement name (aliases resolved), or `None`.
pub fn convert(
    item: &Value,
    canonical: &dyn Fn(&str) -> Option<String>,
    crs_tools: &dyn CrsTransform,
) -> Result<Value, String> {
    let id = dataset_id(item).ok_or("id: required")?;
    let product =
        product_name(item).ok_or("no odc:product and no collection: cannot tell the product")?;
    let props = item
        .get("properties")
        .and_then(Value::as_object)
        .ok_or("properties: required")?;
    let mut crs = crs_of(&Value::Object(props.clone()));
    let mut grids = Map::new();
    let mut measurements = Map::new();
    let mut accessories = Map::new();
    for (key, asset) in item
        .get("assets")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        let href = asset
            .get("href")
            .and_then(Value::as_str)
            .ok_or(format!("assets.{key}.href: required"))?;
        if !is_raster(asset) {
            accessories.insert(key.clone(), json!({"path": href}));
            continue;
        }
        let name = canonical(key).unwrap_or_else(|| key.clone());
        let mut m = Map::new();
        m.insert("path".into(), json!(href));
        let shape = asset.get("proj:shape").or_else(|| props.get("proj:shape"));
        let transform = asset
            .get("proj:transform")
            .or_else(|| props.get("proj:transform"));
        if let (Some(shape), Some(transform)) = (shape, transform) {
            let t: Vec<Value> = transform
                .as_array()
                .ok_or(format!("assets.{key}.proj:transform: expected numbers"))?
                .iter()
                .take(6)
                .map(|v| json!(v.as_f64()))
                .collect();
            let grid = json!({"shape": shape, "transform": t});
            let grid_name = match grids.iter().find(|(_, g)| **g == grid) {
                Some((n, _)) => n.clone(),
                None if grids.is_empty() => "default".to_string(),
                None => format!("g{}", grids.len()),
            };
            if grid_name != "default" {
                m.insert("grid".into(), json!(grid_name));
            }
            grids.entry(grid_name).or_insert(grid);
            if crs.is_none() {
                crs = crs_of(asset);
            }
        }
        measurements.insert(name, Value::Object(m));
    }
    if grids.is_empty() {
        return Err(
            "no projection information (proj:shape/proj:transform) on the item or its assets"
                .into(),
        );
    }
    let crs = crs.unwrap_or_else(|| "EPSG:4326".to_string());
    let mut doc = Map::new();
    doc.insert("$schema".into(), json!(crate::eo3::EO3_SCHEMA));
    doc.insert("id".into(), json!(id.to_string()));
    doc.insert("product".into(), json!({"name": product.to_lowercase()}));
    doc.insert("crs".into(), json!(crs));
    doc.insert("grids".into(), Value::Object(grids));
    doc.insert("measurements".into(), Value::Object(measurements));
    let mut p = properties(props)?;
    let lineage = p.remove("odc:lineage").unwrap_or(json!({}));
    let title = p.remove("title");
    doc.insert("properties".into(), Value::Object(p));
    doc.insert("accessories".into(), Value::Object(accessories));
    doc.insert("lineage".into(), lineage);
    if let Some(g) = item.get("geometry").filter(|g| !g.is_null()) {
        doc.insert("geometry".into(), geometry_to_crs(g, &crs, crs_tools)?);
    }
    if let Some(t) = title {
        doc.insert("label".into(), t);
    }
    Ok(Value::Object(doc))
}

/// Reprojects a lon/lat GeoJSON polygon to the native CRS, vertex by vertex (no densification).
fn geometry_to_crs(g: &Value, crs: &str, crs_tools: &dyn CrsTransform) -> Result<Value, String> {
    if crs_tools.is_geographic(crs)? && (crs == "EPSG:4326" || crs == "epsg:4326") {
        return Ok(g.clone());
    }
    let rings = |poly: &Value| -> Result<Value, String> {
        let mut out = Vec::new();
        for ring in poly.as_array().ok_or("geometry: bad polygon")? {
            let pts: Vec<(f64, f64)> = ring
                .as_array()
                .ok_or("geometry: bad ring")?
                .iter()
                .map(|p| {
                    (
                        p[0].as_f64().unwrap_or(f64::NAN),
                        p[1].as_f64().unwrap_or(f64::NAN),
                    )
                })
                .collect();
            let projected = crs_tools.lonlat_to_crs(crs, &pts)?;
            out.push(json!(projected
                .iter()
                .map(|(x, y)| json!([x, y]))
                .collect::<Vec<_>>()));
        }
        Ok(Value::Array(out))
    };
    match g.get("type").and_then(Value::as_str) {
        Some("Polygon") => Ok(json!({"type": "Polygon", "coordinates": rings(&g["coordinates"])?})),
        Some("MultiPolygon") => {
            let polys: Result<Vec<Value>, String> = g["coordinates"]
                .as_array()
                .ok_or("geometry: bad multipolygon")?
                .iter()
                .map(rings)
                .collect();
            Ok(json!({"type": "MultiPolygon", "coordinates": polys?}))
        }
        other => Err(format!("geometry.type: {other:?} is not a polygon")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_times_follow_datacube() {
        let item =
            json!({"id": "LC08_L2SP_030030_20200101_20200101_02_T1", "collection": "ls8_c2l2_sr"});
        assert_eq!(
            dataset_id(&item).unwrap().to_string(),
            "3e884ef2-6ea9-514e-b601-c88dd7f0a9c0"
        );
        let uuid_item = json!({"id": "3e884ef2-6ea9-514e-b601-c88dd7f0a9c0"});
        assert_eq!(
            dataset_id(&uuid_item).unwrap().to_string(),
            "3e884ef2-6ea9-514e-b601-c88dd7f0a9c0"
        );
        assert_eq!(
            python_isoformat("2020-01-01T17:30:00Z").unwrap(),
            "2020-01-01T17:30:00+00:00"
        );
        assert_eq!(
            python_isoformat("2020-01-01T17:30:00.25Z").unwrap(),
            "2020-01-01T17:30:00.250000+00:00"
        );
        let p = properties(json!({"datetime": "2020-01-01T17:30:00Z", "instruments": ["oli", "tirs"], "platform": "LANDSAT_8", "proj:epsg": 32613}).as_object().unwrap()).unwrap();
        assert_eq!(p["eo:instrument"], "OLI_TIRS");
        assert_eq!(p["odc:processing_datetime"], "2020-01-01T17:30:00Z");
        assert!(p.get("proj:epsg").is_none());
    }
}

/// Rewrites href prefixes (`FROM=TO`, e.g. `https://landsatlook.usgs.gov/data` → `s3://usgs-landsat`) in
/// the item's links and assets, before conversion.
pub fn rewrite_hrefs(item: &mut Value, rules: &[(String, String)]) {
    let rewrite = |h: &mut Value| {
        if let Some(s) = h.as_str() {
            if let Some((from, to)) = rules.iter().find(|(f, _)| s.starts_with(f.as_str())) {
                *h = Value::String(format!("{to}{}", &s[from.len()..]));
            }
        }
    };
    for l in item
        .get_mut("links")
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
    {
        if let Some(h) = l.get_mut("href") {
            rewrite(h);
        }
    }
    for a in item
        .get_mut("assets")
        .and_then(Value::as_object_mut)
        .into_iter()
        .flatten()
        .map(|(_, a)| a)
    {
        if let Some(h) = a.get_mut("href") {
            rewrite(h);
        }
    }
}

/// Whether the item or any asset carries a grid (`proj:shape` and `proj:transform`).
pub fn has_grid(item: &Value) -> bool {
    let grid = |v: &Value| v.get("proj:shape").is_some() && v.get("proj:transform").is_some();
    item.get("properties").is_some_and(grid)
        || item
            .get("assets")
            .and_then(Value::as_object)
            .is_some_and(|a| a.values().any(grid))
}

/// Where a Landsat item's `_MTL.json` sits: beside the item, named after the product id (the item id
/// without a trailing `_SR`/`_ST`).
pub fn mtl_uri(item: &Value, item_uri: &str) -> Option<String> {
    let id = item.get("id")?.as_str()?;
    let product_id = id
        .strip_suffix("_SR")
        .or_else(|| id.strip_suffix("_ST"))
        .unwrap_or(id);
    let dir = &item_uri[..item_uri.rfind('/')?];
    Some(format!("{dir}/{product_id}_MTL.json"))
}

/// Takes the grid from a Landsat `_MTL.json` into the item's properties (`proj:epsg`, `proj:shape`,
/// `proj:transform`): UTM north zone, reflective lines/samples, and the upper-left corner, which in the
/// MTL is a pixel *centre* (half a cell is added back). Values may be JSON strings or numbers.
pub fn apply_mtl(item: &mut Value, mtl: &Value) -> Result<(), String> {
    let pa = mtl
        .pointer("/LANDSAT_METADATA_FILE/PROJECTION_ATTRIBUTES")
        .ok_or("no LANDSAT_METADATA_FILE.PROJECTION_ATTRIBUTES")?;
    let num = |k: &str| -> Result<f64, String> {
        match pa.get(k) {
            Some(Value::String(s)) => s
                .trim()
                .parse()
                .map_err(|_| format!("{k}: {s:?} is not a number")),
            Some(v) => v.as_f64().ok_or(format!("{k}: not a number")),
            None => Err(format!("{k}: missing")),
        }
    };
    // Whole numbers in a range (a UTM zone is 1–60; a size at least one pixel).
    let whole = |k: &str, range: std::ops::RangeInclusive<f64>| -> Result<i64, String> {
        let v = num(k)?;
        if v.fract() == 0.0 && range.contains(&v) {
            Ok(v as i64)
        } else {
            Err(format!(
                "{k}: {v} is not a whole number from {} to {}",
                range.start(),
                range.end()
            ))
        }
    };
    let finite = |k: &str| -> Result<f64, String> {
        let v = num(k)?;
        v.is_finite()
            .then_some(v)
            .ok_or(format!("{k}: {v} is not a finite number"))
    };
    let zone = whole("UTM_ZONE", 1.0..=60.0)?;
    let cell = match pa.get("GRID_CELL_SIZE_REFLECTIVE") {
        None => 30.0,
        Some(_) => finite("GRID_CELL_SIZE_REFLECTIVE")?,
    };
    let size = 1.0..=f64::from(i32::MAX);
    let (lines, samples) = (
        whole("REFLECTIVE_LINES", size.clone())?,
        whole("REFLECTIVE_SAMPLES", size)?,
    );
    let (ulx, uly) = (
        finite("CORNER_UL_PROJECTION_X_PRODUCT")?,
        finite("CORNER_UL_PROJECTION_Y_PRODUCT")?,
    );
    let props = item
        .get_mut("properties")
        .and_then(Value::as_object_mut)
        .ok_or("properties: required")?;
    props.insert("proj:epsg".into(), json!(32600 + zone));
    props.insert("proj:shape".into(), json!([lines, samples]));
    props.insert(
        "proj:transform".into(),
        json!([cell, 0.0, ulx - cell / 2.0, 0.0, -cell, uly + cell / 2.0]),
    );
    Ok(())
}

/// Older STAC shapes, made current before conversion: asset `eo:bands` that are indices into the
/// item's `properties.eo:bands` (STAC 0.x) are replaced by the bands they point at (and the property
/// list dropped), and a data asset whose key names no measurement (`canonical` gives `None`) takes the
/// measurement its key names without a file extension (`SR_B4.TIF` → `SR_B4`) or one of its bands'
/// `name`/`common_name` names, when that measurement is not already another asset's key. Items whose
/// keys all name measurements are left as they are (datacube converts them the same way).
pub fn resolve_band_keys(item: &mut Value, canonical: &dyn Fn(&str) -> Option<String>) {
    let listed = item
        .pointer("/properties/eo:bands")
        .and_then(Value::as_array)
        .cloned();
    let Some(assets) = item.get_mut("assets").and_then(Value::as_object_mut) else {
        return;
    };
    let mut indexed = false;
    for asset in assets.values_mut() {
        let Some(bands) = asset.get_mut("eo:bands").and_then(Value::as_array_mut) else {
            continue;
        };
        for b in bands.iter_mut() {
            if let (Some(i), Some(list)) = (b.as_u64(), &listed) {
                if let Some(band) = list.get(i as usize) {
                    *b = band.clone();
                    indexed = true;
                }
            }
        }
    }
    let taken: std::collections::HashSet<String> =
        assets.keys().filter_map(|k| canonical(k)).collect();
    let mut renames = Vec::new();
    for (key, asset) in assets.iter() {
        if !is_raster(asset) || canonical(key).is_some() {
            continue;
        }
        let stem = key
            .rsplit_once('.')
            .filter(|(_, ext)| {
                !ext.is_empty() && ext.len() <= 4 && ext.chars().all(|c| c.is_ascii_alphabetic())
            })
            .map(|(s, _)| s.to_string());
        let band_names = asset
            .get("eo:bands")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .flat_map(|b| {
                ["name", "common_name"]
                    .map(|k| b.get(k).and_then(Value::as_str).map(str::to_string))
            })
            .flatten();
        if let Some(name) = stem
            .into_iter()
            .chain(band_names)
            .find_map(|c| canonical(&c))
        {
            if !taken.contains(&name) && !renames.iter().any(|(_, n)| *n == name) {
                renames.push((key.clone(), name));
            }
        }
    }
    if !renames.is_empty() {
        let old = std::mem::take(assets);
        for (k, v) in old {
            let key = renames
                .iter()
                .find(|(from, _)| *from == k)
                .map_or(k, |(_, to)| to.clone());
            assets.insert(key, v);
        }
    }
    if indexed {
        if let Some(p) = item.get_mut("properties").and_then(Value::as_object_mut) {
            p.remove("eo:bands");
        }
    }
}

/// Whether the item's `datetime` is a bare date (USGS's STAC 0.7 items write `"2020-10-31"`): the
/// time of day must then come from the scene's MTL.
pub fn has_date_only(item: &Value) -> bool {
    item.pointer("/properties/datetime")
        .and_then(Value::as_str)
        .is_some_and(|d| d.len() == 10 && chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").is_ok())
}

/// The acquisition time of a Landsat `_MTL.json`: `DATE_ACQUIRED` + `T` + `SCENE_CENTER_TIME`, the
/// latter's 7 fractional digits truncated to microseconds (as USGS's current items write it), UTC.
pub fn mtl_datetime(mtl: &Value) -> Result<String, String> {
    let ia = mtl
        .pointer("/LANDSAT_METADATA_FILE/IMAGE_ATTRIBUTES")
        .ok_or("no LANDSAT_METADATA_FILE.IMAGE_ATTRIBUTES")?;
    let text = |k: &str| {
        ia.get(k)
            .and_then(Value::as_str)
            .map(str::trim)
            .ok_or(format!("IMAGE_ATTRIBUTES.{k}: missing"))
    };
    let date = text("DATE_ACQUIRED")?;
    let time = text("SCENE_CENTER_TIME")?.trim_matches('"');
    let clock = time.trim_end_matches('Z');
    let (hms, fraction) = clock.split_once('.').unwrap_or((clock, ""));
    let micros: String = fraction.chars().take(6).collect();
    let stamp = if micros.is_empty() {
        format!("{date}T{hms}Z")
    } else {
        format!("{date}T{hms}.{micros}Z")
    };
    chrono::DateTime::parse_from_rfc3339(&stamp)
        .map_err(|e| format!("DATE_ACQUIRED {date:?} + SCENE_CENTER_TIME {time:?}: {e}"))?;
    Ok(stamp)
}

#[cfg(test)]
mod sidecar_tests {
    use super::*;

    #[test]
    fn mtl_grid_rewrites_and_locations() {
        let mut item = json!({"id": "LC08_L2SP_047027_20201204_20210313_02_T1_SR", "properties": {},
            "links": [{"rel": "self", "href": "https://landsatlook.usgs.gov/data/collection02/x/item.json"}],
            "assets": {"red": {"href": "https://landsatlook.usgs.gov/data/collection02/x/B4.TIF"}}});
        assert!(!has_grid(&item));
        assert_eq!(
            mtl_uri(&item, "s3://b/dir/item.json").unwrap(),
            "s3://b/dir/LC08_L2SP_047027_20201204_20210313_02_T1_MTL.json"
        );
        rewrite_hrefs(
            &mut item,
            &[(
                "https://landsatlook.usgs.gov/data".into(),
                "s3://usgs-landsat".into(),
            )],
        );
        assert_eq!(
            item["assets"]["red"]["href"],
            "s3://usgs-landsat/collection02/x/B4.TIF"
        );
        assert_eq!(
            self_href(&item).unwrap(),
            "s3://usgs-landsat/collection02/x/item.json"
        );
        let mtl = json!({"LANDSAT_METADATA_FILE": {"PROJECTION_ATTRIBUTES": {"UTM_ZONE": "10", "GRID_CELL_SIZE_REFLECTIVE": "30.00",
            "REFLECTIVE_LINES": "7801", "REFLECTIVE_SAMPLES": 7701, "CORNER_UL_PROJECTION_X_PRODUCT": "56700.000", "CORNER_UL_PROJECTION_Y_PRODUCT": "-1816500.000"}}});
        apply_mtl(&mut item, &mtl).unwrap();
        assert_eq!(item["properties"]["proj:epsg"], 32610);
        assert_eq!(
            item["properties"]["proj:transform"],
            json!([30.0, 0.0, 56685.0, 0.0, -30.0, -1816485.0])
        );
        assert!(has_grid(&item));
        let mtl = json!({"LANDSAT_METADATA_FILE": {"IMAGE_ATTRIBUTES": {"DATE_ACQUIRED": "2020-10-31", "SCENE_CENTER_TIME": "14:31:47.8083990Z"}}});
        assert_eq!(mtl_datetime(&mtl).unwrap(), "2020-10-31T14:31:47.808399Z");
        let bad = json!({"LANDSAT_METADATA_FILE": {"IMAGE_ATTRIBUTES": {"DATE_ACQUIRED": "2020-10-31", "SCENE_CENTER_TIME": "25:00:00Z"}}});
        assert!(mtl_datetime(&bad)
            .unwrap_err()
            .contains("SCENE_CENTER_TIME"));
        assert!(has_date_only(
            &json!({"properties": {"datetime": "2020-10-31"}})
        ));
        assert!(!has_date_only(
            &json!({"properties": {"datetime": "2020-10-31T00:00:00Z"}})
        ));
    }

    #[test]
    fn suffix_keys_and_indexed_bands_become_measurement_names() {
        let tif = "image/vnd.stac.geotiff; cloud-optimized=true";
        let mut item = json!({"properties": {"eo:bands": [{"name": "SR_B4", "common_name": "red"}, {"name": "SR_B5", "common_name": "nir08"}]},
            "assets": {"SR_B4.TIF": {"type": tif, "eo:bands": [0], "href": "a"}, "B5": {"type": tif, "eo:bands": [1], "href": "b"},
                "QA_PIXEL.TIF": {"type": tif, "href": "c"}, "MTL.json": {"type": "application/json", "href": "d"},
                "nir08": {"type": tif, "href": "e"}}});
        let canonical = |k: &str| match k {
            "red" | "SR_B4" => Some("red".to_string()),
            "nir08" | "SR_B5" => Some("nir08".to_string()),
            "qa_pixel" | "QA_PIXEL" => Some("qa_pixel".to_string()),
            _ => None,
        };
        resolve_band_keys(&mut item, &canonical);
        let keys: Vec<&String> = item["assets"].as_object().unwrap().keys().collect();
        // B5 would be nir08, which another asset already is: it keeps its key.
        assert_eq!(keys, ["red", "B5", "qa_pixel", "MTL.json", "nir08"]);
        assert_eq!(item["assets"]["red"]["eo:bands"][0]["common_name"], "red");
        assert!(item["properties"].get("eo:bands").is_none());
    }
}
