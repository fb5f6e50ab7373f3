//! The `etlake` command line: global connection options (as datacube users configure them) and the
//! command tree. Parsing only; `commands` does the work.
use clap::{Args, CommandFactory, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// etlake: index a data lake into an Open Data Cube index, fast, and read it back.
#[derive(Debug, Parser)]
#[command(name = "etlake", version, about, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub conn: ConnArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// How to reach the database (when none is given, etlake starts its embedded cluster).
#[derive(Debug, Args)]
pub struct ConnArgs {
    /// Database URL (postgresql://, postgresql+psycopg2://); wins over ODC_<ENV>_DB_URL,
    /// DATACUBE_DB_URL and the datacube config file.
    #[arg(long, global = true, value_name = "URL")]
    pub db: Option<String>,
    /// datacube environment name (default: $ODC_ENVIRONMENT or `default`).
    #[arg(short = 'E', long = "env", global = true, value_name = "NAME")]
    pub env: Option<String>,
    /// datacube config file (repeatable; the first readable one is used).
    #[arg(short = 'C', long = "config", global = true, value_name = "PATH")]
    pub config: Vec<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create, check and manage the index database.
    #[command(subcommand)]
    Db(DbCommand),
    /// ODC metadata types.
    #[command(subcommand)]
    Metadata(MetadataCommand),
    /// ODC products.
    #[command(subcommand)]
    Product(ProductCommand),
    /// Datasets from metadata documents.
    #[command(subcommand)]
    Dataset(DatasetCommand),
    /// Index a lake: every file a product's templates recognise becomes a dataset (exactly once).
    Index(IndexArgs),
    /// Find datasets by product, time and lon/lat box — the same datasets `dc.find_datasets` returns.
    Search(SearchArgs),
    /// Serve the index as a STAC API (core, collections, features, item search) until SIGTERM.
    Serve(ServeArgs),
    /// Assemble an aligned (time, y, x) stack of a product on one grid — what `dc.load` returns —
    /// and write it as CF NetCDF (and optionally COGs and a PNG quicklook).
    Stack(StackArgs),
    /// Load the lake from a provider: discover its files for a product and time range, download what
    /// is missing or changed (resumable, verified), place it in the provider's layout, optionally index.
    Sync(SyncArgs),
    /// The VegET soil-water-balance model, driven by the index.
    #[command(subcommand)]
    Veget(VegetCommand),
}

#[derive(Debug, Subcommand)]
pub enum VegetCommand {
    /// Run VegET as CONFIG.yaml says: inputs from the index, outputs written and indexed back. The
    /// grid is cut into tiles (bands of rows) that run in parallel, each finished tile recorded in
    /// OUTPUT_DIR/.veget-run/ so that a run started again skips it.
    Run(VegetRunArgs),
    /// Finish a run whose tiles were shared between processes (`veget run --tile i/N`): check every
    /// tile is done, write the quicklooks (and COGs), print the summary and the water-balance check,
    /// index the outputs once.
    Finish(VegetFinishArgs),
}

#[derive(Debug, Args)]
pub struct VegetFinishArgs {
    /// The run configuration (the one the tiles ran with).
    #[arg(id = "finish_config", value_name = "CONFIG")]
    pub config: PathBuf,
    /// Do not index the outputs back as veget_daily/monthly/annual datasets.
    #[arg(long)]
    pub no_index: bool,
    /// The product-defs folder (for the outputs' recognition templates).
    #[arg(long, value_name = "DIR")]
    pub defs: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct VegetRunArgs {
    /// The run configuration (YAML; see examples/veget-demo.yaml).
    #[arg(id = "run_config", value_name = "CONFIG")]
    pub config: PathBuf,
    /// Do not index the outputs back as veget_daily/monthly/annual datasets.
    #[arg(long)]
    pub no_index: bool,
    /// The product-defs folder (for the outputs' recognition templates).
    #[arg(long, value_name = "DIR")]
    pub defs: Option<PathBuf>,
    /// Memory the run may use, in MiB (default: what the system reports available): tiles are sized
    /// so that those running at once fit; a grid whose single row does not fit is refused before
    /// anything is read.
    #[arg(long, value_name = "MIB")]
    pub max_memory: Option<f64>,
    /// Rows of the grid per tile (default: from --max-memory and the cores). Fixed for the run by
    /// its first start.
    #[arg(long, value_name = "ROWS")]
    pub tile_rows: Option<usize>,
    /// Run only share I of N processes (`I/N`, shards 0 to N-1): tiles I, I+N, I+2N, …; then
    /// `etlake veget finish CONFIG` once. `I` or `/N` take the other number from --tile-count or the
    /// environment: $JOB_COMPLETION_INDEX (Kubernetes Indexed Job), $AWS_BATCH_JOB_ARRAY_INDEX and
    /// $AWS_BATCH_JOB_ARRAY_SIZE (AWS Batch array job).
    #[arg(long, value_name = "I/N")]
    pub tile: Option<String>,
    /// The number of shares (with $JOB_COMPLETION_INDEX, which does not say it).
    #[arg(long, value_name = "N")]
    pub tile_count: Option<u32>,
    /// Start over when the output folder holds a run of another configuration (period, parameters,
    /// inputs, grid, tiling): its finished tiles are forgotten and redone. Without it such a run is
    /// refused rather than mixed.
    #[arg(long)]
    pub restart: bool,
}

#[derive(Debug, Args)]
pub struct StackArgs {
    /// Product name.
    #[arg(long)]
    pub product: String,
    /// Measurements (names or aliases, comma separated); all when omitted.
    #[arg(long, value_delimiter = ',')]
    pub measurements: Vec<String>,
    /// Time range A/B (dates cover whole days) or a single date.
    #[arg(long)]
    pub time: Option<String>,
    /// Longitude/latitude box W,S,E,N of the area.
    #[arg(long, value_name = "W,S,E,N", allow_hyphen_values = true)]
    pub bbox: String,
    /// Output CRS (EPSG:n, PROJ or WKT); default: the product's load hints, else EPSG:4326.
    #[arg(long)]
    pub crs: Option<String>,
    /// Pixel size in CRS units (R for x = R, y = -R, or X,Y); default: the product's load hints.
    #[arg(long, allow_hyphen_values = true)]
    pub resolution: Option<String>,
    /// Pixel-grid alignment X,Y in CRS units (default 0,0: edges on multiples of the resolution).
    #[arg(long, allow_hyphen_values = true)]
    pub align: Option<String>,
    /// Take the grid (CRS, resolution, alignment) of this product's first dataset in the area.
    #[arg(long, value_name = "PRODUCT", conflicts_with_all = ["crs", "resolution", "align"])]
    pub like: Option<String>,
    /// Resampling: nearest, bilinear, cubic, cubic_spline, lanczos, average, mode, min, max, med, q1, q3, sum, rms.
    #[arg(long, default_value = "nearest")]
    pub resampling: String,
    /// Per-measurement resampling NAME=METHOD (repeatable), e.g. pixel_qa=nearest.
    #[arg(long = "resampling-of", value_name = "NAME=METHOD")]
    pub resampling_of: Vec<String>,
    /// Grouping of datasets into time steps: time or solar_day.
    #[arg(long, default_value = "time")]
    pub group_by: String,
    /// Physical values: each measurement unpacked with its product's scale_factor/add_offset to
    /// float32, nodata as NaN (default: the stored values, as dc.load returns them).
    #[arg(long)]
    pub physical: bool,
    /// Output: a CF-1.8 NetCDF file, or a Zarr store (format 2) when the path ends in `.zarr`.
    #[arg(long)]
    pub out: PathBuf,
    /// Also write one COG per time step of each measurement into this folder.
    #[arg(long, value_name = "DIR")]
    pub cog_dir: Option<PathBuf>,
    /// Also write a PNG quicklook (first measurement, first step) with a colour bar.
    #[arg(long, value_name = "FILE")]
    pub png: Option<PathBuf>,
    /// Memory for the stack, in MiB: a larger stack is assembled and written band by band (whole rows
    /// of the grid, as many as fit; at least one).
    #[arg(long, value_name = "MIB", default_value_t = 4096.0)]
    pub max_memory: f64,
}

#[derive(Debug, Args)]
pub struct SyncArgs {
    /// The provider: chirps (CHIRPS v2.0 daily), gridmet (gridMET yearly NetCDF), modis (LP DAAC
    /// through NASA CMR), imerg (GPM IMERG V07 from GES DISC through NASA CMR) or landsat (Landsat
    /// Collection 2 Level-2 found through USGS's STAC API and copied from the requester-pays bucket
    /// s3://usgs-landsat with the AWS credential chain; the requester pays). modis and imerg
    /// download with Earthdata Login; credentials, in this order: $EARTHDATA_TOKEN (bearer),
    /// $EARTHDATA_USERNAME + $EARTHDATA_PASSWORD, the .netrc entry for urs.earthdata.nasa.gov
    /// ($NETRC or ~/.netrc, mode 0600). A password is sent to the Earthdata Login host only, a
    /// token also to the DAAC's data host; never to a presigned S3 redirect. The Earthdata Login URL
    /// can be changed with $ETLAKE_EDL_URL.
    pub provider: String,
    /// Products (repeatable): chirps_v2_daily_p05 (CHIRPS' default); gridmet_pr, gridmet_pet, … (gridMET);
    /// a CMR collection SHORTNAME.VERSION for modis (default MOD13Q1.061; any LP DAAC collection) and
    /// imerg (default GPM_3IMERGDF.07; GPM_3IMERGHH.07 half-hourly); ls8_c2l2_sr, ls9_c2l2_sr,
    /// ls8_c2l2_st, ls9_c2l2_st for landsat.
    #[arg(long = "product", value_name = "NAME")]
    pub products: Vec<String>,
    /// Days to sync, A/B inclusive (YYYY-MM-DD, YYYY-MM or YYYY at each end), or one of them.
    #[arg(long)]
    pub time: String,
    /// Longitude/latitude box W,S,E,N: for chirps and gridmet nothing is synced when it misses the
    /// provider's coverage (their files are global or CONUS-wide; they are not cut); for modis and
    /// imerg it is CMR's bounding_box (the granules touching it); for landsat the STAC search's bbox.
    #[arg(long, value_name = "W,S,E,N", allow_hyphen_values = true)]
    pub bbox: Option<String>,
    /// The lake: a folder, or s3://bucket/prefix.
    #[arg(long, value_name = "DIR|s3://BUCKET/PREFIX")]
    pub to: String,
    /// Index what is in the lake after the sync (CHIRPS with --archive-less-mature: a final day
    /// archives its preliminary dataset).
    #[arg(long)]
    pub index: bool,
    /// Plan only: report what would be downloaded, replaced or skipped; nothing is written.
    #[arg(long)]
    pub dry_run: bool,
    /// Write one JSON line per file event (discovered, skipped, downloaded, replaced, verified,
    /// indexed, failed with the reason).
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// The provider's base URL (also $ETLAKE_CHIRPS_URL / $ETLAKE_GRIDMET_URL); for modis and imerg,
    /// the CMR's (also --cmr-url, $ETLAKE_CMR_URL; default https://cmr.earthdata.nasa.gov); for
    /// landsat, the STAC API's (also --stac-url, $ETLAKE_LANDSAT_STAC_URL; default
    /// https://landsatlook.usgs.gov/stac-server).
    #[arg(long, value_name = "URL", aliases = ["cmr-url", "stac-url"])]
    pub base_url: Option<String>,
    /// modis, imerg: a CMR collection by short name (with --collection-version), the same as
    /// --product SHORTNAME.VERSION (`--version` is etlake's own flag).
    #[arg(long, value_name = "NAME", requires = "collection_version")]
    pub short_name: Option<String>,
    /// modis, imerg: the version of --short-name (e.g. 061).
    #[arg(long, value_name = "VERSION", requires = "short_name")]
    pub collection_version: Option<String>,
    /// modis, imerg, when running in the DAAC's region (us-west-2): read the granules' S3 copies
    /// directly with temporary credentials from the DAAC's s3credentials endpoint (renewed before
    /// they expire), instead of downloading over HTTPS.
    #[arg(long)]
    pub direct_s3: bool,
    /// With --direct-s3: the s3credentials URL (also $ETLAKE_S3CREDENTIALS_URL; default LP DAAC's
    /// https://data.lpdaac.earthdatacloud.nasa.gov/s3credentials for modis, GES DISC's
    /// https://data.gesdisc.earthdata.nasa.gov/s3credentials for imerg).
    #[arg(long, value_name = "URL")]
    pub s3credentials_url: Option<String>,
    /// With --direct-s3: the S3 endpoint of the DAAC's buckets; for landsat, of the requester-pays
    /// bucket usgs-landsat (default AWS's).
    #[arg(long, value_name = "URL")]
    pub direct_endpoint_url: Option<String>,
    /// With --direct-s3: the region of the DAAC's buckets; for landsat, of usgs-landsat.
    #[arg(long, value_name = "REGION", default_value = "us-west-2")]
    pub direct_region: String,
    /// modis, imerg: granules per CMR search page (CMR allows up to 2000); landsat: items per STAC
    /// search page (at most 500).
    #[arg(long, value_name = "N", default_value_t = 2000)]
    pub page_size: usize,
    /// CHIRPS: take the final days' cloud-optimised GeoTIFFs (global_daily/cogs/) instead of tifs/.
    #[arg(long)]
    pub cog: bool,
    /// Requests in flight per host (8, as earthaccess's download threads; lower it for a small server).
    #[arg(long, value_name = "N", default_value_t = 8)]
    pub connections_per_host: usize,
    /// Retries per request (429/503 after their Retry-After, other 5xx and dropped connections with
    /// exponential backoff).
    #[arg(long, value_name = "N", default_value_t = 6)]
    pub retries: u32,
    /// The longest Retry-After honoured, in seconds (a longer one fails the file).
    #[arg(long, value_name = "SECS", default_value_t = 120)]
    pub max_retry_wait: u64,
    /// S3 endpoint of the lake (e.g. http://127.0.0.1:9000); also $AWS_ENDPOINT_URL.
    #[arg(long, value_name = "URL")]
    pub endpoint_url: Option<String>,
    /// S3 region of the lake.
    #[arg(long)]
    pub region: Option<String>,
    /// Where partial downloads for an s3:// lake wait (default: a folder under the temp dir); a
    /// later run resumes them.
    #[arg(long, value_name = "DIR")]
    pub staging: Option<PathBuf>,
    /// Files of at least this many MiB are uploaded to S3 in parts.
    #[arg(long, value_name = "MIB", default_value_t = 64)]
    pub multipart_threshold: u64,
    /// Part size of multipart uploads, in MiB (at least 5).
    #[arg(long, value_name = "MIB", default_value_t = 16)]
    pub part_size: u64,
    /// With --index: apply unsafe changes of re-fetched files (e.g. a revised gridMET year).
    #[arg(long)]
    pub allow_unsafe: bool,
    /// With --index: the product-defs folder.
    #[arg(long, value_name = "DIR")]
    pub defs: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on (loopback by default; port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub bind: std::net::SocketAddr,
    /// Public URL of the API root, which links are built from (default: http://BIND).
    #[arg(long, value_name = "URL")]
    pub base_url: Option<String>,
    /// Database connections at most.
    #[arg(long, default_value_t = 4)]
    pub connections: usize,
    /// The longest a request (and any database statement) may take, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 60)]
    pub request_timeout: u64,
    /// Allow cross-origin requests from this origin (`*` for any); none by default.
    #[arg(long, value_name = "ORIGIN")]
    pub cors_origin: Option<String>,
    /// How long the collections' extents are reused before they are computed again, in seconds
    /// (0: on every request). A new delivery shows in the extents after at most this long; items
    /// and searches are always current.
    #[arg(long, value_name = "SECONDS", default_value_t = 5)]
    pub extents_max_age: u64,
}

#[derive(Debug, Args)]
pub struct SearchArgs {
    /// Product name.
    #[arg(long)]
    pub product: String,
    /// Time range A/B (dates cover whole days) or a single date/time.
    #[arg(long)]
    pub time: Option<String>,
    /// Longitude/latitude box W,S,E,N.
    #[arg(long, value_name = "W,S,E,N", allow_hyphen_values = true)]
    pub bbox: Option<String>,
    /// At most this many datasets.
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Print the query plan Postgres chooses instead of the datasets.
    #[arg(long)]
    pub explain: bool,
}

#[derive(Debug, Args)]
pub struct IndexArgs {
    /// s3://bucket/prefix (globs *, **, {a,b} allowed), local folders or files (globs allowed),
    /// file:// URLs, or - to read one URI per line from stdin.
    pub sources: Vec<String>,
    /// Read one URI per line from this file.
    #[arg(long, value_name = "FILE")]
    pub from_file: Option<PathBuf>,
    /// List the objects from an S3 Inventory report instead of LIST requests: its manifest
    /// (s3://…/YYYY-MM-DDTHH-MMZ/manifest.json) or the inventory's prefix (s3://…/SOURCE-BUCKET/CONFIG-ID/,
    /// whose newest dated folder is taken). manifest.checksum and each data file's MD5 are verified;
    /// CSV (gzip) data files are read. S3 sources given with it select objects of the inventory
    /// (prefixes or globs); with --shard each run reads its share of the data files.
    #[arg(long, value_name = "S3_URI", conflicts_with_all = ["from_file", "stac_api"])]
    pub inventory: Option<String>,
    /// Also index the items of this STAC API's search (POST /search, following `next` links).
    #[arg(long, value_name = "URL")]
    pub stac_api: Option<String>,
    /// STAC API search: collections (comma separated).
    #[arg(long, value_delimiter = ',', requires = "stac_api")]
    pub collections: Vec<String>,
    /// STAC API search: W,S,E,N.
    #[arg(
        long,
        value_name = "W,S,E,N",
        allow_hyphen_values = true,
        requires = "stac_api"
    )]
    pub stac_bbox: Option<String>,
    /// STAC API search: RFC 3339 datetime or interval (e.g. 2020-06-01T00:00:00Z/2020-07-31T23:59:59Z).
    #[arg(long, requires = "stac_api")]
    pub datetime: Option<String>,
    /// STAC API search: items per page.
    #[arg(long, default_value_t = 100)]
    pub page_size: usize,
    /// STAC API search: stop after this many items.
    #[arg(long, requires = "stac_api")]
    pub max_items: Option<usize>,
    /// Record no lineage (source datasets) for the indexed datasets.
    #[arg(long, conflicts_with = "fail_on_missing_lineage")]
    pub skip_lineage: bool,
    /// Refuse datasets whose lineage names a dataset not indexed (default: record the edge and wait).
    #[arg(long)]
    pub fail_on_missing_lineage: bool,
    /// Only these products (repeatable).
    #[arg(long = "product", value_name = "NAME")]
    pub products: Vec<String>,
    /// Datasets per transaction (listing, extraction and writing overlap batch by batch).
    #[arg(long, default_value_t = 250)]
    pub batch_size: usize,
    /// S3 endpoint (e.g. http://127.0.0.1:9000); also $AWS_ENDPOINT_URL.
    #[arg(long, value_name = "URL")]
    pub endpoint_url: Option<String>,
    /// Anonymous S3 requests.
    #[arg(long)]
    pub no_sign_request: bool,
    /// Requester-pays buckets (sent on every list and get).
    #[arg(long)]
    pub request_payer: bool,
    /// S3 region.
    #[arg(long)]
    pub region: Option<String>,
    /// The product-defs folder (default: $ETLAKE_PRODUCT_DEFS, ./product-defs, or the one etlake was built with).
    #[arg(long, value_name = "DIR")]
    pub defs: Option<PathBuf>,
    /// Go through every step and report what would happen, writing nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Read every object again, including those whose version (S3 ETag, or a file's mtime and size)
    /// is the one last indexed (skipped by default; also read again with --update-if-exists).
    #[arg(long)]
    pub recheck: bool,
    /// Update datasets whose metadata document changed, when the change is safe (only additions).
    /// (Raw files that changed are always updated under the safe rules.)
    #[arg(long)]
    pub update_if_exists: bool,
    /// Apply any change except a change of product: to raw files that changed, and with
    /// --update-if-exists to metadata documents.
    #[arg(long)]
    pub allow_unsafe: bool,
    /// Rewrite STAC href prefixes, e.g. https://landsatlook.usgs.gov/data=s3://usgs-landsat (repeatable).
    #[arg(long, value_name = "FROM=TO")]
    pub href_rewrite: Vec<String>,
    /// Index STAC items as this product, whatever their collection or odc:product says.
    #[arg(long, value_name = "NAME")]
    pub rename_product: Option<String>,
    /// Archive less mature datasets (final < interim < nrt) of the same product, region and time;
    /// an existing dataset at least as mature refuses the new one. Optional leniency in ms (default 500).
    #[arg(long, value_name = "MS", num_args = 0..=1, default_missing_value = "500")]
    pub archive_less_mature: Option<u32>,
    /// Write one JSON line per object (uri, product, dataset, outcome, stage, error).
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// Take only shard I of N concurrent runs (`I/N`, shards 0 to N-1): each object goes to the shard
    /// its URI hashes to (FNV-1a 64), a sibling file with the file that claims it. `/N` or `I` alone
    /// take the other number from --shard-count or the environment: $JOB_COMPLETION_INDEX
    /// (Kubernetes Indexed Job) or $AWS_BATCH_JOB_ARRAY_INDEX and $AWS_BATCH_JOB_ARRAY_SIZE (AWS Batch
    /// array job), which also apply without --shard.
    #[arg(long, value_name = "I/N")]
    pub shard: Option<String>,
    /// The number of shards (with $JOB_COMPLETION_INDEX, which does not say it).
    #[arg(long, value_name = "N")]
    pub shard_count: Option<u32>,
    /// Index what an SQS queue announces: S3 event notifications (raw, in SNS envelopes, or from
    /// EventBridge) and STAC items or eo3 documents sent as messages. Runs until SIGTERM/SIGINT
    /// (finishing the batch in hand), or with --drain until the queue is empty.
    #[arg(long, value_name = "QUEUE_URL", conflicts_with_all = ["sources", "from_file", "stac_api", "shard", "inventory"])]
    pub sqs: Option<String>,
    /// With --sqs: stop once a receive finds the queue empty.
    #[arg(long, requires = "sqs")]
    pub drain: bool,
    /// With --sqs: seconds a received message stays hidden from other consumers; extended every third
    /// of it while its batch is worked on.
    #[arg(long, value_name = "SECS", default_value_t = 60, requires = "sqs")]
    pub visibility_timeout: i32,
    /// With --sqs: long-polling wait of each receive, in seconds (0–20).
    #[arg(long, value_name = "SECS", default_value_t = 20, requires = "sqs",
          value_parser = clap::value_parser!(i32).range(0..=20))]
    pub wait_time: i32,
}

