//! `futures-collector check-config` as CI and canary checks run it: the real binary on the
//! shipped config directory (every profile), on a broken directory, with a secret in the
//! environment, with an environment override, and with oversized input (a 50 MB value, a file
//! above the file limit, an oversized override).

use std::{
    path::{Path, PathBuf},
    process::{Command, Output},
};

use integration_tests::host_binary;

fn shipped_config_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../config")
}

/// Runs `check-config` with a clean slate of config-related variables plus `env`.
fn check_config(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(host_binary());
    cmd.arg("check-config").args(args);
    for (k, _) in std::env::vars() {
        if k.starts_with("FUTURES_COLLECTOR") || k == "KUBERNETES_SERVICE_HOST" {
            cmd.env_remove(k);
        }
    }
    cmd.envs(env.iter().copied());
    cmd.output().expect("run futures-collector")
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn every_shipped_profile_is_valid() {
    let dir = shipped_config_dir();
    let dir = dir.to_str().unwrap();
    for profile in ["development", "staging", "production", "demo"] {
        let out = check_config(&["--config", dir, "--profile", profile], &[]);
        let (stdout, stderr) = text(&out);
        assert!(out.status.success(), "{profile}: {stderr}");
        assert!(
            stderr.contains(&format!("valid: profile {profile}")),
            "{profile}: {stderr}"
        );
        // The effective config is a TOML document with every section.
        let doc: toml::Table = stdout
            .parse()
            .unwrap_or_else(|e| panic!("{profile}: {e}\n{stdout}"));
        for section in ["plugins", "sink", "http", "exchanges", "web", "alerts"] {
            assert!(doc.contains_key(section), "{profile}: no [{section}]");
        }
    }
    // No --profile and no FUTURES_COLLECTOR_PROFILE: development.
    let out = check_config(&["--config", dir, "--format", "json"], &[]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("valid: profile development"), "{stderr}");
    let doc: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(doc["sink"]["type"], "jsonl");
    // FUTURES_COLLECTOR_PROFILE picks the profile.
    let out = check_config(
        &["--config", dir],
        &[("FUTURES_COLLECTOR_PROFILE", "staging")],
    );
    assert!(
        text(&out).1.contains("valid: profile staging"),
        "{:?}",
        text(&out)
    );
}

#[test]
fn a_broken_directory_fails_naming_file_and_key() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("base.toml"),
        "[plugins]\ndir = \"p\"\n[sink]\ntype = \"stdout\"\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("development.yaml"),
        "http:\n  timeout: 2s\n  timeout_floor: 5s\nexchanges:\n  binance:\n    intervals:\n      tickers: 0s\n",
    )
    .unwrap();
    let out = check_config(&["--config", dir.path().to_str().unwrap()], &[]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert!(stdout.is_empty(), "{stdout}");
    assert!(
        stderr.contains("development.yaml: exchanges.binance.intervals.tickers:"),
        "{stderr}"
    );
    // Fix the interval: the semantic problem is reported, naming its file and key.
    std::fs::write(
        dir.path().join("development.yaml"),
        "http:\n  timeout: 2s\n  timeout_floor: 5s\n",
    )
    .unwrap();
    let out = check_config(&["--config", dir.path().to_str().unwrap()], &[]);
    let stderr = text(&out).1;
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(
            "development.yaml: http.timeout_floor: 5s must be > 0 and <= http.timeout (2s)"
        ),
        "{stderr}"
    );
    // An unknown profile.
    let out = check_config(
        &["--config", dir.path().to_str().unwrap(), "--profile", "qa"],
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).1.contains("unknown profile \"qa\""),
        "{:?}",
        text(&out)
    );
}

