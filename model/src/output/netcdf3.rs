//! A small NetCDF-3 writer (64-bit offset format, CDF-2) for CF grids: fixed-size variables of
//! bytes, shorts, ints, floats and doubles with attributes. Enough for stacks, model outputs and fixtures.
use std::io::Write;
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
    fn kind(&self) -> Kind {
        match self {
            Data::Byte(_) => Kind::Byte,
            Data::Short(_) => Kind::Short,
            Data::Int(_) => Kind::Int,
            Data::Float(_) => Kind::Float,
            Data::Double(_) => Kind::Double,
        }
    }

    fn len(&self) -> usize {
        match self {
            Data::Byte(v) => v.len(),
            Data::Short(v) => v.len(),
            Data::Int(v) => v.len(),
            Data::Float(v) => v.len(),
            Data::Double(v) => v.len(),
        }
    }

    /// The values big-endian, as stored.
    fn to_be_bytes(&self) -> Vec<u8> {
        let size = self.kind().size();
        let mut out = vec![0u8; self.len() * size];
        // Value by value into fixed-size slots (a loop the compiler turns into byte swaps), not
        // through a flattening iterator (which pushes byte by byte).
        macro_rules! put {
            ($v:expr) => {
                for (slot, x) in out.chunks_exact_mut(size).zip($v) {
                    slot.copy_from_slice(&x.to_be_bytes());
                }
            };
        }
        match self {
            Data::Byte(v) => put!(v),
            Data::Short(v) => put!(v),
            Data::Int(v) => put!(v),
            Data::Float(v) => put!(v),
            Data::Double(v) => put!(v),
        }
        out
    }
}

/// NetCDF-3 external types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// 8-bit integers.
    Byte,
    /// 16-bit integers.
    Short,
    /// 32-bit integers.
    Int,
    /// 32-bit floats.
    Float,
    /// 64-bit floats.
    Double,
}

impl Kind {
    fn code(self) -> u32 {
        match self {
            Kind::Byte => 1,
            Kind::Short => 3,
            Kind::Int => 4,
            Kind::Float => 5,
            Kind::Double => 6,
        }
    }

    fn size(self) -> usize {
        match self {
            Kind::Byte => 1,
            Kind::Short => 2,
            Kind::Int | Kind::Float => 4,
            Kind::Double => 8,
        }
    }
}

/// A variable declared before its data is written ([`create`]).
#[derive(Debug, Clone, PartialEq)]
pub struct VarDef {
    /// Name.
    pub name: String,
    /// Dimension ids.
    pub dims: Vec<usize>,
    /// Attributes.
    pub attrs: Vec<(String, Attr)>,
    /// Stored type.
    pub kind: Kind,
}

/// Where each variable's data lies in a file of a given header: enough to write any part of any
/// variable into the file, by whichever process opens it (tiles written in place by several runs).
#[derive(Debug, Clone)]
pub struct Placement {
    header: Vec<u8>,
    size: u64,
    offsets: Vec<u64>,
    kinds: Vec<Kind>,
    lens: Vec<usize>,
}

impl Placement {
    /// Writes `data` into variable `var` of `file` (a file with this header) from element `at` on
    /// (row-major over its dimensions).
    pub fn write_at(
        &self,
        file: &std::fs::File,
        var: usize,
        at: usize,
        data: &Data,
    ) -> std::io::Result<()> {
        use std::os::unix::fs::FileExt;
        let bad = |m: String| std::io::Error::new(std::io::ErrorKind::InvalidInput, m);
        if data.kind() != self.kinds[var] {
            return Err(bad(format!("variable {var} holds {:?}", self.kinds[var])));
        }
        if at + data.len() > self.lens[var] {
            return Err(bad(format!(
                "elements {at}..{} are outside variable {var} ({} elements)",
                at + data.len(),
                self.lens[var]
            )));
        }
        let offset = self.offsets[var] + (at * self.kinds[var].size()) as u64;
        file.write_all_at(&data.to_be_bytes(), offset)
    }

