//! The built plugin `.so` files load through the ABI: the three real plugins describe
//! themselves; an incompatible plugin, a non-plugin file and a panicking plugin are rejected or
//! contained with a one-line reason naming the file; the `plugins` command prints all of it.

use futures_collector::plugins::{load_plugin, LoadError};
use integration_tests::{plugin_path, REAL_PLUGINS};
use plugin_api::{
    abi_stable::std_types::{ROption, RSlice, RStr},
    Context, ErrorClass, HttpResponse, RecordKind,
};

fn empty_ctx() -> Context<'static> {
    Context {
        exchange_id: RStr::from_str("test"),
        now_ms: 0,
        instruments: RSlice::from_slice(&[]),
        options: RSlice::from_slice(&[]),
        credentials: ROption::RNone,
    }
}

#[test]
fn real_plugins_load_and_describe_themselves() {
    let expected = [
        ("fc_plugin_binance", "binance"),
        ("fc_plugin_bybit", "bybit"),
        ("fc_plugin_okx", "okx"),
    ];
    for (lib, id) in expected {
        let plugin = load_plugin(&plugin_path(lib)).unwrap_or_else(|e| panic!("{lib}: {e}"));
        let info = &plugin.info;
        assert_eq!(info.exchange_id.as_str(), id);
        assert_eq!(
            info.interface_version.as_str(),
            plugin_api::INTERFACE_VERSION
        );
        assert!(!info.plugin_version.is_empty());
        assert!(
            info.default_base_url.starts_with("https://"),
            "{id}: real base URL by default"
        );
        assert!(
            !info.rate_limits.is_empty(),
            "{id}: documents its rate limits"
        );
        let kinds: Vec<&str> = info.kinds.iter().map(|k| k.name.as_str()).collect();
        for kind in ["instruments", "tickers", "funding"] {
            assert!(kinds.contains(&kind), "{id} lacks {kind}: {kinds:?}");
        }
        assert_eq!(
            info.kinds[0].emits,
            RecordKind::INSTRUMENT,
            "{id}: instruments first"
        );
        // The plugin builds requests through the ABI without the host's help.
        let requests = plugin.build_requests("instruments", &empty_ctx()).unwrap();
        assert!(!requests.is_empty());
        assert!(requests
            .iter()
            .all(|r| r.path.starts_with('/') && r.weight >= 1));
    }
}

#[test]
fn each_plugin_is_its_own_module() {
    // abi_stable's load_from_file would return the first module for every file; the loader
    // must not.
    let ids: Vec<String> = REAL_PLUGINS
        .iter()
        .map(|lib| {
            load_plugin(&plugin_path(lib))
                .unwrap()
                .info
                .exchange_id
                .to_string()
        })
        .collect();
    assert_eq!(ids, ["binance", "bybit", "okx"]);
}

#[test]
fn incompatible_plugin_is_rejected_with_a_reason() {
    let path = plugin_path("fc_test_plugin_incompatible");
    let err = load_plugin(&path).unwrap_err();
    assert!(matches!(err, LoadError::Incompatible { .. }), "{err:?}");
    let line = err.to_string();
    assert!(
        line.contains("libfc_test_plugin_incompatible"),
        "names the file: {line}"
    );
    assert!(line.contains("incompatible plugin interface"), "{line}");
    assert!(!line.contains('\n'), "one line: {line}");
    assert!(line.len() < 600, "short: {} chars", line.len());
    // The test plugin declares the host's own interface version, so what rejects it is the
    // layout check, not the version check; it must follow plugin-api's version.
    let source = include_str!("../plugins/incompatible/src/lib.rs");
    let declared = format!("VersionStrings::new(\"{}\")", plugin_api::INTERFACE_VERSION);
    assert!(
        source.contains(&declared),
        "tests/plugins/incompatible must declare {declared}"
    );
}

#[test]
fn non_plugin_files_are_rejected_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    let garbage = dir.path().join("garbage.so");
    std::fs::write(&garbage, b"not an ELF file").unwrap();
    let err = load_plugin(&garbage).unwrap_err();
    assert!(matches!(err, LoadError::NotAPlugin { .. }), "{err:?}");
    assert!(err.to_string().contains("garbage.so"));

    // A real shared library that is not a futures-collector plugin (no root module).
    let libc = [
        "/lib/x86_64-linux-gnu/libm.so.6",
        "/usr/lib/x86_64-linux-gnu/libm.so.6",
    ]
    .into_iter()
    .find(|p| std::path::Path::new(p).exists());
    if let Some(libm) = libc {
        let copy = dir.path().join("libm.so");
        std::fs::copy(libm, &copy).unwrap();
        let err = load_plugin(&copy).unwrap_err();
        assert!(matches!(err, LoadError::NotAPlugin { .. }), "{err:?}");
    }
}

