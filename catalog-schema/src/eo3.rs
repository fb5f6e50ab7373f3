//! eo3 dataset documents: validation and the "prepared" document datacube stores (`prep_eo3`):
//! `grid_spatial` and `extent` derived by datacube's rules, lineage moved out, location removed, and
//! non-UTC times normalised so that SQL search and Python agree.
use serde_json::{json, Map, Value};
use uuid::Uuid;

/// The only `$schema` an eo3 document may carry.
pub const EO3_SCHEMA: &str = "https://schemas.opendatacube.org/dataset";

/// Coordinate work the document rules need, supplied by a caller that has PROJ/GDAL (the catalog
/// crate itself stays free of GDAL).
pub trait CrsTransform {
    /// Whether the CRS is geographic (lon/lat): then `extent` is read off the vertices directly.
    fn is_geographic(&self, crs: &str) -> Result<bool, String>;
    /// Projects points (x, y) in `crs` to (lon, lat) on EPSG:4326, longitude first.
    fn to_lonlat(&self, crs: &str, points: &[(f64, f64)]) -> Result<Vec<(f64, f64)>, String>;
    /// Projects (lon, lat) points on EPSG:4326 into `crs`.
    fn lonlat_to_crs(&self, crs: &str, points: &[(f64, f64)]) -> Result<Vec<(f64, f64)>, String>;
    /// The CRS as PROJJSON (for STAC's `proj:projjson` when it has no EPSG code).
    fn projjson(&self, crs: &str) -> Result<Value, String> {
        Err(format!(
            "no PROJJSON for {crs}: these CRS tools cannot describe it"
        ))
    }
}

/// A document ready to store.
#[derive(Debug, Clone, PartialEq)]
pub struct PreparedDataset {
    /// Dataset id.
    pub id: Uuid,
    /// `product.name`.
    pub product: String,
    /// The document to store in `agdc.dataset.metadata`.
    pub stored: Value,
    /// Location URI taken from `location`/`locations` in the document, if any.
    pub embedded_location: Option<String>,
    /// Lineage edges (classifier, source id), classifiers numbered as datacube does.
    pub lineage: Vec<(String, Uuid)>,
}

