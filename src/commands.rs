//! One function per command: each opens the index through `catalog_schema`, calls the library and
//! prints the result. Errors bubble up to `main`, which turns them into the exit code.
use crate::cli::{
    ConnArgs, DatasetCommand, DbCommand, Format, IndexArgs, MetadataCommand, ProductCommand,
    SearchArgs,
};
use catalog_schema::config::{self, ConnectOptions, Resolved, SystemEnv};
use catalog_schema::embedded::{Embedded, Status};
use catalog_schema::metadata_type::AddOutcome;
pub use catalog_schema::search::parse_bbox;
use catalog_schema::{check, document, init, metadata_type, product, Catalog, Error, Result};

/// Whether a command fully succeeded (exit 0) or reported a problem it already printed (exit 1).
pub type Success = bool;

fn options(conn: &ConnArgs) -> ConnectOptions {
    ConnectOptions {
        db_url: conn.db.clone(),
        env: conn.env.clone(),
        config_paths: conn.config.clone(),
    }
}

fn resolve(conn: &ConnArgs) -> Result<Resolved> {
    config::resolve(&options(conn), &SystemEnv)
}

fn open(conn: &ConnArgs) -> Result<Catalog> {
    let resolved = resolve(conn)?;
    tracing::debug!("database from {}", resolved.source);
    Catalog::open(&resolved, &SystemEnv)
}

/// The index a command reads or writes (the library call `etlake.Index` makes too).
pub fn open_index(conn: &ConnArgs) -> Result<Catalog> {
    Catalog::open_index(&options(conn), &SystemEnv)
}

pub fn db(conn: &ConnArgs, cmd: &DbCommand) -> Result<Success> {
    match cmd {
        DbCommand::Init => {
            let mut c = open(conn)?;
            let r = init::init(&mut c)?;
            if r.created_agdc {
                println!(
                    "Created the ODC index (schema agdc) in {}",
                    c.url().redacted()
                );
                println!(
                    "Added metadata types: {}",
                    r.metadata_types_added.join(", ")
                );
            } else {
                println!(
                    "Schema agdc already exists in {}: left unchanged",
                    c.url().redacted()
                );
            }
            println!(
                "etlake schema: {}",
                if r.created_etlake {
                    "created"
                } else {
                    "present"
                }
            );
            let u = catalog_schema::stac_upgrade::upgrade(&mut c, &indexer::crs::GdalCrs::new())?;
            if let Some(from) = u
                .from
                .filter(|v| *v < catalog_schema::etlake_schema::SCHEMA_VERSION)
            {
                println!(
                    "etlake schema: upgraded from version {from} to {}: {} STAC items rewritten",
                    catalog_schema::etlake_schema::SCHEMA_VERSION,
                    u.rewritten
                );
                if !u.kept.is_empty() {
                    tracing::warn!(
                        "{} STAC items could not be rebuilt and were left as they were (first: {})",
                        u.kept.len(),
                        u.kept[0]
                    );
                }
            }
            Ok(true)
        }
        DbCommand::Check => {
            let resolved = resolve(conn)?;
            println!("{:<15}{}", "Version:", catalog_schema::VERSION);
            println!("{:<15}{}", "Config from:", resolved.source);
            println!("{:<15}{}", "Environment:", resolved.env);
            println!("{:<15}postgres (schema agdc)", "Index Driver:");
            let mut c = match Catalog::open(&resolved, &SystemEnv) {
                Ok(c) => c,
                Err(e) => {
                    println!("\nValid connection:\tNO");
                    return Err(e);
                }
            };
            println!("{:<15}{}", "Database:", c.url().redacted());
            let r = check::check(&mut c)?;
            println!("{:<15}{}", "User:", r.user);
            println!("{:<15}{}", "Server:", r.server_version);
            let tls = catalog_schema::tls::Settings::of(c.url())?;
            let encryption = match &r.tls {
                Some(t) => format!("{t} (sslmode={})", tls.mode.name()),
                None => "none".into(),
            };
            println!("{:<15}{encryption}", "Encryption:");
            println!("\nValid connection:\tYES");
            if !r.roles.is_empty() {
                println!("You have {} privileges.", r.roles.join(", ").to_uppercase());
            }
            match (r.agdc_present, r.agdc_missing.is_empty()) {
                (false, _) => println!("Schema agdc:\tmissing (run `etlake db init`)"),
                (true, true) => println!("Schema agdc:\tpresent and current"),
                (true, false) => println!(
                    "Schema agdc:\tINCOMPLETE, missing {}",
                    r.agdc_missing.join(", ")
                ),
            }
            match r.etlake_version {
                Some(v) if v < catalog_schema::etlake_schema::SCHEMA_VERSION => println!(
                    "Schema etlake:\tversion {v}, older than {} (run `etlake db init` to upgrade)",
                    catalog_schema::etlake_schema::SCHEMA_VERSION
                ),
                Some(v) => println!("Schema etlake:\tversion {v}"),
                None => println!("Schema etlake:\tmissing (run `etlake db init`)"),
            }
            for (name, n) in &r.counts {
                println!("  {name:<18}{n}");
            }
            Ok(r.ok())
        }
        DbCommand::Status => {
            let resolved = resolve(conn)?;
            let e = Embedded::new(Embedded::default_root(&SystemEnv));
            if resolved.url.is_some() {
                println!(
                    "Configured database ({}): the embedded cluster is not used",
                    resolved.source
                );
            }
            match e.status()? {
                Status::NotCreated => println!(
                    "Embedded cluster: not created ({}); it starts on first use",
                    e.root().display()
                ),
                Status::Stopped => println!("Embedded cluster: stopped ({})", e.root().display()),
                Status::Running { pid, port } => {
                    println!(
                        "Embedded cluster: running (pid {pid}, port {port}) in {}",
                        e.root().display()
                    );
                    println!("  etlake:  --db '{}'", e.url()?.redacted());
                    println!("  Python:  ODC_DEFAULT_DB_URL='{}'", e.url()?.python_url());
                    println!(
                        "  TCP:     {} (password in {}/password)",
                        e.tcp_url()?.redacted(),
                        e.root().display()
                    );
                }
            }
            Ok(true)
        }
        DbCommand::Start => {
            let e = Embedded::new(Embedded::default_root(&SystemEnv));
            let url = e.ensure_running()?;
            println!("Embedded cluster running in {}", e.root().display());
            println!("  Python:  ODC_DEFAULT_DB_URL='{}'", url.python_url());
            Ok(true)
        }
        DbCommand::Stop => {
            let e = Embedded::new(Embedded::default_root(&SystemEnv));
            if e.stop()? {
                println!("Stopped the embedded cluster in {}", e.root().display());
            } else {
                println!(
                    "The embedded cluster in {} was not running",
                    e.root().display()
                );
            }
            Ok(true)
        }
    }
}

