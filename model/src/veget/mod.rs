//! The VegET daily soil-water-balance kernel (spec: `veget.md`, 2021 reference equations) over a tile
//! of pixels: one call per day, state carried in [`State`], no allocation per pixel-day.
//!
//! Two missing-value modes: `Compat` reproduces the reference's NaN behaviour (compare-then-select, so a
//! comparison with NaN is false); `Strict` (default) holds state over gaps, counts them, and fixes the
//! reference's quirks (each fix a separate flag).
mod accumulate;
mod arrays;
mod balance;
pub mod config;
mod day;
mod drive;
mod fast;
mod inputs;
mod ledger;
mod outputs;
mod params;
mod run;
pub mod tiling;
mod units;
pub use arrays::{mask_negative_soil, mean_temperature, run_daily, Daily, DAILY_NAMES};
pub use balance::{Balance, MonthRow};
pub use config::RunConfig;
pub use day::step;
pub use drive::{
    finish, model_grid, run as run_from_index, run_tiles, Outcome, Progress, RunOptions, RunReport,
};
pub use params::{MeltFormula, Mode, Options, Params};
pub use run::{run, Stack, Sums};
pub use tiling::{Share, Tiling, BYTES_PER_PIXEL};

/// Static inputs per pixel.
#[derive(Debug, Clone, Copy)]
pub struct Statics<'a> {
    /// Plant-available water-holding capacity (mm).
    pub whc: &'a [f64],
    /// Field capacity (mm).
    pub fc: &'a [f64],
    /// Saturation (mm).
    pub sat: &'a [f64],
    /// Interception (% of precipitation).
    pub interception: &'a [f64],
    /// 1 = inland water.
    pub water: &'a [f64],
}

/// One day's dynamic inputs per pixel (after scale factors; nodata already NaN).
#[derive(Debug, Clone, Copy)]
pub struct Day<'a, T = f64> {
    /// Precipitation (mm/day).
    pub p: &'a [T],
    /// Grass reference ET (mm/day), before bias correction.
    pub eto: &'a [T],
    /// NDVI.
    pub ndvi: &'a [T],
    /// Minimum temperature (°C).
    pub tmin: &'a [T],
    /// Maximum temperature (°C).
    pub tmax: &'a [T],
    /// Mean temperature (°C).
    pub tavg: &'a [T],
}

/// State carried between days.
#[derive(Debug, Clone, PartialEq)]
pub struct State {
    /// Final soil water of the previous day (mm).
    pub swf: Vec<f64>,
    /// Snowpack water equivalent (mm).
    pub pack: Vec<f64>,
    /// Whether the pixel has had its day 0 (initialisation) yet.
    pub started: Vec<bool>,
    /// Strict mode: days with missing dynamic inputs so far (an output).
    pub gap_days: Vec<u32>,
    /// Strict mode: current run of consecutive gap days.
    pub gap_run: Vec<u32>,
    /// Strict mode: false once a pixel is invalid for the rest of the run.
    pub valid: Vec<bool>,
}

impl State {
    /// A fresh state: every pixel starts (day 0) on its first day.
    pub fn new(n: usize) -> State {
        State {
            swf: vec![0.0; n],
            pack: vec![0.0; n],
            started: vec![false; n],
            gap_days: vec![0; n],
            gap_run: vec![0; n],
            valid: vec![true; n],
        }
    }

    /// A state resumed from saved soil water and snowpack (e.g. the end of a previous run).
    pub fn resume(swf: Vec<f64>, pack: Vec<f64>) -> State {
        let n = swf.len();
        State {
            started: vec![true; n],
            ..State::new(n)
        }
        .with(swf, pack)
    }

    fn with(mut self, swf: Vec<f64>, pack: Vec<f64>) -> State {
        self.swf = swf;
        self.pack = pack;
        self
    }
}

