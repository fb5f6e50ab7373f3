//! Landsat Collection 2 L2 `_SR_stac.json` sidecars in the layout of `s3://usgs-landsat`, generated
//! deterministically: the benchmark workload of the anchors spec (item i → path/row, date, grid).
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

/// Days from 1970-01-01 to a civil date (proleptic Gregorian), and back; enough for item dates.
pub(crate) fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719468;
    let era = z.div_euclid(146097);
    let doe = z.rem_euclid(146097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Deterministic pseudo-random fraction in [0, 1) for item `i` (xorshift of the index).
pub(crate) fn fraction(i: u64) -> f64 {
    let mut x = i.wrapping_mul(0x9E3779B97F4A7C15) ^ 0xD1B54A32D192ED03;
    x ^= x >> 33;
    x = x.wrapping_mul(0xFF51AFD7ED558CCD);
    x ^= x >> 33;
    (x >> 11) as f64 / (1u64 << 53) as f64
}

/// The benchmark item `i`: its key under the lake root and its JSON (`self` link under `base_url`).
pub fn bench_item(i: usize, base_url: &str) -> (String, Value) {
    let path = 30 + (i % 20);
    let row = 30 + ((i / 20) % 20);
    let days_2020 = 18262; // 2020-01-01
    let (y, m, d) = civil_from_days(days_2020 + 16 * (i as i64 / 400) + (i as i64 % 16));
    let date = format!("{y:04}{m:02}{d:02}");
    let id = format!("LC08_L2SP_{path:03}{row:03}_{date}_{date}_02_T1");
    let key = format!(
        "collection02/level-2/standard/oli-tirs/{y:04}/{path:03}/{row:03}/{id}/{id}_SR_stac.json"
    );
    let transform = json!([
        30.0,
        0.0,
        300000 + 1000 * (i % 7),
        0.0,
        -30.0,
        4000000 + 1000 * (i % 5)
    ]);
    let asset = |suffix: &str| {
        json!({
            "href": format!("{id}_{suffix}.TIF"),
            "type": "image/tiff; application=geotiff; profile=cloud-optimized",
            "roles": ["data"],
            "proj:shape": [7801, 7701],
            "proj:transform": transform,
            "proj:epsg": 32613,
        })
    };
    let item = json!({
        "type": "Feature",
        "stac_version": "1.0.0",
        "stac_extensions": [
            "https://stac-extensions.github.io/projection/v1.0.0/schema.json",
            "https://stac-extensions.github.io/eo/v1.0.0/schema.json"
        ],
        "id": id,
        "collection": "ls8_c2l2_sr",
        "bbox": [-106.0, 36.0, -103.0, 38.5],
        "geometry": {"type": "Polygon", "coordinates": [[[-106.0, 36.0], [-103.0, 36.0], [-103.0, 38.5], [-106.0, 38.5], [-106.0, 36.0]]]},
        "properties": {
            "datetime": format!("{y:04}-{m:02}-{d:02}T17:30:00Z"),
            "platform": "LANDSAT_8",
            "instruments": ["oli", "tirs"],
            "eo:cloud_cover": fraction(i as u64) * 100.0,
            "proj:epsg": 32613,
            "landsat:wrs_path": format!("{path:03}"),
            "landsat:wrs_row": format!("{row:03}"),
            "odc:product": "ls8_c2l2_sr",
        },
        "links": [{"rel": "self", "href": format!("{}/{key}", base_url.trim_end_matches('/'))}],
        "assets": {"red": asset("SR_B4"), "nir08": asset("SR_B5"), "qa_pixel": asset("QA_PIXEL")},
    });
    (key, item)
}

/// Writes items `0..n` under `root` (with `self` links as `file://` URIs) and returns their paths.
pub fn write_bench_items(root: &Path, n: usize) -> std::io::Result<Vec<PathBuf>> {
    let base = format!("file://{}", root.display());
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let (key, item) = bench_item(i, &base);
        let p = root.join(&key);
        std::fs::create_dir_all(p.parent().expect("key has directories"))?;
        std::fs::write(&p, serde_json::to_vec_pretty(&item).expect("JSON"))?;
        out.push(p);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn item_zero_matches_the_spec_example() {
        let (key, item) = bench_item(0, "file://<lake>");
        let example: Value = serde_json::from_str(include_str!(
            "../../tests/fixtures/bench-landsat-sr-stac-item.example.json"
        ))
        .unwrap();
        let mut ours = item.clone();
        // The example's cloud cover came from another generator; everything else must be equal.
        ours["properties"]["eo:cloud_cover"] = example["properties"]["eo:cloud_cover"].clone();
        assert_eq!(ours, example);
        assert!(key.ends_with("2020/030/030/LC08_L2SP_030030_20200101_20200101_02_T1/LC08_L2SP_030030_20200101_20200101_02_T1_SR_stac.json"));
        assert_eq!(civil_from_days(18262 + 16 * 4 + 15), (2020, 3, 20));
    }

    #[test]
    fn ids_are_unique_over_the_workload() {
        let mut ids: Vec<String> = (0..2000)
            .map(|i| bench_item(i, "x").1["id"].as_str().unwrap().to_string())
            .collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 2000);
    }
}
