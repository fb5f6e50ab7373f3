//! `dc.load` in Rust: find a product's datasets in the index, group them by time or solar day, warp
//! every measurement of every dataset onto the GeoBox in parallel, and fuse each group first-valid.
use super::files::{OpenFiles, Opened};
use super::fuse;
use super::physical::{unpack, Packing};
use super::source::{self, Stager};
use super::warp::{warp, Resampling, SourceBand};
use crate::{Error, GeoBox, Layer, Result, Stack};
use catalog_schema::search::{self, Found, Query};
use catalog_schema::Catalog;
use chrono::{DateTime, Duration, Utc};
use rayon::prelude::*;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};

/// How datasets become time steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GroupBy {
    /// One step per distinct dataset time (datacube's `center_time`).
    #[default]
    Time,
    /// One step per local solar day (UTC shifted by the footprint's mid longitude), labelled with the
    /// time of its first dataset, as datacube labels it.
    SolarDay,
}

impl std::str::FromStr for GroupBy {
    type Err = Error;
    fn from_str(s: &str) -> Result<GroupBy> {
        match s {
            "time" => Ok(GroupBy::Time),
            "solar_day" => Ok(GroupBy::SolarDay),
            o => Err(Error::Request(format!(
                "unknown group_by {o:?}: use time or solar_day"
            ))),
        }
    }
}

/// What to load.
#[derive(Debug, Clone)]
pub struct LoadRequest {
    /// Product name.
    pub product: String,
    /// Measurement names or aliases; empty for all.
    pub measurements: Vec<String>,
    /// Time range, both ends inclusive.
    pub time: Option<(DateTime<Utc>, DateTime<Utc>)>,
    /// Lon/lat box of the search; the GeoBox's own footprint when None.
    pub lonlat: Option<[f64; 4]>,
    /// The output grid.
    pub geobox: GeoBox,
    /// Resampling for every measurement…
    pub resampling: Resampling,
    /// …except these (e.g. nearest for QA bits).
    pub resampling_of: HashMap<String, Resampling>,
    /// Grouping.
    pub group_by: GroupBy,
    /// A constant for the requested measurements where a dataset's document lacks them (optional
    /// measurements), over that dataset's footprint; None: such a dataset is an error.
    pub default: Option<f64>,
    /// Physical values (each measurement unpacked with its `scale_factor`/`add_offset` to float32,
    /// nodata NaN) instead of the stored ones `dc.load` returns.
    pub physical: bool,
}

/// A measurement of the product definition.
#[derive(Debug, Clone)]
pub(crate) struct Measurement {
    pub name: String,
    pub dtype: String,
    pub nodata: Option<f64>,
    pub units: Option<String>,
    pub packing: Packing,
}

/// The definition's measurements matching `wanted` (names or aliases; all when empty).
pub(crate) fn measurements(
    product: &str,
    def: &Value,
    wanted: &[String],
) -> Result<Vec<Measurement>> {
    let all: Vec<&Value> = def["measurements"]
        .as_array()
        .into_iter()
        .flatten()
        .collect();
    let make = |m: &Value| -> Result<Measurement> {
        Ok(Measurement {
            name: m["name"].as_str().unwrap_or_default().to_string(),
            dtype: m["dtype"].as_str().unwrap_or("float32").to_string(),
            nodata: nodata_value(&m["nodata"]),
            units: m["units"].as_str().map(str::to_string),
            packing: Packing::of_measurement(product, m)?,
        })
    };
    if wanted.is_empty() {
        return all.into_iter().map(make).collect();
    }
    wanted
        .iter()
        .map(|w| {
            all.iter()
                .find(|m| {
                    m["name"].as_str() == Some(w.as_str())
                        || m["aliases"]
                            .as_array()
                            .is_some_and(|a| a.iter().any(|x| x.as_str() == Some(w.as_str())))
                })
                .ok_or_else(|| {
                    let names: Vec<&str> = all.iter().filter_map(|m| m["name"].as_str()).collect();
                    Error::Request(format!(
                        "product {product} has no measurement {w:?} (it has {})",
                        names.join(", ")
                    ))
                })
                .and_then(|m| make(m))
        })
        .collect()
}

