//! Resolving which database to use, the way ODC users configure datacube: `--db`, `ODC_<ENV>_DB_URL`,
//! `DATACUBE_DB_URL`, the datacube config file, `DB_*` variables, and finally etlake's embedded cluster.
use crate::{DbUrl, Error, Result};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// What the command line says about the database.
#[derive(Debug, Clone, Default)]
pub struct ConnectOptions {
    /// `--db URL`: wins over everything else.
    pub db_url: Option<String>,
    /// `--env/-E NAME`: the datacube environment (default `default`).
    pub env: Option<String>,
    /// `--config/-C PATH` (repeatable): the first readable file is used.
    pub config_paths: Vec<PathBuf>,
}

/// The process environment, abstracted so resolution can be tested without touching real variables.
pub trait Environment {
    /// An environment variable, if set and not empty.
    fn var(&self, key: &str) -> Option<String>;
    /// The user's home directory.
    fn home(&self) -> Option<PathBuf>;
    /// The working directory.
    fn cwd(&self) -> PathBuf;
}

/// The real process environment.
pub struct SystemEnv;

impl Environment for SystemEnv {
    fn var(&self, key: &str) -> Option<String> {
        std::env::var(key).ok().filter(|v| !v.is_empty())
    }
    fn home(&self) -> Option<PathBuf> {
        self.var("HOME").map(PathBuf::from)
    }
    fn cwd(&self) -> PathBuf {
        std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."))
    }
}

/// Where the connection came from, for `db check` and error messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// `--db URL`.
    CommandLine,
    /// An environment variable, by name.
    Variable(String),
    /// A datacube config file and the section used.
    ConfigFile {
        /// The file.
        path: PathBuf,
        /// The section (environment) read from it.
        section: String,
    },
    /// Nothing configured: etlake's private cluster.
    Embedded,
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::CommandLine => write!(f, "--db"),
            Source::Variable(v) => write!(f, "${v}"),
            Source::ConfigFile { path, section } => write!(f, "{} [{section}]", path.display()),
            Source::Embedded => write!(f, "embedded cluster"),
        }
    }
}

/// The outcome of resolution: a URL (or `None` for the embedded cluster) and where it came from.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// The database, or `None` when etlake should use its embedded cluster.
    pub url: Option<DbUrl>,
    /// Where the answer came from.
    pub source: Source,
    /// The datacube environment name used.
    pub env: String,
}

const PARTS: [&str; 5] = ["hostname", "port", "database", "username", "password"];

/// Resolves the database in this order: `--db`, `ODC_<ENV>_DB_URL`, `DATACUBE_DB_URL`, the config file
/// (`db_url`, then `db_*` parts, each overridable by `ODC_<ENV>_DB_<PART>` and falling back to `DB_<PART>`),
/// `ODC_<ENV>_DB_*`/`DB_*` variables alone, and otherwise the embedded cluster.
pub fn resolve(opts: &ConnectOptions, env: &dyn Environment) -> Result<Resolved> {
    let env_name = opts
        .env
        .clone()
        .or_else(|| env.var("ODC_ENVIRONMENT"))
        .or_else(|| env.var("DATACUBE_ENVIRONMENT"))
        .unwrap_or_else(|| "default".into());
    let done = |url: DbUrl, source: Source| Resolved {
        url: Some(url),
        source,
        env: env_name.clone(),
    };
    if let Some(u) = &opts.db_url {
        return Ok(done(DbUrl::parse(u)?, Source::CommandLine));
    }
    let prefix = format!("ODC_{}_", env_name.to_uppercase());
    for key in [format!("{prefix}DB_URL"), "DATACUBE_DB_URL".to_string()] {
        if let Some(u) = env.var(&key) {
            return Ok(done(DbUrl::parse(&u)?, Source::Variable(key)));
        }
    }
    let part = |file: &BTreeMap<String, String>, name: &str| -> Option<String> {
        env.var(&format!("{prefix}DB_{}", name.to_uppercase()))
            .or_else(|| {
                file.get(&format!("db_{name}"))
                    .cloned()
                    .filter(|v| !v.is_empty())
            })
            .or_else(|| env.var(&format!("DB_{}", name.to_uppercase())))
    };
    let from_parts = |file: &BTreeMap<String, String>| -> Result<DbUrl> {
        let p: Vec<Option<String>> = PARTS.iter().map(|n| part(file, n)).collect();
        DbUrl::from_parts(
            p[0].as_deref(),
            p[1].as_deref(),
            p[2].as_deref(),
            p[3].as_deref(),
            p[4].as_deref(),
        )
    };
    if let Some(path) = find_config_file(opts, env)? {
        let sections = read_config_file(&path)?;
        if let Some((section, values)) = select_section(&sections, &env_name) {
            let source = Source::ConfigFile {
                path: path.clone(),
                section: section.clone(),
            };
            if let Some(u) = values.get("db_url").filter(|u| !u.is_empty()) {
                return Ok(done(DbUrl::parse(u)?, source));
            }
            return Ok(done(from_parts(values)?, source));
        }
        tracing::warn!(
            "{} has no section for environment {env_name:?}; not using it",
            path.display()
        );
    }
    let empty = BTreeMap::new();
    if let Some(var) = PARTS.iter().find_map(|n| {
        let odc = format!("{prefix}DB_{}", n.to_uppercase());
        let legacy = format!("DB_{}", n.to_uppercase());
        env.var(&odc)
            .map(|_| odc)
            .or_else(|| env.var(&legacy).map(|_| legacy))
    }) {
        return Ok(done(from_parts(&empty)?, Source::Variable(var)));
    }
    Ok(Resolved {
        url: None,
        source: Source::Embedded,
        env: env_name,
    })
}

