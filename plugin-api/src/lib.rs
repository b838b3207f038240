//! The only contract between the futures-collector host and its exchange plugins: the ABI and
//! nothing else.
//!
//! Owns: the `abi_stable` root module ([`ExchangePlugin`]) and its [`INTERFACE_VERSION`], the
//! types that cross the boundary (request descriptors, responses, [`Record`], errors) and the
//! panic-containing export macro ([`export_plugin!`]).
//! Must not: hold adapter tooling (JSON decoding, number parsing, error envelopes, symbol
//! rules: those live in `plugin-kit`, which plugins may update without a rebuild of anything
//! else), do I/O, keep state, read clocks, or log. A plugin is a pure function of its inputs;
//! the host owns HTTP, time, retries and state.
//!
//! Compatibility rules (see docs/plugin-api.md):
//! - the interface version is [`INTERFACE_VERSION`], bumped only when the ABI changes (a test
//!   pins the layout); host and plugin must share its `0.y`, whatever this crate's version;
//! - the root module is a prefix type: an older host can load a newer plugin that appends fields;
//! - open-ended enumerations (`RecordKind`, `MarketType`, ...) are `u8` newtypes, so a newer plugin
//!   can send a value an older host does not know: the host rejects that record, never misreads it.

pub use abi_stable;

mod error;
mod export;
mod http;
mod identity;
#[cfg(test)]
mod layout_pin;
mod module;
mod record;

pub use error::{ErrorClass, PluginError};
pub use export::{guard_build_requests, guard_info, guard_parse, panic_message};
pub use http::{
    instrument_position, Context, Credentials, HttpMethod, HttpRequest, HttpResponse, KeyValue,
    KeyValueRef,
};
pub use identity::{IdentityStr, IDENTITY_INLINE_CAPACITY};
pub use module::{
    ExchangePlugin, ExchangePluginRef, KindSpec, PluginInfo, RateLimitRule, INFO_RETRY_AFTER_UNIT,
    INTERFACE_VERSION,
};
pub use record::{IntervalSource, MarketType, ParseOutput, Record, RecordKind};
