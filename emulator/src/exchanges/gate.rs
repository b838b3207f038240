//! Gate APIv4 public futures REST for the USDT settle: `/futures/usdt/contracts` (instruments
//! and funding state), `/futures/usdt/contracts/{contract}` and `/futures/usdt/tickers`, with
//! Gate's wire habits: bare JSON arrays (no envelope), prices and rates as strings, times and
//! `funding_interval` as integer **seconds**, sizes in **contracts** (`quanto_multiplier` base
//! units each) as JSON integers, or decimal strings on contracts with `enable_decimal`. Paths
//! are answered with or without the `/api/v4` prefix of the real base URL.
//!
//! Also the universe of a Gate instance ([`compose`]): USDT perpetuals `BTC_USDT` with
//! multipliers from 0.0001 (BTC) to 10^7 (tiny coins), 1 h / 4 h / 8 h funding, a few pre-market
//! (`is_pre_market`) and delisting (`in_delisting`) contracts. Gate lists dated futures under a
//! separate `/delivery` API, so none are mixed in here.
//!
//! Owns: the wire format of these endpoints, Gate's error body (`{"label","message"}` under a
//! non-2xx status) and labels, the composition.
//! Must not: invent values (they come from `market`) or apply faults.

use super::{error_envelope, ApiResponse, Query, Venue};
use crate::{
    config::{ExchangeKind, InstanceConfig},
    json,
    market::{apply_statuses, coins, make, round_to, Contract, Instrument, Spec, Status},
};

/// Gate's rate-limit answer: HTTP 429, label `TOO_MANY_REQUESTS`.
pub const RATE_LIMITED: i64 = 429;
const INVALID_PARAM: i64 = 400;
const NOT_FOUND: i64 = 404;
const SERVER_ERROR: i64 = 500;

/// The real base URL's path (`https://api.gateio.ws/api/v4`), accepted as a prefix.
const API_PREFIX: &str = "/api/v4";
const SETTLE: &str = "usdt";
/// Other settle currencies Gate has (BTC-settled inverse): answered with an empty list.
const OTHER_SETTLES: [&str; 1] = ["btc"];
/// Seconds per hour, for `funding_interval`.
const SECONDS_PER_HOUR: u64 = 3_600;

/// The universe of a Gate instance: USDT perpetuals only.
pub fn compose(cfg: &InstanceConfig, now_ms: u64) -> Vec<Instrument> {
    let mut out: Vec<Instrument> = coins(cfg.universe)
        .into_iter()
        .enumerate()
        .map(|(code, coin)| {
            let mut inst = make(Spec {
                cfg,
                symbol: format!("{}_USDT", coin.name),
                base: coin.name.clone(),
                quote: "USDT",
                contract: Contract::Perpetual,
                mult: 1.0,
                code: code as u64,
                coin,
            });
            inst.ct_val = quanto_multiplier(&inst);
            inst
        })
        .collect();
    apply_statuses(&mut out, now_ms, 100, 50, Some(90));
    out
}

/// Base units per contract, as Gate sets them: BTC 0.0001, ETH 0.01, else a power of ten that
/// makes one contract worth about 1–100 USD (10^7 for the tiniest coins).
fn quanto_multiplier(inst: &Instrument) -> f64 {
    match inst.rank {
        0 => 0.0001,
        1 => 0.01,
        _ => {
            let target = [1.0, 10.0, 100.0][(inst.h % 3) as usize];
            let exp = (target / inst.level).log10().round().clamp(-4.0, 7.0);
            10f64.powf(exp)
        }
    }
}

/// Whether a contract takes decimal sizes (`enable_decimal`): sizes are then decimal strings.
fn decimal_sizes(inst: &Instrument) -> bool {
    inst.h.is_multiple_of(4)
}

/// Decimals of a multiplier written as Gate does (`"0.0001"`, `"10"`).
fn multiplier_places(m: f64) -> u32 {
    if m >= 1.0 {
        0
    } else {
        (-m.log10()).round().max(0.0) as u32
    }
}

/// Answers `path`, or `None` when Gate has no such endpoint here.
pub fn respond(venue: &Venue, path: &str, query: &Query, now_ms: u64) -> Option<ApiResponse> {
    let path = path.strip_prefix(API_PREFIX).unwrap_or(path);
    let rest = path.strip_prefix("/futures/")?;
    let (settle, endpoint) = rest.split_once('/')?;
    if settle != SETTLE {
        return Some(if OTHER_SETTLES.contains(&settle) {
            ApiResponse::json(200, "[]".to_string())
        } else {
            error(INVALID_PARAM, "invalid settle currency", now_ms)
        });
    }
    let contract = query.non_empty("contract");
    Some(match endpoint {
        "contracts" => list(venue, false, |o, i| contract_row(o, i, now_ms)),
        "tickers" => match contract {
            Some(name) => match venue.universe.get(name).filter(|i| i.is_trading()) {
                Some(inst) => rows_body(&[inst], |o, i| ticker_row(o, i, now_ms)),
                None => error(NOT_FOUND, "", now_ms),
            },
            None => list(venue, true, |o, i| ticker_row(o, i, now_ms)),
        },
        one => match one.strip_prefix("contracts/") {
            Some(name) => match venue.universe.get(name) {
                Some(inst) => {
                    let mut b = String::with_capacity(1_200);
                    json::object(&mut b, |o| contract_row(o, inst, now_ms));
                    ApiResponse::json(200, b)
                }
                None => error(NOT_FOUND, "", now_ms),
            },
            None => return None,
        },
    })
}

