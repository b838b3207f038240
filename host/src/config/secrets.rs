//! Secrets: `${VAR}` interpolation of string values from the environment, and redaction.
//! Owns which values are secret (interpolated ones, and fields that are secrets by name) and how
//! they are hidden in the effective config and in arbitrary text. Must not read files or log:
//! callers hand it a document tree and an [`Environment`](super::Environment).
//!
//! Syntax: `${NAME}` is replaced by the variable's value; `$${` writes a literal `${`. A missing
//! variable or an unterminated `${` is an error naming the key path.

use serde_json::Value;

use super::{
    environment::Environment,
    problem::join_key,
    quote::{quote, CUT_MARK, QUOTE_MAX_CHARS},
};

/// Replacement shown for a secret-by-name field that was not interpolated.
pub const REDACTED: &str = "<redacted>";

/// Field names whose string values are secrets wherever they appear.
pub const SECRET_FIELD_NAMES: [&str; 7] = [
    "password",
    "token",
    "bot_token",
    "webhook_url",
    "secret",
    "api_key",
    "api_secret",
];

/// One string value that contained `${…}` references.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Interpolated {
    /// Key path of the value, e.g. `sink.url`.
    pub key: String,
    /// The value as written (with its `${VAR}` references), shown in the redacted view.
    pub template: String,
    /// Every (variable, value) it used.
    pub vars: Vec<(String, String)>,
}

/// A secret value and how redacted text shows it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SecretValue {
    pub value: String,
    pub shown_as: String,
}

/// Why one string could not be interpolated.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct InterpolationError {
    pub key: String,
    pub message: String,
}

/// (variable, value) pairs one string used.
type VarValues = Vec<(String, String)>;

/// Interpolates one string. `Ok(None)`: it has no references (and no escapes) and stays as is.
fn interpolate_str(s: &str, env: &Environment) -> Result<Option<(String, VarValues)>, String> {
    if !s.contains('$') {
        return Ok(None);
    }
    let mut out = String::with_capacity(s.len());
    let mut vars = Vec::new();
    let mut changed = false;
    let mut rest = s;
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        let tail = &rest[pos..];
        if let Some(after) = tail.strip_prefix("$${") {
            out.push_str("${");
            changed = true;
            rest = after;
        } else if let Some(after) = tail.strip_prefix("${") {
            let Some(end) = after.find('}') else {
                return Err("unterminated \"${\" (write \"$${\" for a literal)".to_owned());
            };
            let name = &after[..end];
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(format!(
                    "{} is not a variable reference (names use letters, digits and '_')",
                    quote(&format!("${{{name}}}"))
                ));
            }
            let Some(value) = env.get(name) else {
                // A valid name needs no quotes; a long one is shown by its start.
                let shown = if name.len() > QUOTE_MAX_CHARS {
                    quote(name)
                } else {
                    name.to_owned()
                };
                return Err(format!("environment variable {shown} is not set"));
            };
            out.push_str(value);
            vars.push((name.to_owned(), value.to_owned()));
            changed = true;
            rest = &after[end + 1..];
        } else {
            out.push('$');
            rest = &tail[1..];
        }
    }
    out.push_str(rest);
    Ok(changed.then_some((out, vars)))
}

/// Replaces every `${VAR}` in the string values of `doc` (keys are left alone). Returns what was
/// interpolated, or every problem found.
pub(crate) fn interpolate(
    doc: &mut Value,
    env: &Environment,
) -> Result<Vec<Interpolated>, Vec<InterpolationError>> {
    let mut done = Vec::new();
    let mut errors = Vec::new();
    walk(doc, String::new(), env, &mut done, &mut errors);
    if errors.is_empty() {
        Ok(done)
    } else {
        Err(errors)
    }
}

fn walk(
    v: &mut Value,
    key: String,
    env: &Environment,
    done: &mut Vec<Interpolated>,
    errors: &mut Vec<InterpolationError>,
) {
    match v {
        Value::String(s) => match interpolate_str(s, env) {
            Ok(None) => {}
            Ok(Some((value, vars))) => {
                let template = std::mem::replace(s, value);
                if !vars.is_empty() {
                    done.push(Interpolated {
                        key,
                        template,
                        vars,
                    });
                }
            }
            Err(message) => errors.push(InterpolationError { key, message }),
        },
        Value::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                walk(item, format!("{key}[{i}]"), env, done, errors);
            }
        }
        Value::Object(map) => {
            for (k, item) in map.iter_mut() {
                walk(item, join_key(&key, k), env, done, errors);
            }
        }
        _ => {}
    }
}

