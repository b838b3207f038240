//! HTX (Huobi) USDT-margined linear swaps: `/linear-swap-api/v1/swap_contract_info`,
//! `/v2/linear-swap-ex/market/detail/batch_merged`, `/linear-swap-api/v1/swap_open_interest`,
//! `/linear-swap-api/v1/swap_batch_funding_rate` (legacy `{"status":"ok","data":…,"ts":…}`
//! envelope) and `/v5/market/funding_rate?contract_code=` (`{"code":200,"message":"Success",…}`)
//! — and the universe such an instance lists ([`compose`]).
//!
//! Wire conventions copied from HTX (exchange-notes §7 and errata 9-10): v1 rows carry JSON
//! numbers, v2 `batch_merged` strings (except `ts`, `count` and the `[price, size]` levels);
//! `vol` is the quote turnover as in the recorded example, `number_of` the contract count,
//! `amount` the base volume; `funding_time` is the settlement of the current rate and
//! `next_funding_time` the one after (their distance is the interval; HTX has no interval
//! field); `estimated_rate` is null. `business_type` (default `swap`; `futures`, `all`) mixes
//! dated futures (`BTC-USDT-261225`) into the lists when asked. Errors are HTTP 200
//! `{"status":"error","err_code":…,"err_msg":…}` (v5: `{"code":1013,…}`).
//!
//! Owns: this exchange's universe composition (USDT swaps with HTX-style contract sizes,
//! 1/4/8 h intervals, dated futures, a few pending-listing and delisting contracts) and the wire
//! format of its endpoints.
//! Must not: invent values (they come from `market`'s snapshots) or apply faults.

use super::{default_error_msg, error_envelope, ApiResponse, Query, Venue};
use crate::{
    config::{ExchangeKind, InstanceConfig},
    json,
    market::{
        apply_statuses, civil_from_days, coins, dated_count, make, quarterly_expiries, real_coin,
        round_to, Contract, Instrument, Spec, Status,
    },
};

const HOUR_MS: u64 = 3_600_000;
const DAY_MS: u64 = 86_400_000;
/// HTX's "contract doesn't exist" code.
pub const UNKNOWN_CONTRACT: i64 = 1013;
/// v5 success code.
const V5_SUCCESS: i64 = 200;
/// Every this many synthetic swaps one is pending listing (`contract_status` 2) and one
/// delisting (0).
const STATUS_EVERY: usize = 80;
const PENDING_AT: usize = 40;
const DELISTING_AT: usize = 70;
/// Contract value a synthetic swap aims at, in USDT.
const TARGET_CONTRACT_USD: f64 = 1.0;

/// The universe of an HTX instance: USDT swaps and up to 4 dated USDT futures of the majors.
pub fn compose(cfg: &InstanceConfig, now_ms: u64) -> Vec<Instrument> {
    let n = cfg.universe;
    let dated = dated_count(n);
    let mut out = Vec::with_capacity(n);
    for coin in coins(n - dated) {
        let code = out.len() as u64;
        out.push(make(Spec {
            cfg,
            symbol: format!("{}-USDT", coin.name),
            base: coin.name.clone(),
            quote: "USDT",
            contract: Contract::Perpetual,
            mult: 1.0,
            code,
            coin,
        }));
    }
    let (cur, next) = quarterly_expiries(now_ms);
    for i in 0..dated {
        let Some(coin) = real_coin(i / 2) else { break };
        let expiry_ms = if i % 2 == 0 { cur } else { next };
        let code = out.len() as u64;
        out.push(make(Spec {
            cfg,
            symbol: format!("{}-USDT-{}", coin.name, yymmdd(expiry_ms)),
            base: coin.name.clone(),
            quote: "USDT",
            contract: Contract::Quarterly {
                expiry_ms,
                next: i % 2 == 1,
            },
            mult: 1.0,
            code,
            coin,
        }));
    }
    apply_statuses(
        &mut out,
        now_ms,
        STATUS_EVERY,
        PENDING_AT,
        Some(DELISTING_AT),
    );
    out
}

fn yymmdd(ms: u64) -> String {
    let (y, m, d) = civil_from_days((ms / DAY_MS) as i64);
    format!("{:02}{m:02}{d:02}", y % 100)
}

fn yyyymmdd(ms: u64) -> String {
    let (y, m, d) = civil_from_days((ms / DAY_MS) as i64);
    format!("{y:04}{m:02}{d:02}")
}