/// Every listed contract (`trading_only`: only those with a market).
fn list(
    venue: &Venue,
    trading_only: bool,
    row: impl FnMut(&mut json::Obj<'_>, &Instrument),
) -> ApiResponse {
    let rows: Vec<&Instrument> = venue
        .universe
        .instruments
        .iter()
        .filter(|i| !trading_only || i.is_trading())
        .collect();
    rows_body(&rows, row)
}

fn rows_body(
    rows: &[&Instrument],
    mut row: impl FnMut(&mut json::Obj<'_>, &Instrument),
) -> ApiResponse {
    let mut b = String::with_capacity(256 + 1_200 * rows.len());
    json::array(&mut b, |a| {
        for inst in rows {
            a.obj(|o| row(o, inst));
        }
    });
    ApiResponse::json(200, b)
}

/// A Gate error answer: the status `code` names (400, 404, 429, 500), `{"label","message"}`.
pub fn error(code: i64, msg: &str, now_ms: u64) -> ApiResponse {
    let msg = if msg.is_empty() {
        default_error_msg(code)
    } else {
        msg
    };
    ApiResponse::json(
        status_of(code),
        error_envelope(ExchangeKind::Gate, code, msg, now_ms),
    )
}

/// The HTTP status of an error `code` (Gate's errors are statuses with a label).
pub fn status_of(code: i64) -> u16 {
    u16::try_from(code)
        .ok()
        .filter(|s| (400..=599).contains(s))
        .unwrap_or(400)
}

/// Gate's label for an error `code`.
pub fn label_of(code: i64) -> &'static str {
    match code {
        RATE_LIMITED => "TOO_MANY_REQUESTS",
        NOT_FOUND => "CONTRACT_NOT_FOUND",
        INVALID_PARAM => "INVALID_PARAM_VALUE",
        c if c >= SERVER_ERROR => "SERVER_ERROR",
        _ => "INVALID_PARAM_VALUE",
    }
}

/// Gate's error body: `{"label":"TOO_MANY_REQUESTS","message":"…"}`.
pub fn error_body(b: &mut String, code: i64, msg: &str) {
    json::object(b, |o| {
        o.str("label", label_of(code)).str("message", msg);
    });
}

/// The message Gate sends with `code`.
pub fn default_error_msg(code: i64) -> &'static str {
    match code {
        RATE_LIMITED => "Request Rate limit Exceeded",
        NOT_FOUND => "contract not found",
        c if c >= SERVER_ERROR => "Internal server error",
        _ => "invalid argument",
    }
}

fn size(o: &mut json::Obj<'_>, key: &str, inst: &Instrument, contracts: f64) {
    if decimal_sizes(inst) {
        o.dec_trim(key, contracts, 1);
    } else {
        o.int(key, contracts.round() as i64);
    }
}

/// The open interest in contracts as served (rounded as Gate's sizes are).
fn oi_contracts(inst: &Instrument, oi_base: f64) -> f64 {
    let contracts = oi_base / inst.ct_val;
    if decimal_sizes(inst) {
        round_to(contracts, 1)
    } else {
        contracts.round()
    }
}

