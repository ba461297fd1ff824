//! Periodic work: walk-ins nobody answered (`expiry`), texting and emailing them
//! (`escalation`), and retention (`housekeeping`).

pub mod escalation;
pub mod expiry;
pub mod housekeeping;
