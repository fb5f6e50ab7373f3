//! Measurements that live in files beside the recognised one (`suffix` and `file` in a recognition
//! spec): which file each is, whether it is there, and what an absent `optional` one leaves out. Kept
//! apart from the GDAL checks in `extract` because finding a file and reading it are separate concerns.
use crate::recognition::{fill_fields, MeasurementSource, Recognised, Spec};
use crate::s3::{split_s3, S3};
use std::path::{Path, PathBuf};

/// Where one measurement's file is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Located {
    /// The recognised file itself.
    Same,
    /// A sibling that exists.
    Sibling {
        /// Its file name: the eo3 measurement `path`, relative to the dataset's location.
        name: String,
        /// Its URI (`s3://…` or a local path).
        uri: String,
        /// The path GDAL opens (`/vsis3/…`, `/vsigzip/…`, a local path or a staged copy).
        gdal: String,
        /// A local copy made for GDAL (NetCDF/HDF over S3), to remove when done.
        staged: Option<PathBuf>,
    },
    /// An optional sibling that is not there: the measurement is left out of the dataset.
    Absent(Absent),
}

/// An optional measurement left out of a dataset because its file is absent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Absent {
    /// The product's measurement.
    pub measurement: String,
    /// The file (or the layer of the file) that was looked for.
    pub expected: String,
    /// A layer of the claimed file, not a sibling file.
    pub layer: bool,
}

impl Absent {
    /// The report's note: what is left out, and which file would bring it.
    pub fn note(&self, product: &str) -> String {
        format!(
            "optional measurement {} of {product} left out: {} is absent",
            self.measurement, self.expected
        )
    }
}

/// The object a measurement belongs to.
pub(crate) struct Claimed<'a> {
    /// The recognised object's URI (`s3://…` or a local path).
    pub uri: &'a str,
    /// Its file name.
    pub file_name: &'a str,
    pub spec: &'a Spec,
    pub recognised: &'a Recognised,
    /// NetCDF/HDF: GDAL needs a local file.
    pub container: bool,
    pub s3: Option<&'a S3>,
    pub stage_dir: &'a Path,
}

/// Finds the file of measurement `name`. A required sibling that is missing is an error naming the
/// file expected and how to make it optional; any other failure to tell (S3 refusal) is an error too.
pub(crate) fn locate(
    c: &Claimed<'_>,
    name: &str,
    source: &MeasurementSource,
) -> Result<Located, String> {
    let sibling = match (&source.suffix, &source.file) {
        (Some(suffix), _) => sibling_name(c.file_name, c.spec, suffix).ok_or_else(|| {
            format!(
                "{name}: no template literal to replace with _{suffix} in {}",
                c.file_name
            )
        })?,
        (None, Some(file)) => fill_fields(file, &c.recognised.fields),
        (None, None) => return Ok(Located::Same),
    };
    let dir = &c.uri[..c.uri.len() - c.file_name.len()];
    let uri = format!("{dir}{sibling}");
    let there = match c.s3.filter(|_| uri.starts_with("s3://")) {
        Some(s3) => s3.exists(&uri).map_err(|e| format!("{name}: {e}"))?,
        None if uri.starts_with("s3://") => return Err(format!("{name}: no S3 client for {uri}")),
        None => match std::fs::metadata(&uri) {
            Ok(_) => true,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
            Err(e) => return Err(format!("{name}: {uri}: {e}")),
        },
    };
    if !there {
        if source.optional {
            return Ok(Located::Absent(Absent {
                measurement: name.to_string(),
                expected: uri,
                layer: false,
            }));
        }
        return Err(format!(
            "{name}: its file {uri} is missing (beside {}); if it may be absent, mark the \
             measurement `optional: true` in {}",
            c.file_name, c.recognised.spec_file
        ));
    }
    let (gdal, staged) = match split_s3(&uri) {
        Some(_) if c.container => {
            let s3 = c.s3.expect("checked above");
            let local = crate::extract::staging_path(c.stage_dir, &format!("sibling-{sibling}"));
            s3.download(&uri, &local)
                .map_err(|e| format!("{name}: {e}"))?;
            (local.display().to_string(), Some(local))
        }
        Some((bucket, key)) => (format!("/vsis3/{bucket}/{key}"), None),
        None => (uri.clone(), None),
    };
    let gdal = if sibling.ends_with(".gz") {
        format!("/vsigzip/{gdal}")
    } else {
        gdal
    };
    Ok(Located::Sibling {
        name: sibling,
        uri,
        gdal,
        staged,
    })
}

