//! The push payload as sent: built once from the core's [`PushPayload`] and size-checked, so an
//! oversized message is refused when it is made rather than failing at the provider.

use gatebell_core::protocol::{MAX_FCM_PAYLOAD, MAX_WEB_PUSH_PLAINTEXT, PushPayload};

/// Serialises a payload, refusing one that would not fit a Web Push record or an FCM message.
pub fn encode(p: &PushPayload) -> Result<String, String> {
    let json = serde_json::to_string(p).map_err(|e| e.to_string())?;
    let limit = MAX_WEB_PUSH_PLAINTEXT.min(MAX_FCM_PAYLOAD);
    if json.len() > limit {
        return Err(format!(
            "the push payload is {} bytes; the limit is {limit}: shorten the title or body",
            json.len()
        ));
    }
    Ok(json)
}

#[cfg(test)]
mod tests {
    use super::*;
    use gatebell_core::protocol::NotificationType;

    #[test]
    fn oversized_payloads_are_refused_when_built() {
        let big = PushPayload::new(
            NotificationType::VisitorArrived,
            None,
            None,
            "t".into(),
            "x".repeat(4000),
        );
        assert!(encode(&big).unwrap_err().contains("limit"));
        let small = PushPayload::new(
            NotificationType::VisitorArrived,
            None,
            None,
            "t".into(),
            "b".into(),
        );
        assert!(encode(&small).is_ok());
    }
}