/// Whether a URL carries credentials (`scheme://user:pass@host`).
pub fn url_has_userinfo(url: &str) -> bool {
    url.split_once("://")
        .map(|(_, rest)| rest.split(['/', '?', '#']).next().unwrap_or_default())
        .is_some_and(|authority| authority.contains('@'))
}

/// Whether the field at `key` (last segment `name`) holds a secret by its name or value.
fn is_secret_field(key: &str, name: &str, value: &str) -> bool {
    SECRET_FIELD_NAMES.contains(&name)
        || (name == "url" && key.starts_with("alerts.notifiers"))
        || url_has_userinfo(value)
}

/// Collects the values of fields that are secrets by name, so they can be scrubbed from text.
pub(crate) fn secret_fields(doc: &Value) -> Vec<String> {
    let mut found = Vec::new();
    collect_secret_fields(doc, "", "", &mut found);
    found
}

fn collect_secret_fields(v: &Value, key: &str, name: &str, found: &mut Vec<String>) {
    match v {
        Value::String(s) if !s.is_empty() && is_secret_field(key, name, s) => {
            found.push(s.clone());
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                collect_secret_fields(item, &format!("{key}[{i}]"), name, found);
            }
        }
        Value::Object(map) => {
            for (k, item) in map {
                collect_secret_fields(item, &join_key(key, k), k, found);
            }
        }
        _ => {}
    }
}

/// The redacted view of `doc`: interpolated values show their template (`${VAR}`), other
/// secret-by-name fields show [`REDACTED`], and any secret value left in any string is scrubbed.
pub(crate) fn redact_tree(doc: &mut Value, interpolated: &[Interpolated], secrets: &[SecretValue]) {
    redact_walk(doc, "", "", interpolated, secrets);
}

fn redact_walk(
    v: &mut Value,
    key: &str,
    name: &str,
    interpolated: &[Interpolated],
    secrets: &[SecretValue],
) {
    match v {
        Value::String(s) => {
            if let Some(i) = interpolated.iter().find(|i| i.key == key) {
                *s = i.template.clone();
            } else if !s.is_empty() && is_secret_field(key, name, s) {
                *s = REDACTED.to_owned();
            } else {
                *s = redact_text(s, secrets);
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                redact_walk(item, &format!("{key}[{i}]"), name, interpolated, secrets);
            }
        }
        Value::Object(map) => {
            for (k, item) in map.iter_mut() {
                redact_walk(item, &join_key(key, k), k, interpolated, secrets);
            }
        }
        _ => {}
    }
}

/// Replaces every occurrence of a secret value in `text` (longest values first, so a secret that
/// contains another is hidden whole), and the start of a secret that a quote cut off (text
/// ending right before a [`CUT_MARK`] with the first bytes of a secret).
pub(crate) fn redact_text(text: &str, secrets: &[SecretValue]) -> String {
    let mut out = text.to_owned();
    for s in secrets {
        if !s.value.is_empty() && out.contains(&s.value) {
            out = out.replace(&s.value, &s.shown_as);
        }
    }
    if out.contains(CUT_MARK) {
        out = redact_cut_secrets(&out, secrets);
    }
    out
}

/// Hides, before every [`CUT_MARK`], the longest start of a secret the text there ends with.
fn redact_cut_secrets(text: &str, secrets: &[SecretValue]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut pieces = text.split(CUT_MARK).peekable();
    while let Some(piece) = pieces.next() {
        if pieces.peek().is_none() {
            out.push_str(piece);
            break;
        }
        let cut_secret = secrets.iter().find_map(|s| {
            // Shorter than the secret (a whole one is replaced already) and than the piece.
            let start = (1..s.value.len().min(piece.len() + 1))
                .rev()
                .filter(|&n| s.value.is_char_boundary(n))
                .find(|&n| piece.ends_with(&s.value[..n]))?;
            Some((start, s))
        });
        match cut_secret {
            Some((len, s)) => {
                out.push_str(&piece[..piece.len() - len]);
                out.push_str(&s.shown_as);
            }
            None => out.push_str(piece),
        }
        out.push(CUT_MARK);
    }
    out
}

