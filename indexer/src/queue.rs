//! The SQS side of `etlake index --sqs`: a client for one queue (endpoint and region taken from the
//! queue URL unless `AWS_ENDPOINT_URL_SQS` says otherwise), long-polled receives that give way to a stop
//! request, visibility extended in the background while a batch is worked on, and batched deletes.
use crate::{Error, Result};
use aws_sdk_sqs::error::DisplayErrorContext;
use aws_sdk_sqs::types::{
    ChangeMessageVisibilityBatchRequestEntry, DeleteMessageBatchRequestEntry,
};
use aws_sdk_sqs::Client;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// One received message.
#[derive(Debug, Clone)]
pub struct Message {
    /// SQS's message id (what reports name).
    pub id: String,
    /// The handle that deletes it or changes its visibility.
    pub receipt: String,
    /// The body.
    pub body: String,
    /// How many times it was received (this time included), when SQS says.
    pub receive_count: Option<u32>,
}

/// A client of one queue with its own runtime, usable from synchronous code and a heartbeat thread.
#[derive(Clone)]
pub struct Queue {
    runtime: Arc<tokio::runtime::Runtime>,
    client: Client,
    /// The queue URL.
    pub url: String,
}

/// The region in a queue URL such as `https://sqs.us-west-2.amazonaws.com/123456789012/name`.
pub fn region_of(url: &str) -> Option<String> {
    let host = url.split("://").nth(1)?.split('/').next()?;
    let rest = host.strip_prefix("sqs.")?;
    let (region, domain) = rest.split_once('.')?;
    domain
        .starts_with("amazonaws.com")
        .then(|| region.to_string())
}

/// The scheme and host of a URL (`http://127.0.0.1:5000/123/q` → `http://127.0.0.1:5000`).
fn origin_of(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let host = rest.split('/').next().filter(|h| !h.is_empty())?;
    Some(format!("{scheme}://{host}"))
}

impl Queue {
    /// A client for the queue at `url` (credentials from the standard AWS chain).
    pub fn new(url: &str, region: Option<&str>) -> Result<Queue> {
        let bad = |m: String| Error::Queue {
            queue: url.to_string(),
            message: m,
        };
        let endpoint = std::env::var("AWS_ENDPOINT_URL_SQS")
            .ok()
            .or_else(|| origin_of(url))
            .ok_or_else(|| {
                bad(
                    "not a queue URL (expected https://sqs.REGION.amazonaws.com/ACCOUNT/NAME)"
                        .into(),
                )
            })?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|source| Error::Io {
                path: "tokio runtime".into(),
                source,
            })?;
        let region = region.map(str::to_string).or_else(|| region_of(url));
        let client = runtime.block_on(async {
            let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
            if let Some(r) = &region {
                loader = loader.region(aws_config::Region::new(r.clone()));
            }
            let shared = loader.load().await;
            let mut conf = aws_sdk_sqs::config::Builder::from(&shared).endpoint_url(endpoint);
            if shared.region().is_none() {
                conf = conf.region(aws_config::Region::new("us-east-1"));
            }
            Client::from_conf(conf.build())
        });
        Ok(Queue {
            runtime: Arc::new(runtime),
            client,
            url: url.to_string(),
        })
    }

    fn error(&self, what: &str, e: impl std::error::Error) -> Error {
        Error::Queue {
            queue: self.url.clone(),
            message: format!("{what}: {}", DisplayErrorContext(e)),
        }
    }

    /// Up to `max` messages, waiting up to `wait` seconds for the first (long polling), each hidden from
    /// other consumers for `visibility` seconds. Returns early with none once `stop` is set.
    pub fn receive(
        &self,
        max: i32,
        wait: i32,
        visibility: i32,
        stop: &AtomicBool,
    ) -> Result<Vec<Message>> {
        let call = self
            .client
            .receive_message()
            .queue_url(&self.url)
            .max_number_of_messages(max)
            .wait_time_seconds(wait)
            .visibility_timeout(visibility)
            .message_system_attribute_names(
                aws_sdk_sqs::types::MessageSystemAttributeName::ApproximateReceiveCount,
            )
            .send();
        let out = self.runtime.block_on(async {
            tokio::select! {
                r = call => Some(r),
                _ = async {
                    while !stop.load(Ordering::SeqCst) {
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                } => None,
            }
        });
        let Some(out) = out else {
            return Ok(Vec::new());
        };
        let out = out.map_err(|e| self.error("receiving messages", e))?;
        Ok(out
            .messages()
            .iter()
            .filter_map(|m| {
                let count = m
                    .attributes()
                    .and_then(|a| {
                        a.get(&aws_sdk_sqs::types::MessageSystemAttributeName::ApproximateReceiveCount)
                    })
                    .and_then(|c| c.parse().ok());
                Some(Message {
                    id: m.message_id()?.to_string(),
                    receipt: m.receipt_handle()?.to_string(),
                    body: m.body().unwrap_or_default().to_string(),
                    receive_count: count,
                })
            })
            .collect())
    }

    /// Sets the messages' visibility timeout to `seconds` from now (in batches of 10); returns the ids
    /// SQS refused, with its reason.
    pub fn extend(&self, messages: &[&Message], seconds: i32) -> Result<Vec<(String, String)>> {
        let mut refused = Vec::new();
        for chunk in messages.chunks(10) {
            let entries: Vec<ChangeMessageVisibilityBatchRequestEntry> = chunk
                .iter()
                .enumerate()
                .filter_map(|(i, m)| {
                    ChangeMessageVisibilityBatchRequestEntry::builder()
                        .id(i.to_string())
                        .receipt_handle(&m.receipt)
                        .visibility_timeout(seconds)
                        .build()
                        .ok()
                })
                .collect();
            let out = self
                .runtime
                .block_on(
                    self.client
                        .change_message_visibility_batch()
                        .queue_url(&self.url)
                        .set_entries(Some(entries))
                        .send(),
                )
                .map_err(|e| self.error("extending visibility", e))?;
            refused.extend(failures(chunk, out.failed()));
        }
        Ok(refused)
    }

    /// Deletes the messages (in batches of 10); returns the ids SQS refused, with its reason.
    pub fn delete(&self, messages: &[&Message]) -> Result<Vec<(String, String)>> {
        let mut refused = Vec::new();
        for chunk in messages.chunks(10) {
            let entries: Vec<DeleteMessageBatchRequestEntry> = chunk
                .iter()
                .enumerate()
                .filter_map(|(i, m)| {
                    DeleteMessageBatchRequestEntry::builder()
                        .id(i.to_string())
                        .receipt_handle(&m.receipt)
                        .build()
                        .ok()
                })
                .collect();
            let out = self
                .runtime
                .block_on(
                    self.client
                        .delete_message_batch()
                        .queue_url(&self.url)
                        .set_entries(Some(entries))
                        .send(),
                )
                .map_err(|e| self.error("deleting messages", e))?;
            refused.extend(failures(chunk, out.failed()));
        }
        Ok(refused)
    }

    /// Sets a flag on SIGINT or SIGTERM (the batch in hand is finished, then the run ends); a second
    /// signal ends the process at once.
    pub fn stop_on_signals(&self) -> Arc<AtomicBool> {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        self.runtime.spawn(async move {
            use tokio::signal::unix::{signal, SignalKind};
            let (Ok(mut term), Ok(mut int)) = (
                signal(SignalKind::terminate()),
                signal(SignalKind::interrupt()),
            ) else {
                tracing::warn!("cannot listen for SIGTERM/SIGINT");
                return;
            };
            loop {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = int.recv() => {}
                }
                if flag.swap(true, Ordering::SeqCst) {
                    std::process::exit(130);
                }
                tracing::warn!(
                    "stopping: the batch in hand is finished first (signal again to stop at once)"
                );
            }
        });
        stop
    }
}