    /// Creates the file at `path` sized for all its data (zeros until written), or keeps the file
    /// already there when it has this header and size, so that several runs may each make sure of
    /// it without erasing what another wrote (a file another run is creating is waited for; a
    /// complete file of another header is replaced). Returns whether the file was kept.
    pub fn ensure(&self, path: &Path) -> std::io::Result<bool> {
        use std::io::Read;
        for _ in 0..100 {
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(path)
            {
                Ok(mut file) => {
                    file.write_all(&self.header)?;
                    file.set_len(self.size)?;
                    return Ok(false);
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(e),
            }
            let mut f = std::fs::File::open(path)?;
            let len = f.metadata()?.len();
            let mut head = vec![0u8; self.header.len()];
            let headed = f.read_exact(&mut head).is_ok();
            if headed && head == self.header && len == self.size {
                return Ok(true);
            }
            if headed && head != self.header {
                // Another header: a file of an earlier run with another configuration.
                break;
            }
            // Being created by another run.
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let mut file = std::fs::File::create(path)?;
        file.write_all(&self.header)?;
        file.set_len(self.size)?;
        Ok(false)
    }

    /// Opens a file with this header for writing (it must exist: see [`Placement::ensure`]).
    pub fn open(&self, path: &Path) -> std::io::Result<std::fs::File> {
        std::fs::OpenOptions::new().write(true).open(path)
    }
}

/// A created file: its variables' places, so data can be written in any order, in pieces.
pub struct Layout {
    file: std::fs::File,
    placement: Placement,
}

impl Layout {
    /// Writes `data` into variable `var` from element `at` on (row-major over its dimensions).
    pub fn write_at(&self, var: usize, at: usize, data: &Data) -> std::io::Result<()> {
        self.placement.write_at(&self.file, var, at, data)
    }

    /// Flushes the file to disk.
    pub fn finish(self) -> std::io::Result<()> {
        self.file.sync_all()
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

/// The header and data places of a NetCDF-3 (64-bit offset) file with the given dimensions (name,
/// length), global attributes and variables.
pub fn place(dims: &[(&str, usize)], globals: &[(String, Attr)], vars: &[VarDef]) -> Placement {
    let lens: Vec<usize> = vars
        .iter()
        .map(|v| v.dims.iter().map(|&d| dims[d].1).product())
        .collect();
    let stored = |i: usize| {
        let n = lens[i] * vars[i].kind.size();
        (n + padding(n)) as u64
    };
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
            h.extend(var.kind.code().to_be_bytes());
            // vsize is informational beyond 4 GiB (readers recompute it from the shape).
            h.extend((stored(i).min(u32::MAX as u64) as u32).to_be_bytes());
            h.extend(offsets[i].to_be_bytes());
        }
        h
    };
    let mut at = header(&vec![0; vars.len()]).len() as u64;
    let mut offsets = Vec::with_capacity(vars.len());
    for i in 0..vars.len() {
        offsets.push(at);
        at += stored(i);
    }
    Placement {
        header: header(&offsets),
        size: at,
        offsets,
        kinds: vars.iter().map(|v| v.kind).collect(),
        lens,
    }
}

/// Creates a NetCDF-3 (64-bit offset) file with the given dimensions (name, length), global
/// attributes and variables, sized for all their data (zeros until written through the [`Layout`]).
pub fn create(
    path: &Path,
    dims: &[(&str, usize)],
    globals: &[(String, Attr)],
    vars: &[VarDef],
) -> std::io::Result<Layout> {
    let placement = place(dims, globals, vars);
    let mut file = std::fs::File::create(path)?;
    file.write_all(&placement.header)?;
    file.set_len(placement.size)?;
    Ok(Layout { file, placement })
}

/// Writes a NetCDF-3 (64-bit offset) file with the given dimensions (name, length), global attributes
/// and variables, all at once.
pub fn write(
    path: &Path,
    dims: &[(&str, usize)],
    globals: &[(String, Attr)],
    vars: &[Var],
) -> std::io::Result<()> {
    let defs: Vec<VarDef> = vars
        .iter()
        .map(|v| VarDef {
            name: v.name.clone(),
            dims: v.dims.clone(),
            attrs: v.attrs.clone(),
            kind: v.data.kind(),
        })
        .collect();
    let layout = create(path, dims, globals, &defs)?;
    for (i, v) in vars.iter().enumerate() {
        layout.write_at(i, 0, &v.data)?;
    }
    layout.finish()
}
