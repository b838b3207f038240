//! The shadow canary with the real binary, real `.so` files and the exchange emulator: a build
//! of the Binance adapter whose ticker parse scales one field (made here from the adapter's own
//! source, one line changed) dropped in as a replacement is held back, the published records
//! keep the running version's values, and the status, metrics, alert, log and `canary status`
//! name the field; `canary reject` drops it; a correct rebuild of the same adapter is promoted.

mod collector_process;

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    process::Command,
};

use collector_process::{alert, get_text, status_as, status_where_as, Scene, PATIENCE};
use integration_tests::{
    build_out_of_tree_plugin, host_binary, read_records, standalone_dependencies, workspace_root,
};
use serde_json::Value;

/// The web token of these tests (a decision needs one, also on loopback).
const TOKEN: &str = "canary-test-token-0123456789abcdef";
const TOKEN_ENV: &str = "FUTURES_COLLECTOR_WEB_TOKEN";

/// The line of the Binance adapter the wrong build changes, and what it becomes.
const PARSE_FILE: &str = "plugins/binance/src/parse.rs";
const CORRECT_LINE: &str = "rec.volume_24h_quote = row.quote_volume.into();";
const WRONG_LINE: &str = "rec.volume_24h_quote = row.quote_volume.map(|v| v * 1000.0).into();";

/// Builds the Binance adapter's source as crate `fc_plugin_binance_canary_<variant>` at
/// `version`, with `patch` (from, to) applied to parse.rs, with the adapter's own dependencies
/// (read from its Cargo.toml), into the workspace's target directory (its dependencies are
/// already built there); returns the `.so`.
fn build_binance_variant(variant: &str, version: &str, patch: Option<(&str, &str)>) -> PathBuf {
    let adapter = workspace_root().join("plugins/binance");
    let dependencies = standalone_dependencies(&adapter);
    let lib = format!("fc_plugin_binance_canary_{variant}");
    build_out_of_tree_plugin(&lib, version, &adapter.join("src"), &dependencies, |src| {
        if let Some((from, to)) = patch {
            let parse = src.join("parse.rs");
            let text = std::fs::read_to_string(&parse).unwrap();
            assert_eq!(
                text.matches(from).count(),
                1,
                "{PARSE_FILE} must hold {from:?} exactly once (the test patches it)"
            );
            std::fs::write(&parse, text.replace(from, to)).unwrap();
        }
    })
}

/// Drops `built` into the plugin directory as the Binance plugin file, as operators do.
fn replace_binance(scene: &Scene, built: &Path) {
    let tmp = scene.plugin(".libfc_plugin_binance.so.tmp");
    std::fs::copy(built, &tmp).unwrap();
    std::fs::rename(&tmp, scene.plugin("libfc_plugin_binance.so")).unwrap();
}

