//! Loading: finds the layer files (base ← profile and its `extends` chain ← local), parses each
//! by extension (TOML, YAML, JSON) into a JSON tree, deep-merges them with per-key provenance,
//! applies `FUTURES_COLLECTOR__…` environment overrides, then hands the tree to `secrets` and
//! `validate`. Must not start anything or log: it returns a [`LoadedConfig`] or every problem.
//!
//! Merge rule: tables (objects) merge key by key, recursively; anything else (scalars, arrays)
//! in a later layer replaces the earlier value whole. Relative paths (`plugins.dir`,
//! `sink.path`, `sink.spool_dir`) resolve against the folder of the file that set them; paths
//! set by an environment variable resolve against the config directory (or the config file's
//! folder when `--config` names a file).

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
};

use serde_json::{Map, Value};

use super::{
    model::Config,
    secrets::{self, Interpolated, SecretValue},
    validate::{self, ConfigErrors, ConfigProblem},
};

/// Default of `--config`: the config directory, relative to the working directory.
pub const DEFAULT_CONFIG_PATH: &str = "config";
/// Profile used when none is given and none is detected.
pub const DEFAULT_PROFILE: &str = "development";
/// Profile chosen by detection on an orchestrated host (see [`detect_profile`]).
pub const DETECTED_PRODUCTION_PROFILE: &str = "production";
/// Environment variable naming the profile (below `--profile`).
pub const PROFILE_ENV: &str = "FUTURES_COLLECTOR_PROFILE";
/// Prefix of override variables: `FUTURES_COLLECTOR__HTTP__TIMEOUT=5s` sets `http.timeout`.
pub const ENV_OVERRIDE_PREFIX: &str = "FUTURES_COLLECTOR__";
/// Separator of key-path segments in an override variable's name.
pub const ENV_OVERRIDE_SEPARATOR: &str = "__";
/// Top-level key of a layer file naming the profile it builds on; removed before validation.
pub const EXTENDS_KEY: &str = "extends";
/// Name of the first layer in a config directory.
pub const BASE_LAYER: &str = "base";
/// Name of the optional, untracked last file layer in a config directory.
pub const LOCAL_LAYER: &str = "local";
/// Extensions recognised, in the order they are looked for.
pub const EXTENSIONS: [&str; 4] = ["toml", "yaml", "yml", "json"];
/// Variables whose presence makes [`detect_profile`] choose production (Kubernetes sets this in
/// every container).
pub const PRODUCTION_MARKER_ENV: [&str; 1] = ["KUBERNETES_SERVICE_HOST"];

/// What to load: a config directory (layers + profile) or one file (+ its `extends` chain).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadRequest {
    pub path: PathBuf,
    /// `--profile`; only meaningful for a directory.
    pub profile: Option<String>,
}

/// The environment a load sees (variables for the profile, overrides and `${VAR}` secrets),
/// explicit so tests and reloads do not depend on the process.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Environment(BTreeMap<String, String>);

impl Environment {
    /// The process's environment (variables that are not valid Unicode are skipped).
    pub fn from_process() -> Self {
        Self(
            std::env::vars_os()
                .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
                .collect(),
        )
    }

    pub fn from_pairs<I, K, V>(pairs: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        Self(
            pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        )
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    fn iter(&self) -> impl Iterator<Item = (&String, &String)> {
        self.0.iter()
    }
}

/// A loaded, validated config and what it was made from.
#[derive(Debug, Clone)]
pub struct LoadedConfig {
    pub config: Config,
    /// The profile used (`None` when `--config` named a file).
    pub profile: Option<String>,
    /// Every file read, lowest layer first.
    pub files: Vec<PathBuf>,
    /// What to watch for changes: the files, and the directory where an optional layer
    /// (`local.*`) could appear.
    pub watch_paths: Vec<PathBuf>,
    /// Not errors, but worth telling the operator (e.g. an enabled exchange with no plugin).
    pub warnings: Vec<String>,
    interpolated: Vec<Interpolated>,
    secrets: Vec<SecretValue>,
}

impl LoadedConfig {
    /// The effective config (defaults included) with every secret hidden: interpolated values
    /// show their `${VAR}` reference, secret-by-name fields show `<redacted>`.
    pub fn redacted(&self) -> Value {
        let mut view = serde_json::to_value(&self.config).unwrap_or(Value::Null);
        secrets::redact_tree(&mut view, &self.interpolated, &self.secrets);
        view
    }

