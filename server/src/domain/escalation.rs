//! Texts and emails, the third channel: who gets one and when (channels, quiet hours), and
//! what they say. A walk-in is escalated by [`crate::jobs::escalation`]; a check-in is
//! emailed (or texted) at once to a host who chose that channel for it. Each text and email
//! about a walk-in carries one-tap Approve / Reject links with its own single-use action token,
//! answered by [`crate::http::links`] with no app and no login.

use chrono::Timelike;
use gatebell_core::protocol::{NotificationType, QuietHours, Visit};

use crate::db::accounts::Contact;
use crate::db::messages::NewMessage;
use crate::db::{self, Tx};
use crate::domain::Rules;
use crate::domain::messages::{Links, compose};
use crate::domain::sessions::{hash_token, random_token};

/// Queues a check-in's text and email to its host, per their channels, inside `tx`.
pub async fn queue_arrival(
    tx: &mut Tx,
    rules: Rules<'_>,
    visit: &Visit,
    contact: &Contact,
    now: i64,
) -> anyhow::Result<Queued> {
    queue(
        tx,
        rules,
        visit,
        &visit.host_id,
        contact,
        NotificationType::VisitorArrived,
        now,
    )
    .await
}

/// What was queued for one recipient.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Queued {
    pub sms: bool,
    pub email: bool,
}

/// Which channels carry `kind` to `contact` at `now`: their choice, limited to what is
/// configured, what they can be reached at, and (for texts) their quiet hours.
pub fn plan(
    contact: &Contact,
    kind: NotificationType,
    now: i64,
    sms_enabled: bool,
    email_enabled: bool,
) -> Queued {
    let chosen = contact.channels.of(kind);
    let quiet = contact
        .quiet_hours
        .as_ref()
        .is_some_and(|q| in_quiet_hours(q, now));
    Queued {
        sms: chosen.sms && sms_enabled && contact.phone.is_some() && !quiet,
        email: chosen.email && email_enabled,
    }
}

/// Whether `now` (epoch ms) is inside the quiet hours in their time zone (a zone that does not
/// parse, which the preferences API refuses, counts as never quiet).
pub fn in_quiet_hours(q: &QuietHours, now: i64) -> bool {
    let (Ok(tz), Some(utc)) = (
        q.time_zone.parse::<chrono_tz::Tz>(),
        chrono::DateTime::from_timestamp_millis(now),
    ) else {
        return false;
    };
    let local = utc.with_timezone(&tz);
    q.contains((local.hour() * 60 + local.minute()) as u16)
        .unwrap_or(false)
}

/// Queues `kind`'s messages about `visit` to one recipient.
pub async fn queue(
    tx: &mut Tx,
    rules: Rules<'_>,
    visit: &Visit,
    user_id: &str,
    contact: &Contact,
    kind: NotificationType,
    now: i64,
) -> anyhow::Result<Queued> {
    let config = rules.config;
    let mut planned = plan(
        contact,
        kind.clone(),
        now,
        config.sms_enabled(),
        config.email_enabled(),
    );
    let walkin = kind == NotificationType::WalkinPending;
    // A walk-in's links work until it expires; a check-in's message is news for as long as
    // its push would be.
    let expires_at = if walkin {
        visit.created_at + config.walkin_expiry_ms()
    } else {
        now + config.checkin_ttl_ms()
    };
    let mut messages = Vec::new();
    for (wanted, channel) in [(planned.sms, "sms"), (planned.email, "email")] {
        if !wanted {
            continue;
        }
        // Texts cost money: past the hourly cap a person gets their email and pushes only.
        if channel == "sms" && rules.text_limits.check(&user_id.to_owned()).is_err() {
            rules
                .metrics
                .messages
                .with_label_values(&["sms", "capped"])
                .inc();
            tracing::info!(
                user_id,
                "text skipped: the recipient's hourly cap is reached"
            );
            planned.sms = false;
            continue;
        }
        let links = if walkin {
            let token = random_token(32);
            db::action_tokens::insert(tx, &hash_token(&token), &visit.id, user_id, expires_at)
                .await?;
            Some(Links::new(&config.public_url(), &token))
        } else {
            None
        };
        messages.push(compose(
            channel,
            visit,
            contact,
            links.as_ref(),
            config.walkin_expiry_ms() / 60_000,
        ));
    }
    for message in &messages {
        let json = serde_json::to_string(message)?;
        db::messages::enqueue(
            tx,
            &NewMessage {
                channel: message.channel(),
                event: kind.as_str(),
                user_id,
                visit_id: Some(&visit.id),
                payload_json: &json,
                expires_at,
                urgency: crate::domain::notifications::urgency(&kind),
            },
            now,
        )
        .await?;
    }
    Ok(planned)
}

#[cfg(test)]
mod tests {
    use gatebell_core::protocol::{ChannelPreferences, Channels};

    use super::*;

    fn contact() -> Contact {
        Contact {
            name: "Asha Rao".into(),
            email: "asha@example.com".into(),
            phone: Some("+919800000001".into()),
            channels: ChannelPreferences::default(),
            quiet_hours: None,
            language: None,
        }
    }

    /// 2026-11-28 23:30 in Kolkata (UTC+5:30) is 18:00 UTC.
    const KOLKATA_2330: i64 = 1_795_888_800_000;

    fn night() -> QuietHours {
        QuietHours {
            start: "22:00".into(),
            end: "07:00".into(),
            time_zone: "Asia/Kolkata".into(),
        }
    }

    #[test]
    fn quiet_hours_are_in_the_users_time_zone() {
        assert!(in_quiet_hours(&night(), KOLKATA_2330));
        // 12:30 in Kolkata.
        assert!(!in_quiet_hours(&night(), KOLKATA_2330 - 11 * 3_600_000));
        // The same instant is 18:00 in London: not quiet there.
        let london = QuietHours {
            time_zone: "Europe/London".into(),
            ..night()
        };
        assert!(!in_quiet_hours(&london, KOLKATA_2330));
        let nowhere = QuietHours {
            time_zone: "Mars/Olympus".into(),
            ..night()
        };
        assert!(!in_quiet_hours(&nowhere, KOLKATA_2330));
    }

    #[test]
    fn the_plan_follows_choice_configuration_contact_and_quiet_hours() {
        let c = contact();
        let kind = NotificationType::WalkinPending;
        let all = plan(&c, kind.clone(), KOLKATA_2330, true, true);
        assert_eq!(
            all,
            Queued {
                sms: true,
                email: true
            }
        );
        assert_eq!(
            plan(&c, kind.clone(), KOLKATA_2330, false, true),
            Queued {
                sms: false,
                email: true
            }
        );
        let quiet = Contact {
            quiet_hours: Some(night()),
            ..contact()
        };
        assert_eq!(
            plan(&quiet, kind.clone(), KOLKATA_2330, true, true),
            Queued {
                sms: false,
                email: true
            },
            "quiet hours hold texts back, not emails"
        );
        let no_phone = Contact {
            phone: None,
            ..contact()
        };
        assert!(!plan(&no_phone, kind.clone(), KOLKATA_2330, true, true).sms);
        let mut opted_out = contact();
        opted_out.channels.walkin_pending = Channels {
            push: true,
            sms: false,
            email: false,
        };
        assert_eq!(
            plan(&opted_out, kind, KOLKATA_2330, true, true),
            Queued::default()
        );
        // Check-ins go by email only to those who chose it.
        assert_eq!(
            plan(
                &c,
                NotificationType::VisitorArrived,
                KOLKATA_2330,
                true,
                true
            ),
            Queued::default()
        );
    }
}