fn read_all(files: &[std::path::PathBuf]) -> Result<Vec<document::SourceDoc>> {
    let mut docs = Vec::new();
    for f in document::expand_paths(files)? {
        docs.extend(document::read_documents(&f)?);
    }
    if docs.is_empty() {
        return Err(Error::Invalid {
            object: format!("{files:?}"),
            message: "no YAML/JSON documents found".into(),
        });
    }
    Ok(docs)
}

pub fn metadata(conn: &ConnArgs, cmd: &MetadataCommand) -> Result<Success> {
    let mut c = open_index(conn)?;
    match cmd {
        MetadataCommand::Add { files } => {
            let docs = read_all(files)?;
            for d in &docs {
                metadata_type::validate(&d.object, &d.value)?;
            }
            for d in &docs {
                let name = d.value["name"].as_str().unwrap_or_default();
                match metadata_type::add(&mut c, &d.object, &d.value)? {
                    AddOutcome::Added => println!("Added metadata type {name:?}"),
                    AddOutcome::Unchanged => {
                        println!("Metadata type {name:?} is already in the index, unchanged")
                    }
                }
            }
        }
        MetadataCommand::List => {
            for m in metadata_type::list(&mut c)? {
                let desc = m.definition["description"].as_str().unwrap_or_default();
                println!("{:<20}{}", m.name, desc.lines().next().unwrap_or_default());
            }
        }
        MetadataCommand::Show { name } => match metadata_type::get(&mut c, name)? {
            Some(m) => print!("{}", product::to_yaml(&m.definition)),
            None => {
                return Err(Error::NotFound {
                    object: format!("metadata type {name:?}"),
                    message: "not in the index".into(),
                })
            }
        },
    }
    Ok(true)
}

