//! One function per command (`index` is in `index_command`, `sync` in `sync_command`, the model's in
//! `model_commands`): each opens the index through `catalog_schema`, calls the library and
//! prints the result. Errors bubble up to `main`, which turns them into the exit code.
use crate::cli::{
    ConnArgs, DatasetCommand, DbCommand, Format, MetadataCommand, ProductCommand, SearchArgs,
};
use crate::report::print_report;
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
