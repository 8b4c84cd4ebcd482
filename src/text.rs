//! Text from outside (argv, the kernel's interface names, the ACL) on its way to a
//! terminal or a log line: escaped so that it can forge neither a second line nor a
//! terminal sequence nor a reordering of what is shown, and clipped so that it cannot
//! make a message unbounded.
#![forbid(unsafe_code)]

use std::borrow::Cow;
use std::fmt;
use std::io;

/// Whether `c` may be shown as itself: std's own notion of printable, which escapes every
/// control (Cc) and format (Cf: bidi overrides, zero-width characters) character, line
/// and paragraph separators and unassigned code points. Quotes and backslashes are
/// printable; callers that quote use `{:?}`.
pub(crate) fn is_printable(c: char) -> bool {
    matches!(c, '"' | '\'' | '\\') || c.escape_debug().len() == 1
}

/// `text` with every character that is not printable escaped (`\n`, `\u{202e}`).
pub(crate) fn escape(text: &str) -> Cow<'_, str> {
    if text.chars().all(is_printable) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if is_printable(c) {
            out.push(c);
        } else {
            out.extend(c.escape_default());
        }
    }
    Cow::Owned(out)
}

/// At most `max` bytes of `text`, cut at a character boundary, saying how much was cut.
pub(crate) fn clip(text: &str, max: usize) -> Cow<'_, str> {
    if text.len() <= max {
        return Cow::Borrowed(text);
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    Cow::Owned(format!("{}…[{} more bytes]", &text[..end], text.len() - end))
}

/// Outside text for a message: clipped, escaped, clipped again (escaping can grow it), so
/// at most `max` bytes and the note of what was cut.
pub(crate) fn shown(text: &str, max: usize) -> String {
    clip(&escape(&clip(text, max)), max).into_owned()
}

/// An io::Error as strerror() says it, without std's " (os error N)".
pub struct Reason<'a>(pub &'a io::Error);

impl fmt::Display for Reason<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = self.0.to_string();
        match (self.0.raw_os_error(), text.rfind(" (os error ")) {
            (Some(_), Some(end)) => f.write_str(&text[..end]),
            _ => f.write_str(&text),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_table() {
        let cases: &[(&str, &str)] = &[
            ("br0", "br0"),
            ("virbr-ünï", "virbr-ünï"),
            ("a\nb", "a\\nb"),
            ("\u{1b}[2J", "\\u{1b}[2J"),
            ("br\u{202e}0", "br\\u{202e}0"),
            ("\u{200b}\u{2066}\u{feff}", "\\u{200b}\\u{2066}\\u{feff}"),
            ("\u{85}\u{2028}\u{2029}", "\\u{85}\\u{2028}\\u{2029}"),
            ("\"quoted\" \\", "\"quoted\" \\"),
        ];
        for (input, want) in cases {
            assert_eq!(escape(input), *want, "{input:?}");
        }
    }

    #[test]
    fn clip_table() {
        assert_eq!(clip("short", 10), "short");
        assert_eq!(clip("0123456789abc", 10), "0123456789…[3 more bytes]");
        // Never splits a character: ü is two bytes.
        assert_eq!(clip("üüü", 3), "ü…[4 more bytes]");
        let long = "\u{202e}".repeat(40_000);
        let out = shown(&long, 200);
        assert!(out.len() <= 200 + 40, "{}", out.len());
        assert!(out.chars().all(is_printable));
    }
}
