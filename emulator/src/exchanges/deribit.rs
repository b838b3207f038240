//! Deribit's public JSON-RPC over HTTP GET: `/api/v2/public/get_instruments`,
//! `/api/v2/public/get_book_summary_by_currency` and `/api/v2/public/get_time`, each answering
//! `{"jsonrpc":"2.0","result":…,"usIn":…,"usOut":…,"usDiff":…,"testnet":false}` — and the
//! universe such an instance lists ([`compose`]).
//!
//! Wire conventions copied from Deribit (exchange-notes §11): every list is per currency
//! (`currency=BTC|ETH|USDC|USDT|EURR|any`, required; `kind=future` or absent lists futures,
//! other known kinds an empty list); numbers are JSON numbers; perpetuals have
//! `settlement_period: "perpetual"` and an `expiration_timestamp` in the year 3000; inverse
//! (`instrument_type: "reversed"`) contracts are sized in USD (`BTC-PERPETUAL` 10 USD,
//! `ETH-PERPETUAL` 1 USD) and their `open_interest` is USD; linear USDC perpetuals
//! (`SOL_USDC-PERPETUAL`) are sized in the coin and their `open_interest` is in the coin.
//! Funding is continuous: book summaries of perpetuals carry `funding_8h` (the 8-hour figure)
//! and `current_funding` (the instantaneous one), and no settlement time.
//! Errors: `{"jsonrpc":"2.0","error":{"message":…,"code":…},…}` with HTTP 400 (`-32602`
//! invalid params) or 429 (`10028` too_many_requests, what rate-limit faults send).
//!
//! Owns: this exchange's universe composition (two inverse perpetuals, dated inverse futures,
//! linear USDC perpetuals for every other coin) and the wire format of its endpoints.
//! Must not: invent values (they come from `market`'s snapshots) or apply faults.

use super::{ApiResponse, Query, Venue};
use crate::{
    config::InstanceConfig,
    json,
    market::{
        civil_from_days, coins, dated_count, make, quarterly_expiries, real_coin, round_to,
        Contract, Instrument, Spec,
    },
};

/// `too_many_requests`.
pub const RATE_LIMITED: i64 = 10028;
/// JSON-RPC "Invalid params".
pub const INVALID_PARAMS: i64 = -32602;
/// Perpetuals' `expiration_timestamp`: 3000-01-01.
pub const PERPETUAL_EXPIRY_MS: u64 = 32_503_708_800_000;
/// The currencies Deribit answers for (`any`: all of them).
const CURRENCIES: [&str; 5] = ["BTC", "ETH", "USDC", "USDT", "EURR"];
/// `kind` values Deribit knows; only futures exist here.
const OTHER_KINDS: [&str; 4] = ["option", "spot", "future_combo", "option_combo"];
/// Coins with an inverse perpetual and inverse dated futures.
const INVERSE_COINS: usize = 2;
/// USD per inverse contract: BTC 10, ETH 1.
const INVERSE_SIZES: [f64; INVERSE_COINS] = [10.0, 1.0];
/// The figure `funding_8h` stands for.
const FUNDING_FIGURE_HOURS: u32 = 8;
/// `current_funding` is the premium, clamped like Deribit's ±0.05% damper.
const CURRENT_FUNDING_CLAMP: f64 = 0.0005;
const RATE_DECIMALS: u32 = 8;
const DAY_MS: u64 = 86_400_000;
const MONTHS: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];

/// Default universe: a few hundred instruments, as the issue asks of every emulated venue.
pub const DEFAULT_UNIVERSE: usize = 200;

