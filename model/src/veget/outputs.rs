//! What a VegET run keeps and writes: daily files, monthly and annual totals (CF NetCDF named for the
//! `veget_*` recognition templates), the end state for resuming, the per-pixel water balance check.
//! The files are made on the whole grid first; each tile keeps its own sums and writes its rows of
//! every file in place.
use super::balance::Balance;
use super::config::OutputSpec;
use super::ledger::MonthPart;
use super::{Day, Input, Outputs, State, DAILY_NAMES};
use crate::output::{banded, cogs_from_netcdf, write_png, NetcdfPlaced, Palette};
use crate::stack::Packing;
use crate::{Error, GeoBox, Layer, Result, Stack};
use chrono::{Datelike, NaiveDate, TimeZone, Utc};
use std::path::{Path, PathBuf};

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

/// A daily output by name (every name of DAILY_NAMES is one).
fn daily<'a>(o: &'a Outputs, name: &str) -> &'a [f64] {
    o.by_name(name).unwrap_or(&[])
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

/// Full precision, so a run resumed from a state equals an uninterrupted one.
fn exact_layer(name: &str, data: Vec<f64>) -> Layer {
    Layer {
        dtype: "float64".into(),
        ..float_layer(name, "mm", data)
    }
}

/// float32 layers `names` (mm), then the int16 day count `count`, with `data` in that order (none:
/// a header without values).
fn layers(names: &[&str], count: &str, data: Option<Vec<Vec<f64>>>) -> Vec<Layer> {
    let mut data = data.unwrap_or_default().into_iter();
    let mut out: Vec<Layer> = names
        .iter()
        .map(|v| float_layer(v, "mm", data.next().unwrap_or_default()))
        .collect();
    out.push(count_layer(count, data.next().unwrap_or_default()));
    out
}

fn stack(product: &str, geobox: &GeoBox, date: NaiveDate, layers: Vec<Layer>) -> Stack {
    let t = Utc.from_utc_datetime(&date.and_hms_opt(0, 0, 0).unwrap_or_default());
    Stack {
        product: product.into(),
        geobox: geobox.clone(),
        times: vec![t],
        sources: vec![vec![]],
        spans: vec![(t, t)],
        layers,
    }
}

/// One output file: its header on the whole grid and its place on disk.
struct File {
    header: Stack,
    placed: NetcdfPlaced,
}

impl File {
    fn ensure(dir: &Path, name: String, header: Stack) -> Result<File> {
        std::fs::create_dir_all(dir).map_err(|e| Error::Write {
            path: dir.display().to_string(),
            message: e.to_string(),
        })?;
        let placed = NetcdfPlaced::ensure(&dir.join(name), &header)?;
        Ok(File { header, placed })
    }

    /// Writes a tile's rows (one step of every layer, in the header's order), flushed to disk.
    fn write(&self, tile: &GeoBox, row0: usize, layers: Vec<Layer>) -> Result<()> {
        let band = Stack {
            geobox: tile.clone(),
            layers,
            ..self.header.clone()
        };
        self.placed.write_rows(&band, row0, true)
    }
}

/// Every file a run writes, made on the whole grid before any tile writes its rows into them:
/// daily files, monthly and annual totals, the end state, and the run's total ETa (beside the
/// ledger, for the quicklook).
pub struct Files {
    geobox: GeoBox,
    spec: OutputSpec,
    start: NaiveDate,
    end: NaiveDate,
    daily: Vec<File>,
    monthly: Vec<((i32, u32), File)>,
    annual: Vec<(i32, File)>,
    state: File,
    eta_total: File,
}

