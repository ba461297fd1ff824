//! The rules of the gate, with no HTTP in them: visits and their decisions, announcing
//! arrivals, sessions and passwords, input checks.

pub mod checks;
pub mod escalation;
pub mod links;
pub mod messages;
pub mod notifications;
pub mod sessions;
pub mod visits;
