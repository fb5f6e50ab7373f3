//! CRS work through GDAL/PROJ for the document rules: is a CRS geographic, and where do points land in
//! EPSG:4326 (longitude first). Transforms are cached per CRS text; one `GdalCrs` per worker thread.
use catalog_schema::eo3::CrsTransform;
use gdal::spatial_ref::{AxisMappingStrategy, CoordTransform, SpatialRef};
use std::cell::RefCell;
use std::collections::HashMap;

/// Both directions between one CRS and EPSG:4326 (none for geographic CRSs, which need no projection).
struct Entry {
    geographic: bool,
    to_wgs84: Option<CoordTransform>,
    from_wgs84: Option<CoordTransform>,
}

/// GDAL-backed [`CrsTransform`].
#[derive(Default)]
pub struct GdalCrs {
    cache: RefCell<HashMap<String, Entry>>,
}

impl GdalCrs {
    /// A new, empty cache.
    pub fn new() -> GdalCrs {
        GdalCrs::default()
    }

    fn with<T>(&self, crs: &str, f: impl FnOnce(&Entry) -> Result<T, String>) -> Result<T, String> {
        let mut cache = self.cache.borrow_mut();
        if !cache.contains_key(crs) {
            let mut src = SpatialRef::from_definition(crs)
                .map_err(|e| format!("not a CRS GDAL understands: {e}"))?;
            src.set_axis_mapping_strategy(AxisMappingStrategy::TraditionalGisOrder);
            let geographic = src.is_geographic();
            let (to_wgs84, from_wgs84) = if geographic {
                (None, None)
            } else {
                let mut wgs84 = SpatialRef::from_epsg(4326).map_err(|e| e.to_string())?;
                wgs84.set_axis_mapping_strategy(AxisMappingStrategy::TraditionalGisOrder);
                (
                    Some(CoordTransform::new(&src, &wgs84).map_err(|e| e.to_string())?),
                    Some(CoordTransform::new(&wgs84, &src).map_err(|e| e.to_string())?),
                )
            };
            cache.insert(
                crs.to_string(),
                Entry {
                    geographic,
                    to_wgs84,
                    from_wgs84,
                },
            );
        }
        f(&cache[crs])
    }
}

fn apply(t: Option<&CoordTransform>, points: &[(f64, f64)]) -> Result<Vec<(f64, f64)>, String> {
    let Some(t) = t else {
        return Ok(points.to_vec());
    };
    let mut xs: Vec<f64> = points.iter().map(|p| p.0).collect();
    let mut ys: Vec<f64> = points.iter().map(|p| p.1).collect();
    let mut zs = vec![0.0; points.len()];
    t.transform_coords(&mut xs, &mut ys, &mut zs)
        .map_err(|e| e.to_string())?;
    Ok(xs.into_iter().zip(ys).collect())
}

impl CrsTransform for GdalCrs {
    fn is_geographic(&self, crs: &str) -> Result<bool, String> {
        self.with(crs, |e| Ok(e.geographic))
    }

    fn to_lonlat(&self, crs: &str, points: &[(f64, f64)]) -> Result<Vec<(f64, f64)>, String> {
        self.with(crs, |e| apply(e.to_wgs84.as_ref(), points))
    }

    fn lonlat_to_crs(&self, crs: &str, points: &[(f64, f64)]) -> Result<Vec<(f64, f64)>, String> {
        self.with(crs, |e| apply(e.from_wgs84.as_ref(), points))
    }

    fn projjson(&self, crs: &str) -> Result<serde_json::Value, String> {
        let srs = SpatialRef::from_definition(crs)
            .map_err(|e| format!("not a CRS GDAL understands: {e}"))?;
        let text = srs.to_projjson().map_err(|e| e.to_string())?;
        serde_json::from_str(&text).map_err(|e| format!("PROJJSON of {crs}: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sinusoidal_and_utm_to_lonlat() {
        let c = GdalCrs::new();
        let sinu = "+proj=sinu +lon_0=0 +x_0=0 +y_0=0 +R=6371007.181 +units=m +no_defs";
        assert!(!c.is_geographic(sinu).unwrap());
        assert!(c.is_geographic("EPSG:4326").unwrap());
        let p = c
            .to_lonlat(sinu, &[(12231455.716333333, -2223901.039333334)])
            .unwrap();
        // h29v11's upper-left corner: 20°S; the sphere formula gives the longitude.
        assert!((p[0].1 + 19.999999998203947).abs() < 1e-9, "{p:?}");
        let p = c.to_lonlat("EPSG:32633", &[(500000.0, 0.0)]).unwrap();
        assert!((p[0].0 - 15.0).abs() < 1e-9 && p[0].1.abs() < 1e-9, "{p:?}");
        assert!(c
            .is_geographic("EPSG:999999")
            .unwrap_err()
            .contains("not a CRS"));
    }
}
