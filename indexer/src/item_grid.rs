//! What older USGS STAC items lack, taken from the scene's `_MTL.json` beside the item: the grid
//! (else from the header of the item's first data asset read with GDAL, a COG) and, for STAC 0.7 items
//! whose `datetime` is a bare date, the acquisition time.
use crate::raster;
use crate::s3::S3;
use catalog_schema::stac_eo3;
use serde_json::{json, Value};

/// Adds what the item lacks: `proj:epsg` (or `proj:wkt2`), `proj:shape` and `proj:transform` when it
/// has no grid, and the acquisition time when its `datetime` is a bare date. `item_uri` is where the
/// item was read (for the MTL beside it and relative hrefs). The MTL is read once, only when needed.
pub fn ensure_grid(item: &mut Value, item_uri: &str, s3: Option<&S3>) -> Result<(), String> {
    let (needs_grid, needs_time) = (!stac_eo3::has_grid(item), stac_eo3::has_date_only(item));
    if !needs_grid && !needs_time {
        return Ok(());
    }
    let mtl = read_mtl(item, item_uri, s3);
    if needs_time {
        let datetime = mtl
            .as_ref()
            .map_err(Clone::clone)
            .and_then(|(uri, doc)| stac_eo3::mtl_datetime(doc).map_err(|m| format!("{uri}: {m}")))
            .map_err(|e| {
                format!(
                    "datetime {:?} has no time of day, and its MTL cannot give it ({e})",
                    item["properties"]["datetime"]
                )
            })?;
        item["properties"]["datetime"] = Value::String(datetime);
    }
    if !needs_grid {
        return Ok(());
    }
    let mtl_error = match mtl
        .and_then(|(uri, doc)| stac_eo3::apply_mtl(item, &doc).map_err(|m| format!("{uri}: {m}")))
    {
        Ok(()) => return Ok(()),
        Err(e) => e,
    };
    from_asset_header(item, item_uri).map_err(|cog| {
        format!("no projection information, and its MTL cannot be read ({mtl_error}), nor its data header ({cog})")
    })
}

/// The scene's `_MTL.json` beside the item: (its URI, its JSON).
fn read_mtl(item: &Value, item_uri: &str, s3: Option<&S3>) -> Result<(String, Value), String> {
    let mtl = stac_eo3::mtl_uri(item, item_uri).ok_or("no item id to find an _MTL.json")?;
    if mtl.starts_with("http://") || mtl.starts_with("https://") {
        // Items from a STAC API carry http(s) locations; their MTL is not fetched.
        return Err(format!(
            "{mtl}: MTLs are read beside items on local disks and s3:// only (index the scene's \
             folder instead)"
        ));
    }
    let bytes = match (mtl.starts_with("s3://"), s3) {
        (true, Some(s3)) => s3.get(&mtl).map_err(|e| e.to_string())?,
        _ => std::fs::read(&mtl).map_err(|e| format!("{mtl}: {e}"))?,
    };
    let doc: Value = serde_json::from_slice(&bytes).map_err(|e| format!("{mtl}: not JSON: {e}"))?;
    Ok((mtl, doc))
}

/// The GDAL path of an asset href: `s3://` over `/vsis3/`, `http(s)` over `/vsicurl/`, `file://` and
/// relative hrefs (against the item's folder) as local paths.
fn gdal_path(href: &str, item_uri: &str) -> String {
    if let Some(rest) = href.strip_prefix("s3://") {
        return format!("/vsis3/{rest}");
    }
    if href.starts_with("http://") || href.starts_with("https://") {
        return format!("/vsicurl/{href}");
    }
    if let Some(rest) = href.strip_prefix("file://") {
        return rest.to_string();
    }
    if href.starts_with('/') {
        return href.to_string();
    }
    let base = item_uri.rsplit_once('/').map(|(d, _)| d).unwrap_or(".");
    gdal_path(&format!("{base}/{href}"), item_uri)
}

fn from_asset_header(item: &mut Value, item_uri: &str) -> Result<(), String> {
    let href = item["assets"]
        .as_object()
        .and_then(|assets| {
            assets.values().find(|a| {
                a["roles"]
                    .as_array()
                    .is_some_and(|r| r.iter().any(|x| x == "data"))
                    || a["type"].as_str().is_some_and(|t| t.contains("tiff"))
            })
        })
        .and_then(|a| a["href"].as_str())
        .ok_or("no data asset")?
        .to_string();
    let path = gdal_path(&href, item_uri);
    let info = raster::inspect(&path).map_err(|e| e.to_string())?;
    let t = info
        .eo3_transform()
        .ok_or(format!("{href}: no geotransform"))?;
    let props = item["properties"]
        .as_object_mut()
        .ok_or("properties: required")?;
    match (info.epsg, &info.crs_wkt) {
        (Some(code), _) => props.insert("proj:epsg".into(), json!(code)),
        (None, Some(wkt)) => props.insert("proj:wkt2".into(), json!(wkt)),
        (None, None) => return Err(format!("{href}: no CRS")),
    };
    props.insert("proj:shape".into(), json!([info.height, info.width]));
    props.insert(
        "proj:transform".into(),
        json!([t[0], t[1], t[2], t[3], t[4], t[5]]),
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hrefs_become_gdal_paths() {
        assert_eq!(gdal_path("s3://b/k.TIF", "s3://b/x.json"), "/vsis3/b/k.TIF");
        assert_eq!(
            gdal_path("B4.TIF", "/lake/scene/item.json"),
            "/lake/scene/B4.TIF"
        );
        assert_eq!(
            gdal_path("B4.TIF", "s3://b/scene/item.json"),
            "/vsis3/b/scene/B4.TIF"
        );
        assert_eq!(gdal_path("file:///l/a.tif", "x"), "/l/a.tif");
    }

    #[test]
    fn a_cog_header_gives_the_grid_when_nothing_else_does() {
        let dir = tempfile::tempdir().unwrap();
        let tif = dir.path().join("scene_B4.TIF");
        let d = gdal::DriverManager::get_driver_by_name("GTiff").unwrap();
        let mut ds = d.create_with_band_type::<u16, _>(&tif, 30, 20, 1).unwrap();
        ds.set_geo_transform(&[500_000.0, 30.0, 0.0, 4_000_000.0, 0.0, -30.0])
            .unwrap();
        ds.set_spatial_ref(&gdal::spatial_ref::SpatialRef::from_epsg(32613).unwrap())
            .unwrap();
        drop(ds);
        let mut item = json!({"id": "scene", "properties": {},
            "assets": {"red": {"href": "scene_B4.TIF", "roles": ["data"]}}});
        let uri = dir.path().join("scene_stac.json").display().to_string();
        ensure_grid(&mut item, &uri, None).unwrap();
        let p = &item["properties"];
        assert_eq!(p["proj:epsg"], 32613);
        assert_eq!(p["proj:shape"], json!([20, 30]));
        assert_eq!(
            p["proj:transform"],
            json!([30.0, 0.0, 500_000.0, 0.0, -30.0, 4_000_000.0])
        );
        let mut bare = json!({"id": "x", "properties": {}, "assets": {}});
        let e = ensure_grid(&mut bare, &uri, None).unwrap_err();
        assert!(e.contains("MTL") && e.contains("no data asset"), "{e}");
    }
}