pub fn product(conn: &ConnArgs, cmd: &ProductCommand) -> Result<Success> {
    let mut c = open_index(conn)?;
    match cmd {
        ProductCommand::Add { files } => {
            let docs = read_all(files)?;
            for (name, outcome) in product::add(&mut c, &docs)? {
                match outcome {
                    AddOutcome::Added => println!("Added product {name:?}"),
                    AddOutcome::Unchanged => {
                        println!("Product {name:?} is already in the index, unchanged")
                    }
                }
            }
        }
        ProductCommand::Update {
            files,
            allow_unsafe,
            dry_run,
        } => {
            let docs = read_all(files)?;
            for u in product::update(&mut c, &docs, *allow_unsafe, *dry_run)? {
                let verb = if *dry_run { "Would update" } else { "Updated" };
                if u.safe.is_empty() && u.unsafe_applied.is_empty() {
                    println!("Product {:?}: no changes", u.name);
                    continue;
                }
                println!("{verb} product {:?}", u.name);
                for ch in &u.safe {
                    println!(
                        "  safe change:   {}",
                        catalog_schema::changes::describe(std::slice::from_ref(ch))
                    );
                }
                for ch in &u.unsafe_applied {
                    println!(
                        "  UNSAFE change: {}",
                        catalog_schema::changes::describe(std::slice::from_ref(ch))
                    );
                }
            }
        }
        ProductCommand::List { format } => {
            let products = product::list(&mut c)?;
            match format {
                Format::Table => {
                    println!(
                        "{:<28}{:<12}{:>10}  description",
                        "name", "metadata", "datasets"
                    );
                    for p in &products {
                        let desc = p.definition["description"].as_str().unwrap_or_default();
                        println!(
                            "{:<28}{:<12}{:>10}  {}",
                            p.name, p.metadata_type, p.active_datasets, desc
                        );
                    }
                }
                Format::Csv => {
                    println!("name,metadata_type,datasets,description");
                    for p in &products {
                        let desc = p.definition["description"]
                            .as_str()
                            .unwrap_or_default()
                            .replace('"', "\"\"");
                        println!(
                            "{},{},{},\"{}\"",
                            p.name, p.metadata_type, p.active_datasets, desc
                        );
                    }
                }
                Format::Json => {
                    let rows: Vec<serde_json::Value> = products
                        .iter()
                        .map(|p| serde_json::json!({"name": p.name, "metadata_type": p.metadata_type,
                            "datasets": p.active_datasets, "description": p.definition["description"]}))
                        .collect();
                    println!(
                        "{}",
                        serde_json::to_string_pretty(&rows).unwrap_or_default()
                    );
                }
            }
        }
        ProductCommand::Show { name } => {
            print!(
                "{}",
                product::to_yaml(&product::require(&mut c, name)?.definition)
            )
        }
    }
    Ok(true)
}

pub fn dataset(conn: &ConnArgs, cmd: &DatasetCommand) -> Result<Success> {
    let mut c = open_index(conn)?;
    match cmd {
        DatasetCommand::Add { files, batch_size } => {
            let report = indexer::documents::index_eo3_files(
                &mut c,
                files,
                *batch_size,
                catalog_schema::dataset::WriteOptions::default(),
            )?;
            print_report(&report, format!("run {}", report.run));
            Ok(report.ok())
        }
        DatasetCommand::Update {
            files,
            allow_unsafe,
            dry_run,
            batch_size,
        } => {
            use catalog_schema::dataset::{UpdatePolicy, WriteOptions};
            let options = WriteOptions {
                dry_run: *dry_run,
                update: if *allow_unsafe {
                    UpdatePolicy::Any
                } else {
                    UpdatePolicy::Safe
                },
                ..Default::default()
            };
            let report = indexer::documents::index_eo3_files(&mut c, files, *batch_size, options)?;
            let head = if *dry_run {
                "dry run (nothing written)".to_string()
            } else {
                format!("run {}", report.run)
            };
            print_report(&report, head);
            Ok(report.ok()
                && report
                    .counts
                    .get("exists-different")
                    .is_none_or(|n| *n == 0))
        }
        DatasetCommand::Archive { ids } | DatasetCommand::Restore { ids } => {
            let restore = matches!(cmd, DatasetCommand::Restore { .. });
            let parsed: Vec<uuid::Uuid> = ids
                .iter()
                .map(|s| {
                    uuid::Uuid::parse_str(s).map_err(|_| Error::Invalid {
                        object: format!("dataset id {s:?}"),
                        message: "not a UUID".into(),
                    })
                })
                .collect::<Result<_>>()?;
            let (changed, missing) =
                catalog_schema::dataset::set_archived(&mut c, &parsed, restore)?;
            let verb = if restore { "Restored" } else { "Archived" };
            println!("{verb} {} of {} datasets", changed.len(), parsed.len());
            for m in &missing {
                eprintln!("dataset {m}: not in the index");
            }
            Ok(missing.is_empty())
        }
    }
}

