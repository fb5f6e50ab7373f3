//! `etlake index --sqs QUEUE_URL`: index deliveries as S3 announces them. Each long-polled receive
//! (up to 10 messages), with the messages already waiting behind it (up to `--batch-size`), is one batch: created objects go through recognition and indexing as a crawl
//! would (one run of the pipeline, checkpoints making a redelivered message harmless), removed objects
//! lose their locations (datasets left without one are archived), and only the messages whose work is
//! committed are deleted. A message that fails stays on the queue for redelivery (and its dead-letter
//! queue after `maxReceiveCount`), with a report row naming the message and the object.
use crate::events::{self, Event};
use crate::pipeline::{self, IndexOptions, Report};
use crate::queue::{Heartbeat, Message, Queue};
use crate::s3::ObjectRef;
use crate::{Error, Result};
use catalog_schema::Catalog;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// How to read the queue.
#[derive(Debug, Clone)]
pub struct SqsOptions {
    /// The queue URL.
    pub queue_url: String,
    /// Stop once a receive finds the queue empty (else run until SIGTERM/SIGINT).
    pub drain: bool,
    /// Seconds a received message stays hidden; extended every third of it while the batch works.
    pub visibility_timeout: i32,
    /// Long-polling wait of each receive, in seconds (at most 20).
    pub wait_seconds: i32,
    /// Region of the queue (else from its URL, else the AWS chain's).
    pub region: Option<String>,
}

/// The account of an SQS run: the pipeline's account summed over the batches, and the messages.
#[derive(Debug, Default, Clone)]
pub struct SqsReport {
    /// Outcomes of every object (as a crawl reports them), with the message failures as `failed`.
    pub report: Report,
    /// Messages received (a redelivered message counts each time).
    pub received: usize,
    /// Messages deleted after their work was committed.
    pub deleted: usize,
    /// Messages left on the queue because something in them failed.
    pub failed: usize,
    /// Events ignored (S3's test event, other event kinds), by what they were.
    pub ignored: BTreeMap<String, usize>,
    /// Batches worked on.
    pub batches: usize,
}

impl SqsReport {
    /// True when no message and no object failed.
    pub fn ok(&self) -> bool {
        self.failed == 0 && self.report.ok()
    }

    fn absorb(&mut self, r: Report) {
        let total = &mut self.report;
        for (k, v) in r.counts {
            *total.counts.entry(k).or_insert(0) += v;
        }
        total.problems.extend(r.problems);
        for (k, v) in r.skipped {
            *total.skipped.entry(k).or_insert(0) += v;
        }
        let (a, b) = (&mut total.stages, r.stages);
        a.listed += b.listed;
        a.recognised += b.recognised;
        a.extracted += b.extracted;
        a.written += b.written;
        a.not_reread += b.not_reread;
        a.other_shards += b.other_shards;
        total.failed_objects.extend(r.failed_objects);
        total.run = r.run;
    }
}

/// What one message asked for and how it went.
struct Job {
    message: Message,
    /// Why it failed (the first reason), if it did.
    failure: Option<String>,
    /// Whether the failure is already an object's `failed` outcome in the account.
    counted: bool,
}

/// Reads the queue until it is empty (`drain`) or `stop` is set, indexing batch by batch. `progress`
/// sees the account after each batch. An error of the queue or the index ends the run; the messages in
/// hand are then left for redelivery.
pub fn run(
    catalog: &mut Catalog,
    opts: &IndexOptions,
    sqs: &SqsOptions,
    progress: &dyn Fn(&SqsReport),
) -> Result<SqsReport> {
    let started = std::time::Instant::now();
    let queue = Queue::new(&sqs.queue_url, sqs.region.as_deref())?;
    let stop = queue.stop_on_signals();
    let mut acc = SqsReport::default();
    if let Some(p) = &opts.report_file {
        // One report file for the whole run: started afresh here, appended to by each batch.
        std::fs::File::create(p).map_err(|source| Error::Io {
            path: p.clone(),
            source,
        })?;
    }
    let visibility = sqs.visibility_timeout.max(1);
    while !stop.load(Ordering::SeqCst) {
        let mut messages = queue.receive(10, sqs.wait_seconds.clamp(0, 20), visibility, &stop)?;
        // Messages already waiting join the batch (receives of 10 without waiting), up to
        // --batch-size: one run of the pipeline (its set-up, run record and transactions) serves them all.
        while !messages.is_empty()
            && messages.len() + 10 <= opts.batch_size.max(10)
            && !stop.load(Ordering::SeqCst)
        {
            let more = queue.receive(10, 0, visibility, &stop)?;
            if more.is_empty() {
                break;
            }
            messages.extend(more);
        }
        if messages.is_empty() {
            if sqs.drain {
                break;
            }
            continue;
        }
        tracing::info!(messages = messages.len(), "batch received");
        acc.received += messages.len();
        acc.batches += 1;
        let heartbeat = Heartbeat::start(&queue, messages.clone(), visibility);
        let jobs = batch(catalog, opts, sqs, &mut acc, messages)?;
        drop(heartbeat);
        // A dry run changes nothing, on the queue either: every message is delivered again.
        let done: Vec<&Message> = jobs
            .iter()
            .filter(|j| j.failure.is_none() && !opts.dry_run)
            .map(|j| &j.message)
            .collect();
        for (id, why) in queue.delete(&done)? {
            tracing::warn!("message {id}: not deleted ({why}); it will be delivered again");
        }
        acc.deleted += done.len();
        let mut rows = Vec::new();
        for j in jobs.iter().filter(|j| j.failure.is_some()) {
            let why = j.failure.clone().unwrap_or_default();
            let count = j
                .message
                .receive_count
                .map(|c| format!(" (received {c} times)"))
                .unwrap_or_default();
            tracing::error!(
                "message {}{count}: {why}; left on the queue for redelivery",
                j.message.id
            );
            acc.failed += 1;
            // An object's failure is in the account already; a message's own failure is added.
            if !j.counted {
                acc.report.add("failed");
                acc.report
                    .problems
                    .push((format!("message {}", j.message.id), why.clone()));
            }
            rows.push(
                serde_json::json!({"message": j.message.id, "outcome": "failed",
                "stage": "message", "error": why, "receive_count": j.message.receive_count}),
            );
        }
        append_rows(opts, &rows)?;
        acc.report.elapsed = started.elapsed();
        progress(&acc);
    }
    acc.report.elapsed = started.elapsed();
    Ok(acc)
}

