//! STAC 1.1 items for indexed datasets (projection v2 and raster v1.1 extensions), built from the same
//! stored eo3 document and product definition, so the catalogue and the ODC index never disagree — and
//! shaped so that a STAC client loads them as they are: `collection` set, assets keyed by measurement
//! with `bands` and `raster:bands`, and hrefs GDAL (and rasterio, hence odc-stac) opens directly.
use crate::eo3::{CrsTransform, PreparedDataset};
use serde_json::{json, Map, Value};
use uuid::Uuid;

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
/// relative path replaces the location's last segment); absolute URIs, absolute paths and GDAL
/// `/vsi…` paths stand as they are.
pub fn resolve_href(location: &str, path: &str) -> String {
    if path.is_empty() {
        return location.to_string();
    }
    if path.contains("://") || path.starts_with('/') {
        return path.to_string();
    }
    match location.rfind('/') {
        Some(i) => format!("{}{}", &location[..=i], path),
        None => path.to_string(),
    }
}

/// The name GDAL opens for a file URI: local paths from `file://` (percent-decoded), `/vsis3/` for
/// `s3://`, `/vsicurl/` for http(s); GDAL paths and plain paths unchanged.
fn gdal_file(uri: &str) -> String {
    if let Some(rest) = uri.strip_prefix("file://") {
        return percent_decode(rest);
    }
    if let Some(rest) = uri.strip_prefix("s3://") {
        return format!("/vsis3/{rest}");
    }
    if uri.starts_with("http://") || uri.starts_with("https://") {
        return format!("/vsicurl/{uri}");
    }
    uri.to_string()
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            if let Some(v) = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The href of one measurement's asset: what GDAL (and rasterio, which hands anything it does not
/// parse to GDAL) opens for exactly that band.
///
/// - a plain GeoTIFF band 1: the file's URI (`file://`, `s3://`, `https://`) — rasterio maps those;
/// - gzip: `/vsigzip/` over the GDAL path (`/vsigzip//vsis3/bucket/key.tif.gz` on S3);
/// - a layer of a container: GDAL's subdataset name, `NETCDF:"path":var`, `HDF5:"path":var`,
///   `HDF4_EOS:EOS_GRID:"path":grid:field` (the path a local file or `/vsis3/…`: inside these names
///   rasterio cannot translate `s3://`);
/// - a band other than 1 (a day of a yearly NetCDF): GDAL's `vrt://NAME?bands=N`, a one-band view;
/// - HDF4-EOS names also go through `vrt://`: `HDF4_EOS` is not a URI scheme (it has an underscore),
///   so STAC clients (pystac) would otherwise resolve the name as a path relative to the item.
pub fn asset_href(location: &str, measurement: &Value, format: &str) -> String {
    let uri = resolve_href(location, measurement["path"].as_str().unwrap_or_default());
    let layer = measurement["layer"].as_str();
    let band = measurement["band"].as_u64().unwrap_or(1);
    let gz = uri.ends_with(".gz") && !uri.starts_with("/vsi");
    if layer.is_none() && band <= 1 && !gz {
        return uri;
    }
    let file = gdal_file(&uri);
    let file = if gz { format!("/vsigzip/{file}") } else { file };
    let name = match (format, layer) {
        ("NetCDF", Some(l)) => format!("NETCDF:\"{file}\":{l}"),
        ("HDF5", Some(l)) => format!("HDF5:\"{file}\":{l}"),
        (f, Some(l)) if f.starts_with("HDF4") => format!("{f}:\"{file}\":{l}"),
        _ => file,
    };
    if band > 1 {
        format!("vrt://{name}?bands={band}")
    } else if format.starts_with("HDF4") {
        format!("vrt://{name}")
    } else {
        name
    }
}

/// The projection fields of a CRS: `proj:code` for an EPSG code, else `proj:code: null` with the
/// CRS as PROJJSON (when the CRS tools can give it).
fn projection(crs: &str, crs_tools: &dyn CrsTransform) -> Map<String, Value> {
    let mut p = Map::new();
    let code = crs
        .to_uppercase()
        .strip_prefix("EPSG:")
        .filter(|c| c.chars().all(|ch| ch.is_ascii_digit()) && !c.is_empty())
        .map(|c| format!("EPSG:{c}"));
    match code {
        Some(c) => {
            p.insert("proj:code".into(), json!(c));
        }
        None => {
            p.insert("proj:code".into(), Value::Null);
            if let Ok(pj) = crs_tools.projjson(crs) {
                p.insert("proj:projjson".into(), pj);
            }
        }
    }
    p
}

/// Builds the STAC item of a prepared dataset (see [`item_from_stored`]).
pub fn item(
    prepared: &PreparedDataset,
    product_definition: &Value,
    location: &str,
    crs_tools: &dyn CrsTransform,
) -> Result<Value, String> {
    item_from_stored(
        prepared.id,
        &prepared.product,
        &prepared.stored,
        product_definition,
        location,
        crs_tools,
    )
}

/// Builds the STAC item of a dataset from its stored eo3 document (as in `agdc.dataset.metadata`):
/// id = dataset id, `collection` = product (with a relative `collection` link, which STAC requires
/// beside the field; the server replaces it with absolute links), bbox and geometry from the lon/lat
/// extent, times and common metadata from the eo3 properties, projection v2 on the item (the default
/// grid) and on assets whose grid differs, one asset per measurement with STAC 1.1 `bands` and
/// `raster:bands` from the product definition. Round-tripped through the `stac` crate's typed model.
pub fn item_from_stored(
    id: Uuid,
    product: &str,
    doc: &Value,
    product_definition: &Value,
    location: &str,
    crs_tools: &dyn CrsTransform,
) -> Result<Value, String> {
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
    for (from, to) in [
        ("dtr:start_datetime", "start_datetime"),
        ("dtr:end_datetime", "end_datetime"),
        ("eo:platform", "platform"),
        ("eo:constellation", "constellation"),
        ("eo:gsd", "gsd"),
    ] {
        if let Some(v) = props.get(from).filter(|v| !v.is_null()) {
            p.insert(to.into(), v.clone());
        }
    }
    // eo3's "OLI_TIRS" is STAC's ["oli", "tirs"] (datacube's converter joins them back).
    if let Some(i) = props.get("eo:instrument").and_then(Value::as_str) {
        let list: Vec<String> = i.split('_').map(str::to_lowercase).collect();
        p.insert("instruments".into(), json!(list));
    }
    for key in [
        "odc:product",
        "odc:region_code",
        "odc:processing_datetime",
        "odc:file_format",
        "dea:dataset_maturity",
    ] {
        if let Some(v) = props.get(key) {
            p.insert(key.into(), v.clone());
        }
    }
    let crs = doc["crs"].as_str().unwrap_or_default();
    p.extend(projection(crs, crs_tools));
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
        .unwrap_or("GeoTIFF");
    let mut assets = Map::new();
    for (name, m) in doc["measurements"].as_object().into_iter().flatten() {
        let mut a = Map::new();
        a.insert("href".into(), json!(asset_href(location, m, format)));
        a.insert("type".into(), json!(media_type(format)));
        a.insert("title".into(), json!(name));
        a.insert("roles".into(), json!(["data"]));
        if let Some(def) = defs.iter().find(|d| d["name"] == *name) {
            let (band, raster) = band_fields(name, def);
            a.insert("bands".into(), json!([band]));
            a.insert("raster:bands".into(), json!([raster]));
        }
        if let Some(g) = m["grid"]
            .as_str()
            .filter(|g| *g != "default")
            .and_then(grid)
        {
            a.insert("proj:shape".into(), g["shape"].clone());
            a.insert("proj:transform".into(), g["transform"].clone());
        }
        assets.insert(name.clone(), Value::Object(a));
    }
    let item = json!({
        "type": "Feature",
        "stac_version": "1.1.0",
        "stac_extensions": [PROJECTION_V2, RASTER_V1_1],
        "id": id.to_string(),
        "collection": product,
        "geometry": {"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]},
        "bbox": [w, s, e, n],
        "properties": p,
        "links": [{"rel": "collection", "href": format!("../../{product}"), "type": "application/json"}],
        "assets": assets,
    });
    // Through the stac crate's typed model: a structurally wrong item fails here, not in a reader.
    // (Its bands take numeric nodata only: "nan"/"inf"/"-inf", which STAC 1.1 allows, go in after.)
    let mut non_finite = Vec::new();
    let mut item = item;
    for (name, a) in item["assets"].as_object_mut().into_iter().flatten() {
        if let Some(b) = a.pointer_mut("/bands/0").and_then(Value::as_object_mut) {
            if b.get("nodata").is_some_and(Value::is_string) {
                non_finite.push((name.clone(), b.remove("nodata").unwrap_or_default()));
            }
        }
    }
    let typed: stac::Item = serde_json::from_value(item).map_err(|e| format!("STAC item: {e}"))?;
    let mut item = serde_json::to_value(typed).map_err(|e| format!("STAC item: {e}"))?;
    for (name, nodata) in non_finite {
        if let Some(b) = item
            .pointer_mut(&format!(
                "/assets/{}/bands/0",
                name.replace('~', "~0").replace('/', "~1")
            ))
            .and_then(Value::as_object_mut)
        {
            b.insert("nodata".into(), nodata);
        }
    }
    Ok(item)
}

/// A measurement's STAC 1.1 band (name, nodata, data_type, unit) and its `raster:bands` entry
/// (nodata, data_type, scale, offset, unit), from the product definition.
fn band_fields(name: &str, def: &Value) -> (Value, Value) {
    // nodata is a number or "nan"/"inf"/"-inf" in both.
    let nodata = match &def["nodata"] {
        Value::String(s) if s.eq_ignore_ascii_case("nan") => json!("nan"),
        Value::String(s) if s.starts_with('-') => json!("-inf"),
        Value::String(_) => json!("inf"),
        v => v.clone(),
    };
    let mut band = Map::new();
    band.insert("name".into(), json!(name));
    let mut raster = Map::new();
    for m in [&mut band, &mut raster] {
        if !nodata.is_null() {
            m.insert("nodata".into(), nodata.clone());
        }
        m.insert("data_type".into(), def["dtype"].clone());
        if let Some(u) = def.get("units") {
            m.insert("unit".into(), u.clone());
        }
    }
    for (from, to) in [("scale_factor", "scale"), ("add_offset", "offset")] {
        if let Some(v) = def.get(from) {
            raster.insert(to.into(), v.clone());
        }
    }
    (Value::Object(band), Value::Object(raster))
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
            resolve_href("file:///l/x", "https://h/y.tif"),
            "https://h/y.tif"
        );
        assert_eq!(resolve_href("s3://b/k.nc", ""), "s3://b/k.nc");
    }

    #[test]
    fn asset_hrefs_are_what_gdal_opens() {
        let m = |v: Value| v;
        let href = |loc: &str, v: Value, f: &str| asset_href(loc, &m(v), f);
        assert_eq!(
            href("s3://b/d/x.tif", json!({"path": "x.tif"}), "GeoTIFF"),
            "s3://b/d/x.tif"
        );
        assert_eq!(
            href(
                "s3://b/k.tif.gz",
                json!({"path": "/vsigzip//vsis3/b/k.tif.gz"}),
                "GeoTIFF"
            ),
            "/vsigzip//vsis3/b/k.tif.gz"
        );
        assert_eq!(
            href(
                "file:///l/a%20b.tif.gz",
                json!({"path": "a%20b.tif.gz"}),
                "GeoTIFF"
            ),
            "/vsigzip//l/a b.tif.gz"
        );
        assert_eq!(
            href(
                "file:///l/pr_2019.nc",
                json!({"path": "pr_2019.nc", "layer": "precipitation_amount", "band": 3}),
                "NetCDF"
            ),
            "vrt://NETCDF:\"/l/pr_2019.nc\":precipitation_amount?bands=3"
        );
        assert_eq!(
            href(
                "s3://b/f.nc",
                json!({"path": "f.nc", "layer": "pr"}),
                "NetCDF"
            ),
            "NETCDF:\"/vsis3/b/f.nc\":pr"
        );
        assert_eq!(
            href(
                "file:///l/M.hdf",
                json!({"path": "M.hdf", "layer": "G:\"250m NDVI\""}),
                "HDF4_EOS:EOS_GRID"
            ),
            "vrt://HDF4_EOS:EOS_GRID:\"/l/M.hdf\":G:\"250m NDVI\""
        );
        assert_eq!(
            href(
                "file:///l/multi.tif",
                json!({"path": "multi.tif", "band": 2}),
                "GeoTIFF"
            ),
            "vrt:///l/multi.tif?bands=2"
        );
    }

    /// Lon/lat only: enough for EPSG:4326 documents.
    struct LonLat;
    impl CrsTransform for LonLat {
        fn is_geographic(&self, _: &str) -> Result<bool, String> {
            Ok(true)
        }
        fn to_lonlat(&self, _: &str, p: &[(f64, f64)]) -> Result<Vec<(f64, f64)>, String> {
            Ok(p.to_vec())
        }
        fn lonlat_to_crs(&self, _: &str, p: &[(f64, f64)]) -> Result<Vec<(f64, f64)>, String> {
            Ok(p.to_vec())
        }
    }

    #[test]
    fn datacubes_stac_converter_reads_the_item_back_as_the_eo3_document() {
        let t = json!([0.05, 0.0, -106.0, 0.0, -0.05, 40.5, 0.0, 0.0, 1.0]);
        let t2 = json!([0.1, 0.0, -106.0, 0.0, -0.1, 40.5, 0.0, 0.0, 1.0]);
        let doc = json!({
            "crs": "EPSG:4326",
            "grids": {"default": {"shape": [40, 40], "transform": t}, "g1": {"shape": [20, 20], "transform": t2}},
            "measurements": {"a": {"path": "a.tif"}, "b": {"path": "b.tif", "grid": "g1"}},
            "properties": {"datetime": "2020-01-01T00:00:00Z", "eo:platform": "landsat-8",
                "eo:instrument": "OLI_TIRS", "odc:file_format": "GeoTIFF", "odc:region_code": "x1"},
            "extent": {"lon": {"begin": -106.0, "end": -104.0}, "lat": {"begin": 38.5, "end": 40.5}},
        });
        let def = json!({"measurements": [
            {"name": "a", "dtype": "int16", "nodata": -1, "units": "1", "scale_factor": 0.5},
            {"name": "b", "dtype": "float32", "nodata": "NaN", "units": "mm"}]});
        let id = Uuid::from_u128(7);
        let item = item_from_stored(id, "p", &doc, &def, "file:///l/d/doc.yaml", &LonLat).unwrap();
        assert_eq!(item["collection"], "p");
        assert_eq!(item["assets"]["a"]["href"], "file:///l/d/a.tif");
        assert_eq!(item["assets"]["a"]["raster:bands"][0]["scale"], 0.5);
        assert_eq!(item["assets"]["b"]["bands"][0]["nodata"], "nan");
        assert_eq!(item["assets"]["b"]["proj:shape"], json!([20, 20]));
        assert!(item["assets"]["a"].get("proj:shape").is_none());
        assert_eq!(item["properties"]["instruments"], json!(["oli", "tirs"]));
        let back = crate::stac_eo3::convert(&item, &|k| Some(k.to_string()), &LonLat).unwrap();
        assert_eq!(back["id"], id.to_string());
        assert_eq!(back["product"]["name"], "p");
        assert_eq!(back["crs"], "EPSG:4326");
        assert_eq!(
            back["grids"]["default"]["transform"],
            json!([0.05, 0.0, -106.0, 0.0, -0.05, 40.5])
        );
        assert_eq!(back["grids"]["g1"]["shape"], json!([20, 20]));
        assert_eq!(
            back["measurements"]["a"],
            json!({"path": "file:///l/d/a.tif"})
        );
        assert_eq!(
            back["measurements"]["b"],
            json!({"path": "file:///l/d/b.tif", "grid": "g1"})
        );
        let p = &back["properties"];
        assert_eq!(p["eo:platform"], "landsat-8");
        assert_eq!(p["eo:instrument"], "OLI_TIRS");
        assert_eq!(p["odc:region_code"], "x1");
        assert_eq!(p["datetime"], "2020-01-01T00:00:00+00:00");
    }
}