/// Answers `path`, or `None` when HTX has no such endpoint here.
pub fn respond(venue: &Venue, path: &str, query: &Query, now_ms: u64) -> Option<ApiResponse> {
    Some(match path {
        "/linear-swap-api/v1/swap_contract_info" => listed(venue, query, now_ms, false, |list| {
            data(now_ms, list.len() * 380, |a| {
                for inst in list {
                    a.obj(|o| contract_row(o, inst, now_ms));
                }
            })
        }),
        "/v2/linear-swap-ex/market/detail/batch_merged"
        | "/linear-swap-ex/market/detail/batch_merged" => {
            listed(venue, query, now_ms, true, |list| {
                let mut b = String::with_capacity(64 + list.len() * 420);
                json::object(&mut b, |o| {
                    o.str("status", "ok")
                        .arr("ticks", |a| {
                            for inst in list {
                                a.obj(|o| tick_row(o, inst, now_ms));
                            }
                        })
                        .int("ts", now_ms as i64);
                });
                ApiResponse::json(200, b)
            })
        }
        "/linear-swap-api/v1/swap_open_interest" => listed(venue, query, now_ms, true, |list| {
            data(now_ms, list.len() * 300, |a| {
                for inst in list {
                    a.obj(|o| open_interest_row(o, inst, now_ms));
                }
            })
        }),
        "/linear-swap-api/v1/swap_batch_funding_rate" => {
            let list: Vec<&Instrument> = match query.non_empty("contract_code") {
                Some(code) => match venue.universe.get(code) {
                    Some(inst) if inst.is_perpetual() => vec![inst],
                    _ => return Some(error(UNKNOWN_CONTRACT, now_ms)),
                },
                None => venue
                    .universe
                    .trading()
                    .filter(|i| i.is_perpetual())
                    .collect(),
            };
            data(now_ms, list.len() * 240, |a| {
                for inst in &list {
                    a.obj(|o| {
                        funding_fields(o, inst, now_ms);
                        o.str("symbol", &inst.base)
                            .str("fee_asset", inst.quote)
                            .null("estimated_rate");
                    });
                }
            })
        }
        "/v5/market/funding_rate" => v5_funding(venue, query, now_ms),
        _ => return None,
    })
}

/// An HTX legacy error answer (HTTP 200).
pub fn error(code: i64, now_ms: u64) -> ApiResponse {
    let msg = default_error_msg(ExchangeKind::Htx, code);
    ApiResponse::json(200, error_envelope(ExchangeKind::Htx, code, msg, now_ms))
}

