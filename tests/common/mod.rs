//! Shared test harness: private Postgres clusters (started with etlake's own embedded-cluster code),
//! running the `etlake` binary and the real `datacube` CLI, and dumping schemas for comparison.
#![allow(dead_code)]

use catalog_schema::embedded::Embedded;
use catalog_schema::DbUrl;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A private cluster in a temporary directory, stopped when dropped.
pub struct Cluster {
    pub embedded: Embedded,
    pub url: DbUrl,
    _dir: tempfile::TempDir,
}

impl Cluster {
    pub fn start() -> Cluster {
        let dir = tempdir();
        let embedded = Embedded::new(dir.path().join("pg"));
        let url = embedded
            .ensure_running()
            .expect("start a private Postgres cluster");
        Cluster {
            embedded,
            url,
            _dir: dir,
        }
    }

    /// A new empty database in this cluster.
    pub fn create_db(&self, name: &str) -> DbUrl {
        let mut admin = self.url.clone();
        admin.dbname = Some("postgres".into());
        let mut c = admin
            .to_pg_config("etlake-tests")
            .connect(postgres::NoTls)
            .unwrap();
        c.batch_execute(&format!("CREATE DATABASE {name}")).unwrap();
        let mut u = self.url.clone();
        u.dbname = Some(name.into());
        u
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = self.embedded.stop();
    }
}

/// A temporary directory the `postgres` account can traverse when the tests run as root.
pub fn tempdir() -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix("etlake-test-")
        .tempdir_in("/tmp")
        .unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

pub fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn reference(name: &str) -> PathBuf {
    workspace().join("tests/fixtures").join(name)
}

/// The product definitions shipped in product-defs/products, sorted.
pub fn product_defs() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(workspace().join("product-defs/products"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".odc-product.yaml"))
        .collect();
    v.sort();
    assert!(
        v.len() >= 10,
        "expected the product definitions in product-defs/products, found {}",
        v.len()
    );
    v
}

/// Clears every variable that could point etlake or datacube at another database.
pub fn clean_env(cmd: &mut Command, home: &Path) {
    for (k, _) in std::env::vars() {
        if k.starts_with("ODC_")
            || k.starts_with("DATACUBE_")
            || k.starts_with("DB_")
            || k.starts_with("ETLAKE_PG")
            || k == "ETLAKE_HOME"
            || k.starts_with("PG")
        {
            cmd.env_remove(k);
        }
    }
    cmd.env("HOME", home);
}

/// Runs `etlake --db URL args…`.
pub fn etlake(url: &DbUrl, args: &[&str]) -> Output {
    let home = tempdir();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_etlake"));
    clean_env(&mut cmd, home.path());
    cmd.current_dir(home.path())
        .arg("--db")
        .arg(url.python_url())
        .args(args);
    cmd.output().expect("run etlake")
}

/// Runs `etlake` with an environment of the test's choosing (no --db).
pub fn etlake_env(home: &Path, vars: &[(&str, &str)], args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_etlake"));
    clean_env(&mut cmd, home);
    cmd.current_dir(home).envs(vars.iter().copied()).args(args);
    cmd.output().expect("run etlake")
}

