//! From a recognised file to eo3 documents: open it with GDAL (locally, over `/vsis3/`, through
//! `/vsigzip/`, or from a staged copy for HDF4/NetCDF), check its bands against the product, and build
//! one document per dataset (one per time step for multi-time NetCDF) with a deterministic id.
use crate::packing;
use crate::raster::{self, RasterInfo};
use crate::recognition::{MeasurementSource, Recognised, Spec};
use crate::s3::{split_s3, ObjectRef, S3};
use crate::siblings::{self, Absent, Claimed, Located};
use crate::{Error, Result};
use chrono::{NaiveDate, NaiveTime};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use uuid::Uuid;

/// Namespace of etlake's dataset ids: `uuid5(ETLAKE_NAMESPACE, "<product>\n<location>\n<band>")`.
/// Re-indexing the same object therefore yields the same ids, and nothing is duplicated.
pub fn etlake_namespace() -> Uuid {
    Uuid::new_v5(
        &Uuid::NAMESPACE_URL,
        b"https://github.com/etlake/etlake/dataset-id",
    )
}

/// The dataset id policy (documented in the README).
pub fn dataset_id(product: &str, location: &str, band: Option<u32>) -> Uuid {
    let name = format!(
        "{product}\n{location}\n{}",
        band.map(|b| b.to_string()).unwrap_or_default()
    );
    Uuid::new_v5(&etlake_namespace(), name.as_bytes())
}

/// 23:59:59.999999, the last instant of a day in `dtr:end_datetime`.
const END_OF_DAY: NaiveTime = match NaiveTime::from_hms_micro_opt(23, 59, 59, 999_999) {
    Some(t) => t,
    None => panic!("valid time"),
};

/// What a product definition says about one measurement.
#[derive(Debug, Clone)]
pub struct MeasurementDef {
    /// numpy dtype name.
    pub dtype: String,
    /// nodata (NaN for `"NaN"`).
    pub nodata: f64,
    /// `scale_factor`: physical = stored × scale_factor + add_offset.
    pub scale_factor: Option<f64>,
    /// `add_offset`.
    pub add_offset: Option<f64>,
}

/// What the indexer needs from a product definition.
#[derive(Debug, Clone, Default)]
pub struct ProductDef {
    /// `load.crs`, used when a file carries no CRS of its own (e.g. CF NetCDF without grid_mapping).
    pub load_crs: Option<String>,
    /// Measurements by name.
    pub measurements: BTreeMap<String, MeasurementDef>,
    /// The stored product definition (for STAC `raster:bands`).
    pub definition: Value,
}

impl ProductDef {
    /// The canonical measurement name for a name or alias.
    pub fn canonical(&self, key: &str) -> Option<String> {
        self.definition["measurements"]
            .as_array()?
            .iter()
            .find_map(|m| {
                let name = m["name"].as_str()?;
                let alias = m["aliases"]
                    .as_array()
                    .is_some_and(|a| a.iter().any(|x| x == key));
                (name == key || alias).then(|| name.to_string())
            })
    }
}

/// A dataset ready for `eo3::prepare`.
#[derive(Debug, Clone)]
pub struct Draft {
    /// The pure eo3 document.
    pub eo3: Value,
    /// Its location URI.
    pub location: String,
    /// Optional measurements left out because their sibling files are absent.
    pub absent: Vec<Absent>,
}

/// A path in the staging directory for a local copy of `name`, unique within the process: workers
/// stage objects in parallel, and two objects (or two siblings) in different folders can share a name.
pub(crate) fn staging_path(stage_dir: &Path, name: &str) -> PathBuf {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    stage_dir.join(format!("{}-{n}-{name}", std::process::id()))
}

