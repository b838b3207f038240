//! The three emulated REST APIs behind one entry point: `respond(venue, method, path, query)`.
//!
//! Owns: routing a request below an instance prefix to its exchange module, the response value
//! those modules return (`ApiResponse`), each exchange's error envelope (also used by faults),
//! and the bits the modules share (query lookup, "now").
//! Must not: sleep, count requests or apply faults (the server does), or keep state between
//! requests beyond Binance's used-weight counter.

pub mod binance;
pub mod bingx;
pub mod bitget;
pub mod bitmex;
pub mod bybit;
pub mod deribit;
pub mod dydx;
pub mod gate;
pub mod htx;
pub mod hyperliquid;
pub mod krakenfutures;
pub mod kucoinfutures;
pub mod mexc;
pub mod okx;

use std::{
    sync::Mutex,
    time::{SystemTime, UNIX_EPOCH},
};

use axum::{
    body::Body,
    http::{header, HeaderValue, StatusCode},
    response::Response,
};

use crate::{
    config::{ExchangeKind, InstanceConfig},
    json,
    market::Universe,
};

/// Everything an exchange module needs to answer for one instance.
pub struct Venue {
    pub cfg: InstanceConfig,
    pub universe: Universe,
    /// Binance `X-MBX-USED-WEIGHT-1M`: (minute, weight used in it).
    weight: Mutex<(u64, u64)>,
}

impl Venue {
    /// Builds the instance's universe now.
    pub fn new(cfg: InstanceConfig) -> Venue {
        let universe = Universe::build(&cfg, now_ms());
        Venue {
            cfg,
            universe,
            weight: Mutex::new((0, 0)),
        }
    }

    /// Adds `weight` to the current minute's tally and returns the new total.
    pub fn use_weight(&self, now_ms: u64, weight: u64) -> u64 {
        let mut g = self.weight.lock().unwrap_or_else(|e| e.into_inner());
        let minute = now_ms / 60_000;
        if g.0 != minute {
            *g = (minute, 0);
        }
        g.1 += weight;
        g.1
    }
}

/// The decoded query string, in order; the first occurrence of a key wins.
#[derive(Debug, Default, Clone)]
pub struct Query(pub Vec<(String, String)>);

impl Query {
    /// Decodes a raw query string (`a=1&b=x%20y`); undecodable input gives an empty query.
    pub fn parse(raw: Option<&str>) -> Query {
        let Some(raw) = raw else {
            return Query::default();
        };
        let uri = format!("/?{raw}");
        match uri.parse::<axum::http::Uri>() {
            Ok(uri) => axum::extract::Query::<Vec<(String, String)>>::try_from_uri(&uri)
                .map(|q| Query(q.0))
                .unwrap_or_default(),
            Err(_) => Query::default(),
        }
    }

    /// The value of `key`, if present.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The value of `key` unless it is missing or empty.
    pub fn non_empty(&self, key: &str) -> Option<&str> {
        self.get(key).filter(|v| !v.is_empty())
    }
}

/// A complete answer, before faults are applied.
#[derive(Debug, Clone)]
pub struct ApiResponse {
    pub status: u16,
    pub content_type: &'static str,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
}

impl ApiResponse {
    /// A JSON answer.
    pub fn json(status: u16, body: String) -> Self {
        ApiResponse {
            status,
            content_type: "application/json",
            headers: Vec::new(),
            body,
        }
    }

    /// A plain-text answer.
    pub fn text(status: u16, body: impl Into<String>) -> Self {
        ApiResponse {
            status,
            content_type: "text/plain; charset=utf-8",
            headers: Vec::new(),
            body: body.into(),
        }
    }

    /// Adds a header.
    pub fn with_header(mut self, name: &'static str, value: String) -> Self {
        self.headers.push((name, value));
        self
    }

    /// Converts into an HTTP response (Content-Length from the body).
    pub fn into_response(self) -> Response {
        let body = Body::from(self.body);
        let mut resp = Response::new(body);
        *resp.status_mut() = status_code(self.status);
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(self.content_type),
        );
        for (name, value) in self.headers {
            if let Ok(v) = HeaderValue::from_str(&value) {
                resp.headers_mut().insert(name, v);
            }
        }
        resp
    }
}

