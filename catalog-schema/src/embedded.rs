//! etlake's embedded default database: a private Postgres cluster created with `initdb` and run with
//! `pg_ctl` from the system's binaries, under a data directory of its own. As root, the server runs as `postgres`.
use crate::config::Environment;
use crate::{DbUrl, Error, Result};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The database name inside the embedded cluster (datacube's default).
pub const DATABASE: &str = "datacube";
/// The superuser of the embedded cluster.
pub const SUPERUSER: &str = "postgres";
/// The OS account that runs the server when etlake itself runs as root.
const SERVER_ACCOUNT: &str = "postgres";

/// State of the embedded cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// No cluster under the directory yet (created on first use).
    NotCreated,
    /// Created, server not running.
    Stopped,
    /// Server running.
    Running {
        /// Server process id.
        pid: u32,
        /// TCP port on 127.0.0.1 (the Unix socket uses the same number).
        port: u16,
    },
}

/// A private cluster rooted at one directory: `data/` (PGDATA), `run/` (socket), `log/`, `port`, `password`.
#[derive(Debug, Clone)]
pub struct Embedded {
    root: PathBuf,
}

impl Embedded {
    /// The cluster under `root`.
    pub fn new(root: impl Into<PathBuf>) -> Embedded {
        Embedded { root: root.into() }
    }

    /// `$ETLAKE_PG_DIR`, else `$ETLAKE_HOME/pg`, else `/var/lib/etlake/pg` for root (the `postgres` account
    /// must be able to reach it, and `/root` is private), else `$XDG_DATA_HOME/etlake/pg` or `~/.local/share/etlake/pg`.
    pub fn default_root(env: &dyn Environment) -> PathBuf {
        if let Some(d) = env.var("ETLAKE_PG_DIR") {
            return PathBuf::from(d);
        }
        if let Some(h) = env.var("ETLAKE_HOME") {
            return PathBuf::from(h).join("pg");
        }
        if is_root() {
            return PathBuf::from("/var/lib/etlake/pg");
        }
        let data = env
            .var("XDG_DATA_HOME")
            .map(PathBuf::from)
            .or_else(|| env.home().map(|h| h.join(".local/share")))
            .unwrap_or_else(|| PathBuf::from("."));
        data.join("etlake/pg")
    }

    /// The cluster's root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }
    fn data_dir(&self) -> PathBuf {
        self.root.join("data")
    }
    /// The Unix-socket directory.
    pub fn socket_dir(&self) -> PathBuf {
        self.root.join("run")
    }
    fn log_file(&self) -> PathBuf {
        self.root.join("log/postgres.log")
    }

    fn err(&self, message: impl Into<String>) -> Error {
        Error::Embedded {
            dir: self.root.clone(),
            message: message.into(),
        }
    }

    fn port(&self) -> Result<u16> {
        let p = self.root.join("port");
        let text = std::fs::read_to_string(&p).map_err(|source| Error::Io {
            path: p.clone(),
            source,
        })?;
        text.trim()
            .parse()
            .map_err(|_| self.err(format!("{} does not hold a port number", p.display())))
    }

    /// The URL etlake uses: the Unix socket, no password needed (`local trust`, socket directory private).
    pub fn url(&self) -> Result<DbUrl> {
        Ok(DbUrl {
            host: Some(self.socket_dir().display().to_string()),
            port: Some(self.port()?),
            user: Some(SUPERUSER.into()),
            password: None,
            dbname: Some(DATABASE.into()),
            params: Vec::new(),
        })
    }

    /// The TCP URL on 127.0.0.1 with the generated password (stored in `password`, mode 0600).
    pub fn tcp_url(&self) -> Result<DbUrl> {
        let pw = self.root.join("password");
        let password =
            std::fs::read_to_string(&pw).map_err(|source| Error::Io { path: pw, source })?;
        Ok(DbUrl {
            host: Some("127.0.0.1".into()),
            port: Some(self.port()?),
            user: Some(SUPERUSER.into()),
            password: Some(password.trim().to_string()),
            dbname: Some(DATABASE.into()),
            params: Vec::new(),
        })
    }

    /// Whether the cluster exists and runs.
    pub fn status(&self) -> Result<Status> {
        if !self.data_dir().join("PG_VERSION").is_file() {
            return Ok(Status::NotCreated);
        }
        let out = self.pg_ctl(&["status", "-D", &self.data_dir().display().to_string()])?;
        match out.status.code() {
            Some(0) => {
                let pid_file = self.data_dir().join("postmaster.pid");
                let pid = std::fs::read_to_string(&pid_file)
                    .ok()
                    .and_then(|t| t.lines().next().and_then(|l| l.trim().parse().ok()))
                    .unwrap_or(0);
                Ok(Status::Running {
                    pid,
                    port: self.port()?,
                })
            }
            Some(3) => Ok(Status::Stopped),
            _ => Err(self.err(format!("pg_ctl status failed: {}", output_text(&out)))),
        }
    }

