//! A step of a layer made from its datasets' warped slices, in the group's order: each warped value
//! rounded to what the layer's dtype holds (dc.load's arrays are in the product dtype), and the
//! first valid value of each pixel kept. The first slice is written as it is placed, not into a
//! filled step read back; later slices fill the pixels still missing.
use super::Layer;

/// How warped values are rounded to the layer's dtype.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Round {
    /// float64 (or values that are not warped, e.g. a constant default): as they are.
    Keep,
    /// float32.
    F32,
    /// An integer dtype: to the nearest integer.
    Integer,
}

impl Round {
    pub(super) fn of(dtype: &str) -> Round {
        match dtype {
            "float64" => Round::Keep,
            "float32" => Round::F32,
            _ => Round::Integer,
        }
    }
}

impl Round {
    /// `v` rounded (NaN stays NaN).
    pub(super) fn apply(self, v: f64) -> f64 {
        match self {
            Round::Keep => v,
            Round::F32 => v as f32 as f64,
            Round::Integer => integer(v),
        }
    }
}

/// Rounds to an integer: a cast rather than a call to `round` where the value is whole already (NaN
/// stays NaN).
#[inline(always)]
fn integer(v: f64) -> f64 {
    if (v as i64) as f64 != v && !v.is_nan() {
        v.round()
    } else {
        v
    }
}

/// Appends a step from its first dataset's slice: rounded, invalid values the layer's fill.
pub(super) fn place(layer: &mut Layer, values: &[f64], round: Round, fill: f64) {
    let invalid = layer.nodata_test();
    let data = &mut layer.data;
    // One loop per rounding, each monomorphic (so it vectorises).
    fn go(
        data: &mut Vec<f64>,
        values: &[f64],
        r: impl Fn(f64) -> f64,
        invalid: impl Fn(f64) -> bool,
        fill: f64,
    ) {
        data.extend(values.iter().map(|&v| {
            let v = r(v);
            if invalid(v) {
                fill
            } else {
                v
            }
        }))
    }
    match round {
        Round::Keep => go(data, values, |v| v, invalid, fill),
        Round::F32 => go(data, values, |v| v as f32 as f64, invalid, fill),
        Round::Integer => go(data, values, integer, invalid, fill),
    }
}

/// Fills the pixels of the last step still invalid from a later dataset's slice.
pub(super) fn fuse(layer: &mut Layer, values: &[f64], round: Round) {
    let invalid = layer.nodata_test();
    let at = layer.data.len() - values.len();
    fn go(dst: &mut [f64], values: &[f64], r: impl Fn(f64) -> f64, invalid: impl Fn(f64) -> bool) {
        for (d, &v) in dst.iter_mut().zip(values) {
            let v = r(v);
            if invalid(*d) && !invalid(v) {
                *d = v;
            }
        }
    }
    let dst = &mut layer.data[at..];
    match round {
        Round::Keep => go(dst, values, |v| v, invalid),
        Round::F32 => go(dst, values, |v| v as f32 as f64, invalid),
        Round::Integer => go(dst, values, integer, invalid),
    }
}