fn nodata_value(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => match s.to_ascii_lowercase().as_str() {
            "nan" => Some(f64::NAN),
            "inf" => Some(f64::INFINITY),
            "-inf" => Some(f64::NEG_INFINITY),
            _ => s.parse().ok(),
        },
        _ => None,
    }
}

/// Rounds a warped value to what the dtype can hold (dc.load's arrays are in the product dtype).
pub(crate) fn quantise(dtype: &str, v: f64) -> f64 {
    fuse::Round::of(dtype).apply(v)
}

/// A dataset with its grouping key and order within the group.
pub(super) struct Placed {
    pub(super) key: DateTime<Utc>,
    pub(super) order: (DateTime<Utc>, uuid::Uuid),
    pub(super) found: Found,
}

fn place(found: Found, group_by: GroupBy) -> Result<Placed> {
    let t = source::center_time(found.metadata()).ok_or_else(|| Error::Read {
        object: format!("dataset {}", found.id),
        message: "has no time".into(),
    })?;
    let key = match group_by {
        GroupBy::Time => t,
        GroupBy::SolarDay => {
            let lon = source::mid_longitude(found.metadata()).ok_or_else(|| Error::Read {
                object: format!("dataset {}", found.id),
                message: "has no extent, so no solar day".into(),
            })?;
            let local = t + Duration::seconds((lon * 240.0) as i64);
            local
                .date_naive()
                .and_hms_opt(0, 0, 0)
                .unwrap_or_default()
                .and_utc()
        }
    };
    Ok(Placed {
        key,
        order: (t, found.id),
        found,
    })
}

/// Loads a stack from the index.
pub fn load(catalog: &mut Catalog, req: &LoadRequest, stager: &Stager) -> Result<Stack> {
    plan(catalog, req)?.assemble(req, &req.geobox, stager)
}

/// The datasets of a request grouped into time steps: searched once, then assembled on the whole grid
/// or band by band ([`Plan::assemble`] on a [`GeoBox::rows`] band), so a large area never has to fit
/// in memory at once.
pub struct Plan {
    pub(super) ms: Vec<Measurement>,
    /// The product definition's `measurements` (what `ms` was read from; a portable plan carries it).
    pub(super) defined: Value,
    pub(super) groups: Vec<(DateTime<Utc>, Vec<Placed>)>,
}

impl Plan {
    /// Whether no dataset matched the request (no time step to assemble).
    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }

    /// The ids of the datasets the plan reads, step by step (what a run's inputs are made of).
    pub fn dataset_ids(&self) -> Vec<uuid::Uuid> {
        self.groups
            .iter()
            .flat_map(|(_, g)| g.iter().map(|p| p.found.id))
            .collect()
    }
}

/// Finds the request's datasets and groups them into time steps.
pub fn plan(catalog: &mut Catalog, req: &LoadRequest) -> Result<Plan> {
    let product = catalog_schema::product::get(catalog, &req.product)?
        .ok_or_else(|| Error::Request(format!("no product {:?} in the index", req.product)))?;
    let ms = measurements(&req.product, &product.definition, &req.measurements)?;
    let lonlat = match req.lonlat {
        Some(b) => b,
        None => super::grid::transform_bbox(req.geobox.bounds(), &req.geobox.crs, "EPSG:4326")?,
    };
    let found = search::search(
        catalog,
        &Query {
            product: req.product.clone(),
            time: req.time,
            bbox: Some(lonlat),
            limit: None,
        },
    )?;
    let mut by_key: BTreeMap<DateTime<Utc>, Vec<Placed>> = BTreeMap::new();
    for f in found {
        let p = place(f, req.group_by)?;
        by_key.entry(p.key).or_default().push(p);
    }
    // A group's label is its first dataset's time (datacube's group_key), for solar days too.
    let mut groups: BTreeMap<DateTime<Utc>, Vec<Placed>> = BTreeMap::new();
    for (_, mut g) in by_key {
        g.sort_by_key(|p| p.order);
        groups.insert(g[0].order.0, g);
    }
    Ok(Plan {
        ms,
        defined: product.definition["measurements"].clone(),
        groups: groups.into_iter().collect(),
    })
}

impl Plan {
    /// Time steps.
    pub fn steps(&self) -> usize {
        self.groups.len()
    }

    /// Measurements loaded.
    pub fn measurements(&self) -> usize {
        self.ms.len()
    }

