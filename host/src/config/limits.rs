//! Size limits of config input: how large a config file, an environment override, a string
//! (by what it holds: a path, a URL, an identifier, an AMQP name, free text), a list and a
//! table may be, and the check of a merged document against them. Owns which key holds what
//! kind of string ([`PATH_KEYS`], [`KEY_KINDS`]). Must not read files or the environment (the
//! loader does, and applies [`MAX_CONFIG_FILE_BYTES`] and [`MAX_ENV_OVERRIDE_BYTES`] there), and
//! never quotes more of an oversized value than its size: a 50 MB value gives a one-line error.

use serde_json::Value;

use super::{
    amqp::AMQP_SHORT_STRING_MAX,
    problem::{join_key, ConfigProblem},
    quote::quote,
};

/// Largest config file read (one layer): a backstop against reading something unbounded (a
/// device, a runaway generated file, a 50 MB value). Only this many bytes plus one are ever
/// read; a larger file is an error naming the file and this limit. A real config is a few KB;
/// 4 MiB keeps the parse of a hostile file (and of every reload of it) to milliseconds and a
/// few MB of memory, where 64 MiB took 12 s and hundreds of MB (debug build, TOML). Values
/// inside a file have the tighter limits below, which name the key.
pub const MAX_CONFIG_FILE_BYTES: u64 = 4 * 1024 * 1024;
/// Largest environment override, name and value together (`FUTURES_COLLECTOR__A__B=value`):
/// room for the longest value kind ([`MAX_PATH_BYTES`]) and a long name.
pub const MAX_ENV_OVERRIDE_BYTES: usize = 8 * 1024;
/// Longest filesystem path (`plugins.dir`, `sink.path`, …): Linux's `PATH_MAX`.
pub const MAX_PATH_BYTES: usize = 4096;
/// Longest URL (`exchanges.<id>.base_url`, `sink.url`, notifier URLs): what browsers, proxies
/// and HTTP servers reliably accept.
pub const MAX_URL_BYTES: usize = 2048;
/// Longest identifier: exchange ids and every other table key, plugin ids, rule ids, data
/// kinds, names of environment variables, profile names.
pub const MAX_IDENTIFIER_BYTES: usize = 128;
/// Longest free-text value: any string not classified otherwise (plugin options, chat ids,
/// tokens, durations, addresses).
pub const MAX_TEXT_BYTES: usize = 4096;
/// Most items in a list (`alerts.disabled`, `alerts.stale_kinds`, `sink.queues`, bindings,
/// notifiers).
pub const MAX_LIST_ITEMS: usize = 256;
/// Most entries in a table (`exchanges`, `intervals`, `options`, …).
pub const MAX_TABLE_ENTRIES: usize = 1024;

/// What a string holds, which decides its limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueKind {
    Path,
    Url,
    Identifier,
    /// An AMQP short string: exchange, queue and binding names, `app_id`.
    AmqpName,
    Text,
}

impl ValueKind {
    /// Most bytes a value of this kind may have.
    pub fn limit(self) -> usize {
        match self {
            Self::Path => MAX_PATH_BYTES,
            Self::Url => MAX_URL_BYTES,
            Self::Identifier => MAX_IDENTIFIER_BYTES,
            Self::AmqpName => AMQP_SHORT_STRING_MAX,
            Self::Text => MAX_TEXT_BYTES,
        }
    }

    /// The kind in a message: "… limit for a path".
    pub fn noun(self) -> &'static str {
        match self {
            Self::Path => "a path",
            Self::Url => "a URL",
            Self::Identifier => "an identifier",
            Self::AmqpName => "an AMQP name",
            Self::Text => "a text value",
        }
    }

    /// The problem of a value of `len` bytes, or `None` when it fits.
    pub fn check(self, len: usize) -> Option<String> {
        (len > self.limit()).then(|| {
            format!(
                "{len} bytes, longer than the {}-byte limit for {}",
                self.limit(),
                self.noun()
            )
        })
    }
}

/// Keys holding filesystem paths (resolved against the folder of the layer that set them).
pub const PATH_KEYS: [&str; 4] = [
    "plugins.dir",
    "sink.path",
    "sink.spool_dir",
    "sink.tls_ca_file",
];