/// `--config` (first readable, error if none), `ODC_CONFIG_PATH`/`DATACUBE_CONFIG_PATH` (colon lists),
/// then `./datacube.conf`, `~/.datacube.conf`, `/etc/default/datacube.conf`, `/etc/datacube.conf`.
fn find_config_file(opts: &ConnectOptions, env: &dyn Environment) -> Result<Option<PathBuf>> {
    let readable = |p: &Path| p.is_file() && std::fs::File::open(p).is_ok();
    if !opts.config_paths.is_empty() {
        return match opts.config_paths.iter().find(|p| readable(p)) {
            Some(p) => Ok(Some(p.clone())),
            None => Err(Error::Config(format!(
                "none of the config files given with --config is readable: {}",
                opts.config_paths
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
        };
    }
    for var in ["ODC_CONFIG_PATH", "DATACUBE_CONFIG_PATH"] {
        if let Some(list) = env.var(var) {
            return Ok(list
                .split(':')
                .filter(|s| !s.is_empty())
                .map(PathBuf::from)
                .find(|p| readable(p)));
        }
    }
    let mut candidates = vec![env.cwd().join("datacube.conf")];
    if let Some(home) = env.home() {
        candidates.push(home.join(".datacube.conf"));
    }
    candidates.push(PathBuf::from("/etc/default/datacube.conf"));
    candidates.push(PathBuf::from("/etc/datacube.conf"));
    Ok(candidates.into_iter().find(|p| readable(p)))
}

type Sections = BTreeMap<String, BTreeMap<String, String>>;

/// Picks the environment's section, following `alias:` and datacube's `datacube` fallback for `default`.
fn select_section<'a>(
    sections: &'a Sections,
    env: &str,
) -> Option<(&'a String, &'a BTreeMap<String, String>)> {
    let mut name = env.to_string();
    for _ in 0..8 {
        let (key, values) = match sections.get_key_value(&name) {
            Some(kv) => kv,
            None if name == "default" => sections.get_key_value("datacube")?,
            None => return None,
        };
        match values.get("alias") {
            Some(target) => name = target.clone(),
            None => return Some((key, values)),
        }
    }
    None
}

/// Reads an INI (`[section]` + `key: value`/`key = value`) or YAML (`section: {key: value}`) config file.
pub fn read_config_file(path: &Path) -> Result<BTreeMap<String, BTreeMap<String, String>>> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    parse_config_text(&text).map_err(|m| Error::Config(format!("{}: {m}", path.display())))
}

fn parse_config_text(text: &str) -> Result<Sections, String> {
    let first = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with(';'));
    if first.is_some_and(|l| l.starts_with('[')) {
        return parse_ini(text);
    }
    let yaml: serde_yaml_ng::Value =
        serde_yaml_ng::from_str(text).map_err(|e| format!("neither INI nor valid YAML: {e}"))?;
    let mut out = Sections::new();
    let Some(map) = yaml.as_mapping() else {
        return Err("expected one mapping per environment".into());
    };
    for (k, v) in map {
        let name = k.as_str().ok_or("environment names must be strings")?;
        let mut values = BTreeMap::new();
        if let Some(m) = v.as_mapping() {
            for (k2, v2) in m {
                let key = k2.as_str().ok_or("option names must be strings")?;
                let val = match v2 {
                    serde_yaml_ng::Value::String(s) => s.clone(),
                    serde_yaml_ng::Value::Number(n) => n.to_string(),
                    serde_yaml_ng::Value::Bool(b) => b.to_string(),
                    serde_yaml_ng::Value::Null => String::new(),
                    _ => return Err(format!("{name}.{key}: expected a scalar")),
                };
                values.insert(key.to_string(), val);
            }
        }
        out.insert(name.to_string(), values);
    }
    Ok(out)
}

