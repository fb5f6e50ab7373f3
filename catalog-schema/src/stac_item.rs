//! STAC 1.1 items for indexed datasets (projection v2 and raster v1.1 extensions), built from the same
//! prepared eo3 document and product definition, so the catalogue and the ODC index never disagree.
use crate::eo3::PreparedDataset;
use serde_json::{json, Map, Value};

/// Projection extension schema URI.
pub const PROJECTION_V2: &str = "https://stac-extensions.github.io/projection/v2.0.0/schema.json";
/// Raster extension schema URI.
pub const RASTER_V1_1: &str = "https://stac-extensions.github.io/raster/v1.1.0/schema.json";

/// Media type of an `odc:file_format`.
fn media_type(format: &str) -> &'static str {
    match format {
        "GeoTIFF" => "image/tiff; application=geotiff",
        "NetCDF" => "application/netcdf",
        "HDF5" => "application/x-hdf5",
        f if f.starts_with("HDF4") => "application/x-hdf",
        _ => "application/octet-stream",
    }
}

/// Resolves a measurement path against the dataset location the way datacube does (RFC 3986: a
/// relative path replaces the location's last segment; absolute URLs and `/vsi…` paths stay).
pub fn resolve_href(location: &str, path: &str) -> String {
    if path.contains("://") {
        return path.to_string();
    }
    if let Some(rest) = path.strip_prefix("/vsigzip/") {
        return resolve_href(location, rest);
    }
    if let Some(rest) = path.strip_prefix("/vsis3/") {
        return format!("s3://{rest}");
    }
    if path.starts_with('/') {
        return format!("file://{path}");
    }
    match location.rfind('/') {
        Some(i) => format!("{}{}", &location[..=i], path),
        None => path.to_string(),
    }
}

/// Builds the STAC item of a prepared dataset: id = dataset id, bbox and
/// geometry from the lon/lat extent, times from the eo3 properties, one asset per measurement with
/// `raster:bands` from the product definition. The item carries no `collection` field: STAC allows it
/// only with a `collection` link, which the server that publishes the items adds; the product is kept in
/// `etlake.stac_item.collection`. The item is round-tripped through the `stac` crate's typed model.
pub fn item(
    prepared: &PreparedDataset,
    product_definition: &Value,
    location: &str,
) -> Result<Value, String> {
    let doc = &prepared.stored;
    let ext = &doc["extent"];
    let (w, e) = (ext["lon"]["begin"].as_f64(), ext["lon"]["end"].as_f64());
    let (s, n) = (ext["lat"]["begin"].as_f64(), ext["lat"]["end"].as_f64());
    let (Some(w), Some(e), Some(s), Some(n)) = (w, e, s, n) else {
        return Err("the dataset has no lon/lat extent".into());
    };
    let props = doc["properties"].as_object().cloned().unwrap_or_default();
    let mut p = Map::new();
    p.insert(
        "datetime".into(),
        props.get("datetime").cloned().unwrap_or(Value::Null),
    );
    if let Some(v) = props.get("dtr:start_datetime") {
        p.insert("start_datetime".into(), v.clone());
    }
    if let Some(v) = props.get("dtr:end_datetime") {
        p.insert("end_datetime".into(), v.clone());
    }
    for key in [
        "odc:region_code",
        "odc:processing_datetime",
        "dea:dataset_maturity",
        "eo:platform",
        "eo:instrument",
    ] {
        if let Some(v) = props.get(key) {
            p.insert(key.into(), v.clone());
        }
    }
    let crs = doc["crs"].as_str().unwrap_or_default();
    let code = crs
        .to_uppercase()
        .strip_prefix("EPSG:")
        .map(|c| format!("EPSG:{c}"));
    p.insert(
        "proj:code".into(),
        code.map(Value::String).unwrap_or(Value::Null),
    );
    let grid = |name: &str| doc["grids"].get(name).cloned();
    if let Some(g) = grid("default") {
        p.insert("proj:shape".into(), g["shape"].clone());
        p.insert("proj:transform".into(), g["transform"].clone());
    }
    let defs: Vec<&Value> = product_definition["measurements"]
        .as_array()
        .map(|a| a.iter().collect())
        .unwrap_or_default();
    let format = props
        .get("odc:file_format")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let mut assets = Map::new();
    for (name, m) in doc["measurements"].as_object().into_iter().flatten() {
        let path = m["path"].as_str().unwrap_or_default();
        let mut a = Map::new();
        a.insert("href".into(), json!(resolve_href(location, path)));
        a.insert("type".into(), json!(media_type(format)));
        a.insert("roles".into(), json!(["data"]));
        if let Some(def) = defs.iter().find(|d| d["name"] == *name) {
            let mut band = Map::new();
            band.insert("data_type".into(), def["dtype"].clone());
            // raster:bands nodata is a number or "nan"/"inf"/"-inf".
            let nodata = match &def["nodata"] {
                Value::String(s) if s == "NaN" => json!("nan"),
                Value::String(s) if s.starts_with('-') => json!("-inf"),
                Value::String(_) => json!("inf"),
                v => v.clone(),
            };
            band.insert("nodata".into(), nodata);
            for (from, to) in [
                ("scale_factor", "scale"),
                ("add_offset", "offset"),
                ("units", "unit"),
            ] {
                if let Some(v) = def.get(from) {
                    band.insert(to.into(), v.clone());
                }
            }
            a.insert("raster:bands".into(), json!([band]));
        }
        if let Some(g) = m["grid"].as_str().and_then(grid) {
            a.insert("proj:shape".into(), g["shape"].clone());
            a.insert("proj:transform".into(), g["transform"].clone());
        }
        assets.insert(name.clone(), Value::Object(a));
    }
    let item = json!({
        "type": "Feature",
        "stac_version": "1.1.0",
        "stac_extensions": [PROJECTION_V2, RASTER_V1_1],
        "id": prepared.id.to_string(),
        "geometry": {"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]},
        "bbox": [w, s, e, n],
        "properties": p,
        "links": [],
        "assets": assets,
    });
    // Through the stac crate's typed model: a structurally wrong item fails here, not in a reader.
    let typed: stac::Item = serde_json::from_value(item).map_err(|e| format!("STAC item: {e}"))?;
    serde_json::to_value(typed).map_err(|e| format!("STAC item: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hrefs_resolve_like_datacube() {
        assert_eq!(
            resolve_href("s3://b/dir/x.tif", "x.tif"),
            "s3://b/dir/x.tif"
        );
        assert_eq!(
            resolve_href("file:///lake/a/doc.yaml", "band1.tif"),
            "file:///lake/a/band1.tif"
        );
        assert_eq!(
            resolve_href("s3://b/k.tif.gz", "/vsigzip//vsis3/b/k.tif.gz"),
            "s3://b/k.tif.gz"
        );
        assert_eq!(
            resolve_href("file:///l/x.tif.gz", "/vsigzip//l/x.tif.gz"),
            "file:///l/x.tif.gz"
        );
        assert_eq!(
            resolve_href("file:///l/x", "https://h/y.tif"),
            "https://h/y.tif"
        );
    }
}
