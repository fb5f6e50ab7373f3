//! `etlake serve`: a STAC API (core, collections, OGC API Features, item search with CQL2 filter,
//! sort and fields) over the same ODC
//! index the indexer writes, serving the STAC items it stores in `etlake.stac_item`. Depends on
//! catalog-schema only; the CLI is a thin subcommand over [`run`].
#![deny(missing_docs)]

mod bind;
mod columns;
mod docs;
mod error;
mod extents;
mod fields;
mod filter;
mod geometry;
mod params;
mod pool;
mod products;
mod routes;
mod sort;
mod store;
mod temporal;

pub use error::ApiError;

use axum::routing::get;
use axum::Router;
use catalog_schema::DbUrl;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// How to serve.
#[derive(Debug, Clone)]
pub struct Options {
    /// Address to listen on (loopback unless told otherwise; port 0 picks a free one).
    pub bind: SocketAddr,
    /// The public URL of the API root that links are built from (default: http://BIND).
    pub base_url: Option<String>,
    /// Database connections at most (requests beyond wait).
    pub connections: usize,
    /// The longest a request may take (the database statement timeout is the same).
    pub request_timeout: Duration,
    /// Allowed CORS origin (`*` for any); none sends no CORS headers.
    pub cors_origin: Option<String>,
    /// Largest request body accepted, in bytes.
    pub max_body: usize,
    /// How long the collections' extents are reused (zero: computed for every request).
    pub extents_max_age: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            bind: SocketAddr::from(([127, 0, 0, 1], 8080)),
            base_url: None,
            connections: 4,
            request_timeout: Duration::from_secs(60),
            cors_origin: None,
            max_body: 1 << 20,
            extents_max_age: Duration::from_secs(5),
        }
    }
}

/// The API's routes and layers (gzip, body limit, time limit, optional CORS).
fn router(state: Arc<routes::AppState>, o: &Options) -> Result<Router, String> {
    use tower_http::{
        compression::CompressionLayer, cors, limit::RequestBodyLimitLayer, timeout::TimeoutLayer,
    };
    let mut app = Router::new()
        .route("/", get(routes::landing))
        .route("/conformance", get(routes::conformance))
        .route("/api", get(routes::api))
        .route("/api.html", get(routes::api_html))
        .route("/collections", get(routes::collections))
        .route("/collections/{id}", get(routes::collection))
        .route("/collections/{id}/items", get(routes::items))
        .route("/collections/{id}/items/{item}", get(routes::item))
        .route("/queryables", get(routes::queryables))
        .route(
            "/collections/{id}/queryables",
            get(routes::collection_queryables),
        )
        .route("/search", get(routes::search_get).post(routes::search_post))
        .fallback(routes::not_found)
        .with_state(state)
        .layer(CompressionLayer::new())
        .layer(RequestBodyLimitLayer::new(o.max_body))
        .layer(TimeoutLayer::with_status_code(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            o.request_timeout,
        ));
    if let Some(origin) = &o.cors_origin {
        let allow = if origin == "*" {
            cors::AllowOrigin::any()
        } else {
            let v = origin
                .parse::<axum::http::HeaderValue>()
                .map_err(|_| format!("--cors-origin {origin:?}: not a valid origin"))?;
            cors::AllowOrigin::exact(v)
        };
        app = app.layer(
            cors::CorsLayer::new()
                .allow_origin(allow)
                .allow_methods(cors::Any)
                .allow_headers(cors::Any),
        );
    }
    Ok(app)
}

/// Waits for SIGINT or SIGTERM.
async fn shutdown_signal() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {},
        _ = term => {},
    }
    tracing::info!("shutting down: finishing requests under way");
}

/// The plan Postgres makes for the first page of a search given as a POST body (`EXPLAIN`), on a
/// read-only connection to `url`: to see which indexes serve a filter.
pub fn explain(url: &DbUrl, body: &serde_json::Value) -> Result<String, String> {
    let (q, _) = params::from_body(body.to_string().as_bytes()).map_err(|e| e.description)?;
    let pool = pool::Pool::open(url.clone(), 1, 60_000).map_err(|e| e.description)?;
    pool.with(|c| store::explain(c, &q))
        .map_err(|e| e.description)
}

/// Serves the index at `url` until SIGINT or SIGTERM (requests under way finish). Prints
/// `listening on URL` to stdout once the socket is bound.
pub fn run(url: DbUrl, o: Options) -> Result<(), String> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("starting the server runtime: {e}"))?;
    // The pool outlives the runtime's tasks: its synchronous connections must close outside async
    // code (closing one blocks).
    let mut keep = None;
    let served = rt.block_on(async {
        let statement_timeout_ms = o.request_timeout.as_millis() as u64;
        let pool = {
            let (url, n) = (url.clone(), o.connections);
            tokio::task::spawn_blocking(move || pool::Pool::open(url, n, statement_timeout_ms))
                .await
                .map_err(|e| e.to_string())?
                .map_err(|e| e.description)?
        };
        let listener = tokio::net::TcpListener::bind(o.bind)
            .await
            .map_err(|e| format!("--bind {}: {e}", o.bind))?;
        let bound = listener.local_addr().map_err(|e| e.to_string())?;
        let base = o
            .base_url
            .clone()
            .unwrap_or_else(|| format!("http://{bound}"))
            .trim_end_matches('/')
            .to_string();
        let pool = Arc::new(pool);
        keep = Some(pool.clone());
        let state = Arc::new(routes::AppState {
            pool,
            base: base.clone(),
            statement_timeout_ms,
            extents: extents::Extents::new(o.extents_max_age),
        });
        let app = router(state, &o)?;
        println!(
            "listening on {base} (bound to {bound}; database {})",
            url.redacted()
        );
        use std::io::Write;
        let _ = std::io::stdout().flush();
        axum::serve(listener, app)
            .with_graceful_shutdown(shutdown_signal())
            .await
            .map_err(|e| format!("serving: {e}"))
    });
    drop(rt);
    drop(keep);
    served
}