fn failures(
    chunk: &[&Message],
    failed: &[aws_sdk_sqs::types::BatchResultErrorEntry],
) -> Vec<(String, String)> {
    failed
        .iter()
        .filter_map(|f| {
            let m = chunk.get(f.id().parse::<usize>().ok()?)?;
            Some((
                m.id.clone(),
                format!("{}: {}", f.code(), f.message().unwrap_or_default()),
            ))
        })
        .collect()
}

/// Extends the visibility of a batch's messages every third of `visibility` seconds until dropped, so
/// no other consumer receives them while the batch is still being worked on.
pub struct Heartbeat {
    done: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Heartbeat {
    /// Starts extending the visibility of `messages`.
    pub fn start(queue: &Queue, messages: Vec<Message>, visibility: i32) -> Heartbeat {
        let done = Arc::new(AtomicBool::new(false));
        let (q, flag) = (queue.clone(), done.clone());
        let period = Duration::from_millis((visibility.max(1) as u64 * 1000) / 3);
        let thread = std::thread::spawn(move || {
            let mut last = std::time::Instant::now();
            while !flag.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(50));
                if last.elapsed() < period {
                    continue;
                }
                last = std::time::Instant::now();
                let refs: Vec<&Message> = messages.iter().collect();
                match q.extend(&refs, visibility) {
                    Ok(refused) => {
                        for (id, why) in refused {
                            tracing::warn!("message {id}: visibility not extended: {why}");
                        }
                    }
                    Err(e) => tracing::warn!("{e}"),
                }
            }
        });
        Heartbeat {
            done,
            thread: Some(thread),
        }
    }
}

impl Drop for Heartbeat {
    fn drop(&mut self) {
        self.done.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_and_endpoints_from_queue_urls() {
        assert_eq!(
            region_of("https://sqs.us-west-2.amazonaws.com/123456789012/q").as_deref(),
            Some("us-west-2")
        );
        assert_eq!(region_of("http://127.0.0.1:5000/123456789012/q"), None);
        assert_eq!(
            origin_of("http://127.0.0.1:5000/123456789012/q").as_deref(),
            Some("http://127.0.0.1:5000")
        );
        assert_eq!(origin_of("q"), None);
    }
}
