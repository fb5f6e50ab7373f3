//! How `dc.load` reads a source that is shrunk by 2× or more: odc-geo's read scale, the decimated
//! read window, and whether the decimated pixels are pasted as they are or warped (pure arithmetic).
//!
//! datacube 1.9.20 (`read_time_slice`) first reads the source window decimated by the integer read
//! scale with nearest sampling (GDAL `RasterIO`, which may use overviews), then warps that smaller
//! image — or pastes it when the grids align. Doing the same keeps etlake's pixels equal to dc.load's.

/// An affine map `x' = a·x + b·y + c`, `y' = d·x + e·y + f` (the `affine` package's order).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Affine {
    pub a: f64,
    pub b: f64,
    pub c: f64,
    pub d: f64,
    pub e: f64,
    pub f: f64,
}

impl Affine {
    /// From a GDAL geotransform (pixel → world).
    pub fn from_gdal(gt: [f64; 6]) -> Affine {
        Affine {
            a: gt[1],
            b: gt[2],
            c: gt[0],
            d: gt[4],
            e: gt[5],
            f: gt[3],
        }
    }

    /// `self ∘ o` (apply `o` first).
    pub fn then_after(&self, o: &Affine) -> Affine {
        Affine {
            a: self.a * o.a + self.b * o.d,
            b: self.a * o.b + self.b * o.e,
            c: self.a * o.c + self.b * o.f + self.c,
            d: self.d * o.a + self.e * o.d,
            e: self.d * o.b + self.e * o.e,
            f: self.d * o.c + self.e * o.f + self.f,
        }
    }

    /// The inverse map (None when singular).
    pub fn inverse(&self) -> Option<Affine> {
        let det = self.a * self.e - self.b * self.d;
        if det == 0.0 || !det.is_finite() {
            return None;
        }
        let (a, b, d, e) = (self.e / det, -self.b / det, -self.d / det, self.a / det);
        Some(Affine {
            a,
            b,
            c: -(a * self.c + b * self.f),
            d,
            e,
            f: -(d * self.c + e * self.f),
        })
    }

    /// Scale and translation only (odc-geo's `is_affine_st`).
    fn is_st(&self) -> bool {
        self.b.abs() < 1e-10 && self.d.abs() < 1e-10
    }

    /// The scale part of the rotation · shear · scale decomposition of the linear part (odc-geo's
    /// `decompose_rws`, through the Cholesky factor of AᵀA): (|sx|, |sy|).
    pub fn scales(&self) -> (f64, f64) {
        let sx = self.a.hypot(self.d);
        let sy = if sx > 0.0 {
            (self.a * self.e - self.b * self.d).abs() / sx
        } else {
            0.0
        };
        (sx, sy)
    }
}

/// A window of an image: columns `x0..x1`, rows `y0..y1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub x0: usize,
    pub y0: usize,
    pub x1: usize,
    pub y1: usize,
}

impl Window {
    pub fn width(&self) -> usize {
        self.x1 - self.x0
    }
    pub fn height(&self) -> usize {
        self.y1 - self.y0
    }
    pub fn is_empty(&self) -> bool {
        self.x1 <= self.x0 || self.y1 <= self.y0
    }
    /// Grown by `n` pixels on every side, clipped to (`w`, `h`) (odc-geo's `roi_pad`).
    pub fn pad(&self, n: usize, (w, h): (usize, usize)) -> Window {
        Window {
            x0: self.x0.saturating_sub(n),
            y0: self.y0.saturating_sub(n),
            x1: (self.x1 + n).min(w),
            y1: (self.y1 + n).min(h),
        }
    }
}

/// `x` split into a whole and a fractional part in [−0.5, 0.5] (odc-geo's `split_float`): the whole
/// part is `x` rounded to the nearest integer, halves toward zero (0.5 → 0, −29.5 → −29, 1.5 → 1),
/// unlike `f64::round`, which takes halves away from zero.
fn split_float(x: f64) -> (f64, f64) {
    let mut part = x % 1.0;
    let mut whole = x - part;
    if part > 0.5 {
        part -= 1.0;
        whole += 1.0;
    } else if part < -0.5 {
        part += 1.0;
        whole -= 1.0;
    }
    (whole, part)
}

/// `x` made whole when within `tol` of an integer (odc-geo's `maybe_int`), else unchanged. With
/// datacube's 0.9-pixel tolerance for nearest, a translation of exactly half a decimated pixel (an
/// output grid whose origin falls midway between two source pixels, e.g. 30 m Landsat on a 60 m
/// grid) is snapped toward zero, as odc-geo snaps it.
fn maybe_int(x: f64, tol: f64) -> f64 {
    if !x.is_finite() {
        return x;
    }
    let (whole, part) = split_float(x);
    if part.abs() < tol {
        whole
    } else {
        x
    }
}

