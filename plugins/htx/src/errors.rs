//! HTX's error envelopes and codes, described for plugin-kit's
//! [`envelope`](plugin_kit::envelope): the legacy/v2 envelope (`{"status":"ok","data":…,"ts":…}`,
//! errors `{"status":"error","err_code":1013,"err_msg":"…"}`, HTTP 200) and the v5 one
//! (`{"code":200,"message":"Success","data":[…]}`).
//!
//! Owns: [`HtxStatusEnvelope`] (payload and server time), [`HtxErrorEnvelope`] (the error code
//! of a legacy error body, found under any status), [`HtxV5Envelope`], and [`reclassify`] (the
//! notes' rule for HTX's undocumented rate-limit errors).
//! Must not: map fields or build records; decide anything plugin-kit decides for every exchange.
//!
//! Classes (exchange-notes §7.4): `1013` "contract symbol doesn't exist" and every other code is
//! permanent; HTX's rate-limit codes are UNCONFIRMED, so (as the notes advise) an error whose
//! message speaks of request frequency is transient; HTTP 429 is rate-limited, 408/5xx transient
//! (the host's defaults). A 2xx whose body is empty, HTML, not JSON, truncated, without
//! `status`, or whose payload is not the documented shape is a parse error.

use plugin_api::{ErrorClass, PluginError};
use plugin_kit::envelope::{CodeTable, Envelope};

/// "This contract symbol doesn't exist." (legacy, HTTP 200).
pub const UNKNOWN_CONTRACT: &str = "1013";

/// Text in HTX's messages when requests come too often (UNCONFIRMED wording: "frequent",
/// "frequency").
const FREQUENCY_HINT: &str = "frequen";

/// The legacy success envelope: `status` is `ok`; an `error` without `err_code` is permanent.
pub struct HtxStatusEnvelope;

impl Envelope for HtxStatusEnvelope {
    const CODE_FIELD: &'static str = "status";
    const MESSAGE_FIELD: &'static str = "err_msg";
    const PAYLOAD_FIELD: Option<&'static str> = Some("data");
    const TIME_FIELD: Option<&'static str> = Some("ts");
    const CODES: CodeTable = CodeTable {
        success: &["ok"],
        rate_limited: &[],
        transient: &[],
    };
}

/// The same envelope read for its `err_code` (present on errors only): checked first, so an
/// error carries HTX's code, not the word `error`.
pub struct HtxErrorEnvelope;

impl Envelope for HtxErrorEnvelope {
    const CODE_FIELD: &'static str = "err_code";
    const MESSAGE_FIELD: &'static str = "err_msg";
    const PAYLOAD_FIELD: Option<&'static str> = None;
    const CODES: CodeTable = CodeTable {
        success: &[],
        rate_limited: &[],
        transient: &[],
    };
}

/// The `batch_merged` envelope: like the legacy one with the rows under `ticks`.
pub struct HtxTicksEnvelope;

impl Envelope for HtxTicksEnvelope {
    const CODE_FIELD: &'static str = "status";
    const MESSAGE_FIELD: &'static str = "err_msg";
    const PAYLOAD_FIELD: Option<&'static str> = Some("ticks");
    const TIME_FIELD: Option<&'static str> = Some("ts");
    const CODES: CodeTable = CodeTable {
        success: &["ok"],
        rate_limited: &[],
        transient: &[],
    };
}

/// The v5 envelope: `code` 200 is success.
pub struct HtxV5Envelope;

impl Envelope for HtxV5Envelope {
    const CODE_FIELD: &'static str = "code";
    const MESSAGE_FIELD: &'static str = "message";
    const PAYLOAD_FIELD: Option<&'static str> = Some("data");
    const TIME_FIELD: Option<&'static str> = Some("ts");
    const CODES: CodeTable = CodeTable {
        success: &["200"],
        rate_limited: &[],
        transient: &[],
    };
}

/// HTTP "Too Many Requests".
const TOO_MANY_REQUESTS: u16 = 429;

/// HTX's undocumented rate-limit answers: HTTP 429 is rate-limited whatever `err_code` its
/// body carries, and a permanent error whose message speaks of request frequency is
/// transient (exchange-notes §7.4).
pub fn reclassify(mut error: PluginError, status: u16) -> PluginError {
    if status == TOO_MANY_REQUESTS {
        error.class = ErrorClass::RATE_LIMITED;
    } else if error.class == ErrorClass::PERMANENT
        && error.message.to_ascii_lowercase().contains(FREQUENCY_HINT)
    {
        error.class = ErrorClass::TRANSIENT;
    }
    error
}