/// The universe of a Deribit instance: `BTC-PERPETUAL` and `ETH-PERPETUAL` (inverse), up to
/// 4 dated inverse futures (`BTC-26DEC26`), and a linear `<COIN>_USDC-PERPETUAL` for every coin
/// (BTC and ETH included). Every perpetual's funding figure is the 8-hour one.
pub fn compose(cfg: &InstanceConfig, now_ms: u64) -> Vec<Instrument> {
    let n = cfg.universe;
    let inverse = INVERSE_COINS.min(n);
    let dated = dated_count(n).min(n - inverse);
    let linear = n - inverse - dated;
    let mut out = Vec::with_capacity(n);
    for coin in coins(inverse) {
        let code = out.len() as u64;
        out.push(make(Spec {
            cfg,
            symbol: format!("{}-PERPETUAL", coin.name),
            base: coin.name.clone(),
            quote: "USD",
            contract: Contract::InversePerpetual,
            mult: 1.0,
            code,
            coin,
        }));
    }
    let (cur, next) = quarterly_expiries(now_ms);
    for i in 0..dated {
        let Some(coin) = real_coin(i % INVERSE_COINS) else {
            break;
        };
        let expiry_ms = if i < INVERSE_COINS { cur } else { next };
        let (y, m, d) = civil_from_days((expiry_ms / DAY_MS) as i64);
        let month = MONTHS.get((m - 1) as usize).copied().unwrap_or("DEC");
        let code = out.len() as u64;
        out.push(make(Spec {
            cfg,
            symbol: format!("{}-{d}{month}{:02}", coin.name, y % 100),
            base: coin.name.clone(),
            quote: "USD",
            contract: Contract::Quarterly {
                expiry_ms,
                next: i >= INVERSE_COINS,
            },
            mult: 1.0,
            code,
            coin,
        }));
    }
    for coin in coins(linear) {
        let code = out.len() as u64;
        out.push(make(Spec {
            cfg,
            symbol: format!("{}_USDC-PERPETUAL", coin.name),
            base: coin.name.clone(),
            quote: "USDC",
            contract: Contract::Perpetual,
            mult: 1.0,
            code,
            coin,
        }));
    }
    for inst in out.iter_mut().filter(|i| i.is_perpetual()) {
        inst.funding_hours = FUNDING_FIGURE_HOURS;
    }
    out
}

/// Inverse (coin-settled) instruments: the inverse perpetuals and every dated future.
pub fn is_inverse(inst: &Instrument) -> bool {
    inst.quote == "USD"
}

/// The settlement currency Deribit lists `inst` under.
pub fn settlement_currency(inst: &Instrument) -> &str {
    if is_inverse(inst) {
        &inst.coin
    } else {
        inst.quote
    }
}

/// `contract_size`: USD per contract (inverse), coin per contract (linear: the lot step).
pub fn contract_size(inst: &Instrument) -> f64 {
    if is_inverse(inst) {
        INVERSE_SIZES
            .get(inst.rank)
            .copied()
            .unwrap_or(INVERSE_SIZES[0])
    } else {
        inst.step()
    }
}

/// One book summary row as served (numbers as the exact JSON text sent).
#[derive(Debug, Clone, PartialEq)]
pub struct SummaryText {
    pub last: String,
    pub bid_price: String,
    pub ask_price: String,
    pub mid_price: String,
    pub mark_price: String,
    pub estimated_delivery_price: String,
    pub volume: String,
    pub volume_usd: String,
    pub open_interest: String,
    pub high: String,
    pub low: String,
    pub price_change: String,
    pub creation_timestamp: u64,
    /// Perpetuals only.
    pub current_funding: Option<String>,
    pub funding_8h: Option<String>,
}

