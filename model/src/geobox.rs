//! A GeoBox: a CRS, a pixel grid (affine transform) and a size — the output grid every input is
//! warped onto. Bounding boxes snap outwards to the resolution's pixel grid, as odc-geo does.
use crate::{Error, Result};

/// Fraction of a pixel within which an edge counts as already on the grid (odc-geo's default `tol`:
/// the grid may be smaller than the box by that much, which absorbs reprojection noise).
const SNAP_TOLERANCE: f64 = 0.01;

/// `v` rounded when it is within the tolerance of a whole number (odc-geo's `maybe_int`).
fn maybe_whole(v: f64) -> f64 {
    let r = v.round();
    if (v - r).abs() < SNAP_TOLERANCE {
        r
    } else {
        v
    }
}

/// An output grid.
#[derive(Debug, Clone, PartialEq)]
pub struct GeoBox {
    /// CRS as text (`EPSG:4326`, a PROJ string or WKT).
    pub crs: String,
    /// Columns.
    pub width: usize,
    /// Rows.
    pub height: usize,
    /// eo3/affine order `[a, b, c, d, e, f]`: x = a·col + b·row + c, y = d·col + e·row + f.
    pub transform: [f64; 6],
}

impl GeoBox {
    /// The smallest grid with pixel size (`res_x`, `res_y`) covering `bbox` = (left, bottom, right, top),
    /// with pixel edges on multiples of the resolution offset by `align` (in CRS units, default 0).
    /// `res_y` is normally negative (north up).
    pub fn from_bbox(
        crs: &str,
        bbox: [f64; 4],
        res_x: f64,
        res_y: f64,
        align: Option<(f64, f64)>,
    ) -> Result<GeoBox> {
        let [left, bottom, right, top] = bbox;
        if res_x.is_nan()
            || res_x <= 0.0
            || !res_x.is_finite()
            || res_y == 0.0
            || !res_y.is_finite()
        {
            return Err(Error::Grid(format!(
                "resolution ({res_x}, {res_y}) must have x > 0 and y ≠ 0"
            )));
        }
        if !(right > left && top > bottom) || bbox.iter().any(|v| !v.is_finite()) {
            return Err(Error::Grid(format!(
                "bbox {bbox:?} must be (left, bottom, right, top) with left < right, bottom < top"
            )));
        }
        let (ax, ay) = align.unwrap_or((0.0, 0.0));
        let snap_down = |v: f64, a: f64, r: f64| maybe_whole((v - a) / r).floor() * r + a;
        let snap_up = |v: f64, a: f64, r: f64| maybe_whole((v - a) / r).ceil() * r + a;
        let x0 = snap_down(left, ax, res_x);
        let x1 = snap_up(right, ax, res_x);
        let ry = res_y.abs();
        let (y_lo, y_hi) = (snap_down(bottom, ay, ry), snap_up(top, ay, ry));
        let width = (((x1 - x0) / res_x).round() as usize).max(1);
        let height = (((y_hi - y_lo) / ry).round() as usize).max(1);
        let y_origin = if res_y < 0.0 { y_hi } else { y_lo };
        Ok(GeoBox {
            crs: crs.to_string(),
            width,
            height,
            transform: [res_x, 0.0, x0, 0.0, res_y, y_origin],
        })
    }

    /// World coordinates of a pixel corner (col, row).
    pub fn corner(&self, col: f64, row: f64) -> (f64, f64) {
        let t = &self.transform;
        (
            t[0] * col + t[1] * row + t[2],
            t[3] * col + t[4] * row + t[5],
        )
    }

    /// Bounds (left, bottom, right, top) of the whole grid.
    pub fn bounds(&self) -> [f64; 4] {
        let (x0, y0) = self.corner(0.0, 0.0);
        let (x1, y1) = self.corner(self.width as f64, self.height as f64);
        [x0.min(x1), y0.min(y1), x0.max(x1), y0.max(y1)]
    }

    /// Rows `first .. first + count` of this grid, as a grid of its own (same columns).
    pub fn rows(&self, first: usize, count: usize) -> GeoBox {
        let (c, f) = self.corner(0.0, first as f64);
        let t = &self.transform;
        GeoBox {
            crs: self.crs.clone(),
            width: self.width,
            height: count.min(self.height.saturating_sub(first)),
            transform: [t[0], t[1], c, t[3], t[4], f],
        }
    }

    /// Rows `row .. row + rows` and columns `col .. col + cols` of this grid, as a grid of its own
    /// (clipped to the grid).
    pub fn window(&self, row: usize, rows: usize, col: usize, cols: usize) -> GeoBox {
        let (c, f) = self.corner(col as f64, row as f64);
        let t = &self.transform;
        GeoBox {
            crs: self.crs.clone(),
            width: cols.min(self.width.saturating_sub(col)),
            height: rows.min(self.height.saturating_sub(row)),
            transform: [t[0], t[1], c, t[3], t[4], f],
        }
    }

    /// GDAL's geotransform order `[c, a, b, f, d, e]`.
    pub fn gdal_transform(&self) -> [f64; 6] {
        let t = &self.transform;
        [t[2], t[0], t[1], t[5], t[3], t[4]]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snaps_outwards_to_the_pixel_grid() {
        let g = GeoBox::from_bbox(
            "EPSG:4326",
            [130.03, -21.01, 131.97, -19.98],
            0.1,
            -0.1,
            None,
        )
        .unwrap();
        assert_eq!((g.width, g.height), (20, 12));
        let b = g.bounds();
        for (got, want) in b.iter().zip([130.0, -21.1, 132.0, -19.9]) {
            assert!((got - want).abs() < 1e-9, "{b:?}");
        }
    }

    #[test]
    fn edges_already_on_the_grid_stay_put() {
        // 0.05° CHIRPS grid: float noise in 130.05 must not add a column.
        let g = GeoBox::from_bbox(
            "EPSG:4326",
            [130.0, -21.0, 130.05 * 1.0 + 1.95, -20.0],
            0.05,
            -0.05,
            None,
        )
        .unwrap();
        assert_eq!((g.width, g.height), (40, 20));
        assert_eq!(g.gdal_transform(), [130.0, 0.05, 0.0, -20.0, 0.0, -0.05]);
    }

    #[test]
    fn alignment_offsets_the_grid_and_bad_input_is_refused() {
        let g = GeoBox::from_bbox(
            "EPSG:32613",
            [500010.0, 4000010.0, 500100.0, 4000100.0],
            30.0,
            -30.0,
            Some((15.0, 15.0)),
        )
        .unwrap();
        assert_eq!(g.transform[2], 495.0 + 499500.0);
        assert!(GeoBox::from_bbox("EPSG:4326", [1.0, 0.0, 0.0, 1.0], 0.1, -0.1, None).is_err());
        assert!(GeoBox::from_bbox("EPSG:4326", [0.0, 0.0, 1.0, 1.0], -0.1, -0.1, None).is_err());
    }
}