/// Works on one batch of messages: parses them, indexes what was created, removes what was removed.
fn batch(
    catalog: &mut Catalog,
    opts: &IndexOptions,
    sqs: &SqsOptions,
    acc: &mut SqsReport,
    messages: Vec<Message>,
) -> Result<Vec<Job>> {
    let mut jobs: Vec<Job> = Vec::with_capacity(messages.len());
    // The last event of each object in the batch wins (a PUT then a DELETE leaves nothing to index),
    // with the messages that announced it.
    let mut last: HashMap<String, (usize, Event)> = HashMap::new();
    let mut owners: HashMap<String, Vec<usize>> = HashMap::new();
    let mut order = 0usize;
    for (i, m) in messages.into_iter().enumerate() {
        let mut job = Job {
            message: m,
            failure: None,
            counted: false,
        };
        match events::parse(&job.message.body) {
            Err(e) => job.failure = Some(format!("message body: {e}")),
            Ok(evs) => {
                for e in evs {
                    let uri = match &e {
                        Event::Created { uri, .. }
                        | Event::Removed { uri }
                        | Event::Document { uri, .. } => uri.clone(),
                        Event::Ignored(what) => {
                            let key = what.split(" of ").next().unwrap_or(what).to_string();
                            *acc.ignored.entry(key).or_insert(0) += 1;
                            continue;
                        }
                    };
                    owners.entry(uri.clone()).or_default().push(i);
                    last.insert(uri, (order, e));
                    order += 1;
                }
            }
        }
        jobs.push(job);
    }
    let mut work: Vec<(usize, Event)> = last.into_values().collect();
    work.sort_by_key(|(o, _)| *o);
    let mut objects = Vec::new();
    let mut removed = Vec::new();
    for (_, e) in work {
        match e {
            Event::Created { uri, size, etag } => objects.push(ObjectRef {
                uri,
                size,
                etag,
                body: None,
            }),
            Event::Document { uri, body } => objects.push(ObjectRef {
                uri,
                size: Some(body.len() as u64),
                etag: None,
                body: Some(Arc::new(body)),
            }),
            Event::Removed { uri } => removed.push(uri),
            Event::Ignored(_) => {}
        }
    }
    let mut fail = |uri: &str, why: String, counted: bool| {
        for &i in owners.get(uri).into_iter().flatten() {
            if jobs[i].failure.is_none() {
                jobs[i].failure = Some(format!("{uri}: {why}"));
                jobs[i].counted = counted;
            }
        }
    };
    if !objects.is_empty() {
        let mut o = opts.clone();
        o.objects = objects;
        o.sources = Vec::new();
        o.from_file = None;
        o.stac_api = None;
        o.run_label = Some(sqs.queue_url.clone());
        o.report_append = true;
        let report = pipeline::index(catalog, &o, &|_| {})?;
        for (object, reason) in &report.problems {
            if report.failed_objects.contains(object) {
                fail(object, reason.clone(), true);
            }
        }
        for object in &report.failed_objects {
            fail(object, "failed (see the report)".into(), true);
        }
        acc.absorb(report);
    }
    let mut rows = Vec::new();
    for uri in removed {
        if opts.dry_run {
            acc.report.add("would-remove");
            continue;
        }
        let removed = catalog.reconnecting("removing locations", |c| {
            catalog_schema::locations::remove_object(c, &uri)
        });
        match removed {
            Ok(gone) => {
                if gone.is_empty() {
                    acc.report.add("not-indexed");
                    rows.push(serde_json::json!({"uri": uri, "outcome": "not-indexed",
                        "stage": "remove", "error": "removed; no dataset was located there"}));
                }
                for d in gone {
                    let outcome = if d.archived { "archived" } else { "unlocated" };
                    acc.report.add(outcome);
                    let why = if d.archived {
                        "its only location was removed"
                    } else {
                        "location removed; the dataset has another location (or was archived already)"
                    };
                    rows.push(serde_json::json!({"uri": uri, "product": d.product,
                        "dataset": d.id, "outcome": outcome, "stage": "remove", "error": why}));
                }
            }
            Err(e) => fail(&uri, e.to_string(), false),
        }
    }
    if !opts.dry_run {
        append_rows(opts, &rows)?;
    }
    Ok(jobs)
}

fn append_rows(opts: &IndexOptions, rows: &[serde_json::Value]) -> Result<()> {
    use std::io::Write;
    let (Some(p), false) = (&opts.report_file, rows.is_empty()) else {
        return Ok(());
    };
    let io = |source| Error::Io {
        path: p.clone(),
        source,
    };
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(p)
        .map_err(io)?;
    for r in rows {
        writeln!(f, "{r}").map_err(io)?;
    }
    Ok(())
}
