//! BingX perpetual swaps (v2 USDT-M): `/openApi/swap/v2/quote/contracts`, `/quote/ticker`,
//! `/quote/premiumIndex` (both bulk, or one object with `symbol=`), `/quote/openInterest?symbol=`
//! (per symbol ONLY: there is no bulk form) and `/server/time`, in BingX's
//! `{"code":0,"msg":"","data":…}` envelope — and the universe such an instance lists
//! ([`compose`]).
//!
//! Wire conventions copied from BingX (exchange-notes §8, `fx:bingx/*`): `contracts` rows carry
//! JSON numbers as in the recorded example (`size` a string, `apiStateOpen`/`apiStateClose` the
//! strings `"true"`/`"false"`, `status` 1 online, 5 pre-online, 25 no opening); tickers and
//! the premium index write prices as strings and times as numbers; `priceChangePercent` ends in
//! `%` and `openTime` may lie after `closeTime` (both as BingX sends them); `lastFundingRate` is
//! the current period's rate; `fundingIntervalHours` is sent on newer-style rows only (a few 8 h
//! contracts answer with the older row shape without it); `updateTime` is the period's start (as
//! in ccxt's sample); `openInterest` is a USDT value (open interest × mark). Errors are
//! `{"code":…,"msg":…,"debugMsg":"","timestamp":…}` under HTTP 200.
//!
//! Owns: this exchange's universe composition (USDT perpetuals, ×1000 contracts for the tiny
//! coins, one renamed coin `OMNI`, a few pre-online and no-opening contracts, a few whose API
//! opening is off) and the wire format of its endpoints.
//! Must not: invent values (they come from `market`'s snapshots) or apply faults.

use super::{error_envelope, ApiResponse, Query, Venue};
use crate::{
    config::{ExchangeKind, InstanceConfig},
    json,
    market::{
        apply_statuses, coins, h2, make, round_to, thousand_multiplied, Coin, Contract, Instrument,
        Spec, Status,
    },
};

const HOUR_MS: u64 = 3_600_000;
/// BingX's success code.
pub const SUCCESS: i64 = 0;
/// "Invalid parameters" (a required parameter is missing).
pub const INVALID_PARAMETERS: i64 = 80014;
/// The symbol does not exist.
pub const UNKNOWN_SYMBOL: i64 = 109400;
/// System busy / frequency limit.
pub const RATE_LIMITED: i64 = 100410;
/// Every this many synthetic perpetuals one is pre-online (`status` 5) and one no-opening (25).
const STATUS_EVERY: usize = 60;
const PRE_ONLINE_AT: usize = 30;
const NO_OPENING_AT: usize = 50;
/// A coin ccxt renames for BingX (`OMNI` → `OmniCat`), listed when the universe has room.
const RENAMED_COIN: &str = "OMNI";
const RENAMED_COIN_PRICE: f64 = 12.0;
/// Smallest universe that lists the renamed coin.
const RENAMED_COIN_FROM: usize = 70;

/// The universe of a BingX instance: USDT-margined perpetuals (`1000PEPE-USDT`-style for the
/// tiny coins) and, from 70 instruments on, `OMNI-USDT`.
pub fn compose(cfg: &InstanceConfig, now_ms: u64) -> Vec<Instrument> {
    let n = cfg.universe;
    let renamed = usize::from(n >= RENAMED_COIN_FROM);
    let mut list = coins(n - renamed);
    if renamed == 1 {
        list.push(Coin {
            name: RENAMED_COIN.to_string(),
            price: RENAMED_COIN_PRICE,
            tier: 2,
            rank: usize::MAX,
        });
    }
    let mut out = Vec::with_capacity(n);
    for coin in list {
        let (base, mult) = if thousand_multiplied(&coin.name) {
            (format!("1000{}", coin.name), 1000.0)
        } else {
            (coin.name.clone(), 1.0)
        };
        let code = out.len() as u64;
        out.push(make(Spec {
            cfg,
            symbol: format!("{base}-USDT"),
            base,
            quote: "USDT",
            contract: Contract::Perpetual,
            mult,
            code,
            coin,
        }));
    }
    apply_statuses(
        &mut out,
        now_ms,
        STATUS_EVERY,
        PRE_ONLINE_AT,
        Some(NO_OPENING_AT),
    );
    // The renamed coin trades (the point of listing it).
    if let Some(omni) = out.iter_mut().find(|i| i.coin == RENAMED_COIN) {
        omni.status = Status::Trading;
    }
    out
}