/// The other classified string keys; `*` is any table key, `[]` any list item. A string
/// matching no pattern is [`ValueKind::Text`].
pub const KEY_KINDS: [(&str, ValueKind); 18] = [
    ("sink.url", ValueKind::Url),
    ("exchanges.*.base_url", ValueKind::Url),
    ("alerts.notifiers[].url", ValueKind::Url),
    ("alerts.notifiers[].webhook_url", ValueKind::Url),
    ("alerts.notifiers[].api_base", ValueKind::Url),
    ("exchanges.*.plugin", ValueKind::Identifier),
    ("alerts.disabled[]", ValueKind::Identifier),
    ("alerts.stale_kinds[]", ValueKind::Identifier),
    ("sink.username_env", ValueKind::Identifier),
    ("sink.password_env", ValueKind::Identifier),
    ("alerts.notifiers[].webhook_url_env", ValueKind::Identifier),
    ("alerts.notifiers[].bot_token_env", ValueKind::Identifier),
    ("alerts.notifiers[].url_env", ValueKind::Identifier),
    ("web.token_env", ValueKind::Identifier),
    ("sink.exchange", ValueKind::AmqpName),
    ("sink.app_id", ValueKind::AmqpName),
    ("sink.queues[].name", ValueKind::AmqpName),
    ("sink.queues[].bindings[]", ValueKind::AmqpName),
];

/// One step of a key path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Segment<'a> {
    Key(&'a str),
    Index(usize),
}

