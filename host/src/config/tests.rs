//! Loader tests across modules: the same layered setup in TOML, YAML and JSON gives the same
//! config, and a table of malformed configs, each rejected naming its file and key without
//! leaking a secret.

use std::path::Path;

use super::{
    load,
    load::tests::{dir_with, BASE},
    Environment, LoadRequest,
};

/// The profiles shipped in config/.
pub(crate) const SHIPPED_PROFILES: [&str; 4] = ["development", "staging", "production", "demo"];

#[test]
fn toml_yaml_and_json_layers_give_the_same_config() {
    let toml = [
        (
            "base.toml",
            "[plugins]\ndir = \"/opt/fc/plugins\"\n[sink]\ntype = \"jsonl\"\npath = \"/var/fc/r.jsonl\"\n\
             [http]\ntimeout = \"8s\"\nrate_limit_share = 0.4\n\
             [exchanges.binance.intervals]\ntickers = \"5s\"\nfunding = \"30s\"\n\
             [exchanges.okx]\nenabled = false\n\
             [alerts]\ndisabled = [\"memory\", \"latency\"]\n",
        ),
        (
            "staging.toml",
            "extends = \"production\"\n[http]\nretries = 4\n[exchanges.binance]\nbase_url = \"https://example.test\"\n",
        ),
        (
            "production.toml",
            "[http]\nretries = 3\nmax_pages = 20\n[exchanges.binance.intervals]\ntickers = \"2s\"\n",
        ),
        ("local.toml", "[alerts]\ndisabled = [\"stale\"]\n"),
    ];
    let yaml = [
        (
            "base.yaml",
            "plugins:\n  dir: /opt/fc/plugins\nsink:\n  type: jsonl\n  path: /var/fc/r.jsonl\n\
             http:\n  timeout: 8s\n  rate_limit_share: 0.4\n\
             exchanges:\n  binance:\n    intervals:\n      tickers: 5s\n      funding: 30s\n  okx:\n    enabled: false\n\
             alerts:\n  disabled: [memory, latency]\n",
        ),
        (
            "staging.yml",
            "extends: production\nhttp:\n  retries: 4\nexchanges:\n  binance:\n    base_url: \"https://example.test\"\n",
        ),
        (
            "production.yaml",
            "# comment\nhttp:\n  retries: 3\n  max_pages: 20\nexchanges:\n  binance:\n    intervals:\n      tickers: 2s\n",
        ),
        ("local.yaml", "alerts:\n  disabled:\n    - stale\n"),
    ];
    let json = [
        (
            "base.json",
            r#"{"plugins": {"dir": "/opt/fc/plugins"}, "sink": {"type": "jsonl", "path": "/var/fc/r.jsonl"},
                "http": {"timeout": "8s", "rate_limit_share": 0.4},
                "exchanges": {"binance": {"intervals": {"tickers": "5s", "funding": "30s"}}, "okx": {"enabled": false}},
                "alerts": {"disabled": ["memory", "latency"]}}"#,
        ),
        (
            "staging.json",
            r#"{"extends": "production", "http": {"retries": 4}, "exchanges": {"binance": {"base_url": "https://example.test"}}}"#,
        ),
        (
            "production.json",
            r#"{"http": {"retries": 3, "max_pages": 20}, "exchanges": {"binance": {"intervals": {"tickers": "2s"}}}}"#,
        ),
        ("local.json", r#"{"alerts": {"disabled": ["stale"]}}"#),
    ];
    let env = Environment::from_pairs([("FUTURES_COLLECTOR__HTTP__MAX_IN_FLIGHT", "3")]);
    let configs: Vec<_> = [&toml[..], &yaml[..], &json[..]]
        .iter()
        .map(|files| {
            let dir = dir_with(files);
            let req = LoadRequest {
                path: dir.path().to_owned(),
                profile: Some("staging".into()),
            };
            let loaded = load(&req, &env).unwrap_or_else(|e| panic!("{}: {e}", files[0].0));
            assert_eq!(loaded.files.len(), 4);
            loaded.config
        })
        .collect();
    let c = &configs[0];
    assert_eq!(
        (c.http.retries, c.http.max_pages, c.http.max_in_flight),
        (4, 20, 3)
    );
    assert_eq!(c.http.rate_limit_share, 0.4);
    assert_eq!(c.alerts.disabled, ["stale"]); // arrays replace, not append
    assert_eq!(
        c.exchanges["binance"].intervals["tickers"].0,
        Some(std::time::Duration::from_secs(2))
    );
    assert_eq!(
        c.exchanges["binance"].base_url.as_deref(),
        Some("https://example.test")
    );
    assert!(!c.exchanges["okx"].enabled);
    assert_eq!(configs[0], configs[1], "TOML vs YAML");
    assert_eq!(configs[0], configs[2], "TOML vs JSON");
}

