//! Request descriptors a plugin builds, responses the host hands back, and the per-call context.
//! Plugins never perform I/O: they describe requests; the host executes them.

use abi_stable::{
    std_types::{ROption, RSlice, RStr, RString, RVec},
    StableAbi,
};

use crate::{identity::sort_prefix, Record};

/// An owned key/value pair (query parameters, headers, `extra` fields).
#[repr(C)]
#[derive(StableAbi, Debug, Clone, PartialEq, Eq, Hash)]
pub struct KeyValue {
    pub key: RString,
    pub value: RString,
}

impl KeyValue {
    pub fn new(key: impl Into<RString>, value: impl Into<RString>) -> Self {
        Self {
            key: key.into(),
            value: value.into(),
        }
    }
}

/// A borrowed key/value pair (response headers, plugin options).
#[repr(C)]
#[derive(StableAbi, Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyValueRef<'a> {
    pub key: RStr<'a>,
    pub value: RStr<'a>,
}

/// HTTP method. A `u8` newtype so new methods do not break the ABI.
#[repr(transparent)]
#[derive(StableAbi, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct HttpMethod(pub u8);

impl HttpMethod {
    pub const GET: Self = Self(0);
    pub const POST: Self = Self(1);

    pub fn as_str(self) -> Option<&'static str> {
        match self {
            Self::GET => Some("GET"),
            Self::POST => Some("POST"),
            _ => None,
        }
    }
}

/// One HTTP request, relative to the exchange's base URL.
#[repr(C)]
#[derive(StableAbi, Debug, Clone, PartialEq)]
pub struct HttpRequest {
    pub method: HttpMethod,
    /// Path appended to the base URL, starting with `/`.
    pub path: RString,
    /// Query parameters, in order; the host URL-encodes them.
    pub query: RVec<KeyValue>,
    pub headers: RVec<KeyValue>,
    pub body: RVec<u8>,
    /// Cost against the exchange's rate limits (see `PluginInfo::rate_limits`); at least 1.
    pub weight: u32,
    /// Opaque label echoed back with the response (`oi:BTCUSDT`, `bookTicker`): tells `parse`
    /// which request a response answers and names the request in errors.
    pub tag: RString,
}

impl HttpRequest {
    /// A GET request with weight 1 and the given tag.
    pub fn get(path: impl Into<RString>, tag: impl Into<RString>) -> Self {
        Self {
            method: HttpMethod::GET,
            path: path.into(),
            query: RVec::new(),
            headers: RVec::new(),
            body: RVec::new(),
            weight: 1,
            tag: tag.into(),
        }
    }

    pub fn query(mut self, key: impl Into<RString>, value: impl Into<RString>) -> Self {
        self.query.push(KeyValue::new(key, value));
        self
    }

    pub fn weight(mut self, weight: u32) -> Self {
        self.weight = weight.max(1);
        self
    }

    /// The value of query parameter `key`, if set.
    pub fn query_value(&self, key: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|kv| kv.key.as_str() == key)
            .map(|kv| kv.value.as_str())
    }
}

/// A response as received by the host. The body is borrowed: parse with serde borrowing from it.
#[repr(C)]
#[derive(StableAbi, Debug, Clone, Copy)]
pub struct HttpResponse<'a> {
    /// The request this answers (path, query and tag as the plugin built it).
    pub request: &'a HttpRequest,
    pub status: u16,
    /// Header names are lower-case.
    pub headers: RSlice<'a, KeyValueRef<'a>>,
    pub body: RSlice<'a, u8>,
    /// When the host received the response (Unix ms): the records' `received_ts`.
    pub received_ts: i64,
}

impl<'a> HttpResponse<'a> {
    pub fn header(&self, name: &str) -> Option<&'a str> {
        self.headers
            .iter()
            .find(|kv| kv.key.as_str().eq_ignore_ascii_case(name))
            .map(|kv| kv.value.as_str())
    }

    pub fn body(&self) -> &'a [u8] {
        self.body.as_slice()
    }

    pub fn tag(&self) -> &'a str {
        self.request.tag.as_str()
    }
}

/// API credentials for signed endpoints (none of today's public endpoints need them).
#[repr(C)]
#[derive(StableAbi, Debug, Clone, Copy)]
pub struct Credentials<'a> {
    pub api_key: RStr<'a>,
    pub api_secret: RStr<'a>,
    pub passphrase: ROption<RStr<'a>>,
}

/// What the host tells a plugin on every call.
#[repr(C)]
#[derive(StableAbi, Debug, Clone, Copy)]
pub struct Context<'a> {
    /// The configured exchange instance id (usually the plugin's `exchange_id`).
    pub exchange_id: RStr<'a>,
    /// The host's clock, Unix ms (plugins must not read clocks themselves).
    pub now_ms: i64,
    /// Instrument records from the latest `instruments` cycle, sorted by `raw_symbol`
    /// (empty before the first one). Use [`Context::instrument`] to look one up.
    pub instruments: RSlice<'a, Record>,
    /// Plugin-specific options from the exchange's config section (`options` table).
    pub options: RSlice<'a, KeyValueRef<'a>>,
    pub credentials: ROption<Credentials<'a>>,
}

impl<'a> Context<'a> {
    /// The instrument with this exchange-native symbol (binary search; `instruments` is sorted).
    pub fn instrument(&self, raw_symbol: &str) -> Option<&'a Record> {
        let instruments = self.instruments.as_slice();
        instruments.get(instrument_position(instruments, raw_symbol)?)
    }

    pub fn option(&self, key: &str) -> Option<&'a str> {
        self.options
            .iter()
            .find(|kv| kv.key.as_str() == key)
            .map(|kv| kv.value.as_str())
    }
}

/// Where the instrument `raw_symbol` sits in `instruments`, which are sorted by raw symbol (as
/// `Context::instruments` are): the one binary search over them. The first 8 bytes of a symbol
/// decide almost every probe.
pub fn instrument_position(instruments: &[Record], raw_symbol: &str) -> Option<usize> {
    let prefix = sort_prefix(raw_symbol);
    instruments
        .binary_search_by(|r| r.raw_symbol.cmp_with_prefix(prefix, raw_symbol))
        .ok()
}
