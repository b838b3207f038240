//! Loading: finds the layer files (base ← profile and its `extends` chain ← local), parses each
//! by extension (TOML, YAML, JSON) into a JSON tree, deep-merges them with per-key provenance,
//! applies `FUTURES_COLLECTOR__…` environment overrides, then hands the tree to `secrets`,
//! `limits` and `validate`. Must not start anything or log: it returns a [`LoadedConfig`] or
//! every problem. Input is bounded: a file is read up to [`MAX_CONFIG_FILE_BYTES`], an override
//! up to [`MAX_ENV_OVERRIDE_BYTES`], and every value is checked against its limit before the
//! schema sees it.
//!
//! Merge rule: tables (objects) merge key by key, recursively; anything else (scalars, arrays)
//! in a later layer replaces the earlier value whole, and so does a table that switches a
//! [`VARIANT_TABLES`] table (`[sink]`) to another `type`: the earlier type's keys are dropped,
//! by a later file layer or by a `…__TYPE` environment override alike. Relative paths (`plugins.dir`,
//! `sink.path`, `sink.spool_dir`) resolve against the folder of the file that set them; paths
//! set by an environment variable resolve against the config directory (or the config file's
//! folder when `--config` names a file).

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
};

use serde_json::{Map, Value};

use super::{
    environment::Environment,
    limits::{
        self, ValueKind, MAX_CONFIG_FILE_BYTES, MAX_ENV_OVERRIDE_BYTES, MAX_IDENTIFIER_BYTES,
        PATH_KEYS,
    },
    model::Config,
    problem::{join_key, ConfigErrors, ConfigProblem},
    quote::{cut, quote},
    secrets::{self, Interpolated, SecretValue},
    validate,
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

/// A loaded, validated config and what it was made from. `Debug` shows the redacted view.
#[derive(Clone)]
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

impl std::fmt::Debug for LoadedConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedConfig")
            .field("config", &self.redacted())
            .field("profile", &self.profile)
            .field("files", &self.files)
            .field("watch_paths", &self.watch_paths)
            .field("warnings", &self.warnings)
            .field("version", &self.version())
            .finish()
    }
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
                self.record_all(&join_key(key, k), child, source);
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

/// Tables whose `type` chooses which other keys they may hold (serde-tagged enums in the model).
/// A layer that changes their `type` replaces the table instead of merging into it.
pub const VARIANT_TABLES: [&str; 1] = ["sink"];

/// Whether `src`, merged into the table `dst` at `key`, switches a [`VARIANT_TABLES`] table to
/// another `type`.
fn switches_variant(key: &str, dst: &Map<String, Value>, src: &Map<String, Value>) -> bool {
    VARIANT_TABLES.contains(&key)
        && matches!((dst.get("type"), src.get("type")), (Some(old), Some(new)) if old != new)
}

