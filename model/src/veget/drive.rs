//! A VegET run driven by the index: statics once, then month by month (memory bounded by a month of
//! aligned inputs) the daily stacks, the kernel day after day with state carried, and the outputs.
use super::config::{InputSpec, RunConfig};
use super::outputs::{Accumulator, Balance, MonthRow};
use super::{step, Day, Outputs, State, Statics};
use crate::stack::{
    self, grid, source::Stager, to_daily, Alignment, GroupBy, LoadRequest, Resampling,
};
use crate::{Error, GeoBox, Result};
use catalog_schema::Catalog;
use chrono::{Datelike, Duration, NaiveDate, TimeZone, Utc};
use std::collections::HashMap;
use std::path::PathBuf;

/// What a run did.
#[derive(Debug, Clone)]
pub struct RunReport {
    /// The model grid.
    pub geobox: GeoBox,
    /// Days run.
    pub days: usize,
    /// Pixel-days held because a dynamic input was missing (strict mode).
    pub gap_pixel_days: u64,
    /// Pixels of the area invalid at the end (missing statics or gaps too long).
    pub invalid_pixels: usize,
    /// Pixels of the grid outside the area (masked).
    pub outside_pixels: usize,
    /// Monthly area means.
    pub months: Vec<MonthRow>,
    /// The water-balance check.
    pub balance: Balance,
    /// Files written (daily, monthly, annual NetCDF; state; PNG; COGs).
    pub files: Vec<PathBuf>,
}

/// Bytes a run holds per pixel of its grid: the statics (5), a month of aligned dynamic inputs (6 ×
/// 31 days), the state (7), the day's outputs (13) and the monthly, annual and balance sums (~40),
/// 8 bytes each.
pub const BYTES_PER_PIXEL: u64 = 8 * (5 + 6 * 31 + 7 + 13 + 40);

/// Refuses a grid whose run would need more than `limit` = (MiB, what sets it), before anything is
/// read: runs hold whole-grid arrays (see [`BYTES_PER_PIXEL`]).
fn check_memory(geobox: &GeoBox, limit: Option<(f64, &str)>) -> Result<()> {
    let Some((limit, whose)) = limit else {
        return Ok(());
    };
    let need =
        ((geobox.width * geobox.height) as u64 * BYTES_PER_PIXEL) as f64 / (1u64 << 20) as f64;
    if need <= limit {
        return Ok(());
    }
    Err(Error::Request(format!(
        "the model grid is {}×{} pixels and needs ~{need:.1} MiB ({BYTES_PER_PIXEL} bytes per \
         pixel: a month of aligned inputs, the state and the running sums), more than the \
         {limit:.1} MiB {whose}: choose a smaller area or a coarser resolution",
        geobox.width, geobox.height
    )))
}

/// Progress callback: (days done, days in all).
pub type Progress<'a> = &'a dyn Fn(usize, usize);

/// The model grid of a run.
pub fn model_grid(catalog: &mut Catalog, cfg: &RunConfig) -> Result<GeoBox> {
    let g = &cfg.grid;
    let lonlat = cfg.area.bbox;
    match (&g.like, &g.crs, g.resolution) {
        (Some(like), _, _) => grid::like_product(catalog, like, lonlat),
        (None, Some(crs), Some(r)) => grid::for_lonlat_box(crs, lonlat, (r, -r), g.align),
        _ => Err(Error::Request(
            "grid needs like, or crs and resolution".into(),
        )),
    }
}

/// What every input load shares.
struct Ctx<'a> {
    catalog: &'a mut Catalog,
    cfg: &'a RunConfig,
    geobox: &'a GeoBox,
    stager: &'a Stager,
}

