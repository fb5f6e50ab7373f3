//! What an SQS message announces (`etlake index --sqs`): S3 event notifications as S3 sends them to a
//! queue, the same inside an SNS envelope (or delivered raw by SNS), EventBridge S3 events, and STAC
//! items or eo3 documents sent as the message itself. Parsing only: arbitrary text gives an error that
//! says what was expected, never a panic.
//!
//! Formats (AWS documentation): S3 event message structure
//! (<https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-content-structure.html>):
//! `Records[].{eventName, s3.bucket.name, s3.object.{key, size, eTag}}`, keys form-URL-encoded (a space
//! is `+`); a new configuration sends `{"Event": "s3:TestEvent", …}`. SNS notification JSON
//! (<https://docs.aws.amazon.com/sns/latest/dg/sns-message-and-json-formats.html>): `{"Type":
//! "Notification", "Message": "<the S3 message as a string>", …}`. EventBridge
//! (<https://docs.aws.amazon.com/AmazonS3/latest/userguide/ev-events.html>): `{"source": "aws.s3",
//! "detail-type": "Object Created" | "Object Deleted", "detail": {"bucket": {"name"}, "object": {"key",
//! "size", "etag"}}}`. EventBridge keys are taken as written, not decoded: that page documents no
//! encoding for `detail.object.key` (the notification page does, for `Records[].s3.object.key`), and
//! captured events show characters the notification encodes (`:`) unencoded. (AWS Lambda Powertools
//! decodes them with `unquote_plus` all the same; a key holding `+` or `%XX` is where the two readings
//! differ.)
use serde_json::Value;

/// One thing a message announces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// An object was created (`ObjectCreated:*`, EventBridge `Object Created`): index it as a crawl would.
    Created {
        /// `s3://bucket/key`, the key decoded.
        uri: String,
        /// Size in bytes, when the event says.
        size: Option<u64>,
        /// ETag (without quotes), when the event says.
        etag: Option<String>,
    },
    /// An object was removed (`ObjectRemoved:*`, EventBridge `Object Deleted`): archive what it located.
    Removed {
        /// `s3://bucket/key`, the key decoded.
        uri: String,
    },
    /// The message is itself a metadata document (a STAC item or an eo3 document) located at `uri`.
    Document {
        /// The document's location (its `self` link).
        uri: String,
        /// The document as JSON text.
        body: Vec<u8>,
    },
    /// Nothing to do: S3's test event, or an event of another kind (named).
    Ignored(String),
}

/// The events of one message body, in order, or why the body is not something etlake understands.
pub fn parse(body: &str) -> Result<Vec<Event>, String> {
    let v: Value = serde_json::from_str(body).map_err(|e| {
        format!(
            "not JSON ({e}); expected an S3 event notification, an SNS envelope, an EventBridge \
             S3 event, a STAC item or an eo3 document"
        )
    })?;
    parse_value(&v, 0)
}

fn parse_value(v: &Value, depth: usize) -> Result<Vec<Event>, String> {
    let Some(o) = v.as_object() else {
        return Err(format!(
            "a JSON {} where an object was expected",
            kind_of(v)
        ));
    };
    // SNS envelope: the S3 message is a JSON string in `Message` (one level only).
    if o.get("Type").and_then(Value::as_str) == Some("Notification") {
        let inner = o
            .get("Message")
            .and_then(Value::as_str)
            .ok_or_else(|| "an SNS notification without a `Message` string".to_string())?;
        if depth > 0 {
            return Err("an SNS envelope inside an SNS envelope".into());
        }
        let v: Value = serde_json::from_str(inner)
            .map_err(|e| format!("the SNS notification's Message is not JSON ({e})"))?;
        return parse_value(&v, depth + 1)
            .map_err(|e| format!("in the SNS notification's Message: {e}"));
    }
    if o.get("Event").and_then(Value::as_str) == Some("s3:TestEvent") {
        return Ok(vec![Event::Ignored("s3:TestEvent".into())]);
    }
    if let Some(records) = o.get("Records") {
        let records = records
            .as_array()
            .ok_or_else(|| "`Records` is not a list".to_string())?;
        if records.is_empty() {
            return Err("`Records` is empty".into());
        }
        return records
            .iter()
            .enumerate()
            .map(|(i, r)| record(r).map_err(|e| format!("Records[{i}]: {e}")))
            .collect();
    }
    if o.get("source").and_then(Value::as_str) == Some("aws.s3") && o.contains_key("detail-type") {
        return eventbridge(o).map(|e| vec![e]);
    }
    if o.get("type").and_then(Value::as_str) == Some("Feature") && o.contains_key("stac_version") {
        return document(v, "a STAC item").map(|e| vec![e]);
    }
    if o.get("$schema")
        .and_then(Value::as_str)
        .is_some_and(|s| s.contains("opendatacube.org/dataset"))
    {
        return document(v, "an eo3 document").map(|e| vec![e]);
    }
    Err(
        "neither an S3 event notification (Records), an SNS envelope (Type: Notification), an \
         EventBridge S3 event (source: aws.s3), a STAC item nor an eo3 document ($schema)"
            .into(),
    )
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "list",
        Value::Object(_) => "object",
    }
}

