//! What the emulator serves: the list of exchange instances with their type, universe size,
//! latency and seed, plus the `NAME=TYPE[:UNIVERSE[:LATENCY_MS[:JITTER_MS]]]` spec the CLI uses.
//!
//! Owns: configuration types, defaults and validation.
//! Must not: start anything or generate market data (see `server` and `market`).

use std::{collections::HashSet, fmt, str::FromStr};

use serde::{Deserialize, Serialize};

/// Which exchange's REST API an instance speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExchangeKind {
    /// Binance USDⓈ-M futures (`/fapi/v1/...`).
    Binance,
    /// Bybit v5, category `linear` (`/v5/market/...`).
    Bybit,
    /// OKX v5, instType `SWAP` (`/api/v5/...`).
    Okx,
    /// Bitget v2 mix, productType `USDT-FUTURES`/`USDC-FUTURES` (`/api/v2/mix/market/...`).
    Bitget,
    /// Gate APIv4 futures, settle `usdt` (`/futures/usdt/...`).
    Gate,
    /// Hyperliquid perps (`POST /info` with a JSON body).
    Hyperliquid,
    /// MEXC futures, the contract API (`/api/v1/contract/...`).
    Mexc,
    /// KuCoin Futures (`/api/v1/contracts/active`, `/api/v1/allTickers`).
    KucoinFutures,
    /// HTX USDT-margined swaps (`/linear-swap-api/v1/...`, `/v2/linear-swap-ex/...`, `/v5/market/...`).
    Htx,
    /// BitMEX (`/api/v1/instrument/active`).
    Bitmex,
    /// Kraken Futures (`/derivatives/api/v3/instruments`, `/derivatives/api/v3/tickers`).
    KrakenFutures,
    /// Deribit perpetuals (`/api/v2/public/...`, JSON-RPC over GET, per currency).
    Deribit,
    /// dYdX v4 indexer (`/v4/perpetualMarkets`, `/v4/height`).
    Dydx,
    /// BingX perpetual swaps, v2 USDT-M (`/openApi/swap/v2/quote/...`).
    Bingx,
}

impl ExchangeKind {
    /// All kinds, in the order the CLI creates them.
    pub const ALL: [ExchangeKind; 14] = [
        ExchangeKind::Binance,
        ExchangeKind::Bybit,
        ExchangeKind::Okx,
        ExchangeKind::Bitget,
        ExchangeKind::Gate,
        ExchangeKind::Hyperliquid,
        ExchangeKind::Mexc,
        ExchangeKind::KucoinFutures,
        ExchangeKind::Htx,
        ExchangeKind::Bitmex,
        ExchangeKind::KrakenFutures,
        ExchangeKind::Deribit,
        ExchangeKind::Dydx,
        ExchangeKind::Bingx,
    ];

    /// Lower-case name (`binance`, `bybit`, `okx`).
    pub fn as_str(self) -> &'static str {
        match self {
            ExchangeKind::Binance => "binance",
            ExchangeKind::Bybit => "bybit",
            ExchangeKind::Okx => "okx",
            ExchangeKind::Bitget => "bitget",
            ExchangeKind::Gate => "gate",
            ExchangeKind::Hyperliquid => "hyperliquid",
            ExchangeKind::Mexc => "mexc",
            ExchangeKind::KucoinFutures => "kucoinfutures",
            ExchangeKind::Htx => "htx",
            ExchangeKind::Bitmex => "bitmex",
            ExchangeKind::KrakenFutures => "krakenfutures",
            ExchangeKind::Deribit => "deribit",
            ExchangeKind::Dydx => "dydx",
            ExchangeKind::Bingx => "bingx",
        }
    }

    /// Default universe size (instruments listed, dated/inverse ones included).
    pub fn default_universe(self) -> usize {
        match self {
            ExchangeKind::Binance => 650,
            ExchangeKind::Bybit => 550,
            ExchangeKind::Okx => 300,
            ExchangeKind::Bitget => 450,
            ExchangeKind::Gate => 500,
            ExchangeKind::Hyperliquid => 230,
            ExchangeKind::Mexc => 400,
            ExchangeKind::KucoinFutures => 400,
            ExchangeKind::Htx => 250,
            ExchangeKind::Bitmex => 220,
            ExchangeKind::KrakenFutures => 280,
            ExchangeKind::Deribit => crate::exchanges::deribit::DEFAULT_UNIVERSE,
            ExchangeKind::Dydx => crate::exchanges::dydx::DEFAULT_UNIVERSE,
            ExchangeKind::Bingx => 300,
        }
    }

    /// Default base latency of the CLI (the library defaults to none).
    pub fn default_cli_latency_ms(self) -> u64 {
        match self {
            ExchangeKind::Binance => 120,
            ExchangeKind::Bybit => 100,
            ExchangeKind::Okx => 80,
            ExchangeKind::Bitget => 90,
            ExchangeKind::Gate => 110,
            ExchangeKind::Hyperliquid => 90,
            ExchangeKind::Mexc => 110,
            ExchangeKind::KucoinFutures => 90,
            ExchangeKind::Htx => 110,
            ExchangeKind::Bitmex => 120,
            ExchangeKind::KrakenFutures => 100,
            ExchangeKind::Deribit => 100,
            ExchangeKind::Dydx => 120,
            ExchangeKind::Bingx => 100,
        }
    }
}

