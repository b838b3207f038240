//! What the plugin registry and its canaries report, as values: the plugin events (loaded,
//! failed, refused, removed, the registry's standing, a canary's course), a canary's standing
//! (state, progress per kind, the fields that differ with examples), who decided, and a
//! compared cycle's verdict. The registry and the canary (`plugins`) fill them in; telemetry, alerts,
//! the status API and the dashboard read them.
//!
//! Owns the shapes operators see. Must not compute anything.

use std::path::PathBuf;

use serde::Serialize;
use serde_json::Value;

use crate::trust::{Refusal, RefusalReason};

/// Who decided a promotion or a rejection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Decider {
    /// The canary's verdict.
    Canary,
    /// An operator, through the CLI or the API.
    Operator,
}

/// Where a canary stands.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CanaryState {
    /// Parsing alongside the running version.
    #[default]
    Comparing,
    /// Every required kind agreed; the registry is switching to it.
    Promoting,
    /// A cycle did not agree: waits for an operator (or a new file).
    HeldBack,
}

impl CanaryState {
    pub const ALL: [Self; 3] = [Self::Comparing, Self::Promoting, Self::HeldBack];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Comparing => "comparing",
            Self::Promoting => "promoting",
            Self::HeldBack => "held_back",
        }
    }
}

/// One field of one record where the two versions differ.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldExample {
    pub kind: String,
    pub raw_symbol: String,
    /// The running version's value (`null`: absent).
    pub active: Value,
    /// The candidate's value.
    pub candidate: Value,
}

/// A field the two versions disagree on.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldDivergence {
    /// As in the published records (`volume_24h_quote`; extras as `extra.<key>`).
    pub field: String,
    /// Distinct instruments affected.
    pub instruments: u64,
    /// Records affected.
    pub records: u64,
    pub examples: Vec<FieldExample>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SymbolList {
    pub count: u64,
    pub examples: Vec<String>,
}

/// Progress of one (exchange instance, kind).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KindProgress {
    pub exchange: String,
    pub kind: String,
    pub required: bool,
    pub agreed: u32,
    pub diverged: u32,
}

/// A canary as `/api/status` shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CanaryStatus {
    pub exchange_id: String,
    /// The candidate's load number in this process (tells two builds of one version apart).
    pub generation: u64,
    pub file: String,
    /// The candidate's version.
    pub version: String,
    /// The version that keeps serving meanwhile.
    pub active_version: String,
    pub state: CanaryState,
    pub started_ms: i64,
    /// Agreeing cycles each required kind needs.
    pub cycles_required: u32,
    pub kinds: Vec<KindProgress>,
    pub records_compared: u64,
    /// Fields that differ where the candidate did not declare a change (hold it back).
    pub divergences: Vec<FieldDivergence>,
    /// Fields that differ where the candidate declared the change (shown, accepted).
    pub declared_changes: Vec<FieldDivergence>,
    /// Instruments the running version reports and the candidate does not.
    pub missing_instruments: SymbolList,
    /// Instruments only the candidate reports.
    pub added_instruments: SymbolList,
    /// Errors (panics included) only the candidate reported.
    pub new_errors: u64,
    pub error_examples: Vec<String>,
    /// Why it is held back, in one line.
    pub reason: Option<String>,
}

impl CanaryStatus {
    /// A canary that has compared nothing yet.
    pub fn new(
        exchange_id: &str,
        generation: u64,
        file: &str,
        version: &str,
        active_version: &str,
        cycles_required: u32,
        started_ms: i64,
    ) -> Self {
        Self {
            exchange_id: exchange_id.to_owned(),
            generation,
            file: file.to_owned(),
            version: version.to_owned(),
            active_version: active_version.to_owned(),
            state: CanaryState::Comparing,
            started_ms,
            cycles_required,
            kinds: Vec::new(),
            records_compared: 0,
            divergences: Vec::new(),
            declared_changes: Vec::new(),
            missing_instruments: SymbolList::default(),
            added_instruments: SymbolList::default(),
            new_errors: 0,
            error_examples: Vec::new(),
            reason: None,
        }
    }
}

/// What one cycle's comparison amounted to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Keep comparing.
    Continue,
    /// This cycle completed every required kind: the registry is to be asked to promote.
    Promote,
    /// This cycle disagreed: held back.
    HoldBack,
    /// The canary had already decided; the cycle was not counted.
    Ignored,
}

/// A change to the plugin set, for logs, telemetry and the event feed.
#[derive(Debug, Clone)]
pub enum PluginEvent {
    /// A plugin now serves its exchange id (`replaced`: another version served it before).
    Loaded {
        file: PathBuf,
        exchange_id: String,
        version: String,
        replaced: bool,
    },
    /// The file is not a usable plugin (not a plugin, incompatible, panicked, unreadable).
    Failed { file: PathBuf, error: String },
    /// The file (or the plugin directory) failed a trust check or declares an exchange id
    /// another file declares; `error` names the path and the fix.
    Refused {
        file: PathBuf,
        reason: RefusalReason,
        error: String,
    },
    /// A trust check failed and `[plugins] allow_insecure_permissions` waived it.
    Insecure { file: PathBuf, warning: String },
    /// The exchange id is no longer served (its file was removed).
    Removed { file: PathBuf, exchange_id: String },
    /// The registry's standing after a rescan, when it changed.
    Summary(RegistrySummary),
    /// A canary candidate started, was decided or was superseded (`version`: the candidate's).
    Canary {
        exchange_id: String,
        file: PathBuf,
        version: String,
        /// The candidate's load number ([`CanaryStatus::generation`]).
        generation: u64,
        event: CanaryEvent,
    },
}

/// What happened to a canary candidate.
#[derive(Debug, Clone)]
pub enum CanaryEvent {
    /// A new version of a serving plugin was loaded; it parses beside the running one.
    Started {
        active_version: String,
        status: Box<CanaryStatus>,
    },
    /// It serves now.
    Promoted { by: Decider },
    /// It will not serve; the running version stays.
    Rejected { by: Decider },
    /// Its file changed or went away before a decision.
    Superseded,
}

/// The registry's standing: what is refused now, and the retired versions this process keeps
/// mapped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RegistrySummary {
    /// The plugin directory and files refused now, by path.
    pub refused: Vec<Refusal>,
    /// Plugin libraries mapped in this process that serve no exchange and are no canary
    /// candidate: replaced or removed versions, rejected candidates, duplicates, files
    /// rejected after mapping. Only a restart frees them.
    pub retired_versions: u64,
    /// Address space those libraries map.
    pub retired_mapped_bytes: u64,
    /// `[plugins] max_retired`.
    pub max_retired: usize,
}
