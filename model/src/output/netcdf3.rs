//! A small NetCDF-3 writer (64-bit offset format, CDF-2) for CF grids: fixed-size variables of
//! bytes, shorts, ints, floats and doubles with attributes. Enough for stacks, model outputs and fixtures.
use std::io::{BufWriter, Write};
use std::path::Path;

/// Attribute values.
#[derive(Debug, Clone, PartialEq)]
pub enum Attr {
    /// A character string.
    Text(String),
    /// One byte.
    Byte(i8),
    /// One short.
    Short(i16),
    /// One int.
    Int(i32),
    /// One float.
    Float(f32),
    /// One double.
    Double(f64),
}

/// Variable data (written big-endian).
#[derive(Debug, Clone, PartialEq)]
pub enum Data {
    /// 8-bit integers.
    Byte(Vec<i8>),
    /// 16-bit integers.
    Short(Vec<i16>),
    /// 32-bit integers.
    Int(Vec<i32>),
    /// 32-bit floats.
    Float(Vec<f32>),
    /// 64-bit floats.
    Double(Vec<f64>),
}

/// A variable: its dimension ids (indexes into the file's dimensions), attributes and data.
#[derive(Debug, Clone, PartialEq)]
pub struct Var {
    /// Name.
    pub name: String,
    /// Dimension ids.
    pub dims: Vec<usize>,
    /// Attributes.
    pub attrs: Vec<(String, Attr)>,
    /// Values, row-major.
    pub data: Data,
}

impl Data {
    fn kind(&self) -> u32 {
        match self {
            Data::Byte(_) => 1,
            Data::Short(_) => 3,
            Data::Int(_) => 4,
            Data::Float(_) => 5,
            Data::Double(_) => 6,
        }
    }

    fn len_bytes(&self) -> usize {
        match self {
            Data::Byte(v) => v.len(),
            Data::Short(v) => v.len() * 2,
            Data::Int(v) => v.len() * 4,
            Data::Float(v) => v.len() * 4,
            Data::Double(v) => v.len() * 8,
        }
    }

    fn write(&self, w: &mut impl Write) -> std::io::Result<()> {
        match self {
            Data::Byte(v) => {
                for x in v {
                    w.write_all(&x.to_be_bytes())?;
                }
            }
            Data::Short(v) => {
                for x in v {
                    w.write_all(&x.to_be_bytes())?;
                }
            }
            Data::Int(v) => {
                for x in v {
                    w.write_all(&x.to_be_bytes())?;
                }
            }
            Data::Float(v) => {
                for x in v {
                    w.write_all(&x.to_be_bytes())?;
                }
            }
            Data::Double(v) => {
                for x in v {
                    w.write_all(&x.to_be_bytes())?;
                }
            }
        }
        let pad = padding(self.len_bytes());
        w.write_all(&[0u8; 4][..pad])
    }
}

fn padding(n: usize) -> usize {
    (4 - n % 4) % 4
}

fn name(v: &mut Vec<u8>, s: &str) {
    v.extend((s.len() as u32).to_be_bytes());
    v.extend(s.as_bytes());
    v.extend(&[0u8; 4][..padding(s.len())]);
}

fn attrs(v: &mut Vec<u8>, list: &[(String, Attr)]) {
    if list.is_empty() {
        v.extend([0u8; 8]);
        return;
    }
    v.extend(12u32.to_be_bytes());
    v.extend((list.len() as u32).to_be_bytes());
    for (n, a) in list {
        name(v, n);
        let (kind, bytes): (u32, Vec<u8>) = match a {
            Attr::Text(s) => (2, s.as_bytes().to_vec()),
            Attr::Byte(x) => (1, x.to_be_bytes().to_vec()),
            Attr::Short(x) => (3, x.to_be_bytes().to_vec()),
            Attr::Int(x) => (4, x.to_be_bytes().to_vec()),
            Attr::Float(x) => (5, x.to_be_bytes().to_vec()),
            Attr::Double(x) => (6, x.to_be_bytes().to_vec()),
        };
        let count = if kind == 2 { bytes.len() } else { 1 };
        v.extend(kind.to_be_bytes());
        v.extend((count as u32).to_be_bytes());
        let pad = padding(bytes.len());
        v.extend(bytes);
        v.extend(&[0u8; 4][..pad]);
    }
}

/// Writes a NetCDF-3 (64-bit offset) file with the given dimensions (name, length), global attributes
/// and variables.
pub fn write(
    path: &Path,
    dims: &[(&str, usize)],
    globals: &[(String, Attr)],
    vars: &[Var],
) -> std::io::Result<()> {
    let header = |offsets: &[u64]| -> Vec<u8> {
        let mut h = b"CDF\x02".to_vec();
        h.extend(0u32.to_be_bytes());
        if dims.is_empty() {
            h.extend([0u8; 8]);
        } else {
            h.extend(10u32.to_be_bytes());
            h.extend((dims.len() as u32).to_be_bytes());
            for (n, l) in dims {
                name(&mut h, n);
                h.extend((*l as u32).to_be_bytes());
            }
        }
        attrs(&mut h, globals);
        h.extend(11u32.to_be_bytes());
        h.extend((vars.len() as u32).to_be_bytes());
        for (i, var) in vars.iter().enumerate() {
            name(&mut h, &var.name);
            h.extend((var.dims.len() as u32).to_be_bytes());
            for d in &var.dims {
                h.extend((*d as u32).to_be_bytes());
            }
            attrs(&mut h, &var.attrs);
            h.extend(var.data.kind().to_be_bytes());
            let vsize = var.data.len_bytes() + padding(var.data.len_bytes());
            // vsize is informational beyond 4 GiB (readers recompute it from the shape).
            h.extend((vsize.min(u32::MAX as usize) as u32).to_be_bytes());
            h.extend(offsets[i].to_be_bytes());
        }
        h
    };
    let header_len = header(&vec![0; vars.len()]).len() as u64;
    let mut offsets = Vec::with_capacity(vars.len());
    let mut at = header_len;
    for v in vars {
        offsets.push(at);
        at += (v.data.len_bytes() + padding(v.data.len_bytes())) as u64;
    }
    let mut w = BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
    w.write_all(&header(&offsets))?;
    for v in vars {
        v.data.write(&mut w)?;
    }
    w.flush()
}
