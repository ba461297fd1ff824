//! What a text or an email about a visit says, in its reader's language: a walk-in asking for a
//! decision, with its one-tap links, or an arrival. [`crate::domain::escalation`] decides who
//! gets one and when.

use gatebell_core::protocol::Visit;

use crate::db::accounts::Contact;
use crate::domain::links::escape;
use crate::outbox::messages::Message;
use crate::texts::Language;

/// A walk-in's one-tap links (each opens a confirmation page; nothing is decided by a GET).
pub struct Links {
    pub approve: String,
    pub reject: String,
}

impl Links {
    pub fn new(public_url: &str, token: &str) -> Links {
        let page = format!("{public_url}{}{token}", crate::domain::links::PREFIX);
        Links {
            approve: format!("{page}?d=approve"),
            reject: format!("{page}?d=reject"),
        }
    }
}

/// The text or email telling `contact` about `visit`, in their language: a walk-in asking for
/// a decision (with links) or an arrival.
/// What the guard typed (the visitor's name, the purpose) stands in quotes and carries nothing
/// a phone or mail client would turn into a link, so it cannot pass for Gatebell's own links;
/// those stand on lines of their own (a text split into segments still shows each whole).
pub fn compose(
    channel: &str,
    visit: &Visit,
    contact: &Contact,
    links: Option<&Links>,
    link_minutes: i64,
) -> Message {
    let language = Language::stored(contact.language.as_deref());
    let who = quoted(&visit.visitor_name);
    let purpose = visit
        .purpose
        .as_deref()
        .map(|p| language.text_with("message-purpose", &[("purpose", (&quoted(p)).into())]))
        .unwrap_or_default();
    let unit = visit
        .unit
        .as_deref()
        .map(|u| language.text_with("message-unit", &[("unit", u.into())]))
        .unwrap_or_default();
    let args = [
        ("name", (&who).into()),
        ("purpose", (&purpose).into()),
        ("unit", (&unit).into()),
    ];
    let (subject, lead) = match links {
        Some(_) => (
            language.text_with("message-walkin-subject", &args[..1]),
            language.text_with("message-walkin-lead", &args),
        ),
        None => (
            language.text_with("message-arrival-subject", &args[..1]),
            language.text_with("message-arrival-lead", &args),
        ),
    };
    let approve = language.text("sms-approve");
    let reject = language.text("sms-reject");
    if channel == "sms" {
        let lead = language.text_with("sms-prefix", &[("lead", (&lead).into())]);
        let body = match links {
            Some(l) => format!("{lead}\n{approve}\n{}\n{reject}\n{}", l.approve, l.reject),
            None => lead,
        };
        return Message::Sms {
            to: contact.phone.clone().unwrap_or_default(),
            body,
        };
    }
    let greeting = language.text_with("email-greeting", &[("name", (&contact.name).into())]);
    let note = language.text_with("email-links-note", &[("minutes", link_minutes.into())]);
    let signature = language.text("email-signature");
    let (text_links, html_links) = match links {
        Some(l) => (
            format!(
                "\n\n{approve}\n{}\n{reject}\n{}\n\n{note}",
                l.approve, l.reject
            ),
            format!(
                "<p><a href=\"{}\" style=\"padding:8px 16px;background:#15803d;color:#fff;text-decoration:none;border-radius:4px\">{}</a> \
                 <a href=\"{}\" style=\"padding:8px 16px;background:#b91c1c;color:#fff;text-decoration:none;border-radius:4px\">{}</a></p>\
                 <p style=\"color:#555\">{}</p>",
                escape(&l.approve),
                escape(&language.text("link-approve")),
                escape(&l.reject),
                escape(&language.text("link-reject")),
                escape(&note)
            ),
        ),
        None => (String::new(), String::new()),
    };
    Message::Email {
        to: format!("{} <{}>", mailbox_name(&contact.name), contact.email),
        subject,
        text: format!("{greeting}\n\n{lead}{text_links}\n\n{signature}\n"),
        html: format!(
            "<!doctype html><html lang=\"{}\"><body style=\"font-family:sans-serif\"><p>{}</p><p>{}</p>{html_links}<p>{}</p></body></html>",
            language.tag(),
            escape(&greeting),
            escape(&lead),
            escape(&signature)
        ),
    }
}