    /// `s` with every secret value replaced by its reference (`${VAR}`) or `<redacted>`.
    pub fn redact_text(&self, s: &str) -> String {
        secrets::redact_text(s, &self.secrets)
    }

    /// A short stable fingerprint (16 hex digits) of the effective config. Computed from the
    /// redacted view so it reveals nothing about secrets; a change of a secret's value alone does
    /// not change it (compare `config` for that).
    pub fn version(&self) -> String {
        let text = self.redacted().to_string();
        format!("{:016x}", twox_hash::XxHash3_64::oneshot(text.as_bytes()))
    }
}

/// Where a key's value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Source {
    /// The file's path, or `env FUTURES_COLLECTOR__…`.
    label: String,
    /// Folder that relative paths set here resolve against.
    base_dir: PathBuf,
}

/// Key path → the layer that last set it.
#[derive(Debug, Default)]
struct Provenance(BTreeMap<String, Source>);

impl Provenance {
    fn record_all(&mut self, key: &str, v: &Value, source: &Source) {
        self.0.insert(key.to_owned(), source.clone());
        if let Value::Object(map) = v {
            for (k, child) in map {
                self.record_all(&secrets::join_key(key, k), child, source);
            }
        }
    }

    /// The source of `key` or of its nearest recorded parent.
    fn lookup(&self, key: &str) -> Option<&Source> {
        let mut k = key;
        loop {
            if let Some(s) = self.0.get(k) {
                return Some(s);
            }
            let cut = k.rfind(['.', '['])?;
            k = &k[..cut];
        }
    }
}

