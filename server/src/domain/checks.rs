//! Checks of what people type: names, purposes, phone numbers. Text a person will read
//! elsewhere (a push, a text message) refuses invisible and direction-changing characters.

use crate::error::{ApiError, ApiResult};
use crate::texts::Language;

/// A language field: a tag the server has a catalog for (`hi-IN` is `hi`), else a 422 naming
/// the ones it has.
pub fn language(tag: Option<&str>) -> ApiResult<Option<Language>> {
    tag.map(|t| {
        Language::parse(t).ok_or_else(|| {
            ApiError::validation(format!(
                "language must be one of: {}",
                Language::supported().join(", ")
            ))
        })
    })
    .transpose()
}

/// Checks a required text field: trimmed, non-empty, at most `max` characters.
pub fn required_text(field: &str, value: &str, max: usize) -> ApiResult<String> {
    let v = value.trim();
    if v.is_empty() {
        return Err(ApiError::validation(format!("{field} must not be empty")));
    }
    if v.chars().count() > max {
        return Err(ApiError::validation(format!(
            "{field} must be at most {max} characters"
        )));
    }
    if v.chars().any(|c| c.is_control()) {
        return Err(ApiError::validation(format!(
            "{field} must not contain control characters"
        )));
    }
    Ok(v.to_owned())
}

/// Whether `c` is a bidirectional control (embeddings, overrides, isolates, marks) or an
/// invisible format character: text a person reads must show what it says, so a name cannot
/// reorder what follows it on screen ("Trojan Source") or hide characters that make two names
/// look equal. The list is Unicode's format controls (general category Cf).
fn is_hidden_or_bidi(c: char) -> bool {
    matches!(c,
        '\u{00AD}'                      // soft hyphen
        | '\u{0600}'..='\u{0605}' | '\u{061C}' | '\u{06DD}' | '\u{070F}' | '\u{0890}'..='\u{0891}'
        | '\u{08E2}' | '\u{180E}'
        | '\u{200B}'..='\u{200F}'       // zero-width space, non-joiner, joiner; LRM, RLM
        | '\u{202A}'..='\u{202E}'       // embeddings and overrides
        | '\u{2060}'..='\u{2064}'       // word joiner, invisible operators
        | '\u{2066}'..='\u{206F}'       // isolates, deprecated format characters
        | '\u{FEFF}'                    // zero-width no-break space (BOM)
        | '\u{FFF9}'..='\u{FFFB}'       // interlinear annotation
        | '\u{110BD}' | '\u{110CD}' | '\u{13430}'..='\u{1343F}' | '\u{1BCA0}'..='\u{1BCA3}'
        | '\u{1D173}'..='\u{1D17A}'
        | '\u{E0001}' | '\u{E0020}'..='\u{E007F}' // tags
    )
}

/// Checks text a person reads as a name or a purpose (visitor names, purposes, account names,
/// notification titles and bodies): [`required_text`]'s rules, no bidirectional controls or
/// invisible characters, and normalised to Unicode NFC so that one name is stored one way.
pub fn human_text(field: &str, value: &str, max: usize) -> ApiResult<String> {
    if value.chars().any(is_hidden_or_bidi) {
        return Err(ApiError::validation(format!(
            "{field} must not contain invisible or text-direction control characters"
        )));
    }
    let normalised: String = unicode_normalization::UnicodeNormalization::nfc(value).collect();
    required_text(field, &normalised, max)
}

/// [`human_text`] for an optional field; blank becomes `None`.
pub fn optional_human_text(
    field: &str,
    value: Option<&str>,
    max: usize,
) -> ApiResult<Option<String>> {
    match value.map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) => human_text(field, v, max).map(Some),
    }
}

/// Checks an optional text field; blank becomes `None`.
pub fn optional_text(field: &str, value: Option<&str>, max: usize) -> ApiResult<Option<String>> {
    match value.map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) => required_text(field, v, max).map(Some),
    }
}

/// A phone number in E.164: `+`, a non-zero digit, then 7 to 14 more digits.
pub fn e164(p: Option<&str>) -> ApiResult<Option<String>> {
    let Some(p) = p.map(str::trim).filter(|p| !p.is_empty()) else {
        return Ok(None);
    };
    let digits = p.strip_prefix('+').unwrap_or("");
    let ok = (8..=15).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !digits.starts_with('0');
    if !ok {
        return Err(ApiError::validation(
            "phone must be in E.164 form: + and 8 to 15 digits, such as +919876543210",
        ));
    }
    Ok(Some(p.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_must_be_e164() {
        assert_eq!(
            e164(Some("+919876543210")).unwrap().as_deref(),
            Some("+919876543210")
        );
        assert_eq!(e164(None).unwrap(), None);
        assert_eq!(e164(Some("  ")).unwrap(), None);
        for bad in [
            "919876543210",
            "+0123456789",
            "+1234567",
            "+1234567890123456",
            "+91 98765 43210",
        ] {
            assert!(e164(Some(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn human_text_is_nfc() {
        // "é" as e + combining acute becomes the one precomposed character.
        let got = human_text("name", " Re\u{301}nee ", 100).unwrap();
        assert_eq!(got, "R\u{e9}nee");
        assert_eq!(got.chars().count(), 5);
        // Already NFC text, other scripts included, is kept as it is.
        for ok in [
            "Asha Rao",
            "Ṛṣi Dāsa",
            "محمد",
            "王小明",
            "Zoë O'Brien-Smith",
        ] {
            assert_eq!(human_text("name", ok, 100).unwrap(), ok);
        }
    }

    #[test]
    fn human_text_refuses_bidi_controls_and_invisible_characters() {
        for c in [
            '\u{202A}',
            '\u{202B}',
            '\u{202C}',
            '\u{202D}',
            '\u{202E}',
            '\u{2066}',
            '\u{2067}',
            '\u{2068}',
            '\u{2069}',
            '\u{200B}',
            '\u{200C}',
            '\u{200D}',
            '\u{200E}',
            '\u{200F}',
            '\u{2060}',
            '\u{FEFF}',
            '\u{00AD}',
            '\u{061C}',
            '\u{E0041}',
        ] {
            let name = format!("Asha{c}Rao");
            let err = human_text("visitorName", &name, 100).unwrap_err();
            assert!(matches!(err, ApiError::Validation(_)), "U+{:04X}", c as u32);
            assert!(err.to_string().starts_with("visitorName"), "{err}");
            assert!(optional_human_text("purpose", Some(&name), 100).is_err());
        }
    }

    #[test]
    fn human_text_keeps_the_other_rules() {
        assert!(human_text("name", "  ", 10).is_err());
        assert!(human_text("name", "a\u{7}b", 10).is_err());
        assert!(human_text("name", &"x".repeat(11), 10).is_err());
        // The length counts characters after normalisation: 10 decomposed "é" are 10 characters.
        assert!(human_text("name", &"e\u{301}".repeat(10), 10).is_ok());
        assert_eq!(
            optional_human_text("purpose", Some("  "), 10).unwrap(),
            None
        );
        assert_eq!(optional_human_text("purpose", None, 10).unwrap(), None);
    }
}
