//! The signs the checks of services that are not TLS read in an answer
//! (`data/service_signs.toml`): headers and `Server` values of proxies, the CDNs that serve Apple's
//! hosts, Apple's own domains, and the NTP kiss codes.

use serde::Deserialize;

use super::{DataError, check_version, parse};

const FILE: &str = "data/service_signs.toml";
const TEXT: &str = include_str!("../../../data/service_signs.toml");

/// A response header that a proxy between this machine and the server adds.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProxyHeader {
    /// Lower-case header name.
    pub name: String,
    /// Only counts when the value contains this (lower-case), e.g. Squid's "MISS from host".
    pub value_contains: Option<String>,
    /// Whether the CDNs of [`ServiceSigns::cdn_markers`] send it too (then a value naming one is
    /// not a proxy here).
    #[serde(default)]
    pub cdn_too: bool,
    /// What the header means, as the finding says it.
    pub why: String,
}

/// A `Server` value of a proxy or web filter.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProxyServer {
    /// The start of the value, lower-case.
    pub prefix: String,
    /// Whose it is.
    pub product: String,
}

/// An NTP kiss code (RFC 5905 §7.4).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KissCode {
    pub code: String,
    /// What it means for a device.
    pub meaning: String,
}

/// The table.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceSigns {
    version: u32,
    /// Substrings (lower-case) by which the CDNs serving Apple's hosts name themselves.
    pub cdn_markers: Vec<String>,
    /// Registrable domains operated by Apple: a redirect between them is Apple's own.
    pub apple_domains: Vec<String>,
    #[serde(rename = "proxy_header")]
    pub proxy_headers: Vec<ProxyHeader>,
    #[serde(rename = "proxy_server")]
    pub proxy_servers: Vec<ProxyServer>,
    #[serde(rename = "kiss_code")]
    pub kiss_codes: Vec<KissCode>,
}

impl ServiceSigns {
    /// The table embedded in the binary.
    pub(super) fn builtin() -> Result<Self, DataError> {
        Self::parse(TEXT)
    }

    fn parse(text: &str) -> Result<Self, DataError> {
        let signs: Self = parse(FILE, text)?;
        check_version(FILE, signs.version, 1)?;
        signs.validate()?;
        Ok(signs)
    }

    fn validate(&self) -> Result<(), DataError> {
        let lower = |what: &str, entry: &str, value: &str| {
            if value.trim().is_empty() || value != value.to_ascii_lowercase() {
                Err(DataError::entry(
                    FILE,
                    format_args!("{what} '{entry}'"),
                    format_args!("'{value}' must be non-empty and lower-case"),
                ))
            } else {
                Ok(())
            }
        };
        let text = |what: &str, entry: &str, field: &str, value: &str| {
            if value.trim().is_empty() {
                Err(DataError::entry(
                    FILE,
                    format_args!("{what} '{entry}'"),
                    format_args!("'{field}' is empty"),
                ))
            } else {
                Ok(())
            }
        };
        for m in &self.cdn_markers {
            lower("cdn_markers entry", m, m)?;
        }
        for d in &self.apple_domains {
            lower("apple_domains entry", d, d)?;
        }
        for (i, h) in self.proxy_headers.iter().enumerate() {
            lower("proxy_header", &h.name, &h.name)?;
            if let Some(v) = &h.value_contains {
                lower("proxy_header", &h.name, v)?;
            }
            text("proxy_header", &h.name, "why", &h.why)?;
            if self.proxy_headers[..i].iter().any(|o| o.name == h.name) {
                return Err(DataError::entry(
                    FILE,
                    format_args!("proxy_header '{}'", h.name),
                    "listed twice",
                ));
            }
        }
        for s in &self.proxy_servers {
            lower("proxy_server", &s.prefix, &s.prefix)?;
            text("proxy_server", &s.prefix, "product", &s.product)?;
        }
        for (i, k) in self.kiss_codes.iter().enumerate() {
            if k.code.len() != 4 || !k.code.bytes().all(|b| b.is_ascii_uppercase()) {
                return Err(DataError::entry(
                    FILE,
                    format_args!("kiss_code '{}'", k.code),
                    "a kiss code is four upper-case ASCII letters",
                ));
            }
            text("kiss_code", &k.code, "meaning", &k.meaning)?;
            if self.kiss_codes[..i].iter().any(|o| o.code == k.code) {
                return Err(DataError::entry(
                    FILE,
                    format_args!("kiss_code '{}'", k.code),
                    "listed twice",
                ));
            }
        }
        Ok(())
    }