impl Files {
    /// Makes sure of every file of a run from `start` to `end` on `geobox` (created, or kept when
    /// already there with the same header); `work` holds the run's own files.
    pub fn ensure(
        geobox: &GeoBox,
        spec: &OutputSpec,
        (start, end): (NaiveDate, NaiveDate),
        work: &Path,
    ) -> Result<Files> {
        let dir = &spec.dir;
        let mut daily = Vec::new();
        let mut monthly: Vec<((i32, u32), File)> = Vec::new();
        let mut annual: Vec<(i32, File)> = Vec::new();
        let mut d = start;
        while d <= end {
            if spec.daily {
                // Daily files count gap days so far (the state's), not valid days.
                let l = layers(&DAILY_NAMES, "gap_days", None);
                daily.push(File::ensure(
                    &dir.join("daily"),
                    format!("veget_daily_{}.nc", d.format("%Y%m%d")),
                    stack("veget_daily", geobox, d, l),
                )?);
            }
            let (y, m) = (d.year(), d.month());
            if monthly.last().is_none_or(|(k, _)| *k != (y, m)) {
                let first = NaiveDate::from_ymd_opt(y, m, 1).unwrap_or_default();
                monthly.push((
                    (y, m),
                    File::ensure(
                        &dir.join("monthly"),
                        format!("veget_monthly_{y}{m:02}.nc"),
                        stack(
                            "veget_monthly",
                            geobox,
                            first,
                            layers(&MONTHLY[..MONTHLY_PRODUCT], "valid_days", None),
                        ),
                    )?,
                ));
            }
            if annual.last().is_none_or(|(k, _)| *k != y) {
                let first = NaiveDate::from_ymd_opt(y, 1, 1).unwrap_or_default();
                annual.push((
                    y,
                    File::ensure(
                        &dir.join("annual"),
                        format!("veget_annual_{y}.nc"),
                        stack(
                            "veget_annual",
                            geobox,
                            first,
                            layers(ANNUAL, "valid_days", None),
                        ),
                    )?,
                ));
            }
            d += chrono::Duration::days(1);
        }
        let state = File::ensure(
            &dir.join("state"),
            format!("veget_state_{}.nc", end.format("%Y%m%d")),
            stack(
                "veget_state",
                geobox,
                end,
                vec![
                    exact_layer("swf", Vec::new()),
                    exact_layer("snwpk", Vec::new()),
                ],
            ),
        )?;
        let eta_total = File::ensure(
            work,
            "eta_total.nc".into(),
            stack(
                "veget_eta_total",
                geobox,
                start,
                vec![exact_layer("etasw", Vec::new())],
            ),
        )?;
        Ok(Files {
            geobox: geobox.clone(),
            spec: spec.clone(),
            start,
            end,
            daily,
            monthly,
            annual,
            state,
            eta_total,
        })
    }

    /// The output files (daily, monthly, annual, state).
    pub fn paths(&self) -> Vec<PathBuf> {
        let mut out: Vec<PathBuf> = self
            .daily
            .iter()
            .chain(self.monthly.iter().map(|(_, f)| f))
            .chain(self.annual.iter().map(|(_, f)| f))
            .map(|f| f.placed.path().to_path_buf())
            .collect();
        out.push(self.state.placed.path().to_path_buf());
        out
    }

    /// Once every tile is written: the quicklooks (each year's ETa, `eta_{y}.png`, and the run's,
    /// `eta_{start}_{end}.png`) read back from the files, and the COGs of the monthly and annual
    /// totals when asked for. Returns the files written.
    pub fn finish(&self) -> Result<Vec<PathBuf>> {
        let mut out = Vec::new();
        let size = (self.geobox.width, self.geobox.height);
        let png = |path: PathBuf, file: &File, layer: &str, title: String| -> Result<PathBuf> {
            let (values, w, h) = banded::read_step(file.placed.path(), layer, 0, size, 4096)?;
            write_png(
                &path,
                &values,
                w,
                h,
                Some(f64::NAN),
                &title,
                Palette::Viridis,
            )?;
            Ok(path)
        };
        if self.spec.cogs {
            for (sub, file) in self
                .monthly
                .iter()
                .map(|(_, f)| ("monthly", f))
                .chain(self.annual.iter().map(|(_, f)| ("annual", f)))
            {
                let dir = self.spec.dir.join(sub).join("cogs");
                std::fs::create_dir_all(&dir).map_err(|e| Error::Write {
                    path: dir.display().to_string(),
                    message: e.to_string(),
                })?;
                for l in &file.header.layers {
                    out.extend(cogs_from_netcdf(
                        &dir,
                        file.placed.path(),
                        &file.header,
                        &l.name,
                    )?);
                }
            }
        }
        for (y, file) in &self.annual {
            out.push(png(
                self.spec.dir.join(format!("eta_{y}.png")),
                file,
                "etasw",
                format!("VegET actual ET {y} (mm)"),
            )?);
        }
        let (start, end) = (self.start, self.end);
        out.push(png(
            self.spec.dir.join(format!(
                "eta_{}_{}.png",
                start.format("%Y%m%d"),
                end.format("%Y%m%d")
            )),
            &self.eta_total,
            "etasw",
            format!("VegET actual ET {start} to {end} (mm)"),
        )?);
        Ok(out)
    }
}

