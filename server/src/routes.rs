//! The HTTP routes: each handler checks its parameters, runs its queries on a pooled connection and
//! answers JSON (GeoJSON for items), with `next` links that carry the keyset token — in the query
//! string for GET, in the body (with method POST) for POST.
use crate::docs::{self, GEOJSON, JSON, OPENAPI};
use crate::error::ApiError;
use crate::params::{self, Search};
use crate::pool::Pool;
use crate::{products, sort, store};
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::header::CONTENT_TYPE;
use axum::response::{Html, IntoResponse, Response};
use serde_json::{json, Value};
use std::sync::Arc;

/// What every handler shares.
pub struct AppState {
    /// Database connections.
    pub pool: Arc<Pool>,
    /// The public URL of the API root, without a trailing slash.
    pub base: String,
    /// statement_timeout for new connections, in ms.
    pub statement_timeout_ms: u64,
    /// The collections' extents, reused for a few seconds.
    pub extents: crate::extents::Extents,
}

type St = State<Arc<AppState>>;

fn typed(media: &'static str, v: Value) -> Response {
    ([(CONTENT_TYPE, media)], axum::Json(v)).into_response()
}

/// A response of JSON already written as text.
fn typed_text(media: &'static str, body: String) -> Response {
    ([(CONTENT_TYPE, media)], body).into_response()
}