/// Deep-merges `src` over `dst` (see the module doc for the rule), recording provenance.
fn merge(dst: &mut Value, src: Value, key: &str, source: &Source, prov: &mut Provenance) {
    match (dst, src) {
        (Value::Object(d), Value::Object(s)) => {
            if !key.is_empty() {
                prov.0
                    .entry(key.to_owned())
                    .or_insert_with(|| source.clone());
            }
            for (k, v) in s {
                let child = secrets::join_key(key, &k);
                match d.get_mut(&k) {
                    Some(existing) => merge(existing, v, &child, source, prov),
                    None => {
                        prov.record_all(&child, &v, source);
                        d.insert(k, v);
                    }
                }
            }
        }
        (d, s) => {
            prov.record_all(key, &s, source);
            *d = s;
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Toml,
    Yaml,
    Json,
}

fn format_of(path: &Path) -> Option<Format> {
    match path.extension()?.to_str()? {
        "toml" => Some(Format::Toml),
        "yaml" | "yml" => Some(Format::Yaml),
        "json" => Some(Format::Json),
        _ => None,
    }
}

fn label(path: &Path) -> String {
    path.display().to_string()
}

/// Reads and parses one layer file into a tree whose top level is a table.
fn parse_file(path: &Path) -> Result<Map<String, Value>, ConfigProblem> {
    let problem = |message: String| ConfigProblem {
        file: Some(label(path)),
        key: String::new(),
        message,
    };
    let format = format_of(path)
        .ok_or_else(|| problem("unknown format: use .toml, .yaml, .yml or .json".to_owned()))?;
    let text = std::fs::read_to_string(path).map_err(|e| problem(format!("cannot read: {e}")))?;
    let value: Value = match format {
        Format::Toml => toml::from_str::<toml::Value>(&text)
            .map_err(|e| problem(format!("TOML syntax: {}", e.to_string().trim_end())))
            .and_then(|v| serde_json::to_value(v).map_err(|e| problem(e.to_string())))?,
        Format::Yaml => {
            if text.trim().is_empty() {
                Value::Object(Map::new())
            } else {
                serde_saphyr::from_str::<Value>(&text)
                    .map_err(|e| problem(format!("YAML syntax: {}", e.to_string().trim_end())))?
            }
        }
        Format::Json => {
            serde_json::from_str(&text).map_err(|e| problem(format!("JSON syntax: {e}")))?
        }
    };
    match value {
        Value::Object(map) => Ok(map),
        Value::Null => Ok(Map::new()),
        other => Err(problem(format!(
            "the document must be a table of settings, not {}",
            type_name(&other)
        ))),
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a table",
    }
}

/// The file of layer `name` in `dir` (`name.toml|yaml|yml|json`): `Ok(None)` when absent, an
/// error naming both when two extensions exist.
fn find_layer(dir: &Path, name: &str) -> Result<Option<PathBuf>, ConfigProblem> {
    let found: Vec<PathBuf> = EXTENSIONS
        .iter()
        .map(|ext| dir.join(format!("{name}.{ext}")))
        .filter(|p| p.is_file())
        .collect();
    match found.as_slice() {
        [] => Ok(None),
        [one] => Ok(Some(one.clone())),
        many => Err(ConfigProblem {
            file: Some(label(&many[0])),
            key: String::new(),
            message: format!(
                "two files for the layer {name:?}: {}; keep one",
                many.iter()
                    .map(|p| label(p))
                    .collect::<Vec<_>>()
                    .join(" and ")
            ),
        }),
    }
}

/// A parsed file and its extends chain, lowest first: `[(path, tree)]`.
fn with_extends(
    path: PathBuf,
    chain: &mut Vec<PathBuf>,
    out: &mut Vec<(PathBuf, Map<String, Value>)>,
) -> Result<(), ConfigProblem> {
    if let Some(pos) = chain.iter().position(|p| p == &path) {
        let cycle: Vec<String> = chain[pos..]
            .iter()
            .chain(std::iter::once(&path))
            .map(|p| label(p))
            .collect();
        return Err(ConfigProblem {
            file: Some(label(&path)),
            key: EXTENDS_KEY.to_owned(),
            message: format!("extends cycle: {}", cycle.join(" -> ")),
        });
    }
    let mut tree = parse_file(&path)?;
    chain.push(path.clone());
    if let Some(parent) = tree.remove(EXTENDS_KEY) {
        let Value::String(name) = parent else {
            return Err(ConfigProblem {
                file: Some(label(&path)),
                key: EXTENDS_KEY.to_owned(),
                message: format!(
                    "must be a profile name (a string), not {}",
                    type_name(&parent)
                ),
            });
        };
        let dir = path.parent().unwrap_or(Path::new("."));
        let parent_path = find_layer(dir, &name)?.ok_or_else(|| ConfigProblem {
            file: Some(label(&path)),
            key: EXTENDS_KEY.to_owned(),
            message: format!(
                "no file for profile {name:?} in {} (looked for {name}.{{{}}})",
                dir.display(),
                EXTENSIONS.join(",")
            ),
        })?;
        with_extends(parent_path, chain, out)?;
    }
    chain.pop();
    out.push((path, tree));
    Ok(())
}

/// The profile detected from the environment: production when a [`PRODUCTION_MARKER_ENV`]
/// variable is set (running in Kubernetes), else `None` (the caller falls back to
/// [`DEFAULT_PROFILE`]). systemd units should set `FUTURES_COLLECTOR_PROFILE` explicitly.
pub fn detect_profile(env: &Environment) -> Option<&'static str> {
    PRODUCTION_MARKER_ENV
        .iter()
        .any(|v| env.get(v).is_some_and(|x| !x.is_empty()))
        .then_some(DETECTED_PRODUCTION_PROFILE)
}

/// The profile to use: `--profile` > `FUTURES_COLLECTOR_PROFILE` > detection > default.
pub fn select_profile(flag: Option<&str>, env: &Environment) -> String {
    flag.filter(|p| !p.is_empty())
        .or_else(|| env.get(PROFILE_ENV).filter(|p| !p.is_empty()))
        .or_else(|| detect_profile(env))
        .unwrap_or(DEFAULT_PROFILE)
        .to_owned()
}

/// Parses an override value: `true`/`false`, an integer, a finite float, else the string.
fn parse_env_value(raw: &str) -> Value {
    let t = raw.trim();
    match t {
        "true" => return Value::Bool(true),
        "false" => return Value::Bool(false),
        _ => {}
    }
    if let Ok(i) = t.parse::<i64>() {
        return Value::from(i);
    }
    if let Ok(f) = t.parse::<f64>() {
        // "inf" and "nan" parse as floats; they stay strings.
        if f.is_finite() {
            return Value::from(f);
        }
    }
    Value::String(raw.to_owned())
}

/// Applies every `FUTURES_COLLECTOR__A__B=v` override (in name order).
fn apply_env(
    doc: &mut Value,
    env: &Environment,
    base_dir: &Path,
    prov: &mut Provenance,
) -> Vec<ConfigProblem> {
    let mut problems = Vec::new();
    for (name, raw) in env.iter() {
        let Some(rest) = name.strip_prefix(ENV_OVERRIDE_PREFIX) else {
            continue;
        };
        let source = Source {
            label: format!("env {name}"),
            base_dir: base_dir.to_owned(),
        };
        let segments: Vec<String> = rest
            .split(ENV_OVERRIDE_SEPARATOR)
            .map(str::to_lowercase)
            .collect();
        let key = segments.join(".");
        if segments.iter().any(String::is_empty) {
            problems.push(ConfigProblem {
                file: Some(source.label),
                key,
                message: "empty key segment in the variable name (use a double underscore between keys only)".to_owned(),
            });
            continue;
        }
        let mut node = &mut *doc;
        let mut path = String::new();
        let mut blocked = None;
        for seg in &segments[..segments.len() - 1] {
            path = secrets::join_key(&path, seg);
            let Value::Object(map) = node else {
                blocked = Some(path.clone());
                break;
            };
            node = map
                .entry(seg.clone())
                .or_insert_with(|| Value::Object(Map::new()));
        }
        if let Some(at) = blocked.or_else(|| (!node.is_object()).then(|| path.clone())) {
            problems.push(ConfigProblem {
                file: Some(source.label),
                key,
                message: format!("{at} is not a table, so it has no keys to override"),
            });
            continue;
        }
        if let (Value::Object(map), Some(last)) = (node, segments.last()) {
            let value = parse_env_value(raw);
            prov.record_all(&key, &value, &source);
            map.insert(last.clone(), value);
        }
    }
    problems
}

/// Keys holding filesystem paths, resolved against the folder of the layer that set them.
const PATH_KEYS: [&str; 3] = ["plugins.dir", "sink.path", "sink.spool_dir"];

fn resolve_paths(doc: &mut Value, prov: &Provenance) {
    for key in PATH_KEYS {
        let mut node = Some(&mut *doc);
        for seg in key.split('.') {
            node = node.and_then(|n| n.get_mut(seg));
        }
        if let (Some(Value::String(s)), Some(source)) = (node, prov.lookup(key)) {
            if Path::new(s.as_str()).is_relative() {
                *s = source.base_dir.join(&*s).display().to_string();
            }
        }
    }
}

fn unattributed(key: &str, message: String) -> ConfigErrors {
    ConfigErrors(vec![ConfigProblem::new(key, message)])
}

/// Loads, merges, interpolates and validates a config (see the module doc). Every problem found
/// in the failing stage is returned at once, each naming its file and key, with secret values
/// scrubbed.
pub fn load(req: &LoadRequest, env: &Environment) -> Result<LoadedConfig, ConfigErrors> {
    let path = &req.path;
    let mut layers: Vec<(PathBuf, Map<String, Value>)> = Vec::new();
    let mut watch_paths = Vec::new();
    let (profile, env_base) = if path.is_dir() {
        let profile = select_profile(req.profile.as_deref(), env);
        let base = find_layer(path, BASE_LAYER)?.ok_or_else(|| {
            unattributed(
                "",
                format!(
                    "no {BASE_LAYER}.{{{}}} in config directory {}",
                    EXTENSIONS.join(","),
                    path.display()
                ),
            )
        })?;
        if profile == BASE_LAYER || profile == LOCAL_LAYER {
            return Err(unattributed(
                "profile",
                format!("{profile:?} is a layer name, not a profile"),
            ));
        }
        let profile_file = find_layer(path, &profile)?.ok_or_else(|| {
            unattributed(
                "profile",
                format!(
                    "unknown profile {profile:?}: no {profile}.{{{}}} in {}",
                    EXTENSIONS.join(","),
                    path.display()
                ),
            )
        })?;
        with_extends(base, &mut Vec::new(), &mut layers)?;
        with_extends(profile_file, &mut Vec::new(), &mut layers)?;
        if let Some(local) = find_layer(path, LOCAL_LAYER)? {
            with_extends(local, &mut Vec::new(), &mut layers)?;
        }
        watch_paths.push(path.clone());
        (Some(profile), path.clone())
    } else if path.is_file() {
        if let Some(p) = &req.profile {
            return Err(unattributed(
                "profile",
                format!(
                    "--profile {p} needs a config directory, but {} is a file",
                    path.display()
                ),
            ));
        }
        with_extends(path.clone(), &mut Vec::new(), &mut layers)?;
        (None, path.parent().map(Path::to_owned).unwrap_or_default())
    } else {
        return Err(unattributed(
            "",
            format!(
                "config path {} is neither a file nor a directory",
                path.display()
            ),
        ));
    };

    let files: Vec<PathBuf> = layers.iter().map(|(p, _)| p.clone()).collect();
    watch_paths.splice(0..0, files.iter().cloned());

    let mut prov = Provenance::default();
    let mut doc = Value::Object(Map::new());
    for (file, tree) in layers {
        let source = Source {
            label: label(&file),
            base_dir: file.parent().map(Path::to_owned).unwrap_or_default(),
        };
        merge(&mut doc, Value::Object(tree), "", &source, &mut prov);
    }
    let attribute = |mut p: ConfigProblem, prov: &Provenance| {
        if p.file.is_none() {
            p.file = prov.lookup(&p.key).map(|s| s.label.clone());
        }
        p
    };
    let env_problems = apply_env(&mut doc, env, &env_base, &mut prov);
    if !env_problems.is_empty() {
        return Err(ConfigErrors(env_problems));
    }

    let interpolated = secrets::interpolate(&mut doc, env).map_err(|errors| {
        ConfigErrors(
            errors
                .into_iter()
                .map(|e| attribute(ConfigProblem::new(e.key, e.message), &prov))
                .collect(),
        )
    })?;
    let secret_values = secrets::secret_values(&interpolated, secrets::secret_fields(&doc));
    let scrub = |problems: Vec<ConfigProblem>, prov: &Provenance| {
        ConfigErrors(
            problems
                .into_iter()
                .map(|p| {
                    let mut p = attribute(p, prov);
                    p.message = secrets::redact_text(&p.message, &secret_values);
                    p
                })
                .collect(),
        )
    };
    resolve_paths(&mut doc, &prov);

    let schema = validate::schema_problems(&doc);
    if !schema.is_empty() {
        return Err(scrub(schema, &prov));
    }
    let config = validate::deserialize(doc).map_err(|p| scrub(vec![p], &prov))?;
    let semantic = validate::semantic_problems(&config);
    if !semantic.is_empty() {
        return Err(scrub(semantic, &prov));
    }
    let warnings = validate::plugin_warnings(&config)
        .into_iter()
        .map(|w| secrets::redact_text(&w, &secret_values))
        .collect();
    Ok(LoadedConfig {
        config,
        profile,
        files,
        watch_paths,
        warnings,
        interpolated,
        secrets: secret_values,
    })
}