    /// The proxy header of this (lower-case) name, if it is one.
    pub fn proxy_header(&self, name: &str) -> Option<&ProxyHeader> {
        self.proxy_headers.iter().find(|p| p.name == name)
    }

    /// The proxy whose `Server` value this is, if any.
    pub fn proxy_server(&self, server: &str) -> Option<&ProxyServer> {
        let lower = server.to_ascii_lowercase();
        self.proxy_servers
            .iter()
            .find(|p| lower.starts_with(p.prefix.as_str()))
    }

    /// Whether a (lower-case) header value names a CDN that serves Apple's hosts.
    pub fn names_cdn(&self, lower_value: &str) -> bool {
        self.cdn_markers
            .iter()
            .any(|m| lower_value.contains(m.as_str()))
    }

    /// The longest Apple domain a (lower-case) host is or is under.
    pub fn apple_domain(&self, host: &str) -> Option<&str> {
        self.apple_domains
            .iter()
            .filter(|d| {
                host == d.as_str()
                    || host
                        .strip_suffix(d.as_str())
                        .is_some_and(|rest| rest.ends_with('.'))
            })
            .max_by_key(|d| d.len())
            .map(String::as_str)
    }

    /// Whether a registrable domain is one of Apple's.
    pub fn is_apple_domain(&self, site: &str) -> bool {
        self.apple_domains.iter().any(|d| d == site)
    }

    /// What a kiss code means, if it is a known one.
    pub fn kiss(&self, code: &str) -> Option<&str> {
        self.kiss_codes
            .iter()
            .find(|k| k.code == code)
            .map(|k| k.meaning.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(text: &str) -> String {
        ServiceSigns::parse(text)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default()
    }

    const MINIMAL: &str = "version = 1\ncdn_markers = []\napple_domains = []\nproxy_header = []\nproxy_server = []\nkiss_code = []\n";

    #[test]
    fn the_builtin_table_loads_and_answers() {
        let signs = ServiceSigns::builtin();
        assert!(signs.is_ok(), "{:?}", signs.err());
        let Ok(signs) = signs else { return };
        assert!(signs.proxy_header("via").is_some_and(|h| h.cdn_too));
        assert_eq!(
            signs.proxy_server("squid/5.7").map(|p| p.product.as_str()),
            Some("Squid")
        );
        assert!(signs.names_cdn("1.1 a.ts.apple.com (acdn/1.0)"));
        assert_eq!(
            signs.apple_domain("www.icloud.com.cn"),
            Some("icloud.com.cn")
        );
        assert_eq!(signs.apple_domain("notapple.com"), None);
        assert!(
            signs
                .kiss("RATE")
                .is_some_and(|m| m.contains("rate-limiting"))
        );
        assert_eq!(signs.kiss("XXXX"), None);
    }

    #[test]
    fn errors_name_the_file_and_entry() {
        assert!(ServiceSigns::parse(MINIMAL).is_ok());
        let upper = MINIMAL.replace(
            "proxy_header = []",
            "[[proxy_header]]\nname = \"Via\"\nwhy = \"x\"",
        );
        // A table header ends the top-level keys, so put the array of tables last.
        let upper = upper
            .replace("proxy_server = []\nkiss_code = []\n", "")
            .replace(
                "version = 1\n",
                "version = 1\nproxy_server = []\nkiss_code = []\n",
            );
        let err = error(&upper);
        assert!(
            err.starts_with("data/service_signs.toml: proxy_header 'Via'"),
            "{err}"
        );
        let kiss = MINIMAL.replace(
            "kiss_code = []",
            "kiss_code = [{ code = \"rate\", meaning = \"x\" }]",
        );
        assert!(
            error(&kiss).contains("kiss_code 'rate'"),
            "{}",
            error(&kiss)
        );
        let twice = MINIMAL.replace(
            "kiss_code = []",
            "kiss_code = [{ code = \"RATE\", meaning = \"x\" }, { code = \"RATE\", meaning = \"y\" }]",
        );
        assert!(error(&twice).contains("listed twice"), "{}", error(&twice));
        assert!(
            error(&MINIMAL.replace("version = 1", "version = 2")).contains("unsupported version 2")
        );
        assert!(error(&format!("{MINIMAL}extra = 1\n")).contains("line "));
    }
}
