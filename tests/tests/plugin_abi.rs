//! The built plugin `.so` files load through the ABI: the three real plugins describe
//! themselves; an incompatible plugin, a non-plugin file and a panicking plugin are rejected or
//! contained with a one-line reason naming the file; the `plugins` command prints all of it.
//! A plugin built against another plugin-api crate version of the same interface version
//! loads; one built against another interface version is refused.

use futures_collector::plugins::{load_plugin, LoadError};
use integration_tests::{
    build_out_of_tree_plugin, plugin_path, standalone_dependencies, workspace_root, REAL_PLUGINS,
};
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
        ("fc_plugin_bitget", "bitget"),
        ("fc_plugin_gate", "gate"),
        ("fc_plugin_hyperliquid", "hyperliquid"),
        ("fc_plugin_mexc", "mexc"),
        ("fc_plugin_kucoinfutures", "kucoinfutures"),
        ("fc_plugin_htx", "htx"),
        ("fc_plugin_bitmex", "bitmex"),
        ("fc_plugin_krakenfutures", "krakenfutures"),
        ("fc_plugin_deribit", "deribit"),
        ("fc_plugin_dydx", "dydx"),
        ("fc_plugin_bingx", "bingx"),
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
    assert_eq!(
        ids,
        [
            "binance",
            "bybit",
            "okx",
            "bitget",
            "gate",
            "hyperliquid",
            "mexc",
            "kucoinfutures",
            "htx",
            "bitmex",
            "krakenfutures",
            "deribit",
            "dydx",
            "bingx"
        ]
    );
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
    for lib in REAL_PLUGINS.iter().chain(&[
        "fc_plugin_template",
        "fc_test_plugin_incompatible",
        "fc_test_plugin_panicking",
    ]) {
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
    assert_eq!(lines.len(), REAL_PLUGINS.len() + 4, "{stdout}");
    for (file, needle) in [
        ("libfc_plugin_binance.so", "exchange=binance"),
        ("libfc_plugin_bybit.so", "exchange=bybit"),
        ("libfc_plugin_okx.so", "exchange=okx"),
        ("libfc_plugin_bitget.so", "exchange=bitget"),
        ("libfc_plugin_gate.so", "exchange=gate"),
        ("libfc_plugin_hyperliquid.so", "exchange=hyperliquid"),
        ("libfc_plugin_mexc.so", "exchange=mexc"),
        ("libfc_plugin_kucoinfutures.so", "exchange=kucoinfutures"),
        ("libfc_plugin_htx.so", "exchange=htx"),
        ("libfc_plugin_bitmex.so", "exchange=bitmex"),
        ("libfc_plugin_krakenfutures.so", "exchange=krakenfutures"),
        ("libfc_plugin_deribit.so", "exchange=deribit"),
        ("libfc_plugin_dydx.so", "exchange=dydx"),
        ("libfc_plugin_bingx.so", "exchange=bingx"),
        ("libfc_plugin_template.so", "exchange=template"),
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

/// A copy of plugin-api at crate version `crate_version`, its `INTERFACE_VERSION` set to
/// `interface_version`, in `dir`; returns the copy's directory.
fn plugin_api_copy(
    dir: &std::path::Path,
    crate_version: &str,
    interface_version: &str,
) -> std::path::PathBuf {
    let original = workspace_root().join("plugin-api");
    let copy = dir.join("plugin-api");
    std::fs::create_dir_all(copy.join("src")).unwrap();
    for entry in std::fs::read_dir(original.join("src")).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), copy.join("src").join(entry.file_name())).unwrap();
    }
    std::fs::copy(original.join("build.rs"), copy.join("build.rs")).unwrap();
    let module = copy.join("src/module.rs");
    let text = std::fs::read_to_string(&module).unwrap();
    let declared = format!(
        "pub const INTERFACE_VERSION: &str = \"{}\";",
        plugin_api::INTERFACE_VERSION
    );
    assert_eq!(
        text.matches(&declared).count(),
        1,
        "module.rs declares {declared}"
    );
    let wanted = format!("pub const INTERFACE_VERSION: &str = \"{interface_version}\";");
    std::fs::write(&module, text.replace(&declared, &wanted)).unwrap();
    let mut dependencies = String::new();
    for (name, spec) in standalone_dependencies(&original) {
        dependencies.push_str(&format!("{name} = {spec}\n"));
    }
    std::fs::write(
        copy.join("Cargo.toml"),
        format!(
            "[package]\nname = \"futures-collector-plugin-api\"\nversion = \"{crate_version}\"\n\
             edition = \"2021\"\npublish = false\n\n[lib]\nname = \"plugin_api\"\n\n\
             [dependencies]\n{dependencies}"
        ),
    )
    .unwrap();
    copy
}

/// The test plugin `panicking`, built against `api` (a plugin-api copy) as `lib`.
fn build_against(api: &std::path::Path, lib: &str) -> std::path::PathBuf {
    let source = workspace_root().join("tests/plugins/panicking");
    let mut dependencies = standalone_dependencies(&source);
    let spec = dependencies
        .get_mut("plugin-api")
        .and_then(|d| d.as_table_mut())
        .expect("the test plugin depends on plugin-api");
    spec.insert("path".into(), api.display().to_string().into());
    build_out_of_tree_plugin(lib, "0.1.0", &source.join("src"), &dependencies, |_| {})
}

/// The interface version, not the crate version, decides: a plugin built against a plugin-api
/// crate of another version with the host's interface version loads and works; one built
/// against another interface version is refused with the host's usual message.
#[test]
fn plugins_load_by_interface_version_not_crate_version() {
    let ours: toml::Table = std::fs::read_to_string(workspace_root().join("plugin-api/Cargo.toml"))
        .unwrap()
        .parse()
        .unwrap();
    let our_crate_version = ours["package"]["version"].as_str().unwrap().to_owned();
    // Another major version of the crate: abi_stable would refuse it if it saw crate versions.
    let other_crate_version = "7.3.0";
    assert_ne!(other_crate_version, our_crate_version);

    let dir = tempfile::tempdir().unwrap();
    let same = plugin_api_copy(
        &dir.path().join("same"),
        other_crate_version,
        plugin_api::INTERFACE_VERSION,
    );
    let built = build_against(&same, "fc_test_plugin_other_api_crate");
    let plugin = load_plugin(&built).unwrap_or_else(|e| panic!("must load: {e}"));
    assert_eq!(
        plugin.info.interface_version.as_str(),
        plugin_api::INTERFACE_VERSION
    );
    let requests = plugin.build_requests("tickers", &empty_ctx()).unwrap();
    assert!(!requests.is_empty(), "the plugin answers through the ABI");

    // The same crate version as ours, another interface version.
    let mut parts = plugin_api::INTERFACE_VERSION.split('.');
    let (major, minor) = (parts.next().unwrap(), parts.next().unwrap());
    let next_interface = format!("{major}.{}.0", minor.parse::<u32>().unwrap() + 1);
    let other = plugin_api_copy(
        &dir.path().join("other"),
        &our_crate_version,
        &next_interface,
    );
    let built = build_against(&other, "fc_test_plugin_other_interface");
    let err = load_plugin(&built).unwrap_err();
    assert!(matches!(err, LoadError::Incompatible { .. }), "{err:?}");
    let line = err.to_string();
    assert!(line.contains("incompatible plugin interface"), "{line}");
}