fn data(now_ms: u64, capacity: usize, f: impl FnOnce(&mut json::Arr<'_>)) -> ApiResponse {
    let mut b = String::with_capacity(64 + capacity);
    json::object(&mut b, |o| {
        o.str("status", "ok")
            .arr("data", f)
            .int("ts", now_ms as i64);
    });
    ApiResponse::json(200, b)
}

/// The instruments an endpoint lists for `business_type` (default `swap`) and an optional
/// `contract_code`; `trading_only` for the market-data endpoints.
fn listed(
    venue: &Venue,
    query: &Query,
    now_ms: u64,
    trading_only: bool,
    answer: impl FnOnce(&[&Instrument]) -> ApiResponse,
) -> ApiResponse {
    let (swaps, futures) = match query.non_empty("business_type").unwrap_or("swap") {
        "swap" => (true, false),
        "futures" => (false, true),
        "all" => (true, true),
        _ => return error(1014, now_ms),
    };
    let code = query.non_empty("contract_code");
    if let Some(code) = code {
        if venue.universe.get(code).is_none() {
            return error(UNKNOWN_CONTRACT, now_ms);
        }
    }
    let list: Vec<&Instrument> = venue
        .universe
        .instruments
        .iter()
        .filter(|i| if i.is_perpetual() { swaps } else { futures })
        .filter(|i| !trading_only || i.is_trading())
        .filter(|i| code.is_none_or(|c| c == i.symbol))
        .collect();
    answer(&list)
}

/// Base coin per contract: BTC 0.001, ETH 0.01, others a power of ten worth about 1 USDT
/// (`PEPE-USDT` 100 000).
pub fn contract_size(inst: &Instrument) -> f64 {
    match inst.rank {
        0 => 0.001,
        1 => 0.01,
        _ => 10f64.powf(
            (TARGET_CONTRACT_USD / inst.level)
                .log10()
                .round()
                .clamp(-4.0, 7.0),
        ),
    }
}

/// Decimals that write a contract size exactly.
fn size_places(size: f64) -> u32 {
    (-size.log10().floor()).clamp(0.0, 8.0) as u32
}

fn contract_status(inst: &Instrument) -> i64 {
    match inst.status {
        Status::Trading => 1,
        Status::PreLaunch => 2,
        Status::Settling => 0,
    }
}

fn number(o: &mut json::Obj<'_>, key: &str, value: f64, places: u32) {
    o.raw(key, &json::fixed(value, places, true));
}

fn contract_row(o: &mut json::Obj<'_>, inst: &Instrument, now_ms: u64) {
    let size = contract_size(inst);
    let (business, kind, delivery) = match inst.contract {
        Contract::Quarterly { expiry_ms, next } => (
            "futures",
            if next { "next_quarter" } else { "quarter" },
            Some(expiry_ms),
        ),
        _ => ("swap", "swap", None),
    };
    let next_settlement = (now_ms / (8 * HOUR_MS) + 1) * 8 * HOUR_MS;
    o.str("symbol", &inst.base)
        .str("contract_code", &inst.symbol);
    number(o, "contract_size", size, size_places(size));
    number(o, "price_tick", inst.tick(), inst.price_dp);
    match delivery {
        Some(at) => o
            .str("delivery_date", &yyyymmdd(at))
            .str("delivery_time", &at.to_string()),
        None => o.str("delivery_date", "").str("delivery_time", ""),
    };
    o.str("create_date", &yyyymmdd(inst.listed_ms))
        .int("contract_status", contract_status(inst))
        .str("settlement_date", &next_settlement.to_string())
        .str(
            "support_margin_mode",
            if delivery.is_some() { "cross" } else { "all" },
        )
        .str("business_type", business)
        .str("pair", &format!("{}-{}", inst.base, inst.quote))
        .str("contract_type", kind);
}

/// Contracts for a base quantity (at least one).
fn contracts(inst: &Instrument, base_qty: f64) -> f64 {
    (base_qty / contract_size(inst)).round().max(1.0)
}

fn tick_row(o: &mut json::Obj<'_>, inst: &Instrument, now_ms: u64) {
    let s = inst.snapshot(now_ms);
    let pd = inst.price_dp;
    let size = contract_size(inst);
    let number_of = contracts(inst, s.vol_base);
    let amount = round_to(number_of * size, 8);
    let turnover = round_to(s.vol_quote, 4);
    let level = |price: f64, qty: f64| {
        format!(
            "[{},{}]",
            json::fixed(price, pd, true),
            json::fixed(contracts(inst, qty), 0, true)
        )
    };
    let business = if inst.is_perpetual() {
        "swap"
    } else {
        "futures"
    };
    o.int("id", (s.ts_ms / 1000) as i64)
        .int("ts", s.ts_ms as i64)
        .raw("ask", &level(s.ask, s.ask_qty))
        .raw("bid", &level(s.bid, s.bid_qty))
        .str("business_type", business)
        .str("contract_code", &inst.symbol)
        .dec_trim("open", s.open_24h, pd)
        .dec_trim("close", s.last, pd)
        .dec_trim("low", s.low_24h, pd)
        .dec_trim("high", s.high_24h, pd)
        .dec_trim("amount", amount, 8)
        .int("count", s.trades_24h as i64)
        .dec_trim("vol", turnover, 4)
        .dec_trim("number_of", number_of, 0)
        .dec_trim("trade_turnover", turnover, 4)
        .dec_trim("trade_partition", 0.0, 0);
}

fn open_interest_row(o: &mut json::Obj<'_>, inst: &Instrument, now_ms: u64) {
    let s = inst.snapshot(now_ms);
    let size = contract_size(inst);
    let volume = contracts(inst, s.oi_base);
    let amount = round_to(volume * size, 8);
    let (business, kind) = match inst.contract {
        Contract::Quarterly { next, .. } => {
            ("futures", if next { "next_quarter" } else { "quarter" })
        }
        _ => ("swap", "swap"),
    };
    let number_of = contracts(inst, s.vol_base);
    number(o, "volume", volume, 0);
    number(o, "amount", amount, 8);
    o.str("symbol", &inst.base);
    number(o, "value", round_to(amount * s.mark, 4), 4);
    o.str("contract_code", &inst.symbol);
    number(o, "trade_amount", round_to(number_of * size, 8), 8);
    number(o, "trade_volume", number_of, 0);
    number(o, "trade_turnover", round_to(s.vol_quote, 4), 4);
    o.str("business_type", business)
        .str("pair", &format!("{}-{}", inst.base, inst.quote))
        .str("contract_type", kind);
}

/// `funding_rate`, `contract_code`, `funding_time` (settlement of the current rate),
/// `next_funding_time` (the one after): strings, as HTX sends them.
fn funding_fields(o: &mut json::Obj<'_>, inst: &Instrument, now_ms: u64) {
    let s = inst.snapshot(now_ms);
    let interval = u64::from(inst.funding_hours) * HOUR_MS;
    o.dec("funding_rate", s.funding_rate, 18)
        .str("contract_code", &inst.symbol)
        .str("funding_time", &s.next_funding_ms.to_string())
        .str(
            "next_funding_time",
            &(s.next_funding_ms + interval).to_string(),
        );
}

fn v5_funding(venue: &Venue, query: &Query, now_ms: u64) -> ApiResponse {
    let inst = query
        .non_empty("contract_code")
        .and_then(|code| venue.universe.get(code))
        .filter(|i| i.is_perpetual());
    let mut b = String::with_capacity(400);
    json::object(&mut b, |o| match inst {
        Some(inst) => {
            o.int("code", V5_SUCCESS)
                .str("message", "Success")
                .arr("data", |a| {
                    a.obj(|o| {
                        funding_fields(o, inst, now_ms);
                        o.dec("min_funding_rate", inst.funding_floor, 18).dec(
                            "max_funding_rate",
                            inst.funding_cap,
                            18,
                        );
                    });
                })
                .int("ts", now_ms as i64);
        }
        None => {
            o.int("code", UNKNOWN_CONTRACT)
                .str(
                    "message",
                    default_error_msg(ExchangeKind::Htx, UNKNOWN_CONTRACT),
                )
                .null("data")
                .int("ts", now_ms as i64);
        }
    });
    ApiResponse::json(200, b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exchanges::respond as route;

    fn venue(universe: usize) -> Venue {
        Venue::new(InstanceConfig {
            universe,
            ..InstanceConfig::new("htx", ExchangeKind::Htx)
        })
    }

    fn get(v: &Venue, path: &str, query: &str, now: u64) -> serde_json::Value {
        let r = route(v, "GET", path, &Query::parse(Some(query)), now);
        assert_eq!(r.status, 200, "{path}: {}", r.body);
        serde_json::from_str(&r.body).unwrap()
    }

    #[test]
    fn universe_has_swaps_dated_futures_and_odd_statuses() {
        let v = venue(250);
        let list = &v.universe.instruments;
        assert_eq!(list.len(), 250);
        assert_eq!(list.iter().filter(|i| !i.is_perpetual()).count(), 4);
        assert!(list.iter().any(|i| i.status == Status::PreLaunch));
        assert!(list.iter().any(|i| i.status == Status::Settling));
        let now = 1_790_000_123_456;
        let swaps = get(&v, "/linear-swap-api/v1/swap_contract_info", "", now);
        let all = get(
            &v,
            "/linear-swap-api/v1/swap_contract_info",
            "business_type=all",
            now,
        );
        assert_eq!(swaps["data"].as_array().unwrap().len(), 246);
        assert_eq!(all["data"].as_array().unwrap().len(), 250);
        let btc = &swaps["data"][0];
        assert_eq!(btc["contract_code"], "BTC-USDT");
        assert_eq!(btc["contract_size"].as_f64(), Some(0.001));
        assert_eq!(btc["delivery_date"], "");
        let dated = all["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["business_type"] == "futures")
            .unwrap();
        assert_eq!(dated["delivery_date"].as_str().unwrap().len(), 8);
    }

    #[test]
    fn market_and_funding_rows_speak_htx_units() {
        let v = venue(120);
        let now = 1_790_000_123_456;
        let ticks = get(&v, "/v2/linear-swap-ex/market/detail/batch_merged", "", now);
        let btc = ticks["ticks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["contract_code"] == "BTC-USDT")
            .unwrap();
        let amount: f64 = btc["amount"].as_str().unwrap().parse().unwrap();
        let number_of: f64 = btc["number_of"].as_str().unwrap().parse().unwrap();
        assert!((amount - number_of * 0.001).abs() < 1e-9);
        assert!(btc["bid"][0].as_f64().unwrap() < btc["ask"][0].as_f64().unwrap());
        let funding = get(&v, "/linear-swap-api/v1/swap_batch_funding_rate", "", now);
        for row in funding["data"].as_array().unwrap() {
            let at: u64 = row["funding_time"].as_str().unwrap().parse().unwrap();
            let next: u64 = row["next_funding_time"].as_str().unwrap().parse().unwrap();
            assert!(at > now && next > at, "{row}");
            assert!([1, 4, 8].contains(&((next - at) / HOUR_MS)), "{row}");
            assert!(row["estimated_rate"].is_null());
        }
        let v5 = get(&v, "/v5/market/funding_rate", "contract_code=BTC-USDT", now);
        assert_eq!(v5["code"], 200);
        assert!(v5["data"][0]["max_funding_rate"].is_string());
        let unknown = get(
            &v,
            "/v5/market/funding_rate",
            "contract_code=NOPE-USDT",
            now,
        );
        assert_eq!(unknown["code"], UNKNOWN_CONTRACT);
        let refused = get(
            &v,
            "/linear-swap-api/v1/swap_open_interest",
            "contract_code=NOPE-USDT",
            now,
        );
        assert_eq!(refused["status"], "error");
        assert_eq!(refused["err_code"], UNKNOWN_CONTRACT);
    }
}
