//! Every emulated endpoint through a real HTTP client: shapes and JSON types as the real APIs send
//! them, query semantics, Bybit pagination, universe sizes, time evolution.

mod common;

use std::collections::HashSet;

use common::*;
use exchange_emulator::{EmulatorConfig, ExchangeKind, InstanceConfig};
use serde_json::Value;

const HOUR: i64 = 3_600_000;
const PERPETUAL_DELIVERY: i64 = 4_133_404_800_000;

fn arr(v: &Value) -> &Vec<Value> {
    v.as_array()
        .unwrap_or_else(|| panic!("not an array: {v:.200}"))
}

// ---------------------------------------------------------------- binance

#[tokio::test]
async fn binance_exchange_info_lists_the_universe() {
    let emu = start_default().await;
    let info = ok_json(&emu, "binance", "/fapi/v1/exchangeInfo").await;
    assert_eq!(s(&info, "timezone"), "UTC");
    assert!(info["serverTime"].is_i64());
    assert!(arr(&info["rateLimits"])
        .iter()
        .any(|r| r["rateLimitType"] == "REQUEST_WEIGHT" && r["limit"] == 2400));
    let symbols = arr(&info["symbols"]);
    assert_eq!(symbols.len(), 650);
    let names: HashSet<&str> = symbols.iter().map(|x| s(x, "symbol")).collect();
    assert_eq!(names.len(), 650, "symbols are unique");
    for name in [
        "BTCUSDT",
        "ETHUSDT",
        "SOLUSDT",
        "XRPUSDT",
        "DOGEUSDT",
        "1000PEPEUSDT",
        "BTCUSDC",
        "C0001USDT",
    ] {
        assert!(names.contains(name), "{name} listed");
    }
    for x in symbols {
        for key in [
            "symbol",
            "pair",
            "contractType",
            "status",
            "baseAsset",
            "quoteAsset",
            "marginAsset",
            "underlyingType",
        ] {
            s(x, key);
        }
        for key in [
            "deliveryDate",
            "onboardDate",
            "pricePrecision",
            "quantityPrecision",
        ] {
            int(x, key);
        }
        let filters = arr(&x["filters"]);
        let price = filters
            .iter()
            .find(|f| f["filterType"] == "PRICE_FILTER")
            .expect("PRICE_FILTER");
        let tick = num(price, "tickSize");
        assert!(tick > 0.0 && tick <= 1.0, "{x}");
        assert!(num(price, "minPrice") < num(price, "maxPrice"));
        assert!(filters
            .iter()
            .any(|f| f["filterType"] == "LOT_SIZE" && num(f, "stepSize") > 0.0));
        match s(x, "contractType") {
            "PERPETUAL" => {
                assert_eq!(int(x, "deliveryDate"), PERPETUAL_DELIVERY);
                assert_eq!(s(x, "pair"), s(x, "symbol"));
            }
            "CURRENT_QUARTER" | "NEXT_QUARTER" => {
                let sym = s(x, "symbol");
                assert!(
                    sym.starts_with("BTCUSDT_") || sym.starts_with("ETHUSDT_"),
                    "{sym}"
                );
                assert!(
                    int(x, "deliveryDate") > now_ms()
                        && int(x, "deliveryDate") < PERPETUAL_DELIVERY
                );
                assert_eq!(int(x, "deliveryDate") % HOUR, 8 * HOUR % HOUR);
            }
            other => panic!("contractType {other}"),
        }
    }
    let count = |f: &dyn Fn(&Value) -> bool| symbols.iter().filter(|x| f(x)).count();
    assert_eq!(count(&|x| x["contractType"] == "CURRENT_QUARTER"), 2);
    assert_eq!(count(&|x| x["contractType"] == "NEXT_QUARTER"), 2);
    assert!(count(&|x| x["quoteAsset"] == "USDC" && x["marginAsset"] == "USDC") >= 10);
    assert!(count(&|x| x["status"] == "PENDING_TRADING") >= 2);
    assert!(count(&|x| x["status"] == "SETTLING") >= 2);
    assert!(count(&|x| x["status"] == "TRADING") > 600);
    let btc = symbols.iter().find(|x| x["symbol"] == "BTCUSDT").unwrap();
    assert_eq!((s(btc, "baseAsset"), s(btc, "quoteAsset")), ("BTC", "USDT"));
    let pepe = symbols
        .iter()
        .find(|x| x["symbol"] == "1000PEPEUSDT")
        .unwrap();
    assert_eq!(s(pepe, "baseAsset"), "1000PEPE");
    emu.shutdown().await;
}

