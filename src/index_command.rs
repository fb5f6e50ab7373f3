//! `etlake index`: a crawl of the sources (or a queue's messages with `--sqs`) through the indexer's
//! pipeline; its account is printed by `report`.
use crate::cli::{ConnArgs, IndexArgs};
use crate::commands::{open_index, parse_bbox, Success};
use crate::report::{print_claims, print_report};
use catalog_schema::{Catalog, Error, Result};

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
    let shard = indexer::shard::Shard::resolve(a.shard.as_deref(), a.shard_count, &env)
        .unwrap_or_else(|m| crate::cli::usage_error(format!("etlake index --shard: {m}")));
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