/// The secret list from what was interpolated and the secret-by-name values, longest first.
pub(crate) fn secret_values(
    interpolated: &[Interpolated],
    by_name: Vec<String>,
) -> Vec<SecretValue> {
    let mut all: Vec<SecretValue> = Vec::new();
    for i in interpolated {
        for (var, value) in &i.vars {
            all.push(SecretValue {
                value: value.clone(),
                shown_as: format!("${{{var}}}"),
            });
        }
    }
    all.extend(by_name.into_iter().map(|value| SecretValue {
        value,
        shown_as: REDACTED.to_owned(),
    }));
    all.sort_by(|a, b| {
        b.value
            .len()
            .cmp(&a.value.len())
            .then(a.value.cmp(&b.value))
    });
    all.dedup_by(|a, b| a.value == b.value);
    all
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn env() -> Environment {
        Environment::from_pairs([("PASS", "hunter2"), ("HOST", "mq.local")])
    }

    #[test]
    fn interpolates_escapes_and_reports_missing_with_the_key() {
        let mut doc = json!({"sink": {"url": "amqp://${HOST}:5672", "note": "cost $5, $${HOST}"},
                             "list": ["${PASS}"]});
        let done = interpolate(&mut doc, &env()).unwrap();
        assert_eq!(doc["sink"]["url"], "amqp://mq.local:5672");
        assert_eq!(doc["sink"]["note"], "cost $5, ${HOST}");
        assert_eq!(doc["list"][0], "hunter2");
        let keys: Vec<&str> = done.iter().map(|i| i.key.as_str()).collect();
        assert_eq!(keys, ["list[0]", "sink.url"]);
        assert_eq!(done[1].template, "amqp://${HOST}:5672");

        let mut bad = json!({"a": {"b": "${NOPE}"}, "c": "${oops", "d": "${}"});
        let errors = interpolate(&mut bad, &env()).unwrap_err();
        assert_eq!(errors.len(), 3);
        assert_eq!(errors[0].key, "a.b");
        assert!(errors[0].message.contains("NOPE"), "{errors:?}");
        assert!(errors[1].message.contains("unterminated"), "{errors:?}");
    }

    #[test]
    fn redacts_interpolated_and_by_name_and_in_text() {
        let mut doc = json!({"sink": {"url": "amqp://${HOST}"}, "password": "${PASS}",
            "alerts": {"notifiers": [{"url": "https://hooks/x"}, {"bot_token": "1:abc"}]},
            "other": "uses hunter2 inline", "proxy": "http://u:p@h/"});
        let done = interpolate(&mut doc, &env()).unwrap();
        let secrets = secret_values(&done, secret_fields(&doc));
        let mut view = doc.clone();
        redact_tree(&mut view, &done, &secrets);
        assert_eq!(view["sink"]["url"], "amqp://${HOST}");
        assert_eq!(view["password"], "${PASS}");
        assert_eq!(view["alerts"]["notifiers"][0]["url"], REDACTED);
        assert_eq!(view["alerts"]["notifiers"][1]["bot_token"], REDACTED);
        assert_eq!(view["other"], "uses ${PASS} inline");
        assert_eq!(view["proxy"], REDACTED);
        let text = view.to_string();
        for leaked in ["hunter2", "1:abc", "hooks/x", "u:p@"] {
            assert!(!text.contains(leaked), "{leaked} in {text}");
        }
        assert_eq!(
            redact_text("login hunter2 at mq.local", &secrets),
            "login ${PASS} at ${HOST}"
        );
    }

    /// A quote or a cut can end inside a secret: the part before the mark is hidden too.
    #[test]
    fn a_secret_cut_by_a_quote_is_hidden() {
        let long = format!("tok-{}", "9".repeat(100));
        let env = Environment::from_pairs([("LONG", long.as_str()), ("PASS", "hunter2")]);
        let mut doc = json!({"a": "${LONG}", "b": "${PASS}"});
        let done = interpolate(&mut doc, &env).unwrap();
        let secrets = secret_values(&done, secret_fields(&doc));
        let quoted = quote(&format!("https://h/{long}"));
        assert!(quoted.contains("tok-999"), "{quoted}");
        let text = redact_text(
            &format!("http.retries: invalid type: string {quoted}"),
            &secrets,
        );
        assert!(!text.contains("tok-"), "{text}");
        assert!(text.contains("\"https://h/${LONG}…\" ("), "{text}");
        // Whole secrets and a cut right after one.
        assert_eq!(
            redact_text(
                "hunter2 and hunter2… [truncated 5 bytes] and hun…",
                &secrets
            ),
            "${PASS} and ${PASS}… [truncated 5 bytes] and ${PASS}…"
        );
        assert_eq!(redact_text("nothing… here", &secrets), "nothing… here");
    }
}