#[derive(Debug, Subcommand)]
pub enum DatasetCommand {
    /// Index eo3 dataset documents (YAML/JSON files or directories of them). Each document's location
    /// is its file:// URI; existing datasets are left as they are and reported.
    Add {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Datasets per transaction.
        #[arg(long, default_value_t = 1000)]
        batch_size: usize,
    },
    /// Update indexed datasets from eo3 documents under datacube's rules: safe changes (additions) are
    /// applied, unsafe ones need --allow-unsafe, a change of product is refused; new ids are added.
    Update {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Also apply unsafe changes (modified or removed values).
        #[arg(long)]
        allow_unsafe: bool,
        /// Report what would change and write nothing.
        #[arg(long)]
        dry_run: bool,
        /// Datasets per transaction.
        #[arg(long, default_value_t = 1000)]
        batch_size: usize,
    },
    /// Archive datasets (hidden from searches and dc.find_datasets, kept in the index).
    Archive {
        #[arg(required = true)]
        ids: Vec<String>,
    },
    /// Restore archived datasets.
    Restore {
        #[arg(required = true)]
        ids: Vec<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// Create the ODC index (schema agdc, roles, default metadata types) and etlake's schema. Idempotent.
    Init,
    /// Report like `datacube system check`: connection, schemas, counts. Exit 1 when incomplete.
    Check,
    /// Show the embedded cluster's state and connection URLs.
    Status,
    /// Start the embedded cluster (creating it on first use).
    Start,
    /// Stop the embedded cluster.
    Stop,
}

#[derive(Debug, Subcommand)]
pub enum MetadataCommand {
    /// Add metadata types from YAML/JSON files.
    Add {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// List metadata types.
    List,
    /// Print a stored metadata type as YAML.
    Show { name: String },
}

#[derive(Debug, Subcommand)]
pub enum ProductCommand {
    /// Add products from YAML/JSON files or directories of them. All or nothing.
    Add {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Update stored products (datacube's safe-change rules). All or nothing.
    Update {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Also apply changes that may make existing datasets inconsistent.
        #[arg(long)]
        allow_unsafe: bool,
        /// Report what would change without writing.
        #[arg(long)]
        dry_run: bool,
    },
    /// List products.
    List {
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Print a stored product definition as YAML.
    Show { name: String },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Format {
    Table,
    Json,
    Csv,
}

/// Ends the process as clap ends it for a bad argument (exit 2, the usage hint): for what can only be
/// checked after parsing, such as `--shard I/N` against the array-job environment.
pub fn usage_error(message: impl std::fmt::Display) -> ! {
    Cli::command()
        .error(clap::error::ErrorKind::ValueValidation, message)
        .exit()
}