    /// The stack on `geobox` (the request's grid or a band of it): every step of the plan, warped from
    /// the datasets whose footprint can reach that part of the grid.
    pub fn assemble(&self, req: &LoadRequest, geobox: &GeoBox, stager: &Stager) -> Result<Stack> {
        let reach = reach(geobox);
        let near: Vec<Vec<&Placed>> = self
            .groups
            .iter()
            .map(|(_, g)| g.iter().filter(|p| may_overlap(&p.found, reach)).collect())
            .collect();
        // Labels, provenance and spans describe the whole step, whichever datasets reach this part.
        Ok(Stack {
            product: req.product.clone(),
            geobox: geobox.clone(),
            times: self.groups.iter().map(|(label, _)| *label).collect(),
            sources: self
                .groups
                .iter()
                .map(|(_, g)| g.iter().map(|p| p.found.id).collect())
                .collect(),
            spans: self
                .groups
                .iter()
                .map(|(label, g)| {
                    g.iter()
                        .filter_map(|p| source::time_span(p.found.metadata()))
                        .reduce(|a, b| (a.0.min(b.0), a.1.max(b.1)))
                        .unwrap_or((*label, *label))
                })
                .collect(),
            layers: {
                let layers = warp_layers(req, geobox, &self.ms, &near, stager)?;
                if req.physical {
                    layers.into_iter().map(unpack).collect()
                } else {
                    layers
                }
            },
        })
    }
}

/// The lon/lat box a part of the grid covers, widened by a margin (a pixel's reach for resampling and
/// reprojection noise); None when it cannot be told (then every dataset is read).
pub(super) fn reach(geobox: &GeoBox) -> Option<[f64; 4]> {
    let b = super::grid::transform_bbox(geobox.bounds(), &geobox.crs, "EPSG:4326").ok()?;
    let margin = 0.05 * (b[2] - b[0]).max(b[3] - b[1]) + 0.05;
    let out = [b[0] - margin, b[1] - margin, b[2] + margin, b[3] + margin];
    (out[0] > -180.0 && out[2] < 180.0).then_some(out)
}

/// Whether a dataset's lon/lat extent can meet `reach` (true when either is unknown).
pub(super) fn may_overlap(found: &Found, reach: Option<[f64; 4]>) -> bool {
    let Some(r) = reach else { return true };
    let e = &found.metadata()["extent"];
    let range = |axis: &str| Some((e[axis]["begin"].as_f64()?, e[axis]["end"].as_f64()?));
    let (Some(lat), Some(lon)) = (range("lat"), range("lon")) else {
        return true;
    };
    let lon_known = lon.0 >= -180.0 && lon.1 <= 180.0 && lon.0 <= lon.1;
    let lat_meets = lat.0.min(lat.1) <= r[3] && lat.0.max(lat.1) >= r[1];
    let lon_meets = !lon_known || (lon.0 <= r[2] && lon.1 >= r[0]);
    lat_meets && lon_meets
}

/// Every measurement on `geobox`, one step per group: each group's datasets warped in parallel and
/// fused first-valid in order.
fn warp_layers(
    req: &LoadRequest,
    geobox: &GeoBox,
    ms: &[Measurement],
    groups: &[Vec<&Placed>],
    stager: &Stager,
) -> Result<Vec<Layer>> {
    let pixels = geobox.width * geobox.height;
    let steps = groups.len();
    let mut layers: Vec<Layer> = ms
        .iter()
        .map(|m| Layer {
            name: m.name.clone(),
            dtype: m.dtype.clone(),
            nodata: m.nodata,
            units: m.units.clone(),
            packing: m.packing,
            unpacked: None,
            data: Vec::with_capacity(steps * pixels),
        })
        .collect();
    // Work in chunks of groups so memory holds at most a chunk of warped slices at once.
    let chunk = rayon::current_num_threads().max(1) * 4;
    // Files stay open for the next dataset of the same file: for this load, or for the stager's
    // whole life when it keeps them (a model run reading the same files for every tile and month).
    let own;
    let files = match stager.open_files() {
        Some(kept) => kept,
        None => {
            own = OpenFiles::new(chunk);
            &own
        }
    };
    for (c, part) in groups.chunks(chunk).enumerate() {
        let tasks: Vec<(usize, &Placed)> = part
            .iter()
            .enumerate()
            .flat_map(|(i, g)| g.iter().map(move |p| (c * chunk + i, *p)))
            .collect();
        let warped: Vec<Result<Vec<Read>>> = tasks
            .par_iter()
            .map(|(_, p)| read_dataset(req, geobox, ms, &p.found, stager, files))
            .collect();
        // Each step in order from its datasets' slices (in the group's order): placed from the
        // first, filled from the others; a step no dataset reaches is all fill.
        let mut warped = warped.into_iter();
        for g in part {
            for k in 0..g.len() {
                let per_m = warped.next().ok_or_else(|| {
                    Error::Request("a warped slice is missing from the load".into())
                })??;
                for ((layer, m), (values, round)) in layers.iter_mut().zip(ms).zip(per_m) {
                    if k == 0 {
                        fuse::place(layer, &values, round, m.nodata.unwrap_or(f64::NAN));
                    } else {
                        fuse::fuse(layer, &values, round);
                    }
                }
            }
            if g.is_empty() {
                for (layer, m) in layers.iter_mut().zip(ms) {
                    let fill = m.nodata.unwrap_or(f64::NAN);
                    layer.data.extend(std::iter::repeat_n(fill, pixels));
                }
            }
        }
    }
    Ok(layers)
}