#[tokio::test]
async fn binance_tickers_cover_trading_symbols_with_string_decimals() {
    let emu = start_default().await;
    let info = ok_json(&emu, "binance", "/fapi/v1/exchangeInfo").await;
    let trading: HashSet<String> = arr(&info["symbols"])
        .iter()
        .filter(|x| x["status"] == "TRADING")
        .map(|x| s(x, "symbol").to_string())
        .collect();

    let t24 = ok_json(&emu, "binance", "/fapi/v1/ticker/24hr").await;
    assert_eq!(arr(&t24).len(), trading.len());
    for r in arr(&t24) {
        assert!(trading.contains(s(r, "symbol")));
        for key in [
            "priceChange",
            "priceChangePercent",
            "weightedAvgPrice",
            "lastPrice",
            "lastQty",
            "openPrice",
            "highPrice",
            "lowPrice",
            "volume",
            "quoteVolume",
        ] {
            num(r, key);
        }
        for key in ["openTime", "closeTime", "firstId", "lastId", "count"] {
            int(r, key);
        }
        assert!(
            num(r, "lowPrice") <= num(r, "lastPrice") && num(r, "lastPrice") <= num(r, "highPrice"),
            "{r}"
        );
        assert!(
            (num(r, "quoteVolume") / (num(r, "volume") * num(r, "lastPrice")) - 1.0).abs() < 0.2,
            "{r}"
        );
    }

    let book = ok_json(&emu, "binance", "/fapi/v1/ticker/bookTicker").await;
    assert_eq!(arr(&book).len(), trading.len());
    for r in arr(&book) {
        assert!(num(r, "bidPrice") < num(r, "askPrice"), "{r}");
        assert!(num(r, "bidQty") > 0.0 && num(r, "askQty") > 0.0);
        int(r, "time");
        int(r, "lastUpdateId");
    }

    let prem = ok_json(&emu, "binance", "/fapi/v1/premiumIndex").await;
    assert_eq!(arr(&prem).len(), trading.len());
    let now = now_ms();
    let mut dated = 0;
    for r in arr(&prem) {
        let (mark, index) = (num(r, "markPrice"), num(r, "indexPrice"));
        num(r, "estimatedSettlePrice");
        if s(r, "symbol").contains('_') {
            dated += 1;
            assert_eq!(int(r, "nextFundingTime"), 0, "{r}");
            assert!(matches!(s(r, "lastFundingRate"), "" | "0.00000000"), "{r}");
            assert!((mark / index - 1.0).abs() < 0.1);
        } else {
            assert!((mark / index - 1.0).abs() < 0.01, "mark ≈ index: {r}");
            let next = int(r, "nextFundingTime");
            assert!(next > now - 2_000 && next <= now + 8 * HOUR, "{r}");
            assert_eq!(next % HOUR, 0, "aligned to an hour boundary: {r}");
            let rate = num(r, "lastFundingRate");
            assert!(rate.abs() < 0.05);
            assert_eq!(
                s(r, "lastFundingRate").split('.').nth(1).map(str::len),
                Some(8)
            );
        }
    }
    assert_eq!(dated, 4);
    // Both spellings of an absent rate show up.
    assert!(arr(&prem).iter().any(|r| r["lastFundingRate"] == ""));
    assert!(arr(&prem)
        .iter()
        .any(|r| r["lastFundingRate"] == "0.00000000" && r["nextFundingTime"] == 0));
    emu.shutdown().await;
}

