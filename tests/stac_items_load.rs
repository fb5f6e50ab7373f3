//! STAC items a client can load. The sample lake (CHIRPS GeoTIFFs, half of them gzipped; gridMET's
//! yearly NetCDF; MODIS HDF-EOS2; Landsat COGs from USGS's items) is indexed, its items put back in the
//! shape etlake schema 1 stored (no `collection`, no `bands`, whole-file hrefs) and the schema marked
//! version 1; `etlake db init` upgrades it. Then, through `etlake serve` and pystac-client:
//! - items and collections validate with pystac 1.15 against the STAC 1.1 schemas and the projection
//!   v2 / raster v1.1 extension schemas and PROJJSON's (vendored in tests/fixtures/stac-schemas: no network);
//! - `odc.stac.load` (odc-stac 0.5.3, no `stac_cfg`) of the Landsat, CHIRPS and gridMET items equals
//!   `dc.load` (datacube 1.9.20) on the same grid: dtype, pixels, x/y coordinates; times exactly for
//!   Landsat and to the day for daily products (dc.load stamps a dataset's time range by its middle,
//!   odc-stac by the item's `datetime`, which is eo3's, the start);
//! - the MOD13Q1 and gridMET asset hrefs open in GDAL as the one layer and day they name.
mod common;
use common::*;
use std::io::BufRead;
use std::process::{Command, Stdio};

/// `etlake serve` on a free loopback port, killed when dropped.
struct Server {
    child: std::process::Child,
    base: String,
}

