//! The `futures-collector` command line: `run`, `check-config`, `plugins`, `canary`, `schema`. Owns argument parsing,
//! signal handling and exit codes; everything else lives in the library.

use std::{path::PathBuf, process::ExitCode};

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use std::sync::Arc;

use futures_collector::{
    config::{self, Environment, LoadRequest},
    observe::telemetry::{self, LogFormat},
    plugins::{file_sha256, load_plugin_with, plugin_files, remove_private_directory, LoadPolicy},
    run::reload::LayeredSource,
    run::supervisor::{ReloadOptions, RunOptions},
};

/// Collects perpetual-futures tickers and funding rates from many exchanges through plugins.
#[derive(Parser)]
#[command(name = "futures-collector", version)]
struct Cli {
    /// Log format on stderr.
    #[arg(long, global = true, value_enum, default_value = "pretty")]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the collector.
    Run {
        /// Config directory (layers base ← profile ← local ← env) or one file (TOML, YAML or
        /// JSON). Relative paths inside a file resolve against its folder.
        #[arg(long, default_value = config::DEFAULT_CONFIG_PATH)]
        config: PathBuf,
        /// Profile (directory only): else FUTURES_COLLECTOR_PROFILE, else detected, else
        /// development. See docs/configuration.md.
        #[arg(long)]
        profile: Option<String>,
    },
    /// Validate a config and print the effective settings with secrets redacted; exit status 0
    /// when valid, 1 with every problem listed when not. Made for CI and canary checks.
    CheckConfig {
        /// Config directory or file, as for `run`.
        #[arg(long, default_value = config::DEFAULT_CONFIG_PATH)]
        config: PathBuf,
        /// Profile, as for `run`.
        #[arg(long)]
        profile: Option<String>,
        /// How to print the effective config.
        #[arg(long, value_enum, default_value = "toml")]
        format: OutputFormat,
    },
    /// Load every plugin file in a directory and print what each is (with its SHA-256, the
    /// value `[plugins.pins]` expects), or why it cannot load or is refused.
    Plugins {
        #[arg(long)]
        dir: PathBuf,
        /// Load files that fail the ownership/permission checks (as `[plugins]
        /// allow_insecure_permissions = true` does); each is still reported.
        #[arg(long)]
        allow_insecure_permissions: bool,
    },
    /// Show or decide a running collector's plugin canaries: a replaced plugin parses beside
    /// the running version and serves only once it agrees (docs/operations.md). Promote and
    /// reject need the web token ([web] token_env).
    Canary {
        #[arg(value_enum)]
        action: CanaryAction,
        /// Exchange id of the plugin (promote, reject).
        #[arg(required_if_eq_any = [("action", "promote"), ("action", "reject")])]
        exchange_id: Option<String>,
        /// Config directory or file of the running collector, as for `run` (its [web] listen
        /// and token_env are used).
        #[arg(long, default_value = config::DEFAULT_CONFIG_PATH)]
        config: PathBuf,
        /// Profile, as for `run`.
        #[arg(long)]
        profile: Option<String>,
        /// The collector's web address instead of the config's (`http://host:port`).
        #[arg(long)]
        url: Option<String>,
    },
    /// Measure collection speed, CPU and memory against the exchange emulator (concurrent vs
    /// sequential, and a scale mode). Build with `--release` first. See docs/benchmarks.md.
    Bench(BenchArgs),
    /// Print a JSON Schema.
    Schema {
        #[arg(value_enum)]
        which: SchemaKind,
    },
    /// Internal: map one plugin copy, run its initializers and `info()`, exit 0 (the probe load
    /// the collector runs before it maps a plugin itself; see plugins/probe.rs).
    #[command(name = "__probe-plugin", hide = true)]
    ProbePlugin { path: PathBuf },
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum CanaryAction {
    /// Print every canary: versions, progress per kind, divergent fields with examples.
    Status,
    /// Make the new version serve now, whatever its comparison says.
    Promote,
    /// Drop the new version; the running one keeps serving until the file changes again.
    Reject,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum OutputFormat {
    Toml,
    Json,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum SchemaKind {
    /// One output record (schemas/records.schema.json).
    Records,
    /// One AMQP batch message: an array of records (schemas/batch.schema.json).
    Batch,
    /// The config file (schemas/config.schema.json).
    Config,
}

/// glibc's malloc serves blocks above its mmap threshold with their own mappings, but raises
/// that threshold (up to 32 MiB) whenever such a block is freed; after the first cycles every
/// response body (tens to hundreds of KB) lives in the heap, which grows to a cycle's peak and
/// keeps it. Fixed at 256 KiB, big transient buffers go back to the system after each cycle:
/// peak RSS in the benchmark 33 → 27.5 MiB (docs/benchmarks.md, 2026-11). `MALLOC_MMAP_THRESHOLD_`
/// in the environment takes precedence.
const MALLOC_MMAP_THRESHOLD_BYTES: i32 = 256 * 1024;

/// Free memory at the top of a malloc heap beyond this goes back to the system. Fixing the mmap
/// threshold also fixes this at glibc's 128 KiB default, so every cycle's records and smaller
/// bodies were returned and faulted in again (1,830 page faults per cycle, 6–9 ms of system CPU).
/// 4 MiB keeps one cycle's working set: 480 faults per cycle, 4–5 ms of system CPU, pipeline CPU
/// −20%, peak RSS +2 MiB (docs/benchmarks.md, 2026-12-03).
/// `MALLOC_TRIM_THRESHOLD_` in the environment takes precedence.
const MALLOC_TRIM_THRESHOLD_BYTES: i32 = 4 * 1024 * 1024;

fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    for (variable, parameter, value) in [
        (
            "MALLOC_MMAP_THRESHOLD_",
            libc::M_MMAP_THRESHOLD,
            MALLOC_MMAP_THRESHOLD_BYTES,
        ),
        (
            "MALLOC_TRIM_THRESHOLD_",
            libc::M_TRIM_THRESHOLD,
            MALLOC_TRIM_THRESHOLD_BYTES,
        ),
    ] {
        if std::env::var_os(variable).is_none() {
            // SAFETY: mallopt only sets an allocator parameter; it runs first thing in main,
            // before any other thread exists, and a refused value leaves the default in place.
            unsafe {
                libc::mallopt(parameter, value);
            }
        }
    }
}

fn main() -> ExitCode {
    tune_allocator();
    let cli = Cli::parse();
    // Every plugin is first mapped in a probe process of this binary (a file whose mapping
    // crashes is refused instead of ending the collector).
    if let Ok(exe) = std::env::current_exe() {
        futures_collector::plugins::probe::enable_probe(exe);
    }
    match cli.command {
        Command::ProbePlugin { path } => {
            match futures_collector::plugins::probe::probe_in_this_process(&path) {
                Ok(exchange_id) => {
                    println!("{exchange_id}");
                    ExitCode::SUCCESS
                }
                Err(reason) => {
                    eprintln!("{reason}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Run { config, profile } => {
            telemetry::init(cli.log_format);
            let result = run(config, profile);
            remove_private_directory();
            match result {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    tracing::error!("{e:#}");
                    eprintln!("error: {e:#}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::CheckConfig {
            config,
            profile,
            format,
        } => check_config(config, profile, format),
        Command::Plugins {
            dir,
            allow_insecure_permissions,
        } => {
            let code = list_plugins(&dir, allow_insecure_permissions);
            remove_private_directory();
            code
        }
        Command::Canary {
            action,
            exchange_id,
            config,
            profile,
            url,
        } => exit_with(
            canary(action, exchange_id, config, profile, url).map(|text| print!("{text}")),
        ),
        Command::Bench(args) => {
            telemetry::init(cli.log_format);
            exit_with(bench(args))
        }
        Command::Schema { which } => {
            print!("{}", schema_text(which));
            ExitCode::SUCCESS
        }
    }
}

fn run(config_path: PathBuf, profile: Option<String>) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    // Before anything else: a SIGTERM during start-up is then a graceful stop, not the
    // default action (death with nothing flushed).
    let signals = {
        let _runtime = runtime.enter();
        ShutdownSignals::install()
    };
    let req = LoadRequest {
        path: config_path.clone(),
        profile,
    };
    let loaded = config::load(&req, &Environment::from_process())
        .map_err(|errors| anyhow::anyhow!("invalid config {}:\n{errors}", config_path.display()))?;
    for w in &loaded.warnings {
        tracing::warn!("config: {w}");
    }
    tracing::info!(
        profile = loaded.profile.as_deref().unwrap_or("-"),
        version = %loaded.version(),
        files = ?loaded.files,
        "config loaded"
    );
    runtime.block_on(async move {
        let options = RunOptions {
            config_version: Some(loaded.version()),
            reload: Some(ReloadOptions {
                triggers: Some(reload_signals()),
                ..ReloadOptions::watching(
                    Arc::new(LayeredSource { request: req }),
                    loaded.watch_paths,
                )
            }),
            ..RunOptions::default()
        };
        let summary =
            futures_collector::run::supervisor::run_with(loaded.config, options, signals.first())
                .await?;
        tracing::debug!(?summary, "run finished");
        Ok(())
    })
}

/// `check-config`: exit 0 and print the redacted effective config, or exit 1 listing every
/// problem (one per line: `file: key: message`).
fn check_config(path: PathBuf, profile: Option<String>, format: OutputFormat) -> ExitCode {
    let req = LoadRequest { path, profile };
    let loaded = match config::load(&req, &Environment::from_process()) {
        Ok(loaded) => loaded,
        Err(errors) => {
            eprintln!(
                "config {} is invalid ({} problem{}):",
                req.path.display(),
                errors.0.len(),
                if errors.0.len() == 1 { "" } else { "s" }
            );
            eprintln!("{errors}");
            return ExitCode::FAILURE;
        }
    };
    for w in &loaded.warnings {
        eprintln!("warning: {w}");
    }
    let view = strip_nulls(loaded.redacted());
    let text = match format {
        OutputFormat::Json => serde_json::to_string_pretty(&view).map_err(|e| e.to_string()),
        OutputFormat::Toml => toml::to_string(&view).map_err(|e| e.to_string()),
    };
    match text {
        Ok(text) => {
            // On stderr, so stdout stays a parseable TOML or JSON document.
            eprintln!(
                "valid: profile {}, files {}, version {}",
                loaded.profile.as_deref().unwrap_or("-"),
                loaded
                    .files
                    .iter()
                    .map(|f| f.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
                loaded.version()
            );
            println!("{}", text.trim_end());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: cannot print the config: {}", loaded.redact_text(&e));
            ExitCode::FAILURE
        }
    }
}

/// Exit 0, or print the error (with its causes) and exit 1.
fn exit_with(result: anyhow::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// The JSON Schema `schema` prints.
fn schema_text(which: SchemaKind) -> String {
    match which {
        SchemaKind::Records => futures_collector::output::message::records_schema_text(),
        SchemaKind::Batch => futures_collector::output::message::batch_schema_text(),
        SchemaKind::Config => futures_collector::config::config_schema_text(),
    }
}

/// `canary`: asks the running collector the config describes.
fn canary(
    action: CanaryAction,
    exchange_id: Option<String>,
    config_path: PathBuf,
    profile: Option<String>,
    url: Option<String>,
) -> anyhow::Result<String> {
    use futures_collector::observe::web::client;
    let req = LoadRequest {
        path: config_path.clone(),
        profile,
    };
    let loaded = config::load(&req, &Environment::from_process())
        .map_err(|errors| anyhow::anyhow!("invalid config {}:\n{errors}", config_path.display()))?;
    let web = &loaded.config.web;
    let base = match url {
        Some(url) => url.trim_end_matches('/').to_owned(),
        None => client::base_url(web)?,
    };
    let token = client::token(web);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        let decision = match action {
            CanaryAction::Status => {
                return Ok(client::canary_report(&base, token.as_deref()).await?)
            }
            CanaryAction::Promote => "promote",
            CanaryAction::Reject => "reject",
        };
        let exchange_id = exchange_id.context("an exchange id is needed")?;
        let token = token.ok_or_else(|| client::ClientError::NoToken {
            variable: web.token_env.clone(),
        })?;
        let done = client::decide(&base, &token, &exchange_id, decision).await?;
        Ok(format!("{done}\n"))
    })
}

/// Drops `null` values (unset optional keys): TOML has no null.
fn strip_nulls(v: serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match v {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k, strip_nulls(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(strip_nulls).collect()),
        other => other,
    }
}

/// `futures-collector bench`'s arguments.
#[derive(Debug, clap::Args)]
struct BenchArgs {
    /// Plugin directory (default: this binary's folder, e.g. target/release).
    #[arg(long)]
    plugins: Option<PathBuf>,
    /// The `exchange-emulator` binary (default: next to this binary).
    #[arg(long)]
    emulator: Option<PathBuf>,
    /// Emulated latency of every exchange, ms.
    #[arg(long, default_value_t = 100)]
    latency_ms: u64,
    /// Extra random latency, 0..=jitter ms.
    #[arg(long, default_value_t = 0)]
    jitter_ms: u64,
    /// Measured cycles per mode.
    #[arg(long, default_value_t = 20)]
    cycles: u32,
    /// Exchange-instance counts for the scale mode, e.g. `10,50,100` (empty: skip).
    #[arg(long, value_delimiter = ',')]
    scale: Vec<usize>,
    /// Exchanges measured, one instance each, e.g. `binance,okx`, or `all` (every shipped
    /// adapter).
    #[arg(long, value_delimiter = ',', default_value = "binance,bybit,okx")]
    exchanges: Vec<String>,
}

fn bench(args: BenchArgs) -> anyhow::Result<()> {
    let BenchArgs {
        plugins,
        emulator,
        latency_ms,
        jitter_ms,
        cycles,
        scale,
        exchanges,
    } = args;
    let exe_dir = std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(PathBuf::from))
        .context("cannot find this binary's folder")?;
    let opts = futures_collector::bench::BenchOptions {
        plugin_dir: plugins.unwrap_or_else(|| exe_dir.clone()),
        emulator: emulator.unwrap_or_else(|| {
            exe_dir.join(format!("exchange-emulator{}", std::env::consts::EXE_SUFFIX))
        }),
        latency_ms,
        jitter_ms,
        cycles: cycles.max(1),
        scale,
        exchanges: if exchanges.iter().any(|e| e == "all") {
            futures_collector::bench::EXCHANGE_UNIVERSES
                .iter()
                .map(|(id, _)| (*id).to_owned())
                .collect()
        } else {
            exchanges
        },
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(futures_collector::bench::run(opts))?;
    Ok(())
}

/// SIGHUP asks for a config reload (the files are watched too; this is for tools that expect
/// the signal, and for file systems where watching does not work).
fn reload_signals() -> tokio::sync::mpsc::UnboundedReceiver<()> {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::hangup()) {
            Ok(mut hup) => {
                tokio::spawn(async move {
                    while hup.recv().await.is_some() {
                        tracing::info!("SIGHUP: reloading the config");
                        if tx.send(()).is_err() {
                            return;
                        }
                    }
                });
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGHUP; config changes are picked up by watching the files only")
            }
        }
    }
    #[cfg(not(unix))]
    drop(tx);
    rx
}

/// SIGINT and SIGTERM, listened for from the moment [`ShutdownSignals::install`] runs (a
/// signal that comes before anyone waits is kept, not lost).
struct ShutdownSignals {
    #[cfg(unix)]
    terminate: Option<tokio::signal::unix::Signal>,
    #[cfg(unix)]
    interrupt: Option<tokio::signal::unix::Signal>,
}

impl ShutdownSignals {
    /// Registers the handlers; needs the runtime's context.
    fn install() -> Self {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            Self {
                terminate: signal(SignalKind::terminate()).ok(),
                interrupt: signal(SignalKind::interrupt()).ok(),
            }
        }
        #[cfg(not(unix))]
        Self {}
    }

    /// Waits for the next SIGINT or SIGTERM.
    async fn recv(&mut self) {
        #[cfg(unix)]
        {
            async fn next(signal: &mut Option<tokio::signal::unix::Signal>) {
                match signal {
                    Some(signal) => {
                        signal.recv().await;
                    }
                    None => std::future::pending().await,
                }
            }
            tokio::select! {
                _ = next(&mut self.terminate) => {}
                _ = next(&mut self.interrupt) => {}
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
    }

    /// Resolves on the first signal; a second one exits at once.
    async fn first(mut self) {
        self.recv().await;
        tokio::spawn(async move {
            self.recv().await;
            eprintln!("second signal: exiting without waiting");
            std::process::exit(130);
        });
    }
}

fn list_plugins(dir: &std::path::Path, allow_insecure_permissions: bool) -> ExitCode {
    let files = match plugin_files(dir) {
        Ok(files) => files,
        Err(e) => {
            eprintln!("error: cannot read plugin directory {}: {e}", dir.display());
            return ExitCode::FAILURE;
        }
    };
    if files.is_empty() {
        println!(
            "no plugin files (*.{}) in {}",
            futures_collector::plugins::PLUGIN_EXTENSION,
            dir.display()
        );
        return ExitCode::SUCCESS;
    }
    let policy = LoadPolicy {
        allow_insecure_permissions,
        ..LoadPolicy::default()
    };
    let mut failures = 0;
    let mut declared: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for file in files {
        let name = file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        // Hashing reads the file without loading it: safe even for a refused one.
        let sha256 = file_sha256(&file, true)
            .map(|digest| format!("sha256={digest}"))
            .unwrap_or_else(|e| format!("sha256 unavailable: {e}"));
        match load_plugin_with(&file, &policy) {
            Ok(plugin) => {
                for warning in &plugin.warnings {
                    eprintln!("warning: {warning}");
                }
                declared
                    .entry(plugin.exchange_id().to_owned())
                    .or_default()
                    .push(name.clone());
                let info = &plugin.info;
                let kinds: Vec<String> = info
                    .kinds
                    .iter()
                    .map(|k| format!("{}/{}ms", k.name, k.default_interval_ms))
                    .collect();
                println!(
                    "{name}: exchange={} version={} interface={} kinds=[{}] base_url={} {}",
                    info.exchange_id,
                    info.plugin_version,
                    info.interface_version,
                    kinds.join(", "),
                    info.default_base_url,
                    sha256
                );
            }
            Err(e) => {
                failures += 1;
                println!("{name}: ERROR {e} ({sha256})");
            }
        }
    }
    for (id, names) in declared.iter().filter(|(_, names)| names.len() > 1) {
        failures += 1;
        println!(
            "ERROR exchange id {id} is declared by {}: a running collector refuses all but the file already serving it; at start-up it refuses them all",
            names.join(", ")
        );
    }
    if failures > 0 {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    }
}
