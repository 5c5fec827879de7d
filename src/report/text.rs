//! Text that servers and certificates supply, made safe for each output: one place for every
//! renderer. `clean` replaces control characters (names in certificates are attacker-controlled);
//! the others escape for HTML, XML and Markdown on top of it.

/// Replaces control characters (other than tab and newline) with U+FFFD: certificate names are
/// attacker-controlled, and XML cannot carry most control characters at all.
pub fn clean(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_control() && c != '\n' && c != '\t' {
                '\u{fffd}'
            } else {
                c
            }
        })
        .collect()
}

/// Escapes text for HTML element content and quoted attribute values.
pub fn html(text: &str) -> String {
    markup(text, false)
}

/// Escapes text for XML content and double-quoted attributes. Control characters XML cannot carry
/// are replaced (by `clean`); line breaks in attributes are kept as character references so they
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

/// Escapes text for Markdown prose and table cells, on one line.
pub fn markdown(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in clean(text).chars() {
        match c {
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|' | '~' | '&' | '#' | '!' | '$' => {
                out.push('\\');
                out.push(c);
            }
            '\n' | '\t' => out.push(' '),
            _ => out.push(c),
        }
    }
    out
}
