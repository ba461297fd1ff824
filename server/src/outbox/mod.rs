//! The durable queues and the workers that drain them: pushes per provider (`push`,
//! `dispatcher`, with the prune `breaker`), and the webhook, SMS and email lanes (`lane`,
//! `messages`).

pub mod breaker;
pub mod dispatcher;
pub mod lane;
pub mod messages;
pub mod push;
pub mod webhooks;