/// What `get_book_summary_by_currency` shows for `inst` at `now_ms`.
pub fn summary(inst: &Instrument, now_ms: u64) -> SummaryText {
    let s = inst.snapshot(now_ms);
    let pd = inst.price_dp;
    let price = |v: f64| json::fixed(v, pd, true);
    let open_interest = if is_inverse(inst) {
        let size = contract_size(inst);
        let contracts = (s.oi_base * s.mark / size).round().max(1.0);
        json::fixed(contracts * size, 0, true)
    } else {
        json::fixed(s.oi_base, inst.qty_dp, true)
    };
    let (current, funding_8h) = if inst.is_perpetual() {
        let premium = (s.mark / s.index - 1.0).clamp(-CURRENT_FUNDING_CLAMP, CURRENT_FUNDING_CLAMP);
        (
            Some(json::fixed(premium, RATE_DECIMALS, true)),
            Some(json::fixed(s.funding_rate, RATE_DECIMALS, true)),
        )
    } else {
        (None, None)
    };
    let delivery = if inst.is_perpetual() {
        s.index
    } else {
        s.est_settle
    };
    SummaryText {
        last: price(s.last),
        bid_price: price(s.bid),
        ask_price: price(s.ask),
        mid_price: json::fixed((s.bid + s.ask) / 2.0, pd + 1, true),
        mark_price: json::fixed(s.mark, pd + 2, true),
        estimated_delivery_price: json::fixed(delivery, pd + 2, true),
        volume: json::fixed(s.vol_base, 8, true),
        volume_usd: json::fixed(round_to(s.vol_quote, 2), 2, true),
        open_interest,
        high: price(s.high_24h),
        low: price(s.low_24h),
        price_change: json::fixed((s.last / s.open_24h - 1.0) * 100.0, 4, true),
        creation_timestamp: s.ts_ms,
        current_funding: current,
        funding_8h,
    }
}

/// Answers `path`, or `None` when Deribit has no such method here.
pub fn respond(venue: &Venue, path: &str, query: &Query, now_ms: u64) -> Option<ApiResponse> {
    let method = path.strip_prefix("/api/v2/public/")?;
    Some(match method {
        "get_instruments" | "get_book_summary_by_currency" => {
            let list = match listed(venue, query) {
                Ok(list) => list,
                Err((param, reason)) => return Some(invalid_params(param, reason, now_ms)),
            };
            let summaries = method == "get_book_summary_by_currency";
            let mut rows = String::with_capacity(64 + list.len() * 700);
            json::array(&mut rows, |a| {
                for inst in &list {
                    if summaries {
                        a.obj(|o| summary_row(o, inst, now_ms));
                    } else {
                        a.obj(|o| instrument_row(o, inst));
                    }
                }
            });
            success(&rows, now_ms)
        }
        "get_time" => success(&now_ms.to_string(), now_ms),
        _ => return None,
    })
}

/// The instruments a `currency`/`kind` query lists, or the invalid parameter and why.
fn listed<'v>(
    venue: &'v Venue,
    query: &Query,
) -> Result<Vec<&'v Instrument>, (&'static str, &'static str)> {
    let currency = query
        .non_empty("currency")
        .ok_or(("currency", "must be present"))?;
    let any = currency == "any";
    if !any && !CURRENCIES.contains(&currency) {
        return Err(("currency", "wrong format"));
    }
    match query.non_empty("kind") {
        None | Some("future") => {}
        Some(k) if OTHER_KINDS.contains(&k) => return Ok(Vec::new()),
        Some(_) => return Err(("kind", "wrong format")),
    }
    Ok(venue
        .universe
        .trading()
        .filter(|i| any || settlement_currency(i) == currency)
        .collect())
}

fn instrument_row(o: &mut json::Obj<'_>, inst: &Instrument) {
    let inverse = is_inverse(inst);
    let quote = if inverse { "USD" } else { inst.quote };
    let index = format!(
        "{}_{}",
        inst.coin.to_ascii_lowercase(),
        quote.to_ascii_lowercase()
    );
    let (period, expiry) = match inst.contract {
        Contract::Quarterly { expiry_ms, .. } => ("month", expiry_ms),
        _ => ("perpetual", PERPETUAL_EXPIRY_MS),
    };
    let size = contract_size(inst);
    let kind_word = if inverse { "reversed" } else { "linear" };
    o.str("price_index", &index)
        .str("kind", "future")
        .str("instrument_name", &inst.symbol)
        .int("max_leverage", if inst.rank < 2 { 50 } else { 25 })
        .raw("maker_commission", "0.0")
        .raw("taker_commission", "0.0005")
        .str("instrument_type", kind_word)
        .int("expiration_timestamp", expiry as i64)
        .int("creation_timestamp", inst.listed_ms as i64)
        .bool("is_active", true)
        .raw("tick_size", &json::fixed(inst.tick(), inst.price_dp, true))
        .raw("contract_size", &json::fixed(size, 8, true))
        .int("instrument_id", 100_000 + inst.code as i64)
        .raw("min_trade_amount", &json::fixed(size, 8, true))
        .str("future_type", kind_word)
        .str("settlement_currency", settlement_currency(inst))
        .str("settlement_period", period)
        .str("base_currency", &inst.coin)
        .str("counter_currency", quote)
        .str("quote_currency", quote)
        .arr("tick_size_steps", |_| {});
}

