//! The manifest: one JSON record per file written (path, family, specification cited, and per variable or
//! band the stored type, packing, nodata, grid, time and the rule that generated the stored values), so
//! tests can assert what a reader returns without re-deriving the layout.
use serde_json::{json, Value};
use std::path::Path;

/// File name of the manifest at the lake's root.
pub const FILE: &str = "conformance-manifest.json";

#[derive(Default)]
pub struct Manifest {
    files: Vec<Value>,
}

impl Manifest {
    /// Records one file; `path` is relative to the lake root.
    pub fn add(&mut self, path: &str, family: &str, spec: &[&str], body: Value) {
        let mut v = json!({"path": path, "family": family, "spec": spec});
        if let (Some(o), Value::Object(b)) = (v.as_object_mut(), body) {
            o.extend(b);
        }
        self.files.push(v);
    }

    pub fn files(&self) -> &[Value] {
        &self.files
    }

    pub fn write(&self, root: &Path) -> Result<(), String> {
        let doc = json!({
            "generator": "conformance-lake",
            "about": "files laid out and encoded as each provider publishes them; see `spec` per file",
            "files": self.files,
        });
        let text = serde_json::to_string_pretty(&doc).map_err(|e| e.to_string())?;
        std::fs::write(root.join(FILE), text).map_err(|e| format!("{}: {e}", root.display()))
    }
}
