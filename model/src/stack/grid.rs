//! Output grids from a query: a lon/lat box projected to the output CRS as odc-geo does (edges
//! segmentised, then the envelope snapped), a product's `load` hints, or a "like" dataset's grid.
use crate::{Error, GeoBox, Result};
use gdal::spatial_ref::{AxisMappingStrategy, CoordTransform, SpatialRef};
use serde_json::Value;

/// The CRS in "x, y" axis order whatever its authority says (longitude first for EPSG:4326).
pub fn srs(crs: &str) -> Result<SpatialRef> {
    let mut s = SpatialRef::from_definition(crs)
        .map_err(|e| Error::Grid(format!("CRS {crs:?} is not understood: {e}")))?;
    s.set_axis_mapping_strategy(AxisMappingStrategy::TraditionalGisOrder);
    Ok(s)
}

/// Whether the CRS is geographic (degrees).
pub fn is_geographic(crs: &str) -> Result<bool> {
    Ok(srs(crs)?.is_geographic())
}

/// The bounding box in `to` of a box given in `from`, edges segmentised as odc-geo's `to_crs` does
/// (1 unit steps for a geographic source, 100 km otherwise) before the corners are transformed.
pub fn transform_bbox(bbox: [f64; 4], from: &str, to: &str) -> Result<[f64; 4]> {
    let (a, b) = (srs(from)?, srs(to)?);
    let step = if a.is_geographic() { 1.0 } else { 100_000.0 };
    let [l, bo, r, t] = bbox;
    let ring = [(l, bo), (l, t), (r, t), (r, bo), (l, bo)];
    let (mut xs, mut ys) = (Vec::new(), Vec::new());
    for w in ring.windows(2) {
        let ((x0, y0), (x1, y1)) = (w[0], w[1]);
        let len = ((x1 - x0).powi(2) + (y1 - y0).powi(2)).sqrt();
        let n = (len / step).ceil().max(1.0) as usize;
        for k in 0..n {
            let f = k as f64 / n as f64;
            xs.push(x0 + (x1 - x0) * f);
            ys.push(y0 + (y1 - y0) * f);
        }
    }
    let tr = CoordTransform::new(&a, &b)
        .map_err(|e| Error::Grid(format!("no transformation {from} → {to}: {e}")))?;
    tr.transform_coords(&mut xs, &mut ys, &mut [])
        .map_err(|e| Error::Grid(format!("transforming {bbox:?} from {from} to {to}: {e}")))?;
    let fold = |v: &[f64], f: fn(f64, f64) -> f64, init| v.iter().copied().fold(init, f);
    Ok([
        fold(&xs, f64::min, f64::INFINITY),
        fold(&ys, f64::min, f64::INFINITY),
        fold(&xs, f64::max, f64::NEG_INFINITY),
        fold(&ys, f64::max, f64::NEG_INFINITY),
    ])
}

/// The grid `dc.load(x=…, y=…, output_crs=crs, resolution=…, align=…)` builds for a lon/lat box.
pub fn for_lonlat_box(
    crs: &str,
    lonlat: [f64; 4],
    res: (f64, f64),
    align: Option<(f64, f64)>,
) -> Result<GeoBox> {
    let bbox = transform_bbox(lonlat, "EPSG:4326", crs)?;
    GeoBox::from_bbox(crs, bbox, res.0, res.1, align)
}

/// A product's `load` hints.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadHints {
    /// Output CRS.
    pub crs: String,
    /// Pixel size (x, y).
    pub res: (f64, f64),
    /// Pixel-grid alignment (x, y), in CRS units.
    pub align: Option<(f64, f64)>,
}

/// A product's `load` hints, when it has them.
pub fn load_hints(definition: &Value) -> Option<LoadHints> {
    let load = definition.get("load")?;
    let crs = load["crs"].as_str()?.to_string();
    // Hints name their axes x/y, or longitude/latitude for geographic CRSs.
    let xy = |v: &Value| {
        let x = v.get("x").or_else(|| v.get("longitude"))?.as_f64()?;
        let y = v.get("y").or_else(|| v.get("latitude"))?.as_f64()?;
        Some((x, y))
    };
    let (x, y) = xy(&load["resolution"])?;
    let align = load.get("align").and_then(xy);
    Some(LoadHints {
        crs,
        res: (x, y),
        align,
    })
}

/// A dataset document's grid `name`: its CRS, shape `[rows, cols]` and eo3 affine
/// `[a, b, c, d, e, f]` (x = a·col + b·row + c, y = d·col + e·row + f).
pub fn document_grid<'a>(doc: &'a Value, name: &str) -> Result<(&'a str, [u64; 2], [f64; 6])> {
    let id = doc["id"].as_str().unwrap_or("?");
    let bad = |m: &str| Error::Grid(format!("dataset {id}: {m}"));
    let crs = doc["crs"].as_str().ok_or_else(|| bad("no crs"))?;
    let g = doc["grids"]
        .get(name)
        .ok_or_else(|| bad(&format!("no grid {name:?}")))?;
    let numbers = |key: &str| -> Vec<f64> {
        g[key]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_f64).collect())
            .unwrap_or_default()
    };
    let (t, shape) = (numbers("transform"), numbers("shape"));
    if t.len() < 6 || shape.len() != 2 {
        return Err(bad(&format!("grid {name:?} needs a transform and a shape")));
    }
    Ok((
        crs,
        [shape[0] as u64, shape[1] as u64],
        [t[0], t[1], t[2], t[3], t[4], t[5]],
    ))
}

