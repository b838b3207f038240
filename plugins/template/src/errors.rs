//! The exchange's error envelope and code table, described for plugin-kit's
//! [`envelope`](plugin_kit::envelope), which turns statuses, codes and garbage bodies into
//! classified errors naming the request's tag.
//!
//! Owns: [`TemplateEnvelope`]: where the envelope's fields sit and what its codes mean.
//! Must not: map fields or build records; decide anything plugin-kit decides for every exchange.

use plugin_kit::envelope::{CodeTable, Envelope};

/// `{"code":"0","msg":"","data":[...]}`. TODO(exchange): the field names, the payload field
/// (`None` when a success body is the payload itself: use `envelope::check`), and the codes.
pub struct TemplateEnvelope;

impl Envelope for TemplateEnvelope {
    const CODE_FIELD: &'static str = "code";
    const MESSAGE_FIELD: &'static str = "msg";
    const PAYLOAD_FIELD: Option<&'static str> = Some("data");
    const CODES: CodeTable = CodeTable {
        success: &["0"],
        rate_limited: &[],
        transient: &[],
    };
}
