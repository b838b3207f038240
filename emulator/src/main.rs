//! `exchange-emulator` CLI: serves the emulated exchanges on a loopback port until Ctrl-C.
//!
//! Owns: argument parsing, logging setup, printing the base URLs.
//! Must not: contain emulator logic (everything lives in the library).

use std::net::SocketAddr;

use clap::Parser;
use exchange_emulator::{
    config::DEFAULT_CLI_JITTER_MS, EmulatorConfig, ExchangeKind, InstanceConfig,
};
use tracing_subscriber::EnvFilter;

/// Emulates the Binance USDⓈ-M, Bybit v5 and OKX v5 public REST APIs on a local port.
///
/// Admin API: POST/GET/DELETE /_admin/faults, GET /_admin/stats, POST /_admin/reset-stats,
/// GET /_admin/instances. Logs: RUST_LOG=debug shows every request.
#[derive(Debug, Parser)]
#[command(name = "exchange-emulator", version)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8900")]
    listen: SocketAddr,
    /// An instance: NAME=TYPE[:UNIVERSE[:LATENCY_MS[:JITTER_MS]]] (TYPE: binance | bybit | okx).
    /// Repeatable. Default: binance, bybit and okx with default universes and latencies
    /// (120/100/80 ms, jitter 20 ms).
    #[arg(long = "instance", value_name = "SPEC")]
    instances: Vec<String>,
    /// N copies of each instance, named NAME-1..NAME-N (scale benchmarks).
    #[arg(long, value_name = "N")]
    copies: Option<usize>,
    /// Make every OKX instance refuse `funding-rate?instId=ANY` (code 51000).
    #[arg(long)]
    okx_refuse_any: bool,
}

fn build_config(args: &Args) -> anyhow::Result<EmulatorConfig> {
    let mut base: Vec<InstanceConfig> = if args.instances.is_empty() {
        ExchangeKind::ALL
            .iter()
            .map(|k| {
                let mut c = InstanceConfig::new(k.as_str(), *k);
                c.latency_ms = k.default_cli_latency_ms();
                c.latency_jitter_ms = DEFAULT_CLI_JITTER_MS;
                c
            })
            .collect()
    } else {
        args.instances
            .iter()
            .map(|s| InstanceConfig::parse_cli_spec(s))
            .collect::<anyhow::Result<_>>()?
    };
    if let Some(n) = args.copies {
        anyhow::ensure!(n >= 1, "--copies must be at least 1");
        base = base
            .iter()
            .flat_map(|c| {
                (1..=n).map(move |i| {
                    let mut copy = c.clone();
                    copy.name = format!("{}-{i}", c.name);
                    copy.seed = exchange_emulator::config::seed_from_name(&copy.name);
                    copy
                })
            })
            .collect();
    }
    for c in &mut base {
        c.okx_refuse_any |= args.okx_refuse_any && c.exchange == ExchangeKind::Okx;
    }
    let config = EmulatorConfig { instances: base };
    config.validate()?;
    Ok(config)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();
    let args = Args::parse();
    let config = build_config(&args)?;
    let emulator = exchange_emulator::spawn(config, args.listen).await?;
    println!("exchange-emulator listening on http://{}", emulator.addr());
    for inst in emulator.instances() {
        println!(
            "  {:<12} {:<8} universe {:>5}  latency {}±{} ms  {}",
            inst.name,
            inst.exchange.as_str(),
            inst.universe,
            inst.latency_ms,
            inst.latency_jitter_ms,
            emulator.base_url(&inst.name)
        );
    }
    println!("  admin: http://{}/_admin/instances", emulator.addr());
    tokio::signal::ctrl_c().await?;
    tracing::info!("shutting down");
    emulator.shutdown().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_multiply_every_instance() {
        let args = Args::parse_from(["x", "--copies", "3"]);
        let cfg = build_config(&args).unwrap();
        assert_eq!(cfg.instances.len(), 3 * ExchangeKind::ALL.len());
        assert_eq!(cfg.instances[0].name, "binance-1");
        assert_eq!(cfg.instances[0].latency_ms, 120);
        assert_eq!(cfg.instances[8].name, "okx-3");
        let args = Args::parse_from(["x", "--instance", "a=okx:10:0:0", "--okx-refuse-any"]);
        let cfg = build_config(&args).unwrap();
        assert_eq!(cfg.instances.len(), 1);
        assert!(cfg.instances[0].okx_refuse_any);
    }
}
