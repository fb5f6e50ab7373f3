//! VegET parameters (defaults of the reference `model_param.yml`) and the kernel's mode flags, and
//! their names as a run configuration (and the Python package) gives them.
use crate::{Error, Result};
use std::collections::BTreeMap;

/// Model parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Params {
    /// At or below: all precipitation is snow; also the melt gate (°C).
    pub rf_low_thresh_temp: f64,
    /// At or above: all rain (°C).
    pub rf_high_thresh_temp: f64,
    /// Rain-fraction slope between the thresholds (per °C).
    pub rf_value: f64,
    /// Melt coefficient (mm/day/°C²).
    pub melt_factor: f64,
    /// Surface-runoff share of the drainable excess.
    pub rf_coeff: f64,
    /// NDVI slope of Kcp.
    pub k_factor: f64,
    /// Kcp offset above NDVI 0.4.
    pub ndvi_factor: f64,
    /// Open-water ET as a fraction of alfalfa ET.
    pub water_factor: f64,
    /// Reference-ET bias correction.
    pub bias_corr: f64,
    /// Grass → alfalfa reference conversion (water pixels).
    pub alfa_factor: f64,
}

impl Default for Params {
    fn default() -> Params {
        Params {
            rf_low_thresh_temp: 0.0,
            rf_high_thresh_temp: 6.0,
            rf_value: 0.167,
            melt_factor: 0.06,
            rf_coeff: 0.35,
            k_factor: 1.25,
            ndvi_factor: 0.2,
            water_factor: 0.7,
            bias_corr: 0.85,
            alfa_factor: 1.25,
        }
    }
}

impl Params {
    /// The defaults with `overrides` by name (`melt_factor: 0.05`, …); an unknown name is refused.
    pub fn with_overrides(overrides: &BTreeMap<String, f64>) -> Result<Params> {
        let mut p = Params::default();
        for (k, v) in overrides {
            let slot = match k.as_str() {
                "rf_low_thresh_temp" => &mut p.rf_low_thresh_temp,
                "rf_high_thresh_temp" => &mut p.rf_high_thresh_temp,
                "rf_value" => &mut p.rf_value,
                "melt_factor" => &mut p.melt_factor,
                "rf_coeff" => &mut p.rf_coeff,
                "k_factor" => &mut p.k_factor,
                "ndvi_factor" => &mut p.ndvi_factor,
                "water_factor" => &mut p.water_factor,
                "bias_corr" => &mut p.bias_corr,
                "alfa_factor" => &mut p.alfa_factor,
                o => return Err(Error::Request(format!("params.{o}: not a VegET parameter"))),
            };
            *slot = *v;
        }
        Ok(p)
    }
}

/// Missing-value handling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// Explicit validity, state held over gaps, quirks fixed (default).
    #[default]
    Strict,
    /// The reference's NaN semantics and quirks, for bit-level comparisons.
    Compat,
}

/// Melt formula version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MeltFormula {
    /// 2021: Tmin clamped at 0, gated by Tavg > 0 (the reference).
    #[default]
    V2021,
    /// 2020 cloud version's typo: 0.06·(Tx² − (Tx − Tn)), not gated.
    V2020Typo,
    /// 2014 ArcPy: 0.06·(Tx² − Tx·Tn), not gated, no clamp.
    V2014,
}

/// Kernel options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// Missing-value mode.
    pub mode: Mode,
    /// Melt formula.
    pub melt_formula: MeltFormula,
    /// Apply the water / negative-NDVI ETa rule.
    pub water_rule: bool,
    /// Strict: consecutive gap days after which a pixel becomes invalid.
    pub max_gap_days: u32,
    /// Strict: clamp the rain fraction to [0, 1].
    pub clamp_rain_fraction: bool,
    /// Strict: clamp potential melt to ≥ 0.
    pub clamp_melt: bool,
    /// Strict: clamp SWf to [0, WHC] on water / negative-NDVI pixels.
    pub clamp_water_swf: bool,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            mode: Mode::Strict,
            melt_formula: MeltFormula::V2021,
            water_rule: true,
            max_gap_days: 5,
            clamp_rain_fraction: true,
            clamp_melt: true,
            clamp_water_swf: true,
        }
    }
}

impl Options {
    /// The options of a mode by name: `strict` (the default) or `compat`.
    pub fn for_mode(mode: Option<&str>) -> Result<Options> {
        match mode {
            None | Some("strict") => Ok(Options::default()),
            Some("compat") => Ok(Options::compat()),
            Some(o) => Err(Error::Request(format!("mode {o:?}: use strict or compat"))),
        }
    }

    /// The reference's behaviour: compat mode, no fixes.
    pub fn compat() -> Options {
        Options {
            mode: Mode::Compat,
            clamp_rain_fraction: false,
            clamp_melt: false,
            clamp_water_swf: false,
            ..Options::default()
        }
    }
}