pub fn defs_dir(given: &Option<std::path::PathBuf>) -> std::path::PathBuf {
    indexer::outputs::defs_dir(given.as_deref())
}

pub fn index(conn: &ConnArgs, a: &IndexArgs) -> Result<Success> {
    if a.sources.is_empty()
        && a.from_file.is_none()
        && a.stac_api.is_none()
        && a.sqs.is_none()
        && a.inventory.is_none()
    {
        return Err(Error::Invalid {
            object: "etlake index".into(),
            message:
                "give at least one source (s3://…, a folder, a file, -), --from-file, --stac-api, \
                 --inventory or --sqs"
                    .into(),
        });
    }
    let stac_api = match &a.stac_api {
        Some(api) => Some(indexer::stac_api::StacSearch {
            api: api.clone(),
            collections: a.collections.clone(),
            bbox: a.stac_bbox.as_deref().map(parse_bbox).transpose()?,
            datetime: a.datetime.clone(),
            limit: a.page_size,
            max_items: a.max_items,
        }),
        None => None,
    };
    let env = |k: &str| std::env::var(k).ok();
    let shard = indexer::shard::Shard::resolve(a.shard.as_deref(), a.shard_count, &env).map_err(
        |message| Error::Invalid {
            object: "etlake index --shard".into(),
            message,
        },
    )?;
    if shard.is_none() && env(indexer::shard::K8S_INDEX).is_some() {
        tracing::warn!(
            "${} is set but no shard count is given (--shard /N or --shard-count N): \
             this run takes every object",
            indexer::shard::K8S_INDEX
        );
    }
    let mut c = open_index(conn)?;
    let opts = indexer::pipeline::IndexOptions {
        shard,
        inventory: a.inventory.clone(),
        sources: a.sources.clone(),
        from_file: a.from_file.clone(),
        products: a.products.clone(),
        batch_size: a.batch_size,
        s3: indexer::s3::S3Options {
            endpoint_url: a.endpoint_url.clone(),
            no_sign_request: a.no_sign_request,
            request_payer: a.request_payer,
            region: a.region.clone(),
        },
        defs_dir: defs_dir(&a.defs),
        dry_run: a.dry_run,
        recheck: a.recheck,
        report_file: a.report.clone(),
        stac_api,
        lineage: match (a.skip_lineage, a.fail_on_missing_lineage) {
            (true, _) => catalog_schema::dataset::LineagePolicy::Skip,
            (_, true) => catalog_schema::dataset::LineagePolicy::FailOnMissing,
            _ => catalog_schema::dataset::LineagePolicy::Record,
        },
        href_rewrites: a
            .href_rewrite
            .iter()
            .map(|r| {
                r.split_once('=')
                    .map(|(f, t)| (f.to_string(), t.to_string()))
                    .ok_or_else(|| Error::Invalid {
                        object: format!("--href-rewrite {r}"),
                        message: "expected FROM=TO".into(),
                    })
            })
            .collect::<Result<_>>()?,
        rename_product: a.rename_product.clone(),
        archive_less_mature: a.archive_less_mature,
        update: match (a.update_if_exists, a.allow_unsafe) {
            (false, _) => catalog_schema::dataset::UpdatePolicy::Never,
            (true, false) => catalog_schema::dataset::UpdatePolicy::Safe,
            (true, true) => catalog_schema::dataset::UpdatePolicy::Any,
        },
        raw_update: if a.allow_unsafe {
            catalog_schema::dataset::UpdatePolicy::Any
        } else {
            catalog_schema::dataset::UpdatePolicy::Safe
        },
        ..Default::default()
    };
    if let Some(queue) = &a.sqs {
        return index_sqs(&mut c, &opts, a, queue);
    }
    let bar = indicatif::ProgressBar::new_spinner();
    bar.set_style(
        indicatif::ProgressStyle::with_template("{spinner} {elapsed} {msg}")
            .expect("valid template"),
    );
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    let show = |r: &indexer::pipeline::Report| {
        let secs = r.elapsed.as_secs_f64().max(1e-3);
        let st = &r.stages;
        let stage = |n: usize, what: &str| format!("{n} {what} ({:.0}/s)", n as f64 / secs);
        let parts: Vec<String> = r.counts.iter().map(|(k, v)| format!("{v} {k}")).collect();
        bar.set_message(format!(
            "{} → {} → {} → {} | {}",
            stage(st.listed, "listed"),
            stage(st.recognised, "recognised"),
            stage(st.extracted, "extracted"),
            stage(st.written, "written"),
            parts.join(", ")
        ));
    };
    let result = indexer::pipeline::index(&mut c, &opts, &show);
    bar.finish_and_clear();
    let report = result.map_err(|e| Error::Invalid {
        object: "etlake index".into(),
        message: e.to_string(),
    })?;
    let mut head = if a.dry_run {
        "dry run (nothing written)".to_string()
    } else {
        format!("run {}", report.run)
    };
    if let Some(s) = shard {
        head = format!("{head} (shard {}/{})", s.index, s.count);
    }
    print_report(&report, head);
    if a.dry_run {
        print_claims(&report);
    }
    Ok(report.ok())
}