/// A status code, 500 when `code` is not a valid one.
pub fn status_code(code: u16) -> StatusCode {
    StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

/// Answers one request below an instance prefix (`path` like `/fapi/v1/ticker/24hr`).
pub fn respond(venue: &Venue, method: &str, path: &str, query: &Query, now_ms: u64) -> ApiResponse {
    respond_with_body(venue, method, path, query, &[], now_ms)
}

/// [`respond`] with the request's body (Hyperliquid's `POST /info` queries are JSON bodies).
pub fn respond_with_body(
    venue: &Venue,
    method: &str,
    path: &str,
    query: &Query,
    body: &[u8],
    now_ms: u64,
) -> ApiResponse {
    if venue.cfg.exchange == ExchangeKind::Hyperliquid {
        return hyperliquid::respond(venue, method, path, body, now_ms)
            .unwrap_or_else(|| ApiResponse::text(404, "Not Found"));
    }
    if method != "GET" && method != "HEAD" {
        return ApiResponse::text(405, "Method Not Allowed");
    }
    let answer = match venue.cfg.exchange {
        ExchangeKind::Binance => binance::respond(venue, path, query, now_ms),
        ExchangeKind::Bybit => bybit::respond(venue, path, query, now_ms),
        ExchangeKind::Okx => okx::respond(venue, path, query, now_ms),
        ExchangeKind::Bitget => bitget::respond(venue, path, query, now_ms),
        ExchangeKind::Gate => gate::respond(venue, path, query, now_ms),
        ExchangeKind::Hyperliquid => None,
        ExchangeKind::Mexc => mexc::respond(venue, path, query, now_ms),
        ExchangeKind::KucoinFutures => kucoinfutures::respond(venue, path, query, now_ms),
        ExchangeKind::Htx => htx::respond(venue, path, query, now_ms),
        ExchangeKind::Bitmex => bitmex::respond(venue, path, query, now_ms),
        ExchangeKind::KrakenFutures => krakenfutures::respond(venue, path, query, now_ms),
        ExchangeKind::Deribit => deribit::respond(venue, path, query, now_ms),
        ExchangeKind::Dydx => dydx::respond(venue, path, query, now_ms),
        ExchangeKind::Bingx => bingx::respond(venue, path, query, now_ms),
    };
    answer.unwrap_or_else(|| ApiResponse::text(404, "Not Found"))
}

/// The exchange's error body for `code`/`msg`: Binance `{"code":-1121,"msg":"..."}`, Bybit
/// `{"retCode":10006,"retMsg":"...","result":{},"retExtInfo":{},"time":...}`, OKX
/// `{"code":"50011","msg":"...","data":[]}`.
pub fn error_envelope(kind: ExchangeKind, code: i64, msg: &str, now_ms: u64) -> String {
    let mut b = String::with_capacity(128);
    match kind {
        ExchangeKind::Binance => json::object(&mut b, |o| {
            o.int("code", code).str("msg", msg);
        }),
        ExchangeKind::Bybit => json::object(&mut b, |o| {
            o.int("retCode", code)
                .str("retMsg", msg)
                .raw("result", "{}")
                .raw("retExtInfo", "{}")
                .int("time", now_ms as i64);
        }),
        ExchangeKind::Okx => json::object(&mut b, |o| {
            o.str("code", &code.to_string())
                .str("msg", msg)
                .raw("data", "[]");
        }),
        ExchangeKind::Bitget => bitget::error_body(&mut b, code, msg, now_ms),
        ExchangeKind::Gate => gate::error_body(&mut b, code, msg),
        ExchangeKind::Hyperliquid => hyperliquid::error_body(&mut b, msg),
        ExchangeKind::Mexc => mexc::error_body(&mut b, code, msg),
        ExchangeKind::KucoinFutures => json::object(&mut b, |o| {
            o.str("code", &code.to_string()).str("msg", msg);
        }),
        ExchangeKind::Htx => json::object(&mut b, |o| {
            o.str("status", "error")
                .int("err_code", code)
                .str("err_msg", msg)
                .int("ts", now_ms as i64);
        }),
        ExchangeKind::Bitmex => bitmex::error_body(&mut b, msg),
        ExchangeKind::KrakenFutures => krakenfutures::error_body(&mut b, msg, now_ms),
        ExchangeKind::Deribit => deribit::error_body(&mut b, code, msg, now_ms),
        ExchangeKind::Dydx => dydx::error_body(&mut b, msg),
        ExchangeKind::Bingx => bingx::error_body(&mut b, code, msg, now_ms),
    }
    b
}

/// The message each exchange sends with a given error code (a generic one for unknown codes).
pub fn default_error_msg(kind: ExchangeKind, code: i64) -> &'static str {
    match (kind, code) {
        (ExchangeKind::Binance, -1003) => {
            "Too many requests; current limit of IP(127.0.0.1) is 2400 requests per minute. Please use the websocket for live updates to avoid polling the API."
        }
        (ExchangeKind::Binance, -1000) => "An unknown error occurred while processing the request.",
        (ExchangeKind::Binance, -1001) => "Internal error; unable to process your request. Please try again.",
        (ExchangeKind::Binance, -1121) => "Invalid symbol.",
        (ExchangeKind::Binance, -1102) => "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed.",
        (ExchangeKind::Binance, _) => "An unknown error occurred while processing the request.",
        (ExchangeKind::Bybit, 10006) => "Too many visits!",
        (ExchangeKind::Bybit, 10016) => "Server error.",
        (ExchangeKind::Bybit, 10001) => "params error",
        (ExchangeKind::Bybit, _) => "System error.",
        (ExchangeKind::Okx, 50011) => "Too Many Requests",
        (ExchangeKind::Okx, 50001) => "Service temporarily unavailable. Please try again later.",
        (ExchangeKind::Okx, 50013) => "Systems are busy. Please try again later.",
        (ExchangeKind::Okx, 51001) => "Instrument ID does not exist",
        (ExchangeKind::Okx, _) => "System error",
        (ExchangeKind::Bitget, code) => bitget::default_error_msg(code),
        (ExchangeKind::Gate, code) => gate::default_error_msg(code),
        (ExchangeKind::Hyperliquid, _) => hyperliquid::default_error_msg(code),
        (ExchangeKind::Mexc, _) => mexc::default_error_msg(code),
        (ExchangeKind::KucoinFutures, 429000) => "Too Many Requests",
        (ExchangeKind::KucoinFutures, 400100) => "Parameter Error",
        (ExchangeKind::KucoinFutures, _) => "Internal Server Error",
        (ExchangeKind::Htx, 1013) => "This contract symbol doesnt exist.",
        (ExchangeKind::Htx, 1032) => "Requests too frequent, please try again later.",
        (ExchangeKind::Htx, _) => "System exception, please try again later.",
        (ExchangeKind::Bitmex, code) => bitmex::default_error_msg(code),
        (ExchangeKind::KrakenFutures, code) => krakenfutures::default_error_msg(code),
        (ExchangeKind::Deribit, _) => deribit::default_error_msg(code),
        (ExchangeKind::Dydx, _) => dydx::default_error_msg(code),
        (ExchangeKind::Bingx, code) => bingx::default_error_msg(code),
    }
}