async fn run<T, F>(s: &AppState, f: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce(&mut catalog_schema::Catalog) -> Result<T, ApiError> + Send + 'static,
{
    s.pool.run(s.statement_timeout_ms, f).await
}

/// `/`
pub async fn landing(State(s): St) -> Result<Response, ApiError> {
    let all = s.extents.all(&s.pool, s.statement_timeout_ms).await?;
    Ok(typed(JSON, docs::landing(&s.base, &all)))
}

/// `/conformance`
pub async fn conformance() -> Response {
    typed(JSON, docs::conformance())
}

/// `/api`
pub async fn api(State(s): St) -> Response {
    typed(OPENAPI, docs::openapi(&s.base))
}

/// `/api.html`
pub async fn api_html(State(s): St) -> Html<String> {
    Html(docs::service_doc(&s.base))
}

/// `/collections`
pub async fn collections(State(s): St) -> Result<Response, ApiError> {
    let all = s.extents.all(&s.pool, s.statement_timeout_ms).await?;
    Ok(typed(JSON, docs::collections(&s.base, &all)))
}

async fn one_collection(s: &AppState, id: String) -> Result<store::CollectionRow, ApiError> {
    s.extents
        .one(&s.pool, s.statement_timeout_ms, id)
        .await?
        .ok_or_else(|| ApiError::not_found("no such collection (see /collections)".to_string()))
}

/// `/collections/{id}`
pub async fn collection(State(s): St, Path(id): Path<String>) -> Result<Response, ApiError> {
    let c = one_collection(&s, id.clone())
        .await
        .map_err(|e| ApiError::not_found(format!("collection {id:?}: {}", e.description)))?;
    Ok(typed(JSON, docs::collection(&s.base, &c)))
}

/// `/queryables`: what filters may name in any collection.
pub async fn queryables(State(s): St) -> Result<Response, ApiError> {
    let all = run(&s, |c| products::load(c, None)).await?;
    let url = format!("{}/queryables", s.base);
    let v = products::queryables(&url, "etlake items (all collections)", &all);
    Ok(typed(docs::SCHEMA, v))
}

/// `/collections/{id}/queryables`
pub async fn collection_queryables(
    State(s): St,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let name = vec![id.clone()];
    let one = run(&s, move |c| {
        store::require_collections(c, &name)?;
        products::load(c, Some(&name))
    })
    .await?;
    let url = format!("{}/collections/{id}/queryables", s.base);
    let v = products::queryables(&url, &format!("items of {id}"), &one);
    Ok(typed(docs::SCHEMA, v))
}

/// `/collections/{id}/items/{item}`
pub async fn item(
    State(s): St,
    Path((collection, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let (c2, id2) = (collection.clone(), id.clone());
    let row = run(&s, move |c| {
        store::require_collections(c, std::slice::from_ref(&c2))?;
        store::item(c, &c2, &id2)
    })
    .await?
    .ok_or_else(|| {
        ApiError::not_found(format!(
            "item {id:?} of collection {collection:?}: not found"
        ))
    })?;
    let v = docs::item(&s.base, &row, None).map_err(ApiError::internal)?;
    Ok(typed(GEOJSON, v))
}

fn pairs(raw: &Option<String>) -> Vec<(String, String)> {
    url::form_urlencoded::parse(raw.as_deref().unwrap_or("").as_bytes())
        .into_owned()
        .collect()
}

/// The URL of a GET page: the client's parameters, the token replaced.
fn get_url(path: &str, pairs: &[(String, String)], token: Option<&str>) -> String {
    let mut ser = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs.iter().filter(|(k, _)| k != "token") {
        ser.append_pair(k, v);
    }
    if let Some(t) = token {
        ser.append_pair("token", t);
    }
    let q = ser.finish();
    if q.is_empty() {
        path.to_string()
    } else {
        format!("{path}?{q}")
    }
}

async fn run_search(s: &AppState, q: Search) -> Result<(store::Page, Option<String>), ApiError> {
    let page = run(s, move |c| store::search(c, &q)).await?;
    let next = match page.rows.last() {
        Some(last) if page.more => Some(sort::token(&last.keys)),
        _ => None,
    };
    Ok((page, next))
}

async fn get_page(
    s: &AppState,
    path: String,
    q: Search,
    pairs: Vec<(String, String)>,
    extra: Vec<Value>,
) -> Result<Response, ApiError> {
    let fields = q.fields.clone();
    let (page, next) = run_search(s, q).await?;
    let mut links = extra;
    if let Some(t) = next {
        links.push(json!({"rel": "next", "href": get_url(&path, &pairs, Some(&t)), "type": GEOJSON, "method": "GET"}));
    }
    let self_link = json!({"rel": "self", "href": get_url(&path, &pairs, None), "type": GEOJSON});
    let v = docs::page(&s.base, &page, fields.as_ref(), self_link, links)
        .map_err(ApiError::internal)?;
    Ok(typed_text(GEOJSON, v))
}

/// `GET /collections/{id}/items`: the item search of one collection (no redirect).
pub async fn items(
    State(s): St,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let pairs = pairs(&raw);
    let mut q = params::from_query(&pairs)?;
    if q.collections.is_some() {
        return Err(ApiError::bad_request(
            "collections: not a parameter of /collections/{id}/items (use /search)",
        ));
    }
    q.collections = Some(vec![id.clone()]);
    let coll = format!("{}/collections/{id}", s.base);
    let extra = vec![
        json!({"rel": "parent", "href": coll, "type": JSON}),
        json!({"rel": "collection", "href": coll, "type": JSON}),
    ];
    get_page(&s, format!("{coll}/items"), q, pairs, extra).await
}

/// `GET /search`
pub async fn search_get(State(s): St, RawQuery(raw): RawQuery) -> Result<Response, ApiError> {
    let pairs = pairs(&raw);
    let q = params::from_query(&pairs)?;
    let path = format!("{}/search", s.base);
    get_page(&s, path, q, pairs, Vec::new()).await
}

/// `POST /search`: the next link repeats the body with the page's token.
pub async fn search_post(State(s): St, body: Bytes) -> Result<Response, ApiError> {
    let (q, mut body) = params::from_body(&body)?;
    let fields = q.fields.clone();
    let (page, next) = run_search(&s, q).await?;
    let href = format!("{}/search", s.base);
    let mut links = Vec::new();
    if let Some(t) = next {
        body.insert("token".into(), Value::String(t));
        links.push(
            json!({"rel": "next", "href": href, "type": GEOJSON, "method": "POST",
            "body": Value::Object(body.clone()), "merge": false}),
        );
    }
    let self_link = json!({"rel": "self", "href": href, "type": GEOJSON});
    let v = docs::page(&s.base, &page, fields.as_ref(), self_link, links)
        .map_err(ApiError::internal)?;
    Ok(typed_text(GEOJSON, v))
}

/// Anything else.
pub async fn not_found() -> ApiError {
    ApiError::not_found("no such route (see /api)")
}