/// Whether `x` is within `tol` of an integer (odc-geo's `is_almost_int`).
fn is_almost_int(x: f64, tol: f64) -> bool {
    if !x.is_finite() {
        return false;
    }
    let mut r = (x % 1.0).abs();
    if r > 0.5 {
        r = 1.0 - r;
    }
    r < tol
}

/// The integer shrink factor datacube reads at: 1 below 1, else the scale rounded down unless it is
/// within 1e-3 below an integer.
pub fn read_scale(scale: f64) -> usize {
    if scale.is_nan() || scale < 1.0 {
        return 1;
    }
    maybe_int(scale, 1e-3).floor() as usize
}

/// The slices of one axis where a source of `ns` pixels and a destination of `nd` overlap, for
/// `x_src = x_dst + t` with integer `t` (odc-geo's `compute_axis_overlap` at unit scale).
fn axis_overlap(ns: usize, nd: usize, t: f64) -> ((usize, usize), (usize, usize)) {
    let (ns_f, nd_f) = (ns as f64, nd as f64);
    let (src0, dst0) = if t < 0.0 {
        (0.0, (-t).floor().min(nd_f))
    } else {
        (t.floor().min(ns_f), 0.0)
    };
    let a = (nd_f + t).ceil();
    let (src1, dst1) = if a <= ns_f {
        (a.max(0.0), nd_f)
    } else {
        (ns_f, (ns_f - t).ceil().max(0.0))
    };
    let u = |v: f64| v.max(0.0) as usize;
    ((u(src0), u(src1)), (u(dst0), u(dst1)))
}

/// How one source band is read for a destination grid.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Read {
    /// At full resolution, warped (no shrink of 2× or more).
    Full,
    /// The source window read decimated by `scale` straight into the destination window (aligned
    /// grids).
    Paste {
        scale: usize,
        src: Window,
        dst: Window,
    },
    /// The source window read decimated by `scale`, then warped into the destination window.
    Shrunk {
        scale: usize,
        src: Window,
        dst: Window,
    },
}

/// Decides the read as datacube does. `dst_to_src` maps destination pixels to source pixels: exact
/// when the CRSs are the same (`linear`), else the local linearisation at the destination window's
/// centre. `src_roi`/`dst_roi` are the windows of the full-resolution warp; `nearest` selects
/// datacube's translation tolerance for pasting (0.9 pixel for nearest, 0.01 otherwise).
pub fn plan(
    dst_to_src: &Affine,
    linear: bool,
    src_shape: (usize, usize),
    dst_shape: (usize, usize),
    src_roi: Window,
    dst_roi: Window,
    nearest: bool,
) -> Read {
    let (sx, sy) = dst_to_src.scales();
    let scale = sx.min(sy);
    let rs = read_scale(scale);
    if rs <= 1 {
        return Read::Full;
    }
    let st = linear && dst_to_src.is_st();
    if st {
        if let Some(r) = paste(dst_to_src, scale, rs, src_shape, dst_shape, nearest) {
            return r;
        }
        return Read::Shrunk {
            scale: rs,
            src: src_roi.pad(1, src_shape),
            dst: dst_roi.pad(1, dst_shape),
        };
    }
    Read::Shrunk {
        scale: rs,
        src: src_roi,
        dst: dst_roi,
    }
}