    /// Creates the cluster on first use, starts it when stopped, and returns its URL.
    pub fn ensure_running(&self) -> Result<DbUrl> {
        match self.status()? {
            Status::Running { .. } => return self.url(),
            Status::NotCreated => self.create()?,
            Status::Stopped => {}
        }
        self.start()?;
        self.url()
    }

    /// Stops the server (fast shutdown). Returns false when it was not running.
    pub fn stop(&self) -> Result<bool> {
        if !matches!(self.status()?, Status::Running { .. }) {
            return Ok(false);
        }
        let data = self.data_dir().display().to_string();
        let out = self.pg_ctl(&["stop", "-D", &data, "-m", "fast", "-w", "-t", "60"])?;
        if !out.status.success() {
            return Err(self.err(format!("pg_ctl stop failed: {}", output_text(&out))));
        }
        Ok(true)
    }

    fn create(&self) -> Result<()> {
        let bindir = pg_bindir()?;
        for d in [self.root.clone(), self.socket_dir(), self.root.join("log")] {
            std::fs::create_dir_all(&d).map_err(|source| Error::Io {
                path: d.clone(),
                source,
            })?;
        }
        let owner = server_owner()?;
        if let Some((uid, gid)) = owner {
            for d in [self.root.clone(), self.socket_dir(), self.root.join("log")] {
                std::os::unix::fs::chown(&d, Some(uid), Some(gid))
                    .map_err(|source| Error::Io { path: d, source })?;
            }
            let probe = Command::new("runuser")
                .args(["-u", SERVER_ACCOUNT, "--", "test", "-w"])
                .arg(&self.root)
                .status()
                .map_err(|e| self.err(format!("cannot run runuser: {e}")))?;
            if !probe.success() {
                return Err(self.err(format!(
                    "the {SERVER_ACCOUNT} account cannot reach this directory (a parent is private?); \
                     set ETLAKE_HOME or ETLAKE_PG_DIR to a directory it can traverse"
                )));
            }
        }
        let _ = std::fs::set_permissions(self.socket_dir(), std::fs::Permissions::from_mode(0o700));
        let password = uuid::Uuid::new_v4().simple().to_string();
        let pw_file = self.root.join("password");
        write_private(&pw_file, &password)?;
        // initdb reads the password from a file the server account can read; remove it right after.
        let tmp_pw = self.socket_dir().join("initdb-pw");
        write_private(&tmp_pw, &password)?;
        if let Some((uid, gid)) = owner {
            std::os::unix::fs::chown(&tmp_pw, Some(uid), Some(gid)).map_err(|source| {
                Error::Io {
                    path: tmp_pw.clone(),
                    source,
                }
            })?;
        }
        let data = self.data_dir().display().to_string();
        let pwfile = format!("--pwfile={}", tmp_pw.display());
        let out = self.run_server_cmd(
            &bindir.join("initdb"),
            &[
                "-D",
                &data,
                "-U",
                SUPERUSER,
                "-E",
                "UTF8",
                "--locale=C",
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                &pwfile,
            ],
        )?;
        let _ = std::fs::remove_file(&tmp_pw);
        if !out.status.success() {
            return Err(self.err(format!("initdb failed: {}", output_text(&out))));
        }
        let port = match std::env::var("ETLAKE_PG_PORT")
            .ok()
            .and_then(|p| p.parse().ok())
        {
            Some(p) => p,
            None => free_port().map_err(|e| self.err(format!("no free TCP port: {e}")))?,
        };
        let conf = self.data_dir().join("postgresql.conf");
        let settings = format!(
            "\n# etlake embedded cluster\nlisten_addresses = '127.0.0.1'\nport = {port}\n\
             unix_socket_directories = '{}'\nmax_connections = 100\nshared_buffers = 256MB\n\
             max_wal_size = 2GB\n",
            self.socket_dir().display()
        );
        append(&conf, &settings)?;
        std::fs::write(self.root.join("port"), format!("{port}\n")).map_err(|source| {
            Error::Io {
                path: self.root.join("port"),
                source,
            }
        })?;
        tracing::info!(
            "created embedded Postgres cluster in {} (port {port})",
            self.root.display()
        );
        Ok(())
    }

    fn start(&self) -> Result<()> {
        let data = self.data_dir().display().to_string();
        let log = self.log_file().display().to_string();
        let out = self.pg_ctl(&["start", "-D", &data, "-l", &log, "-w", "-t", "60"])?;
        if !out.status.success() {
            // Another etlake process may have started it in the meantime.
            if matches!(self.status()?, Status::Running { .. }) {
                return Ok(());
            }
            let tail = std::fs::read_to_string(self.log_file()).unwrap_or_default();
            let tail: Vec<&str> = tail.lines().rev().take(5).collect();
            return Err(self.err(format!(
                "pg_ctl start failed: {} (log: {})",
                output_text(&out),
                tail.into_iter().rev().collect::<Vec<_>>().join(" | ")
            )));
        }
        self.create_database()
    }