pub fn venv() -> PathBuf {
    let v = std::env::var("ETLAKE_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|_| workspace().join(".venv"));
    assert!(
        v.join("bin/datacube").is_file(),
        "the datacube venv is missing at {} — run `make test` (it installs datacube==1.9.20)",
        v.display()
    );
    v
}

/// Runs the real `datacube` CLI against a database.
pub fn datacube(url: &DbUrl, args: &[&str]) -> Output {
    let home = tempdir();
    let mut cmd = Command::new(venv().join("bin/datacube"));
    clean_env(&mut cmd, home.path());
    cmd.current_dir(home.path())
        .env("ODC_DEFAULT_DB_URL", url.python_url())
        .args(args);
    cmd.output().expect("run datacube")
}

/// Runs a Python snippet in the datacube venv with `ODC_DEFAULT_DB_URL` set.
pub fn python(url: &DbUrl, code: &str) -> Output {
    let home = tempdir();
    let mut cmd = Command::new(venv().join("bin/python"));
    clean_env(&mut cmd, home.path());
    cmd.current_dir(home.path())
        .env("ODC_DEFAULT_DB_URL", url.python_url())
        .arg("-c")
        .arg(code);
    cmd.output().expect("run python")
}

pub fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[track_caller]
pub fn ok(o: Output) -> String {
    assert!(
        o.status.success(),
        "command failed ({:?}):\n{}",
        o.status,
        text(&o)
    );
    text(&o)
}

pub fn connect(url: &DbUrl) -> postgres::Client {
    url.to_pg_config("etlake-tests")
        .connect(postgres::NoTls)
        .unwrap()
}

/// `pg_dump` of one database, with only the per-run `\restrict` token lines removed (pg_dump 15.14+
/// writes a random token there; it is not part of the schema).
pub fn pg_dump(url: &DbUrl, extra: &[&str]) -> String {
    let bindir = catalog_schema::embedded::pg_bindir().unwrap();
    let out = Command::new(bindir.join("pg_dump"))
        .arg("-h")
        .arg(url.host.as_deref().unwrap())
        .arg("-p")
        .arg(url.port.unwrap().to_string())
        .arg("-U")
        .arg(url.user.as_deref().unwrap())
        .args(extra)
        .arg(url.dbname.as_deref().unwrap())
        .output()
        .unwrap();
    assert!(out.status.success(), "pg_dump failed: {}", text(&out));
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with("\\restrict") && !l.starts_with("\\unrestrict"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Rows of a query, each rendered as text columns joined by ` | `.
pub fn rows(url: &DbUrl, sql: &str) -> Vec<String> {
    let mut c = connect(url);
    c.query(sql, &[])
        .unwrap()
        .iter()
        .map(|r| {
            (0..r.len())
                .map(|i| r.get::<_, Option<String>>(i).unwrap_or_default())
                .collect::<Vec<_>>()
                .join(" | ")
        })
        .collect()
}

/// A line-by-line difference, for assertion messages.
pub fn first_difference(a: &str, b: &str) -> String {
    for (i, (x, y)) in a.lines().zip(b.lines()).enumerate() {
        if x != y {
            return format!("line {}:\n  etlake:   {x}\n  datacube: {y}", i + 1);
        }
    }
    format!(
        "lengths differ: {} vs {} lines",
        a.lines().count(),
        b.lines().count()
    )
}

/// A moto S3 server on a free loopback port, killed when dropped.
pub struct S3Server {
    pub endpoint: String,
    child: std::process::Child,
}

impl S3Server {
    /// Starts `moto_server`; `auth` turns on its credential checks (so unknown keys are refused).
    pub fn start(auth: bool) -> S3Server {
        let venv = std::env::var("ETLAKE_MOTO_VENV")
            .map(PathBuf::from)
            .unwrap_or_else(|_| workspace().join(".venv-moto"));
        let bin = venv.join("bin/moto_server");
        assert!(
            bin.is_file(),
            "moto is missing at {} — run `make test` (it installs moto[server])",
            bin.display()
        );
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut cmd = Command::new(bin);
        cmd.args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        if auth {
            cmd.env("INITIAL_NO_AUTH_ACTION_COUNT", "0");
        }
        // Owned by the guard at once, so the process is killed and reaped on every path.
        let server = S3Server {
            endpoint: format!("http://127.0.0.1:{port}"),
            child: cmd.spawn().expect("start moto_server"),
        };
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return server;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        panic!("moto_server did not start on port {port}");
    }

    /// Creates a bucket and uploads local files (key → path) with boto3 from the moto venv.
    pub fn upload(&self, bucket: &str, files: &[(String, PathBuf)]) {
        let venv = std::env::var("ETLAKE_MOTO_VENV")
            .map(PathBuf::from)
            .unwrap_or_else(|_| workspace().join(".venv-moto"));
        let pairs: Vec<String> = files
            .iter()
            .map(|(k, p)| format!("({k:?}, {:?})", p.display().to_string()))
            .collect();
        let code = format!(
            "import boto3\ns3 = boto3.client('s3', endpoint_url='{}', region_name='us-east-1', aws_access_key_id='test', aws_secret_access_key='test')\n\
             s3.create_bucket(Bucket='{bucket}')\nfor k, p in [{}]:\n    s3.upload_file(p, '{bucket}', k)\n",
            self.endpoint,
            pairs.join(", ")
        );
        let out = Command::new(venv.join("bin/python"))
            .arg("-c")
            .arg(code)
            .output()
            .unwrap();
        assert!(out.status.success(), "upload failed: {}", text(&out));
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `etlake --db URL args…` with extra environment variables (e.g. AWS credentials).
pub fn etlake_with(url: &DbUrl, vars: &[(&str, &str)], args: &[&str]) -> Output {
    let home = tempdir();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_etlake"));
    clean_env(&mut cmd, home.path());
    for (k, _) in std::env::vars() {
        if k.starts_with("AWS_") {
            cmd.env_remove(k);
        }
    }
    cmd.current_dir(home.path())
        .envs(vars.iter().copied())
        .arg("--db")
        .arg(url.python_url())
        .args(args);
    cmd.output().expect("run etlake")
}

/// Validates every item in `etlake.stac_item` against the STAC 1.1 item schema, offline, with the schema
/// files pystac ships (installed by `make test`), checks the projection/raster extension fields and that
/// local asset hrefs exist; `extra` is Python run per item with `item` and `p` (its properties) bound.
/// Prints `stac valid N`.
pub fn validate_stac_items(url: &DbUrl, extra: &str) -> String {
    let code = format!(
        r#"
import os, psycopg2
from pystac.validation.local_validator import LocalValidator
v = LocalValidator().item_validator("1.1.0")
conn = psycopg2.connect(os.environ["ETLAKE_TEST_DSN"])
cur = conn.cursor()
cur.execute("SELECT item FROM etlake.stac_item ORDER BY item_id")
n = 0
for (item,) in cur.fetchall():
    v.validate(item)
    p = item["properties"]
    assert p["proj:code"] is None or p["proj:code"].startswith("EPSG:"), p
    assert len(p["proj:shape"]) == 2 and len(p["proj:transform"]) in (6, 9), p
    for a in item["assets"].values():
        if a["href"].startswith("file://"):
            assert os.path.exists(a["href"][len("file://"):]), a["href"]
        b = a["raster:bands"][0]
        assert b["data_type"] in ("int8", "int16", "int32", "uint8", "uint16", "uint32", "float32", "float64"), b
        assert isinstance(b["nodata"], (int, float)) or b["nodata"] in ("nan", "inf", "-inf"), b
    {extra}
    n += 1
print("stac valid", n)
"#
    );
    let dsn = format!(
        "host={} port={} user={} dbname={}",
        url.host.as_deref().unwrap(),
        url.port.unwrap(),
        url.user.as_deref().unwrap(),
        url.dbname.as_deref().unwrap()
    );
    let mut cmd = Command::new(venv().join("bin/python"));
    cmd.arg("-c").arg(code).env("ETLAKE_TEST_DSN", dsn);
    ok(cmd.output().unwrap())
}

/// An EPSG:4326 GeoTIFF with one band per closure, each called with (row, col); `transform` is GDAL's
/// `[x0, dx, 0, y0, 0, dy]`.
pub fn write_geotiff<T: gdal::raster::GdalType + Copy>(
    path: &Path,
    (width, height): (usize, usize),
    transform: [f64; 6],
    nodata: f64,
    bands: &[&dyn Fn(usize, usize) -> T],
) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let driver = gdal::DriverManager::get_driver_by_name("GTiff").unwrap();
    let mut ds = driver
        .create_with_band_type::<T, _>(path, width, height, bands.len())
        .unwrap();
    ds.set_geo_transform(&transform).unwrap();
    ds.set_spatial_ref(&gdal::spatial_ref::SpatialRef::from_epsg(4326).unwrap())
        .unwrap();
    for (i, value) in bands.iter().enumerate() {
        let data: Vec<T> = (0..height)
            .flat_map(|r| (0..width).map(move |c| (r, c)))
            .map(|(r, c)| value(r, c))
            .collect();
        let mut band = ds.rasterband(i + 1).unwrap();
        band.write(
            (0, 0),
            (width, height),
            &mut gdal::raster::Buffer::new((width, height), data),
        )
        .unwrap();
        band.set_no_data_value(Some(nodata)).unwrap();
    }
}

/// The CHIRPS 0.05° test grid: 40 × 20 pixels over lon −105…−103, lat 40…41.
pub const CHIRPS_GRID: ((usize, usize), [f64; 6]) =
    ((40, 20), [-105.0, 0.05, 0.0, 41.0, 0.0, -0.05]);

/// CHIRPS-named daily GeoTIFFs at three places — A at -105°, B touching A's east edge at -103°, C far
/// away at 10°E, 4°S — for January 1 to `days` 2023, each pixel holding its day number: the search
/// edge cases (touching footprints, one far place to archive) of the search and STAC API tests.
#[allow(dead_code)]
pub fn write_chirps_places(lake: &Path, days: u32) {
    let ((w, h), _) = CHIRPS_GRID;
    for (place, x0, y0) in [("a", -105.0, 41.0), ("b", -103.0, 41.0), ("c", 10.0, -4.0)] {
        for day in 1..=days {
            let p = lake.join(format!(
                "{place}/global_daily/tifs/p05/2023/chirps-v2.0.2023.01.{day:02}.tif"
            ));
            write_geotiff::<f32>(
                &p,
                (w, h),
                [x0, 0.05, 0.0, y0, 0.0, -0.05],
                -9999.0,
                &[&|_, _| day as f32],
            );
        }
    }
}

/// A private cluster with the index initialised and these product files (or folders) added.
pub fn cluster_with(products: &[PathBuf]) -> Cluster {
    let pg = Cluster::start();
    ok(etlake(&pg.url, &["db", "init"]));
    let mut args = vec!["product".to_string(), "add".into()];
    args.extend(products.iter().map(|p| p.display().to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    ok(etlake(&pg.url, &args));
    pg
}

/// A private cluster with every product of product-defs.
pub fn cluster_with_products() -> Cluster {
    cluster_with(&[workspace().join("product-defs/products")])
}

/// A private cluster with the Landsat benchmark product.
pub fn cluster_with_bench_product() -> Cluster {
    cluster_with(&[reference("bench-ls8_c2l2_sr.odc-product.yaml")])
}

/// `etlake serve` on a loopback port of its choosing, stopped with SIGTERM by `stop` (killed when dropped).
pub struct StacServer {
    pub child: std::process::Child,
    pub base: String,
}

impl StacServer {
    pub fn start(url: &DbUrl) -> StacServer {
        let mut child = Command::new(env!("CARGO_BIN_EXE_etlake"))
            .arg("--db")
            .arg(url.python_url())
            .args(["serve", "--bind", "127.0.0.1:0"])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufRead::read_line(
            &mut std::io::BufReader::new(child.stdout.take().unwrap()),
            &mut line,
        )
        .unwrap();
        let base = line
            .strip_prefix("listening on ")
            .and_then(|l| l.split_whitespace().next())
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_string();
        StacServer { child, base }
    }

    /// SIGTERM; returns whether it exited successfully.
    pub fn stop(&mut self) -> bool {
        let pid = self.child.id().to_string();
        assert!(Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success());
        self.child.wait().unwrap().success()
    }
}

impl Drop for StacServer {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The venv with stac-api-validator and pystac-client (scripts/setup-deps.sh --python makes it).
pub fn stac_venv() -> PathBuf {
    let v = std::env::var("ETLAKE_STAC_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|_| workspace().join(".venv-stac"));
    assert!(
        v.join("bin/stac-api-validator").is_file(),
        "stac-api-validator is missing at {} — run scripts/setup-deps.sh --python",
        v.display()
    );
    v
}