/// Validates a pure eo3 document and derives the stored form. Errors name the key and the rule.
pub fn prepare(doc: &Value, crs_tools: &dyn CrsTransform) -> Result<PreparedDataset, String> {
    let obj = doc.as_object().ok_or("an eo3 document must be a mapping")?;
    match obj.get("$schema").and_then(Value::as_str) {
        Some(EO3_SCHEMA) => {}
        Some(other) => return Err(format!("$schema: {other:?} is not {EO3_SCHEMA}")),
        None => return Err(format!("$schema: required ({EO3_SCHEMA})")),
    }
    let id_text = obj
        .get("id")
        .and_then(Value::as_str)
        .ok_or("id: required, a UUID string")?;
    let id = Uuid::parse_str(id_text).map_err(|e| format!("id: {id_text:?} is not a UUID: {e}"))?;
    let product = obj
        .get("product")
        .and_then(|p| p.get("name"))
        .and_then(Value::as_str)
        .ok_or("product.name: required")?
        .to_string();
    let crs = obj.get("crs").and_then(Value::as_str);
    let grids = obj.get("grids").and_then(Value::as_object);
    let (Some(crs), Some(grids)) = (crs, grids) else {
        return Err("crs, grids: input must have crs and grids".into());
    };
    let mut parsed_grids = Vec::new();
    for (name, g) in grids {
        parsed_grids.push((
            name.clone(),
            parse_grid(g).map_err(|m| format!("grids.{name}: {m}"))?,
        ));
    }
    let default = parsed_grids
        .iter()
        .find(|(n, _)| n == "default")
        .map(|(_, g)| g.clone())
        .ok_or("grids.default: required")?;
    let geometry = obj.get("geometry").filter(|g| !g.is_null());
    let rings = match geometry {
        Some(g) => exterior_rings(g)?,
        None => vec![],
    };
    let props = obj
        .get("properties")
        .and_then(Value::as_object)
        .ok_or("properties: required")?;
    if !props.contains_key("datetime") {
        return Err("properties.datetime: required (UTC)".into());
    }
    if !obj.get("measurements").is_some_and(Value::is_object) {
        return Err(
            "measurements: required, a mapping of measurement name to {path, band?, layer?}".into(),
        );
    }

    // grid_spatial: corners of the default grid; valid_data = geometry or the corner polygon.
    let corners = default.corners();
    let point = |p: (f64, f64)| json!({"x": p.0, "y": p.1});
    let valid_data = match geometry {
        Some(g) => g.clone(),
        None => {
            let ring: Vec<Value> = [corners[0], corners[1], corners[2], corners[3], corners[0]]
                .iter()
                .map(|p| json!([p.0, p.1]))
                .collect();
            json!({"type": "Polygon", "coordinates": [ring]})
        }
    };
    let grid_spatial = json!({"projection": {
        "spatial_reference": crs,
        "geo_ref_points": {"ul": point(corners[0]), "ur": point(corners[1]), "lr": point(corners[2]), "ll": point(corners[3])},
        "valid_data": valid_data,
    }});

    // extent: the footprint's vertices (geometry, else all grids' corners), projected without densifying.
    let vertices: Vec<(f64, f64)> = if rings.is_empty() {
        parsed_grids.iter().flat_map(|(_, g)| g.corners()).collect()
    } else {
        rings.into_iter().flatten().collect()
    };
    let geographic = crs_tools
        .is_geographic(crs)
        .map_err(|m| format!("crs: {crs:?}: {m}"))?;
    let lonlat = if geographic {
        vertices
    } else {
        crs_tools
            .to_lonlat(crs, &vertices)
            .map_err(|m| format!("crs: {crs:?}: cannot project to EPSG:4326: {m}"))?
    };
    let (lon, lat) = lonlat_bounds(&lonlat, !geographic)
        .ok_or("extent: the footprint has no finite coordinates")?;
    let extent =
        json!({"lon": {"begin": lon.0, "end": lon.1}, "lat": {"begin": lat.0, "end": lat.1}});

    // Lineage goes to agdc.dataset_source; the stored document keeps an empty source list.
    let lineage = lineage_edges(obj.get("lineage"))?;
    let embedded_location = match (obj.get("location"), obj.get("locations")) {
        (Some(Value::String(s)), _) => Some(s.clone()),
        (_, Some(Value::Array(l))) => l.first().and_then(Value::as_str).map(str::to_string),
        _ => None,
    };

    let mut stored: Map<String, Value> = obj.clone();
    stored.remove("location");
    stored.remove("locations");
    stored.insert("id".into(), Value::String(id.to_string()));
    if let Some(Value::Object(p)) = stored.get_mut("properties") {
        for (k, v) in p.iter_mut() {
            if let Value::String(s) = v {
                if is_time_key(k) {
                    if let Some(utc) =
                        normalise_utc(s).map_err(|m| format!("properties.{k}: {m}"))?
                    {
                        *s = utc;
                    }
                }
            }
        }
        // A NaN property would become a NaN search value: datacube's advice is to omit it.
        p.retain(|_, v| !(v.as_str() == Some("NaN") || v.as_f64().is_some_and(f64::is_nan)));
    }
    stored.insert("grid_spatial".into(), grid_spatial);
    stored.insert("extent".into(), extent);
    stored.insert("lineage".into(), json!({"source_datasets": {}}));
    Ok(PreparedDataset {
        id,
        product,
        stored: Value::Object(stored),
        embedded_location,
        lineage,
    })
}

/// A grid: shape (ny, nx) and affine (a, b, c, d, e, f).
#[derive(Debug, Clone, PartialEq)]
struct Grid {
    ny: f64,
    nx: f64,
    t: [f64; 6],
}

impl Grid {
    /// ul, ur, lr, ll pixel corners.
    fn corners(&self) -> [(f64, f64); 4] {
        let at = |c: f64, r: f64| {
            (
                self.t[0] * c + self.t[1] * r + self.t[2],
                self.t[3] * c + self.t[4] * r + self.t[5],
            )
        };
        [
            at(0.0, 0.0),
            at(self.nx, 0.0),
            at(self.nx, self.ny),
            at(0.0, self.ny),
        ]
    }
}