fn summary_row(o: &mut json::Obj<'_>, inst: &Instrument, now_ms: u64) {
    let s = summary(inst, now_ms);
    let quote = if is_inverse(inst) { "USD" } else { inst.quote };
    o.str("instrument_name", &inst.symbol)
        .str("base_currency", &inst.coin)
        .str("quote_currency", quote)
        .raw("volume", &s.volume)
        .raw("volume_usd", &s.volume_usd)
        .raw("volume_notional", &s.volume_usd)
        .raw("open_interest", &s.open_interest)
        .raw("price_change", &s.price_change)
        .raw("mark_price", &s.mark_price)
        .raw("mid_price", &s.mid_price)
        .raw("last", &s.last)
        .raw("low", &s.low)
        .raw("high", &s.high)
        .raw("bid_price", &s.bid_price)
        .raw("ask_price", &s.ask_price)
        .raw("estimated_delivery_price", &s.estimated_delivery_price)
        .int("creation_timestamp", s.creation_timestamp as i64);
    if let (Some(current), Some(f8)) = (&s.current_funding, &s.funding_8h) {
        o.raw("current_funding", current).raw("funding_8h", f8);
    }
}

/// `us_in`/`us_out` in microseconds, as Deribit stamps every answer.
fn stamps(o: &mut json::Obj<'_>, now_ms: u64) {
    let us = now_ms as i64 * 1_000;
    o.int("usIn", us)
        .int("usOut", us + 150)
        .int("usDiff", 150)
        .bool("testnet", false);
}

fn success(result: &str, now_ms: u64) -> ApiResponse {
    let mut b = String::with_capacity(result.len() + 96);
    json::object(&mut b, |o| {
        o.str("jsonrpc", "2.0").raw("result", result);
        stamps(o, now_ms);
    });
    ApiResponse::json(200, b)
}

fn invalid_params(param: &str, reason: &str, now_ms: u64) -> ApiResponse {
    let mut b = String::with_capacity(160);
    json::object(&mut b, |o| {
        o.str("jsonrpc", "2.0").obj("error", |e| {
            e.str("message", "Invalid params")
                .obj("data", |d| {
                    d.str("reason", reason).str("param", param);
                })
                .int("code", INVALID_PARAMS);
        });
        stamps(o, now_ms);
    });
    ApiResponse::json(400, b)
}

/// Deribit's error body for `code`/`msg` (also what faults send).
pub fn error_body(b: &mut String, code: i64, msg: &str, now_ms: u64) {
    json::object(b, |o| {
        o.str("jsonrpc", "2.0").obj("error", |e| {
            e.str("message", msg).int("code", code);
        });
        stamps(o, now_ms);
    });
}

/// The message of an error code.
pub fn default_error_msg(code: i64) -> &'static str {
    match code {
        RATE_LIMITED => "too_many_requests",
        INVALID_PARAMS => "Invalid params",
        13020 => "not_found",
        11051 => "system_maintenance",
        _ => "internal_server_error",
    }
}

