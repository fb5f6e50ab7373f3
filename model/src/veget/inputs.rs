//! A run's inputs, searched in the index once (a plan per input and month, while the catalog is at
//! hand) and then assembled on each tile's rows without it, so tiles load their inputs in parallel
//! and each source window is read once per tile and time step (a day's file or band, a composite once
//! per month it serves).
use super::config::{InputSpec, RunConfig};
use super::Input as Precision;
use crate::stack::{
    self, source::Stager, to_daily_map, Alignment, GroupBy, LoadRequest, Resampling,
};
use crate::{Error, GeoBox, Result};
use catalog_schema::Catalog;
use chrono::{Duration, NaiveDate, TimeZone, Utc};
use std::collections::HashMap;
use std::sync::Arc;

/// One input of one load: a constant, or a searched plan assembled per tile.
#[derive(Clone)]
pub(super) struct Input {
    pub role: &'static str,
    spec: InputSpec,
    how: Alignment,
    load: Load,
}

#[derive(Clone)]
enum Load {
    Value(f64),
    Plan {
        req: Box<LoadRequest>,
        plan: Arc<stack::Plan>,
    },
}

/// The statics and, month by month, the dynamic inputs of a run.
pub(super) struct Prepared {
    /// whc, field_capacity, saturation, interception, water.
    pub statics: Vec<Input>,
    /// Each month's days and its precipitation, eto, ndvi, tmin, tmax (and tavg when configured).
    pub months: Vec<(Vec<NaiveDate>, Vec<Input>)>,
}

const STATICS: [&str; 5] = [
    "whc",
    "field_capacity",
    "saturation",
    "interception",
    "water",
];
const DYNAMIC: [&str; 6] = ["precipitation", "eto", "ndvi", "tmin", "tmax", "tavg"];

fn spec_of<'a>(cfg: &'a RunConfig, role: &str) -> Option<&'a InputSpec> {
    let ins = &cfg.inputs;
    Some(match role {
        "whc" => &ins.whc,
        "field_capacity" => &ins.field_capacity,
        "saturation" => &ins.saturation,
        "interception" => &ins.interception,
        "water" => &ins.water,
        "precipitation" => &ins.precipitation,
        "eto" => &ins.eto,
        "ndvi" => &ins.ndvi,
        "tmin" => &ins.tmin,
        "tmax" => &ins.tmax,
        "tavg" => return ins.tavg.as_ref(),
        _ => return None,
    })
}

/// An error of input `role`, with a hint where a constant default would do.
fn input_error(role: &str, e: Error) -> Error {
    let hint = match e {
        Error::MissingMeasurement { .. } => format!(
            ": give `default: VALUE` (in {}) in inputs.{role} for a constant where it is missing",
            super::units::role_units(role)
        ),
        _ => String::new(),
    };
    Error::Request(format!("inputs.{role}: {e}{hint}"))
}

impl Prepared {
    /// Searches every input of the run on `geobox` (statics once, dynamic inputs per month; a
    /// climatology or static input's plan is shared by all months).
    pub fn search(
        catalog: &mut Catalog,
        cfg: &RunConfig,
        geobox: &GeoBox,
        months: &[Vec<NaiveDate>],
    ) -> Result<Prepared> {
        let mut shared: HashMap<&'static str, Input> = HashMap::new();
        let mut one = |catalog: &mut Catalog,
                       role: &'static str,
                       dynamic: bool,
                       days: &[NaiveDate]|
         -> Result<Option<Input>> {
            let Some(spec) = spec_of(cfg, role) else {
                return Ok(None);
            };
            let how = spec.alignment(role, dynamic)?;
            if let Some(v) = spec.value {
                return Ok(Some(Input {
                    role,
                    spec: spec.clone(),
                    how,
                    load: Load::Value(v),
                }));
            }
            let time = window(how, days);
            if time.is_none() {
                if let Some(i) = shared.get(role) {
                    return Ok(Some(i.clone()));
                }
            }
            let product = spec.product.clone().unwrap_or_default();
            let req = LoadRequest {
                product: product.clone(),
                measurements: spec.measurement.iter().cloned().collect(),
                time,
                lonlat: Some(cfg.area.bbox),
                geobox: geobox.clone(),
                // VegET resamples every input by nearest neighbour (coarse meteorology is replicated).
                resampling: Resampling::Nearest,
                resampling_of: HashMap::new(),
                group_by: GroupBy::Time,
                physical: false,
                default: stored_default(catalog, role, spec, &product)?,
            };
            let plan = stack::plan(catalog, &req).map_err(|e| input_error(role, e))?;
            let input = Input {
                role,
                spec: spec.clone(),
                how,
                load: Load::Plan {
                    req: Box::new(req),
                    plan: Arc::new(plan),
                },
            };
            if time.is_none() {
                shared.insert(role, input.clone());
            }
            Ok(Some(input))
        };
        let first = [months
            .first()
            .and_then(|m| m.first().copied())
            .unwrap_or(cfg.period.start)];
        let mut statics = Vec::new();
        for role in STATICS {
            statics.extend(one(catalog, role, false, &first)?);
        }
        let mut out = Vec::new();
        for days in months {
            let mut inputs = Vec::new();
            for role in DYNAMIC {
                inputs.extend(one(catalog, role, true, days)?);
            }
            out.push((days.clone(), inputs));
        }
        Ok(Prepared {
            statics,
            months: out,
        })
    }

