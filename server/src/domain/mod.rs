//! The rules of the gate, with no HTTP in them: visits and their decisions, announcing
//! arrivals, sessions and passwords, backend identities (JWT), gate codes, input checks and
//! rate limits. Functions take what they use.

pub mod checks;
pub mod codes;
pub mod jwt;
pub mod throttle;
