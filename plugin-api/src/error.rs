//! Classified errors a plugin returns. The class decides what the host does: retry with backoff
//! (transient), wait and slow down (rate-limited), give up on that request (permanent, parse).

use abi_stable::{
    std_types::{ROption, RString},
    StableAbi,
};

/// Error class. A `u8` newtype so a later class does not break older hosts (they treat an
/// unknown class as transient).
#[repr(transparent)]
#[derive(StableAbi, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ErrorClass(pub u8);

impl ErrorClass {
    /// Worth retrying with backoff: 5xx, exchange "system busy", timeouts.
    pub const TRANSIENT: Self = Self(0);
    /// The exchange asked us to slow down (429/418, rate-limit codes in a 200 body).
    pub const RATE_LIMITED: Self = Self(1);
    /// Retrying will not help: unknown symbol, bad request, removed endpoint.
    pub const PERMANENT: Self = Self(2);
    /// The body is not what the exchange documents: HTML, truncated, wrong shape.
    pub const PARSE: Self = Self(3);
    /// The plugin panicked; the export macro caught it.
    pub const PLUGIN_PANIC: Self = Self(4);

    pub fn as_str(self) -> &'static str {
        match self {
            Self::TRANSIENT => "transient",
            Self::RATE_LIMITED => "rate_limited",
            Self::PERMANENT => "permanent",
            Self::PARSE => "parse",
            Self::PLUGIN_PANIC => "plugin_panic",
            _ => "unknown",
        }
    }
}

/// One classified failure, tied to the request it concerns (`request_tag`, empty if none).
#[repr(C)]
#[derive(StableAbi, Debug, Clone, PartialEq)]
pub struct PluginError {
    pub class: ErrorClass,
    /// The exchange's own code (`-1121`, `10006`, `51001`), empty when there is none.
    pub code: RString,
    pub message: RString,
    /// How long the exchange asked us to wait, when it said.
    pub retry_after_ms: ROption<u64>,
    pub request_tag: RString,
}

impl PluginError {
    pub fn new(class: ErrorClass, request_tag: &str, message: impl Into<RString>) -> Self {
        Self {
            class,
            code: RString::new(),
            message: message.into(),
            retry_after_ms: ROption::RNone,
            request_tag: request_tag.into(),
        }
    }

    pub fn transient(request_tag: &str, message: impl Into<RString>) -> Self {
        Self::new(ErrorClass::TRANSIENT, request_tag, message)
    }

    pub fn rate_limited(
        request_tag: &str,
        message: impl Into<RString>,
        retry_after_ms: Option<u64>,
    ) -> Self {
        let mut e = Self::new(ErrorClass::RATE_LIMITED, request_tag, message);
        e.retry_after_ms = retry_after_ms.into();
        e
    }

    pub fn permanent(request_tag: &str, message: impl Into<RString>) -> Self {
        Self::new(ErrorClass::PERMANENT, request_tag, message)
    }

    pub fn parse(request_tag: &str, message: impl Into<RString>) -> Self {
        Self::new(ErrorClass::PARSE, request_tag, message)
    }

    pub fn with_code(mut self, code: impl Into<RString>) -> Self {
        self.code = code.into();
        self
    }
}

impl std::fmt::Display for PluginError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.class.as_str())?;
        if !self.code.is_empty() {
            write!(f, " (code {})", self.code)?;
        }
        if !self.request_tag.is_empty() {
            write!(f, " [{}]", self.request_tag)?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for PluginError {}