/// `futures-collector canary <args> --config <scene config> --url <base>` with the token set
/// (the scene's web server listens on a port chosen at start).
fn canary_cli(scene: &Scene, base: &str, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(host_binary())
        .arg("canary")
        .args(args)
        .arg("--config")
        .arg(&scene.config)
        .args(["--url", base])
        .env(TOKEN_ENV, TOKEN)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Binance ticker records written so far: (raw symbol, volume_24h_quote), in order.
fn binance_volumes(scene: &Scene) -> Vec<(String, f64)> {
    read_records(&scene.output)
        .iter()
        .filter(|r| r["exchange"] == "binance" && r["kind"] == "ticker")
        .filter_map(|r| {
            Some((
                r["raw_symbol"].as_str()?.to_owned(),
                r["volume_24h_quote"].as_f64()?,
            ))
        })
        .collect()
}

fn plugin_version(s: &Value) -> Option<&str> {
    s["plugins"]
        .as_array()?
        .iter()
        .find(|p| p["exchange_id"] == "binance")?["version"]
        .as_str()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_build_is_held_back_and_a_correct_rebuild_is_promoted() {
    let wrong = build_binance_variant("wrong", "0.1.1", Some((CORRECT_LINE, WRONG_LINE)));
    let rebuilt = build_binance_variant("rebuilt", "0.1.2", None);

    let scene = Scene::new(&["fc_plugin_binance"], "canary_cycles = 2\n", "").await;
    let (collector, base) = scene.run_with_env(&[(TOKEN_ENV, TOKEN)]).await;
    let token = Some(TOKEN);
    assert!(scene.more_records("binance", 0).await);
    let s = status_as(&base, token).await;
    assert_eq!(plugin_version(&s), Some("0.1.0"), "{s:#}");
    assert_eq!(s["plugin_canaries"], serde_json::json!([]));

    // The wrong build: held back at its first ticker cycle.
    replace_binance(&scene, &wrong);
    let s = status_where_as(&base, token, |s| {
        s["plugin_canaries"][0]["state"] == "held_back"
    })
    .await;
    let written_at_hold = binance_volumes(&scene).len();
    let canary = &s["plugin_canaries"][0];
    assert_eq!(canary["exchange_id"], "binance");
    assert_eq!(canary["version"], "0.1.1");
    assert_eq!(canary["active_version"], "0.1.0");
    let divergences = canary["divergences"].as_array().unwrap();
    assert_eq!(
        divergences.len(),
        1,
        "only the scaled field differs: {canary:#}"
    );
    let field = &divergences[0];
    assert_eq!(field["field"], "volume_24h_quote");
    assert!(
        field["instruments"].as_u64().unwrap() > 10,
        "every instrument's volume differs: {field:#}"
    );
    let example = &field["examples"][0];
    let (running, new) = (
        example["active"].as_f64().unwrap(),
        example["candidate"].as_f64().unwrap(),
    );
    assert!(
        (new - running * 1000.0).abs() <= running.abs() * 1e-9 + 1e-9,
        "the example shows both values: {example}"
    );
    assert_eq!(canary["missing_instruments"]["count"], 0);
    assert_eq!(canary["new_errors"], 0);
    assert!(
        canary["reason"]
            .as_str()
            .unwrap()
            .contains("field volume_24h_quote differs"),
        "{canary:#}"
    );
    assert_eq!(
        plugin_version(&s),
        Some("0.1.0"),
        "the running version serves"
    );

    // The alert, the metrics and the log say so too.
    let s = status_where_as(&base, token, |s| {
        alert(s, "plugin_canary_held_back").is_some()
    })
    .await;
    let fired = alert(&s, "plugin_canary_held_back").unwrap();
    assert!(
        fired["summary"]
            .as_str()
            .unwrap()
            .contains("volume_24h_quote"),
        "{fired}"
    );
    let text = get_text(&base, "/metrics", token).await;
    for line in [
        "futures_collector_plugin_canary{exchange=\"binance\",state=\"held_back\"} 1",
        "futures_collector_plugin_canary_cycles_total{exchange=\"binance\",result=\"diverged\"} 1",
    ] {
        assert!(text.contains(line), "{line} missing");
    }
    assert!(
        text.contains(
            "futures_collector_plugin_canary_divergent_records_total{exchange=\"binance\",field=\"volume_24h_quote\"}"
        ),
        "divergent records counted"
    );
    assert!(!collector.logged("plugin canary held back: the new version disagrees with the running one, which keeps serving").is_empty());

    // Published records keep the running version's values: collection goes on, and no volume
    // jumps a thousandfold from what the same symbol had before the replacement.
    let before: BTreeMap<String, f64> = binance_volumes(&scene)
        .into_iter()
        .take(written_at_hold)
        .collect();
    let mut after = Vec::new();
    integration_tests::wait_until(PATIENCE, || {
        after = binance_volumes(&scene)
            .into_iter()
            .skip(written_at_hold)
            .collect();
        after.len() > 20
    })
    .await
    .expect("collection goes on while the candidate is held back");
    for (symbol, volume) in &after {
        if let Some(old) = before.get(symbol) {
            assert!(
                *volume < old.abs() * 100.0 + 1.0,
                "{symbol}: published {volume}, was {old}: the held-back build's value leaked"
            );
        }
    }

    // The CLI shows it, and rejects it.
    let (ok, out, err) = canary_cli(&scene, &base, &["status"]);
    assert!(ok, "{err}");
    assert!(
        out.contains("binance: libfc_plugin_binance.so 0.1.1 (held_back), running 0.1.0")
            && out.contains("field volume_24h_quote differs on"),
        "{out}"
    );
    let (ok, out, err) = canary_cli(&scene, &base, &["reject", "binance"]);
    assert!(ok, "{err}");
    assert!(out.contains("binance: version 0.1.1 rejected"), "{out}");
    let s = status_where_as(&base, token, |s| {
        s["plugin_canaries"] == serde_json::json!([])
            && alert(s, "plugin_canary_held_back").is_none()
    })
    .await;
    assert_eq!(plugin_version(&s), Some("0.1.0"));
    let (ok, _, err) = canary_cli(&scene, &base, &["promote", "binance"]);
    assert!(!ok, "nothing left to promote");
    assert!(
        err.contains("no new version of binance is waiting"),
        "{err}"
    );

    // A correct rebuild of the same adapter agrees on every kind and is promoted.
    replace_binance(&scene, &rebuilt);
    let s = status_where_as(&base, token, |s| plugin_version(s) == Some("0.1.2")).await;
    assert_eq!(s["plugin_canaries"], serde_json::json!([]));
    let events: Vec<&str> = s["recent_events"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["message"].as_str())
        .collect();
    assert!(
        events
            .iter()
            .any(|m| m.contains("plugin canary promoted") && m.contains("0.1.2")),
        "{events:#?}"
    );
    let text = get_text(&base, "/metrics", token).await;
    assert!(
        text.contains(
            "futures_collector_plugin_canary_cycles_total{exchange=\"binance\",result=\"agreed\"}"
        ),
        "agreeing cycles counted"
    );
    let promoted_at = scene.records_of("binance");
    assert!(
        scene.more_records("binance", promoted_at).await,
        "the promoted version collects"
    );

    // The wrong build again, twice: the second file supersedes the first candidate, which is
    // held back in turn; an operator promotes it anyway (the API needs the token).
    replace_binance(&scene, &wrong);
    status_where_as(&base, token, |s| {
        s["plugin_canaries"][0]["state"] == "held_back"
    })
    .await;
    let first = status_as(&base, token).await["plugin_canaries"][0]["generation"].clone();
    replace_binance(&scene, &wrong);
    let s = status_where_as(&base, token, |s| {
        s["plugin_canaries"][0]["state"] == "held_back"
            && s["plugin_canaries"][0]["generation"] != first
    })
    .await;
    assert!(
        s["recent_events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["message"]
                .as_str()
                .unwrap_or("")
                .contains("plugin canary ended")),
        "the superseded candidate is reported"
    );
    let promote = format!("{base}/api/plugins/binance/promote");
    let client = reqwest::Client::new();
    let refused = client.post(&promote).send().await.unwrap();
    assert_eq!(refused.status(), 401, "no decision without the token");
    let answer = client
        .post(&promote)
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    let answer: Value = serde_json::from_str(&answer.text().await.unwrap()).unwrap();
    assert_eq!(
        answer["result"],
        "binance: version 0.1.1 promoted (was 0.1.2)"
    );
    let s = status_where_as(&base, token, |s| plugin_version(s) == Some("0.1.1")).await;
    assert_eq!(s["plugin_canaries"], serde_json::json!([]));
    let gone = client
        .post(format!("{base}/api/plugins/okx/reject"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), 404, "no plugin serves okx here");
    scene.finish(collector).await;
}
