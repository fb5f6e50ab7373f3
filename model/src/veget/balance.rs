//! A run's summary figures, shared by the tiles' records (`ledger`) and the outputs that compute them:
//! the area means of each month and the per-pixel water balance check.
use serde::{Deserialize, Serialize};

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
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
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

impl Balance {
    /// The balance of two parts of the grid together.
    pub fn add(&mut self, o: &Balance) {
        self.checked += o.checked;
        self.failed += o.failed;
        self.not_checked += o.not_checked;
        self.max_residual = self.max_residual.max(o.max_residual);
    }
}