impl fmt::Display for ExchangeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ExchangeKind {
    type Err = anyhow::Error;

    fn from_str(s: &str) -> anyhow::Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "binance" | "binanceusdm" => Ok(ExchangeKind::Binance),
            "bybit" => Ok(ExchangeKind::Bybit),
            "okx" => Ok(ExchangeKind::Okx),
            "bitget" => Ok(ExchangeKind::Bitget),
            "gate" | "gateio" => Ok(ExchangeKind::Gate),
            "kucoinfutures" | "kucoin" => Ok(ExchangeKind::KucoinFutures),
            "hyperliquid" => Ok(ExchangeKind::Hyperliquid),
            "mexc" => Ok(ExchangeKind::Mexc),
            "htx" | "huobi" => Ok(ExchangeKind::Htx),
            "bitmex" => Ok(ExchangeKind::Bitmex),
            "krakenfutures" => Ok(ExchangeKind::KrakenFutures),
            "deribit" => Ok(ExchangeKind::Deribit),
            "dydx" => Ok(ExchangeKind::Dydx),
            "bingx" => Ok(ExchangeKind::Bingx),
            other => anyhow::bail!(
                "unknown exchange type {other:?} (binance | bybit | okx | bitget | gate | hyperliquid | mexc | kucoinfutures | htx | bitmex | krakenfutures | deribit | dydx | bingx)"
            ),
        }
    }
}

/// One emulated exchange, mounted under `/<name>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceConfig {
    /// Path prefix and key in stats/faults: `[A-Za-z0-9._-]+`, not starting with `_`.
    pub name: String,
    pub exchange: ExchangeKind,
    /// Number of instruments listed by the instruments endpoint (at least 1).
    pub universe: usize,
    /// Time from a request's arrival to its answer; the body is built meanwhile, so the
    /// emulator's own work is part of it (as an exchange's is), not added to it.
    pub latency_ms: u64,
    /// Uniform random extra delay in `0..=latency_jitter_ms`.
    pub latency_jitter_ms: u64,
    /// Drives everything generated for the instance (universe details, per-symbol changes).
    pub seed: u64,
    /// OKX only: `funding-rate?instId=ANY` answers `51000 Parameter instId error`.
    pub okx_refuse_any: bool,
}

impl InstanceConfig {
    /// An instance with the exchange's default universe, no latency, and a seed derived from the
    /// name.
    pub fn new(name: &str, exchange: ExchangeKind) -> Self {
        InstanceConfig {
            name: name.to_string(),
            exchange,
            universe: exchange.default_universe(),
            latency_ms: 0,
            latency_jitter_ms: 0,
            seed: seed_from_name(name),
            okx_refuse_any: false,
        }
    }