/// Loads one input over `days` on the grid, scaled, as a days × pixels array (NaN where missing).
fn input(
    ctx: &mut Ctx<'_>,
    role: &str,
    spec: &InputSpec,
    how: Alignment,
    days: &[NaiveDate],
) -> Result<Vec<f64>> {
    let n = ctx.geobox.width * ctx.geobox.height;
    if let Some(v) = spec.value {
        return Ok(vec![v; n * days.len()]);
    }
    let product = spec.product.clone().unwrap_or_default();
    let (first, last) = (days[0], days[days.len() - 1]);
    let at = |d: NaiveDate| Utc.from_utc_datetime(&d.and_hms_opt(0, 0, 0).unwrap_or_default());
    let time = match how {
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
    };
    let req = LoadRequest {
        product: product.clone(),
        measurements: spec.measurement.iter().cloned().collect(),
        time,
        lonlat: Some(ctx.cfg.area.bbox),
        geobox: ctx.geobox.clone(),
        // VegET resamples every input by nearest neighbour (coarse meteorology is replicated).
        resampling: Resampling::Nearest,
        resampling_of: HashMap::new(),
        group_by: GroupBy::Time,
        physical: false,
        default: stored_default(ctx.catalog, role, spec, &product)?,
    };
    let s = stack::load(ctx.catalog, &req, ctx.stager).map_err(|e| {
        let hint = match e {
            Error::MissingMeasurement { .. } => format!(
                ": give `default: VALUE` (in {}) in inputs.{role} for a constant where it is missing",
                super::units::role_units(role)
            ),
            _ => String::new(),
        };
        Error::Request(format!("inputs.{role}: {e}{hint}"))
    })?;
    let layer = s.layers.first().ok_or_else(|| {
        Error::Request(format!(
            "inputs.{role}: product {product} has no measurements"
        ))
    })?;
    // Stored values → the role's units: the product's packing (or the config's), kelvin to °C.
    let map = super::units::input_map(
        role,
        spec,
        (&product, &layer.name),
        layer.units.as_deref(),
        layer.packing,
    )
    .map_err(Error::Request)?;
    let mut v = to_daily(&s, &layer.name, days, how)
        .map_err(|e| Error::Request(format!("inputs.{role}: {e}")))?;
    if !map.is_none() {
        for x in &mut v {
            *x = map.apply(*x);
        }
    }
    Ok(v)
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

/// Runs VegET as configured, writing outputs under `cfg.output.dir`; a grid needing more memory than
/// `memory` = (MiB, what sets it) is refused first.
pub fn run(
    catalog: &mut Catalog,
    cfg: &RunConfig,
    memory: Option<(f64, &str)>,
    progress: Progress<'_>,
) -> Result<RunReport> {
    let params = cfg.params()?;
    let opts = cfg.options()?;
    let geobox = model_grid(catalog, cfg)?;
    check_memory(&geobox, memory)?;
    let n = geobox.width * geobox.height;
    let stager = Stager::new()?;
    let ins = &cfg.inputs;
    let mut ctx = Ctx {
        catalog,
        cfg,
        geobox: &geobox,
        stager: &stager,
    };
    let day0 = [cfg.period.start];
    let mut statics: Vec<Vec<f64>> = Vec::new();
    for (role, spec) in [
        ("whc", &ins.whc),
        ("field_capacity", &ins.field_capacity),
        ("saturation", &ins.saturation),
        ("interception", &ins.interception),
        ("water", &ins.water),
    ] {
        let how = spec.alignment(role, false)?;
        let mut v = input(&mut ctx, role, spec, how, &day0)?;
        if matches!(role, "whc" | "field_capacity" | "saturation") {
            super::mask_negative_soil(&mut v);
        }
        statics.push(v);
    }
    // Pixels whose centre is outside the area are masked (spec §7.3): missing statics make them nodata.
    let outside = outside_area(&geobox, cfg.area.bbox)?;
    for v in statics.iter_mut().take(3) {
        for (x, out) in v.iter_mut().zip(&outside) {
            if *out {
                *x = f64::NAN;
            }
        }
    }
    let masked = outside.iter().filter(|o| **o).count();
    let st = Statics {
        whc: &statics[0],
        fc: &statics[1],
        sat: &statics[2],
        interception: &statics[3],
        water: &statics[4],
    };
    let mut state = match &cfg.resume {
        Some(path) => super::outputs::read_state(path, &geobox)?,
        None => State::new(n),
    };
    let mut acc = Accumulator::new(&geobox, &cfg.output, &state, st.whc);
    let total_days = (cfg.period.end - cfg.period.start).num_days() as usize + 1;
    let mut out = Outputs::new(n);
    let mut done = 0;
    for days in months(cfg.period.start, cfg.period.end) {
        let mut dynamic = Vec::new();
        for (role, spec) in [
            ("precipitation", &ins.precipitation),
            ("eto", &ins.eto),
            ("ndvi", &ins.ndvi),
            ("tmin", &ins.tmin),
            ("tmax", &ins.tmax),
        ] {
            let how = spec.alignment(role, true)?;
            dynamic.push(input(&mut ctx, role, spec, how, &days)?);
        }
        let tavg = match &ins.tavg {
            Some(spec) => {
                let how = spec.alignment("tavg", true)?;
                input(&mut ctx, "tavg", spec, how, &days)?
            }
            None => super::mean_temperature(&dynamic[3], &dynamic[4]),
        };
        for (t, date) in days.iter().enumerate() {
            let r = t * n..(t + 1) * n;
            let d = Day {
                p: &dynamic[0][r.clone()],
                eto: &dynamic[1][r.clone()],
                ndvi: &dynamic[2][r.clone()],
                tmin: &dynamic[3][r.clone()],
                tmax: &dynamic[4][r.clone()],
                tavg: &tavg[r],
            };
            step(&params, &opts, st, d, &mut state, &mut out);
            acc.day(*date, &d, st.water, &out, &state)?;
            done += 1;
            progress(done, total_days);
        }
    }
    acc.finish(cfg.period.start, cfg.period.end, &state)
        .map(|(months, balance, files)| RunReport {
            geobox,
            days: total_days,
            gap_pixel_days: state.gap_days.iter().map(|&g| g as u64).sum(),
            invalid_pixels: state.valid.iter().filter(|v| !**v).count() - masked,
            outside_pixels: masked,
            months,
            balance,
            files,
        })
}

/// Whether each pixel centre of `geobox` falls outside the lon/lat box.
fn outside_area(geobox: &GeoBox, lonlat: [f64; 4]) -> Result<Vec<bool>> {
    let (w, h) = (geobox.width, geobox.height);
    let (mut xs, mut ys): (Vec<f64>, Vec<f64>) = (0..w * h)
        .map(|i| geobox.corner((i % w) as f64 + 0.5, (i / w) as f64 + 0.5))
        .unzip();
    let tr =
        gdal::spatial_ref::CoordTransform::new(&grid::srs(&geobox.crs)?, &grid::srs("EPSG:4326")?)
            .map_err(|e| Error::Grid(format!("{} → EPSG:4326: {e}", geobox.crs)))?;
    tr.transform_coords(&mut xs, &mut ys, &mut [])
        .map_err(|e| Error::Grid(format!("pixel centres to lon/lat: {e}")))?;
    let [w0, s0, e0, n0] = lonlat;
    Ok(xs
        .iter()
        .zip(&ys)
        .map(|(&x, &y)| !(x >= w0 && x <= e0 && y >= s0 && y <= n0))
        .collect())
}

/// The period cut into calendar months (the first and last clipped).
fn months(start: NaiveDate, end: NaiveDate) -> Vec<Vec<NaiveDate>> {
    let mut out: Vec<Vec<NaiveDate>> = Vec::new();
    let mut d = start;
    while d <= end {
        match out.last_mut() {
            Some(m) if m[0].month() == d.month() && m[0].year() == d.year() => m.push(d),
            _ => out.push(vec![d]),
        }
        d += Duration::days(1);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_cut_into_calendar_months() {
        let d = |y, m, dd| NaiveDate::from_ymd_opt(y, m, dd).unwrap();
        let m = months(d(2019, 12, 30), d(2020, 3, 1));
        assert_eq!(m.len(), 4);
        assert_eq!(m[0], [d(2019, 12, 30), d(2019, 12, 31)]);
        assert_eq!(m[2].len(), 29);
        assert_eq!(m[3], [d(2020, 3, 1)]);
    }
}
