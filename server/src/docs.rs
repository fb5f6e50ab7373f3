//! The JSON documents the API answers with — landing page, conformance, OpenAPI description,
//! collections, items and item pages — with links built from the server's base URL.
use crate::fields::Fields;
use crate::store::{CollectionRow, ItemRow, Page};
use serde_json::{json, Map, Value};

/// GeoJSON media type.
pub const GEOJSON: &str = "application/geo+json";
/// JSON media type.
pub const JSON: &str = "application/json";
/// JSON Schema media type (queryables).
pub const SCHEMA: &str = "application/schema+json";
/// OpenAPI 3.0 JSON media type.
pub const OPENAPI: &str = "application/vnd.oai.openapi+json;version=3.0";

/// What the server implements (STAC API v1.0.0 URIs, which pystac-client recognises).
pub const CONFORMANCE: &[&str] = &[
    "https://api.stacspec.org/v1.0.0/core",
    "https://api.stacspec.org/v1.0.0/collections",
    "https://api.stacspec.org/v1.0.0/ogcapi-features",
    "https://api.stacspec.org/v1.0.0/item-search",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "https://api.stacspec.org/v1.0.0/item-search#fields",
    "https://api.stacspec.org/v1.0.0/item-search#sort",
    "https://api.stacspec.org/v1.0.0-rc.2/item-search#filter",
    "https://api.stacspec.org/v1.0.0-rc.2/ogcapi-features#filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-json",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2",
    "http://www.opengis.net/spec/cql2/1.0/conf/advanced-comparison-operators",
    "http://www.opengis.net/spec/cql2/1.0/conf/case-insensitive-comparison",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions-plus",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-operators",
    "http://www.opengis.net/spec/cql2/1.0/conf/temporal-functions",
    "http://www.opengis.net/spec/cql2/1.0/conf/temporal-operators",
];

/// The link relation of a queryables document.
pub const QUERYABLES: &str = "http://www.opengis.net/def/rel/ogc/1.0/queryables";

fn link(rel: &str, href: String, media: &str) -> Value {
    json!({"rel": rel, "href": href, "type": media})
}

/// The landing page: the root catalog, with one child link per collection.
pub fn landing(base: &str, collections: &[CollectionRow]) -> Value {
    let mut links = vec![
        link("self", format!("{base}/"), JSON),
        link("root", format!("{base}/"), JSON),
        link("service-desc", format!("{base}/api"), OPENAPI),
        link("service-doc", format!("{base}/api.html"), "text/html"),
        link("conformance", format!("{base}/conformance"), JSON),
        link("data", format!("{base}/collections"), JSON),
        link(QUERYABLES, format!("{base}/queryables"), SCHEMA),
        json!({"rel": "search", "href": format!("{base}/search"), "type": GEOJSON, "method": "GET"}),
        json!({"rel": "search", "href": format!("{base}/search"), "type": GEOJSON, "method": "POST"}),
    ];
    for c in collections {
        links.push(link(
            "child",
            format!("{base}/collections/{}", c.name),
            JSON,
        ));
    }
    json!({
        "type": "Catalog",
        "stac_version": "1.1.0",
        "id": "etlake",
        "title": "etlake",
        "description": "STAC API over an Open Data Cube index (etlake serve)",
        "conformsTo": CONFORMANCE,
        "links": links,
    })
}

/// `/conformance`.
pub fn conformance() -> Value {
    json!({"conformsTo": CONFORMANCE})
}

/// A collection: a product, its extent from its items.
pub fn collection(base: &str, c: &CollectionRow) -> Value {
    let here = format!("{base}/collections/{}", c.name);
    let bbox = c.bbox.unwrap_or([-180.0, -90.0, 180.0, 90.0]);
    let time = |t: Option<chrono::DateTime<chrono::Utc>>| {
        t.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
    };
    json!({
        "type": "Collection",
        "stac_version": "1.1.0",
        "id": c.name,
        "title": c.name,
        "description": c.description.clone().unwrap_or_else(|| c.name.clone()),
        "license": "other",
        "extent": {
            "spatial": {"bbox": [bbox]},
            "temporal": {"interval": [[time(c.interval.0), time(c.interval.1)]]},
        },
        "links": [
            link("self", here.clone(), JSON),
            link("root", format!("{base}/"), JSON),
            link("parent", format!("{base}/"), JSON),
            link("items", format!("{here}/items"), GEOJSON),
            link(QUERYABLES, format!("{here}/queryables"), SCHEMA),
        ],
    })
}