fn parse_grid(g: &Value) -> Result<Grid, String> {
    let shape = g
        .get("shape")
        .and_then(Value::as_array)
        .ok_or("shape: required, [rows, cols]")?;
    if shape.len() != 2 || shape.iter().any(|v| v.as_u64().is_none()) {
        return Err(format!("shape: {} must be exactly 2 integers", g["shape"]));
    }
    let t = g
        .get("transform")
        .and_then(Value::as_array)
        .ok_or("transform: required, 6 or 9 numbers")?;
    let nums: Vec<f64> = t
        .iter()
        .map(Value::as_f64)
        .collect::<Option<_>>()
        .ok_or("transform: numbers only")?;
    if nums.len() != 6 && nums.len() != 9 {
        return Err(format!(
            "transform: has {} numbers, needs 6 or 9",
            nums.len()
        ));
    }
    if nums.len() == 9 && nums[6..] != [0.0, 0.0, 1.0] {
        return Err("transform: with 9 numbers the last three must be 0, 0, 1".into());
    }
    Ok(Grid {
        ny: shape[0].as_u64().unwrap_or(0) as f64,
        nx: shape[1].as_u64().unwrap_or(0) as f64,
        t: [nums[0], nums[1], nums[2], nums[3], nums[4], nums[5]],
    })
}

fn exterior_rings(g: &Value) -> Result<Vec<Vec<(f64, f64)>>, String> {
    let ring = |r: &Value| -> Result<Vec<(f64, f64)>, String> {
        r.as_array()
            .ok_or("geometry: rings must be lists of [x, y]")?
            .iter()
            .map(|p| match p.as_array().map(|a| a.as_slice()) {
                Some([x, y, ..]) => Ok((
                    x.as_f64().unwrap_or(f64::NAN),
                    y.as_f64().unwrap_or(f64::NAN),
                )),
                _ => Err("geometry: positions must be [x, y]".to_string()),
            })
            .collect()
    };
    let coords = g
        .get("coordinates")
        .and_then(Value::as_array)
        .ok_or("geometry.coordinates: required")?;
    match g.get("type").and_then(Value::as_str) {
        Some("Polygon") => Ok(vec![ring(
            coords.first().ok_or("geometry: empty polygon")?,
        )?]),
        Some("MultiPolygon") => coords
            .iter()
            .map(|poly| {
                ring(
                    poly.as_array()
                        .and_then(|p| p.first())
                        .ok_or("geometry: empty polygon")?,
                )
            })
            .collect(),
        other => Err(format!(
            "geometry.type: {other:?} must be Polygon or MultiPolygon"
        )),
    }
}

/// Min/max lon and lat, with datacube's antimeridian rule: if the longitude span exceeds 180°, shift
/// negative longitudes by +360 and keep that only if the span shrinks.
fn lonlat_bounds(points: &[(f64, f64)], projected: bool) -> Option<((f64, f64), (f64, f64))> {
    let finite: Vec<&(f64, f64)> = points
        .iter()
        .filter(|(x, y)| x.is_finite() && y.is_finite())
        .collect();
    if finite.is_empty() {
        return None;
    }
    let minmax = |it: &mut dyn Iterator<Item = f64>| {
        it.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        })
    };
    let mut lon = minmax(&mut finite.iter().map(|p| p.0));
    let lat = minmax(&mut finite.iter().map(|p| p.1));
    if projected && lon.1 - lon.0 > 180.0 {
        let shifted = minmax(
            &mut finite
                .iter()
                .map(|p| if p.0 < 0.0 { p.0 + 360.0 } else { p.0 }),
        );
        if shifted.1 - shifted.0 < lon.1 - lon.0 {
            lon = shifted;
        }
    }
    Some((lon, lat))
}

