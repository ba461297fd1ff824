//! The rules of the gate, with no HTTP in them: visits and their decisions, announcing
//! arrivals, sessions and passwords, input checks. Functions take what they use (a
//! transaction or the database, and [`Rules`]); what follows a commit (waking the outbox,
//! telling open screens) is the caller's, through `crate::state::AppState`.

use crate::access::throttle::KeyedLimit;
use crate::config::Config;
use crate::metrics::PushMetrics;

pub mod checks;
pub mod escalation;
pub mod links;
pub mod messages;
pub mod notifications;
pub mod sessions;
pub mod visits;

/// What the rules read beyond the database: the configuration (how long walk-ins wait and
/// ring, which message channels exist), the texts' hourly cap per recipient, and the metrics
/// they count.
#[derive(Clone, Copy)]
pub struct Rules<'a> {
    pub config: &'a Config,
    pub text_limits: &'a KeyedLimit<String>,
    pub metrics: &'a PushMetrics,
}