    /// Parses `NAME=TYPE[:UNIVERSE[:LATENCY_MS[:JITTER_MS]]]`; omitted parts take the CLI
    /// defaults (the type's default universe and latency, jitter 20 ms).
    pub fn parse_cli_spec(spec: &str) -> anyhow::Result<Self> {
        let (name, rest) = spec.split_once('=').ok_or_else(|| {
            anyhow::anyhow!(
                "instance spec {spec:?}: expected NAME=TYPE[:UNIVERSE[:LATENCY_MS[:JITTER_MS]]]"
            )
        })?;
        let mut parts = rest.split(':');
        let exchange: ExchangeKind = parts.next().unwrap_or_default().parse()?;
        let mut cfg = InstanceConfig::new(name, exchange);
        cfg.latency_ms = exchange.default_cli_latency_ms();
        cfg.latency_jitter_ms = DEFAULT_CLI_JITTER_MS;
        let mut num = |what: &str| -> anyhow::Result<Option<u64>> {
            match parts.next() {
                None | Some("") => Ok(None),
                Some(v) => v
                    .parse::<u64>()
                    .map(Some)
                    .map_err(|e| anyhow::anyhow!("instance spec {spec:?}: bad {what} {v:?}: {e}")),
            }
        };
        if let Some(u) = num("universe")? {
            cfg.universe = usize::try_from(u)?;
        }
        if let Some(l) = num("latency")? {
            cfg.latency_ms = l;
        }
        if let Some(j) = num("jitter")? {
            cfg.latency_jitter_ms = j;
        }
        if parts.next().is_some() {
            anyhow::bail!("instance spec {spec:?}: too many ':' parts");
        }
        cfg.validate()?;
        Ok(cfg)
    }

    fn validate(&self) -> anyhow::Result<()> {
        let ok_name = !self.name.is_empty()
            && !self.name.starts_with('_')
            && self
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
        anyhow::ensure!(
            ok_name,
            "instance name {:?}: use [A-Za-z0-9._-], not starting with '_'",
            self.name
        );
        anyhow::ensure!(
            self.universe >= 1,
            "instance {}: universe must be at least 1",
            self.name
        );
        anyhow::ensure!(
            self.universe <= 20_000,
            "instance {}: universe {} is over 20000",
            self.name,
            self.universe
        );
        Ok(())
    }
}

/// Jitter the CLI adds to every instance unless told otherwise.
pub const DEFAULT_CLI_JITTER_MS: u64 = 20;

/// The whole emulator: every instance it serves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmulatorConfig {
    pub instances: Vec<InstanceConfig>,
}

impl EmulatorConfig {
    /// `binance`, `bybit` and `okx` with the default universes (650/550/300) and no latency.
    pub fn default_three() -> Self {
        EmulatorConfig {
            instances: ExchangeKind::ALL
                .iter()
                .map(|k| InstanceConfig::new(k.as_str(), *k))
                .collect(),
        }
    }

    /// Checks names (valid, unique) and sizes.
    pub fn validate(&self) -> anyhow::Result<()> {
        anyhow::ensure!(!self.instances.is_empty(), "no instances configured");
        let mut seen = HashSet::new();
        for inst in &self.instances {
            inst.validate()?;
            anyhow::ensure!(
                seen.insert(inst.name.as_str()),
                "duplicate instance name {:?}",
                inst.name
            );
        }
        Ok(())
    }
}

/// A stable seed from an instance name (FNV-1a), so `binance-7` always gets the same universe.
pub fn seed_from_name(name: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_spec_parses_with_defaults() {
        let c = InstanceConfig::parse_cli_spec("b1=binance").unwrap();
        assert_eq!(
            (c.universe, c.latency_ms, c.latency_jitter_ms),
            (650, 120, 20)
        );
        let c = InstanceConfig::parse_cli_spec("o=okx:40:5:0").unwrap();
        assert_eq!(
            (c.exchange, c.universe, c.latency_ms, c.latency_jitter_ms),
            (ExchangeKind::Okx, 40, 5, 0)
        );
        let c = InstanceConfig::parse_cli_spec("y=bybit::7").unwrap();
        assert_eq!((c.universe, c.latency_ms), (550, 7));
        assert!(InstanceConfig::parse_cli_spec("x=kraken").is_err());
        assert!(InstanceConfig::parse_cli_spec("binance").is_err());
        assert!(InstanceConfig::parse_cli_spec("_admin=okx").is_err());
        assert!(InstanceConfig::parse_cli_spec("a=okx:0").is_err());
        assert!(InstanceConfig::parse_cli_spec("a=okx:1:2:3:4").is_err());
    }

    #[test]
    fn duplicate_names_are_rejected() {
        let mut c = EmulatorConfig::default_three();
        c.instances
            .push(InstanceConfig::new("okx", ExchangeKind::Okx));
        assert!(c.validate().is_err());
        assert!(EmulatorConfig::default_three().validate().is_ok());
    }
}