/// Wall-clock time in Unix ms.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// A body of `rows` objects built by `row` into a JSON array, with a capacity guess.
pub(crate) fn rows<'a, T: 'a>(
    items: impl Iterator<Item = &'a T>,
    capacity: usize,
    mut row: impl FnMut(&mut json::Obj<'_>, &T),
) -> String {
    let mut b = String::with_capacity(capacity);
    json::array(&mut b, |a| {
        for item in items {
            a.obj(|o| row(o, item));
        }
    });
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_decodes_and_first_wins() {
        let q = Query::parse(Some("a=1&b=x%20y&a=2&c="));
        assert_eq!(q.get("a"), Some("1"));
        assert_eq!(q.get("b"), Some("x y"));
        assert_eq!(q.get("c"), Some(""));
        assert_eq!(q.non_empty("c"), None);
        assert_eq!(Query::parse(None).get("a"), None);
    }

    #[test]
    fn envelopes_are_json() {
        for kind in ExchangeKind::ALL {
            let v: serde_json::Value =
                serde_json::from_str(&error_envelope(kind, 1, "x\"y", 5)).unwrap();
            assert!(v.is_object());
        }
        let v: serde_json::Value =
            serde_json::from_str(&error_envelope(ExchangeKind::Okx, 50011, "m", 5)).unwrap();
        assert_eq!(v["code"], "50011");
    }
}
