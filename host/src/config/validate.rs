//! Validation of a merged config document: the JSON Schema generated from the model (every
//! error at once), typed deserialization (a type error names its key path), the model's semantic
//! checks, and warnings (an enabled exchange without a plugin file), as [`ConfigProblem`]s whose
//! offending values are quoted by a prefix (the schema's and serde's own messages would embed
//! them whole). Must not read
//! config files or the environment (the loader does), and must not load plugins: the plugin
//! warning only lists file names.

use std::{path::Path, sync::OnceLock};

use serde_json::Value;

use super::{
    model::Config,
    problem::{join_key, ConfigProblem},
    quote::{quote_json, shorten_value_in},
};

/// The compiled schema of [`Config`], built once.
fn validator() -> Result<&'static jsonschema::Validator, ConfigProblem> {
    static VALIDATOR: OnceLock<Result<jsonschema::Validator, String>> = OnceLock::new();
    VALIDATOR
        .get_or_init(|| {
            let schema =
                serde_json::to_value(schemars::schema_for!(Config)).map_err(|e| e.to_string())?;
            jsonschema::validator_for(&schema).map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|e| ConfigProblem::new("", format!("the config schema does not compile: {e}")))
}

/// Turns a JSON pointer into a key path (`/sink/queues/0/name` → `sink.queues[0].name`), using
/// the document to tell array indexes from keys.
fn pointer_to_key(doc: &Value, pointer: &str) -> String {
    let mut key = String::new();
    let mut node = Some(doc);
    for raw in pointer.split('/').skip(1) {
        let seg = raw.replace("~1", "/").replace("~0", "~");
        match node {
            Some(Value::Array(items)) => {
                key.push_str(&format!("[{seg}]"));
                node = seg.parse::<usize>().ok().and_then(|i| items.get(i));
            }
            Some(Value::Object(map)) => {
                key = join_key(&key, &seg);
                node = map.get(&seg);
            }
            _ => {
                key = join_key(&key, &seg);
                node = None;
            }
        }
    }
    key
}

/// Checks the document against the JSON Schema; every error, each with its key path.
pub fn schema_problems(doc: &Value) -> Vec<ConfigProblem> {
    let validator = match validator() {
        Ok(v) => v,
        Err(p) => return vec![p],
    };
    let mut problems = Vec::new();
    for e in validator.iter_errors(doc) {
        push_schema_error(doc, &e, &mut problems);
    }
    problems
}

fn push_schema_error(
    doc: &Value,
    e: &jsonschema::ValidationError<'_>,
    problems: &mut Vec<ConfigProblem>,
) {
    use jsonschema::error::ValidationErrorKind as Kind;
    let key = pointer_to_key(doc, &e.instance_path.to_string());
    match &e.kind {
        Kind::AdditionalProperties { unexpected } => {
            for u in unexpected {
                problems.push(ConfigProblem::new(join_key(&key, u), "unknown key"));
            }
        }
        // A tagged enum (`type = "…"`): report the errors of the variant whose type matched, or
        // that the type is unknown.
        Kind::OneOfNotValid { context } if e.instance.get("type").is_some() => {
            let type_ok = |branch: &&Vec<jsonschema::ValidationError<'static>>| {
                !branch
                    .iter()
                    .any(|b| b.instance_path.to_string().ends_with("/type"))
            };
            match context.iter().find(type_ok) {
                Some(branch) => {
                    for b in branch {
                        push_schema_error(doc, b, problems);
                    }
                }
                None => {
                    let ty = e.instance.get("type").map(quote_json).unwrap_or_default();
                    let known: Vec<String> = context
                        .iter()
                        .flatten()
                        .filter_map(|b| match &b.kind {
                            Kind::Constant { expected_value } => Some(expected_value.to_string()),
                            _ => None,
                        })
                        .collect();
                    let known = if known.is_empty() {
                        String::new()
                    } else {
                        format!(" (known: {})", known.join(", "))
                    };
                    problems.push(ConfigProblem::new(
                        join_key(&key, "type"),
                        format!("unknown type {ty}{known}"),
                    ));
                }
            }
        }
        // jsonschema's own message embeds the whole instance (a 50 MB string, a whole table):
        // show it quoted by a prefix instead.
        _ => problems.push(ConfigProblem::new(
            key,
            e.masked_with(quote_json(&e.instance)).to_string(),
        )),
    }
}