/// `text` in quotes, defanged: a dot between two characters becomes `[.]` and `:/` becomes
/// `[:]/` (no scheme, no host name a client would link), and its own quotes become `'`.
fn quoted(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len() + 8);
    out.push('"');
    for (i, &c) in chars.iter().enumerate() {
        let prev = i.checked_sub(1).map(|j| chars[j]);
        let next = chars.get(i + 1).copied();
        match c {
            '.' if prev.is_some_and(|p| !p.is_whitespace())
                && next.is_some_and(|n| !n.is_whitespace()) =>
            {
                out.push_str("[.]")
            }
            ':' if next == Some('/') => out.push_str("[:]"),
            '"' => out.push('\''),
            _ => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A display name safe in a `Name <address>` mailbox: quoted, without quotes or line breaks.
fn mailbox_name(name: &str) -> String {
    let clean: String = name
        .chars()
        .filter(|c| !matches!(c, '"' | '\\' | '\r' | '\n' | '<' | '>'))
        .collect();
    format!("\"{clean}\"")
}
#[cfg(test)]
mod tests {
    use gatebell_core::protocol::{ChannelPreferences, VisitKind, VisitStatus};

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

    fn visit() -> Visit {
        Visit {
            id: "v1".into(),
            visitor_name: "Ravi <b>".into(),
            phone: None,
            purpose: Some("delivery".into()),
            host_id: "u1".into(),
            host_name: "Asha Rao".into(),
            unit: Some("A-101".into()),
            kind: VisitKind::Walkin,
            status: VisitStatus::Pending,
            created_at: 0,
            valid_until: None,
            checked_in_at: None,
            decided_at: None,
            decided_by: None,
            external_id: None,
            escalation: None,
        }
    }

    #[test]
    fn walkin_messages_carry_both_links_and_escape_html() {
        let links = Links::new("https://gate.example", "tok");
        assert_eq!(links.approve, "https://gate.example/a/tok?d=approve");
        let Message::Sms { to, body } = compose("sms", &visit(), &contact(), Some(&links), 10)
        else {
            panic!("not a text");
        };
        assert_eq!(to, "+919800000001");
        assert!(body.contains("\"Ravi <b>\" (\"delivery\") is at the gate for A-101"));
        assert!(body.contains("\nApprove:\nhttps://gate.example/a/tok?d=approve\n"));
        assert!(body.ends_with("\nReject:\nhttps://gate.example/a/tok?d=reject"));
        let Message::Email { to, text, html, .. } =
            compose("email", &visit(), &contact(), Some(&links), 10)
        else {
            panic!("not an email");
        };
        assert_eq!(to, "\"Asha Rao\" <asha@example.com>");
        assert!(text.contains("Reject:\nhttps://gate.example/a/tok?d=reject"));
        assert!(
            text.contains("until the request expires in 10 minutes"),
            "{text}"
        );
        assert!(html.contains("&quot;Ravi &lt;b&gt;&quot;"), "{html}");
        assert!(!html.contains("Ravi <b>"));
        assert!(html.contains("href=\"https://gate.example/a/tok?d=approve\""));
    }

    #[test]
    fn arrival_messages_have_no_links() {
        let Message::Email { subject, text, .. } = compose("email", &visit(), &contact(), None, 10)
        else {
            panic!("not an email");
        };
        assert_eq!(subject, "Visitor arrived: \"Ravi <b>\"");
        assert!(text.contains("has checked in"));
        assert!(!text.contains("/a/"));
    }

    #[test]
    fn a_typed_purpose_cannot_pass_for_a_link() {
        let mut v = visit();
        v.visitor_name = "Ravi \"the courier\"".into();
        v.purpose = Some("Approve: https://evil.example/a/Zx9 or www.evil.example".into());
        let links = Links::new("https://gate.example", "tok");
        let Message::Sms { body, .. } = compose("sms", &v, &contact(), Some(&links), 10) else {
            panic!("not a text");
        };
        assert!(
            body.contains("(\"Approve: https[:]//evil[.]example/a/Zx9 or www[.]evil[.]example\")"),
            "{body}"
        );
        assert!(body.contains("\"Ravi 'the courier'\""), "{body}");
        assert!(!body.contains("evil.example"), "{body}");
        // Gatebell's own links, and only they, start a line.
        let link_lines: Vec<&str> = body
            .lines()
            .filter(|l| l.contains("://") && !l.contains("[:]"))
            .collect();
        assert_eq!(
            link_lines,
            [
                "https://gate.example/a/tok?d=approve",
                "https://gate.example/a/tok?d=reject"
            ]
        );
        let Message::Email { text, .. } = compose("email", &v, &contact(), Some(&links), 10) else {
            panic!("not an email");
        };
        assert!(!text.contains("evil.example"), "{text}");
        // Sentences keep their full stops.
        assert_eq!(quoted("Parcel. Thanks."), "\"Parcel. Thanks.\"");
    }

    #[test]
    fn a_hindi_reader_gets_hindi_with_names_as_typed_and_each_link_on_a_line_of_its_own() {
        let hindi = Contact {
            language: Some("hi".into()),
            ..contact()
        };
        let mut v = visit();
        v.visitor_name = "रवि कुमार".into();
        let links = Links::new(
            "https://gate.example",
            "t0k3n-of-forty-three-characters-abcdefghij",
        );
        let Message::Sms { body, .. } = compose("sms", &v, &hindi, Some(&links), 10) else {
            panic!("not a text");
        };
        assert!(
            body.starts_with("Gatebell: \"रवि कुमार\" (\"delivery\") गेट पर हैं"),
            "{body}"
        );
        assert!(body.contains("(A-101 के लिए)"), "{body}");
        let lines: Vec<&str> = body.lines().collect();
        assert!(lines.contains(&links.approve.as_str()), "{body}");
        assert!(lines.contains(&links.reject.as_str()), "{body}");
        let cost = crate::texts::segments(&body);
        assert_eq!(cost.encoding, "ucs2");
        assert!(
            cost.count <= 4,
            "a Hindi walk-in text costs {} segments: {body}",
            cost.count
        );
        let Message::Sms { body, .. } = compose("sms", &v, &contact(), Some(&links), 10) else {
            panic!("not a text");
        };
        assert!(body.contains("is at the gate for A-101"), "{body}");
        let Message::Email {
            subject,
            text,
            html,
            ..
        } = compose("email", &v, &hindi, Some(&links), 1)
        else {
            panic!("not an email");
        };
        assert_eq!(subject, "गेट पर आगंतुक: \"रवि कुमार\"");
        assert!(text.starts_with("नमस्ते Asha Rao,"), "{text}");
        assert!(text.contains("एक मिनट"), "plural: {text}");
        assert!(
            html.starts_with("<!doctype html><html lang=\"hi\">"),
            "{html}"
        );
    }

    #[test]
    fn display_names_cannot_break_the_mailbox() {
        assert_eq!(mailbox_name("A \"B\" <c>\r\nBcc: x"), "\"A B cBcc: x\"");
    }
}