#[tokio::test]
async fn binance_symbol_query_returns_one_object_or_invalid_symbol() {
    let emu = start_default().await;
    for path in [
        "/fapi/v1/ticker/24hr",
        "/fapi/v1/ticker/bookTicker",
        "/fapi/v1/premiumIndex",
    ] {
        let one = ok_json(&emu, "binance", &format!("{path}?symbol=ETHUSDT")).await;
        assert!(one.is_object(), "{path}: {one}");
        assert_eq!(one["symbol"], "ETHUSDT");
        let (status, err) = get_json(&format!(
            "{}{path}?symbol=NOPEUSDT",
            emu.base_url("binance")
        ))
        .await;
        assert_eq!(status, 400);
        assert_eq!(
            err,
            serde_json::json!({"code": -1121, "msg": "Invalid symbol."})
        );
    }
    let info = ok_json(&emu, "binance", "/fapi/v1/exchangeInfo").await;
    let quarterly = arr(&info["symbols"])
        .iter()
        .find(|x| x["contractType"] == "CURRENT_QUARTER")
        .unwrap();
    let dated = ok_json(
        &emu,
        "binance",
        &format!("/fapi/v1/premiumIndex?symbol={}", s(quarterly, "symbol")),
    )
    .await;
    assert_eq!(dated["nextFundingTime"], 0);
    emu.shutdown().await;
}

#[tokio::test]
async fn binance_funding_info_and_open_interest() {
    let emu = start_default().await;
    let info = ok_json(&emu, "binance", "/fapi/v1/fundingInfo").await;
    let rows = arr(&info);
    assert!(!rows.is_empty() && rows.len() < 650);
    let mut hours = HashSet::new();
    for r in rows {
        s(r, "symbol");
        let cap = num(r, "adjustedFundingRateCap");
        assert_eq!(num(r, "adjustedFundingRateFloor"), -cap);
        let h = int(r, "fundingIntervalHours");
        hours.insert(h);
        assert!(
            h != 8 || cap != 0.0075,
            "default-interval rows only when the cap is adjusted: {r}"
        );
        assert!(r["disclaimer"].is_boolean());
    }
    assert!(hours.contains(&1) && hours.contains(&4), "{hours:?}");
    // A 4 h symbol's premiumIndex funding time is on a 4 h boundary.
    let four = rows
        .iter()
        .find(|r| r["fundingIntervalHours"] == 4)
        .unwrap();
    let p = ok_json(
        &emu,
        "binance",
        &format!("/fapi/v1/premiumIndex?symbol={}", s(four, "symbol")),
    )
    .await;
    assert_eq!(int(&p, "nextFundingTime") % (4 * HOUR), 0);
    assert_eq!(s(&p, "interestRate"), "0.00005000");

    let oi = ok_json(&emu, "binance", "/fapi/v1/openInterest?symbol=BTCUSDT").await;
    assert_eq!(oi["symbol"], "BTCUSDT");
    assert!(num(&oi, "openInterest") > 0.0);
    int(&oi, "time");
    let (status, err) = get_json(&format!(
        "{}/fapi/v1/openInterest?symbol=FOO",
        emu.base_url("binance")
    ))
    .await;
    assert_eq!((status, err["code"].as_i64()), (400, Some(-1121)));
    let (status, err) =
        get_json(&format!("{}/fapi/v1/openInterest", emu.base_url("binance"))).await;
    assert_eq!((status, err["code"].as_i64()), (400, Some(-1102)));
    emu.shutdown().await;
}