/// The sibling of `file_name` holding a `suffix` measurement: the matched template's trailing literal
/// (the text after its last field) replaced by `_` + suffix.
fn sibling_name(file_name: &str, spec: &Spec, suffix: &str) -> Option<String> {
    spec.templates
        .iter()
        .filter_map(|t| t.rsplit('}').next())
        .filter(|lit| !lit.is_empty() && !lit.contains('[') && file_name.ends_with(*lit))
        .map(|lit| format!("{}_{suffix}", &file_name[..file_name.len() - lit.len()]))
        .next()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Recogniser;

    const USER: &str = r#"
product: soil_user
file_format: GeoTIFF
templates: ["whc_conus_250m_v2.tif"]
time: {start: "2020", period: P1Y}
measurements:
  whc: {band: 1}
  field_capacity: {file: fc_conus_250m_v2.tif, optional: true}
  saturation: {file: sat_conus_250m_v2.tif}
"#;

    fn claimed<'a>(
        uri: &'a str,
        spec: &'a Spec,
        rec: &'a Recognised,
        stage: &'a Path,
    ) -> Claimed<'a> {
        Claimed {
            uri,
            file_name: uri.rsplit('/').next().unwrap(),
            spec,
            recognised: rec,
            container: false,
            s3: None,
            stage_dir: stage,
        }
    }

    #[test]
    fn literal_siblings_present_absent_and_required() {
        let dir = tempfile::tempdir().unwrap();
        let main = dir.path().join("whc_conus_250m_v2.tif");
        std::fs::write(&main, b"x").unwrap();
        std::fs::write(dir.path().join("sat_conus_250m_v2.tif"), b"x").unwrap();
        let mut r = Recogniser::default();
        r.add("soil_user.yaml", USER).unwrap();
        let uri = main.display().to_string();
        let rec = r.recognise(&uri).unwrap().unwrap();
        let spec = r.spec("soil_user").unwrap();
        let c = claimed(&uri, spec, &rec, dir.path());
        let m = &spec.measurements;
        assert_eq!(locate(&c, "whc", &m["whc"]).unwrap(), Located::Same);
        let sat = dir
            .path()
            .join("sat_conus_250m_v2.tif")
            .display()
            .to_string();
        assert_eq!(
            locate(&c, "saturation", &m["saturation"]).unwrap(),
            Located::Sibling {
                name: "sat_conus_250m_v2.tif".into(),
                uri: sat.clone(),
                gdal: sat.clone(),
                staged: None
            }
        );
        let fc = dir
            .path()
            .join("fc_conus_250m_v2.tif")
            .display()
            .to_string();
        let Located::Absent(a) = locate(&c, "field_capacity", &m["field_capacity"]).unwrap() else {
            panic!("an absent optional sibling is left out");
        };
        assert_eq!(a.expected, fc);
        assert!(a.note("soil_user").contains("field_capacity"));
        // The same sibling, required, is a failure naming the file and the spec to change.
        std::fs::remove_file(&sat).unwrap();
        let e = locate(&c, "saturation", &m["saturation"]).unwrap_err();
        assert!(
            e.contains(&sat) && e.contains("optional: true") && e.contains("soil_user.yaml"),
            "{e}"
        );
    }

    #[test]
    fn suffix_siblings_and_fields_in_file_names() {
        let dir = tempfile::tempdir().unwrap();
        let mut r = Recogniser::default();
        r.add(
            "soil.yaml",
            "product: soil\nfile_format: GeoTIFF\ntemplates: ['soil_{region}_{year:4}_whc.tif']\n\
             time: {start: '{year}', period: P1Y}\nmeasurements:\n  whc: {suffix: whc.tif}\n  \
             fc: {suffix: fc.tif, optional: true}\n  sat: {file: 'sat_{region}.tif.gz'}\n",
        )
        .unwrap();
        let main = dir.path().join("soil_conus_2020_whc.tif");
        std::fs::write(&main, b"x").unwrap();
        std::fs::write(dir.path().join("sat_conus.tif.gz"), b"x").unwrap();
        let uri = main.display().to_string();
        let rec = r.recognise(&uri).unwrap().unwrap();
        let spec = r.spec("soil").unwrap();
        let c = claimed(&uri, spec, &rec, dir.path());
        let m = &spec.measurements;
        // A suffix sibling that names the file itself.
        assert!(matches!(
            locate(&c, "whc", &m["whc"]).unwrap(),
            Located::Sibling { name, .. } if name == "soil_conus_2020_whc.tif"
        ));
        assert!(matches!(
            locate(&c, "fc", &m["fc"]).unwrap(),
            Located::Absent(a) if a.expected.ends_with("/soil_conus_2020_fc.tif")
        ));
        match locate(&c, "sat", &m["sat"]).unwrap() {
            Located::Sibling { name, gdal, .. } => {
                assert_eq!(name, "sat_conus.tif.gz");
                assert!(gdal.starts_with("/vsigzip//") && gdal.ends_with("/sat_conus.tif.gz"));
            }
            other => panic!("{other:?}"),
        }
    }
}