#[test]
fn a_panicking_plugin_is_contained() {
    let plugin = load_plugin(&plugin_path("fc_test_plugin_panicking")).unwrap();
    let ctx = empty_ctx();

    let err = plugin.build_requests("boom", &ctx).unwrap_err();
    assert_eq!(err.class, ErrorClass::PLUGIN_PANIC);
    assert!(
        err.message.contains("build_requests exploded on purpose"),
        "{}",
        err.message
    );

    let requests = plugin.build_requests("tickers", &ctx).unwrap();
    let body = b"[]";
    let responses = [HttpResponse {
        request: &requests[0],
        status: 200,
        headers: RSlice::from_slice(&[]),
        body: RSlice::from_slice(body),
        received_ts: 1,
    }];
    let out = plugin.parse("tickers", &responses, &ctx);
    assert!(out.records.is_empty());
    assert_eq!(out.errors.len(), 1);
    assert_eq!(out.errors[0].class, ErrorClass::PLUGIN_PANIC);
    assert!(
        out.errors[0].message.contains("index out of bounds"),
        "{}",
        out.errors[0].message
    );
    // Still alive, and the plugin still answers.
    assert_eq!(plugin.parse("tickers", &responses, &ctx).errors.len(), 1);
}

#[test]
fn plugins_command_lists_every_file() {
    let dir = tempfile::tempdir().unwrap();
    for lib in REAL_PLUGINS
        .iter()
        .chain(&["fc_test_plugin_incompatible", "fc_test_plugin_panicking"])
    {
        integration_tests::deploy_plugin(lib, dir.path());
    }
    std::fs::write(dir.path().join("broken.so"), b"\x7fELF truncated").unwrap();
    std::fs::write(dir.path().join("README.txt"), b"not considered").unwrap();

    let exe = integration_tests::host_binary();
    let out = std::process::Command::new(exe)
        .args(["plugins", "--dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(2),
        "non-zero when a file fails: {stdout}"
    );
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 6, "{stdout}");
    for (file, needle) in [
        ("libfc_plugin_binance.so", "exchange=binance"),
        ("libfc_plugin_bybit.so", "exchange=bybit"),
        ("libfc_plugin_okx.so", "exchange=okx"),
        ("libfc_test_plugin_panicking.so", "exchange=panicking"),
        ("libfc_test_plugin_incompatible.so", "ERROR"),
        ("broken.so", "ERROR"),
    ] {
        let line = lines
            .iter()
            .find(|l| l.starts_with(file))
            .unwrap_or_else(|| panic!("no line for {file}: {stdout}"));
        assert!(line.contains(needle), "{line}");
        if needle != "ERROR" {
            assert!(
                line.contains(&format!("interface={}", plugin_api::INTERFACE_VERSION))
                    && line.contains("kinds=["),
                "{line}"
            );
        }
        if file.starts_with("libfc_plugin_") {
            assert!(line.contains("kinds=[instruments/"), "{line}");
        }
    }
}

/// Hostile bodies through the ABI: deeply nested JSON, a huge HTML page, binary garbage. Every
/// real plugin answers with classified errors for every kind, never a crash.
#[test]
fn hostile_bodies_are_classified_by_every_plugin() {
    let nested = "[".repeat(200_000);
    let html = format!("<html><body>{}</body></html>", "x".repeat(1 << 20));
    let binary: Vec<u8> = (0..4096u32).map(|i| (i * 7919 % 251) as u8).collect();
    let bodies: [&[u8]; 4] = [nested.as_bytes(), html.as_bytes(), &binary, b"{\"a\":"];
    for lib in REAL_PLUGINS {
        let plugin = load_plugin(&plugin_path(lib)).unwrap();
        for kind in plugin.info.kinds.iter() {
            let requests = plugin
                .build_requests(kind.name.as_str(), &empty_ctx())
                .unwrap();
            if requests.is_empty() {
                // Per-instrument kinds (Binance open interest) ask for nothing without instruments.
                continue;
            }
            for body in bodies {
                let responses: Vec<HttpResponse<'_>> = requests
                    .iter()
                    .map(|r| HttpResponse {
                        request: r,
                        status: 200,
                        headers: RSlice::from_slice(&[]),
                        body: RSlice::from_slice(body),
                        received_ts: 1,
                    })
                    .collect();
                let out = plugin.parse(kind.name.as_str(), &responses, &empty_ctx());
                assert!(
                    out.records.is_empty(),
                    "{lib} {}: records from garbage",
                    kind.name
                );
                assert!(
                    !out.errors.is_empty(),
                    "{lib} {}: garbage must be an error",
                    kind.name
                );
                assert!(
                    out.errors.iter().all(|e| e.class == ErrorClass::PARSE),
                    "{lib} {}: {:?}",
                    kind.name,
                    out.errors
                );
            }
        }
    }
}