#[test]
fn secrets_never_appear_and_env_overrides_show() {
    const SECRET: &str = "Zq9-very-secret-token";
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("base.toml"),
        "[plugins]\ndir = \"p\"\n[sink]\ntype = \"stdout\"\n\
         [[alerts.notifiers]]\ntype = \"telegram\"\nchat_id = \"-100\"\nbot_token = \"${BOT_TOKEN}\"\n\
         [[alerts.notifiers]]\ntype = \"webhook\"\nurl = \"https://hooks.example/${BOT_TOKEN}\"\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("development.toml"), "").unwrap();
    let config = dir.path().to_str().unwrap();
    let env = [
        ("BOT_TOKEN", SECRET),
        ("FUTURES_COLLECTOR__HTTP__RATE_LIMIT_SHARE", "0.3"),
        (
            "FUTURES_COLLECTOR__EXCHANGES__BINANCE__INTERVALS__TICKERS",
            "2s",
        ),
    ];
    for format in ["toml", "json"] {
        let out = check_config(&["--config", config, "--format", format], &env);
        let (stdout, stderr) = text(&out);
        assert!(out.status.success(), "{stderr}");
        assert!(
            !stdout.contains(SECRET) && !stderr.contains(SECRET),
            "{stdout}{stderr}"
        );
        assert!(stdout.contains("${BOT_TOKEN}"), "{stdout}");
        if format == "json" {
            let doc: serde_json::Value = serde_json::from_str(&stdout).unwrap();
            assert_eq!(doc["http"]["rate_limit_share"], 0.3);
            assert_eq!(doc["exchanges"]["binance"]["intervals"]["tickers"], "2s");
            assert_eq!(doc["alerts"]["notifiers"][0]["bot_token"], "${BOT_TOKEN}");
        } else {
            assert!(stdout.contains("rate_limit_share = 0.3"), "{stdout}");
        }
    }
    // An invalid config whose error would quote the secret: still scrubbed.
    let out = check_config(
        &["--config", config],
        &[
            ("BOT_TOKEN", SECRET),
            ("FUTURES_COLLECTOR__HTTP__RETRIES", "${BOT_TOKEN}"),
        ],
    );
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("env FUTURES_COLLECTOR__HTTP__RETRIES: http.retries:"),
        "{stderr}"
    );
    assert!(
        !stdout.contains(SECRET) && !stderr.contains(SECRET),
        "{stdout}{stderr}"
    );
}

/// Oversized input is refused in a few short lines, each naming where it came from and the
/// limit: a 1 MiB value in a local override (by its key), a 50 MB value (its file is above the
/// file limit), and an oversized environment override.
#[test]
fn oversized_input_is_refused_in_short_messages() {
    const VALUE_BYTES: usize = 1024 * 1024;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("base.toml"),
        "[plugins]\ndir = \"p\"\n[sink]\ntype = \"stdout\"\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("development.toml"), "").unwrap();
    let local = dir.path().join("local.toml");
    std::fs::write(
        &local,
        format!(
            "[sink]\ntype = \"jsonl\"\npath = \"{}\"\n",
            "a".repeat(VALUE_BYTES)
        ),
    )
    .unwrap();
    let config = dir.path().to_str().unwrap();
    let out = check_config(&["--config", config], &[]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stdout.is_empty(), "{} bytes on stdout", stdout.len());
    assert!(stderr.len() < 1024, "{} bytes on stderr", stderr.len());
    assert!(
        stderr.contains(&format!(
            "{}: sink.path: {VALUE_BYTES} bytes, longer than the 4096-byte limit for a path",
            local.display()
        )),
        "{stderr}"
    );

    // A 50 MB value: its file is above the file limit and is not read past the limit.
    let limit = futures_collector::config::MAX_CONFIG_FILE_BYTES;
    const HUGE_VALUE_BYTES: usize = 50 * 1024 * 1024;
    let huge = format!(
        "[sink]\ntype = \"jsonl\"\npath = \"{}\"\n",
        "a".repeat(HUGE_VALUE_BYTES)
    );
    std::fs::write(&local, &huge).unwrap();
    let out = check_config(&["--config", config], &[]);
    let stderr = text(&out).1;
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.len() < 1024, "{} bytes on stderr", stderr.len());
    assert!(
        stderr.contains(&format!(
            "{}: {} bytes, larger than the {limit}-byte limit for a config file",
            local.display(),
            huge.len()
        )),
        "{stderr}"
    );

    // An environment override above its limit names the variable.
    std::fs::remove_file(&local).unwrap();
    let long_path = "p".repeat(futures_collector::config::MAX_ENV_OVERRIDE_BYTES);
    let out = check_config(
        &["--config", config],
        &[("FUTURES_COLLECTOR__SINK__PATH", long_path.as_str())],
    );
    let stderr = text(&out).1;
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.len() < 1024, "{} bytes on stderr", stderr.len());
    assert!(
        stderr.contains("env FUTURES_COLLECTOR__SINK__PATH: 8222 bytes, longer than the 8192-byte limit for an environment override"),
        "{stderr}"
    );
}