/// The grid of a dataset (its `grids[grid]` in its CRS) cropped to a lon/lat box: same CRS,
/// resolution and pixel alignment, as VegET takes the NDVI grid.
pub fn like_dataset(doc: &Value, grid: &str, lonlat: [f64; 4]) -> Result<GeoBox> {
    let (crs, _, t) = document_grid(doc, grid)?;
    if t[1] != 0.0 || t[3] != 0.0 {
        return Err(Error::Grid(format!(
            "dataset {}: grid transform must be north-up without rotation",
            doc["id"].as_str().unwrap_or("?")
        )));
    }
    let (rx, ry) = (t[0], t[4]);
    let align = (t[2].rem_euclid(rx.abs()), t[5].rem_euclid(ry.abs()));
    for_lonlat_box(crs, lonlat, (rx, ry), Some(align))
}

/// The grid of `product`'s first dataset in a lon/lat box (its `default` grid), cropped to the box.
pub fn like_product(
    catalog: &mut catalog_schema::Catalog,
    product: &str,
    lonlat: [f64; 4],
) -> Result<GeoBox> {
    let found = catalog_schema::search::search(
        catalog,
        &catalog_schema::search::Query {
            product: product.to_string(),
            time: None,
            bbox: Some(lonlat),
            limit: None,
        },
    )?;
    let first = found.first().ok_or_else(|| {
        Error::Grid(format!(
            "like {product}: no dataset of {product} in the area {lonlat:?}"
        ))
    })?;
    like_dataset(first.metadata(), "default", lonlat)
}

/// The output grid of a load over a lon/lat box, as `dc.load(x=…, y=…, output_crs=…,
/// resolution=…, align=…)` builds it: CRS, resolution (x, y) and align (x, y) as given, else the
/// product's `load` hints (EPSG:4326 when it has no CRS hint).
pub fn for_product(
    catalog: &mut catalog_schema::Catalog,
    product: &str,
    lonlat: [f64; 4],
    crs: Option<&str>,
    res: Option<(f64, f64)>,
    align: Option<(f64, f64)>,
) -> Result<GeoBox> {
    let def = catalog_schema::product::get(catalog, product)?
        .ok_or_else(|| Error::Request(format!("no product {product:?} in the index")))?
        .definition;
    let hints = load_hints(&def);
    let crs = crs
        .map(str::to_string)
        .or_else(|| hints.as_ref().map(|h| h.crs.clone()))
        .unwrap_or_else(|| "EPSG:4326".into());
    let res = match res {
        Some(r) => r,
        None => hints.as_ref().map(|h| h.res).ok_or_else(|| {
            Error::Request(format!(
                "product {product} has no load hints: give --resolution (and --crs)"
            ))
        })?,
    };
    let align = align.or_else(|| hints.and_then(|h| h.align));
    for_lonlat_box(&crs, lonlat, res, align)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_lonlat_box_in_utm_is_the_envelope_of_its_projected_edges() {
        let b = transform_bbox([-105.0, 40.0, -104.9, 40.1], "EPSG:4326", "EPSG:32613").unwrap();
        // Central meridian of zone 13 is -105°: the west edge is x = 500 000 m.
        assert!((b[0] - 500_000.0).abs() < 1e-6, "{b:?}");
        assert!(b[2] > 508_000.0 && b[2] < 509_000.0, "{b:?}");
        let g = for_lonlat_box(
            "EPSG:32613",
            [-105.0, 40.0, -104.9, 40.1],
            (30.0, -30.0),
            None,
        )
        .unwrap();
        // Pixel edges on multiples of 30 m: 500 000 is not one, 499 980 is.
        assert_eq!(g.transform[2], 499_980.0);
        assert_eq!(g.transform[0], 30.0);
    }

    #[test]
    fn load_hints_name_axes_either_way() {
        let def = json!({"load": {"crs": "EPSG:4326",
            "resolution": {"latitude": -0.05, "longitude": 0.05},
            "align": {"latitude": 0, "longitude": 0}}});
        let h = load_hints(&def).unwrap();
        assert_eq!(
            (h.crs.as_str(), h.res, h.align),
            ("EPSG:4326", (0.05, -0.05), Some((0.0, 0.0)))
        );
        assert!(load_hints(&json!({"name": "x"})).is_none());
    }

    #[test]
    fn like_a_dataset_keeps_its_pixel_alignment() {
        let doc = json!({"id": "x", "crs": "EPSG:32613", "grids": {"default": {
            "shape": [100, 100], "transform": [30.0, 0.0, 499_995.0, 0.0, -30.0, 4_500_015.0, 0, 0, 1]}}});
        let g = like_dataset(&doc, "default", [-105.0, 40.0, -104.99, 40.01]).unwrap();
        assert_eq!((g.transform[2] - 499_995.0) % 30.0, 0.0);
        assert_eq!((g.transform[5] - 4_500_015.0) % 30.0, 0.0);
        assert!(like_dataset(&doc, "nope", [0.0, 0.0, 1.0, 1.0]).is_err());
    }
}