/// `etlake index --sqs`: batches until the queue is empty (--drain) or a signal; the summary as a
/// crawl's, with the messages' account.
fn index_sqs(
    c: &mut Catalog,
    opts: &indexer::pipeline::IndexOptions,
    a: &IndexArgs,
    queue: &str,
) -> Result<Success> {
    let sqs = indexer::sqs::SqsOptions {
        queue_url: queue.to_string(),
        drain: a.drain,
        visibility_timeout: a.visibility_timeout,
        wait_seconds: a.wait_time,
        region: a.region.clone(),
    };
    let progress = |r: &indexer::sqs::SqsReport| {
        let parts: Vec<String> = r
            .report
            .counts
            .iter()
            .map(|(k, v)| format!("{v} {k}"))
            .collect();
        tracing::info!(
            "{} messages received, {} deleted, {} failed | {}",
            r.received,
            r.deleted,
            r.failed,
            parts.join(", ")
        );
    };
    let r = indexer::sqs::run(c, opts, &sqs, &progress).map_err(|e| Error::Invalid {
        object: "etlake index --sqs".into(),
        message: e.to_string(),
    })?;
    let head = if a.dry_run {
        format!("{queue} dry run (nothing written, no message deleted)")
    } else {
        queue.to_string()
    };
    print_report(&r.report, head);
    let ignored: Vec<String> = r.ignored.iter().map(|(k, v)| format!("{v} {k}")).collect();
    println!(
        "  messages: {} received in {} batches, {} deleted, {} left on the queue (failed){}",
        r.received,
        r.batches,
        r.deleted,
        r.failed,
        if ignored.is_empty() {
            String::new()
        } else {
            format!("; events ignored: {}", ignored.join(", "))
        }
    );
    Ok(r.ok())
}

/// Problems to stderr (without repeating an object its reason already names), then the summary:
/// outcome counts, time and rate, and skip reasons.
pub fn print_report(report: &indexer::pipeline::Report, head: String) {
    for (object, reason) in &report.problems {
        let plain = object.strip_prefix("file://").unwrap_or(object);
        if reason.starts_with(object.as_str()) || reason.starts_with(plain) {
            eprintln!("{reason}");
        } else {
            eprintln!("{object}: {reason}");
        }
    }
    let parts: Vec<String> = report
        .counts
        .iter()
        .map(|(k, v)| format!("{v} {k}"))
        .collect();
    let total: usize = report.counts.values().sum();
    let secs = report.elapsed.as_secs_f64().max(1e-3);
    let what = if parts.is_empty() {
        "nothing to do".to_string()
    } else {
        parts.join(", ")
    };
    println!(
        "{head}: {what} in {secs:.1} s ({:.0} objects/s)",
        total as f64 / secs
    );
    if report.stages.other_shards > 0 {
        println!(
            "  left to other shards {}: listed here, read and reported by the runs of their shards",
            report.stages.other_shards
        );
    }
    if report.stages.not_reread > 0 {
        println!(
            "  not read again {}: same version as last read (--recheck reads them)",
            report.stages.not_reread
        );
    }
    let rec = &report.recognition;
    for (key, (n, first)) in &rec.notes {
        println!("  note {n}: {key} (e.g. {first})");
    }
    for (reason, n) in &report.skipped {
        println!("  skipped {n}: {reason}");
        if reason == indexer::unclaimed::NO_TEMPLATE {
            for (object, why) in &rec.unclaimed {
                let why = why.strip_prefix(reason.as_str()).unwrap_or(why);
                let why = why
                    .split_once("; to index such files")
                    .map_or(why, |(w, _)| w);
                println!(
                    "    {}{why}",
                    object.strip_prefix("file://").unwrap_or(object)
                );
            }
            if *n > rec.unclaimed.len() {
                println!("    … (--report FILE lists every one with its closest templates)");
            }
            println!("    {}", indexer::unclaimed::RECIPE);
        }
    }
}

