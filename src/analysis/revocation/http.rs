//! HTTP answers that are not what an OCSP responder or CRL server sends: an error status, an
//! empty body, or an HTML page (a block page or captive portal answering in its place).

use crate::model::observation::{FetchedBody, RevocationKind};

/// How much of an HTML body is searched for its title.
const TITLE_SEARCH_BYTES: usize = 4096;
/// The longest title quoted.
const TITLE_CHARS: usize = 80;

/// A response that is not what a responder sends: an error status or a block page.
pub(super) fn http_problem(kind: RevocationKind, body: &FetchedBody) -> Option<String> {
    let ct = body
        .content_type
        .as_deref()
        .unwrap_or("")
        .to_ascii_lowercase();
    let first = body.body.iter().find(|b| !b.is_ascii_whitespace()).copied();
    let html = ct.starts_with("text/html") || first == Some(b'<');
    let expected = match kind {
        RevocationKind::Ocsp => "an OCSP response",
        RevocationKind::Crl => "a CRL",
    };
    if html {
        let title = html_title(&body.body)
            .map(|t| format!(" titled '{t}'"))
            .unwrap_or_default();
        return Some(format!(
            "HTTP {} with an HTML page{title} instead of {expected}: a block page or captive portal \
             answers in the responder's place",
            body.status
        ));
    }
    if body.status != 200 {
        return Some(format!(
            "HTTP {} instead of {expected}{}",
            body.status,
            if ct.is_empty() {
                String::new()
            } else {
                format!(" ({ct})")
            }
        ));
    }
    if body.body.is_empty() {
        return Some(format!("HTTP 200 with an empty body instead of {expected}"));
    }
    None
}

fn html_title(body: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(&body[..body.len().min(TITLE_SEARCH_BYTES)]);
    let lower = text.to_ascii_lowercase();
    let start = lower.find("<title>")? + "<title>".len();
    let end = start + lower[start..].find("</title>")?;
    let title: String = text[start..end]
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    (!title.is_empty()).then(|| title.chars().take(TITLE_CHARS).collect())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn html_and_errors_are_not_answers() {
        let body = |status, ct: Option<&str>, b: &[u8]| FetchedBody {
            status,
            content_type: ct.map(str::to_owned),
            body: b.to_vec(),
            final_url: String::new(),
        };
        let page = body(200, None, b"\n <html><title>Access denied</title></html>");
        let p = http_problem(RevocationKind::Ocsp, &page).unwrap();
        assert!(
            p.contains("block page") && p.contains("Access denied"),
            "{p}"
        );
        assert!(http_problem(RevocationKind::Crl, &body(404, None, b"x")).is_some());
        assert!(http_problem(RevocationKind::Crl, &body(200, None, b"")).is_some());
        assert!(http_problem(RevocationKind::Crl, &body(200, None, b"\x30\x00")).is_none());
    }
}