fn lineage_edges(lineage: Option<&Value>) -> Result<Vec<(String, Uuid)>, String> {
    let Some(Value::Object(map)) = lineage else {
        return Ok(vec![]);
    };
    // Already in datacube's stored form: nothing to move.
    if map.len() == 1 && map.contains_key("source_datasets") {
        return Ok(vec![]);
    }
    let mut edges = Vec::new();
    for (classifier, ids) in map {
        let list = ids
            .as_array()
            .ok_or(format!("lineage.{classifier}: expected a list of UUIDs"))?;
        for (i, v) in list.iter().enumerate() {
            let s = v
                .as_str()
                .ok_or(format!("lineage.{classifier}: expected UUID strings"))?;
            let u = Uuid::parse_str(s)
                .map_err(|_| format!("lineage.{classifier}: {s:?} is not a UUID"))?;
            let c = if list.len() > 1 {
                format!("{classifier}{}", i + 1)
            } else {
                classifier.clone()
            };
            edges.push((c, u));
        }
    }
    Ok(edges)
}

fn is_time_key(k: &str) -> bool {
    k == "datetime" || k.ends_with("_datetime") || k == "odc:processing_datetime"
}

/// Rewrites an ISO 8601 timestamp with a non-UTC offset as UTC (`…Z`); `Ok(None)` leaves it as written
/// (already UTC, or no offset — `agdc.common_timestamp` reads those as UTC too).
pub fn normalise_utc(s: &str) -> Result<Option<String>, String> {
    let t = s.trim();
    if t.ends_with('Z') || t.ends_with("+00:00") || t.ends_with("+0000") || t.len() <= 10 {
        return Ok(None);
    }
    let tail = &t[t.len().saturating_sub(6)..];
    let has_offset =
        (tail.starts_with('+') || tail.starts_with('-')) && tail.as_bytes().get(3) == Some(&b':');
    if !has_offset {
        return Ok(None);
    }
    let parsed = chrono::DateTime::parse_from_rfc3339(&t.replacen(' ', "T", 1))
        .map_err(|e| format!("{s:?} is not an ISO 8601 timestamp: {e}"))?;
    Ok(Some(
        parsed
            .with_timezone(&chrono::Utc)
            .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Closed-form geographic/sinusoidal transforms, enough for the rules (the real one uses GDAL).
    struct Sphere;
    impl CrsTransform for Sphere {
        fn is_geographic(&self, crs: &str) -> Result<bool, String> {
            Ok(crs == "EPSG:4326")
        }
        fn lonlat_to_crs(
            &self,
            _crs: &str,
            _pts: &[(f64, f64)],
        ) -> Result<Vec<(f64, f64)>, String> {
            Err("not needed in these tests".into())
        }
        fn to_lonlat(&self, crs: &str, pts: &[(f64, f64)]) -> Result<Vec<(f64, f64)>, String> {
            assert!(crs.contains("+proj=sinu"));
            let r = 6371007.181_f64;
            Ok(pts
                .iter()
                .map(|(x, y)| {
                    let lat = y / r;
                    ((x / (r * lat.cos())).to_degrees(), lat.to_degrees())
                })
                .collect())
        }
    }

    fn doc(yaml: &str) -> Value {
        crate::document::parse_documents("t.yaml", yaml)
            .unwrap()
            .remove(0)
            .value
    }

    #[test]
    fn reference_precip_document_is_stored_as_datacube_stores_it() {
        let input = doc(include_str!(
            "../../tests/fixtures/precip_20200101.odc-metadata.yaml"
        ));
        let expected: Value = serde_json::from_str(include_str!(
            "../../tests/fixtures/stored-dataset-doc.postgres-driver.json"
        ))
        .unwrap();
        let p = prepare(&input, &Sphere).unwrap();
        assert_eq!(p.stored, expected);
        assert!(p.lineage.is_empty());
    }

    #[test]
    fn modis_sinusoidal_extent_matches_datacube_check_values() {
        let input = doc("$schema: https://schemas.opendatacube.org/dataset\nid: 11111111-2222-3333-4444-555555555555\n\
            product: {name: mod09a1}\ncrs: '+proj=sinu +lon_0=0 +x_0=0 +y_0=0 +R=6371007.181 +units=m +no_defs'\n\
            grids:\n  default: {shape: [2400, 2400], transform: [463.31271652777775, 0.0, 12231455.716333333, 0.0, -463.31271652777775, -2223901.039333334, 0, 0, 1]}\n\
            \x20 1km: {shape: [1200, 1200], transform: [926.6254330555555, 0.0, 12231455.716333333, 0.0, -926.6254330555555, -2223901.039333334, 0, 0, 1]}\n\
            properties: {datetime: '2020-01-01T00:00:00Z'}\nmeasurements: {b1: {path: x.hdf, layer: 'g:b1'}}\n");
        let p = prepare(&input, &Sphere).unwrap();
        let e = &p.stored["extent"];
        for (got, want) in [
            (&e["lon"]["begin"], 117.05955496050247),
            (&e["lon"]["end"], 138.56406458930505),
            (&e["lat"]["begin"], -29.999999997305917),
            (&e["lat"]["end"], -19.999999998203947),
        ] {
            assert!(
                (got.as_f64().unwrap() - want).abs() < 1e-9,
                "{got} vs {want}"
            );
        }
        assert_eq!(
            p.stored["grid_spatial"]["projection"]["geo_ref_points"]["ul"],
            json!({"x": 12231455.716333333, "y": -2223901.039333334})
        );
    }

    #[test]
    fn lineage_location_and_times() {
        let input = doc("$schema: https://schemas.opendatacube.org/dataset\nid: 3F2A9A3E-7A0C-4C71-9D8E-3A7B0C1D2E02\n\
            product: {name: p}\ncrs: EPSG:4326\ngrids: {default: {shape: [10, 20], transform: [0.1, 0, 179.0, 0, -0.1, 0]}}\n\
            \x20 \nproperties: {datetime: '2020-01-01T12:00:00+10:00', eo:cloud_cover: .nan}\nmeasurements: {b1: {path: m.tif}}\n\
            location: s3://bucket/x.yaml\nlineage: {src: [3f2a9a3e-7a0c-4c71-9d8e-3a7b0c1d2e01, 3f2a9a3e-7a0c-4c71-9d8e-3a7b0c1d2e03]}\n");
        let p = prepare(&input, &Sphere).unwrap();
        assert_eq!(p.stored["id"], "3f2a9a3e-7a0c-4c71-9d8e-3a7b0c1d2e02");
        assert_eq!(p.stored["properties"]["datetime"], "2020-01-01T02:00:00Z");
        assert!(p.stored["properties"].get("eo:cloud_cover").is_none());
        assert_eq!(p.embedded_location.as_deref(), Some("s3://bucket/x.yaml"));
        assert!(p.stored.get("location").is_none());
        assert_eq!(
            p.lineage
                .iter()
                .map(|(c, _)| c.as_str())
                .collect::<Vec<_>>(),
            ["src1", "src2"]
        );
        assert_eq!(p.stored["lineage"], json!({"source_datasets": {}}));
        // 179..181 crosses the antimeridian: stays a 2° span.
        assert_eq!(
            p.stored["extent"]["lon"],
            json!({"begin": 179.0, "end": 181.0})
        );
    }

    #[test]
    fn invalid_documents_are_explained() {
        let base = "$schema: https://schemas.opendatacube.org/dataset\nid: 3f2a9a3e-7a0c-4c71-9d8e-3a7b0c1d2e02\nproduct: {name: p}\n\
            properties: {datetime: '2020-01-01T00:00:00Z'}\nmeasurements: {b: {path: m.tif}}\n";
        assert!(prepare(&doc(base), &Sphere)
            .unwrap_err()
            .contains("must have crs and grids"));
        let g = format!("{base}crs: EPSG:4326\ngrids: {{default: {{shape: [10], transform: [1, 0, 0, 0, -1, 0]}}}}\n");
        assert!(prepare(&doc(&g), &Sphere)
            .unwrap_err()
            .contains("grids.default: shape"));
        let g = format!("{base}crs: EPSG:4326\ngrids: {{default: {{shape: [1, 1], transform: [1, 0, 0, 0, -1, 0, 1, 1, 1]}}}}\n");
        assert!(prepare(&doc(&g), &Sphere)
            .unwrap_err()
            .contains("last three must be 0, 0, 1"));
        let s = base.replace(
            "https://schemas.opendatacube.org/dataset",
            "https://example.com/x",
        );
        assert!(prepare(&doc(&s), &Sphere).unwrap_err().contains("$schema"));
    }
}