/// A dry run's account of what claimed the raw files: each recognition file and template, with the
/// product, the number of objects and the first of them.
pub fn print_claims(report: &indexer::pipeline::Report) {
    for (c, (n, first)) in &report.recognition.claims {
        let object = first.strip_prefix("file://").unwrap_or(first);
        let files = if *n == 1 { "file" } else { "files" };
        println!(
            "  claimed {n} {files} as {} by {} template {:?} (e.g. {object})",
            c.product, c.spec_file, c.template
        );
    }
}

/// `etlake serve`: the STAC API over the index until SIGINT/SIGTERM.
pub fn serve(conn: &ConnArgs, a: &crate::cli::ServeArgs) -> Result<Success> {
    let url = open_index(conn)?.url().clone();
    if let Some(b) = &a.base_url {
        if !(b.starts_with("http://") || b.starts_with("https://")) {
            return Err(catalog_schema::Error::Invalid {
                object: format!("--base-url {b}"),
                message: "expected an http:// or https:// URL".into(),
            });
        }
    }
    let options = server::Options {
        bind: a.bind,
        base_url: a.base_url.clone(),
        connections: a.connections,
        request_timeout: std::time::Duration::from_secs(a.request_timeout.max(1)),
        cors_origin: a.cors_origin.clone(),
        extents_max_age: std::time::Duration::from_secs(a.extents_max_age),
        ..Default::default()
    };
    server::run(url, options).map_err(catalog_schema::Error::Config)?;
    Ok(true)
}

pub fn search(conn: &ConnArgs, a: &SearchArgs) -> Result<Success> {
    use catalog_schema::search;
    let bbox = a.bbox.as_deref().map(parse_bbox).transpose()?;
    let time = a
        .time
        .as_deref()
        .map(search::parse_time_range)
        .transpose()?;
    let mut c = open_index(conn)?;
    let query = search::Query {
        product: a.product.clone(),
        time,
        bbox,
        limit: a.limit,
    };
    if a.explain {
        println!("{}", search::explain(&mut c, &query)?);
        return Ok(true);
    }
    let found = search::search(&mut c, &query)?;
    let prop = |f: &search::Found, k: &str| {
        f.metadata()["properties"]
            .get(k)
            .and_then(|v| v.as_str())
            .unwrap_or("")
            .to_string()
    };
    match a.format {
        Format::Json => {
            let rows: Vec<serde_json::Value> = found
                .iter()
                .map(|f| serde_json::json!({"id": f.id, "product": a.product, "datetime": prop(f, "datetime"),
                    "region_code": f.metadata()["properties"].get("odc:region_code"), "extent": f.metadata()["extent"], "uris": f.uris}))
                .collect();
            println!(
                "{}",
                serde_json::to_string_pretty(&rows).unwrap_or_default()
            );
        }
        Format::Csv => {
            println!("id,datetime,region_code,uri");
            for f in &found {
                println!(
                    "{},{},{},{}",
                    f.id,
                    prop(f, "datetime"),
                    prop(f, "odc:region_code"),
                    f.uris.first().cloned().unwrap_or_default()
                );
            }
        }
        Format::Table => {
            for f in &found {
                println!(
                    "{}  {:<28} {:<8} {}",
                    f.id,
                    prop(f, "datetime"),
                    prop(f, "odc:region_code"),
                    f.uris.first().cloned().unwrap_or_default()
                );
            }
            eprintln!("{} datasets", found.len());
        }
    }
    Ok(true)
}