/// BingX's contract `status`: 1 online, 5 pre-online, 25 no new positions.
pub fn status_code(inst: &Instrument) -> i64 {
    match inst.status {
        Status::Trading => 1,
        Status::PreLaunch => 5,
        Status::Settling => 25,
    }
}

/// A trading synthetic contract whose API opening is switched off (`apiStateOpen: "false"`):
/// one in about 40.
pub fn api_opening_off(inst: &Instrument) -> bool {
    inst.status == Status::Trading && !inst.real && inst.h % 40 == 7
}

/// An 8 h contract answering with the older premium-index row (no `fundingIntervalHours`):
/// about one in six of them.
pub fn old_style_funding_row(inst: &Instrument) -> bool {
    inst.funding_hours == 8 && h2(inst.h, 0x8f).is_multiple_of(6)
}

/// The open interest BingX serves: a USDT value, open interest × mark, to the cent.
pub fn open_interest_value(inst: &Instrument, now_ms: u64) -> f64 {
    if inst.status == Status::PreLaunch {
        return 0.0;
    }
    let s = inst.snapshot(now_ms);
    round_to(s.oi_base * s.mark, 2)
}

/// Answers `path`, or `None` when BingX has no such endpoint here.
pub fn respond(venue: &Venue, path: &str, query: &Query, now_ms: u64) -> Option<ApiResponse> {
    Some(match path {
        "/openApi/swap/v2/quote/contracts" => {
            let list = &venue.universe.instruments;
            data_array(list.len() * 480, |a| {
                for inst in list {
                    a.obj(|o| contract_row(o, inst));
                }
            })
        }
        "/openApi/swap/v2/quote/ticker" => quoted(venue, query, now_ms, 420, |o, inst| {
            ticker_row(o, inst, now_ms)
        }),
        "/openApi/swap/v2/quote/premiumIndex" => quoted(venue, query, now_ms, 200, |o, inst| {
            premium_row(o, inst, now_ms)
        }),
        "/openApi/swap/v2/quote/openInterest" => {
            let Some(symbol) = query.non_empty("symbol") else {
                return Some(error(INVALID_PARAMETERS, now_ms));
            };
            let Some(inst) = venue.universe.get(symbol) else {
                return Some(error(UNKNOWN_SYMBOL, now_ms));
            };
            data_object(|o| {
                o.dec("openInterest", open_interest_value(inst, now_ms), 2)
                    .str("symbol", &inst.symbol)
                    .int("time", inst.snapshot(now_ms).ts_ms as i64);
            })
        }
        "/openApi/swap/v2/server/time" => data_object(|o| {
            o.int("serverTime", now_ms as i64);
        }),
        _ => return None,
    })
}

/// A BingX error answer (HTTP 200).
pub fn error(code: i64, now_ms: u64) -> ApiResponse {
    let msg = default_error_msg(code);
    ApiResponse::json(200, error_envelope(ExchangeKind::Bingx, code, msg, now_ms))
}

/// BingX's error body: `{"code":…,"msg":…,"debugMsg":"","timestamp":…}`.
pub fn error_body(b: &mut String, code: i64, msg: &str, now_ms: u64) {
    json::object(b, |o| {
        o.int("code", code)
            .str("msg", msg)
            .str("debugMsg", "")
            .int("timestamp", now_ms as i64);
    });
}