/// A local copy of a remote object, removed when dropped.
struct Staged(Option<PathBuf>);
impl Drop for Staged {
    fn drop(&mut self) {
        if let Some(p) = &self.0 {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// Builds the documents of one recognised object.
pub fn extract(
    object: &ObjectRef,
    recognised: &Recognised,
    spec: &Spec,
    product: &ProductDef,
    s3: Option<&S3>,
    stage_dir: &Path,
) -> Result<Vec<Draft>> {
    let fail = |message: String| Error::Raster {
        path: object.uri.clone(),
        message,
    };
    let is_s3 = object.uri.starts_with("s3://");
    let container = matches!(
        spec.file_format.as_str(),
        "NetCDF" | "HDF5" | "HDF4_EOS:EOS_GRID"
    );
    // HDF4 cannot be read remotely and NetCDF readers need a file: stage those locally.
    let staged = if is_s3 && container {
        let s3 = s3.ok_or_else(|| fail("no S3 client".into()))?;
        let name = object.uri.rsplit('/').next().unwrap_or("object");
        let local = staging_path(stage_dir, name);
        s3.download(&object.uri, &local)?;
        Staged(Some(local))
    } else {
        Staged(None)
    };
    let file_name = object
        .uri
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_string();
    let gdal_file = match (&staged.0, is_s3) {
        (Some(local), _) => local.display().to_string(),
        (None, true) => {
            let (bucket, key) = split_s3(&object.uri).ok_or_else(|| fail("bad s3 URI".into()))?;
            format!("/vsis3/{bucket}/{key}")
        }
        (None, false) => object.uri.clone(),
    };
    let gz = file_name.ends_with(".gz");
    let gdal_file = if gz {
        format!("/vsigzip/{gdal_file}")
    } else {
        gdal_file
    };
    let location = if is_s3 {
        object.uri.clone()
    } else {
        crate::documents::file_uri(Path::new(&object.uri))
    };

    // Open every distinct measurement source once.
    let mut infos: BTreeMap<String, RasterInfo> = BTreeMap::new();
    let mut grids: Vec<(RasterInfo, String)> = Vec::new();
    let mut measurement_docs = Map::new();
    let mut crs_text: Option<String> = None;
    let mut steps: Option<usize> = None;
    let (mut absent, mut staged_siblings) = (Vec::new(), Vec::new());
    let claimed = Claimed {
        uri: &object.uri,
        file_name: &file_name,
        spec,
        recognised,
        container,
        s3,
        stage_dir,
    };
    for (name, source) in &spec.measurements {
        let def = product.measurements.get(name).ok_or_else(|| {
            fail(format!(
                "measurement {name} is not in product {}",
                spec.product
            ))
        })?;
        // A `suffix`/`file` measurement lives in a sibling file (soil_x_2020_whc.tif →
        // soil_x_2020_fc.tif); an absent optional one is left out of the dataset.
        // A missing file is not a GDAL error: say so without GDAL's prefix.
        let missing = |message| Error::Recognition {
            object: object.uri.clone(),
            message,
        };
        let (file_name, gdal_file, file_uri) =
            match siblings::locate(&claimed, name, source).map_err(missing)? {
                Located::Same => (file_name.clone(), gdal_file.clone(), object.uri.clone()),
                Located::Sibling {
                    name,
                    uri,
                    gdal,
                    staged,
                } => {
                    staged_siblings.push(Staged(staged));
                    (name, gdal, uri)
                }
                Located::Absent(a) => {
                    absent.push(a);
                    continue;
                }
            };
        let gdal_path = gdal_path(&spec.file_format, &gdal_file, source).map_err(fail)?;
        if !infos.contains_key(&gdal_path) {
            let info = match raster::inspect(&gdal_path) {
                Ok(info) => info,
                Err(e) => match missing_layer(&spec.file_format, &gdal_file, source) {
                    // An optional layer the file does not hold (a run that wrote some variables).
                    Some(_) if source.optional => {
                        absent.push(Absent {
                            measurement: name.clone(),
                            expected: format!(
                                "layer {} of {file_name}",
                                source.layer.as_deref().unwrap_or_default()
                            ),
                            layer: true,
                        });
                        continue;
                    }
                    Some(m) => return Err(fail(format!("{name}: {m}"))),
                    None => return Err(e),
                },
            };
            infos.insert(gdal_path.clone(), info);
        }
        let info = &infos[&gdal_path];
        let band = source.band.unwrap_or(1) as usize;
        if !spec.time.per_band && (band == 0 || band > info.bands.len()) {
            return Err(fail(format!(
                "{name}: band {band} does not exist ({} bands)",
                info.bands.len()
            )));
        }
        let b = &info.bands[if spec.time.per_band { 0 } else { band - 1 }];
        // Every band of a multi-time file is checked: a packing that changes inside a file is refused too.
        let checked = if spec.time.per_band {
            &info.bands[..]
        } else {
            std::slice::from_ref(b)
        };
        let mut undeclared = false;
        for b in checked {
            let accepted =
                packing::check(name, b, &spec.file_format, &spec.product, def).map_err(fail)?;
            undeclared |= accepted == packing::Accepted::ProductNodata;
        }
        if undeclared {
            tracing::debug!(
                "{}: {name} declares no nodata; using the product's {}",
                object.uri,
                def.nodata
            );
        }
        if spec.time.per_band {
            steps = Some(steps.map_or(info.bands.len(), |s: usize| s.min(info.bands.len())));
        }
        // A stated grid is in the product's load CRS, whatever GDAL makes of the file.
        let file_crs = if spec.grid.is_some() {
            None
        } else {
            crs_of(info)
        };
        let crs = match (file_crs, &product.load_crs) {
            (Some(c), _) => c,
            (None, Some(c)) if spec.grid.is_some() => c.clone(),
            (None, Some(c)) => {
                tracing::warn!(
                    "{}: {name} has no CRS; using product {}'s load.crs {c}",
                    object.uri,
                    spec.product
                );
                c.clone()
            }
            (None, None) => {
                return Err(fail(format!(
                    "{name}: no CRS in the file and none in the product's load hints"
                )))
            }
        };
        if crs_text.as_ref().is_some_and(|c| *c != crs) {
            return Err(fail(format!(
                "{name}: CRS {crs} differs from the other measurements'"
            )));
        }
        crs_text = Some(crs);
        let grid_name = match grids.iter().find(|(g, _)| same_grid(g, info)) {
            Some((_, n)) => n.clone(),
            None => {
                let n = if grids.is_empty() {
                    "default".to_string()
                } else {
                    format!("grid{}", grids.len())
                };
                grids.push((info.clone(), n.clone()));
                n
            }
        };
        let mut m = Map::new();
        m.insert(
            "path".into(),
            Value::String(if file_name.ends_with(".gz") {
                gdal_file_for_doc(&file_uri, is_s3)
            } else {
                file_name.clone()
            }),
        );
        if let Some(layer) = &source.layer {
            m.insert("layer".into(), Value::String(layer.clone()));
        }
        if !spec.time.per_band && band > 1 {
            m.insert("band".into(), json!(band));
        }
        if grid_name != "default" {
            m.insert("grid".into(), Value::String(grid_name));
        }
        measurement_docs.insert(name.clone(), Value::Object(m));
    }
    let crs = crs_text.ok_or_else(|| {
        fail(if absent.is_empty() {
            "the recognition spec maps no measurement".into()
        } else {
            "every measurement's file is absent".into()
        })
    })?;
    let mut grid_docs = Map::new();
    for (info, name) in &grids {
        let t = match &spec.grid {
            Some(g) if g.shape != [info.height, info.width] => {
                return Err(fail(format!(
                    "the file is {}×{} (rows×cols), the recognition spec's grid is {}×{}",
                    info.height, info.width, g.shape[0], g.shape[1]
                )))
            }
            Some(g) => g.transform,
            None => info
                .eo3_transform()
                .ok_or_else(|| fail("no geotransform in the file".into()))?,
        };
        grid_docs.insert(name.clone(), json!({"shape": [info.height, info.width], "transform": [t[0], t[1], t[2], t[3], t[4], t[5], 0.0, 0.0, 1.0]}));
    }
    let processing = processing_time(recognised);
    // Days run from midnight to 23:59:59.999999 unless the recognition rule gave times of day.
    let base = |start: NaiveDate, end: NaiveDate| {
        let from = start.and_time(recognised.start_time.unwrap_or(NaiveTime::MIN));
        let to = end.and_time(recognised.end_time.unwrap_or(END_OF_DAY));
        let from = from.format("%Y-%m-%dT%H:%M:%SZ").to_string();
        let mut props = Map::new();
        props.insert("datetime".into(), json!(from));
        props.insert("dtr:start_datetime".into(), json!(from));
        props.insert(
            "dtr:end_datetime".into(),
            json!(to.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()),
        );
        props.insert("odc:file_format".into(), json!(spec.file_format));
        if let Some(p) = &processing {
            props.insert("odc:processing_datetime".into(), json!(p));
        }
        if let Some(r) = &recognised.region_code {
            props.insert("odc:region_code".into(), json!(r));
        }
        if let Some(m) = &recognised.maturity {
            props.insert("dea:dataset_maturity".into(), json!(m));
        }
        props
    };
    let doc =
        |id: Uuid, label: String, props: Map<String, Value>, measurements: Map<String, Value>| {
            json!({
                "$schema": catalog_schema::eo3::EO3_SCHEMA,
                "id": id.to_string(),
                "label": label,
                "product": {"name": spec.product},
                "crs": crs,
                "grids": grid_docs,
                "properties": props,
                "measurements": measurements,
                "lineage": {},
            })
        };
    let label_base = |d: NaiveDate| {
        let mut l = format!("{}_{}", spec.product, d.format("%Y%m%d"));
        // Sub-daily datasets (48 IMERG half hours a day) need the time in their label.
        if let Some(t) = recognised.start_time {
            l.push_str(&t.format("T%H%M").to_string());
        }
        if let Some(r) = &recognised.region_code {
            l.push('_');
            l.push_str(r);
        }
        l.chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
            .collect::<String>()
    };
    if !spec.time.per_band {
        let id = dataset_id(&spec.product, &location, None);
        let props = base(recognised.start, recognised.end);
        return Ok(vec![Draft {
            eo3: doc(id, label_base(recognised.start), props, measurement_docs),
            location,
            absent,
        }]);
    }
    // Multi-time file: one dataset per day, addressed by band.
    let n = steps.unwrap_or(0);
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let day = recognised.start + chrono::Duration::days(i as i64);
        let band = (i + 1) as u32;
        let mut ms = measurement_docs.clone();
        for v in ms.values_mut() {
            v.as_object_mut()
                .expect("object")
                .insert("band".into(), json!(band));
        }
        let id = dataset_id(&spec.product, &location, Some(band));
        out.push(Draft {
            eo3: doc(id, label_base(day), base(day, day), ms),
            location: location.clone(),
            absent: absent.clone(),
        });
    }
    Ok(out)
}

fn gdal_file_for_doc(uri: &str, is_s3: bool) -> String {
    match split_s3(uri) {
        Some((bucket, key)) if is_s3 => format!("/vsigzip//vsis3/{bucket}/{key}"),
        _ => format!("/vsigzip/{uri}"),
    }
}

/// When a layer cannot be opened, says whether the file lacks it: `Some("the file has no variable
/// X (it has: …)")` if the container opens and does not list it, `None` otherwise (then GDAL's own error
/// stands). A NetCDF without its product's variable is thus refused, never indexed as an empty dataset.
fn missing_layer(format: &str, file: &str, source: &MeasurementSource) -> Option<String> {
    let layer = source.layer.as_deref()?;
    let wanted = layer.trim_start_matches('/');
    // NetCDF/HDF5: the file's arrays; HDF4: its subdatasets (whose names end with the layer).
    let arrays = match format {
        "NetCDF" | "HDF5" => raster::variable_names(file),
        _ => None,
    };
    let names = match arrays {
        Some(names) => names,
        None => {
            let container = raster::inspect(file).ok()?;
            if container
                .subdatasets
                .iter()
                .any(|(n, _)| n.ends_with(layer))
            {
                return None;
            }
            container.subdatasets.into_iter().map(|(_, d)| d).collect()
        }
    };
    if names.iter().any(|n| n == wanted) {
        return None;
    }
    Some(format!(
        "the file has no variable {layer} (it has: {})",
        if names.is_empty() {
            "nothing GDAL can read as a raster".to_string()
        } else {
            names.join(", ")
        }
    ))
}

/// The GDAL path of a measurement.
fn gdal_path(
    format: &str,
    file: &str,
    source: &MeasurementSource,
) -> std::result::Result<String, String> {
    match (format, &source.layer) {
        ("GeoTIFF", _) => Ok(file.to_string()),
        ("NetCDF", Some(layer)) => Ok(format!("NETCDF:\"{file}\":{layer}")),
        ("HDF5", Some(layer)) => Ok(format!("HDF5:\"{file}\":{layer}")),
        ("HDF4_EOS:EOS_GRID", Some(layer)) => Ok(format!("HDF4_EOS:EOS_GRID:\"{file}\":{layer}")),
        (f, None) => Err(format!(
            "{f} measurements need a layer in the recognition spec"
        )),
        (f, _) => Err(format!("file format {f} is not supported")),
    }
}

/// `EPSG:n` when the CRS has a code (or is plain WGS 84 lon/lat), else its PROJ string (deterministic,
/// e.g. MODIS sinusoidal).
fn crs_of(info: &RasterInfo) -> Option<String> {
    if let Some(code) = info.epsg {
        return Some(format!("EPSG:{code}"));
    }
    let wkt = info.crs_wkt.as_ref()?;
    let mut srs = gdal::spatial_ref::SpatialRef::from_wkt(wkt).ok()?;
    if let Ok(code) = srs.auto_identify_epsg().and_then(|_| srs.auth_code()) {
        return Some(format!("EPSG:{code}"));
    }
    let proj = srs.to_proj4().ok()?.trim().to_string();
    // CF files declare WGS 84 by its ellipsoid (grid_mapping latitude_longitude) without a datum name,
    // which GDAL cannot match to a code; that is EPSG:4326 for every purpose of the index.
    if proj == "+proj=longlat +ellps=WGS84 +no_defs"
        || proj == "+proj=longlat +datum=WGS84 +no_defs"
    {
        return Some("EPSG:4326".into());
    }
    Some(proj)
}

fn same_grid(a: &RasterInfo, b: &RasterInfo) -> bool {
    a.width == b.width && a.height == b.height && a.geo_transform == b.geo_transform
}

/// `odc:processing_datetime` from a captured production timestamp (MODIS `YYYYDDDHHMMSS`) or the
/// processing date (Landsat `yyyymmdd`), so that documents are deterministic.
fn processing_time(r: &Recognised) -> Option<String> {
    if let Some(p) = r.fields.get("production").filter(|p| p.len() == 13) {
        let date = NaiveDate::from_yo_opt(p[..4].parse().ok()?, p[4..7].parse().ok()?)?;
        return Some(format!("{date}T{}:{}:{}Z", &p[7..9], &p[9..11], &p[11..13]));
    }
    if let Some(p) = r.fields.get("processed").filter(|p| p.len() == 8) {
        let date = NaiveDate::parse_from_str(p, "%Y%m%d").ok()?;
        return Some(format!("{date}T00:00:00Z"));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn staging_paths_are_unique_for_one_name() {
        let d = Path::new("/tmp/stage");
        let (a, b) = (staging_path(d, "fc.nc"), staging_path(d, "fc.nc"));
        assert_ne!(a, b);
        assert!(
            a.starts_with(d) && a.to_string_lossy().ends_with("-fc.nc"),
            "{a:?}"
        );
    }

    #[test]
    fn ids_are_deterministic_and_distinct_per_band() {
        let a = dataset_id("gridmet_pr", "file:///lake/pr_2020.nc", Some(1));
        assert_eq!(
            a,
            dataset_id("gridmet_pr", "file:///lake/pr_2020.nc", Some(1))
        );
        assert_ne!(
            a,
            dataset_id("gridmet_pr", "file:///lake/pr_2020.nc", Some(2))
        );
        assert_ne!(
            a,
            dataset_id("gridmet_pet", "file:///lake/pr_2020.nc", Some(1))
        );
    }

    #[test]
    fn gdal_paths_follow_the_reader_rules() {
        let layer = MeasurementSource {
            band: None,
            layer: Some("MODIS_Grid_16DAY_250m_500m_VI:\"250m 16 days NDVI\"".into()),
            ..Default::default()
        };
        assert_eq!(
            gdal_path("HDF4_EOS:EOS_GRID", "/l/x.hdf", &layer).unwrap(),
            "HDF4_EOS:EOS_GRID:\"/l/x.hdf\":MODIS_Grid_16DAY_250m_500m_VI:\"250m 16 days NDVI\""
        );
        let band = MeasurementSource {
            band: Some(1),
            ..Default::default()
        };
        assert_eq!(
            gdal_path("GeoTIFF", "/vsis3/b/k.tif", &band).unwrap(),
            "/vsis3/b/k.tif"
        );
        assert!(gdal_path("NetCDF", "/l/x.nc", &band).is_err());
    }
}