/// Deserializes a (schema-valid) document; a failure names the key path.
pub fn deserialize(doc: &Value) -> Result<Config, ConfigProblem> {
    serde_path_to_error::deserialize::<_, Config>(doc).map_err(|e| {
        let message = e.inner().to_string();
        let message = match value_at(doc, e.path()) {
            Some(value) => quote_in_message(&message, value),
            None => message,
        };
        let key = e.path().to_string();
        let key = if key == "." { String::new() } else { key };
        ConfigProblem::new(key, message)
    })
}

/// The value at a deserializer's path, when the path leads to one.
fn value_at<'a>(doc: &'a Value, path: &serde_path_to_error::Path) -> Option<&'a Value> {
    use serde_path_to_error::Segment;
    path.iter().try_fold(doc, |node, segment| match segment {
        Segment::Map { key } => node.get(key.as_str()),
        Segment::Seq { index } => node.get(*index),
        Segment::Enum { .. } | Segment::Unknown => Some(node),
    })
}

/// `message` with every long string of `value` (the value itself, or one inside it when the
/// error is reported at its table, as for tagged enums) quoted by a prefix where it appears
/// whole: serde's messages (`invalid type: string "…", expected u32`) and the duration parser's
/// quote a value as `{:?}` does.
fn quote_in_message(message: &str, value: &Value) -> String {
    match value {
        Value::String(s) => shorten_value_in(message, s),
        Value::Array(items) => items
            .iter()
            .fold(message.to_owned(), |m, item| quote_in_message(&m, item)),
        Value::Object(map) => map
            .values()
            .fold(message.to_owned(), |m, item| quote_in_message(&m, item)),
        _ => message.to_owned(),
    }
}

/// The model's semantic checks as problems.
pub fn semantic_problems(config: &Config) -> Vec<ConfigProblem> {
    config.problems()
}

/// Warnings: enabled exchanges whose plugin has no file in `plugins.dir` (a file whose stem
/// contains the plugin id, e.g. `libfc_plugin_binance.so` for `binance`). Plugins are not loaded.
pub fn plugin_warnings(config: &Config) -> Vec<String> {
    let dir: &Path = &config.plugins.dir;
    let stems: Vec<String> = match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| {
                p.extension()
                    .is_some_and(|e| e == std::env::consts::DLL_EXTENSION)
            })
            .filter_map(|p| p.file_stem().map(|s| s.to_string_lossy().to_lowercase()))
            .collect(),
        Err(e) => {
            return if config.enabled_exchanges().next().is_some() {
                vec![format!(
                    "plugins.dir: cannot list {}: {e}; no enabled exchange can start until plugins are there",
                    dir.display()
                )]
            } else {
                Vec::new()
            };
        }
    };
    config
        .enabled_exchanges()
        .filter_map(|(id, ex)| {
            let plugin = ex.plugin_id(id).to_lowercase();
            (!stems.iter().any(|s| s.contains(&plugin))).then(|| {
                format!(
                    "exchanges.{id}: enabled, but no plugin file for {plugin:?} in {} (it starts when one is dropped in)",
                    dir.display()
                )
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::config::ConfigErrors;

    #[test]
    fn pointer_becomes_key_path() {
        let doc = json!({"sink": {"queues": [{"name": "x"}]}, "a": {"0": 1}});
        assert_eq!(
            pointer_to_key(&doc, "/sink/queues/0/name"),
            "sink.queues[0].name"
        );
        assert_eq!(pointer_to_key(&doc, "/a/0"), "a.0");
        assert_eq!(pointer_to_key(&doc, ""), "");
    }

    #[test]
    fn schema_reports_every_error_with_its_key() {
        let doc = json!({"plugins": {"dir": "p", "colour": 1}, "sink": {"type": "stdout"},
                         "http": {"timeout": 5, "retries": "x"}, "bogus": true});
        let problems = schema_problems(&doc);
        let keys: Vec<&str> = problems.iter().map(|p| p.key.as_str()).collect();
        for k in ["plugins.colour", "http.timeout", "http.retries", "bogus"] {
            assert!(keys.contains(&k), "{k} missing from {problems:?}");
        }
    }

    #[test]
    fn display_is_one_line_per_problem() {
        let mut p = ConfigProblem::from_line("http.timeout: must be greater than zero");
        assert_eq!(p.key, "http.timeout");
        p.file = Some("config/base.toml".into());
        let errors = ConfigErrors(vec![p, ConfigProblem::new("x", "y")]);
        assert_eq!(
            errors.to_string(),
            "config/base.toml: http.timeout: must be greater than zero\nx: y"
        );
    }
}