/// `/collections`.
pub fn collections(base: &str, all: &[CollectionRow]) -> Value {
    json!({
        "collections": all.iter().map(|c| collection(base, c)).collect::<Vec<_>>(),
        "links": [
            link("self", format!("{base}/collections"), JSON),
            link("root", format!("{base}/"), JSON),
            link("parent", format!("{base}/"), JSON),
        ],
    })
}

/// A stored item as served: its `collection`, and self/parent/collection/root links; only the
/// members `fields` asks for.
pub fn item(base: &str, row: &ItemRow, fields: Option<&Fields>) -> Result<Value, String> {
    let mut v: Map<String, Value> = serde_json::from_str(&row.item)
        .map_err(|e| format!("stored item {} is not a JSON object: {e}", row.id))?;
    v.insert("collection".into(), json!(row.collection));
    v.insert("links".into(), item_links(base, row));
    Ok(Value::Object(match fields {
        Some(f) => f.apply(v),
        None => v,
    }))
}

fn item_links(base: &str, row: &ItemRow) -> Value {
    let coll = format!("{base}/collections/{}", row.collection);
    json!([
        link("self", format!("{coll}/items/{}", row.id), GEOJSON),
        link("parent", coll.clone(), JSON),
        link("collection", coll, JSON),
        link("root", format!("{base}/"), JSON),
    ])
}

/// A stored item as served, written as text without parsing it: the store gives the item's JSON
/// object without `collection` and `links` (see `store`), and they are appended before its closing
/// brace. The same members as [`item`] without `fields`.
fn item_text(base: &str, row: &ItemRow, out: &mut String) -> Result<(), String> {
    let body = row
        .item
        .trim_end()
        .strip_suffix('}')
        .filter(|b| b.trim_start().starts_with('{'))
        .ok_or_else(|| format!("stored item {} is not a JSON object", row.id))?;
    out.push_str(body);
    if body.trim_end() != "{" {
        out.push(',');
    }
    out.push_str("\"collection\":");
    out.push_str(&Value::String(row.collection.clone()).to_string());
    out.push_str(",\"links\":");
    out.push_str(&item_links(base, row).to_string());
    out.push('}');
    Ok(())
}

/// A page of items with its links (`next` given by the caller, already built for GET or POST), as
/// JSON text. Without `fields` the stored items are copied into the page as they are (no parse).
pub fn page(
    base: &str,
    page: &Page,
    fields: Option<&Fields>,
    self_link: Value,
    extra: Vec<Value>,
) -> Result<String, String> {
    let mut links = vec![self_link, link("root", format!("{base}/"), JSON)];
    links.extend(extra);
    let mut out =
        String::with_capacity(page.rows.iter().map(|r| r.item.len() + 600).sum::<usize>() + 1024);
    out.push_str("{\"type\":\"FeatureCollection\",\"numberReturned\":");
    out.push_str(&page.rows.len().to_string());
    if let Some(n) = page.matched {
        out.push_str(",\"numberMatched\":");
        out.push_str(&n.to_string());
    }
    out.push_str(",\"features\":[");
    for (i, r) in page.rows.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        match fields {
            Some(f) => out.push_str(&item(base, r, Some(f))?.to_string()),
            None => item_text(base, r, &mut out)?,
        }
    }
    out.push_str("],\"links\":");
    out.push_str(&Value::Array(links).to_string());
    out.push('}');
    Ok(out)
}

