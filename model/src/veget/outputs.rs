//! What a VegET run keeps and writes: daily files, monthly and annual totals (CF NetCDF named for the
//! `veget_*` recognition templates), the end state for resuming, the per-pixel water balance check.
use super::config::OutputSpec;
use super::{Day, Outputs, State, DAILY_NAMES};
use crate::output::{write_cogs, write_netcdf, write_png, Palette};
use crate::stack::Packing;
use crate::{Error, GeoBox, Layer, Result, Stack};
use chrono::{Datelike, NaiveDate, TimeZone, Utc};
use std::path::{Path, PathBuf};

/// Area means of one month (mm), over pixels with outputs that month.
#[derive(Debug, Clone, PartialEq)]
pub struct MonthRow {
    /// Year and month.
    pub month: (i32, u32),
    /// Precipitation.
    pub p: f64,
    /// Actual ET.
    pub eta: f64,
    /// Surface runoff.
    pub srf: f64,
    /// Deep drainage.
    pub dd: f64,
    /// Interception.
    pub intercept: f64,
    /// Soil water at the month's end.
    pub swf: f64,
    /// Snowpack at the month's end.
    pub snwpk: f64,
}

/// The per-pixel water balance over the run: P = interception + ETa + runoff + drainage + ΔSW + Δpack.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Balance {
    /// Land pixels checked.
    pub checked: usize,
    /// Pixels where the balance does not close within tolerance.
    pub failed: usize,
    /// Largest |residual| (mm).
    pub max_residual: f64,
    /// Pixels not checked: water or negative-NDVI days (where the reference model does not conserve
    /// mass by design), or no valid day.
    pub not_checked: usize,
}

/// Sums of named variables per pixel.
struct Sums {
    names: &'static [&'static str],
    values: Vec<Vec<f64>>,
    valid_days: Vec<f64>,
}

impl Sums {
    fn new(names: &'static [&'static str], n: usize) -> Sums {
        Sums {
            names,
            values: vec![vec![0.0; n]; names.len()],
            valid_days: vec![0.0; n],
        }
    }
}

const MONTHLY: &[&str] = &["etasw", "dd", "srf", "etc", "netet", "p", "intercept"];
const ANNUAL: &[&str] = &[
    "rain",
    "intercept",
    "swe",
    "etasw",
    "dd",
    "srf",
    "etc",
    "netet",
];
/// Monthly variables of the `veget_monthly` product (the others feed the summary table).
const MONTHLY_PRODUCT: usize = 5;

/// An output by name, or the day's precipitation for `p` (a monthly sum beside the outputs).
fn pick<'a>(o: &'a Outputs, d: &'a Day<'_>, name: &str) -> &'a [f64] {
    o.by_name(name).unwrap_or(d.p)
}

/// Keeps sums and writes files as the days go by.
pub struct Accumulator {
    geobox: GeoBox,
    spec: OutputSpec,
    month: Option<(i32, u32)>,
    year: Option<i32>,
    m: Sums,
    y: Sums,
    rows: Vec<MonthRow>,
    files: Vec<PathBuf>,
    // Balance terms per pixel.
    p: Vec<f64>,
    out_terms: Vec<f64>,
    eta_total: Vec<f64>,
    land: Vec<bool>,
    seen: Vec<bool>,
    sw0: Vec<f64>,
    pack0: Vec<f64>,
    last_state: (Vec<f64>, Vec<f64>),
}

fn float_layer(name: &str, units: &str, data: Vec<f64>) -> Layer {
    Layer {
        name: name.into(),
        dtype: "float32".into(),
        nodata: Some(f64::NAN),
        units: Some(units.into()),
        packing: Packing::NONE,
        unpacked: None,
        data,
    }
}

fn count_layer(name: &str, data: Vec<f64>) -> Layer {
    Layer {
        name: name.into(),
        dtype: "int16".into(),
        nodata: Some(-1.0),
        units: Some("day".into()),
        packing: Packing::NONE,
        unpacked: None,
        data,
    }
}

fn mean(v: &[f64], days: &[f64]) -> f64 {
    let (mut s, mut k) = (0.0, 0usize);
    for (x, d) in v.iter().zip(days) {
        if *d > 0.0 && x.is_finite() {
            s += x;
            k += 1;
        }
    }
    if k == 0 {
        f64::NAN
    } else {
        s / k as f64
    }
}

