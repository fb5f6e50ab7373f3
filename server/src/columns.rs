//! The columns of `etlake.stac_item` the API's SQL reads for an item's time and box (generated from
//! the stored item, etlake schema 3), named once for the search, filter and sort modules.

/// An item's datetime, or its start when it has a range only (a column Postgres computes from the
/// item, etlake schema 3).
pub const KEY: &str = "s.datetime";
/// An item's start_datetime (its datetime when it has none).
pub const START: &str = "s.start_datetime";
/// An item's end_datetime (its datetime when it has none).
pub const END: &str = "s.end_datetime";

/// An item's id (never NULL).
pub const ID: &str = "s.item_id::text";
/// An item's collection (never NULL).
pub const COLLECTION: &str = "s.collection::text";

/// The SQL of an item's bbox member `i` (W, S, E, N), a computed column.
pub fn bbox_sql(i: usize) -> String {
    ["s.bbox_w", "s.bbox_s", "s.bbox_e", "s.bbox_n"][i].to_string()
}
