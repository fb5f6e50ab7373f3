//! A load plan as plain data (JSON): the request and every time step's datasets (ids, locations,
//! documents), so another process — a Dask worker — can read any window of the stack without the
//! index. A plan can be cut into the plans of chunks, each holding only the steps of its time range
//! and the datasets whose footprint can reach its window.
use super::load::{may_overlap, measurements, reach, Placed, Plan};
use super::{source::Stager, GroupBy, LoadRequest, Stack};
use crate::{Error, GeoBox, Result};
use catalog_schema::search::Found;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use uuid::Uuid;

/// The plan of a load, or of one chunk of it (`window` set).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PortablePlan {
    /// Product name.
    pub product: String,
    /// The product definition's `measurements`.
    pub defined: Value,
    /// Names of the measurements loaded, in order.
    pub measurements: Vec<String>,
    /// The whole output grid.
    pub grid: PortableGrid,
    /// Resampling method name, and per measurement.
    pub resampling: String,
    /// Per-measurement resampling method names.
    pub resampling_of: BTreeMap<String, String>,
    /// `time` or `solar_day`.
    pub group_by: String,
    /// Physical values instead of stored ones.
    pub physical: bool,
    /// Constant for missing optional measurements.
    pub default: Option<f64>,
    /// Time steps (all of the load's, or a chunk's run of them).
    pub steps: Vec<PortableStep>,
    /// The part of the grid to read: rows `[y0, y1)` and columns `[x0, x1)`; the whole grid if None.
    pub window: Option<[usize; 4]>,
}

/// An output grid.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PortableGrid {
    /// CRS text GDAL understands.
    pub crs: String,
    /// Columns.
    pub width: usize,
    /// Rows.
    pub height: usize,
    /// Affine `[a, b, c, d, e, f]`.
    pub transform: [f64; 6],
}

/// One time step: its label and datasets in fusing order.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PortableStep {
    /// The step's time label.
    pub time: DateTime<Utc>,
    /// Its datasets (only those reaching the window, in a chunk's plan).
    pub datasets: Vec<PortableDataset>,
}

/// A found dataset.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PortableDataset {
    /// Dataset id.
    pub id: Uuid,
    /// Active locations.
    pub uris: Vec<String>,
    /// Search-field time range.
    pub time: Option<(DateTime<Utc>, DateTime<Utc>)>,
    /// Search-field lon range.
    pub lon: Option<(f64, f64)>,
    /// Search-field lat range.
    pub lat: Option<(f64, f64)>,
    /// The eo3 document.
    pub document: Box<serde_json::value::RawValue>,
}

impl From<&GeoBox> for PortableGrid {
    fn from(g: &GeoBox) -> Self {
        PortableGrid {
            crs: g.crs.clone(),
            width: g.width,
            height: g.height,
            transform: g.transform,
        }
    }
}

impl From<&PortableGrid> for GeoBox {
    fn from(g: &PortableGrid) -> Self {
        GeoBox {
            crs: g.crs.clone(),
            width: g.width,
            height: g.height,
            transform: g.transform,
        }
    }
}

fn group_name(g: GroupBy) -> &'static str {
    match g {
        GroupBy::Time => "time",
        GroupBy::SolarDay => "solar_day",
    }
}

fn resampling_name(r: super::Resampling) -> String {
    // The variant names, lower-cased, are names `Resampling::from_str` accepts.
    format!("{r:?}").to_ascii_lowercase()
}

impl Plan {
    /// The plan with the request it was made for, as plain data.
    pub fn to_portable(&self, req: &LoadRequest) -> Result<PortablePlan> {
        let steps = self
            .groups
            .iter()
            .map(|(time, g)| {
                Ok(PortableStep {
                    time: *time,
                    datasets: g
                        .iter()
                        .map(|p| portable_dataset(&p.found))
                        .collect::<Result<_>>()?,
                })
            })
            .collect::<Result<_>>()?;
        Ok(PortablePlan {
            product: req.product.clone(),
            defined: self.defined.clone(),
            measurements: self.ms.iter().map(|m| m.name.clone()).collect(),
            grid: (&req.geobox).into(),
            resampling: resampling_name(req.resampling),
            resampling_of: req
                .resampling_of
                .iter()
                .map(|(k, v)| (k.clone(), resampling_name(*v)))
                .collect(),
            group_by: group_name(req.group_by).into(),
            physical: req.physical,
            default: req.default,
            steps,
            window: None,
        })
    }
}

fn portable_dataset(f: &Found) -> Result<PortableDataset> {
    Ok(PortableDataset {
        id: f.id,
        uris: f.uris.clone(),
        time: f.time,
        lon: f.lon,
        lat: f.lat,
        document: serde_json::value::RawValue::from_string(f.document().to_string())
            .map_err(|e| Error::Request(format!("dataset {}: document is not JSON: {e}", f.id)))?,
    })
}

