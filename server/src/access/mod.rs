//! Who gets in, and how often: the key of gate codes (OTP and QR), verification of the
//! backend's JWTs against its key set, and rate limits.

pub mod codes;
pub mod jwt;
pub mod throttle;
