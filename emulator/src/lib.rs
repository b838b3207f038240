//! Exchange emulator for futures-collector: a loopback HTTP server that answers the real REST
//! paths of Binance USDⓈ-M, Bybit v5 (linear) and OKX v5 (SWAP) with realistic, time-varying
//! payloads, per-instance latency, and faults injected at runtime.
//!
//! Owns: the public library API (`spawn`, `EmulatorHandle`, configuration, `FaultSpec`, `Stats`).
//! Must not: reach any real exchange, or depend on the collector's crates.
//!
//! # Layout
//! Every instance is mounted under `/<name>`: `spawn(...).base_url("binance")` is
//! `http://127.0.0.1:PORT/binance`, and the collector appends the exchange's own paths to it.
//! The admin API lives under `/_admin` (see [`admin`]).
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! use exchange_emulator::{spawn, EmulatorConfig, Fault, FaultSpec};
//! let emu = spawn(EmulatorConfig::default_three(), "127.0.0.1:0".parse()?).await?;
//! let url = format!("{}/fapi/v1/premiumIndex", emu.base_url("binance"));
//! emu.inject(FaultSpec::new("okx", Fault::Status { status: 503, body: None }).times(2));
//! let hits = emu.stats().count("binance", "/fapi/v1/premiumIndex");
//! emu.shutdown().await;
//! # let _ = (url, hits); Ok(()) }
//! ```
//!
//! # Endpoints
//! - binance: `/fapi/v1/exchangeInfo`, `/fapi/v1/ticker/24hr`, `/fapi/v1/ticker/bookTicker`,
//!   `/fapi/v1/premiumIndex` (those three: `symbol=` gives one object), `/fapi/v1/fundingInfo`,
//!   `/fapi/v1/openInterest?symbol=`, `/fapi/v1/ping`, `/fapi/v1/time`.
//! - bybit: `/v5/market/instruments-info` (cursor paginated), `/v5/market/tickers`,
//!   `/v5/market/time`; `category=linear` only.
//! - okx: `/api/v5/public/instruments`, `/api/v5/market/tickers`, `/api/v5/public/mark-price`,
//!   `/api/v5/public/open-interest` (all `instType=SWAP`, optional `instId=`),
//!   `/api/v5/market/index-tickers`, `/api/v5/public/funding-rate?instId=ANY|<id>`,
//!   `/api/v5/public/time`.
//! - kucoinfutures: `/api/v1/contracts/active`, `/api/v1/allTickers`, `/api/v1/timestamp`.
//! - htx: `/linear-swap-api/v1/swap_contract_info`, `/v2/linear-swap-ex/market/detail/batch_merged`,
//!   `/linear-swap-api/v1/swap_open_interest`, `/linear-swap-api/v1/swap_batch_funding_rate`
//!   (optional `business_type=` / `contract_code=`), `/v5/market/funding_rate?contract_code=`.
//! - bitmex: `/api/v1/instrument/active` (a bare array; money fields in `XBt`/`USDt` minor units).
//! - krakenfutures: `/derivatives/api/v3/instruments`, `/derivatives/api/v3/tickers` (absolute
//!   hourly funding per contract).
//! - deribit: `/api/v2/public/get_instruments`, `/api/v2/public/get_book_summary_by_currency`
//!   (both `currency=` required, optional `kind=future`), `/api/v2/public/get_time`.
//! - dydx: `/v4/perpetualMarkets` (optional `ticker=`/`market=`, `limit=`), `/v4/height`,
//!   `/v4/time`.
//! - bingx: `/openApi/swap/v2/quote/contracts`, `/openApi/swap/v2/quote/ticker`,
//!   `/openApi/swap/v2/quote/premiumIndex` (those two: `symbol=` gives one object),
//!   `/openApi/swap/v2/quote/openInterest?symbol=` (per symbol only), `/openApi/swap/v2/server/time`.
//!
//! # Data
//! Deterministic per instance seed; prices follow a value-noise random walk of wall-clock
//! seconds, and each instrument changes on ~30% of the seconds (see [`market`]). The
//! instruments endpoints list `universe` instruments (a few dated quarterlies on Binance/Bybit,
//! USDC swaps, OKX inverse swaps, a few non-trading ones); ticker/price endpoints list only the
//! trading ones.

pub mod admin;
pub mod config;
pub mod exchanges;
pub mod faults;
pub mod json;
pub mod market;
mod server;
pub mod stats;

pub use config::{EmulatorConfig, ExchangeKind, InstanceConfig};
pub use faults::{ActiveFault, Fault, FaultSpec, ResetMode};
pub use server::{spawn, EmulatorHandle};
pub use stats::{InstanceStats, RequestRecord, Stats};
