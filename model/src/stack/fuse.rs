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

/// Rounds to the nearest integer, halves away from zero, as `f64::round` (NaN stays NaN), in
/// arithmetic rather than a call: without SSE4.1 `round` is a library call, which a vectorised loop
/// makes for every value (it computes both sides of a branch).
#[inline(always)]
fn integer(v: f64) -> f64 {
    // Beyond 2^52 every f64 is whole (and the cast below would saturate).
    const WHOLE: f64 = 4_503_599_627_370_496.0;
    let t = (v as i64) as f64; // towards zero; NaN gives 0
    let f = v - t; // exact: the fraction of a value below 2^52
    let r = if f >= 0.5 {
        t + 1.0
    } else if f <= -0.5 {
        t - 1.0
    } else {
        t.copysign(v) // -0.3 rounds to -0, as `round` does
    };
    if v.is_nan() || v.abs() >= WHOLE {
        v
    } else {
        r
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

#[cfg(test)]
mod tests {
    use super::integer;

    #[test]
    fn integer_rounds_as_f64_round() {
        let mut values = vec![
            0.0,
            -0.0,
            0.5,
            -0.5,
            1.5,
            -1.5,
            2.5,
            -2.5,
            0.49999999999999994,
            -0.3,
            0.3,
            4000.0,
            3999.5,
            -3999.5,
            1e15 + 0.5,
            4_503_599_627_370_495.5,
            -4_503_599_627_370_495.5,
            4_503_599_627_370_496.0,
            9.3e18,
            -9.3e18,
            1e300,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::MIN_POSITIVE,
            -f64::MIN_POSITIVE,
            32767.4999,
            -32768.5,
        ];
        // And a spread of magnitudes and fractions (a fixed LCG: the same values every run).
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..200_000 {
            x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            let mag = 10f64.powi((x >> 59) as i32 - 8);
            values.push(((x >> 11) as f64 / (1u64 << 53) as f64 - 0.5) * 2.0 * mag);
        }
        for v in values {
            let (a, b) = (integer(v), v.round());
            assert!(a.to_bits() == b.to_bits(), "{v:e}: {a:e} vs {b:e}");
        }
        assert!(integer(f64::NAN).is_nan());
    }
}