/// One S3 event record.
fn record(r: &Value) -> Result<Event, String> {
    let name = r
        .get("eventName")
        .and_then(Value::as_str)
        .ok_or("no `eventName`")?;
    let s3 = r.get("s3").ok_or("no `s3`")?;
    let bucket = s3
        .pointer("/bucket/name")
        .and_then(Value::as_str)
        .filter(|b| !b.is_empty())
        .ok_or("no `s3.bucket.name`")?;
    let raw_key = s3
        .pointer("/object/key")
        .and_then(Value::as_str)
        .ok_or("no `s3.object.key`")?;
    let key = form_decode(raw_key);
    if key.is_empty() {
        return Err("an empty `s3.object.key`".into());
    }
    let uri = format!("s3://{bucket}/{key}");
    let object = s3.get("object");
    let etag = object
        .and_then(|o| o.get("eTag"))
        .and_then(Value::as_str)
        .map(|e| e.trim_matches('"').to_string())
        .filter(|e| !e.is_empty());
    let size = object.and_then(|o| o.get("size")).and_then(Value::as_u64);
    Ok(if name.starts_with("ObjectCreated:") {
        Event::Created { uri, size, etag }
    } else if name.starts_with("ObjectRemoved:") {
        Event::Removed { uri }
    } else {
        Event::Ignored(format!("{name} of {uri}"))
    })
}

/// An EventBridge S3 event.
fn eventbridge(o: &serde_json::Map<String, Value>) -> Result<Event, String> {
    let kind = o
        .get("detail-type")
        .and_then(Value::as_str)
        .ok_or("`detail-type` is not a string")?;
    let detail = o.get("detail").ok_or("no `detail`")?;
    let bucket = detail
        .pointer("/bucket/name")
        .and_then(Value::as_str)
        .filter(|b| !b.is_empty())
        .ok_or("no `detail.bucket.name`")?;
    let key = detail
        .pointer("/object/key")
        .and_then(Value::as_str)
        .filter(|k| !k.is_empty())
        .ok_or("no `detail.object.key`")?;
    let uri = format!("s3://{bucket}/{key}");
    // AWS documents `etag`; moto (5.2) sends `eTag` as in S3 event notifications: either is taken.
    let etag = detail
        .pointer("/object/etag")
        .or_else(|| detail.pointer("/object/eTag"))
        .and_then(Value::as_str)
        .map(|e| e.trim_matches('"').to_string())
        .filter(|e| !e.is_empty());
    let size = detail.pointer("/object/size").and_then(Value::as_u64);
    Ok(match kind {
        "Object Created" => Event::Created { uri, size, etag },
        "Object Deleted" => Event::Removed { uri },
        other => Event::Ignored(format!("{other} of {uri}")),
    })
}

/// A document sent as the message: located by its `self` link (as sqs-to-dc does).
fn document(v: &Value, what: &str) -> Result<Event, String> {
    let href = v
        .get("links")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find(|l| l.get("rel").and_then(Value::as_str) == Some("self"))
        .and_then(|l| l.get("href"))
        .and_then(Value::as_str)
        .filter(|h| h.contains("://"));
    let uri = href.ok_or_else(|| {
        format!(
            "{what} without an absolute `self` link: its location (what relative asset paths are \
             resolved against) is unknown"
        )
    })?;
    Ok(Event::Document {
        uri: uri.to_string(),
        body: serde_json::to_vec(v).map_err(|e| e.to_string())?,
    })
}