/// A secret present in every case's environment; it must never appear in a message.
const SECRET: &str = "s3cr3t-H00K-value";

/// Base layer for the malformed cases: valid on its own, with a secret in a webhook URL.
const CASE_BASE: &str = "[plugins]\ndir = \"plugins\"\n[sink]\ntype = \"stdout\"\n\
    [exchanges.binance]\nbase_url = \"http://127.0.0.1:1/binance\"\n\
    [exchanges.binance.intervals]\ntickers = \"5s\"\n\
    [[alerts.notifiers]]\ntype = \"webhook\"\nurl = \"https://hooks.example/${HOOK}\"\n";

struct Case {
    name: &'static str,
    files: Vec<(&'static str, String)>,
    env: Vec<(&'static str, &'static str)>,
    profile: Option<&'static str>,
    /// Every string must appear in the error text.
    expect: Vec<&'static str>,
}

fn case(name: &'static str, dev: &str, expect: &[&'static str]) -> Case {
    Case {
        name,
        files: vec![
            ("base.toml", CASE_BASE.to_owned()),
            ("development.toml", dev.to_owned()),
        ],
        env: vec![],
        profile: None,
        expect: expect.to_vec(),
    }
}

fn cases() -> Vec<Case> {
    let mut v = vec![
        case("toml syntax", "[http\nretries = 1\n", &["development.toml: TOML syntax at line 1, column 6:"]),
        case("wrong type", "[http]\nretries = \"many\"\n", &["development.toml: http.retries:"]),
        case(
            "negative interval",
            "[exchanges.binance.intervals]\ntickers = \"-5s\"\n",
            &["development.toml: exchanges.binance.intervals.tickers:"],
        ),
        case(
            "zero interval",
            "[exchanges.binance.intervals]\nfunding = \"0s\"\n",
            &["development.toml: exchanges.binance.intervals.funding:", "greater than zero"],
        ),
        case(
            "zero timeout",
            "[http]\ntimeout = \"0s\"\n",
            &["development.toml: http.timeout: must be greater than zero"],
        ),
        case(
            "floor above ceiling",
            "[http]\ntimeout = \"2s\"\ntimeout_floor = \"5s\"\n",
            &["development.toml: http.timeout_floor: 5s must be > 0 and <= http.timeout (2s)"],
        ),
        case("unknown top-level key", "colour = \"blue\"\n", &["development.toml: colour: unknown key"]),
        case(
            "unknown nested key",
            "[exchanges.binance]\ncolour = \"blue\"\n",
            &["development.toml: exchanges.binance.colour: unknown key"],
        ),
        case(
            "unknown sink type",
            "[sink]\ntype = \"kafka\"\n",
            &["development.toml: sink.type: unknown type \"kafka\" (known: \"jsonl\", \"stdout\", \"amqp\")"],
        ),
        case(
            "sink missing its path",
            "[sink]\ntype = \"jsonl\"\n",
            &["development.toml: sink:", "path"],
        ),
        case(
            "unknown key in the matching sink variant",
            "[sink]\ntype = \"stdout\"\nspeed = 3\n",
            &["development.toml: sink.speed: unknown key"],
        ),
        case(
            "missing secret",
            "[sink]\ntype = \"jsonl\"\npath = \"${DATA_DIR}/r.jsonl\"\n",
            &["development.toml: sink.path: environment variable DATA_DIR is not set"],
        ),
        case(
            "unterminated secret reference",
            "[exchanges.binance]\nbase_url = \"http://${HOST\"\n",
            &["development.toml: exchanges.binance.base_url: unterminated"],
        ),
        case(
            "secret in a wrongly typed key",
            "[http]\nretries = \"${HOOK}\"\n",
            &["development.toml: http.retries:", "${HOOK}"],
        ),
        case(
            "bad url",
            "[exchanges.binance]\nbase_url = \"ftp://x\"\n",
            &["development.toml: exchanges.binance.base_url: \"ftp://x\" is not an http(s) URL"],
        ),
        case(
            "rate share above one",
            "[http]\nrate_limit_share = 1.5\n",
            &["development.toml: http.rate_limit_share:"],
        ),
        case(
            "backoff base above cap",
            "[http]\nbackoff_base = \"10s\"\nbackoff_cap = \"1s\"\n",
            &["development.toml: http.backoff_base:"],
        ),
        case(
            "zero heartbeat",
            "[change_detection]\nheartbeat = \"0s\"\n",
            &["development.toml: change_detection.heartbeat:"],
        ),
        case(
            "amqp url with credentials from a secret",
            "[sink]\ntype = \"amqp\"\nurl = \"amqp://fc:${HOOK}@mq:5672/%2f\"\nspool_dir = \"spool\"\n",
            &["development.toml: sink.url: must not contain credentials"],
        ),
        case("extends not a string", "extends = 5\n", &["development.toml: extends: must be a profile name"]),
        case(
            "extends an unknown profile",
            "extends = \"nowhere\"\n",
            &["development.toml: extends: no file for profile \"nowhere\""],
        ),
        case(
            "document not a table (json)",
            "",
            &["development.json", "must be a table"],
        ),
    ];
    // Adjust the cases that need other files, env or profile.
    for c in &mut v {
        if c.name == "document not a table (json)" {
            c.files[1] = ("development.json", "[1, 2]".to_owned());
        }
    }
    let with_files = |name, files: Vec<(&'static str, &str)>, expect: &[&'static str]| Case {
        name,
        files: files.into_iter().map(|(n, t)| (n, t.to_owned())).collect(),
        env: vec![],
        profile: None,
        expect: expect.to_vec(),
    };
    v.push(with_files(
        "yaml syntax",
        vec![
            ("base.toml", CASE_BASE),
            ("development.yaml", "http:\n  retries: [1\n"),
        ],
        &["development.yaml: YAML syntax:", "line 2"],
    ));
    v.push(with_files(
        "yaml wrong type",
        vec![
            ("base.toml", CASE_BASE),
            ("development.yaml", "http:\n  retries: [1]\n"),
        ],
        &["development.yaml: http.retries:"],
    ));
    v.push(with_files(
        "json syntax",
        vec![
            ("base.toml", CASE_BASE),
            ("development.json", "{\"http\": {\"retries\": 1,}}"),
        ],
        &["development.json", "JSON syntax", "line 1"],
    ));
    v.push(with_files(
        "json unknown key in the local layer",
        vec![
            ("base.toml", CASE_BASE),
            ("development.toml", ""),
            ("local.json", r#"{"http": {"retry": 1}}"#),
        ],
        &["local.json: http.retry: unknown key"],
    ));
    v.push(with_files(
        "two files for one layer",
        vec![
            ("base.toml", CASE_BASE),
            ("base.yaml", "{}"),
            ("development.toml", ""),
        ],
        &[
            "base.toml and",
            "base.yaml",
            "two files for the layer \"base\"",
        ],
    ));
    v.push(with_files(
        "extends cycle",
        vec![
            ("base.toml", CASE_BASE),
            ("development.toml", "extends = \"staging\"\n"),
            ("staging.toml", "extends = \"development\"\n"),
        ],
        &[
            "extends: extends cycle",
            "development.toml ->",
            "staging.toml ->",
        ],
    ));
    v.push(with_files(
        "no base layer",
        vec![("development.toml", "")],
        &["no base.{toml,yaml,yml,json} in config directory"],
    ));
    let mut unknown_profile = with_files(
        "unknown profile",
        vec![("base.toml", CASE_BASE), ("development.toml", "")],
        &["profile: unknown profile \"qa\": no qa.{toml,yaml,yml,json} in"],
    );
    unknown_profile.profile = Some("qa");
    v.push(unknown_profile);
    let mut path_profile = with_files(
        "profile name with a path",
        vec![("base.toml", CASE_BASE), ("development.toml", "")],
        &["profile: \"../base\" is not a profile name"],
    );
    path_profile.profile = Some("../base");
    v.push(path_profile);
    let mut bad_env = with_files(
        "bad env override value",
        vec![("base.toml", CASE_BASE), ("development.toml", "")],
        &["env FUTURES_COLLECTOR__EXCHANGES__BINANCE__INTERVALS__TICKERS: exchanges.binance.intervals.tickers:"],
    );
    bad_env.env = vec![(
        "FUTURES_COLLECTOR__EXCHANGES__BINANCE__INTERVALS__TICKERS",
        "fast",
    )];
    v.push(bad_env);
    let mut env_into_scalar = with_files(
        "env override below a scalar",
        vec![("base.toml", CASE_BASE), ("development.toml", "")],
        &["env FUTURES_COLLECTOR__SINK__TYPE__X: sink.type.x: sink.type is not a table"],
    );
    env_into_scalar.env = vec![("FUTURES_COLLECTOR__SINK__TYPE__X", "1")];
    v.push(env_into_scalar);
    let mut env_unknown_key = with_files(
        "env override of an unknown key",
        vec![("base.toml", CASE_BASE), ("development.toml", "")],
        &["env FUTURES_COLLECTOR__HTTP__SPEED: http.speed: unknown key"],
    );
    env_unknown_key.env = vec![("FUTURES_COLLECTOR__HTTP__SPEED", "3")];
    v.push(env_unknown_key);
    v
}

#[test]
fn malformed_configs_are_rejected_naming_file_and_key_without_secrets() {
    let cases = cases();
    assert!(cases.len() >= 20, "only {} cases", cases.len());
    let mut failures = Vec::new();
    for c in &cases {
        let files: Vec<(&str, &str)> = c.files.iter().map(|(n, t)| (*n, t.as_str())).collect();
        let dir = dir_with(&files);
        let mut env = vec![("HOOK", SECRET)];
        env.extend(c.env.iter().copied());
        let req = LoadRequest {
            path: dir.path().to_owned(),
            profile: c.profile.map(str::to_owned),
        };
        match load(&req, &Environment::from_pairs(env)) {
            Ok(_) => failures.push(format!("{}: accepted", c.name)),
            Err(e) => {
                let text = e.to_string();
                for needle in &c.expect {
                    if !text.contains(needle) {
                        failures.push(format!("{}: expected {needle:?} in:\n{text}", c.name));
                    }
                }
                if e.0.iter().any(|p| p.to_string().contains('\n')) {
                    failures.push(format!("{}: a problem spans lines:\n{text}", c.name));
                }
                if text.contains(SECRET) {
                    failures.push(format!("{}: the secret leaked:\n{text}", c.name));
                }
                if e.0
                    .iter()
                    .any(|p| p.file.is_none() && !p.key.is_empty() && p.key != "profile")
                {
                    failures.push(format!("{}: a problem names no file:\n{text}", c.name));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn the_base_fixture_is_valid() {
    // Guards the table above: each case fails because of its change, not the base.
    let dir = dir_with(&[("base.toml", CASE_BASE), ("development.toml", "")]);
    let req = LoadRequest {
        path: dir.path().to_owned(),
        profile: None,
    };
    load(&req, &Environment::from_pairs([("HOOK", SECRET)])).unwrap();
    let dir = dir_with(&[("base.toml", BASE), ("development.toml", "")]);
    let req = LoadRequest {
        path: dir.path().to_owned(),
        profile: None,
    };
    load(&req, &Environment::default()).unwrap();
    assert!(Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../config/base.toml")).is_file());
}

/// A value written to stand out: no run of [`QUOTE_MAX_CHARS`] + 1 of its characters may
/// appear in any message.
fn loud(n: usize) -> String {
    "Q".repeat(n)
}

/// Table: a long value at every stage that reports values (limits, schema, typed, semantic,
/// interpolation, profiles, overrides) gives a short error naming the file and the key that
/// quotes at most a prefix of the value, and never any part of a secret.
#[test]
fn long_values_give_short_errors_naming_file_and_key() {
    use super::{MAX_PROBLEMS_SHOWN, QUOTE_MAX_CHARS};
    let long_secret = format!("S3CR3T{}", "s".repeat(200));
    // Makes `http://h/${LONG}` 2063 bytes, over the URL limit.
    let longer_secret = format!("S3CR3T{}", "s".repeat(2048));
    let mut v = vec![
        case(
            "a 3 MB string (50 MB, above the file limit: tests/tests/config_cli.rs)",
            &format!("[sink]\ntype = \"jsonl\"\npath = \"{}\"\n", loud(3_145_728)),
            &["development.toml: sink.path: 3145728 bytes, longer than the 4096-byte limit for a path"],
        ),
        case(
            "long value of the wrong type (schema)",
            &format!("[http]\nretries = \"{}\"\n", loud(3000)),
            &["development.toml: http.retries: \"QQQ", "…\" (3000 bytes) is not of type \"integer\""],
        ),
        case(
            "long duration in no known format (schema)",
            &format!("[http]\ntimeout = \"{}\"\n", loud(3000)),
            &["development.toml: http.timeout: \"QQQ", "…\" (3000 bytes) does not match"],
        ),
        case(
            "long duration out of range (typed)",
            &format!("[http]\ntimeout = \"{}s\"\n", "9".repeat(3000)),
            &["development.toml: http.timeout: invalid duration \"999", "…\" (3001 bytes): out of range"],
        ),
        case(
            "long url that is not http (semantic)",
            &format!("[exchanges.binance]\nbase_url = \"ftp://{}\"\n", loud(1500)),
            &["development.toml: exchanges.binance.base_url: \"ftp://QQQ", "…\" (1506 bytes) is not an http(s) URL"],
        ),
        case(
            "long unknown rule (semantic)",
            &format!("[alerts]\ndisabled = [\"{}\"]\n", loud(100)),
            &["development.toml: alerts.disabled: unknown rule \"QQQ", "…\" (100 bytes)"],
        ),
        case(
            "long sink type (schema, tagged)",
            &format!("[sink]\ntype = \"{}\"\n", loud(3000)),
            &["development.toml: sink.type: unknown type \"QQQ", "…\" (3000 bytes) (known:"],
        ),
        case(
            "long table key",
            &format!("[exchanges.{}]\n", loud(200)),
            &["development.toml: exchanges: key \"QQQ", "…\" (200 bytes): 200 bytes, longer than the 128-byte limit for an identifier"],
        ),
        case(
            "long list",
            &format!("[alerts]\ndisabled = [{}]\n", vec!["\"memory\""; 300].join(", ")),
            &["development.toml: alerts.disabled: 300 items, more than the 256-item limit for a list"],
        ),
        case(
            "too long once a secret is resolved",
            "[exchanges.binance]\nbase_url = \"http://h/${LONG}\"\n",
            &["development.toml: exchanges.binance.base_url: 2063 bytes, longer than the 2048-byte limit for a URL"],
        ),
        case(
            "a long secret in a wrongly typed key",
            "[http]\nretries = \"${SECRET}\"\n",
            &["development.toml: http.retries: \"${SECRET}…\" (206 bytes)"],
        ),
        case(
            "long extends name",
            &format!("extends = \"{}\"\n", loud(300)),
            &["profile: profile name \"QQQ", "…\" (300 bytes): 300 bytes, longer than the 128-byte limit for an identifier"],
        ),
        case(
            "many problems",
            &(0..50).map(|i| format!("unknown_{i} = 1\n")).collect::<String>(),
            &["development.toml: unknown_0: unknown key", "… and 30 more problems"],
        ),
    ];
    let mut profile = case(
        "long profile name",
        "",
        &["profile: profile name \"QQQ", "(300 bytes): 300 bytes"],
    );
    profile.profile = Some(Box::leak(loud(300).into_boxed_str()));
    v.push(profile);
    let mut env_key = case(
        "long key in an override",
        "",
        &[
            "env FUTURES_COLLECTOR__HTTP__QQQ",
            "… [truncated ",
            "http: key \"qqq",
            "(300 bytes): 300 bytes, longer than the 128-byte limit",
        ],
    );
    let env_name = format!("FUTURES_COLLECTOR__HTTP__{}", loud(300));
    env_key.env = vec![(Box::leak(env_name.into_boxed_str()), "1")];
    v.push(env_key);

    let mut failures = Vec::new();
    for c in &v {
        let files: Vec<(&str, &str)> = c.files.iter().map(|(n, t)| (*n, t.as_str())).collect();
        let dir = dir_with(&files);
        let mut env = vec![
            ("HOOK", SECRET),
            ("SECRET", long_secret.as_str()),
            ("LONG", longer_secret.as_str()),
        ];
        env.extend(c.env.iter().copied());
        let req = LoadRequest {
            path: dir.path().to_owned(),
            profile: c.profile.map(str::to_owned),
        };
        let Err(e) = load(&req, &Environment::from_pairs(env)) else {
            failures.push(format!("{}: accepted", c.name));
            continue;
        };
        let text = e.to_string();
        for needle in &c.expect {
            if !text.contains(needle) {
                failures.push(format!("{}: expected {needle:?} in:\n{text}", c.name));
            }
        }
        if text.lines().count() > MAX_PROBLEMS_SHOWN + 1 || text.lines().any(|l| l.len() > 700) {
            failures.push(format!("{}: too long:\n{text}", c.name));
        }
        if text
            .to_lowercase()
            .contains(&loud(QUOTE_MAX_CHARS + 1).to_lowercase())
        {
            failures.push(format!(
                "{}: a value is quoted past its prefix:\n{text}",
                c.name
            ));
        }
        if text.contains("S3CR3T") || text.contains("sssss") {
            failures.push(format!("{}: part of the secret leaked:\n{text}", c.name));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