/// One day's outputs per pixel (the reference's variable names).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Outputs {
    /// Soil water before ET.
    pub swi: Vec<f64>,
    /// Final soil water.
    pub swf: Vec<f64>,
    /// Snowpack.
    pub snwpk: Vec<f64>,
    /// Today's snowfall.
    pub swe: Vec<f64>,
    /// Snow melt.
    pub snowmelt: Vec<f64>,
    /// Rain.
    pub rain: Vec<f64>,
    /// Interception.
    pub intercept: Vec<f64>,
    /// Surface runoff.
    pub srf: Vec<f64>,
    /// Deep drainage.
    pub dd: Vec<f64>,
    /// Actual ET.
    pub etasw: Vec<f64>,
    /// Land ETa before the water override.
    pub etasw5: Vec<f64>,
    /// Potential ET.
    pub etc: Vec<f64>,
    /// ET deficit.
    pub netet: Vec<f64>,
}

impl Outputs {
    /// Buffers for `n` pixels, reused day after day.
    pub fn new(n: usize) -> Outputs {
        let v = || vec![f64::NAN; n];
        Outputs {
            swi: v(),
            swf: v(),
            snwpk: v(),
            swe: v(),
            snowmelt: v(),
            rain: v(),
            intercept: v(),
            srf: v(),
            dd: v(),
            etasw: v(),
            etasw5: v(),
            etc: v(),
            netet: v(),
        }
    }

    /// The output variable of that name ([`DAILY_NAMES`], as the `veget_daily` files call them).
    pub fn by_name(&self, name: &str) -> Option<&[f64]> {
        Some(match name {
            "swi" => &self.swi,
            "swf" => &self.swf,
            "snwpk" => &self.snwpk,
            "swe" => &self.swe,
            "snowmelt" => &self.snowmelt,
            "rain" => &self.rain,
            "intercept" => &self.intercept,
            "srf" => &self.srf,
            "dd" => &self.dd,
            "etasw" => &self.etasw,
            "etasw5" => &self.etasw5,
            "etc" => &self.etc,
            "netet" => &self.netet,
            _ => return None,
        })
    }

    fn set_nodata(&mut self, i: usize) {
        for v in [
            &mut self.swi,
            &mut self.swf,
            &mut self.snwpk,
            &mut self.swe,
            &mut self.snowmelt,
            &mut self.rain,
            &mut self.intercept,
            &mut self.srf,
            &mut self.dd,
            &mut self.etasw,
            &mut self.etasw5,
            &mut self.etc,
            &mut self.netet,
        ] {
            v[i] = f64::NAN;
        }
    }
}

/// The reference's `x if cond else y` selections: a comparison with NaN is false.
#[inline(always)]
fn floor0(x: f64) -> f64 {
    if x < 0.0 {
        0.0
    } else {
        x
    }
}

/// One pixel-day's fluxes, named as [`Outputs`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct Flux {
    pub swi: f64,
    pub swf: f64,
    pub snwpk: f64,
    pub swe: f64,
    pub snowmelt: f64,
    pub rain: f64,
    pub intercept: f64,
    pub srf: f64,
    pub dd: f64,
    pub etasw: f64,
    pub etasw5: f64,
    pub etc: f64,
    pub netet: f64,
}

/// One pixel's state, as [`State`] holds it for all pixels.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PixelState {
    pub swf: f64,
    pub pack: f64,
    pub started: bool,
    pub gap_days: u32,
    pub gap_run: u32,
    pub valid: bool,
}

impl State {
    #[inline(always)]
    pub(crate) fn get(&self, i: usize) -> PixelState {
        PixelState {
            swf: self.swf[i],
            pack: self.pack[i],
            started: self.started[i],
            gap_days: self.gap_days[i],
            gap_run: self.gap_run[i],
            valid: self.valid[i],
        }
    }

    #[inline(always)]
    pub(crate) fn set(&mut self, i: usize, s: PixelState) {
        self.swf[i] = s.swf;
        self.pack[i] = s.pack;
        self.started[i] = s.started;
        self.gap_days[i] = s.gap_days;
        self.gap_run[i] = s.gap_run;
        self.valid[i] = s.valid;
    }
}

