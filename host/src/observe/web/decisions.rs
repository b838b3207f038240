//! An operator's decision on a plugin canary, as the web server asks for it: the interface the
//! plugin registry's control handle implements, so that the web server reaches into no runtime
//! module.
//!
//! Owns the request and its error. Must not know how a decision is carried out.

use std::{future::Future, pin::Pin};

/// Why an operator's promotion or rejection did not happen.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ControlError {
    #[error("the plugin directory is not watched ([plugins] watch = false): replacements go live only at a restart, there is no canary")]
    NotWatching,
    /// The registry refused it (no such exchange id, no candidate).
    #[error("{0}")]
    Refused(String),
}

/// What an operator asks of a canary candidate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Serve it now, whatever its comparison says.
    Promote,
    /// Drop it; the running version keeps serving.
    Reject,
}

/// The answer to a decision: what was done, in one line.
pub type DecisionFuture<'a> =
    Pin<Box<dyn Future<Output = Result<String, ControlError>> + Send + 'a>>;

/// Carries out operators' canary decisions (implemented by `plugins::PluginControl`).
pub trait CanaryDecisions: Send + Sync + 'static {
    fn decide<'a>(&'a self, exchange_id: &'a str, decision: Decision) -> DecisionFuture<'a>;
}
