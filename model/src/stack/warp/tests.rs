//! The warp against GDAL's own: nearest on a finer grid, the index lookup bit for bit, resampling names.
use super::*;
use gdal::raster::Buffer;

fn mem_source(gt: [f64; 6], w: usize, h: usize, data: Vec<f32>, epsg: u32) -> Dataset {
    let mem = DriverManager::get_driver_by_name("MEM").unwrap();
    let mut ds = mem.create_with_band_type::<f32, _>("", w, h, 1).unwrap();
    ds.set_geo_transform(&gt).unwrap();
    // As file drivers return it: x = longitude.
    ds.set_spatial_ref(&super::super::grid::srs(&format!("EPSG:{epsg}")).unwrap())
        .unwrap();
    ds.rasterband(1)
        .unwrap()
        .write((0, 0), (w, h), &mut Buffer::new((w, h), data))
        .unwrap();
    ds
}

#[test]
fn nearest_on_a_finer_grid_repeats_source_pixels_and_fills_outside() {
    let src = mem_source(
        [0.0, 1.0, 0.0, 2.0, 0.0, -1.0],
        2,
        2,
        vec![1.0, 2.0, 3.0, -9.0],
        4326,
    );
    let g = GeoBox::from_bbox("EPSG:4326", [0.0, 0.0, 3.0, 2.0], 0.5, -0.5, None).unwrap();
    let band = SourceBand {
        dataset: &src,
        band: 1,
        nodata: Some(-9.0),
        crs: None,
        shared: None,
    };
    let out = warp(&band, &g, &g, Resampling::Nearest, Some(-1.0), "test").unwrap();
    assert_eq!((g.width, g.height), (6, 4));
    assert_eq!(&out[0..6], &[1.0, 1.0, 2.0, 2.0, -1.0, -1.0]);
    // Source nodata stays nodata (the destination's value).
    assert_eq!(&out[18..24], &[3.0, 3.0, -1.0, -1.0, -1.0, -1.0]);
}

/// The index lookup gives GDAL's warper's pixels, bit for bit, for north-up grids of one CRS:
/// integer and fractional upsampling (with centres exactly on source edges), equal and 1.5×
/// coarser grids, partial and no overlap, grids cut into bands, numeric and NaN nodata, NaN
/// values without nodata, and a non-NaN fill.
#[test]
fn index_lookup_equals_the_gdal_warp() {
    let (w, h) = (37, 23);
    let data: Vec<f32> = (0..w * h)
        .map(|i| match i % 11 {
            3 => -9999.0,
            7 => f32::NAN,
            _ => (i as f32) * 0.37 - 50.0,
        })
        .collect();
    let src = mem_source([-106.0, 0.05, 0.0, 40.5, 0.0, -0.05], w, h, data, 4326);
    let cases: [([f64; 4], f64); 7] = [
        ([-106.0, 39.35, -104.15, 40.5], 0.0025),
        ([-105.95, 38.55, -104.05, 39.95], 0.0025),
        ([-105.93, 39.0, -105.1, 40.3], 0.02),
        ([-106.0, 39.35, -104.15, 40.5], 0.05),
        ([-106.3, 39.1, -105.2, 40.9], 0.075),
        ([-107.0, 39.0, -105.5, 41.0], 1.0 / 24.0),
        ([-100.0, 30.0, -99.0, 31.0], 0.01),
    ];
    for (bbox, res) in cases {
        let whole = GeoBox::from_bbox("EPSG:4326", bbox, res, -res, None).unwrap();
        let half = whole.height / 2;
        for g in [whole.clone(), whole.rows(half, whole.height - half)] {
            for (nodata, fill) in [
                (Some(-9999.0), None),
                (Some(f64::NAN), Some(-1.0)),
                (None, None),
                (None, Some(7.5)),
            ] {
                let band = SourceBand {
                    dataset: &src,
                    band: 1,
                    nodata,
                    crs: None,
                    shared: None,
                };
                let run = |gdal_only| {
                    warp_with(&band, &g, &whole, Resampling::Nearest, fill, "t", gdal_only).unwrap()
                };
                let (fast, gdal) = (run(false), run(true));
                let same = fast
                    .iter()
                    .zip(&gdal)
                    .filter(|(a, b)| a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan()))
                    .count();
                assert_eq!(
                    (fast.len(), same),
                    (gdal.len(), gdal.len()),
                    "{bbox:?} at {res}, rows from {}, nodata {nodata:?}, fill {fill:?}",
                    g.transform[5]
                );
            }
        }
    }
}

#[test]
fn resampling_names_parse_and_unknown_ones_are_refused() {
    assert_eq!("near".parse::<Resampling>().unwrap(), Resampling::Nearest);
    assert_eq!(
        "AVERAGE".parse::<Resampling>().unwrap(),
        Resampling::Average
    );
    let e = "smooth".parse::<Resampling>().unwrap_err().to_string();
    assert!(e.contains("smooth") && e.contains("bilinear"), "{e}");
}