/// A file without a CRS (IMERG's NetCDF) is read on the dataset document's grid and CRS, through a
/// VRT over it: the document states what GDAL cannot find (e.g. rows along longitude).
fn georeference(
    ds: &gdal::Dataset,
    doc: &serde_json::Value,
    measurement: &str,
) -> std::result::Result<Option<gdal::Dataset>, String> {
    if ds.spatial_ref().is_ok() {
        return Ok(None);
    }
    let grid_name = doc["measurements"][measurement]["grid"]
        .as_str()
        .unwrap_or("default");
    let (crs, shape, t) = super::grid::document_grid(doc, grid_name)
        .map_err(|e| format!("the file has no CRS, and its document no usable grid: {e}"))?;
    let (w, h) = ds.raster_size();
    if shape != [h as u64, w as u64] {
        return Err(format!(
            "the file is {h}×{w} (rows×cols), grid {grid_name} of the document says {shape:?}"
        ));
    }
    let vrt = gdal::DriverManager::get_driver_by_name("VRT").map_err(|e| e.to_string())?;
    let mut out = ds
        .create_copy(&vrt, "", &gdal::raster::RasterCreationOptions::default())
        .map_err(|e| e.to_string())?;
    out.set_geo_transform(&[t[2], t[0], t[1], t[5], t[3], t[4]])
        .map_err(|e| e.to_string())?;
    out.set_spatial_ref(&super::grid::srs(crs).map_err(|e| e.to_string())?)
        .map_err(|e| e.to_string())?;
    Ok(Some(out))
}

/// `value` on the pixels of `geobox` whose centre falls in the dataset's default grid, `fill`
/// (nodata, else NaN) elsewhere: a constant standing in for a measurement the dataset lacks.
fn constant_over_footprint(
    doc: &Value,
    geobox: &GeoBox,
    value: f64,
    fill: Option<f64>,
) -> Result<Vec<f64>> {
    let (crs, shape, t) = super::grid::document_grid(doc, "default")?;
    let (w, h) = (geobox.width, geobox.height);
    let (mut xs, mut ys): (Vec<f64>, Vec<f64>) = (0..w * h)
        .map(|i| geobox.corner((i % w) as f64 + 0.5, (i / w) as f64 + 0.5))
        .unzip();
    let (from, to) = (super::grid::srs(&geobox.crs)?, super::grid::srs(crs)?);
    if from != to {
        let tr = gdal::spatial_ref::CoordTransform::new(&from, &to)
            .map_err(|e| Error::Grid(format!("{} → {crs}: {e}", geobox.crs)))?;
        // Points that cannot be transformed come back as infinities: outside.
        let _ = tr.transform_coords(&mut xs, &mut ys, &mut []);
    }
    // eo3 transform: x = a·col + b·row + c, y = d·col + e·row + f.
    let [a, b, c, d, e, f] = t;
    let det = a * e - b * d;
    let fill = fill.unwrap_or(f64::NAN);
    Ok(xs
        .iter()
        .zip(&ys)
        .map(|(&x, &y)| {
            let col = (e * (x - c) - b * (y - f)) / det;
            let row = (a * (y - f) - d * (x - c)) / det;
            let inside = col >= 0.0 && row >= 0.0 && col < shape[1] as f64 && row < shape[0] as f64;
            if inside {
                value
            } else {
                fill
            }
        })
        .collect())
}