/// Statics of one pixel: whc, fc, sat, interception, water.
pub(crate) type PixelStatics = (f64, f64, f64, f64, f64);
/// Dynamic inputs of one pixel-day: p, eto, ndvi, tmin, tmax, tavg.
pub(crate) type PixelInputs = (f64, f64, f64, f64, f64, f64);

impl Statics<'_> {
    #[inline(always)]
    pub(crate) fn get(&self, i: usize) -> PixelStatics {
        (
            self.whc[i],
            self.fc[i],
            self.sat[i],
            self.interception[i],
            self.water[i],
        )
    }
}

/// The float type of a day's inputs: f64, or f32 (an index-driven run's: half the memory and
/// memory traffic). The kernel computes in f64 either way; its thresholds on inputs (NDVI's 0.4, the
/// rain-fraction temperatures) are compared at the inputs' precision, so that a value stored exactly
/// on a threshold (an int16 NDVI of 4000 is 0.4) falls on the same side as in f64.
pub trait Input: Copy + Into<f64> + Send + Sync + 'static {
    /// `x` rounded to this precision, back in f64.
    fn at_precision(x: f64) -> f64;
    /// `x` at this precision.
    fn from_f64(x: f64) -> Self;
}

impl Input for f64 {
    #[inline(always)]
    fn at_precision(x: f64) -> f64 {
        x
    }
    #[inline(always)]
    fn from_f64(x: f64) -> Self {
        x
    }
}

impl Input for f32 {
    #[inline(always)]
    fn at_precision(x: f64) -> f64 {
        x as f32 as f64
    }
    #[inline(always)]
    fn from_f64(x: f64) -> Self {
        x as f32
    }
}

impl Outputs {
    #[inline(always)]
    fn set(&mut self, i: usize, f: &Flux) {
        self.swi[i] = f.swi;
        self.swf[i] = f.swf;
        self.snwpk[i] = f.snwpk;
        self.swe[i] = f.swe;
        self.snowmelt[i] = f.snowmelt;
        self.rain[i] = f.rain;
        self.intercept[i] = f.intercept;
        self.srf[i] = f.srf;
        self.dd[i] = f.dd;
        self.etasw[i] = f.etasw;
        self.etasw5[i] = f.etasw5;
        self.etc[i] = f.etc;
        self.netet[i] = f.netet;
    }
}

/// One pixel through one day: the fluxes, or None when the pixel has no output that day (strict mode:
/// invalid statics, a gap in the inputs, or given up after too long a gap). Updates `state`.
#[inline(always)]
pub(crate) fn pixel_day<T: Input>(
    p: &Params,
    o: &Options,
    statics: PixelStatics,
    inputs: PixelInputs,
    state: &mut PixelState,
) -> Option<Flux> {
    let (whc, fc, sat, icpt, water) = statics;
    let (pr, eto, ndvi, tmin, tmax, tavg) = inputs;
    let strict = o.mode == Mode::Strict;
    if strict {
        let statics_ok = [whc, fc, sat, icpt, water].iter().all(|v| v.is_finite());
        if !statics_ok || !state.valid {
            state.valid = false;
            return None;
        }
        if ![pr, eto, ndvi, tmin, tmax, tavg]
            .iter()
            .all(|v| v.is_finite())
        {
            // Hold the state, count the gap, give up on the pixel after too many in a row.
            state.gap_days += 1;
            state.gap_run += 1;
            if state.gap_run > o.max_gap_days {
                state.valid = false;
            }
            return None;
        }
        state.gap_run = 0;
    }
    let f = flux::<T>(
        p,
        o,
        statics,
        inputs,
        (state.swf, state.pack, !state.started),
    );
    state.swf = f.swf;
    state.pack = f.snwpk;
    state.started = true;
    Some(f)
}

