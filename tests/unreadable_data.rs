//! Unreadable data is never read as data: a COG whose header is intact but whose tiles cannot be
//! decoded is indexed (headers only), then `etlake stack` (pasted, decimated, warped, band by band)
//! and `veget run` fail naming the file and the band, instead of returning nodata or zeros.
mod common;
use common::*;
use gdal::Metadata;
use std::io::{Seek, SeekFrom, Write};
use std::path::Path;

/// Rewrites `path` as a DEFLATE COG with 128-pixel tiles (same grid, values and nodata), then
/// overwrites every tile's compressed bytes after the zlib header, leaving the TIFF header and IFD
/// intact: GDAL opens it and reads its metadata, and every tile read fails.
fn corrupt_tiles(path: &Path) {
    let cog = path.with_extension("cog.tif");
    {
        let src = gdal::Dataset::open(path).unwrap();
        let opts = gdal::cpl::CslStringList::from_iter(["COMPRESS=DEFLATE", "BLOCKSIZE=128"]);
        src.create_copy(
            &gdal::DriverManager::get_driver_by_name("COG").unwrap(),
            &cog,
            &opts,
        )
        .unwrap();
    }
    std::fs::rename(&cog, path).unwrap();
    // The tiles of the full resolution and of every overview (decimated reads use overviews).
    let tiles: Vec<(u64, u64)> = {
        let ds = gdal::Dataset::open(path).unwrap();
        let full = ds.rasterband(1).unwrap();
        let mut levels = vec![full];
        let base = ds.rasterband(1).unwrap();
        for i in 0..base.overview_count().unwrap() {
            levels.push(base.overview(i as usize).unwrap());
        }
        let mut t = Vec::new();
        for b in &levels {
            let (w, h) = b.size();
            for y in 0..h.div_ceil(128) {
                for x in 0..w.div_ceil(128) {
                    let item = |k: &str| {
                        b.metadata_item(&format!("{k}_{x}_{y}"), "TIFF")
                            .unwrap()
                            .parse::<u64>()
                            .unwrap()
                    };
                    t.push((item("BLOCK_OFFSET"), item("BLOCK_SIZE")));
                }
            }
        }
        assert!(levels.len() > 1, "the COG has overviews");
        t
    };
    let mut f = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    for (offset, size) in tiles {
        f.seek(SeekFrom::Start(offset + 2)).unwrap();
        f.write_all(&vec![0xA5; size as usize - 2]).unwrap();
    }
    // The header still opens.
    let ds = gdal::Dataset::open(path).unwrap();
    assert_eq!(ds.raster_size(), (300, 300));
}

#[test]
fn unreadable_tiles_fail_stack_and_veget_naming_file_and_band() {
    let pg = cluster_with_products();
    let lake = tempdir();
    sample_lake::lake::write(lake.path(), 3).unwrap();
    let sat = lake.path().join("soil/soil_frontrange_2020_sat.tif");
    corrupt_tiles(&sat);
    let printed = ok(etlake(&pg.url, &["index", lake.path().to_str().unwrap()]));
    assert!(!printed.contains("failed"), "{printed}");
    let file = sat.display().to_string();
    let work = tempdir();
    let out = |n: &str| work.path().join(n).display().to_string();
    // Native grid (one CRS, not shrunk: the index lookup's window read), 2× aligned (pasted from a
    // decimated read), 3× (decimated then warped), reprojected (warped), band by band.
    for (name, crs, res, banded, how) in [
        ("native", "EPSG:32613", "500", false, "window read failed"),
        (
            "aligned-2x",
            "EPSG:32613",
            "1000",
            false,
            "decimated read failed",
        ),
        (
            "coarse",
            "EPSG:32613",
            "1500",
            false,
            "decimated read failed",
        ),
        ("lonlat", "EPSG:4326", "0.01", false, "GDAL warp failed"),
        ("banded", "EPSG:4326", "0.01", true, "GDAL warp failed"),
    ] {
        let path = out(&format!("{name}.nc"));
        let mut args = vec![
            "stack",
            "--product",
            "soil_whc",
            "--measurements",
            "saturation",
            "--bbox",
            "-105.4,39.2,-104.8,39.8",
            "--crs",
            crs,
            "--resolution",
            res,
            "--out",
            &path,
        ];
        if banded {
            args.extend(["--max-memory", "0.000001"]);
        }
        let o = etlake(&pg.url, &args);
        let t = text(&o);
        eprintln!("{name}: {t}");
        assert_eq!(o.status.code(), Some(1), "{name}: {t}");
        assert!(
            t.contains(&file)
                && t.contains("band 1")
                && t.contains("saturation")
                && t.contains(how),
            "{name}: the error names the file and band: {t}"
        );
    }
    // The other measurements of the dataset still read.
    ok(etlake(
        &pg.url,
        &[
            "stack",
            "--product",
            "soil_whc",
            "--measurements",
            "whc",
            "--bbox",
            "-105.4,39.2,-104.8,39.8",
            "--out",
            &out("whc.nc"),
        ],
    ));
    let config = work.path().join("run.yaml");
    std::fs::write(
        &config,
        format!(
            r#"
period: {{start: 2019-10-01, end: 2019-10-03}}
area: {{bbox: [-105.4, 39.2, -104.8, 39.8]}}
grid: {{like: mod13q1_061}}
inputs:
  precipitation: {{product: chirps_v2_daily_p05}}
  eto: {{product: gridmet_pet}}
  ndvi: {{product: mod13q1_061, measurement: ndvi, align: interpolate}}
  tmin: {{product: gridmet_tmmn}}
  tmax: {{product: gridmet_tmmx}}
  whc: {{product: soil_whc, measurement: whc}}
  field_capacity: {{product: soil_whc, measurement: field_capacity}}
  saturation: {{product: soil_whc, measurement: saturation}}
  interception: {{value: 10}}
  water: {{value: 0}}
output: {{dir: {}}}
"#,
            out("veget")
        ),
    )
    .unwrap();
    let o = etlake(
        &pg.url,
        &["veget", "run", "--no-index", config.to_str().unwrap()],
    );
    let t = text(&o);
    eprintln!("veget: {t}");
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(
        t.contains("inputs.saturation") && t.contains(&file) && t.contains("band 1"),
        "veget names the input, file and band: {t}"
    );
}
