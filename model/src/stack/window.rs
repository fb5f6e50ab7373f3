//! Where a source meets a grid: odc-geo's source and destination windows (ROIs) and dc.load's read
//! plan for them, computed through GDAL's GenImgProj transformer (pixel ↔ pixel).
use super::shrink::{self, Affine, Read, Window};
use super::warp::Resampling;
use crate::GeoBox;
use std::ffi::{c_int, c_void};

/// The source window a grid needs, the destination window it reaches, and how dc.load would read
/// the source for that grid (None when the source does not reach the grid).
pub(super) unsafe fn plan_read(
    gen: *mut c_void,
    src_gt: Option<[f64; 6]>,
    same_crs: bool,
    src_shape: (usize, usize),
    geobox: &GeoBox,
    resampling: Resampling,
) -> Option<(Window, Window, Read)> {
    let dst_shape = (geobox.width, geobox.height);
    let (src_roi, dst_roi) = reproject_roi(gen, src_shape, dst_shape)?;
    // dst pixel → src pixel: exact from the geotransforms in one CRS, else linearised at the centre
    // of the destination window by central differences (odc-geo's `get_scale_at_point`).
    let exact = src_gt
        .filter(|_| same_crs)
        .and_then(|gt| Affine::from_gdal(gt).inverse())
        .map(|s| s.then_after(&Affine::from_gdal(geobox.gdal_transform())));
    let a = match exact {
        Some(a) => a,
        None => {
            let (cx, cy) = (
                (dst_roi.x0 + dst_roi.x1) as f64 / 2.0,
                (dst_roi.y0 + dst_roi.y1) as f64 / 2.0,
            );
            let pts = [
                (cx - 1.0, cy),
                (cx + 1.0, cy),
                (cx, cy - 1.0),
                (cx, cy + 1.0),
            ];
            let p = transform_points(gen, true, &pts);
            if p.len() != 4 {
                return Some((src_roi, dst_roi, Read::Full));
            }
            Affine {
                a: (p[1].0 - p[0].0) / 2.0,
                b: (p[3].0 - p[2].0) / 2.0,
                c: 0.0,
                d: (p[1].1 - p[0].1) / 2.0,
                e: (p[3].1 - p[2].1) / 2.0,
                f: 0.0,
            }
        }
    };
    let read = shrink::plan(
        &a,
        exact.is_some(),
        src_shape,
        dst_shape,
        src_roi,
        dst_roi,
        resampling == Resampling::Nearest,
    );
    Some((src_roi, dst_roi, read))
}

/// Points (pixel, line) through a GenImgProj transformer, dst → src or back; failed points dropped.
unsafe fn transform_points(
    gen: *mut c_void,
    dst_to_src: bool,
    pts: &[(f64, f64)],
) -> Vec<(f64, f64)> {
    let mut x: Vec<f64> = pts.iter().map(|p| p.0).collect();
    let mut y: Vec<f64> = pts.iter().map(|p| p.1).collect();
    let mut z = vec![0.0; pts.len()];
    let mut ok = vec![0 as c_int; pts.len()];
    gdal_sys::GDALGenImgProjTransform(
        gen,
        dst_to_src as c_int,
        pts.len() as c_int,
        x.as_mut_ptr(),
        y.as_mut_ptr(),
        z.as_mut_ptr(),
        ok.as_mut_ptr(),
    );
    (0..pts.len())
        .filter(|&i| ok[i] != 0 && x[i].is_finite() && y[i].is_finite())
        .map(|i| (x[i], y[i]))
        .collect()
}

/// `n` points per side along the edges of the box (x0, y0)–(x1, y1), as odc-geo's `roi_boundary`.
fn boundary(x0: f64, y0: f64, x1: f64, y1: f64, n: usize) -> Vec<(f64, f64)> {
    let lin = |a: f64, b: f64, k: usize| a + (b - a) * k as f64 / (n - 1) as f64;
    (0..n)
        .flat_map(|k| {
            let (x, y) = (lin(x0, x1, k), lin(y0, y1, k));
            [(x, y0), (x, y1), (x0, y), (x1, y)]
        })
        .collect()
}

/// The envelope of points as a window padded by `pad` and clipped to `shape` (odc-geo's
/// `roi_from_points`).
fn envelope(pts: &[(f64, f64)], pad: f64, shape: (usize, usize)) -> Option<Window> {
    if pts.is_empty() {
        return None;
    }
    let (mut lo, mut hi) = ([f64::INFINITY; 2], [f64::NEG_INFINITY; 2]);
    for &(x, y) in pts {
        lo = [lo[0].min(x), lo[1].min(y)];
        hi = [hi[0].max(x), hi[1].max(y)];
    }
    let clip = |v: f64, n: usize| v.clamp(0.0, n as f64) as usize;
    let w = Window {
        x0: clip(lo[0].floor() - pad, shape.0),
        x1: clip(hi[0].ceil() + pad, shape.0),
        y0: clip(lo[1].floor() - pad, shape.1),
        y1: clip(hi[1].ceil() + pad, shape.1),
    };
    (!w.is_empty()).then_some(w)
}

/// odc-geo's reprojection ROIs (5 points per side): the source window the grid needs (padded by
/// one pixel), and the destination window that source window covers.
unsafe fn reproject_roi(
    gen: *mut c_void,
    src: (usize, usize),
    dst: (usize, usize),
) -> Option<(Window, Window)> {
    let dst_edge = boundary(0.0, 0.0, dst.0 as f64, dst.1 as f64, 5);
    let s = envelope(&transform_points(gen, true, &dst_edge), 1.0, src)?;
    let src_edge = boundary(s.x0 as f64, s.y0 as f64, s.x1 as f64, s.y1 as f64, 5);
    let d = envelope(&transform_points(gen, false, &src_edge), 0.0, dst)?;
    Some((s, d))
}
