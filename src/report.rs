//! The account of an index run as every indexing command prints it (`index`, `dataset add`,
//! `sync --index`, `veget run`): problems, outcome counts, rate and skip reasons, and a dry run's claims.

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
