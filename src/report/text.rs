//! Text that servers and certificates supply, made safe for each output: one place for every
//! renderer. Names in certificates are chosen by whoever made the certificate, so nothing they hold
//! may reach a terminal as a control: [`line()`] (one-line contexts: the table, stderr notes, error
//! messages) and [`clean`] (multi-line contexts) show control characters, escape sequences and bidi
//! overrides escaped (`\x1b`, `\u{202e}`), never as themselves; [`html`], [`xml`] and [`markdown`]
//! escape for their markup on top of that.

use std::fmt::Write as _;

/// Whether `c` must not reach an output as itself: C0 and C1 controls and DEL (ESC starts CSI and
/// OSC sequences, BEL rings, CR overwrites the line), bidi overrides and isolates (U+202A–U+202E,
/// U+2066–U+2069) and the other bidi marks, which reorder what is shown, and the Unicode line and
/// paragraph separators.
fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{202a}'..='\u{202e}'
                | '\u{2066}'..='\u{2069}'
                | '\u{200e}'
                | '\u{200f}'
                | '\u{061c}'
                | '\u{2028}'
                | '\u{2029}'
        )
}

/// Writes `c` escaped: `\n`, `\r`, `\t`, `\x1b` for the other ASCII controls, `\u{202e}` above.
fn push_escaped(out: &mut String, c: char) {
    match c {
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        c if c.is_ascii() => {
            let _ = write!(out, "\\x{:02x}", u32::from(c));
        }
        c => {
            let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
        }
    }
}

fn escaped(text: &str, keep: impl Fn(char) -> bool) -> String {
    if !text.chars().any(is_unsafe) {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if is_unsafe(c) && !keep(c) {
            push_escaped(&mut out, c);
        } else {
            out.push(c);
        }
    }
    out
}

/// Text for one line (a table cell, a note on standard error, an error message): every control
/// character, newlines and tabs included, and every bidi override shown escaped.
pub fn line(text: &str) -> String {
    escaped(text, |_| false)
}

/// Text that may span lines: newlines and tabs are kept, every other control character and bidi
/// override is shown escaped (see [`line()`]).
pub fn clean(text: &str) -> String {
    escaped(text, |c| c == '\n' || c == '\t')
}

/// JSON text (already serialised) with the characters JSON serialisers leave as they are but a
/// terminal would act on (C1 controls, bidi overrides, line separators) written as `\uXXXX`
/// escapes: the same JSON value, safe to print. Outside strings JSON is ASCII, so this only ever
/// changes string contents.
pub fn json(text: &str) -> std::borrow::Cow<'_, str> {
    // ASCII controls are escaped by the serialiser already; a newline here ends a JSON line.
    let unsafe_here = |c: char| !c.is_ascii() && is_unsafe(c);
    if !text.chars().any(unsafe_here) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if unsafe_here(c) {
            // Every unsafe character is in the Basic Multilingual Plane: one escape each.
            let _ = write!(out, "\\u{:04x}", u32::from(c));
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// Escapes text for HTML element content and quoted attribute values.
pub fn html(text: &str) -> String {
    markup(text, false)
}

/// Escapes text for XML content and double-quoted attributes. Control characters (which XML cannot
/// carry) are shown escaped (by `clean`); line breaks in attributes are kept as character references so they
/// survive attribute-value normalisation.
pub fn xml(text: &str) -> String {
    markup(text, true)
}

/// The markup escapes HTML and XML share; `xml` adds what XML 1.0 attributes and characters need.
fn markup(text: &str, xml: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for c in clean(text).chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' if xml => out.push_str("&apos;"),
            '\'' => out.push_str("&#39;"),
            '\n' if xml => out.push_str("&#10;"),
            '\t' if xml => out.push_str("&#9;"),
            // Noncharacters are not allowed in XML 1.0 either.
            '\u{fffe}' | '\u{ffff}' if xml => out.push('\u{fffd}'),
            _ => out.push(c),
        }
    }
    out
}

/// Escapes text for Markdown prose and table cells, on one line (controls and line breaks shown
/// escaped by [`line()`], whose backslashes are then escaped so that they render).
pub fn markdown(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in line(text).chars() {
        match c {
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|' | '~' | '&' | '#' | '!' | '$' => {
                out.push('\\');
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const EVIL: &str = "a\u{1b}[2Jb\u{1b}]0;title\u{7}c\nd\u{202e}e\u{9b}f\tg";

    #[test]
    fn controls_escapes_and_bidi_overrides_are_shown_escaped_never_as_themselves() {
        assert_eq!(
            line(EVIL),
            "a\\x1b[2Jb\\x1b]0;title\\x07c\\nd\\u{202e}e\\u{9b}f\\tg"
        );
        assert_eq!(
            clean(EVIL),
            "a\\x1b[2Jb\\x1b]0;title\\x07c\nd\\u{202e}e\\u{9b}f\tg"
        );
        assert_eq!(line("plain Zürich"), "plain Zürich");
        for out in [
            line(EVIL),
            clean(EVIL),
            markdown(EVIL),
            html(EVIL),
            xml(EVIL),
        ] {
            assert!(
                !out.contains(['\u{1b}', '\u{7}', '\u{9b}', '\u{202e}']),
                "{out:?}"
            );
        }
        assert!(!markdown(EVIL).contains('\n'));
        assert!(markdown(EVIL).contains("\\\\x1b"));
        let encoded = serde_json::to_string(EVIL).unwrap_or_default();
        let safe = json(&encoded);
        assert!(!safe.contains(['\u{9b}', '\u{202e}']), "{safe}");
        assert_eq!(
            serde_json::from_str::<String>(&safe).ok().as_deref(),
            Some(EVIL)
        );
    }
}
