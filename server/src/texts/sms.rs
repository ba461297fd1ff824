//! What a text costs: the segments a carrier bills. A text in the GSM 7-bit alphabet takes 160
//! characters in one segment and 153 a segment once split (the rest is the reassembly header);
//! any other character (Devanagari, most emoji) turns the whole text into UCS-2: 70 UTF-16
//! units in one segment, 67 once split. A split never cuts a surrogate pair.

/// How a text is encoded and into how many segments it goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segments {
    /// `gsm7` or `ucs2`.
    pub encoding: &'static str,
    pub count: usize,
}

/// GSM 03.38's basic table (one septet each).
const GSM_BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?\
¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
/// Its extension table (an escape and the character: two septets each).
const GSM_EXTENSION: &str = "^{}\\[~]|€\u{c}";

/// The segments `text` is sent in.
pub fn segments(text: &str) -> Segments {
    let split = split(text);
    Segments {
        encoding: if is_gsm7(text) { "gsm7" } else { "ucs2" },
        count: split.len(),
    }
}

fn is_gsm7(text: &str) -> bool {
    text.chars()
        .all(|c| GSM_BASIC.contains(c) || GSM_EXTENSION.contains(c))
}

/// `text` cut where a carrier cuts it: each piece is one segment.
pub fn split(text: &str) -> Vec<&str> {
    let gsm = is_gsm7(text);
    let (single, each) = if gsm { (160, 153) } else { (70, 67) };
    let size = |c: char| {
        if gsm {
            if GSM_EXTENSION.contains(c) { 2 } else { 1 }
        } else {
            c.len_utf16()
        }
    };
    let total: usize = text.chars().map(size).sum();
    if total <= single {
        return vec![text];
    }
    let mut pieces = Vec::new();
    let (mut start, mut used) = (0, 0);
    for (i, c) in text.char_indices() {
        // A character that does not fit whole (a surrogate pair, an escaped septet) starts
        // the next segment.
        if used + size(c) > each {
            pieces.push(&text[start..i]);
            start = i;
            used = 0;
        }
        used += size(c);
    }
    pieces.push(&text[start..]);
    pieces
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn english_is_gsm7_with_160_then_153_a_segment() {
        assert_eq!(
            segments(&"a".repeat(160)),
            Segments {
                encoding: "gsm7",
                count: 1
            }
        );
        assert_eq!(segments(&"a".repeat(161)).count, 2);
        assert_eq!(segments(&"a".repeat(306)).count, 2);
        assert_eq!(segments(&"a".repeat(307)).count, 3);
        // The euro sign is two septets.
        assert_eq!(segments(&"€".repeat(80)).count, 1);
        assert_eq!(segments(&"€".repeat(81)).count, 2);
    }

    #[test]
    fn devanagari_is_ucs2_with_70_then_67_a_segment() {
        assert_eq!(
            segments(&"क".repeat(70)),
            Segments {
                encoding: "ucs2",
                count: 1
            }
        );
        assert_eq!(segments(&"क".repeat(71)).count, 2);
        assert_eq!(segments(&"क".repeat(134)).count, 2);
        assert_eq!(segments(&"क".repeat(135)).count, 3);
        // One character outside the GSM alphabet makes the whole text UCS-2.
        assert_eq!(segments(&format!("{}क", "a".repeat(69))).encoding, "ucs2");
    }

    #[test]
    fn a_split_reassembles_exactly_and_never_cuts_a_surrogate_pair() {
        let text = format!("{}😀{}", "क".repeat(66), "ख".repeat(80));
        let pieces = split(&text);
        assert_eq!(pieces.concat(), text);
        assert!(
            pieces[0].ends_with('क'),
            "the emoji moved whole to segment 2"
        );
        assert!(pieces[1].starts_with('😀'));
        for piece in &pieces {
            assert!(piece.encode_utf16().count() <= 67);
        }
    }
}