/// The message BingX sends with `code`.
pub fn default_error_msg(code: i64) -> &'static str {
    match code {
        RATE_LIMITED => "The current system is busy, please try again later",
        INVALID_PARAMETERS => "Invalid parameters, err:symbol: This field is required.",
        UNKNOWN_SYMBOL => "symbol does not exist",
        _ => "Internal error",
    }
}

fn data_array(capacity: usize, f: impl FnOnce(&mut json::Arr<'_>)) -> ApiResponse {
    let mut b = String::with_capacity(64 + capacity);
    json::object(&mut b, |o| {
        o.int("code", SUCCESS).str("msg", "").arr("data", f);
    });
    ApiResponse::json(200, b)
}

fn data_object(f: impl FnOnce(&mut json::Obj<'_>)) -> ApiResponse {
    let mut b = String::with_capacity(160);
    json::object(&mut b, |o| {
        o.int("code", SUCCESS).str("msg", "").obj("data", f);
    });
    ApiResponse::json(200, b)
}

/// A market-data endpoint: every trading contract as a list, or with `symbol=` that one
/// contract as an object (an unknown or non-trading symbol is BingX's error).
fn quoted(
    venue: &Venue,
    query: &Query,
    now_ms: u64,
    row_bytes: usize,
    row: impl Fn(&mut json::Obj<'_>, &Instrument),
) -> ApiResponse {
    match query.non_empty("symbol") {
        Some(symbol) => match venue.universe.get(symbol) {
            Some(inst) if inst.is_trading() => data_object(|o| row(o, inst)),
            _ => error(UNKNOWN_SYMBOL, now_ms),
        },
        None => {
            let list: Vec<&Instrument> = venue.universe.trading().collect();
            data_array(list.len() * row_bytes, |a| {
                for inst in &list {
                    a.obj(|o| row(o, inst));
                }
            })
        }
    }
}

fn number(o: &mut json::Obj<'_>, key: &str, value: f64, places: u32) {
    o.raw(key, &json::fixed(value, places, true));
}

fn flag(value: bool) -> &'static str {
    if value {
        "true"
    } else {
        "false"
    }
}

fn contract_row(o: &mut json::Obj<'_>, inst: &Instrument) {
    let trading = inst.status == Status::Trading;
    let api_open = trading && !api_opening_off(inst);
    let api_close = inst.status != Status::PreLaunch;
    // BingX writes 0 when it has no listing time; a few synthetic contracts do.
    let time_online = if !inst.real && inst.h.is_multiple_of(5) {
        0
    } else {
        inst.listed_ms
    };
    o.str("contractId", &(100 + inst.code).to_string())
        .str("symbol", &inst.symbol)
        .str("size", "0")
        .int("quantityPrecision", i64::from(inst.qty_dp))
        .int("pricePrecision", i64::from(inst.price_dp));
    number(o, "feeRate", 0.0005, 4);
    number(o, "makerFeeRate", 0.0002, 4);
    number(o, "takerFeeRate", 0.0005, 4);
    o.int("tradeMinLimit", 0);
    number(o, "tradeMinQuantity", inst.step(), inst.qty_dp);
    o.int("tradeMinUSDT", 2)
        .int("maxLongLeverage", if inst.real { 125 } else { 50 })
        .int("maxShortLeverage", if inst.real { 125 } else { 50 })
        .str("currency", inst.quote)
        .str("asset", &inst.base)
        .int("status", status_code(inst))
        .str("apiStateOpen", flag(api_open))
        .str("apiStateClose", flag(api_close))
        .bool("ensureTrigger", true)
        .str("triggerFeeRate", "0.00020000")
        .bool("brokerState", true)
        .int("launchTime", inst.listed_ms as i64)
        .int("maintainTime", 0)
        .int("offTime", 0)
        .int("timeOnline", time_online as i64);
}

fn ticker_row(o: &mut json::Obj<'_>, inst: &Instrument, now_ms: u64) {
    let s = inst.snapshot(now_ms);
    let pd = inst.price_dp;
    let qd = inst.qty_dp;
    let change = s.last - s.open_24h;
    // BingX's `openTime` can lie after `closeTime` (exchange-notes §8.5, `fx:bingx/ticker.json`).
    let open_time = s.ts_ms + h2(inst.h ^ 0x07, s.ts_ms / 1000) % 60_000;
    o.str("symbol", &inst.symbol)
        .dec("priceChange", change, pd)
        .str(
            "priceChangePercent",
            &format!("{}%", json::fixed(change / s.open_24h * 100.0, 2, false)),
        )
        .dec("lastPrice", s.last, pd)
        .dec_trim("lastQty", s.last_qty, qd)
        .dec("highPrice", s.high_24h, pd)
        .dec("lowPrice", s.low_24h, pd)
        .dec_trim("volume", s.vol_base, qd)
        .dec("quoteVolume", round_to(s.vol_quote, 2), 2)
        .dec("openPrice", s.open_24h, pd)
        .int("openTime", open_time as i64)
        .int("closeTime", s.ts_ms as i64)
        .dec("askPrice", s.ask, pd)
        .dec_trim("askQty", s.ask_qty, qd)
        .dec("bidPrice", s.bid, pd)
        .dec_trim("bidQty", s.bid_qty, qd);
}

fn premium_row(o: &mut json::Obj<'_>, inst: &Instrument, now_ms: u64) {
    let s = inst.snapshot(now_ms);
    let interval = u64::from(inst.funding_hours) * HOUR_MS;
    o.str("symbol", &inst.symbol)
        .dec("markPrice", s.mark, inst.price_dp)
        .dec("indexPrice", s.index, inst.price_dp + 2)
        .dec("lastFundingRate", s.funding_rate, 8)
        .int("nextFundingTime", s.next_funding_ms as i64);
    if !old_style_funding_row(inst) {
        o.int("fundingIntervalHours", i64::from(inst.funding_hours))
            .int(
                "updateTime",
                s.next_funding_ms.saturating_sub(interval) as i64,
            );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exchanges::respond as route;

    fn venue(universe: usize) -> Venue {
        Venue::new(InstanceConfig {
            universe,
            ..InstanceConfig::new("bingx", ExchangeKind::Bingx)
        })
    }

    fn get(v: &Venue, path: &str, query: Option<&str>, now: u64) -> serde_json::Value {
        let r = route(v, "GET", path, &Query::parse(query), now);
        assert_eq!(r.status, 200, "{path}: {}", r.body);
        serde_json::from_str(&r.body).unwrap()
    }

    #[test]
    fn universe_is_usdt_perpetuals_with_odd_cases() {
        let v = venue(300);
        let list = &v.universe.instruments;
        assert_eq!(list.len(), 300);
        for s in ["BTC-USDT", "ETH-USDT", "1000PEPE-USDT", "OMNI-USDT"] {
            assert!(v.universe.get(s).is_some(), "{s}");
        }
        assert!(list.iter().all(|i| i.is_perpetual() && i.quote == "USDT"));
        assert!(list.iter().any(|i| i.status == Status::PreLaunch));
        assert!(list.iter().any(|i| i.status == Status::Settling));
        assert!(list.iter().any(api_opening_off));
        assert!(list.iter().any(old_style_funding_row));
        assert_eq!(v.universe.get("OMNI-USDT").unwrap().status, Status::Trading);
        let hours: std::collections::BTreeSet<u32> = list.iter().map(|i| i.funding_hours).collect();
        assert_eq!(hours.into_iter().collect::<Vec<_>>(), [1, 4, 8]);
        assert!(venue(20).universe.get("OMNI-USDT").is_none());
    }

    #[test]
    fn contracts_speak_bingx() {
        let v = venue(200);
        let now = 1_790_000_123_456;
        let body = get(&v, "/openApi/swap/v2/quote/contracts", None, now);
        assert_eq!(body["code"], 0);
        let rows = body["data"].as_array().unwrap();
        assert_eq!(rows.len(), 200);
        let btc = rows.iter().find(|r| r["symbol"] == "BTC-USDT").unwrap();
        assert_eq!(btc["asset"], "BTC");
        assert_eq!(btc["currency"], "USDT");
        assert_eq!(btc["status"], 1);
        assert_eq!(btc["apiStateOpen"], "true");
        assert!(btc["pricePrecision"].is_u64() && btc["size"].is_string());
        let statuses: std::collections::BTreeSet<i64> =
            rows.iter().map(|r| r["status"].as_i64().unwrap()).collect();
        assert_eq!(statuses.into_iter().collect::<Vec<_>>(), [1, 5, 25]);
        assert!(rows
            .iter()
            .any(|r| r["apiStateOpen"] == "false" && r["status"] == 1));
        assert!(rows.iter().any(|r| r["timeOnline"] == 0));
    }

    #[test]
    fn tickers_and_premium_index_list_trading_contracts() {
        let v = venue(200);
        let now = 1_790_000_123_456;
        let trading = v.universe.trading().count();
        let t = get(&v, "/openApi/swap/v2/quote/ticker", None, now);
        let rows = t["data"].as_array().unwrap();
        assert_eq!(rows.len(), trading);
        for row in rows {
            let bid: f64 = row["bidPrice"].as_str().unwrap().parse().unwrap();
            let ask: f64 = row["askPrice"].as_str().unwrap().parse().unwrap();
            assert!(bid < ask, "{row}");
            assert!(row["priceChangePercent"].as_str().unwrap().ends_with('%'));
            assert!(row["closeTime"].as_u64().unwrap() / 1000 <= now / 1000);
        }
        let p = get(&v, "/openApi/swap/v2/quote/premiumIndex", None, now);
        let rows = p["data"].as_array().unwrap();
        assert_eq!(rows.len(), trading);
        let btc = rows.iter().find(|r| r["symbol"] == "BTC-USDT").unwrap();
        let next = btc["nextFundingTime"].as_u64().unwrap();
        assert!(next > now && next % (8 * HOUR_MS) == 0);
        assert!(btc["lastFundingRate"].is_string() && btc["markPrice"].is_string());
        assert!(rows.iter().any(|r| r.get("fundingIntervalHours").is_none()));
        assert!(rows.iter().any(|r| r["fundingIntervalHours"] == 4));
        // `symbol=` gives one object; an unknown symbol BingX's error under HTTP 200.
        let one = get(
            &v,
            "/openApi/swap/v2/quote/premiumIndex",
            Some("symbol=ETH-USDT"),
            now,
        );
        assert_eq!(one["data"]["symbol"], "ETH-USDT");
        let e = get(
            &v,
            "/openApi/swap/v2/quote/ticker",
            Some("symbol=NOPE-USDT"),
            now,
        );
        assert_eq!(e["code"], UNKNOWN_SYMBOL);
    }

    #[test]
    fn open_interest_is_per_symbol_and_a_usdt_value() {
        let v = venue(100);
        let now = 1_790_000_123_456;
        let path = "/openApi/swap/v2/quote/openInterest";
        let body = get(&v, path, Some("symbol=BTC-USDT"), now);
        assert_eq!(body["code"], 0);
        let inst = v.universe.get("BTC-USDT").unwrap();
        let s = inst.snapshot(now);
        let value: f64 = body["data"]["openInterest"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((value - s.oi_base * s.mark).abs() < 0.01, "{value}");
        assert_eq!(body["data"]["symbol"], "BTC-USDT");
        // No bulk form.
        assert_eq!(get(&v, path, None, now)["code"], INVALID_PARAMETERS);
        assert_eq!(
            get(&v, path, Some("symbol=NOPE-USDT"), now)["code"],
            UNKNOWN_SYMBOL
        );
        let time = get(&v, "/openApi/swap/v2/server/time", None, now);
        assert_eq!(time["data"]["serverTime"], now);
        let r = route(
            &v,
            "GET",
            "/openApi/swap/v3/nothing",
            &Query::default(),
            now,
        );
        assert_eq!(r.status, 404);
    }
}