    fn create_database(&self) -> Result<()> {
        let mut admin = self.url()?;
        admin.dbname = Some("postgres".into());
        let mut client = admin
            .to_pg_config(&format!("etlake {}", crate::VERSION))
            .connect(postgres::NoTls)
            .map_err(|e| self.err(format!("cannot connect to the new server: {e}")))?;
        let exists = client
            .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&DATABASE])
            .map_err(|e| self.err(e.to_string()))?
            .is_some();
        if !exists {
            client
                .batch_execute(&format!("CREATE DATABASE {DATABASE}"))
                .map_err(|e| self.err(format!("cannot create database {DATABASE}: {e}")))?;
        }
        Ok(())
    }

    fn pg_ctl(&self, args: &[&str]) -> Result<Output> {
        self.run_server_cmd(&pg_bindir()?.join("pg_ctl"), args)
    }

    /// Runs a server program, as the `postgres` account when etlake runs as root (initdb/pg_ctl refuse root).
    fn run_server_cmd(&self, program: &Path, args: &[&str]) -> Result<Output> {
        let mut cmd = if is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", SERVER_ACCOUNT, "--"]).arg(program);
            c
        } else {
            Command::new(program)
        };
        cmd.args(args).current_dir("/");
        cmd.output()
            .map_err(|e| self.err(format!("cannot run {}: {e}", program.display())))
    }
}

/// Whether this process runs as root.
pub fn is_root() -> bool {
    std::fs::metadata("/proc/self")
        .map(|m| m.uid() == 0)
        .unwrap_or(false)
}

/// uid/gid of the server account when running as root, `None` otherwise.
fn server_owner() -> Result<Option<(u32, u32)>> {
    if !is_root() {
        return Ok(None);
    }
    let passwd = std::fs::read_to_string("/etc/passwd").map_err(|source| Error::Io {
        path: "/etc/passwd".into(),
        source,
    })?;
    passwd
        .lines()
        .find_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.len() > 3 && f[0] == SERVER_ACCOUNT)
                .then(|| Some((f[2].parse().ok()?, f[3].parse().ok()?)))
                .flatten()
        })
        .map(Some)
        .ok_or_else(|| {
            Error::Config(format!(
                "running as root, but there is no '{SERVER_ACCOUNT}' account to run Postgres as \
                 (install the postgresql package, or run etlake as an ordinary user)"
            ))
        })
}

/// The directory holding `initdb`, `pg_ctl` and `pg_dump`: `$ETLAKE_PG_BINDIR`, `pg_config --bindir`,
/// the newest `/usr/lib/postgresql/*/bin`, or the directory of `initdb` on `PATH`.
pub fn pg_bindir() -> Result<PathBuf> {
    let has_tools = |d: &Path| d.join("initdb").is_file() && d.join("pg_ctl").is_file();
    if let Ok(d) = std::env::var("ETLAKE_PG_BINDIR") {
        let d = PathBuf::from(d);
        if has_tools(&d) {
            return Ok(d);
        }
        return Err(Error::Config(format!(
            "ETLAKE_PG_BINDIR={} has no initdb/pg_ctl",
            d.display()
        )));
    }
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output() {
        let d = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if out.status.success() && has_tools(&d) {
            return Ok(d);
        }
    }
    if let Ok(entries) = std::fs::read_dir("/usr/lib/postgresql") {
        let mut versions: Vec<(u32, PathBuf)> = entries
            .filter_map(|e| e.ok())
            .filter_map(|e| Some((e.file_name().to_str()?.parse().ok()?, e.path().join("bin"))))
            .filter(|(_, d)| has_tools(d))
            .collect();
        versions.sort();
        if let Some((_, d)) = versions.pop() {
            return Ok(d);
        }
    }
    if let Some(path) = std::env::var_os("PATH") {
        for d in std::env::split_paths(&path) {
            if has_tools(&d) {
                return Ok(d);
            }
        }
    }
    Err(Error::Config(
        "no Postgres server binaries found (initdb, pg_ctl): install postgresql-15 or set ETLAKE_PG_BINDIR".into(),
    ))
}

fn free_port() -> std::io::Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}

fn write_private(path: &Path, text: &str) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
    f.write_all(text.as_bytes()).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })
}

fn append(path: &Path, text: &str) -> Result<()> {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(path)
        .map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
    f.write_all(text.as_bytes()).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })
}

fn output_text(out: &Output) -> String {
    let s = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}