fn parse_ini(text: &str) -> Result<Sections, String> {
    let mut out = Sections::new();
    let mut current: Option<String> = None;
    for (no, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            current = Some(name.trim().to_string());
            out.entry(name.trim().to_string()).or_default();
            continue;
        }
        let Some(section) = &current else {
            return Err(format!("line {}: option outside of a [section]", no + 1));
        };
        let split = line
            .find([':', '='])
            .ok_or(format!("line {}: expected key: value", no + 1))?;
        let (k, v) = (line[..split].trim(), line[split + 1..].trim());
        out.get_mut(section)
            .expect("section exists")
            .insert(k.to_lowercase(), v.to_string());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    struct FakeEnv {
        vars: HashMap<String, String>,
        dir: PathBuf,
    }
    impl Environment for FakeEnv {
        fn var(&self, key: &str) -> Option<String> {
            self.vars.get(key).cloned()
        }
        fn home(&self) -> Option<PathBuf> {
            Some(self.dir.join("home"))
        }
        fn cwd(&self) -> PathBuf {
            self.dir.join("cwd")
        }
    }

    fn env(vars: &[(&str, &str)]) -> (FakeEnv, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("home")).unwrap();
        std::fs::create_dir_all(dir.path().join("cwd")).unwrap();
        let vars = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        (
            FakeEnv {
                vars,
                dir: dir.path().to_path_buf(),
            },
            dir,
        )
    }

    fn url(r: &Resolved) -> String {
        r.url
            .as_ref()
            .map(|u| u.redacted())
            .unwrap_or_else(|| "embedded".into())
    }

    #[test]
    fn nothing_configured_means_embedded() {
        let (e, _d) = env(&[]);
        let r = resolve(&ConnectOptions::default(), &e).unwrap();
        assert_eq!(r.source, Source::Embedded);
        assert!(r.url.is_none());
    }

    #[test]
    fn command_line_beats_everything() {
        let (e, _d) = env(&[
            ("ODC_DEFAULT_DB_URL", "postgresql://a/x"),
            ("DATACUBE_DB_URL", "postgresql://b/y"),
        ]);
        let opts = ConnectOptions {
            db_url: Some("postgresql+psycopg2://c/z".into()),
            ..Default::default()
        };
        let r = resolve(&opts, &e).unwrap();
        assert_eq!(url(&r), "postgresql://c/z");
        assert_eq!(r.source, Source::CommandLine);
    }

    #[test]
    fn odc_env_variable_uses_the_selected_environment() {
        let (e, _d) = env(&[
            ("ODC_DEFAULT_DB_URL", "postgresql://a/x"),
            ("ODC_AUX_DB_URL", "postgresql://aux/w"),
            ("DATACUBE_DB_URL", "postgresql://b/y"),
        ]);
        assert_eq!(
            url(&resolve(&ConnectOptions::default(), &e).unwrap()),
            "postgresql://a/x"
        );
        let opts = ConnectOptions {
            env: Some("aux".into()),
            ..Default::default()
        };
        let r = resolve(&opts, &e).unwrap();
        assert_eq!(url(&r), "postgresql://aux/w");
        assert_eq!(r.source, Source::Variable("ODC_AUX_DB_URL".into()));
        let (e, _d) = env(&[
            ("ODC_ENVIRONMENT", "aux"),
            ("ODC_AUX_DB_URL", "postgresql://aux/w"),
        ]);
        assert_eq!(
            url(&resolve(&ConnectOptions::default(), &e).unwrap()),
            "postgresql://aux/w"
        );
    }

    #[test]
    fn legacy_datacube_db_url_comes_next() {
        let (e, _d) = env(&[("DATACUBE_DB_URL", "postgresql://b/y")]);
        let r = resolve(&ConnectOptions::default(), &e).unwrap();
        assert_eq!(url(&r), "postgresql://b/y");
        assert_eq!(r.source, Source::Variable("DATACUBE_DB_URL".into()));
    }

    #[test]
    fn config_file_from_datacube_config_path_with_db_url() {
        let (mut e, d) = env(&[]);
        let f = d.path().join("my.conf");
        std::fs::write(
            &f,
            "[default]\ndb_url: postgresql+psycopg2://u:p@h:1234/odc\n",
        )
        .unwrap();
        e.vars.insert(
            "DATACUBE_CONFIG_PATH".into(),
            format!("/nonexistent:{}", f.display()),
        );
        let r = resolve(&ConnectOptions::default(), &e).unwrap();
        assert_eq!(url(&r), "postgresql://u:***@h:1234/odc");
        assert!(matches!(r.source, Source::ConfigFile { ref section, .. } if section == "default"));
    }

    #[test]
    fn config_file_parts_in_cwd_and_home() {
        let (e, d) = env(&[]);
        std::fs::write(
            d.path().join("home/.datacube.conf"),
            "[datacube]\ndb_hostname: dbhost\ndb_port = 5439\ndb_database: cube\ndb_username: me\ndb_password: pw\n",
        )
        .unwrap();
        // 1.8-style file with only a [datacube] section serves the default environment.
        assert_eq!(
            url(&resolve(&ConnectOptions::default(), &e).unwrap()),
            "postgresql://me:***@dbhost:5439/cube"
        );
        // ./datacube.conf wins over ~/.datacube.conf
        std::fs::write(
            d.path().join("cwd/datacube.conf"),
            "default:\n  db_hostname: cwdhost\n",
        )
        .unwrap();
        assert_eq!(
            url(&resolve(&ConnectOptions::default(), &e).unwrap()),
            "postgresql://cwdhost/datacube"
        );
    }

    #[test]
    fn yaml_config_with_alias_and_part_overrides() {
        let (mut e, d) = env(&[]);
        let f = d.path().join("c.yaml");
        std::fs::write(
            &f,
            "main:\n  db_hostname: mainhost\n  db_username: odc\nprod:\n  alias: main\n",
        )
        .unwrap();
        e.vars
            .insert("ODC_PROD_DB_PASSWORD".into(), "sekrit".into());
        e.vars.insert("DB_PORT".into(), "6000".into());
        let opts = ConnectOptions {
            env: Some("prod".into()),
            config_paths: vec![f],
            ..Default::default()
        };
        let r = resolve(&opts, &e).unwrap();
        let u = r.url.unwrap();
        assert_eq!(u.host.as_deref(), Some("mainhost"));
        assert_eq!(u.password.as_deref(), Some("sekrit"));
        assert_eq!(u.port, Some(6000));
    }

    #[test]
    fn unreadable_explicit_config_is_an_error() {
        let (e, _d) = env(&[]);
        let opts = ConnectOptions {
            config_paths: vec![PathBuf::from("/nonexistent/datacube.conf")],
            ..Default::default()
        };
        let err = resolve(&opts, &e).unwrap_err().to_string();
        assert!(err.contains("/nonexistent/datacube.conf"), "{err}");
    }

    #[test]
    fn db_part_variables_alone_configure_a_server() {
        let (e, _d) = env(&[("DB_HOSTNAME", "legacyhost"), ("DB_DATABASE", "cube")]);
        let r = resolve(&ConnectOptions::default(), &e).unwrap();
        assert_eq!(url(&r), "postgresql://legacyhost/cube");
        assert_eq!(r.source, Source::Variable("DB_HOSTNAME".into()));
    }

    #[test]
    fn section_missing_for_environment_falls_back_to_embedded() {
        let (mut e, d) = env(&[]);
        let f = d.path().join("c.conf");
        std::fs::write(&f, "[other]\ndb_hostname: x\n").unwrap();
        e.vars
            .insert("ODC_CONFIG_PATH".into(), f.display().to_string());
        assert_eq!(
            resolve(&ConnectOptions::default(), &e).unwrap().source,
            Source::Embedded
        );
    }

    /// Any config text, environment and option values resolve to a URL or an error, never a panic.
    mod never_panics {
        use super::*;
        use proptest::prelude::*;

        fn config(cases: u32) -> proptest::test_runner::Config {
            proptest::test_runner::Config {
                cases,
                failure_persistence: None,
                rng_seed: match std::env::var_os("PROPTEST_RNG_SEED") {
                    Some(_) => proptest::test_runner::Config::default().rng_seed,
                    None => proptest::test_runner::RngSeed::Fixed(0x5eed_c0f1),
                },
                ..Default::default()
            }
        }

        /// Lines as datacube.conf files have them (INI and YAML), with random names and values.
        fn arb_line() -> impl Strategy<Value = String> {
            let key = prop_oneof![
                prop::sample::select(vec![
                    "db_url",
                    "db_hostname",
                    "db_port",
                    "db_database",
                    "db_username",
                    "db_password",
                    "alias",
                    "index_driver",
                    "db_connection_timeout",
                ])
                .prop_map(str::to_string),
                "[a-zA-Z_ ]{0,8}",
            ];
            let value = prop_oneof![
                ".{0,20}",
                Just("postgresql://u:p@h:5432/db".to_string()),
                Just("postgresql://[::1:5432/db".to_string()),
                Just("99999".to_string()),
                Just("default".to_string()),
                Just("datacube".to_string()),
            ];
            prop_oneof![
                (
                    key.clone(),
                    prop::sample::select(vec![":", "=", ": ", " = "]),
                    value.clone()
                )
                    .prop_map(|(k, s, v)| format!("{k}{s}{v}")),
                "[a-z]{0,8}".prop_map(|n| format!("[{n}]")),
                (key.clone(), value.clone()).prop_map(|(k, v)| format!("  {k}: {v}")),
                "[a-z]{0,8}".prop_map(|n| format!("{n}:")),
                prop::sample::select(vec![
                    "",
                    "#",
                    ";",
                    "[",
                    "]",
                    "-",
                    "- a",
                    "{",
                    "? x",
                    "&a",
                    "*a",
                    "!!binary x",
                    "key: [1, 2]"
                ])
                .prop_map(str::to_string),
                ".{0,30}",
            ]
        }

        proptest! {
            #![proptest_config(config(512))]

            #[test]
            fn config_text_parses_or_explains(lines in prop::collection::vec(arb_line(), 0..12), text in ".{0,200}") {
                let _ = parse_config_text(&lines.join("\n"));
                let _ = parse_config_text(&text);
            }
        }

        proptest! {
            #![proptest_config(config(128))]

            #[test]
            fn resolution_from_any_file_and_variables(
                lines in prop::collection::vec(arb_line(), 0..10),
                vars in prop::collection::vec((
                    prop::sample::select(vec![
                        "ODC_ENVIRONMENT", "ODC_DEFAULT_DB_URL", "DATACUBE_DB_URL", "DB_HOSTNAME", "DB_PORT",
                        "DB_DATABASE", "DB_USERNAME", "DB_PASSWORD", "ODC_DEFAULT_DB_PORT", "ODC_X_DB_URL",
                    ]),
                    prop_oneof![".{0,16}", Just("x".to_string()), Just("70000".to_string()), Just("postgresql://h/d".to_string())],
                ), 0..4),
                env_name in prop::option::of(prop_oneof![Just("default".to_string()), Just("x".to_string()), "[a-z]{0,6}"]),
            ) {
                let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
                let (e, d) = env(&vars);
                std::fs::write(d.path().join("cwd/datacube.conf"), lines.join("\n")).unwrap();
                let opts = ConnectOptions { env: env_name, ..Default::default() };
                if let Ok(r) = resolve(&opts, &e) {
                    if let Some(u) = r.url {
                        let _ = (u.redacted(), u.python_url(), u.to_pg_config("etlake"));
                    }
                }
            }
        }
    }
}