/// The HTTP status Deribit answers an error code with.
pub fn status_of(code: i64) -> u16 {
    match code {
        RATE_LIMITED => 429,
        11051 | 11094 | 13028 => 503,
        _ => 400,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{config::ExchangeKind, exchanges::respond as route};

    fn venue() -> Venue {
        Venue::new(InstanceConfig::new("deribit", ExchangeKind::Deribit))
    }

    fn get(v: &Venue, path: &str, query: &str, now: u64) -> ApiResponse {
        route(v, "GET", path, &Query::parse(Some(query)), now)
    }

    fn result(r: &ApiResponse) -> Vec<serde_json::Value> {
        assert_eq!(r.status, 200, "{}", r.body);
        let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
        assert_eq!(v["jsonrpc"], "2.0");
        v["result"].as_array().unwrap().clone()
    }

    #[test]
    fn universe_has_inverse_dated_and_linear_usdc() {
        let v = venue();
        let list = &v.universe.instruments;
        assert_eq!(list.len(), DEFAULT_UNIVERSE);
        for s in [
            "BTC-PERPETUAL",
            "ETH-PERPETUAL",
            "BTC_USDC-PERPETUAL",
            "SOL_USDC-PERPETUAL",
        ] {
            assert!(v.universe.get(s).is_some(), "{s}");
        }
        assert_eq!(list.iter().filter(|i| !i.is_perpetual()).count(), 4);
        assert!(list
            .iter()
            .filter(|i| i.is_perpetual())
            .all(|i| i.funding_hours == 8));
    }

    #[test]
    fn lists_are_per_currency_with_perpetual_facts() {
        let v = venue();
        let now = crate::exchanges::now_ms();
        let btc = result(&get(
            &v,
            "/api/v2/public/get_instruments",
            "currency=BTC&kind=future",
            now,
        ));
        let names: Vec<&str> = btc
            .iter()
            .map(|r| r["instrument_name"].as_str().unwrap())
            .collect();
        assert_eq!(names.len(), 3, "{names:?}");
        assert_eq!(btc[0]["settlement_period"], "perpetual");
        assert_eq!(btc[0]["expiration_timestamp"], PERPETUAL_EXPIRY_MS);
        assert_eq!(btc[0]["contract_size"], 10.0);
        assert_eq!(btc[0]["instrument_type"], "reversed");
        assert!(btc[1..].iter().all(|r| r["settlement_period"] == "month"));
        let usdc = result(&get(
            &v,
            "/api/v2/public/get_instruments",
            "currency=USDC",
            now,
        ));
        assert_eq!(usdc.len(), DEFAULT_UNIVERSE - 6);
        assert!(usdc.iter().all(|r| r["instrument_type"] == "linear"
            && r["settlement_currency"] == "USDC"
            && r["counter_currency"] == "USDC"));
        let summaries = result(&get(
            &v,
            "/api/v2/public/get_book_summary_by_currency",
            "currency=BTC&kind=future",
            now,
        ));
        assert_eq!(summaries.len(), 3);
        let perp = &summaries[0];
        let want = summary(v.universe.get("BTC-PERPETUAL").unwrap(), now);
        assert_eq!(perp["funding_8h"].to_string(), want.funding_8h.unwrap());
        assert!(perp["current_funding"].is_number());
        assert!(summaries[1].get("funding_8h").is_none());
        assert!(result(&get(
            &v,
            "/api/v2/public/get_instruments",
            "currency=USDT",
            now
        ))
        .is_empty());
        assert!(result(&get(
            &v,
            "/api/v2/public/get_instruments",
            "currency=BTC&kind=option",
            now
        ))
        .is_empty());
        assert_eq!(
            result(&get(
                &v,
                "/api/v2/public/get_book_summary_by_currency",
                "currency=any",
                now
            ))
            .len(),
            DEFAULT_UNIVERSE
        );
    }

    #[test]
    fn bad_parameters_answer_json_rpc_errors() {
        let v = venue();
        let now = crate::exchanges::now_ms();
        for query in ["", "currency=XYZ", "currency=BTC&kind=perp"] {
            let r = get(&v, "/api/v2/public/get_instruments", query, now);
            assert_eq!(r.status, 400, "{query}");
            let e: serde_json::Value = serde_json::from_str(&r.body).unwrap();
            assert_eq!(e["error"]["code"], INVALID_PARAMS);
        }
        assert_eq!(get(&v, "/api/v2/public/nope", "", now).status, 404);
        let mut b = String::new();
        error_body(&mut b, RATE_LIMITED, "too_many_requests", now);
        let e: serde_json::Value = serde_json::from_str(&b).unwrap();
        assert_eq!(e["error"]["code"], RATE_LIMITED);
    }
}
