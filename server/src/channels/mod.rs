//! The ways out of the process: FCM, Web Push (its encryption and its endpoint allow-list),
//! the backend's signed webhooks, SMS and email, all through the guarded egress client.

pub mod allowlist;
pub mod ece;
pub mod egress;
pub mod email;
pub mod fcm;
pub mod payload;
pub mod sms;
pub mod webhooks;
pub mod webpush;