impl Accumulator {
    /// Starts accumulating from `state` (a fresh state starts at half the water-holding capacity).
    pub fn new(geobox: &GeoBox, spec: &OutputSpec, state: &State, whc: &[f64]) -> Accumulator {
        let n = state.swf.len();
        let sw0 = (0..n)
            .map(|i| {
                if state.started[i] {
                    state.swf[i]
                } else {
                    0.5 * whc[i]
                }
            })
            .collect();
        Accumulator {
            geobox: geobox.clone(),
            spec: spec.clone(),
            month: None,
            year: None,
            m: Sums::new(MONTHLY, n),
            y: Sums::new(ANNUAL, n),
            rows: Vec::new(),
            files: Vec::new(),
            p: vec![0.0; n],
            out_terms: vec![0.0; n],
            eta_total: vec![0.0; n],
            land: vec![true; n],
            seen: vec![false; n],
            sw0,
            pack0: state.pack.clone(),
            last_state: (state.swf.clone(), state.pack.clone()),
        }
    }

    fn stack(&self, product: &str, date: NaiveDate, layers: Vec<Layer>) -> Stack {
        let t = Utc.from_utc_datetime(&date.and_hms_opt(0, 0, 0).unwrap_or_default());
        Stack {
            product: product.into(),
            geobox: self.geobox.clone(),
            times: vec![t],
            sources: vec![vec![]],
            spans: vec![(t, t)],
            layers,
        }
    }

    fn write(&mut self, sub: &str, name: String, s: &Stack, cogs: bool) -> Result<()> {
        let dir = self.spec.dir.join(sub);
        std::fs::create_dir_all(&dir).map_err(|e| Error::Write {
            path: dir.display().to_string(),
            message: e.to_string(),
        })?;
        let path = dir.join(name);
        write_netcdf(&path, s)?;
        self.files.push(path);
        if cogs {
            for l in &s.layers {
                self.files
                    .extend(write_cogs(&dir.join("cogs"), s, &l.name)?);
            }
        }
        Ok(())
    }

    /// Records one day's outputs (and writes its daily file).
    pub fn day(
        &mut self,
        date: NaiveDate,
        d: &Day<'_>,
        water: &[f64],
        o: &Outputs,
        state: &State,
    ) -> Result<()> {
        if self.month.is_some_and(|m| m != (date.year(), date.month())) {
            self.flush_month()?;
        }
        if self.year.is_some_and(|y| y != date.year()) {
            self.flush_year()?;
        }
        self.month = Some((date.year(), date.month()));
        self.year = Some(date.year());
        if self.spec.daily {
            let mut layers: Vec<Layer> = DAILY_NAMES
                .iter()
                .map(|v| float_layer(v, "mm", pick(o, d, v).to_vec()))
                .collect();
            layers.push(count_layer(
                "gap_days",
                state.gap_days.iter().map(|&g| g as f64).collect(),
            ));
            let s = self.stack("veget_daily", date, layers);
            self.write(
                "daily",
                format!("veget_daily_{}.nc", date.format("%Y%m%d")),
                &s,
                false,
            )?;
        }
        // One pass over parallel per-pixel arrays.
        #[allow(clippy::needless_range_loop)]
        for i in 0..o.etasw.len() {
            if !o.etasw[i].is_finite() {
                continue;
            }
            for (k, name) in self.m.names.iter().enumerate() {
                self.m.values[k][i] += pick(o, d, name)[i];
            }
            for (k, name) in self.y.names.iter().enumerate() {
                self.y.values[k][i] += pick(o, d, name)[i];
            }
            self.m.valid_days[i] += 1.0;
            self.y.valid_days[i] += 1.0;
            self.seen[i] = true;
            self.p[i] += d.p[i];
            self.out_terms[i] += o.intercept[i] + o.etasw[i] + o.srf[i] + o.dd[i];
            self.eta_total[i] += o.etasw[i];
            if water[i] != 0.0 || d.ndvi[i] < 0.0 {
                self.land[i] = false;
            }
        }
        self.last_state = (state.swf.clone(), state.pack.clone());
        Ok(())
    }

    fn flush_month(&mut self) -> Result<()> {
        let Some((y, m)) = self.month.take() else {
            return Ok(());
        };
        let n = self.m.valid_days.len();
        let date = NaiveDate::from_ymd_opt(y, m, 1).unwrap_or_default();
        let mut layers: Vec<Layer> = self.m.names[..MONTHLY_PRODUCT]
            .iter()
            .enumerate()
            .map(|(k, v)| float_layer(v, "mm", masked(&self.m.values[k], &self.m.valid_days)))
            .collect();
        layers.push(count_layer("valid_days", self.m.valid_days.clone()));
        let s = self.stack("veget_monthly", date, layers);
        self.write(
            "monthly",
            format!("veget_monthly_{y}{m:02}.nc"),
            &s,
            self.spec.cogs,
        )?;
        let at = |k: usize| mean(&self.m.values[k], &self.m.valid_days);
        let days = &self.m.valid_days;
        self.rows.push(MonthRow {
            month: (y, m),
            eta: at(0),
            dd: at(1),
            srf: at(2),
            p: at(5),
            intercept: at(6),
            swf: mean(&self.last_state.0, days),
            snwpk: mean(&self.last_state.1, days),
        });
        self.m = Sums::new(MONTHLY, n);
        Ok(())
    }