/// Decodes an `application/x-www-form-urlencoded` key: `+` is a space, `%XX` a byte (UTF-8 text).
pub fn form_decode(key: &str) -> String {
    form_urlencoded::parse(format!("k={key}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s3_message(records: &[(&str, &str)]) -> String {
        let recs: Vec<Value> = records
            .iter()
            .map(|(name, key)| {
                serde_json::json!({
                    "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
                    "eventTime": "2024-01-01T00:00:00.000Z", "eventName": name,
                    "s3": {"s3SchemaVersion": "1.0", "configurationId": "c",
                           "bucket": {"name": "lake", "arn": "arn:aws:s3:::lake"},
                           "object": {"key": key, "size": 12, "eTag": "abc", "sequencer": "00"}}
                })
            })
            .collect();
        serde_json::json!({ "Records": recs }).to_string()
    }

    #[test]
    fn raw_s3_events_every_record_keys_decoded() {
        let body = s3_message(&[
            ("ObjectCreated:Put", "a/my+file%2B1%3A2.tif"),
            ("ObjectRemoved:Delete", "b/x%C3%A9.tif"),
            ("ObjectRestore:Completed", "c.tif"),
        ]);
        let events = parse(&body).unwrap();
        assert_eq!(
            events,
            [
                Event::Created {
                    uri: "s3://lake/a/my file+1:2.tif".into(),
                    size: Some(12),
                    etag: Some("abc".into())
                },
                Event::Removed {
                    uri: "s3://lake/b/xé.tif".into()
                },
                Event::Ignored("ObjectRestore:Completed of s3://lake/c.tif".into()),
            ]
        );
    }

    #[test]
    fn sns_envelope_and_test_event() {
        let inner = s3_message(&[("ObjectCreated:CompleteMultipartUpload", "k.tif")]);
        let env = serde_json::json!({"Type": "Notification", "MessageId": "m",
            "TopicArn": "arn:aws:sns:us-east-1:123456789012:t", "Message": inner});
        let events = parse(&env.to_string()).unwrap();
        assert!(matches!(&events[..], [Event::Created { uri, .. }] if uri == "s3://lake/k.tif"));
        let test = r#"{"Service":"Amazon S3","Event":"s3:TestEvent","Time":"2024-01-01T00:00:00.000Z","Bucket":"lake","RequestId":"r","HostId":"h"}"#;
        assert_eq!(
            parse(test).unwrap(),
            [Event::Ignored("s3:TestEvent".into())]
        );
        let env = serde_json::json!({"Type": "Notification", "Message": test});
        assert_eq!(
            parse(&env.to_string()).unwrap(),
            [Event::Ignored("s3:TestEvent".into())]
        );
        let bad = serde_json::json!({"Type": "Notification", "Message": "hello"});
        let e = parse(&bad.to_string()).unwrap_err();
        assert!(e.contains("Message is not JSON"), "{e}");
    }

    #[test]
    fn eventbridge_events() {
        let created = serde_json::json!({"version": "0", "detail-type": "Object Created",
            "source": "aws.s3", "detail": {"bucket": {"name": "lake"},
            "object": {"key": "raw/2023-08-08T14:03:40.zip", "size": 5, "etag": "e1"}}});
        assert_eq!(
            parse(&created.to_string()).unwrap(),
            [Event::Created {
                uri: "s3://lake/raw/2023-08-08T14:03:40.zip".into(),
                size: Some(5),
                etag: Some("e1".into())
            }]
        );
        let deleted = serde_json::json!({"detail-type": "Object Deleted", "source": "aws.s3",
            "detail": {"bucket": {"name": "lake"}, "object": {"key": "k"}}});
        assert_eq!(
            parse(&deleted.to_string()).unwrap(),
            [Event::Removed {
                uri: "s3://lake/k".into()
            }]
        );
    }

    #[test]
    fn documents_need_a_self_link() {
        let item = serde_json::json!({"type": "Feature", "stac_version": "1.0.0", "id": "x",
            "links": [{"rel": "self", "href": "s3://lake/items/x.json"}], "assets": {}});
        let events = parse(&item.to_string()).unwrap();
        assert!(
            matches!(&events[..], [Event::Document { uri, .. }] if uri == "s3://lake/items/x.json")
        );
        let eo3 = serde_json::json!({"$schema": "https://schemas.opendatacube.org/dataset",
            "id": "x", "product": {"name": "p"}});
        let e = parse(&eo3.to_string()).unwrap_err();
        assert!(
            e.contains("eo3 document without an absolute `self` link"),
            "{e}"
        );
    }

    #[test]
    fn errors_say_what_was_expected() {
        assert!(parse("hello").unwrap_err().contains("not JSON"));
        assert!(parse("[]").unwrap_err().contains("a JSON list"));
        assert!(parse("{}").unwrap_err().contains("neither an S3 event"));
        let e =
            parse(r#"{"Records": [{"eventName": "ObjectCreated:Put", "s3": {}}]}"#).unwrap_err();
        assert_eq!(e, "Records[0]: no `s3.bucket.name`");
        assert!(parse(r#"{"Records": []}"#).unwrap_err().contains("empty"));
    }
}
