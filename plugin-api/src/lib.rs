//! The only contract between the futures-collector host and its exchange plugins.
//!
//! Owns: the `abi_stable` root module ([`ExchangePlugin`]), the types that cross the boundary
//! (request descriptors, responses, [`Record`], errors), the panic-containing export macro
//! ([`export_plugin!`]) and small pure helpers every adapter needs (number/symbol parsing).
//! Must not: do I/O, keep state, read clocks, or log. A plugin is a pure function of its inputs;
//! the host owns HTTP, time, retries and state.
//!
//! Compatibility rules (see docs/plugin-api.md):
//! - the interface version is this crate's version; host and plugin must share the same `0.y`;
//! - the root module is a prefix type: an older host can load a newer plugin that appends fields;
//! - open-ended enumerations (`RecordKind`, `MarketType`, ...) are `u8` newtypes, so a newer plugin
//!   can send a value an older host does not know: the host rejects that record, never misreads it.

pub use abi_stable;

mod error;
mod export;
mod fast_json;
pub mod helpers;
mod http;
mod identity;
mod instrument_table;
mod module;
mod record;

pub use error::{ErrorClass, PluginError};
pub use export::{guard_build_requests, guard_info, guard_parse, panic_message};
pub use http::{
    Context, Credentials, HttpMethod, HttpRequest, HttpResponse, KeyValue, KeyValueRef,
};
pub use identity::{IdentityStr, IDENTITY_INLINE_CAPACITY};
pub use instrument_table::InstrumentTable;
pub use module::{
    ExchangePlugin, ExchangePluginRef, KindSpec, PluginInfo, RateLimitRule, INTERFACE_VERSION,
};
pub use record::{IntervalSource, MarketType, ParseOutput, Record, RecordKind};
