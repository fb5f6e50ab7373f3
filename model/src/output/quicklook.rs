//! PNG quicklooks: one layer scaled up to a readable size, coloured between its 2nd and 98th
//! percentiles, with a title and a labelled colour bar, written with GDAL's PNG driver.
use super::font;
use crate::{Error, Result};
use gdal::raster::Buffer;
use gdal::DriverManager;
use std::path::Path;

/// Colour scales.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Palette {
    /// Perceptually uniform dark blue → green → yellow (matplotlib's viridis, 9 stops).
    Viridis,
    /// Brown → yellow → green, for vegetation indices.
    Ndvi,
}

impl Palette {
    fn stops(self) -> &'static [[u8; 3]] {
        match self {
            Palette::Viridis => &[
                [68, 1, 84],
                [72, 40, 120],
                [62, 74, 137],
                [49, 104, 142],
                [38, 130, 142],
                [31, 158, 137],
                [53, 183, 121],
                [110, 206, 88],
                [253, 231, 37],
            ],
            Palette::Ndvi => &[
                [140, 81, 10],
                [216, 179, 101],
                [246, 232, 195],
                [127, 188, 65],
                [26, 120, 52],
                [0, 68, 27],
            ],
        }
    }

    /// Colour of `f` in [0, 1].
    fn at(self, f: f64) -> [u8; 3] {
        let s = self.stops();
        let x = f.clamp(0.0, 1.0) * (s.len() - 1) as f64;
        let (i, w) = (x.floor() as usize, x.fract());
        let j = (i + 1).min(s.len() - 1);
        let mix = |k: usize| (s[i][k] as f64 * (1.0 - w) + s[j][k] as f64 * w).round() as u8;
        [mix(0), mix(1), mix(2)]
    }
}

const GREY: [u8; 3] = [215, 215, 215];
const INK: [u8; 3] = [20, 20, 20];

fn label(v: f64) -> String {
    let a = v.abs();
    if a >= 100.0 || v == 0.0 {
        format!("{v:.0}")
    } else if a >= 1.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.3}")
    }
}

/// Writes a quicklook of a `width` × `height` layer (row-major) and returns the image size. An
/// all-nodata layer is drawn grey with the bar labelled "no data".
pub fn write_png(
    path: &Path,
    values: &[f64],
    width: usize,
    height: usize,
    nodata: Option<f64>,
    title: &str,
    palette: Palette,
) -> Result<(usize, usize)> {
    let fail = |m: String| Error::Write {
        path: path.display().to_string(),
        message: m,
    };
    if width == 0 || height == 0 || values.len() != width * height {
        return Err(fail(format!(
            "{} values for a {width}×{height} grid",
            values.len()
        )));
    }
    let valid = |v: f64| v.is_finite() && nodata != Some(v);
    let mut sorted: Vec<f64> = values.iter().copied().filter(|&v| valid(v)).collect();
    sorted.sort_by(f64::total_cmp);
    let (lo, hi) = match sorted.len() {
        0 => (0.0, 0.0),
        n => (sorted[(n - 1) * 2 / 100], sorted[(n - 1) * 98 / 100]),
    };
    // Integer zoom so the longer side reaches ~400 px; integer step down when over ~1000 px.
    let long = width.max(height);
    let (zoom, step) = if long < 400 {
        (400usize.div_ceil(long), 1)
    } else {
        (1, long.div_ceil(1000))
    };
    let (mw, mh) = (width.div_ceil(step) * zoom, height.div_ceil(step) * zoom);
    let scale = 2;
    let margin = 10;
    let iw = (mw + 2 * margin).max(font::text_width(title, scale) + 2 * margin);
    let (title_h, bar_h, labels_h) = (7 * scale + 2 * margin, 16, 7 * scale + margin);
    let ih = title_h + mh + margin + bar_h + 4 + labels_h;
    let mut rgb = vec![[255u8; 3]; iw * ih];
    font::draw(&mut rgb, iw, margin, margin, title, scale, INK);
    let (ox, oy) = (margin, title_h);
    for y in 0..mh {
        for x in 0..mw {
            let v = values
                [(y / zoom * step).min(height - 1) * width + (x / zoom * step).min(width - 1)];
            rgb[(oy + y) * iw + ox + x] = if !valid(v) {
                GREY
            } else if hi > lo {
                palette.at((v - lo) / (hi - lo))
            } else {
                palette.at(0.5)
            };
        }
    }
    let by = oy + mh + margin;
    let bw = mw.max(200).min(iw - 2 * margin);
    for x in 0..bw {
        let c = palette.at(x as f64 / (bw - 1).max(1) as f64);
        for y in 0..bar_h {
            rgb[(by + y) * iw + ox + x] = c;
        }
    }
    let ly = by + bar_h + 4;
    if sorted.is_empty() {
        font::draw(&mut rgb, iw, ox, ly, "no data", scale, INK);
    } else {
        let (a, m, b) = (label(lo), label((lo + hi) / 2.0), label(hi));
        font::draw(&mut rgb, iw, ox, ly, &a, scale, INK);
        let mx = (ox + bw / 2).saturating_sub(font::text_width(&m, scale) / 2);
        font::draw(&mut rgb, iw, mx, ly, &m, scale, INK);
        let bx = (ox + bw).saturating_sub(font::text_width(&b, scale));
        font::draw(&mut rgb, iw, bx, ly, &b, scale, INK);
    }
    let g = |e: gdal::errors::GdalError| fail(e.to_string());
    let mem = DriverManager::get_driver_by_name("MEM")
        .and_then(|d| d.create_with_band_type::<u8, _>("", iw, ih, 3))
        .map_err(g)?;
    for k in 0..3 {
        let band: Vec<u8> = rgb.iter().map(|p| p[k]).collect();
        mem.rasterband(k + 1)
            .and_then(|mut b| b.write((0, 0), (iw, ih), &mut Buffer::new((iw, ih), band)))
            .map_err(g)?;
    }
    let png = DriverManager::get_driver_by_name("PNG").map_err(g)?;
    mem.create_copy(&png, path, &gdal::cpl::CslStringList::new())
        .map_err(g)?;
    Ok((iw, ih))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn png_size_matches_and_edge_cases_draw() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.png");
        let v: Vec<f64> = (0..30 * 20)
            .map(|i| if i % 9 == 0 { f64::NAN } else { i as f64 })
            .collect();
        let (w, h) = write_png(
            &p,
            &v,
            30,
            20,
            Some(f64::NAN),
            "ETa 2020 (mm)",
            Palette::Viridis,
        )
        .unwrap();
        let ds = gdal::Dataset::open(&p).unwrap();
        assert_eq!(ds.driver().short_name(), "PNG");
        assert_eq!(ds.raster_count(), 3);
        assert_eq!(ds.raster_size(), (w, h));
        assert!(w >= 400 && h > 300, "{w}×{h}");
        for (vals, name) in [(vec![3.0; 4], "const"), (vec![-1.0; 4], "nodata")] {
            let q = dir.path().join(format!("{name}.png"));
            write_png(&q, &vals, 2, 2, Some(-1.0), name, Palette::Ndvi).unwrap();
        }
        write_png(
            &dir.path().join("one.png"),
            &[1.0],
            1,
            1,
            None,
            "one",
            Palette::Ndvi,
        )
        .unwrap();
        assert!(write_png(&p, &[1.0], 2, 2, None, "bad", Palette::Ndvi).is_err());
    }
}