/// The OpenAPI 3.0 description of the routes.
pub fn openapi(base: &str) -> Value {
    let ok = |media: &str, what: &str| {
        json!({"200": {"description": what, "content": {media: {"schema": {"type": "object"}}}},
               "default": {"description": "an error", "content": {JSON: {"schema": {"$ref": "#/components/schemas/Error"}}}}})
    };
    let q = |name: &str, schema: Value, what: &str| json!({"name": name, "in": "query", "required": false, "schema": schema, "description": what});
    let search_params = json!([
        q(
            "collections",
            json!({"type": "string"}),
            "comma-separated collection ids"
        ),
        q("ids", json!({"type": "string"}), "comma-separated item ids"),
        q(
            "bbox",
            json!({"type": "string"}),
            "W,S,E,N (or 6 numbers with heights)"
        ),
        q(
            "intersects",
            json!({"type": "string"}),
            "a GeoJSON geometry"
        ),
        q(
            "datetime",
            json!({"type": "string"}),
            "RFC 3339 date-time or interval A/B (.. open)"
        ),
        q(
            "limit",
            json!({"type": "integer", "minimum": 1, "default": 10}),
            "items per page (at most 10000)"
        ),
        q(
            "token",
            json!({"type": "string"}),
            "where the page starts (from a next link)"
        ),
        q(
            "filter",
            json!({"type": "string"}),
            "a CQL2 filter (see /queryables)"
        ),
        q(
            "filter-lang",
            json!({"type": "string", "enum": ["cql2-text", "cql2-json"], "default": "cql2-text"}),
            "the filter's language"
        ),
        q(
            "sortby",
            json!({"type": "string"}),
            "sort keys, e.g. -datetime,+id (datetime, start_datetime, end_datetime, id, collection)"
        ),
        q(
            "fields",
            json!({"type": "string"}),
            "members to include or (with -) exclude, e.g. id,-assets"
        ),
        q(
            "count",
            json!({"type": "string", "enum": ["exact", "estimate"]}),
            "report numberMatched (exact: a count; estimate: the planner's)"
        ),
    ]);
    let path_param = |name: &str| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}});
    json!({
        "openapi": "3.0.3",
        "info": {"title": "etlake STAC API", "version": catalog_schema::VERSION},
        "servers": [{"url": base}],
        "paths": {
            "/": {"get": {"summary": "landing page", "responses": ok(JSON, "the root catalog")}},
            "/conformance": {"get": {"summary": "conformance classes", "responses": ok(JSON, "conformance classes")}},
            "/api": {"get": {"summary": "this document", "responses": ok(OPENAPI, "OpenAPI 3.0")}},
            "/collections": {"get": {"summary": "collections (one per product)", "responses": ok(JSON, "collections")}},
            "/collections/{collectionId}": {"get": {"summary": "a collection",
                "parameters": [path_param("collectionId")], "responses": ok(JSON, "a collection")}},
            "/collections/{collectionId}/items": {"get": {"summary": "a collection's items",
                "parameters": [path_param("collectionId"), search_params[2], search_params[4], search_params[5], search_params[6],
                    search_params[7], search_params[8], search_params[9], search_params[10], search_params[11]],
                "responses": ok(GEOJSON, "a page of items")}},
            "/queryables": {"get": {"summary": "what filters may name", "responses": ok(SCHEMA, "JSON Schema")}},
            "/collections/{collectionId}/queryables": {"get": {"summary": "what filters may name in a collection",
                "parameters": [path_param("collectionId")], "responses": ok(SCHEMA, "JSON Schema")}},
            "/collections/{collectionId}/items/{featureId}": {"get": {"summary": "an item",
                "parameters": [path_param("collectionId"), path_param("featureId")], "responses": ok(GEOJSON, "an item")}},
            "/search": {
                "get": {"summary": "item search", "parameters": search_params, "responses": ok(GEOJSON, "a page of items")},
                "post": {"summary": "item search",
                    "requestBody": {"content": {JSON: {"schema": {"type": "object"}}}},
                    "responses": ok(GEOJSON, "a page of items")},
            },
        },
        "components": {"schemas": {"Error": {"type": "object", "required": ["code"],
            "properties": {"code": {"type": "string"}, "description": {"type": "string"}}}}},
    })
}

/// A short HTML page pointing at the machine-readable description.
pub fn service_doc(base: &str) -> String {
    format!(
        "<!doctype html><html><head><title>etlake STAC API</title></head><body>\
         <h1>etlake STAC API</h1><p>OpenAPI 3.0 description: <a href=\"{base}/api\">{base}/api</a>. \
         Routes: / , /conformance, /collections, /collections/{{id}}, /collections/{{id}}/items, \
         /collections/{{id}}/items/{{item}}, /queryables, /collections/{{id}}/queryables, /search (GET and \
         POST).</p></body></html>"
    )
}
