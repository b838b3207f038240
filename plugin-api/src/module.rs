//! The root module every plugin exports, and the static description of a plugin (`PluginInfo`).
//! Changing a field here breaks every built plugin: append only, after `last_prefix_field`.

use abi_stable::{
    declare_root_module_statics,
    library::RootModule,
    sabi_types::VersionStrings,
    std_types::{RResult, RSlice, RStr, RString, RVec},
    StableAbi,
};

use crate::{Context, HttpRequest, HttpResponse, KeyValue, ParseOutput, PluginError, RecordKind};

/// The version of the ABI (the root module and every type that crosses it), which host and
/// plugin must share: a host loads a plugin whose interface has the same `0.y`, whatever
/// plugin-api *crate* version either was built from.
///
/// Bump it only when the ABI changes (a field added, removed, retyped or reordered in any type
/// reachable from [`ExchangePlugin`]), never for a change to code: the unit test
/// `abi_layout_is_pinned` fails until the bump and its pin update are made together. An entry
/// point appended to the root module bumps the patch number (an older host still loads the
/// newer plugins); any other change bumps the `0.y` (plugins of the old one are refused).
///
/// abi_stable also stamps every type's layout with the crate version it was compiled as and
/// refuses another `0.y`: `build.rs` compiles this crate as version `INTERFACE_VERSION` (it reads
/// the line below, keep it one literal), so the crate's own version is free.
pub const INTERFACE_VERSION: &str = "0.2.0";

/// The functions a plugin exports. Build it with [`crate::export_plugin!`], never by hand:
/// the macro wraps every entry point so a panic becomes a [`PluginError`].
#[repr(C)]
#[derive(StableAbi)]
#[sabi(kind(Prefix(prefix_ref = ExchangePluginRef)))]
#[sabi(missing_field(panic))]
pub struct ExchangePlugin {
    /// Static description: exchange id, versions, kinds, base URL, rate limits.
    pub info: extern "C" fn() -> RResult<PluginInfo, PluginError>,
    /// Requests for one collection cycle of `kind` (e.g. `instruments`, `tickers`, `funding`).
    pub build_requests:
        extern "C" fn(kind: RStr<'_>, ctx: &Context<'_>) -> RResult<RVec<HttpRequest>, PluginError>,
    /// Parses all responses of one round of `kind` together (a join across endpoints is the
    /// plugin's job). Returns records, follow-up requests (pagination) and classified errors.
    #[sabi(last_prefix_field)]
    pub parse: extern "C" fn(
        kind: RStr<'_>,
        responses: RSlice<'_, HttpResponse<'_>>,
        ctx: &Context<'_>,
    ) -> ParseOutput,
}

impl RootModule for ExchangePluginRef {
    declare_root_module_statics! {ExchangePluginRef}
    const BASE_NAME: &'static str = "futures_collector_plugin";
    const NAME: &'static str = "futures_collector_plugin";
    /// What abi_stable compares when it loads a plugin: the interface, not the crate version.
    const VERSION_STRINGS: VersionStrings = VersionStrings::new(INTERFACE_VERSION);
}

/// What a plugin is and what it can collect.
#[repr(C)]
#[derive(StableAbi, Debug, Clone, PartialEq)]
pub struct PluginInfo {
    /// Default exchange id (`binance`); the config key an operator enables.
    pub exchange_id: RString,
    /// Human-readable name (`Binance USDⓈ-M futures`).
    pub name: RString,
    /// The plugin's own version (its crate version).
    pub plugin_version: RString,
    /// The plugin-api version it was built against ([`INTERFACE_VERSION`]).
    pub interface_version: RString,
    /// Data kinds it can collect, in the order they should first run.
    pub kinds: RVec<KindSpec>,
    /// The real exchange's base URL (`https://fapi.binance.com`); config may override it.
    pub default_base_url: RString,
    /// The exchange's documented request limits (per IP); the host keeps a share of them.
    pub rate_limits: RVec<RateLimitRule>,
    /// Funding interval assumed when neither the exchange nor a previous cycle told one.
    pub default_funding_interval_hours: f64,
    /// Escape hatch for facts a later host may want; unknown keys are ignored. Keys the host
    /// reads: [`INFO_RETRY_AFTER_UNIT`].
    pub extra: RVec<KeyValue>,
}

/// `PluginInfo::extra` key: the unit of the exchange's `Retry-After` header on 429/418
/// answers, `s` (HTTP's seconds, the default) or `ms` (dYdX's indexer). The host reads the
/// header itself (a 429 never reaches `parse`), so only the plugin can tell it.
pub const INFO_RETRY_AFTER_UNIT: &str = "http.retry_after_unit";

/// One data kind a plugin can collect.
#[repr(C)]
#[derive(StableAbi, Debug, Clone, PartialEq)]
pub struct KindSpec {
    /// Name used in config `intervals` and passed back to `build_requests`/`parse`.
    pub name: RString,
    /// What it emits. `open_interest` emits partial `Ticker` records, for example.
    pub emits: RecordKind,
    /// Poll interval used when the config gives none, in milliseconds.
    pub default_interval_ms: u64,
    /// True when `build_requests`/`parse` need `Context::instruments` (contract sizes, symbols):
    /// the host runs `instruments` first and holds this kind until it has them.
    pub needs_instruments: bool,
    /// One line for `futures-collector plugins`.
    pub description: RString,
}

/// A documented exchange limit: at most `limit` weight units per `window_ms` for every request
/// whose path starts with `path_prefix` (empty: all requests).
#[repr(C)]
#[derive(StableAbi, Debug, Clone, PartialEq, Eq)]
pub struct RateLimitRule {
    pub path_prefix: RString,
    pub limit: u32,
    pub window_ms: u64,
}