impl PortablePlan {
    /// The request and plan this was made from.
    pub fn to_plan(&self) -> Result<(LoadRequest, Plan)> {
        let ms = measurements(
            &self.product,
            &serde_json::json!({ "measurements": self.defined }),
            &self.measurements,
        )?;
        let resampling_of: HashMap<String, super::Resampling> = self
            .resampling_of
            .iter()
            .map(|(k, v)| Ok((k.clone(), v.parse()?)))
            .collect::<Result<_>>()?;
        let req = LoadRequest {
            product: self.product.clone(),
            measurements: self.measurements.clone(),
            time: None,
            lonlat: None,
            geobox: (&self.grid).into(),
            resampling: self.resampling.parse()?,
            resampling_of,
            group_by: self.group_by.parse()?,
            default: self.default,
            physical: self.physical,
        };
        let groups = self
            .steps
            .iter()
            .map(|s| {
                let placed = s
                    .datasets
                    .iter()
                    .map(|d| {
                        let found = Found::from_parts(
                            d.id,
                            d.uris.clone(),
                            d.time,
                            d.lon,
                            d.lat,
                            d.document.get().to_string(),
                        )?;
                        Ok(Placed {
                            key: s.time,
                            order: (s.time, d.id),
                            found,
                        })
                    })
                    .collect::<Result<Vec<_>>>()?;
                Ok((s.time, placed))
            })
            .collect::<Result<_>>()?;
        Ok((
            req,
            Plan {
                ms,
                defined: self.defined.clone(),
                groups,
            },
        ))
    }

    /// The window's grid (the whole grid without a window).
    pub fn window_grid(&self) -> Result<GeoBox> {
        let whole: GeoBox = (&self.grid).into();
        let Some([y0, y1, x0, x1]) = self.window else {
            return Ok(whole);
        };
        if y0 >= y1 || x0 >= x1 || y1 > whole.height || x1 > whole.width {
            return Err(Error::Request(format!(
                "window rows {y0}..{y1}, columns {x0}..{x1} is not inside the {}×{} grid",
                whole.height, whole.width
            )));
        }
        Ok(whole.window(y0, y1 - y0, x0, x1 - x0))
    }

    /// The plan of one chunk: steps `t0..t1`, rows `y0..y1`, columns `x0..x1`, keeping only the
    /// datasets whose footprint can reach that window.
    pub fn chunk(&self, t: (usize, usize), y: (usize, usize), x: (usize, usize)) -> Result<Self> {
        if t.0 >= t.1 || t.1 > self.steps.len() {
            return Err(Error::Request(format!(
                "time steps {}..{} are not among the plan's {}",
                t.0,
                t.1,
                self.steps.len()
            )));
        }
        let mut out = PortablePlan {
            steps: Vec::new(),
            window: Some([y.0, y.1, x.0, x.1]),
            ..self.clone_header()
        };
        let grid = out.window_grid()?;
        let reach = reach(&grid);
        for s in &self.steps[t.0..t.1] {
            let mut datasets = Vec::new();
            for d in &s.datasets {
                let found = Found::from_parts(
                    d.id,
                    Vec::new(),
                    None,
                    None,
                    None,
                    d.document.get().to_string(),
                )?;
                if may_overlap(&found, reach) {
                    datasets.push(d.clone());
                }
            }
            out.steps.push(PortableStep {
                time: s.time,
                datasets,
            });
        }
        Ok(out)
    }

    fn clone_header(&self) -> Self {
        PortablePlan {
            product: self.product.clone(),
            defined: self.defined.clone(),
            measurements: self.measurements.clone(),
            grid: self.grid.clone(),
            resampling: self.resampling.clone(),
            resampling_of: self.resampling_of.clone(),
            group_by: self.group_by.clone(),
            physical: self.physical,
            default: self.default,
            steps: Vec::new(),
            window: self.window,
        }
    }

    /// Reads the plan's window: every step, every measurement (the datasets of a step warped in
    /// parallel and fused first-valid, as [`Plan::assemble`] does for the whole grid). The warp
    /// engine assembles bands of whole rows (the same pixels as the whole grid, see
    /// [`super::warp::warp`]), so a window narrower than the grid is read as its band of rows and
    /// cropped to its columns.
    pub fn read(&self, stager: &Stager) -> Result<Stack> {
        let (req, plan) = self.to_plan()?;
        let window = self.window_grid()?;
        let whole: GeoBox = (&self.grid).into();
        let Some([y0, y1, x0, x1]) = self.window.filter(|w| w[2] != 0 || w[3] != whole.width)
        else {
            return plan.assemble(&req, &window, stager);
        };
        let mut s = plan.assemble(&req, &whole.rows(y0, y1 - y0), stager)?;
        let (w, rows) = (whole.width, y1 - y0);
        for l in &mut s.layers {
            let steps = l.data.len() / (w * rows).max(1);
            let mut out = Vec::with_capacity(steps * rows * (x1 - x0));
            for t in 0..steps {
                for r in 0..rows {
                    let at = (t * rows + r) * w;
                    out.extend_from_slice(&l.data[at + x0..at + x1]);
                }
            }
            l.data = out;
        }
        s.geobox = window;
        Ok(s)
    }
}