/// One tile's sums as the days go by, its rows of every file written as each day, month and year
/// ends.
pub struct TileAcc<'a> {
    files: &'a Files,
    tile: GeoBox,
    row0: usize,
    day: usize,
    month: Option<(i32, u32)>,
    year: Option<i32>,
    m: Sums,
    y: Sums,
    parts: Vec<MonthPart>,
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

/// (sum, count) of the finite values of `v` on pixels with valid days.
fn part(v: &[f64], days: &[f64]) -> (f64, u64) {
    let (mut s, mut k) = (0.0, 0u64);
    for (x, d) in v.iter().zip(days) {
        if *d > 0.0 && x.is_finite() {
            s += x;
            k += 1;
        }
    }
    (s, k)
}

impl<'a> TileAcc<'a> {
    /// Starts tile `tile` (rows from `row0` of the run's grid) from `state` (a fresh state starts at
    /// half the water-holding capacity).
    pub fn new(
        files: &'a Files,
        tile: &GeoBox,
        row0: usize,
        state: &State,
        whc: &[f64],
    ) -> TileAcc<'a> {
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
        TileAcc {
            files,
            tile: tile.clone(),
            row0,
            day: 0,
            month: None,
            year: None,
            m: Sums::new(MONTHLY, n),
            y: Sums::new(ANNUAL, n),
            parts: Vec::new(),
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

    /// Records one day's outputs (and writes the tile's rows of its daily file).
    pub fn day<T: Input>(
        &mut self,
        date: NaiveDate,
        d: &Day<'_, T>,
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
        if self.files.spec.daily {
            let mut data: Vec<Vec<f64>> =
                DAILY_NAMES.iter().map(|v| daily(o, v).to_vec()).collect();
            data.push(state.gap_days.iter().map(|&g| g as f64).collect());
            let file = &self.files.daily[self.day];
            file.write(
                &self.tile,
                self.row0,
                layers(&DAILY_NAMES, "gap_days", Some(data)),
            )?;
        }
        self.day += 1;
        // Each sum in a loop of its own over the pixels (the output looked up once a day, not once
        // a pixel), adding where ETa is a number; then the per-pixel bookkeeping in one pass.
        let eta = &o.etasw;
        for sums in [&mut self.m, &mut self.y] {
            for (k, name) in sums.names.iter().enumerate() {
                // An output, or the day's precipitation for `p` (a monthly sum beside the outputs).
                match o.by_name(name) {
                    Some(add) => {
                        for ((s, &x), e) in sums.values[k].iter_mut().zip(add).zip(eta) {
                            if e.is_finite() {
                                *s += x;
                            }
                        }
                    }
                    None => {
                        for ((s, &x), e) in sums.values[k].iter_mut().zip(d.p).zip(eta) {
                            if e.is_finite() {
                                *s += x.into();
                            }
                        }
                    }
                }
            }
        }
        #[allow(clippy::needless_range_loop)]
        for i in 0..o.etasw.len() {
            if !o.etasw[i].is_finite() {
                continue;
            }
            self.m.valid_days[i] += 1.0;
            self.y.valid_days[i] += 1.0;
            self.seen[i] = true;
            self.p[i] += d.p[i].into();
            self.out_terms[i] += o.intercept[i] + o.etasw[i] + o.srf[i] + o.dd[i];
            self.eta_total[i] += o.etasw[i];
            if water[i] != 0.0 || d.ndvi[i].into() < 0.0 {
                self.land[i] = false;
            }
        }
        // The state at the end of the month, for its summary row (`finish` takes the period's last).
        if date.succ_opt().is_none_or(|n| n.month() != date.month()) {
            self.last_state.0.copy_from_slice(&state.swf);
            self.last_state.1.copy_from_slice(&state.pack);
        }
        Ok(())
    }

    fn flush_month(&mut self) -> Result<()> {
        let Some((y, m)) = self.month.take() else {
            return Ok(());
        };
        let n = self.m.valid_days.len();
        let mut data: Vec<Vec<f64>> = (0..MONTHLY_PRODUCT)
            .map(|k| masked(&self.m.values[k], &self.m.valid_days))
            .collect();
        data.push(self.m.valid_days.clone());
        let file = self
            .files
            .monthly
            .iter()
            .find(|(k, _)| *k == (y, m))
            .map(|(_, f)| f)
            .ok_or_else(|| Error::Request(format!("no monthly file for {y}-{m:02}")))?;
        file.write(
            &self.tile,
            self.row0,
            layers(&MONTHLY[..MONTHLY_PRODUCT], "valid_days", Some(data)),
        )?;
        let days = &self.m.valid_days;
        let mut p = MonthPart {
            month: (y, m),
            ..Default::default()
        };
        // p, eta, srf, dd, intercept (MonthPart's order) from MONTHLY's p, etasw, srf, dd, intercept.
        for (slot, k) in [5, 0, 2, 1, 6].into_iter().enumerate() {
            (p.sums[slot], p.counts[slot]) = part(&self.m.values[k], days);
        }
        (p.sums[5], p.counts[5]) = part(&self.last_state.0, days);
        (p.sums[6], p.counts[6]) = part(&self.last_state.1, days);
        self.parts.push(p);
        self.m = Sums::new(MONTHLY, n);
        Ok(())
    }

    fn flush_year(&mut self) -> Result<()> {
        let Some(y) = self.year.take() else {
            return Ok(());
        };
        let n = self.y.valid_days.len();
        let mut data: Vec<Vec<f64>> = (0..ANNUAL.len())
            .map(|k| masked(&self.y.values[k], &self.y.valid_days))
            .collect();
        data.push(self.y.valid_days.clone());
        let file = self
            .files
            .annual
            .iter()
            .find(|(k, _)| *k == y)
            .map(|(_, f)| f)
            .ok_or_else(|| Error::Request(format!("no annual file for {y}")))?;
        file.write(
            &self.tile,
            self.row0,
            layers(ANNUAL, "valid_days", Some(data)),
        )?;
        self.y = Sums::new(ANNUAL, n);
        Ok(())
    }

    /// Flushes the last month and year, writes the tile's rows of the end state and of the run's
    /// total ETa, and checks the balance: the tile's monthly area sums and balance.
    pub fn finish(mut self, state: &State) -> Result<(Vec<MonthPart>, Balance)> {
        self.last_state.0.copy_from_slice(&state.swf);
        self.last_state.1.copy_from_slice(&state.pack);
        self.flush_month()?;
        self.flush_year()?;
        self.files.state.write(
            &self.tile,
            self.row0,
            vec![
                exact_layer("swf", state.swf.clone()),
                exact_layer("snwpk", state.pack.clone()),
            ],
        )?;
        let seen: Vec<f64> = self.seen.iter().map(|&s| s as u8 as f64).collect();
        self.files.eta_total.write(
            &self.tile,
            self.row0,
            vec![exact_layer("etasw", masked(&self.eta_total, &seen))],
        )?;
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
            if residual.is_finite() {
                b.max_residual = b.max_residual.max(residual.abs());
            }
            if residual.is_nan() || residual.abs() > tolerance {
                b.failed += 1;
            }
        }
        Ok((self.parts, b))
    }
}

fn masked(v: &[f64], days: &[f64]) -> Vec<f64> {
    v.iter()
        .zip(days)
        .map(|(x, d)| if *d > 0.0 { *x } else { f64::NAN })
        .collect()
}

/// Reads rows `row0 .. row0 + tile height` of a saved state (`veget_state_*.nc`) for a run on
/// `geobox`.
pub fn read_state(path: &Path, geobox: &GeoBox, row0: usize, tile: &GeoBox) -> Result<State> {
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
            .read_as::<f64>((0, row0 as isize), (w, tile.height), (w, tile.height), None)
            .map_err(|e| fail(e.to_string()))?;
        Ok(buf.into_shape_and_vec().1)
    };
    Ok(State::resume(read("swf")?, read("snwpk")?))
}