#[tokio::test]
async fn binance_reports_used_weight() {
    let emu = start_default().await;
    let c = client();
    let url = format!("{}/fapi/v1/ticker/24hr", emu.base_url("binance"));
    let w1: u64 = c.get(&url).send().await.unwrap().headers()["x-mbx-used-weight-1m"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let w2: u64 = c.get(&url).send().await.unwrap().headers()["x-mbx-used-weight-1m"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(w2 == w1 + 40 || w2 == 40, "{w1} {w2}");
    emu.shutdown().await;
}

// ---------------------------------------------------------------- bybit

fn bybit_ok(v: &Value) -> &Value {
    assert_eq!(v["retCode"], 0, "{v:.300}");
    assert_eq!(v["retMsg"], "OK");
    assert_eq!(v["retExtInfo"], serde_json::json!({}));
    assert!(v["time"].is_i64());
    &v["result"]
}

async fn bybit_pages(
    emu: &exchange_emulator::EmulatorHandle,
    limit: Option<usize>,
) -> (Vec<Value>, usize, Vec<String>) {
    let mut all = Vec::new();
    let mut requests = 0;
    let mut cursors = Vec::new();
    let mut cursor = String::new();
    loop {
        let mut url = format!(
            "{}/v5/market/instruments-info?category=linear",
            emu.base_url("bybit")
        );
        if let Some(l) = limit {
            url.push_str(&format!("&limit={l}"));
        }
        if !cursor.is_empty() {
            // Pass the cursor the way a careful client does: percent-encoded.
            url.push_str("&cursor=");
            url.push_str(
                &cursor
                    .replace('%', "%25")
                    .replace('&', "%26")
                    .replace('=', "%3D"),
            );
        }
        let (status, v) = get_json(&url).await;
        assert_eq!(status, 200);
        requests += 1;
        let result = bybit_ok(&v);
        assert_eq!(result["category"], "linear");
        let list = arr(&result["list"]);
        let next = s(result, "nextPageCursor").to_string();
        if list.is_empty() {
            assert_eq!(next, "", "an empty page ends the pagination");
            break;
        }
        assert!(
            !next.is_empty(),
            "every non-empty page, the last included, carries a cursor"
        );
        all.extend(list.iter().cloned());
        cursors.push(next.clone());
        cursor = next;
        assert!(requests < 100);
    }
    (all, requests, cursors)
}

#[tokio::test]
async fn bybit_pagination_follows_the_trailing_cursor_quirk() {
    let emu = start_default().await;
    // Default limit 500: 550 instruments = 500 + 50, then one empty page.
    let (all, requests, _) = bybit_pages(&emu, None).await;
    assert_eq!((all.len(), requests), (550, 3));
    let names: HashSet<&str> = all.iter().map(|x| s(x, "symbol")).collect();
    assert_eq!(names.len(), 550);
    // limit=200: 200+200+150, then empty.
    let (all, requests, cursors) = bybit_pages(&emu, Some(200)).await;
    assert_eq!((all.len(), requests), (550, 4));
    assert_eq!(
        cursors.iter().collect::<HashSet<_>>().len(),
        3,
        "opaque, distinct cursors"
    );
    // limit above 1000 is capped at 1000.
    let (all, requests, _) = bybit_pages(&emu, Some(5000)).await;
    assert_eq!((all.len(), requests), (550, 2));
    // The cursor also works passed verbatim, and garbage is a params error.
    let first = ok_json(
        &emu,
        "bybit",
        "/v5/market/instruments-info?category=linear&limit=100",
    )
    .await;
    let cursor = s(&first["result"], "nextPageCursor").to_string();
    let second = ok_json(
        &emu,
        "bybit",
        &format!("/v5/market/instruments-info?category=linear&limit=100&cursor={cursor}"),
    )
    .await;
    assert_eq!(second["result"]["list"][0], all[100]);
    let bad = ok_json(
        &emu,
        "bybit",
        "/v5/market/instruments-info?category=linear&cursor=garbage",
    )
    .await;
    assert_eq!(bad["retCode"], 10001);
    emu.shutdown().await;
}

#[tokio::test]
async fn bybit_instruments_shape_and_dated_futures() {
    let emu = start_default().await;
    let (all, _, _) = bybit_pages(&emu, Some(1000)).await;
    let mut intervals = HashSet::new();
    for x in &all {
        for key in [
            "symbol",
            "contractType",
            "status",
            "baseCoin",
            "quoteCoin",
            "launchTime",
            "deliveryTime",
            "priceScale",
            "settleCoin",
            "upperFundingRate",
            "lowerFundingRate",
        ] {
            s(x, key);
        }
        num(&x["priceFilter"], "tickSize");
        num(&x["lotSizeFilter"], "qtyStep");
        let interval = int(x, "fundingInterval");
        match s(x, "contractType") {
            "LinearPerpetual" => {
                assert_eq!(s(x, "deliveryTime"), "0");
                assert!([60, 240, 480].contains(&interval), "{x}");
                intervals.insert(interval);
                assert!(num(x, "upperFundingRate") > 0.0 && num(x, "lowerFundingRate") < 0.0);
            }
            "LinearFutures" => {
                let sym = s(x, "symbol");
                assert!(sym.starts_with("BTC-") || sym.starts_with("ETH-"), "{sym}");
                assert_eq!(sym.len(), "BTC-26DEC25".len());
                assert!(x["deliveryTime"].as_str().unwrap().parse::<i64>().unwrap() > now_ms());
                assert_eq!(s(x, "settleCoin"), "USDC");
            }
            other => panic!("{other}"),
        }
    }
    assert_eq!(intervals.len(), 3, "{intervals:?}");
    assert_eq!(
        all.iter()
            .filter(|x| x["contractType"] == "LinearFutures")
            .count(),
        4
    );
    let one = ok_json(
        &emu,
        "bybit",
        "/v5/market/instruments-info?category=linear&symbol=ETHUSDT",
    )
    .await;
    assert_eq!(arr(&one["result"]["list"]).len(), 1);
    emu.shutdown().await;
}

#[tokio::test]
async fn bybit_tickers_shape_and_category() {
    let emu = start_default().await;
    let v = ok_json(&emu, "bybit", "/v5/market/tickers?category=linear").await;
    let result = bybit_ok(&v);
    assert_eq!(result["category"], "linear");
    let list = arr(&result["list"]);
    assert!(list.len() >= 545 && list.len() <= 550, "{}", list.len());
    let now = now_ms();
    for r in list {
        for (k, val) in r.as_object().unwrap() {
            assert!(
                val.is_string(),
                "bybit sends every ticker field as a string: {k} in {r}"
            );
        }
        for key in [
            "lastPrice",
            "markPrice",
            "indexPrice",
            "bid1Price",
            "ask1Price",
            "openInterest",
            "openInterestValue",
            "turnover24h",
            "volume24h",
            "prevPrice24h",
            "price24hPcnt",
        ] {
            num(r, key);
        }
        assert!(num(r, "bid1Price") < num(r, "ask1Price"), "{r}");
        let oi_value = num(r, "openInterest") * num(r, "markPrice");
        assert!(
            (num(r, "openInterestValue") - oi_value).abs() <= oi_value * 1e-6 + 0.01,
            "{r}"
        );
        if s(r, "symbol").contains('-') {
            assert_eq!(s(r, "fundingRate"), "");
        } else {
            num(r, "fundingRate");
            let next: i64 = s(r, "nextFundingTime").parse().unwrap();
            assert!(next > now - 2_000 && next % HOUR == 0, "{r}");
            assert_eq!(s(r, "deliveryTime"), "0");
        }
    }
    let one = ok_json(
        &emu,
        "bybit",
        "/v5/market/tickers?category=linear&symbol=BTCUSDT",
    )
    .await;
    assert_eq!(arr(&one["result"]["list"]).len(), 1);
    for bad in [
        "/v5/market/tickers?category=spot",
        "/v5/market/tickers",
        "/v5/market/instruments-info?category=inverse",
    ] {
        let v = ok_json(&emu, "bybit", bad).await;
        assert_eq!(v["retCode"], 10001, "{bad}: {v}");
    }
    emu.shutdown().await;
}

// ---------------------------------------------------------------- okx

fn okx_data(v: &Value) -> &Vec<Value> {
    assert_eq!(v["code"], "0", "{v:.300}");
    assert_eq!(v["msg"], "");
    arr(&v["data"])
}

fn all_strings(r: &Value, except: &[&str]) {
    for (k, val) in r.as_object().unwrap() {
        if !except.contains(&k.as_str()) {
            assert!(val.is_string(), "okx sends {k} as a string: {r}");
        }
    }
}

#[tokio::test]
async fn okx_instruments_mix_linear_usdc_and_inverse() {
    let emu = start_default().await;
    let v = ok_json(&emu, "okx", "/api/v5/public/instruments?instType=SWAP").await;
    let data = okx_data(&v);
    assert_eq!(data.len(), 300);
    let mut ct_vals = Vec::new();
    for x in data {
        all_strings(x, &["instIdCode", "futureSettlement", "tradeQuoteCcyList"]);
        assert_eq!(s(x, "instType"), "SWAP");
        assert_eq!(s(x, "state"), "live");
        assert_eq!(s(x, "ctMult"), "1");
        assert_eq!(s(x, "expTime"), "");
        assert_eq!(s(x, "instFamily"), s(x, "uly"));
        num(x, "tickSz");
        num(x, "lotSz");
        let id = s(x, "instId");
        let base = id.split('-').next().unwrap();
        let ct_val = num(x, "ctVal");
        if id.ends_with("-USD-SWAP") {
            assert_eq!(s(x, "ctType"), "inverse");
            assert_eq!(s(x, "ctValCcy"), "USD");
            assert_eq!(s(x, "settleCcy"), base);
            assert!(ct_val == 100.0 || ct_val == 10.0);
        } else {
            assert_eq!(s(x, "ctType"), "linear");
            assert_eq!(s(x, "ctValCcy"), base);
            assert!(
                id.ends_with("-USDT-SWAP") || id.ends_with("-USDC-SWAP"),
                "{id}"
            );
            ct_vals.push(ct_val);
        }
    }
    let inverse = data.iter().filter(|x| x["ctType"] == "inverse").count();
    let usdc = data
        .iter()
        .filter(|x| s(x, "instId").ends_with("-USDC-SWAP"))
        .count();
    assert!((3..=10).contains(&inverse), "{inverse}");
    assert!(usdc >= 5);
    let (lo, hi) = ct_vals
        .iter()
        .fold((f64::MAX, 0f64), |(lo, hi), v| (lo.min(*v), hi.max(*v)));
    assert!(
        lo <= 0.001 && hi >= 1000.0,
        "ctVal spans a wide range: {lo}..{hi}"
    );
    let btc = data
        .iter()
        .find(|x| x["instId"] == "BTC-USDT-SWAP")
        .unwrap();
    assert_eq!(s(btc, "ctVal"), "0.01");
    let one = ok_json(
        &emu,
        "okx",
        "/api/v5/public/instruments?instType=SWAP&instId=ETH-USDT-SWAP",
    )
    .await;
    assert_eq!(okx_data(&one).len(), 1);
    let missing = ok_json(&emu, "okx", "/api/v5/public/instruments").await;
    assert_eq!(missing["code"], "50014");
    emu.shutdown().await;
}

#[tokio::test]
async fn okx_market_data_is_consistent_with_contract_values() {
    let emu = start_default().await;
    let inst = ok_json(&emu, "okx", "/api/v5/public/instruments?instType=SWAP").await;
    let ct: std::collections::HashMap<String, (f64, bool)> = okx_data(&inst)
        .iter()
        .map(|x| {
            (
                s(x, "instId").to_string(),
                (num(x, "ctVal"), x["ctType"] == "inverse"),
            )
        })
        .collect();

    let tickers = ok_json(&emu, "okx", "/api/v5/market/tickers?instType=SWAP").await;
    assert_eq!(okx_data(&tickers).len(), 300);
    for r in okx_data(&tickers) {
        all_strings(r, &[]);
        let (ct_val, inverse) = ct[s(r, "instId")];
        let (vol, vol_ccy, last) = (num(r, "vol24h"), num(r, "volCcy24h"), num(r, "last"));
        let expect = if inverse {
            vol * ct_val / last
        } else {
            vol * ct_val
        };
        assert!(
            (vol_ccy - expect).abs() <= expect * 1e-6 + 1e-8,
            "volCcy24h = vol24h × ctVal: {r}"
        );
        assert!(num(r, "bidPx") < num(r, "askPx"), "{r}");
        num(r, "ts");
    }

    let marks = ok_json(&emu, "okx", "/api/v5/public/mark-price?instType=SWAP").await;
    let mark: std::collections::HashMap<String, f64> = okx_data(&marks)
        .iter()
        .map(|r| (s(r, "instId").to_string(), num(r, "markPx")))
        .collect();
    assert_eq!(mark.len(), 300);

    let oi = ok_json(&emu, "okx", "/api/v5/public/open-interest?instType=SWAP").await;
    assert_eq!(okx_data(&oi).len(), 300);
    for r in okx_data(&oi) {
        all_strings(r, &[]);
        let (ct_val, inverse) = ct[s(r, "instId")];
        let (n, ccy, usd) = (num(r, "oi"), num(r, "oiCcy"), num(r, "oiUsd"));
        let m = mark[s(r, "instId")];
        if inverse {
            assert!((usd - n * ct_val).abs() <= usd * 1e-6 + 1.0, "{r}");
        } else {
            assert!((ccy - n * ct_val).abs() <= ccy * 1e-6 + 1e-8, "{r}");
        }
        // The same second: the mark used for oiUsd is the one mark-price shows (or one step later).
        assert!(
            (usd / (ccy * m) - 1.0).abs() < 0.01,
            "oiUsd = oiCcy × mark: {r} mark {m}"
        );
    }

    for (quote, at_least) in [("USDT", 200), ("USD", 250), ("USDC", 5)] {
        let v = ok_json(
            &emu,
            "okx",
            &format!("/api/v5/market/index-tickers?quoteCcy={quote}"),
        )
        .await;
        let rows = okx_data(&v);
        assert!(rows.len() >= at_least, "{quote}: {}", rows.len());
        for r in rows {
            assert!(s(r, "instId").ends_with(&format!("-{quote}")));
            assert!(num(r, "idxPx") > 0.0);
        }
    }
    let btc = ok_json(&emu, "okx", "/api/v5/market/index-tickers?instId=BTC-USDT").await;
    assert_eq!(okx_data(&btc).len(), 1);
    assert!((num(&okx_data(&btc)[0], "idxPx") / mark["BTC-USDT-SWAP"] - 1.0).abs() < 0.01);
    emu.shutdown().await;
}

#[tokio::test]
async fn okx_funding_rate_any_single_unknown_and_refused() {
    let mut cfg = EmulatorConfig::default_three();
    cfg.instances.push(InstanceConfig {
        okx_refuse_any: true,
        universe: 40,
        ..InstanceConfig::new("okx-strict", ExchangeKind::Okx)
    });
    let emu = start(cfg).await;
    let v = ok_json(&emu, "okx", "/api/v5/public/funding-rate?instId=ANY").await;
    let rows = okx_data(&v);
    assert_eq!(rows.len(), 300, "ANY returns every swap");
    let now = now_ms();
    let mut intervals = HashSet::new();
    for r in rows {
        all_strings(r, &[]);
        for key in [
            "fundingRate",
            "maxFundingRate",
            "minFundingRate",
            "fundingTime",
            "nextFundingTime",
            "ts",
            "interestRate",
            "premium",
            "settFundingRate",
        ] {
            num(r, key);
        }
        s(r, "method");
        let (ft, nft): (i64, i64) = (
            s(r, "fundingTime").parse().unwrap(),
            s(r, "nextFundingTime").parse().unwrap(),
        );
        let interval = nft - ft;
        assert!([HOUR, 4 * HOUR, 8 * HOUR].contains(&interval), "{r}");
        intervals.insert(interval);
        assert_eq!(ft % interval, 0, "fundingTime on an interval boundary: {r}");
        assert!(
            ft > now - 2_000 && ft <= now + interval,
            "fundingTime is the end of the current period: {r}"
        );
        let rate = num(r, "fundingRate");
        assert!(rate <= num(r, "maxFundingRate") && rate >= num(r, "minFundingRate"));
        match s(r, "nextFundingRate") {
            "" => assert_eq!(s(r, "method"), "current_period"),
            other => {
                other.parse::<f64>().unwrap();
            }
        }
    }
    assert_eq!(intervals.len(), 3);
    assert!(rows.iter().any(|r| r["nextFundingRate"] == ""));
    assert!(rows.iter().any(|r| r["nextFundingRate"] != ""));

    let one = ok_json(
        &emu,
        "okx",
        "/api/v5/public/funding-rate?instId=BTC-USD-SWAP",
    )
    .await;
    assert_eq!(okx_data(&one).len(), 1);
    assert_eq!(okx_data(&one)[0]["instId"], "BTC-USD-SWAP");

    let unknown = ok_json(
        &emu,
        "okx",
        "/api/v5/public/funding-rate?instId=NOPE-USDT-SWAP",
    )
    .await;
    assert_eq!(
        unknown,
        serde_json::json!({"code": "51001", "msg": "Instrument ID does not exist", "data": []})
    );

    let refused = ok_json(&emu, "okx-strict", "/api/v5/public/funding-rate?instId=ANY").await;
    assert_eq!(
        refused,
        serde_json::json!({"code": "51000", "msg": "Parameter instId error", "data": []})
    );
    let single = ok_json(
        &emu,
        "okx-strict",
        "/api/v5/public/funding-rate?instId=BTC-USDT-SWAP",
    )
    .await;
    assert_eq!(okx_data(&single).len(), 1);
    emu.shutdown().await;
}

// ---------------------------------------------------------------- all

#[tokio::test]
async fn universe_sizes_are_configurable() {
    let emu = start(small(37)).await;
    let info = ok_json(&emu, "binance", "/fapi/v1/exchangeInfo").await;
    assert_eq!(arr(&info["symbols"]).len(), 37);
    assert!(arr(&info["symbols"])
        .iter()
        .any(|x| x["contractType"] == "CURRENT_QUARTER"));
    let by = ok_json(
        &emu,
        "bybit",
        "/v5/market/instruments-info?category=linear&limit=1000",
    )
    .await;
    assert_eq!(arr(&by["result"]["list"]).len(), 37);
    let okx = ok_json(&emu, "okx", "/api/v5/public/instruments?instType=SWAP").await;
    assert_eq!(okx_data(&okx).len(), 37);
    assert!(okx_data(&okx).iter().any(|x| x["ctType"] == "inverse"));
    emu.shutdown().await;
}

#[tokio::test]
async fn prices_move_but_not_every_symbol_every_second() {
    let emu = start_default().await;
    let snap = |v: Value| -> std::collections::HashMap<String, (String, String)> {
        arr(&v["result"]["list"])
            .iter()
            .map(|r| {
                (
                    s(r, "symbol").to_string(),
                    (s(r, "lastPrice").to_string(), s(r, "bid1Price").to_string()),
                )
            })
            .collect()
    };
    let a = snap(ok_json(&emu, "bybit", "/v5/market/tickers?category=linear").await);
    tokio::time::sleep(std::time::Duration::from_millis(2_100)).await;
    let b = snap(ok_json(&emu, "bybit", "/v5/market/tickers?category=linear").await);
    let changed = a.iter().filter(|(k, v)| b.get(*k) != Some(v)).count();
    let frac = changed as f64 / a.len() as f64;
    assert!(frac > 0.2 && frac < 0.9, "{changed} of {} changed", a.len());
    emu.shutdown().await;
}

#[tokio::test]
async fn unknown_instance_and_path_are_404() {
    let emu = start(small(10)).await;
    let c = client();
    let base = emu.base_url("binance");
    assert_eq!(
        c.get(format!("{base}/fapi/v1/nope"))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        404
    );
    let other = emu.base_url("kraken");
    assert_eq!(
        c.get(format!("{other}/anything"))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        404
    );
    assert_eq!(
        c.post(format!("{base}/fapi/v1/ticker/24hr"))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        405
    );
    emu.shutdown().await;
}