/// Deep-merges `src` over `dst` (see the module doc for the rule), recording provenance.
fn merge(dst: &mut Value, src: Value, key: &str, source: &Source, prov: &mut Provenance) {
    match (dst, src) {
        (Value::Object(d), Value::Object(s)) if switches_variant(key, d, &s) => {
            // Another variant: the earlier layer's keys belong to the old one (a JSONL `path`
            // means nothing to AMQP), so the later table replaces it whole.
            prov.record_all(key, &Value::Object(s.clone()), source);
            *d = s;
        }
        (Value::Object(d), Value::Object(s)) => {
            // A table is attributed to the last layer that touched it (a problem with the table
            // itself, e.g. a missing key, most likely comes from the latest change).
            if !key.is_empty() {
                prov.0.insert(key.to_owned(), source.clone());
            }
            for (k, v) in s {
                let child = join_key(key, &k);
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
    let text = read_bounded(path, MAX_CONFIG_FILE_BYTES).map_err(problem)?;
    let value: Value = match format {
        Format::Toml => toml::from_str::<toml::Value>(&text)
            .map_err(|e| {
                let at = e
                    .span()
                    .map(|span| {
                        let (line, column) = line_col(&text, span.start);
                        format!(" at line {line}, column {column}")
                    })
                    .unwrap_or_default();
                problem(format!("TOML syntax{at}: {}", one_line(e.message())))
            })
            .and_then(|v| serde_json::to_value(v).map_err(|e| problem(e.to_string())))?,
        Format::Yaml => {
            if text.trim().is_empty() {
                Value::Object(Map::new())
            } else {
                serde_saphyr::from_str_with_options::<Value>(&text, yaml_options()).map_err(
                    |e| {
                        problem(format!(
                            "YAML syntax: {}",
                            one_line(&e.without_snippet().to_string())
                        ))
                    },
                )?
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

/// Most aliases (`*name`) a YAML config may use. Each alias replays its anchor's events, so a few
/// lines of nested aliases expand to millions of nodes ("billion laughs"); a real config uses a
/// handful.
const MAX_YAML_ALIASES: usize = 1_000;
/// Most nodes (scalars, sequences, mappings, aliases replayed) in a YAML config: a real one has
/// a few hundred.
const MAX_YAML_NODES: usize = 50_000;
/// Most parser events in a YAML config (aliases replayed included).
const MAX_YAML_EVENTS: usize = 200_000;

/// The YAML parser's resource budget for config files: far below the library's defaults, which
/// are made for documents of hundreds of MB (a billion-laughs file took 5.5 s with them).
fn yaml_options() -> serde_saphyr::Options {
    let mut budget = serde_saphyr::Budget::default();
    budget.max_aliases = MAX_YAML_ALIASES;
    budget.max_nodes = MAX_YAML_NODES;
    budget.max_events = MAX_YAML_EVENTS;
    budget.max_recorded_anchor_events = MAX_YAML_EVENTS;
    let mut options = serde_saphyr::Options::default();
    options.budget = Some(budget);
    options
}

/// The text of a file of at most `limit` bytes; one byte more is read to tell a larger file,
/// which is an error naming its size (when the file system knows it) and the limit.
fn read_bounded(path: &Path, limit: u64) -> Result<String, String> {
    use std::io::Read as _;
    let file = std::fs::File::open(path).map_err(|e| format!("cannot read: {e}"))?;
    let mut bytes = Vec::new();
    file.take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read: {e}"))?;
    if bytes.len() as u64 > limit {
        let size = std::fs::metadata(path)
            .ok()
            .map(|m| m.len())
            .filter(|n| *n > limit)
            .map_or_else(
                || format!("more than {limit} bytes"),
                |n| format!("{n} bytes"),
            );
        return Err(format!(
            "{size}, larger than the {limit}-byte limit for a config file"
        ));
    }
    String::from_utf8(bytes).map_err(|e| format!("cannot read: not UTF-8 text ({e})"))
}

/// 1-based line and column of a byte offset.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// A parser's message on one line (problems are listed one per line).
fn one_line(s: &str) -> String {
    s.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
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
    if let Some(message) = ValueKind::Identifier.check(name.len()) {
        return Err(ConfigProblem::new(
            "profile",
            format!("profile name {}: {message}", quote(name)),
        ));
    }
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(ConfigProblem::new(
            "profile",
            format!(
                "{} is not a profile name (letters, digits, '-' and '_' only)",
                quote(name)
            ),
        ));
    }
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

/// How a problem names an environment override as its source (`env FUTURES_COLLECTOR__…`).
const ENV_SOURCE_PREFIX: &str = "env ";

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
            label: format!("{ENV_SOURCE_PREFIX}{}", cut(name, MAX_IDENTIFIER_BYTES)),
            base_dir: base_dir.to_owned(),
        };
        // `NAME=value`, as the process environment holds it.
        let size = name.len() + 1 + raw.len();
        if size > MAX_ENV_OVERRIDE_BYTES {
            problems.push(ConfigProblem {
                file: Some(source.label),
                key: String::new(),
                message: format!(
                    "{size} bytes, longer than the {MAX_ENV_OVERRIDE_BYTES}-byte limit for an environment override"
                ),
            });
            continue;
        }
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
            path = join_key(&path, seg);
            let Value::Object(map) = node else {
                blocked = Some(path.clone());
                break;
            };
            // A table the override creates is attributed to it.
            node = map.entry(seg.clone()).or_insert_with(|| {
                prov.0.insert(path.clone(), source.clone());
                Value::Object(Map::new())
            });
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
            if last == "type" && VARIANT_TABLES.contains(&path.as_str()) {
                drop_other_variant_keys(map, &path, &value, prov);
            }
            prov.record_all(&key, &value, &source);
            map.insert(last.clone(), value);
        }
    }
    problems
}

/// An override switching the [`VARIANT_TABLES`] table at `table` to another `type` drops the
/// keys the file layers set for the old type; keys set by other overrides stay (the operator
/// wrote them, and validation names any that does not fit).
fn drop_other_variant_keys(
    map: &mut Map<String, Value>,
    table: &str,
    new_type: &Value,
    prov: &Provenance,
) {
    if map.get("type").is_none_or(|old| old == new_type) {
        return;
    }
    map.retain(|k, _| {
        prov.0
            .get(&join_key(table, k))
            .is_some_and(|source| source.label.starts_with(ENV_SOURCE_PREFIX))
    });
}

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

/// The layer files of a load, in merge order, with what else the load needs from the path.
struct Layers {
    layers: Vec<(PathBuf, Map<String, Value>)>,
    watch_paths: Vec<PathBuf>,
    profile: Option<String>,
    /// Relative paths in environment overrides resolve against this folder.
    env_base: PathBuf,
}

/// A directory's `base` ← profile ← `local` layers (each with its `extends`), or one file's.
fn gather_layers(req: &LoadRequest, env: &Environment) -> Result<Layers, ConfigErrors> {
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
                format!("{} is a layer name, not a profile", quote(&profile)),
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
                    "--profile {} needs a config directory, but {} is a file",
                    quote(p),
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
    Ok(Layers {
        layers,
        watch_paths,
        profile,
        env_base,
    })
}

/// Whoever can write the config chooses the plugin directory: its files and folders are
/// judged like a plugin file. Refused unless `allow_insecure_permissions` makes them warnings.
fn location_warnings(config: &Config, files: &[PathBuf]) -> Result<Vec<String>, ConfigErrors> {
    let insecure = crate::trust::config_location_problems(files);
    if config.plugins.allow_insecure_permissions || insecure.is_empty() {
        return Ok(insecure);
    }
    Err(ConfigErrors(
        insecure
            .into_iter()
            .map(|m| ConfigProblem::new("", m))
            .collect(),
    ))
}

/// Merges the layers in order (later keys win) into one document, noting where each key
/// came from.
fn merge_layers(layers: Vec<(PathBuf, Map<String, Value>)>) -> (Value, Provenance) {
    let mut prov = Provenance::default();
    let mut doc = Value::Object(Map::new());
    for (file, tree) in layers {
        let source = Source {
            label: label(&file),
            base_dir: file.parent().map(Path::to_owned).unwrap_or_default(),
        };
        merge(&mut doc, Value::Object(tree), "", &source, &mut prov);
    }
    (doc, prov)
}

/// Loads, merges, interpolates and validates a config (see the module doc). Every problem found
/// in the failing stage is returned at once, each naming its file and key, with secret values
/// scrubbed.
pub fn load(req: &LoadRequest, env: &Environment) -> Result<LoadedConfig, ConfigErrors> {
    let Layers {
        layers,
        mut watch_paths,
        profile,
        env_base,
    } = gather_layers(req, env)?;
    let files: Vec<PathBuf> = layers.iter().map(|(p, _)| p.clone()).collect();
    watch_paths.splice(0..0, files.iter().cloned());

    let (mut doc, mut prov) = merge_layers(layers);
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
    let oversized = limits::problems(&doc);
    if !oversized.is_empty() {
        return Err(scrub(oversized, &prov));
    }
    resolve_paths(&mut doc, &prov);

    let schema = validate::schema_problems(&doc);
    if !schema.is_empty() {
        return Err(scrub(schema, &prov));
    }
    let config = validate::deserialize(&doc).map_err(|p| scrub(vec![p], &prov))?;
    let semantic = validate::semantic_problems(&config);
    if !semantic.is_empty() {
        return Err(scrub(semantic, &prov));
    }
    let mut warnings: Vec<String> = validate::plugin_warnings(&config)
        .into_iter()
        .map(|w| secrets::redact_text(&w, &secret_values))
        .collect();
    warnings.extend(location_warnings(&config, &files)?);
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

#[cfg(test)]
pub(crate) mod tests {
    use serde_json::json;

    use super::*;

    /// Writes `files` (name, text) into a fresh temporary directory.
    pub(crate) fn dir_with(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in files {
            std::fs::write(dir.path().join(name), text).unwrap();
        }
        dir
    }

    pub(crate) const BASE: &str = "[plugins]\ndir = \"plugins\"\n[sink]\ntype = \"stdout\"\n\
        [http]\ntimeout = \"10s\"\nretries = 2\n[exchanges.binance]\n\
        [exchanges.binance.intervals]\ntickers = \"5s\"\nfunding = \"30s\"\n";

    fn req(dir: &Path, profile: Option<&str>) -> LoadRequest {
        LoadRequest {
            path: dir.to_owned(),
            profile: profile.map(str::to_owned),
        }
    }

    #[test]
    fn merge_tables_by_key_and_replace_scalars_and_arrays() {
        let mut prov = Provenance::default();
        let a = Source {
            label: "a".into(),
            base_dir: "/a".into(),
        };
        let b = Source {
            label: "b".into(),
            base_dir: "/b".into(),
        };
        let mut doc = json!({});
        merge(
            &mut doc,
            json!({"t": {"x": 1, "y": [1, 2], "z": {"k": 1}}, "s": "a"}),
            "",
            &a,
            &mut prov,
        );
        merge(
            &mut doc,
            json!({"t": {"y": [3], "z": 5, "w": true}, "s": {"now": "table"}}),
            "",
            &b,
            &mut prov,
        );
        assert_eq!(
            doc,
            json!({"t": {"x": 1, "y": [3], "z": 5, "w": true}, "s": {"now": "table"}})
        );
        assert_eq!(prov.lookup("t.x").unwrap().label, "a");
        assert_eq!(prov.lookup("t.y").unwrap().label, "b");
        assert_eq!(prov.lookup("t.y[0]").unwrap().label, "b");
        assert_eq!(prov.lookup("s.now").unwrap().label, "b");
        // A key nobody set is attributed to the last layer that touched its table.
        assert_eq!(prov.lookup("t.unknown.deep").unwrap().label, "b");
    }

    #[test]
    fn a_file_is_read_up_to_its_limit() {
        let dir = dir_with(&[("at.toml", "a = 1\n"), ("over.toml", "a = 12\n")]);
        assert_eq!(
            read_bounded(&dir.path().join("at.toml"), 6).unwrap(),
            "a = 1\n"
        );
        assert_eq!(
            read_bounded(&dir.path().join("over.toml"), 6).unwrap_err(),
            "7 bytes, larger than the 6-byte limit for a config file"
        );
        // The real limit, through the binary: tests/tests/config_cli.rs.
    }

    #[test]
    fn env_values_parse_as_scalars_else_strings() {
        assert_eq!(parse_env_value("true"), json!(true));
        assert_eq!(parse_env_value("false"), json!(false));
        assert_eq!(parse_env_value("42"), json!(42));
        assert_eq!(parse_env_value("-3"), json!(-3));
        assert_eq!(parse_env_value("0.3"), json!(0.3));
        assert_eq!(parse_env_value("2s"), json!("2s"));
        assert_eq!(parse_env_value("nan"), json!("nan"));
        assert_eq!(parse_env_value("inf"), json!("inf"));
        assert_eq!(parse_env_value("http://x"), json!("http://x"));
    }

    #[test]
    fn env_overrides_set_nested_keys_and_name_themselves() {
        let dir = dir_with(&[("base.toml", BASE), ("development.toml", "")]);
        let env = Environment::from_pairs([
            ("FUTURES_COLLECTOR__HTTP__RATE_LIMIT_SHARE", "0.3"),
            (
                "FUTURES_COLLECTOR__EXCHANGES__BINANCE__INTERVALS__TICKERS",
                "2s",
            ),
            ("FUTURES_COLLECTOR__EXCHANGES__OKX__ENABLED", "false"),
            ("FUTURES_COLLECTOR__SINK__TYPE", "jsonl"),
            ("FUTURES_COLLECTOR__SINK__PATH", "out/records.jsonl"),
            ("UNRELATED", "x"),
        ]);
        let loaded = load(&req(dir.path(), None), &env).unwrap();
        let c = &loaded.config;
        assert_eq!(c.http.rate_limit_share, 0.3);
        assert_eq!(
            c.exchanges["binance"].intervals["tickers"].0,
            Some(std::time::Duration::from_secs(2))
        );
        assert!(!c.exchanges["okx"].enabled);
        // An env-set path resolves against the config directory.
        assert_eq!(
            c.sink,
            crate::config::SinkConfig::Jsonl {
                path: dir.path().join("out/records.jsonl"),
                queue_batches: crate::config::DEFAULT_SINK_QUEUE_BATCHES,
                buffer_max_records: crate::config::DEFAULT_SINK_BUFFER_MAX_RECORDS,
            }
        );
        // A file-set path resolves against that file's folder.
        assert_eq!(c.plugins.dir, dir.path().join("plugins"));

        let env = Environment::from_pairs([("FUTURES_COLLECTOR__HTTP__RETRIES", "many")]);
        let e = load(&req(dir.path(), None), &env).unwrap_err().to_string();
        assert!(
            e.contains("env FUTURES_COLLECTOR__HTTP__RETRIES: http.retries:"),
            "{e}"
        );
    }

    #[test]
    fn layers_apply_in_order_base_profile_local_env() {
        let dir = dir_with(&[
            ("base.toml", BASE),
            ("development.toml", "[http]\nretries = 3\nmax_pages = 7\n"),
            ("local.yaml", "http:\n  retries: 4\n  backoff_cap: 9s\n"),
        ]);
        let env = Environment::from_pairs([("FUTURES_COLLECTOR__HTTP__BACKOFF_CAP", "8s")]);
        let loaded = load(&req(dir.path(), None), &env).unwrap();
        let h = &loaded.config.http;
        assert_eq!(h.timeout.0.as_secs(), 10); // base
        assert_eq!(h.max_pages, 7); // profile
        assert_eq!(h.retries, 4); // local over profile
        assert_eq!(h.backoff_cap.0.as_secs(), 8); // env over local
        let names: Vec<String> = loaded
            .files
            .iter()
            .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["base.toml", "development.toml", "local.yaml"]);
        assert!(loaded.watch_paths.contains(&dir.path().to_owned()));
        assert_eq!(loaded.profile.as_deref(), Some("development"));
    }

    #[test]
    fn a_layer_that_switches_the_sink_type_replaces_the_sink_table() {
        const JSONL_BASE: &str = "[plugins]\ndir = \"plugins\"\n\
            [sink]\ntype = \"jsonl\"\npath = \"data/records.jsonl\"\nqueue_batches = 64\n";
        let amqp =
            "[sink]\ntype = \"amqp\"\nurl = \"amqp://127.0.0.1:5672/%2f\"\nspool_dir = \"spool\"\n";
        // A file layer: the profile's [sink] replaces the base's (its `path` would be unknown).
        let dir = dir_with(&[("base.toml", JSONL_BASE), ("production.toml", amqp)]);
        let loaded = load(
            &req(dir.path(), Some("production")),
            &Environment::default(),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let crate::config::SinkConfig::Amqp(sink) = &loaded.config.sink else {
            panic!("expected the AMQP sink, got {:?}", loaded.config.sink);
        };
        assert_eq!(sink.url, "amqp://127.0.0.1:5672/%2f");
        // Replaced whole: the base's queue_batches went with its type.
        assert_eq!(
            sink.queue_batches,
            crate::config::DEFAULT_SINK_QUEUE_BATCHES
        );

        // The same type in a later layer still merges key by key.
        let dir = dir_with(&[
            ("base.toml", JSONL_BASE),
            (
                "development.toml",
                "[sink]\ntype = \"jsonl\"\nqueue_batches = 8\n",
            ),
        ]);
        let loaded = load(&req(dir.path(), None), &Environment::default()).unwrap();
        assert!(matches!(
            &loaded.config.sink,
            crate::config::SinkConfig::Jsonl { path, queue_batches: 8, .. }
                if path == &dir.path().join("data/records.jsonl")
        ));

        // An environment override of the type drops the file layers' keys of the old type and
        // keeps the other overrides, whatever their names' order.
        let dir = dir_with(&[("base.toml", JSONL_BASE), ("development.toml", "")]);
        let env = Environment::from_pairs([
            ("FUTURES_COLLECTOR__SINK__TYPE", "amqp"),
            ("FUTURES_COLLECTOR__SINK__BATCH_MAX", "50"),
            ("FUTURES_COLLECTOR__SINK__SPOOL_DIR", "spool"),
            ("FUTURES_COLLECTOR__SINK__URL", "amqp://127.0.0.1:5672/%2f"),
        ]);
        let loaded = load(&req(dir.path(), None), &env).unwrap_or_else(|e| panic!("{e}"));
        let crate::config::SinkConfig::Amqp(sink) = &loaded.config.sink else {
            panic!("expected the AMQP sink, got {:?}", loaded.config.sink);
        };
        assert_eq!(
            (sink.url.as_str(), sink.batch_max),
            ("amqp://127.0.0.1:5672/%2f", 50)
        );

        // A key the operator set by override for the old type is not dropped silently.
        let env = Environment::from_pairs([
            ("FUTURES_COLLECTOR__SINK__PATH", "x.jsonl"),
            ("FUTURES_COLLECTOR__SINK__SPOOL_DIR", "spool"),
            ("FUTURES_COLLECTOR__SINK__TYPE", "amqp"),
            ("FUTURES_COLLECTOR__SINK__URL", "amqp://127.0.0.1:5672/%2f"),
        ]);
        let e = load(&req(dir.path(), None), &env).unwrap_err().to_string();
        assert!(e.contains("sink.path") && e.contains("unknown key"), "{e}");
    }

    #[test]
    fn extends_chain_and_cycle() {
        let dir = dir_with(&[
            ("base.toml", BASE),
            ("production.toml", "[http]\nretries = 5\nmax_pages = 50\n"),
            ("staging.yaml", "extends: production\nhttp:\n  retries: 6\n"),
            (
                "qa.json",
                r#"{"extends": "staging", "http": {"max_in_flight": 3}}"#,
            ),
            ("loop1.toml", "extends = \"loop2\"\n"),
            ("loop2.toml", "extends = \"loop1\"\n"),
            ("orphan.toml", "extends = \"nowhere\"\n"),
        ]);
        let loaded = load(&req(dir.path(), Some("qa")), &Environment::default()).unwrap();
        let h = &loaded.config.http;
        assert_eq!((h.retries, h.max_pages, h.max_in_flight), (6, 50, 3));
        assert_eq!(loaded.files.len(), 4);

        let e = load(&req(dir.path(), Some("loop1")), &Environment::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("extends: extends cycle"), "{e}");
        assert!(e.contains("loop1.toml") && e.contains("loop2.toml"), "{e}");

        let e = load(&req(dir.path(), Some("orphan")), &Environment::default())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("orphan.toml: extends: no file for profile \"nowhere\""),
            "{e}"
        );
    }

    #[test]
    fn profile_precedence_flag_env_detection_default() {
        let env = |pairs: &[(&str, &str)]| Environment::from_pairs(pairs.iter().copied());
        let all = env(&[
            (PROFILE_ENV, "staging"),
            ("KUBERNETES_SERVICE_HOST", "10.0.0.1"),
        ]);
        assert_eq!(select_profile(Some("demo"), &all), "demo");
        assert_eq!(select_profile(None, &all), "staging");
        assert_eq!(
            select_profile(None, &env(&[("KUBERNETES_SERVICE_HOST", "10.0.0.1")])),
            "production"
        );
        assert_eq!(select_profile(None, &env(&[])), "development");
        assert_eq!(
            select_profile(None, &env(&[(PROFILE_ENV, "")])),
            "development"
        );

        let dir = dir_with(&[
            ("base.toml", BASE),
            ("development.toml", "[http]\nretries = 1\n"),
            ("production.toml", "[http]\nretries = 9\n"),
        ]);
        let k8s = env(&[("KUBERNETES_SERVICE_HOST", "10.0.0.1")]);
        let loaded = load(&req(dir.path(), None), &k8s).unwrap();
        assert_eq!(loaded.profile.as_deref(), Some("production"));
        assert_eq!(loaded.config.http.retries, 9);
        let loaded = load(&req(dir.path(), Some("development")), &k8s).unwrap();
        assert_eq!(loaded.config.http.retries, 1);
    }

    #[test]
    fn a_file_path_loads_that_file_and_its_extends() {
        let dir = dir_with(&[
            ("common.toml", BASE),
            (
                "mine.json",
                r#"{"extends": "common", "http": {"retries": 7}}"#,
            ),
        ]);
        let r = LoadRequest {
            path: dir.path().join("mine.json"),
            profile: None,
        };
        let loaded = load(&r, &Environment::default()).unwrap();
        assert_eq!(loaded.config.http.retries, 7);
        assert_eq!(loaded.profile, None);
        assert_eq!(loaded.files.len(), 2);
        let r = LoadRequest {
            profile: Some("production".into()),
            ..r
        };
        let e = load(&r, &Environment::default()).unwrap_err().to_string();
        assert!(e.contains("needs a config directory"), "{e}");
    }

    #[test]
    fn problems_name_the_file_that_set_the_key() {
        let dir = dir_with(&[
            ("base.toml", BASE),
            (
                "development.toml",
                "[http]\ntimeout = \"1s\"\ntimeout_floor = \"3s\"\n",
            ),
        ]);
        let e = load(&req(dir.path(), None), &Environment::default()).unwrap_err();
        assert_eq!(e.0.len(), 1, "{e}");
        let p = &e.0[0];
        assert_eq!(p.key, "http.timeout_floor");
        assert!(
            p.file.as_deref().unwrap().ends_with("development.toml"),
            "{p}"
        );
        assert!(p.message.contains("must be > 0 and <= http.timeout"), "{p}");
    }

    #[test]
    fn redacted_view_version_and_warnings() {
        let dir = dir_with(&[
            ("base.toml", BASE),
            (
                "development.toml",
                "[[alerts.notifiers]]\ntype = \"webhook\"\nurl = \"https://hooks.example/${HOOK}\"\n\
                 [[alerts.notifiers]]\ntype = \"telegram\"\nchat_id = \"1\"\nbot_token = \"123:literal\"\n",
            ),
        ]);
        std::fs::create_dir(dir.path().join("plugins")).unwrap();
        std::fs::write(dir.path().join("plugins/libfc_plugin_okx.so"), "").unwrap();
        let env = Environment::from_pairs([("HOOK", "t0k3n-value")]);
        let loaded = load(&req(dir.path(), None), &env).unwrap();
        match &loaded.config.alerts.notifiers[0] {
            crate::config::NotifierConfig::Webhook { url, .. } => {
                assert_eq!(url.as_deref(), Some("https://hooks.example/t0k3n-value"))
            }
            other => panic!("{other:?}"),
        }
        let view = loaded.redacted();
        assert_eq!(
            view["alerts"]["notifiers"][0]["url"],
            "https://hooks.example/${HOOK}"
        );
        assert_eq!(
            view["alerts"]["notifiers"][1]["bot_token"],
            crate::config::REDACTED
        );
        let text = view.to_string();
        assert!(
            !text.contains("t0k3n-value") && !text.contains("123:literal"),
            "{text}"
        );
        assert_eq!(
            loaded.redact_text("posting to t0k3n-value with 123:literal"),
            "posting to ${HOOK} with <redacted>"
        );
        let debug = format!("{loaded:?} {env:?}");
        assert!(
            !debug.contains("t0k3n-value") && !debug.contains("123:literal"),
            "{debug}"
        );
        let v = loaded.version();
        assert_eq!(v.len(), 16);
        assert_eq!(v, load(&req(dir.path(), None), &env).unwrap().version());
        let other =
            Environment::from_pairs([("HOOK", "x"), ("FUTURES_COLLECTOR__HTTP__RETRIES", "5")]);
        assert_ne!(v, load(&req(dir.path(), None), &other).unwrap().version());
        // binance is enabled but only okx's plugin file is there.
        assert_eq!(loaded.warnings.len(), 1, "{:?}", loaded.warnings);
        assert!(
            loaded.warnings[0].starts_with("exchanges.binance:"),
            "{:?}",
            loaded.warnings
        );
    }

    #[test]
    fn a_config_location_others_can_write_is_refused_unless_allowed() {
        use std::os::unix::fs::PermissionsExt;
        let dir = dir_with(&[("base.toml", BASE), ("development.toml", "")]);
        let open_to_all = std::fs::Permissions::from_mode(0o777);
        std::fs::set_permissions(dir.path(), open_to_all).unwrap();
        let errors = load(&req(dir.path(), None), &Environment::default()).unwrap_err();
        let text = errors.to_string();
        assert!(text.contains("config directory refused"), "{text}");
        assert!(
            text.contains(&format!("chmod go-w '{}'", dir.path().display())),
            "{text}"
        );

        let relaxed = dir.path().join("local.toml");
        std::fs::write(&relaxed, "[plugins]\nallow_insecure_permissions = true\n").unwrap();
        let loaded = load(&req(dir.path(), None), &Environment::default()).unwrap();
        assert!(
            loaded
                .warnings
                .iter()
                .any(|w| w.contains("config directory refused")),
            "still a warning: {:?}",
            loaded.warnings
        );
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    }
}