impl Server {
    fn start(url: &catalog_schema::DbUrl) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_etlake"))
            .arg("--db")
            .arg(url.python_url())
            .args(["serve", "--bind", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let base = line
            .strip_prefix("listening on ")
            .and_then(|l| l.split_whitespace().next())
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_string();
        Server { child, base }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Puts every stored item back in the shape etlake schema 1 wrote: no `collection`, no links, assets
/// without `bands` and `title`, hrefs of gzipped files and of layers the whole file (the location),
/// eo3's `eo:platform` and no STAC common metadata; and the schema marked version 1.
const DOWNGRADE: &str = r#"
UPDATE etlake.stac_item s SET item = jsonb_set(
    (s.item - 'collection') || jsonb_build_object('links', '[]'::jsonb),
    '{assets}',
    (SELECT jsonb_object_agg(k, (v - 'bands' - 'title') || jsonb_build_object('href',
        CASE WHEN v->>'href' LIKE 'file://%' OR v->>'href' LIKE 's3://%' OR v->>'href' LIKE 'http%' THEN v->>'href'
             ELSE (SELECT l.uri_scheme || ':' || l.uri_body FROM agdc.dataset_location l
                    WHERE l.dataset_ref = s.dataset_ref LIMIT 1) END))
     FROM jsonb_each(s.item->'assets') e(k, v)))
    #- '{properties,platform}' #- '{properties,instruments}' #- '{properties,odc:file_format}';
UPDATE etlake.schema_version SET version = 1;
"#;

/// Takes away what etlake schema 3 added (the items' time and box columns and their indexes).
const V2_COLUMNS: &str = r#"
ALTER TABLE etlake.stac_item DROP COLUMN datetime, DROP COLUMN start_datetime, DROP COLUMN end_datetime,
    DROP COLUMN bbox_w, DROP COLUMN bbox_s, DROP COLUMN bbox_e, DROP COLUMN bbox_n;
"#;

/// Through the API: validation, odc.stac.load against dc.load, and the hrefs for GDAL to try.
const CLIENT: &str = r#"
import json, os, warnings
warnings.filterwarnings("ignore")
import numpy as np
import pystac
import datacube
import odc.stac
from pystac_client import Client
from pystac.validation import JsonSchemaSTACValidator, set_validator

base, schemas = os.environ["STAC_BASE"], os.environ["STAC_SCHEMAS"]
client = Client.open(base)
queries = {
    "chirps_v2_daily_p05": None,
    "ls8_c2l2_sr": None,
    "gridmet_pr": "2019-10-01T00:00:00Z/2019-10-03T23:59:59Z",
    "mod13q1_061": None,
}
found = {p: list(client.search(collections=[p], datetime=t, limit=100).items()) for p, t in queries.items()}
collections = [client.get_collection(p) for p in queries]
for p, items in found.items():
    assert items, p
    print("FOUND", p, len(items))

# pystac's own STAC 1.1 schemas; the extension schemas from the vendored files; nothing fetched.
PROJ = "https://stac-extensions.github.io/projection/v2.0.0/schema.json"
RASTER = "https://stac-extensions.github.io/raster/v1.1.0/schema.json"
validator = JsonSchemaSTACValidator()
for name, uri in [("extensions/projection-v2.0.0.json", PROJ), ("extensions/raster-v1.1.0.json", RASTER),
                  ("proj/projjson-v0.7.json", "https://proj.org/schemas/v0.7/projjson.schema.json")]:
    with open(os.path.join(schemas, name)) as f:
        validator.schema_cache[uri] = json.load(f)
class Offline(pystac.stac_io.DefaultStacIO):
    def read_text_from_href(self, href):
        raise RuntimeError(f"schema {href} is not vendored in {schemas}")
pystac.StacIO.set_default(Offline)
set_validator(validator)
n = 0
for p, items in found.items():
    for item in items:
        used = item.validate()
        assert PROJ in used and RASTER in used, used
        assert item.collection_id == p, item.collection_id
        for name, a in item.assets.items():
            assert a.roles == ["data"] and a.media_type, (name, a.to_dict())
            assert a.to_dict()["bands"][0]["name"] == name, a.to_dict()
        n += 1
for c in collections:
    c.validate()
print("VALID items", n, "collections", len(collections))
# Half of the CHIRPS days arrive gzipped: GDAL reads them through /vsigzip/.
assert sorted(i.assets["precip"].href.split("//")[0] for i in found["chirps_v2_daily_p05"]) == ["/vsigzip", "file:"], \
    [i.assets["precip"].href for i in found["chirps_v2_daily_p05"]]

dc = datacube.Datacube()
def same(product, bands, exact_time, **kw):
    items = found[product]
    ref = dc.load(product=product, measurements=bands, **kw)
    got = odc.stac.load(items, bands=bands, geobox=ref.odc.geobox)
    for b in bands:
        r, g = ref[b], got[b]
        assert r.dtype == g.dtype, (product, b, r.dtype, g.dtype)
        assert r.dims == g.dims and r.shape == g.shape, (product, b, r.dims, g.dims, r.shape, g.shape)
        nodata = r.attrs.get("nodata")
        assert (r.values != nodata).any(), f"{product} {b}: dc.load read nodata only"
        assert np.array_equal(r.values, g.values, equal_nan=True), f"{product} {b}: pixels differ"
        for d in r.dims[1:]:
            assert np.array_equal(r[d].values, g[d].values), (product, d)
    t_ref, t_got = ref.time.values, got.time.values
    if not exact_time:
        t_ref, t_got = t_ref.astype("datetime64[D]"), t_got.astype("datetime64[D]")
    assert np.array_equal(t_ref, t_got), (product, ref.time.values, got.time.values)
    print("SAME", product, ",".join(bands), dict(ref.sizes), ref[bands[0]].dtype)
same("ls8_c2l2_sr", ["red", "nir08"], True, output_crs="EPSG:32613", resolution=(-30, 30))
same("chirps_v2_daily_p05", ["precip"], False)
same("gridmet_pr", ["pr"], False, time=("2019-10-01", "2019-10-03"))

# For GDAL to open: the day of the yearly gridMET file, the layer of the MODIS file.
for p, asset in [("gridmet_pr", "pr"), ("mod13q1_061", "ndvi")]:
    item = sorted(found[p], key=lambda i: i.datetime)[-1]
    a = item.assets[asset]
    print("HREF " + json.dumps({"product": p, "href": a.get_absolute_href(),
          "shape": item.properties["proj:shape"], "datetime": item.properties["datetime"]}))
"#;

#[test]
fn served_items_load_in_odc_stac_as_dc_load_reads_them() {
    let pg = cluster_with_products();
    let lake = tempdir();
    sample_lake::lake::write(lake.path(), 2).unwrap();
    let root = lake.path().to_str().unwrap();
    // USGS's items point at landsatlook.usgs.gov; here the scenes are in the lake.
    let rewrite = format!("https://landsatlook.usgs.gov/data/=file://{root}/");
    // The families read here (not the other three gridMET variables: 1,095 more datasets).
    let sources = [
        "CHIRPS-2.0",
        "gridmet/pr_2019.nc",
        "MOD13Q1.061",
        "collection02",
    ]
    .map(|s| format!("{root}/{s}"));
    let mut args = vec!["index", "--href-rewrite", &rewrite];
    args.extend(sources.iter().map(String::as_str));
    ok(etlake(&pg.url, &args));
    let stored = |url: &catalog_schema::DbUrl| {
        rows(
            url,
            "SELECT dataset_ref::text || ' ' || item::text FROM etlake.stac_item ORDER BY 1",
        )
    };
    let fresh = stored(&pg.url);
    assert_eq!(
        fresh.len(),
        2 + 365 + 2 + 4,
        "CHIRPS, gridMET pr, MODIS, Landsat SR+ST"
    );

    // An index written by schema 1 is upgraded by `db init` to exactly what indexing writes now.
    connect(&pg.url)
        .batch_execute(&format!("{DOWNGRADE}{V2_COLUMNS}"))
        .unwrap();
    let old = stored(&pg.url);
    let changed = old.iter().zip(&fresh).filter(|(a, b)| a != b).count();
    assert_eq!(
        changed,
        fresh.len(),
        "the downgrade should change every item"
    );
    let check = etlake(&pg.url, &["db", "check"]);
    assert!(!check.status.success());
    assert!(
        text(&check).contains("version 1, older than 3 (run `etlake db init` to upgrade)"),
        "{}",
        text(&check)
    );
    let init = ok(etlake(&pg.url, &["db", "init"]));
    assert!(
        init.contains(&format!(
            "upgraded from version 1 to 3: {} STAC items rewritten",
            fresh.len()
        )),
        "{init}"
    );
    assert_eq!(stored(&pg.url), fresh);
    ok(etlake(&pg.url, &["db", "check"]));
    assert!(ok(etlake(&pg.url, &["db", "init"])).contains("etlake schema: present\n"));

    // An index of schema 2 (items loadable, no time and box columns): the server refuses it with the
    // fix; `db init` adds the columns (computed from the stored items) and rewrites no item.
    connect(&pg.url)
        .batch_execute(&format!(
            "{V2_COLUMNS} UPDATE etlake.schema_version SET version = 2 WHERE version = 3;"
        ))
        .unwrap();
    let refused = etlake(&pg.url, &["serve", "--bind", "127.0.0.1:0"]);
    assert!(!refused.status.success());
    assert!(
        text(&refused).contains(
            "has etlake schema version 2, the server needs version 3: run `etlake db init`"
        ),
        "{}",
        text(&refused)
    );
    let init = ok(etlake(&pg.url, &["db", "init"]));
    assert!(
        init.contains("upgraded from version 2 to 3: 0 STAC items rewritten"),
        "{init}"
    );
    assert_eq!(stored(&pg.url), fresh);
    assert_eq!(
        rows(
            &pg.url,
            "SELECT count(*)::text FROM etlake.stac_item WHERE datetime IS NULL OR start_datetime > end_datetime \
             OR bbox_w IS NULL OR bbox_w > bbox_e OR bbox_s > bbox_n \
             OR datetime <> (coalesce(item#>>'{properties,datetime}', item#>>'{properties,start_datetime}'))::timestamptz"
        ),
        ["0"]
    );
    // The time column's reading of a datetime does not depend on the session's time zone: an offset
    // is honoured, no offset is UTC, and text that is not a date-time is NULL (indexing goes on).
    let mut c = connect(&pg.url);
    c.batch_execute("SET TimeZone = 'America/Denver'").unwrap();
    let got: Vec<Option<String>> = c
        .query_one(
            "SELECT to_char(etlake.stac_time('2020-01-01T10:00:00') AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI'), \
                    to_char(etlake.stac_time('2020-01-01T10:00:00+05:00') AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI'), \
                    to_char(etlake.stac_time('2020-01-01') AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI'), \
                    etlake.stac_time('yesterday')::text, etlake.stac_time('now')::text",
            &[],
        )
        .map(|r| (0..5).map(|i| r.get(i)).collect())
        .unwrap();
    assert_eq!(
        got,
        [
            Some("2020-01-01 10:00".to_string()),
            Some("2020-01-01 05:00".to_string()),
            Some("2020-01-01 00:00".to_string()),
            None,
            None
        ]
    );

    let server = Server::start(&pg.url);
    let home = tempdir();
    let mut cmd = Command::new(venv().join("bin/python"));
    clean_env(&mut cmd, home.path());
    let out = ok(cmd
        .current_dir(home.path())
        .env("ODC_DEFAULT_DB_URL", pg.url.python_url())
        .env("STAC_BASE", &server.base)
        .env("STAC_SCHEMAS", reference("stac-schemas"))
        .args(["-c", CLIENT])
        .output()
        .unwrap());
    eprintln!("{out}");
    assert!(out.contains("FOUND chirps_v2_daily_p05 2\n"), "{out}");
    assert!(out.contains("FOUND ls8_c2l2_sr 2\n"), "{out}");
    assert!(out.contains("FOUND gridmet_pr 3\n"), "{out}");
    assert!(out.contains("VALID items 9 collections 4"), "{out}");
    for p in [
        "ls8_c2l2_sr red,nir08",
        "chirps_v2_daily_p05 precip",
        "gridmet_pr pr",
    ] {
        assert!(out.contains(&format!("SAME {p} ")), "{out}");
    }

    // GDAL opens the hrefs as the layer and the day they name.
    for line in out.lines().filter_map(|l| l.strip_prefix("HREF ")) {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let href = v["href"].as_str().unwrap();
        let shape = (
            v["shape"][0].as_u64().unwrap() as usize,
            v["shape"][1].as_u64().unwrap() as usize,
        );
        let ds =
            gdal::Dataset::open(href).unwrap_or_else(|e| panic!("GDAL cannot open {href}: {e}"));
        assert_eq!(ds.raster_count(), 1, "{href}");
        assert_eq!(ds.raster_size(), (shape.1, shape.0), "{href}");
        let band = ds.rasterband(1).unwrap();
        let (direct, band_no) = match v["product"].as_str().unwrap() {
            "gridmet_pr" => {
                // The last item of the search is 2019-10-03, day 276 of the yearly file.
                assert!(
                    v["datetime"].as_str().unwrap().starts_with("2019-10-03"),
                    "{v}"
                );
                assert!(
                    href.starts_with("vrt://NETCDF:\"")
                        && href.ends_with(":precipitation_amount?bands=276"),
                    "{href}"
                );
                (
                    format!("NETCDF:\"{root}/gridmet/pr_2019.nc\":precipitation_amount"),
                    276,
                )
            }
            _ => {
                assert!(
                    href.starts_with("vrt://HDF4_EOS:EOS_GRID:\"")
                        && href.ends_with("\"250m 16 days NDVI\""),
                    "{href}"
                );
                (href.strip_prefix("vrt://").unwrap().to_string(), 1)
            }
        };
        let whole = gdal::Dataset::open(&direct).unwrap();
        let expected = whole.rasterband(band_no).unwrap();
        let (w, h) = (shape.1, shape.0);
        let got = band.read_as::<f64>((0, 0), (w, h), (w, h), None).unwrap();
        let want = expected
            .read_as::<f64>((0, 0), (w, h), (w, h), None)
            .unwrap();
        assert_eq!(got.data(), want.data(), "{href}");
        assert!(
            got.data().iter().any(|x| Some(*x) != band.no_data_value()),
            "{href}: nodata only"
        );
    }
    assert_eq!(
        out.lines().filter(|l| l.starts_with("HREF ")).count(),
        2,
        "{out}"
    );
}