/// Whether `path` is one of the keys `pattern` describes (see [`KEY_KINDS`]).
fn matches(pattern: &str, path: &[Segment<'_>]) -> bool {
    let mut steps = path.iter();
    for part in pattern.split('.') {
        let name = part.split('[').next().unwrap_or(part);
        match steps.next() {
            Some(Segment::Key(key)) if name == "*" || name == *key => {}
            _ => return false,
        }
        for _ in 0..part.matches("[]").count() {
            if !matches!(steps.next(), Some(Segment::Index(_))) {
                return false;
            }
        }
    }
    steps.next().is_none()
}

/// The kind of the string at `path`.
fn kind_of(path: &[Segment<'_>]) -> ValueKind {
    if PATH_KEYS.iter().any(|p| matches(p, path)) {
        return ValueKind::Path;
    }
    KEY_KINDS
        .iter()
        .find(|(p, _)| matches(p, path))
        .map_or(ValueKind::Text, |(_, kind)| *kind)
}

/// `sink.queues[0].name` for a path.
fn key_path(path: &[Segment<'_>]) -> String {
    path.iter().fold(String::new(), |key, step| match step {
        Segment::Key(k) => join_key(&key, k),
        Segment::Index(i) => format!("{key}[{i}]"),
    })
}

/// Every value of `doc` over its limit, each naming its key (a table key over the identifier
/// limit names the table). An oversized list or table is not looked into.
pub fn problems(doc: &Value) -> Vec<ConfigProblem> {
    let mut found = Vec::new();
    walk(doc, &mut Vec::new(), &mut found);
    found
}

fn walk<'a>(v: &'a Value, path: &mut Vec<Segment<'a>>, found: &mut Vec<ConfigProblem>) {
    let problem =
        |message: String, path: &[Segment<'_>]| ConfigProblem::new(key_path(path), message);
    match v {
        Value::String(s) => {
            if let Some(message) = kind_of(path).check(s.len()) {
                found.push(problem(message, path));
            }
        }
        Value::Array(items) => match too_many(items.len(), MAX_LIST_ITEMS, ["item", "items"]) {
            Some(message) => found.push(problem(message + " for a list", path)),
            None => {
                for (i, item) in items.iter().enumerate() {
                    path.push(Segment::Index(i));
                    walk(item, path, found);
                    path.pop();
                }
            }
        },
        Value::Object(map) => match too_many(map.len(), MAX_TABLE_ENTRIES, ["entry", "entries"]) {
            Some(message) => found.push(problem(message + " for a table", path)),
            None => {
                for (k, item) in map {
                    if let Some(message) = ValueKind::Identifier.check(k.len()) {
                        found.push(problem(format!("key {}: {message}", quote(k)), path));
                        continue;
                    }
                    path.push(Segment::Key(k));
                    walk(item, path, found);
                    path.pop();
                }
            }
        },
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

/// `"300 items, more than the 256-item limit"` when `count` is above `limit`.
fn too_many(count: usize, limit: usize, [one, many]: [&str; 2]) -> Option<String> {
    (count > limit).then(|| format!("{count} {many}, more than the {limit}-{one} limit"))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// A document with `value` at the key path `key` (`a.b[0].c`, list items as one-item
    /// lists).
    fn doc_with(key: &str, value: Value) -> Value {
        let mut v = value;
        for part in key.rsplit('.') {
            let name = part.split('[').next().unwrap_or(part);
            for _ in 0..part.matches("[]").count() {
                v = Value::Array(vec![v]);
            }
            v = json!({ name: v });
        }
        v
    }

    /// Table: each kind's limit, at a key of that kind; the limit passes, one byte more fails
    /// with a message naming the key, the size, the limit and the kind.
    #[test]
    fn every_kind_has_its_limit() {
        let cases = [
            ("sink.path", MAX_PATH_BYTES, "a path"),
            ("plugins.dir", MAX_PATH_BYTES, "a path"),
            ("sink.tls_ca_file", MAX_PATH_BYTES, "a path"),
            ("exchanges.binance.base_url", MAX_URL_BYTES, "a URL"),
            ("alerts.notifiers[].webhook_url", MAX_URL_BYTES, "a URL"),
            (
                "exchanges.okx.plugin",
                MAX_IDENTIFIER_BYTES,
                "an identifier",
            ),
            ("alerts.disabled[]", MAX_IDENTIFIER_BYTES, "an identifier"),
            ("sink.password_env", MAX_IDENTIFIER_BYTES, "an identifier"),
            ("sink.queues[].name", AMQP_SHORT_STRING_MAX, "an AMQP name"),
            (
                "sink.queues[].bindings[]",
                AMQP_SHORT_STRING_MAX,
                "an AMQP name",
            ),
            (
                "exchanges.okx.options.symbols",
                MAX_TEXT_BYTES,
                "a text value",
            ),
            ("alerts.notifiers[].chat_id", MAX_TEXT_BYTES, "a text value"),
            ("http.timeout", MAX_TEXT_BYTES, "a text value"),
        ];
        for (pattern, limit, noun) in cases {
            let at_limit = doc_with(pattern, json!("x".repeat(limit)));
            assert_eq!(problems(&at_limit), [], "{pattern}");
            let over = doc_with(pattern, json!("x".repeat(limit + 1)));
            let found = problems(&over);
            assert_eq!(found.len(), 1, "{pattern}: {found:?}");
            assert_eq!(found[0].key, pattern.replace("[]", "[0]"), "{pattern}");
            assert_eq!(
                found[0].message,
                format!(
                    "{} bytes, longer than the {limit}-byte limit for {noun}",
                    limit + 1
                ),
                "{pattern}"
            );
        }
    }

    #[test]
    fn lists_tables_and_keys_have_limits() {
        let ok = json!({"alerts": {"disabled": vec!["memory"; MAX_LIST_ITEMS]}});
        assert_eq!(problems(&ok), []);
        let long_list = json!({"alerts": {"disabled": vec!["memory"; MAX_LIST_ITEMS + 1]}});
        let found = problems(&long_list);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].key, "alerts.disabled");
        assert_eq!(
            found[0].message,
            "257 items, more than the 256-item limit for a list"
        );

        let options: serde_json::Map<String, Value> = (0..=MAX_TABLE_ENTRIES)
            .map(|i| (format!("o{i}"), json!("v")))
            .collect();
        let found = problems(&json!({"exchanges": {"okx": {"options": options}}}));
        assert_eq!(found[0].key, "exchanges.okx.options");
        assert_eq!(
            found[0].message,
            "1025 entries, more than the 1024-entry limit for a table"
        );

        let long_id = "x".repeat(MAX_IDENTIFIER_BYTES + 1);
        let found = problems(&json!({"exchanges": {long_id.clone(): {}}}));
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].key, "exchanges");
        assert_eq!(
            found[0].message,
            format!(
                "key {}: 129 bytes, longer than the 128-byte limit for an identifier",
                quote(&long_id)
            )
        );
        assert!(found[0].message.len() < 200, "{}", found[0].message);
    }

    #[test]
    fn patterns_match_whole_paths_only() {
        let path = [
            Segment::Key("sink"),
            Segment::Key("queues"),
            Segment::Index(3),
            Segment::Key("bindings"),
            Segment::Index(0),
        ];
        assert!(matches("sink.queues[].bindings[]", &path));
        assert!(!matches("sink.queues[].bindings", &path));
        assert!(!matches("sink.queues", &path));
        assert_eq!(kind_of(&path), ValueKind::AmqpName);
        assert_eq!(key_path(&path), "sink.queues[3].bindings[0]");
        assert_eq!(
            kind_of(&[
                Segment::Key("exchanges"),
                Segment::Key("a"),
                Segment::Key("base_url")
            ]),
            ValueKind::Url
        );
        assert_eq!(
            kind_of(&[Segment::Key("sink"), Segment::Key("type")]),
            ValueKind::Text
        );
    }
}
