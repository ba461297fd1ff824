//! Every word the server writes for a person, in that person's language: pushes, inbox
//! entries, texts, emails and the pages behind their links. The catalogs are Project Fluent
//! files under `server/locales/<language>/`, compiled into the binary; a folder there is a
//! language (adding Kannada is `locales/kn/gatebell.ftl`), English is the fallback for a
//! message a catalog lacks, and the catalogs test checks every catalog against English.
//!
//! Placeholders are filled unchanged (names and units as typed), without Fluent's Unicode
//! isolation marks: they would cost two characters each in a text and show as boxes in some
//! SMS readers.

mod sms;

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::LazyLock;

use fluent_templates::fluent_bundle::FluentValue;
use fluent_templates::{LanguageIdentifier, Loader, static_loader};

pub use sms::{Segments, segments};

static_loader! {
    static LOCALES = {
        locales: "./locales",
        fallback_language: "en",
        customise: |bundle| bundle.set_use_isolating(false),
    };
}

/// The tags of the languages with a catalog, sorted (`en`, `hi`).
static SUPPORTED: LazyLock<Vec<String>> = LazyLock::new(|| {
    let mut tags: Vec<String> = LOCALES.locales().map(|l| l.to_string()).collect();
    tags.sort();
    tags
});

/// A language the server has a catalog for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Language(LanguageIdentifier);

impl Default for Language {
    fn default() -> Self {
        Language::english()
    }
}

impl Language {
    pub fn english() -> Language {
        Language(fluent_templates::langid!("en"))
    }

    /// The supported language a BCP 47 tag names: itself, else its primary language
    /// (`hi-IN` is `hi`); None for anything else.
    pub fn parse(tag: &str) -> Option<Language> {
        let id: LanguageIdentifier = tag.trim().parse().ok()?;
        let wanted = [id.to_string(), id.language.to_string()];
        wanted
            .iter()
            .find(|t| SUPPORTED.contains(t))
            .and_then(|t| t.parse().ok())
            .map(Language)
    }

    /// A stored tag (a column written through [`Language::parse`]); English when absent or no
    /// longer supported.
    pub fn stored(tag: Option<&str>) -> Language {
        tag.and_then(Language::parse).unwrap_or_default()
    }

    /// The first supported language of an `Accept-Language` header, by its weights (`q=0`
    /// means not wanted).
    pub fn from_accept_language(header: &str) -> Option<Language> {
        let mut ranges: Vec<(f32, usize, &str)> = header
            .split(',')
            .enumerate()
            .filter_map(|(i, part)| {
                let mut fields = part.split(';');
                let tag = fields.next()?.trim();
                let q = fields
                    .find_map(|f| f.trim().strip_prefix("q="))
                    .map_or(Some(1.0), |q| q.trim().parse::<f32>().ok())?;
                (q > 0.0 && !tag.is_empty() && tag != "*").then_some((q, i, tag))
            })
            .collect();
        ranges.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        ranges.iter().find_map(|(_, _, tag)| Language::parse(tag))
    }

    /// Its BCP 47 tag.
    pub fn tag(&self) -> String {
        self.0.to_string()
    }

    /// The tags of every supported language.
    pub fn supported() -> &'static [String] {
        &SUPPORTED
    }

    /// Message `id` with no placeholders.
    pub fn text(&self, id: &str) -> String {
        self.text_with(id, &[])
    }

    /// Message `id` with its placeholders; an id no catalog has (a bug the tests catch) is
    /// logged and written as itself.
    pub fn text_with(&self, id: &str, args: &[(&'static str, Arg<'_>)]) -> String {
        let args: HashMap<Cow<'static, str>, FluentValue> = args
            .iter()
            .map(|(name, value)| {
                let value = match value {
                    Arg::Text(s) => FluentValue::from(s.to_string()),
                    Arg::Number(n) => FluentValue::from(*n),
                };
                (Cow::Borrowed(*name), value)
            })
            .collect();
        LOCALES
            .try_lookup_complete(&self.0, id, Some(&args))
            .unwrap_or_else(|| {
                tracing::error!(id, language = %self.0, "no such message in any catalog");
                id.to_owned()
            })
    }
}

/// A placeholder's value.
#[derive(Debug, Clone, Copy)]
pub enum Arg<'a> {
    Text(&'a str),
    Number(i64),
}

impl<'a> From<&'a str> for Arg<'a> {
    fn from(s: &'a str) -> Self {
        Arg::Text(s)
    }
}

impl<'a> From<&'a String> for Arg<'a> {
    fn from(s: &'a String) -> Self {
        Arg::Text(s)
    }
}

impl From<i64> for Arg<'_> {
    fn from(n: i64) -> Self {
        Arg::Number(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hi() -> Language {
        Language::parse("hi").expect("hi")
    }

    #[test]
    fn english_and_hindi_are_supported_and_nothing_else() {
        assert_eq!(Language::supported(), ["en", "hi"]);
        assert_eq!(Language::parse("hi-IN"), Some(hi()));
        assert_eq!(Language::parse("en-GB"), Some(Language::english()));
        assert_eq!(Language::parse("fr"), None);
        assert_eq!(Language::parse("not a tag!"), None);
        assert_eq!(Language::stored(Some("xx")), Language::english());
        assert_eq!(Language::stored(None), Language::english());
    }

    #[test]
    fn accept_language_takes_the_first_supported_by_weight() {
        assert_eq!(
            Language::from_accept_language("fr-FR, hi;q=0.8, en;q=0.5"),
            Some(hi())
        );
        assert_eq!(
            Language::from_accept_language("en;q=0.2, hi-IN;q=0.9"),
            Some(hi())
        );
        assert_eq!(Language::from_accept_language("hi;q=0, fr"), None);
        assert_eq!(Language::from_accept_language("*"), None);
        assert_eq!(Language::from_accept_language(""), None);
    }

    #[test]
    fn placeholders_are_filled_unchanged_without_isolation_marks() {
        let name = "रवि <b>";
        let text = hi().text_with("arrival-body", &[("name", name.into())]);
        assert_eq!(text, "रवि <b> ने चेक-इन किया।");
        let english = Language::english().text_with("arrival-body", &[("name", name.into())]);
        assert_eq!(english, "रवि <b> has checked in.");
    }

    #[test]
    fn plural_rules_choose_the_form() {
        let en = Language::english();
        let one = en.text_with("email-links-note", &[("minutes", 1.into())]);
        let many = en.text_with("email-links-note", &[("minutes", 10.into())]);
        assert!(one.contains("one minute from"), "{one}");
        assert!(many.contains("10 minutes from"), "{many}");
        let hindi = hi().text_with("email-links-note", &[("minutes", 1.into())]);
        assert!(hindi.contains("एक मिनट"), "{hindi}");
    }

    #[test]
    fn an_unknown_id_is_written_as_itself() {
        assert_eq!(
            Language::english().text("no-such-message"),
            "no-such-message"
        );
    }
}