    /// The ids of every dataset the run reads, in order (what its outputs are made of).
    pub fn dataset_ids(&self) -> Vec<String> {
        let all = self
            .statics
            .iter()
            .chain(self.months.iter().flat_map(|(_, i)| i.iter()));
        let mut out = Vec::new();
        for i in all {
            if let Load::Plan { plan, .. } = &i.load {
                out.push(format!(
                    "{}:{}",
                    i.role,
                    plan.dataset_ids()
                        .iter()
                        .map(|u| u.to_string())
                        .collect::<Vec<_>>()
                        .join(",")
                ));
            }
        }
        out
    }
}

/// The search's time range for `days` of an input aligned `how`.
fn window(
    how: Alignment,
    days: &[NaiveDate],
) -> Option<(chrono::DateTime<Utc>, chrono::DateTime<Utc>)> {
    let (first, last) = (days[0], days[days.len() - 1]);
    let at = |d: NaiveDate| Utc.from_utc_datetime(&d.and_hms_opt(0, 0, 0).unwrap_or_default());
    match how {
        Alignment::Daily => Some((
            at(first),
            at(last + Duration::days(1)) - Duration::microseconds(1),
        )),
        // Composites: the one starting on or before the first day and the one after the last.
        Alignment::Interpolate { .. } => Some((
            at(first - Duration::days(40)),
            at(last + Duration::days(40)),
        )),
        Alignment::Climatology | Alignment::Static => None,
    }
}

impl Input {
    /// The input over `days` on `tile` (rows of the run's grid), scaled, as a days × pixels array
    /// (NaN where missing) at the precision `T` (values rounded once, after the change of units).
    pub fn load<T: Precision>(
        &self,
        tile: &GeoBox,
        days: &[NaiveDate],
        stager: &Stager,
    ) -> Result<Vec<T>> {
        let role = self.role;
        let n = tile.width * tile.height;
        let (req, plan) = match &self.load {
            Load::Value(v) => return Ok(vec![T::from_f64(*v); n * days.len()]),
            Load::Plan { req, plan } => (req, plan),
        };
        let s = plan
            .assemble(req, tile, stager)
            .map_err(|e| input_error(role, e))?;
        let product = &req.product;
        let layer = s.layers.first().ok_or_else(|| {
            Error::Request(format!(
                "inputs.{role}: product {product} has no measurements"
            ))
        })?;
        // Stored values → the role's units: the product's packing (or the config's), kelvin to °C.
        let map = super::units::input_map(
            role,
            &self.spec,
            (product, &layer.name),
            layer.units.as_deref(),
            layer.packing,
        )
        .map_err(Error::Request)?;
        let daily = if map.is_none() {
            to_daily_map(&s, &layer.name, days, self.how, T::from_f64)
        } else {
            to_daily_map(&s, &layer.name, days, self.how, |x| {
                T::from_f64(map.apply(x))
            })
        };
        daily.map_err(|e| Error::Request(format!("inputs.{role}: {e}")))
    }
}

/// The config's `default` (in the role's units) as a stored value of the product's measurement, so
/// that the input's map to the role's units gives it back.
fn stored_default(
    catalog: &mut Catalog,
    role: &str,
    spec: &InputSpec,
    product: &str,
) -> Result<Option<f64>> {
    let Some(d) = spec.default else {
        return Ok(None);
    };
    let def = catalog_schema::product::get(catalog, product)?
        .ok_or_else(|| {
            Error::Request(format!(
                "inputs.{role}: no product {product:?} in the index"
            ))
        })?
        .definition;
    let wanted: Vec<String> = spec.measurement.iter().cloned().collect();
    let m = stack::measurements(product, &def, &wanted)?
        .into_iter()
        .next()
        .ok_or_else(|| {
            Error::Request(format!(
                "inputs.{role}: product {product} has no measurements"
            ))
        })?;
    let map = super::units::input_map(
        role,
        spec,
        (product, &m.name),
        m.units.as_deref(),
        m.packing,
    )
    .map_err(Error::Request)?;
    Ok(Some((d - map.add_offset) / map.scale_factor))
}