fn contract_row(o: &mut json::Obj<'_>, inst: &Instrument, now_ms: u64) {
    let s = inst.snapshot(now_ms);
    let pd = inst.price_dp;
    let m = inst.ct_val;
    let (status, pre_market, delisting) = match inst.status {
        Status::Trading => ("trading", false, false),
        Status::PreLaunch => ("prelaunch", true, false),
        Status::Settling => ("delisting", false, true),
    };
    o.str("name", &inst.symbol)
        .str("type", "direct")
        .dec_trim("quanto_multiplier", m, multiplier_places(m))
        .str("ref_discount_rate", "0")
        .str("order_price_deviate", "0.5")
        .str("maintenance_rate", "0.005")
        .str("mark_type", "index")
        .dec("last_price", s.last, pd)
        .dec("mark_price", s.mark, pd)
        .dec("index_price", s.index, pd + 2)
        .dec_trim("funding_rate_indicative", s.funding_rate, 8)
        .dec("mark_price_round", inst.tick(), pd)
        .int("funding_offset", 0)
        .bool("in_delisting", delisting)
        .str("risk_limit_base", "1000000")
        .dec_trim("interest_rate", inst.interest_rate(), 6)
        .dec("order_price_round", inst.tick(), pd)
        .int("order_size_min", 1)
        .str("ref_rebate_rate", "0.2")
        .int(
            "funding_interval",
            (u64::from(inst.funding_hours) * SECONDS_PER_HOUR) as i64,
        )
        .str("risk_limit_step", "1000000")
        .str("leverage_min", "1")
        .str("leverage_max", if inst.real { "100" } else { "20" })
        .str("risk_limit_max", "8000000")
        .str("maker_fee_rate", "-0.0001")
        .str("taker_fee_rate", "0.00075")
        .dec_trim("funding_rate", s.prev_funding_rate, 8)
        .int("order_size_max", 1_000_000)
        .int("funding_next_apply", (s.next_funding_ms / 1000) as i64);
    size(o, "position_size", inst, oi_contracts(inst, s.oi_base));
    o.int("short_users", (inst.h % 2_000) as i64)
        .int("long_users", (inst.h % 1_500) as i64)
        .str("funding_impact_value", "60000")
        .int("orders_limit", 100)
        .int("trade_id", s.last_id as i64)
        .int("orderbook_id", (s.last_id * 3) as i64)
        .bool("enable_bonus", true)
        .bool("enable_credit", true)
        .int("create_time", (inst.listed_ms / 1000) as i64)
        .int("launch_time", (inst.listed_ms / 1000) as i64)
        .str("funding_cap_ratio", "0.75")
        .dec_trim("funding_rate_limit", inst.funding_cap, 6)
        .str("status", status)
        .bool("is_pre_market", pre_market)
        .bool("enable_decimal", decimal_sizes(inst));
}

/// One `tickers` row of `inst` at `now_ms`, as served (for end-to-end comparisons).
pub fn ticker_row_json(inst: &Instrument, now_ms: u64) -> String {
    let mut b = String::with_capacity(700);
    json::object(&mut b, |o| ticker_row(o, inst, now_ms));
    b
}

/// One `contracts` row of `inst` at `now_ms`, as served.
pub fn contract_row_json(inst: &Instrument, now_ms: u64) -> String {
    let mut b = String::with_capacity(1_200);
    json::object(&mut b, |o| contract_row(o, inst, now_ms));
    b
}

fn ticker_row(o: &mut json::Obj<'_>, inst: &Instrument, now_ms: u64) {
    let s = inst.snapshot(now_ms);
    let (pd, qd) = (inst.price_dp, inst.qty_dp);
    let m = inst.ct_val;
    o.str("contract", &inst.symbol)
        .dec("last", s.last, pd)
        .dec("low_24h", s.low_24h, pd)
        .dec("high_24h", s.high_24h, pd)
        .dec("change_percentage", (s.last / s.open_24h - 1.0) * 100.0, 2);
    size(o, "total_size", inst, oi_contracts(inst, s.oi_base));
    o.dec("volume_24h", (s.vol_base / m).round(), 0)
        .dec("volume_24h_btc", s.vol_quote / 95_000.0, 4)
        .dec("volume_24h_usd", s.vol_quote, 2)
        .dec("volume_24h_base", s.vol_base, qd.max(1))
        .dec("volume_24h_quote", s.vol_quote, 2)
        .dec("volume_24h_settle", s.vol_quote, 2)
        .dec("mark_price", s.mark, pd)
        .dec_trim("funding_rate", s.prev_funding_rate, 8)
        .dec_trim("funding_rate_indicative", s.funding_rate, 8)
        .dec("index_price", s.index, pd + 2)
        .str("quanto_base_rate", "")
        .dec("highest_bid", s.bid, pd)
        .dec("highest_size", (s.bid_qty / m).round().max(1.0), 0)
        .dec("lowest_ask", s.ask, pd)
        .dec("lowest_size", (s.ask_qty / m).round().max(1.0), 0);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn universe_has_multipliers_intervals_and_odd_statuses() {
        let cfg = InstanceConfig::new("gate", ExchangeKind::Gate);
        let list = compose(&cfg, 1_765_000_000_000);
        assert_eq!(list.len(), cfg.universe);
        assert!(list
            .iter()
            .all(|i| i.is_perpetual() && i.symbol.ends_with("_USDT")));
        let btc = list.iter().find(|i| i.symbol == "BTC_USDT").unwrap();
        assert_eq!(btc.ct_val, 0.0001);
        assert!(list.iter().any(|i| i.ct_val >= 1_000_000.0), "tiny coins");
        assert!(list.iter().any(decimal_sizes) && list.iter().any(|i| !decimal_sizes(i)));
        for hours in [1, 4, 8] {
            assert!(list.iter().any(|i| i.funding_hours == hours), "{hours} h");
        }
        assert!(list.iter().any(|i| i.status == Status::PreLaunch));
        assert!(list.iter().any(|i| i.status == Status::Settling));
    }

    #[test]
    fn error_bodies_are_gate_labels() {
        let r = error(RATE_LIMITED, "", 5);
        assert_eq!(r.status, 429);
        let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
        assert_eq!(v["label"], "TOO_MANY_REQUESTS");
        assert_eq!(status_of(10006), 400);
        assert_eq!(label_of(503), "SERVER_ERROR");
    }
}