/// The day's fluxes of one pixel from its previous soil water, snowpack and whether this is its day 0,
/// written as selects (no branch), so loops over it vectorise.
#[inline(always)]
pub(crate) fn flux<T: Input>(
    p: &Params,
    o: &Options,
    statics: PixelStatics,
    inputs: PixelInputs,
    (swf0, pack0, day0): (f64, f64, bool),
) -> Flux {
    let (whc, fc, sat, icpt, water) = statics;
    let (pr, eto, ndvi, tmin, tmax, tavg) = inputs;
    let strict = o.mode == Mode::Strict;
    // 3.1 interception
    let p_eff = pr * (1.0 - icpt / 100.0);
    let intercept = pr * icpt / 100.0;
    // 3.2 rain fraction
    let (low, high) = (
        T::at_precision(p.rf_low_thresh_temp),
        T::at_precision(p.rf_high_thresh_temp),
    );
    let mut f_rain = if tavg > low && tavg < high {
        p.rf_value * tavg
    } else if tavg >= high {
        1.0
    } else {
        0.0
    };
    if strict && o.clamp_rain_fraction && f_rain > 1.0 {
        f_rain = 1.0;
    }
    let rain = f_rain * p_eff;
    let (snow, melt, pack, swi) = if day0 {
        // 3.10: no snow partition on day 0; all effective precipitation enters the soil.
        let swi0 = 0.5 * whc + p_eff;
        (0.0, 0.0, 0.0, if swi0 < 0.0 { f64::NAN } else { swi0 })
    } else {
        let snow = (1.0 - f_rain) * p_eff;
        // 3.3 melt
        let mut m_pot = match o.melt_formula {
            MeltFormula::V2021 => {
                let tmin_c = if tmin < 0.0 { 0.0 } else { tmin };
                if tavg > low {
                    p.melt_factor * tmax * (tmax - tmin_c)
                } else {
                    0.0
                }
            }
            MeltFormula::V2020Typo => p.melt_factor * (tmax * tmax - (tmax - tmin)),
            MeltFormula::V2014 => p.melt_factor * (tmax * tmax - tmax * tmin),
        };
        if strict && o.clamp_melt && m_pot < 0.0 {
            m_pot = 0.0;
        }
        let available = snow + pack0;
        let melt = if m_pot <= available { m_pot } else { available };
        let pack = floor0(pack0 + snow - melt);
        (snow, melt, pack, swf0 + rain + melt)
    };
    // 3.6 runoff
    let r = {
        let x = swi - whc;
        if x >= 0.0 {
            x
        } else {
            0.0
        }
    };
    let dmax = sat - fc;
    let srf = if r <= dmax {
        p.rf_coeff * r
    } else {
        (r - dmax) + p.rf_coeff * dmax
    };
    // 3.7 ET
    let eto_bc = p.bias_corr * eto;
    let kcp = if ndvi > T::at_precision(0.4) {
        p.k_factor * ndvi + p.ndvi_factor
    } else {
        p.k_factor * ndvi
    };
    let e1 = kcp * eto_bc;
    let ks = if swi > 0.5 * whc {
        1.0
    } else {
        swi / (0.5 * whc)
    };
    let e3 = ks * e1;
    let e4 = if e3 > swi { swi } else { e3 };
    let e5 = if e4 > whc { whc } else { e4 };
    let water_rule = o.water_rule && (water == 1.0 || ndvi < 0.0);
    let water_var = p.water_factor * p.bias_corr * p.alfa_factor;
    let eta = if water_rule { water_var * eto } else { e5 };
    let etc = (p.k_factor * ndvi + p.ndvi_factor) * eto_bc;
    // 3.9 final soil water
    let mut swf = if swi > whc {
        whc - eta
    } else {
        floor0(swi - eta)
    };
    if strict && o.clamp_water_swf && water_rule {
        // Clamped to [0, WHC] (as f64::clamp, without its panic on a negative WHC).
        let lo = if swf < 0.0 { 0.0 } else { swf };
        swf = if lo > whc { whc } else { lo };
    }
    Flux {
        swi,
        swf,
        snwpk: pack,
        swe: snow,
        snowmelt: melt,
        rain,
        intercept,
        srf,
        dd: r - srf,
        etasw: eta,
        etasw5: e5,
        etc,
        netet: floor0(etc - eta),
    }
}

#[cfg(test)]
mod tests;