    fn flush_year(&mut self) -> Result<()> {
        let Some(y) = self.year.take() else {
            return Ok(());
        };
        let n = self.y.valid_days.len();
        let date = NaiveDate::from_ymd_opt(y, 1, 1).unwrap_or_default();
        let mut layers: Vec<Layer> = self
            .y
            .names
            .iter()
            .enumerate()
            .map(|(k, v)| float_layer(v, "mm", masked(&self.y.values[k], &self.y.valid_days)))
            .collect();
        layers.push(count_layer("valid_days", self.y.valid_days.clone()));
        let s = self.stack("veget_annual", date, layers);
        self.write("annual", format!("veget_annual_{y}.nc"), &s, self.spec.cogs)?;
        let png = self.spec.dir.join(format!("eta_{y}.png"));
        let eta = s.layer("etasw").map(|l| l.data.clone()).unwrap_or_default();
        write_png(
            &png,
            &eta,
            self.geobox.width,
            self.geobox.height,
            Some(f64::NAN),
            &format!("VegET actual ET {y} (mm)"),
            Palette::Viridis,
        )?;
        self.files.push(png);
        self.y = Sums::new(ANNUAL, n);
        Ok(())
    }

    /// Flushes the last month and year, writes the end state, a quicklook of the run's total ETa
    /// (`eta_{start}_{end}.png`) and checks the balance.
    pub fn finish(
        mut self,
        start: NaiveDate,
        end: NaiveDate,
        state: &State,
    ) -> Result<(Vec<MonthRow>, Balance, Vec<PathBuf>)> {
        self.flush_month()?;
        self.flush_year()?;
        // Full precision, so a run resumed from this state equals an uninterrupted one.
        let exact = |name: &str, v: &[f64]| Layer {
            dtype: "float64".into(),
            ..float_layer(name, "mm", v.to_vec())
        };
        let layers = vec![exact("swf", &state.swf), exact("snwpk", &state.pack)];
        let s = self.stack("veget_state", end, layers);
        self.write(
            "state",
            format!("veget_state_{}.nc", end.format("%Y%m%d")),
            &s,
            false,
        )?;
        let total = masked(
            &self.eta_total,
            &self
                .seen
                .iter()
                .map(|&s| s as u8 as f64)
                .collect::<Vec<_>>(),
        );
        let png = self.spec.dir.join(format!(
            "eta_{}_{}.png",
            start.format("%Y%m%d"),
            end.format("%Y%m%d")
        ));
        write_png(
            &png,
            &total,
            self.geobox.width,
            self.geobox.height,
            Some(f64::NAN),
            &format!("VegET actual ET {start} to {end} (mm)"),
            Palette::Viridis,
        )?;
        self.files.push(png);
        let mut b = Balance::default();
        for i in 0..self.p.len() {
            let checkable = self.land[i] && self.seen[i] && state.valid[i];
            if !checkable {
                b.not_checked += 1;
                continue;
            }
            let storage = (state.swf[i] - self.sw0[i]) + (state.pack[i] - self.pack0[i]);
            let residual = self.p[i] - (self.out_terms[i] + storage);
            let tolerance = 1e-6 * (1.0 + self.p[i].abs() + self.sw0[i].abs());
            b.checked += 1;
            b.max_residual = b.max_residual.max(residual.abs());
            if residual.is_nan() || residual.abs() > tolerance {
                b.failed += 1;
            }
        }
        Ok((self.rows, b, self.files))
    }
}

fn masked(v: &[f64], days: &[f64]) -> Vec<f64> {
    v.iter()
        .zip(days)
        .map(|(x, d)| if *d > 0.0 { *x } else { f64::NAN })
        .collect()
}

/// Reads a saved state (`veget_state_*.nc`) for a run on `geobox`.
pub fn read_state(path: &Path, geobox: &GeoBox) -> Result<State> {
    let read = |var: &str| -> Result<Vec<f64>> {
        let p = format!("NETCDF:\"{}\":{var}", path.display());
        let fail = |m: String| Error::Read {
            object: p.clone(),
            message: m,
        };
        let ds = gdal::Dataset::open(&p).map_err(|e| fail(e.to_string()))?;
        let (w, h) = ds.raster_size();
        if (w, h) != (geobox.width, geobox.height) {
            return Err(fail(format!(
                "state grid is {w}×{h}, the run's {}×{}",
                geobox.width, geobox.height
            )));
        }
        let b = ds.rasterband(1).map_err(|e| fail(e.to_string()))?;
        let buf = b
            .read_as::<f64>((0, 0), (w, h), (w, h), None)
            .map_err(|e| fail(e.to_string()))?;
        Ok(buf.into_shape_and_vec().1)
    };
    Ok(State::resume(read("swf")?, read("snwpk")?))
}