/// The aligned case (odc-geo's `_can_paste` and the overlap of the decimated source with the
/// destination); None when the grids do not align or the window would leave the source.
fn paste(
    a: &Affine,
    scale: f64,
    rs: usize,
    (sw, sh): (usize, usize),
    (dw, dh): (usize, usize),
    nearest: bool,
) -> Option<Read> {
    let ttol = if nearest { 0.9 } else { 0.01 };
    if !is_almost_int(scale, 1e-3) {
        return None;
    }
    let r = rs as f64;
    let (sx, sy, tx, ty) = (a.a / r, a.e / r, a.c / r, a.f / r);
    if sx < 0.0 || sy < 0.0 || (sx - 1.0).abs() > 1e-3 || (sy - 1.0).abs() > 1e-3 {
        return None;
    }
    if !is_almost_int(tx, ttol) || !is_almost_int(ty, ttol) {
        return None;
    }
    let (zw, zh) = (sw.div_ceil(rs), sh.div_ceil(rs));
    let ((sx0, sx1), (dx0, dx1)) = axis_overlap(zw, dw, maybe_int(tx, ttol));
    let ((sy0, sy1), (dy0, dy1)) = axis_overlap(zh, dh, maybe_int(ty, ttol));
    let src = Window {
        x0: sx0 * rs,
        y0: sy0 * rs,
        x1: sx1 * rs,
        y1: sy1 * rs,
    };
    let dst = Window {
        x0: dx0,
        y0: dy0,
        x1: dx1,
        y1: dy1,
    };
    // A window past the source's edge (a partial last decimated pixel) is not read by datacube's
    // reader either; warp the shrunk source instead.
    (src.x1 <= sw && src.y1 <= sh).then_some(Read::Paste {
        scale: rs,
        src,
        dst,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_scale_rounds_down_unless_almost_integer() {
        assert_eq!(read_scale(0.3), 1);
        assert_eq!(read_scale(1.9), 1);
        assert_eq!(read_scale(1.9995), 2);
        assert_eq!(read_scale(2.8), 2);
        assert_eq!(read_scale(8.33), 8);
    }

    #[test]
    fn almost_integers_snap_halves_toward_zero_as_odc_geo() {
        assert_eq!(maybe_int(0.5, 0.9), 0.0);
        assert_eq!(maybe_int(-29.5, 0.9), -29.0);
        assert_eq!(maybe_int(1.5, 0.9), 1.0);
        assert_eq!(maybe_int(-0.7, 0.9), -1.0);
        assert_eq!(maybe_int(2.6, 0.9), 3.0);
        assert_eq!(maybe_int(2.4, 0.01), 2.4);
        assert_eq!(maybe_int(2.9995, 1e-3), 3.0);
    }

    #[test]
    fn half_pixel_offset_paste_snaps_toward_zero() {
        // 300 × 300 Landsat pixels of 30 m from x 470010, y 4400010; a 60 m grid from (468240,
        // 4401240): x_src = 2·x_dst − 59, y_src = 2·y_dst − 41, so −29.5 and −20.5 decimated pixels,
        // which odc-geo snaps to −29 and −20 (datacube 1.9.20 pastes source columns 0..260, rows
        // 0..300 into destination columns 29..159, rows 20..170, odc-geo's ROIs).
        let src = Affine::from_gdal([470_010.0, 30.0, 0.0, 4_400_010.0, 0.0, -30.0]);
        let dst = Affine::from_gdal([468_240.0, 60.0, 0.0, 4_401_240.0, 0.0, -60.0]);
        let a = src.inverse().unwrap().then_after(&dst);
        let full = Window {
            x0: 0,
            y0: 0,
            x1: 159,
            y1: 187,
        };
        assert_eq!(
            plan(&a, true, (300, 300), (159, 187), full, full, true),
            Read::Paste {
                scale: 2,
                src: Window {
                    x0: 0,
                    y0: 0,
                    x1: 260,
                    y1: 300
                },
                dst: Window {
                    x0: 29,
                    y0: 20,
                    x1: 159,
                    y1: 170
                }
            }
        );
    }

    #[test]
    fn scales_of_a_rotated_scaled_map() {
        let t = std::f64::consts::FRAC_PI_6;
        let a = Affine {
            a: 3.0 * t.cos(),
            b: -2.0 * t.sin(),
            c: 0.0,
            d: 3.0 * t.sin(),
            e: 2.0 * t.cos(),
            f: 0.0,
        };
        let (sx, sy) = a.scales();
        assert!(
            (sx - 3.0).abs() < 1e-12 && (sy - 2.0).abs() < 1e-12,
            "{sx} {sy}"
        );
        let back = a.inverse().unwrap().then_after(&a);
        assert!((back.a - 1.0).abs() < 1e-12 && back.b.abs() < 1e-12 && back.c.abs() < 1e-12);
    }

    #[test]
    fn twice_coarser_aligned_grid_is_pasted_from_a_decimated_window() {
        // CHIRPS-like 40 × 20 source at 0.05°, origin (-105, 41); destination 10 × 7 at 0.1° from
        // (-104.9, 40.9): x_src = 2·x_dst + 2, y_src = 2·y_dst + 2.
        let src = Affine::from_gdal([-105.0, 0.05, 0.0, 41.0, 0.0, -0.05]);
        let dst = Affine::from_gdal([-104.9, 0.1, 0.0, 40.9, 0.0, -0.1]);
        let a = src.inverse().unwrap().then_after(&dst);
        let full = Window {
            x0: 0,
            y0: 0,
            x1: 10,
            y1: 7,
        };
        let r = plan(&a, true, (40, 20), (10, 7), full, full, false);
        assert_eq!(
            r,
            Read::Paste {
                scale: 2,
                src: Window {
                    x0: 2,
                    y0: 2,
                    x1: 22,
                    y1: 16
                },
                dst: full
            }
        );
        // Half a source pixel off: no paste with bilinear, a shrunk warp with padded windows.
        let dst = Affine::from_gdal([-104.925, 0.1, 0.0, 40.9, 0.0, -0.1]);
        let a = src.inverse().unwrap().then_after(&dst);
        let r = plan(&a, true, (40, 20), (10, 7), full, full, false);
        assert!(matches!(r, Read::Shrunk { scale: 2, .. }), "{r:?}");
        // Finer than the source: read at full resolution.
        let dst = Affine::from_gdal([-104.9, 0.02, 0.0, 40.9, 0.0, -0.02]);
        let a = src.inverse().unwrap().then_after(&dst);
        assert_eq!(
            plan(&a, true, (40, 20), (10, 7), full, full, true),
            Read::Full
        );
    }
}
