//! Nearest-neighbour resampling between north-up grids of one CRS by index arithmetic, without
//! GDAL's warper: each destination column and row is mapped once to its source column and row, and
//! the pixels are gathered from one read of the source window. This is what GDAL's nearest kernel
//! computes for such grids (the pixel centre's source pixel, `floor(x + 1e-10)`, source nodata left
//! as the destination's fill), at a fraction of the cost of setting up a warp for every day of a
//! coarse input (gridMET, CHIRPS) on a fine model grid. Used only where the read is not a
//! decimated shrink (fewer than two source pixels per destination pixel), the case `warp` would
//! otherwise hand to GDAL whole.
use super::shrink::read_scale;
use crate::GeoBox;

/// GDAL's nearest kernel takes `floor(x + 1e-10)` of the source pixel coordinate.
const EPS: f64 = 1e-10;

/// Where each destination column or row of a tile samples the source: the source index, or None
/// outside the source.
fn axis(
    origin: f64,
    step: f64,
    n: usize,
    src_origin: f64,
    src_step: f64,
    src_n: usize,
) -> Vec<Option<usize>> {
    (0..n)
        .map(|i| {
            let world = origin + (i as f64 + 0.5) * step;
            let s = (world - src_origin) / src_step;
            if s.is_nan() || s < 0.0 {
                return None;
            }
            let k = (s + EPS).floor();
            (k < src_n as f64).then_some(k as usize)
        })
        .collect()
}

/// Where each column and each row of a destination grid samples a source.
pub(super) struct Lookup {
    cols: Vec<Option<usize>>,
    rows: Vec<Option<usize>>,
}

impl Lookup {
    /// The index maps of `geobox` over a source with geotransform `src_gt` and `src_size` pixels,
    /// when both grids are north-up and the source is not shrunk by 2× or more; None otherwise (then
    /// the general warp applies).
    pub(super) fn new(
        src_gt: [f64; 6],
        src_size: (usize, usize),
        geobox: &GeoBox,
    ) -> Option<Lookup> {
        let g = geobox.gdal_transform();
        let north_up = |t: &[f64; 6]| t[2] == 0.0 && t[4] == 0.0 && t[1] != 0.0 && t[5] != 0.0;
        if !north_up(&src_gt) || !north_up(&g) {
            return None;
        }
        let (sx, sy) = ((g[1] / src_gt[1]).abs(), (g[5] / src_gt[5]).abs());
        if read_scale(sx.min(sy)) > 1 {
            return None;
        }
        Some(Lookup {
            cols: axis(g[0], g[1], geobox.width, src_gt[0], src_gt[1], src_size.0),
            rows: axis(g[3], g[5], geobox.height, src_gt[3], src_gt[5], src_size.1),
        })
    }

    /// The source window the maps reach: (x0, y0, width, height); None when no pixel does.
    pub(super) fn window(&self) -> Option<(usize, usize, usize, usize)> {
        let span = |v: &[Option<usize>]| {
            let (lo, hi) = v
                .iter()
                .flatten()
                .fold((usize::MAX, 0), |(lo, hi), &k| (lo.min(k), hi.max(k)));
            (lo <= hi).then(|| (lo, hi + 1 - lo))
        };
        let (x0, w) = span(&self.cols)?;
        let (y0, h) = span(&self.rows)?;
        Some((x0, y0, w, h))
    }

    /// The destination pixels from `pix`, the source window `window` read whole: each pixel its
    /// source pixel's value where that is valid, `fill` elsewhere.
    pub(super) fn gather(
        &self,
        pix: &[f64],
        (x0, y0, w, _): (usize, usize, usize, usize),
        nodata: Option<f64>,
        fill: f64,
    ) -> Vec<f64> {
        let valid = |v: f64| match nodata {
            None => true,
            Some(n) if n.is_nan() => !v.is_nan(),
            // GDAL's nodata masker compares as ARE_REAL_EQUAL.
            Some(n) => !(v == n || (v - n).abs() < 1e-10 * n.abs()),
        };
        let cols: Vec<Option<usize>> = self.cols.iter().map(|c| c.map(|c| c - x0)).collect();
        let mut out = Vec::with_capacity(cols.len() * self.rows.len());
        for r in &self.rows {
            match r {
                None => out.extend(std::iter::repeat_n(fill, cols.len())),
                Some(r) => {
                    let line = &pix[(r - y0) * w..(r - y0 + 1) * w];
                    out.extend(cols.iter().map(|c| match c {
                        Some(c) if valid(line[*c]) => line[*c],
                        _ => fill,
                    }));
                }
            }
        }
        out
    }

    /// The destination pixels: the source window the maps reach read once from `band` of `ds`,
    /// gathered (source nodata and pixels outside the source `fill`).
    pub(super) fn read(
        &self,
        ds: &gdal::Dataset,
        band: usize,
        nodata: Option<f64>,
        fill: f64,
    ) -> std::result::Result<Vec<f64>, String> {
        let Some(win) = self.window() else {
            return Ok(self.gather(&[], (0, 0, 0, 0), nodata, fill));
        };
        Ok(self.gather(&read_window(ds, band, win)?, win, nodata, fill))
    }
}

/// The source pixels of window (x0, y0, width, height) of `band` of `ds`, as stored.
pub(super) fn read_window(
    ds: &gdal::Dataset,
    band: usize,
    (x0, y0, w, h): (usize, usize, usize, usize),
) -> std::result::Result<Vec<f64>, String> {
    ds.rasterband(band)
        .and_then(|b| b.read_as::<f64>((x0 as isize, y0 as isize), (w, h), (w, h), None))
        .map(|pix| pix.into_shape_and_vec().1)
        .map_err(|e| format!("window read failed: {e}"))
}
