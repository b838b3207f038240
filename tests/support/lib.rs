//! Shared helpers for the integration tests: locate the built plugin `.so` files, start the
//! exchange emulator, write configs, run the real host in-process, and read its JSONL output.
//! Owns no assertions about behaviour: the tests in `tests/tests/` do.

use std::{
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

pub use exchange_emulator;
pub use futures_collector;

/// The built plugin file for a crate's library name (e.g. `fc_plugin_binance`). Cargo puts
/// dependency cdylibs in `target/<profile>/deps/` and workspace builds in `target/<profile>/`.
pub fn plugin_path(lib_name: &str) -> PathBuf {
    let file = format!(
        "{}{lib_name}.{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_EXTENSION
    );
    let exe = std::env::current_exe().expect("test binary path");
    let deps = exe.parent().expect("deps dir").to_path_buf();
    let candidates = [
        deps.join(&file),
        deps.parent().map(|p| p.join(&file)).unwrap_or_default(),
    ];
    candidates
        .iter()
        .find(|p| p.is_file())
        .cloned()
        .unwrap_or_else(|| {
            panic!(
                "{file} not built; looked in {candidates:?} (run `cargo build --workspace` first)"
            )
        })
}

/// The real exchange plugins' library names.
pub const REAL_PLUGINS: [&str; 14] = [
    "fc_plugin_binance",
    "fc_plugin_bybit",
    "fc_plugin_okx",
    "fc_plugin_bitget",
    "fc_plugin_gate",
    "fc_plugin_hyperliquid",
    "fc_plugin_mexc",
    "fc_plugin_kucoinfutures",
    "fc_plugin_htx",
    "fc_plugin_bitmex",
    "fc_plugin_krakenfutures",
    "fc_plugin_deribit",
    "fc_plugin_dydx",
    "fc_plugin_bingx",
];

/// Copies a plugin into `dir` the way operators deploy: write a temporary name, then rename.
pub fn deploy_plugin(lib_name: &str, dir: &Path) -> PathBuf {
    let src = plugin_path(lib_name);
    let name = src.file_name().expect("file name").to_owned();
    let tmp = dir.join(format!(".{}.tmp", name.to_string_lossy()));
    std::fs::copy(&src, &tmp).expect("copy plugin");
    let dest = dir.join(name);
    std::fs::rename(&tmp, &dest).expect("rename plugin");
    dest
}

/// `dir/plugins` holding `libs`, each deployed as operators do ([`deploy_plugin`]).
pub fn plugin_dir_with(dir: &Path, libs: &[&str]) -> PathBuf {
    let plugin_dir = dir.join("plugins");
    std::fs::create_dir_all(&plugin_dir).expect("create plugin dir");
    for lib in libs {
        deploy_plugin(lib, &plugin_dir);
    }
    plugin_dir
}

/// The exchange emulator serving its default three exchanges on a free loopback port.
pub async fn spawn_default_emulator() -> exchange_emulator::EmulatorHandle {
    exchange_emulator::spawn(
        exchange_emulator::EmulatorConfig::default_three(),
        std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
    )
    .await
    .expect("start the exchange emulator")
}

/// Reads every JSON line written so far (a partially written last line is ignored).
pub fn read_records(path: &Path) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// Polls `check` every 50 ms until it returns true or `timeout` passes; returns the elapsed
/// time on success.
pub async fn wait_until(timeout: Duration, mut check: impl FnMut() -> bool) -> Option<Duration> {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if check() {
            return Some(start.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    None
}

/// The record schema compiled for validation.
pub fn record_validator() -> jsonschema::Validator {
    let schema = futures_collector::output::message::records_schema();
    jsonschema::validator_for(&schema).expect("records schema compiles")
}

/// Asserts that every record validates against the record schema, naming the first that
/// does not and why.
pub fn assert_schema_valid(records: &[serde_json::Value]) {
    let validator = record_validator();
    for record in records {
        let errors: Vec<String> = validator
            .iter_errors(record)
            .map(|e| e.to_string())
            .collect();
        assert!(errors.is_empty(), "invalid record {record}: {errors:?}");
    }
}

/// A running host in this process, stopped by `stop()`.
pub struct RunningHost {
    pub output: PathBuf,
    /// The exchange health table the host's workers write.
    pub health: futures_collector::observe::health::HealthTable,
    /// The host's telemetry (metrics, events; `web_addr()` once its web server listens).
    pub telemetry: futures_collector::observe::telemetry::Telemetry,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<
        Result<
            futures_collector::run::supervisor::RunSummary,
            futures_collector::run::supervisor::StartError,
        >,
    >,
}

impl RunningHost {
    /// A host collecting the one exchange `id` at `base_url` through the real `plugin`
    /// (deployed into `dir/plugins` as operators do), its `[exchanges.<id>.intervals]` given as
    /// `intervals` (TOML lines), everything else as [`config_text`] writes it.
    pub fn start_exchange(
        dir: &Path,
        plugin: &str,
        id: &str,
        base_url: &str,
        intervals: &str,
    ) -> Self {
        let plugin_dir = dir.join("plugins");
        std::fs::create_dir_all(&plugin_dir).expect("create plugin dir");
        deploy_plugin(plugin, &plugin_dir);
        Self::start(
            dir,
            &config_text(dir, &plugin_dir, &[(id, base_url.to_owned(), intervals)]),
        )
    }

    /// Starts the host with the TOML `config_text`, written to `dir/collector.toml`.
    pub fn start(dir: &Path, config_text: &str) -> Self {
        Self::launch(dir, config_text, None)
    }

    /// Like [`RunningHost::start`], and forwards plugin events to `events`.
    pub fn start_with_events(
        dir: &Path,
        config_text: &str,
        events: tokio::sync::mpsc::UnboundedSender<futures_collector::plugins::PluginEvent>,
    ) -> Self {
        Self::launch(dir, config_text, Some(events))
    }

    /// Like [`RunningHost::start`], with hot reload: the config file is watched (and
    /// [`RunningHost::write_config`] replaces it as an editor would).
    pub fn start_reloading(dir: &Path, config_text: &str) -> Self {
        let path = dir.join("collector.toml");
        let reload = futures_collector::run::supervisor::ReloadOptions::watching(
            std::sync::Arc::new(futures_collector::run::reload::LayeredSource::path(
                path.clone(),
            )),
            vec![path],
        );
        Self::launch_with(dir, config_text, None, Some(reload))
    }

    /// The config file the host was started with.
    pub fn config_path(dir: &Path) -> PathBuf {
        dir.join("collector.toml")
    }

    /// Replaces the config file the way editors save: write a temporary file, rename it over.
    pub fn write_config(dir: &Path, config_text: &str) {
        let tmp = dir.join(".collector.toml.tmp");
        std::fs::write(&tmp, config_text).expect("write config");
        std::fs::rename(&tmp, Self::config_path(dir)).expect("rename config");
    }

    fn launch(
        dir: &Path,
        config_text: &str,
        events: Option<tokio::sync::mpsc::UnboundedSender<futures_collector::plugins::PluginEvent>>,
    ) -> Self {
        Self::launch_with(dir, config_text, events, None)
    }

    fn launch_with(
        dir: &Path,
        config_text: &str,
        events: Option<tokio::sync::mpsc::UnboundedSender<futures_collector::plugins::PluginEvent>>,
        reload: Option<futures_collector::run::supervisor::ReloadOptions>,
    ) -> Self {
        let config_path = dir.join("collector.toml");
        std::fs::write(&config_path, config_text).expect("write config");
        let config = futures_collector::config::Config::load(&config_path).expect("valid config");
        let output = match &config.sink {
            futures_collector::config::SinkConfig::Jsonl { path, .. } => path.clone(),
            _ => dir.join("stdout"),
        };
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let health = futures_collector::observe::health::HealthTable::default();
        let telemetry = futures_collector::observe::telemetry::Telemetry::new(health.clone());
        let options = futures_collector::run::supervisor::RunOptions {
            plugin_events: events,
            telemetry: telemetry.clone(),
            reload,
            config_version: None,
        };
        let task = tokio::spawn(futures_collector::run::supervisor::run_with(
            config,
            options,
            async move {
                let _ = rx.await;
            },
        ));
        Self {
            output,
            health,
            telemetry,
            shutdown: Some(tx),
            task,
        }
    }

    pub fn records(&self) -> Vec<serde_json::Value> {
        read_records(&self.output)
    }

    pub async fn stop(mut self) -> futures_collector::run::supervisor::RunSummary {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        tokio::time::timeout(Duration::from_secs(30), self.task)
            .await
            .expect("host stops within 30 s")
            .expect("host task")
            .expect("host ran")
    }
}

/// Config text for a host writing to `dir/records.jsonl` with plugins from `plugin_dir`, with
/// one `[exchanges.<id>]` section per entry (`id`, base URL, extra TOML lines).
pub fn config_text(dir: &Path, plugin_dir: &Path, exchanges: &[(&str, String, &str)]) -> String {
    let mut text = format!(
        "[plugins]\ndir = {:?}\nsettle = \"100ms\"\n\n[sink]\ntype = \"jsonl\"\npath = {:?}\n\n[web]\nlisten = \"127.0.0.1:0\"\n\n[http]\ntimeout = \"2s\"\nretries = 1\nbackoff_base = \"50ms\"\nbackoff_cap = \"200ms\"\n",
        plugin_dir.display().to_string(),
        dir.join("records.jsonl").display().to_string()
    );
    for (id, base_url, extra) in exchanges {
        text.push_str(&format!(
            "\n[exchanges.{id}]\nbase_url = {base_url:?}\n{extra}\n"
        ));
    }
    text
}

/// The `futures-collector` binary of this build (`cargo build --workspace` puts it beside the
/// test binaries' folder).
pub fn host_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>");
    let bin = profile_dir.join(format!("futures-collector{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.is_file(),
        "{} not built (run `cargo build --workspace` first)",
        bin.display()
    );
    bin
}

/// The workspace's root directory.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_owned()
}

/// The `[dependencies]` of the workspace crate in `crate_dir` as a crate *outside* the
/// workspace must write them: each `workspace = true` entry replaced by the workspace's own
/// (`[workspace.dependencies]`, keeping the entry's extra `features`), every `path` absolute.
/// Follows the adapter's Cargo.toml, so a dependency added there needs no change here.
pub fn standalone_dependencies(crate_dir: &Path) -> toml::Table {
    let root = workspace_root();
    let read = |path: &Path| -> toml::Table {
        let text = std::fs::read_to_string(path).expect("read Cargo.toml");
        text.parse().expect("Cargo.toml is TOML")
    };
    let workspace = read(&root.join("Cargo.toml"));
    let shared = workspace["workspace"]["dependencies"]
        .as_table()
        .expect("[workspace.dependencies]")
        .clone();
    let manifest = read(&crate_dir.join("Cargo.toml"));
    let own = manifest["dependencies"].as_table().expect("[dependencies]");
    let mut resolved = toml::Table::new();
    for (name, spec) in own {
        let inherits = spec.get("workspace").and_then(toml::Value::as_bool) == Some(true);
        let source = if inherits {
            shared.get(name)
        } else {
            Some(spec)
        };
        let mut resolved_spec = match (inherits, source) {
            (true, Some(toml::Value::String(version))) => {
                let mut table = toml::Table::new();
                table.insert("version".into(), version.clone().into());
                table
            }
            (true, Some(toml::Value::Table(table))) => {
                let mut table = table.clone();
                if let Some(extra) = spec.get("features").and_then(toml::Value::as_array) {
                    let features = table
                        .entry("features")
                        .or_insert_with(|| toml::Value::Array(Vec::new()));
                    if let Some(list) = features.as_array_mut() {
                        list.extend(extra.iter().cloned());
                    }
                }
                table
            }
            (true, _) => panic!("{name} inherits from the workspace, which does not list it"),
            (false, Some(toml::Value::String(version))) => {
                let mut table = toml::Table::new();
                table.insert("version".into(), version.clone().into());
                table
            }
            (false, other) => other
                .and_then(toml::Value::as_table)
                .cloned()
                .expect("dependency table"),
        };
        let base = if inherits { &root } else { crate_dir };
        if let Some(toml::Value::String(path)) = resolved_spec.get("path") {
            let absolute = base.join(path).display().to_string();
            resolved_spec.insert("path".into(), absolute.into());
        }
        resolved.insert(name.clone(), resolved_spec.into());
    }
    resolved
}

/// A cdylib crate built outside the workspace: the `.rs` files of `src` (after `patch` has
/// edited the copies in the directory it is given), package `lib` with `-` for `_` at
/// `version`, `dependencies` as its `[dependencies]`. Built offline with the workspace's
/// Cargo.lock into the test's target directory, where every dependency is already built;
/// returns the built file.
pub fn build_out_of_tree_plugin(
    lib: &str,
    version: &str,
    src: &Path,
    dependencies: &toml::Table,
    patch: impl FnOnce(&Path),
) -> PathBuf {
    let dir = tempfile::tempdir().expect("temporary crate directory");
    let crate_dir = dir.path();
    let src_dir = crate_dir.join("src");
    std::fs::create_dir(&src_dir).expect("create src");
    for entry in std::fs::read_dir(src).expect("read the source directory") {
        let entry = entry.expect("directory entry");
        std::fs::copy(entry.path(), src_dir.join(entry.file_name())).expect("copy source");
    }
    patch(&src_dir);
    std::fs::copy(
        workspace_root().join("Cargo.lock"),
        crate_dir.join("Cargo.lock"),
    )
    .expect("copy Cargo.lock");
    let mut manifest = toml::Table::new();
    let mut package = toml::Table::new();
    package.insert("name".into(), lib.replace('_', "-").into());
    package.insert("version".into(), version.into());
    package.insert("edition".into(), "2021".into());
    package.insert("publish".into(), false.into());
    manifest.insert("package".into(), package.into());
    let mut lib_section = toml::Table::new();
    lib_section.insert("name".into(), lib.into());
    lib_section.insert(
        "crate-type".into(),
        vec![toml::Value::from("cdylib")].into(),
    );
    manifest.insert("lib".into(), lib_section.into());
    manifest.insert("dependencies".into(), dependencies.clone().into());
    // An empty workspace of its own: not a member of this one.
    manifest.insert("workspace".into(), toml::Table::new().into());
    std::fs::write(
        crate_dir.join("Cargo.toml"),
        toml::to_string(&manifest).expect("manifest as TOML"),
    )
    .expect("write Cargo.toml");
    // target/<profile>/deps/<test binary> → target/
    let exe = std::env::current_exe().expect("test binary path");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("profile directory")
        .to_owned();
    let target_dir = profile_dir.parent().expect("target directory").to_owned();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = std::process::Command::new(cargo)
        .args(["build", "--offline", "--lib", "--quiet"])
        .current_dir(crate_dir)
        .env("CARGO_TARGET_DIR", &target_dir)
        .output()
        .expect("run cargo");
    assert!(
        out.status.success(),
        "building {lib} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let so = target_dir.join("debug").join(format!(
        "{}{lib}.{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_EXTENSION
    ));
    assert!(so.is_file(), "{} not built", so.display());
    so
}