/// Warps every requested measurement of one dataset (one GDAL dataset per file, used by this worker
/// alone: taken from `files` or opened, and put back there after).
/// One measurement of one dataset on the grid, and how its values are to be rounded to the dtype.
type Read = (Vec<f64>, fuse::Round);

fn read_dataset(
    req: &LoadRequest,
    geobox: &GeoBox,
    ms: &[Measurement],
    found: &Found,
    stager: &Stager,
    files: &OpenFiles,
) -> Result<Vec<Read>> {
    let mut opened: HashMap<String, Opened> = HashMap::new();
    let out = read_measurements(req, geobox, ms, found, stager, files, &mut opened);
    for (path, o) in opened {
        files.put(path, o);
    }
    out
}

fn read_measurements(
    req: &LoadRequest,
    geobox: &GeoBox,
    ms: &[Measurement],
    found: &Found,
    stager: &Stager,
    files: &OpenFiles,
    opened: &mut HashMap<String, Opened>,
) -> Result<Vec<Read>> {
    let location = found.uris.first().ok_or_else(|| Error::Read {
        object: format!("dataset {}", found.id),
        message: "has no active location".into(),
    })?;
    let crs = found.metadata()["crs"].as_str();
    let mut out = Vec::with_capacity(ms.len());
    for m in ms {
        let doc = found.metadata();
        if doc["measurements"].get(&m.name).is_none() {
            let Some(value) = req.default else {
                let has: Vec<&str> = doc["measurements"]
                    .as_object()
                    .map(|o| o.keys().map(String::as_str).collect())
                    .unwrap_or_default();
                return Err(Error::MissingMeasurement {
                    dataset: found.id.to_string(),
                    product: req.product.clone(),
                    measurement: m.name.clone(),
                    has: has.join(", "),
                });
            };
            let constant = constant_over_footprint(doc, geobox, value, m.nodata)?;
            out.push((constant, fuse::Round::Keep));
            continue;
        }
        let b = source::band_ref(found.metadata(), location, &m.name)?;
        let path = stager.gdal_path(&b)?;
        // Every read error names the file and the band (a tile that cannot be decoded fails the
        // read: GDAL's RasterIO and warper both return CE_Failure, checked in `warp`).
        let object = format!(
            "dataset {} measurement {} ({path} band {})",
            found.id, m.name, b.band
        );
        if !opened.contains_key(&path) {
            if let Some(o) = files.take(&path) {
                opened.insert(path.clone(), o);
            }
        }
        if !opened.contains_key(&path) {
            lake_gdal::quiet_hdf5_diagnostics();
            let ds = gdal::Dataset::open(&path).map_err(|e| Error::Read {
                object: object.clone(),
                message: e.to_string(),
            })?;
            let vrt =
                georeference(&ds, found.metadata(), &m.name).map_err(|message| Error::Read {
                    object: object.clone(),
                    message,
                })?;
            opened.insert(path.clone(), Opened { vrt, file: ds });
        }
        let ds = opened[&path].dataset();
        // Windows are shared by path and band: not through a VRT (one document's georeferencing).
        let shared = match (stager.windows(), &opened[&path].vrt) {
            (Some(c), None) => Some((c, path.as_str())),
            _ => None,
        };
        let file_nodata = ds
            .rasterband(b.band)
            .map_err(|e| Error::Read {
                object: object.clone(),
                message: format!("band {}: {e}", b.band),
            })?
            .no_data_value();
        let src = SourceBand {
            dataset: ds,
            band: b.band,
            nodata: file_nodata.or(m.nodata),
            crs,
            shared,
        };
        let resampling = req
            .resampling_of
            .get(&m.name)
            .copied()
            .unwrap_or(req.resampling);
        let v = warp(&src, geobox, &req.geobox, resampling, m.nodata, &object)?;
        out.push((v, fuse::Round::of(&m.dtype)));
    }
    Ok(out)
}
