//! HTTP CONNECT proxies: which targets go through one, and opening the tunnel. The proxy resolves
//! the target's name; the reply is read with a bound on its size, under the target's deadline (the
//! caller's). A status other than 2xx is a proxy error. A 200 proves nothing: squid answers a
//! denied CONNECT with 200 and serves its refusal inside a forged TLS session, so the chain check,
//! not the status, decides what happened after it.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use std::sync::Arc;

use percent_encoding::percent_decode_str;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use super::http::{self, HeadError, HeadLimits, read_head};
use crate::model::observation::{Failure, FailureKind, Phase};

/// The most a CONNECT reply's status line and headers may take.
const MAX_REPLY_HEADERS: usize = 16 * 1024;
/// How a CONNECT reply is read: byte by byte, so the tunnel's first bytes stay in the stream.
const REPLY_LIMITS: HeadLimits = HeadLimits {
    max_bytes: MAX_REPLY_HEADERS,
    max_headers: 64,
    lenient: false,
    skip_interim: false,
    exact: true,
};

/// How a proxy is spoken to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProxyScheme {
    /// HTTP CONNECT over plain TCP (`http://`, PAC `PROXY`/`HTTP`).
    Http,
    /// HTTP CONNECT inside TLS to the proxy (`https://`, PAC `HTTPS`), the proxy's certificate
    /// verified against the public roots, this machine's and `--proxy-cacert`.
    Https,
    /// SOCKS5 (`socks5://`: this machine resolves the target; `socks5h://` and PAC `SOCKS5`: the
    /// proxy does).
    Socks5 { proxy_resolves: bool },
}

/// A proxy to tunnel TLS targets through.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProxySettings {
    /// The proxy URL as shown to users: credentials replaced by `***`.
    pub display: String,
    pub host: String,
    pub port: u16,
    pub scheme: ProxyScheme,
    /// `Basic …` when the URL carries credentials.
    authorization: Option<String>,
    /// The user name and password, for SOCKS5's user/password method.
    credentials: Option<(String, String)>,
    /// NO_PROXY entries, lower-cased.
    bypass: Vec<String>,
}

/// Why a proxy URL could not be used.
#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
#[error("proxy '{shown}': {reason}")]
pub struct ProxyUrlError {
    /// The URL with credentials redacted.
    pub shown: String,
    pub reason: String,
}

impl ProxySettings {
    /// Reads `http://[user:pass@]host[:port]` (port 8080 when absent is not assumed: HTTP's 80 is),
    /// `socks5://` or `socks5h://` (port 1080 when absent). `bypass` holds NO_PROXY entries.
    pub fn parse(raw: &str, bypass: &[String]) -> Result<Self, ProxyUrlError> {
        let with_scheme = if raw.contains("://") {
            raw.to_owned()
        } else {
            format!("http://{raw}")
        };
        let shown = redact(&with_scheme);
        let err = |reason: &str| ProxyUrlError {
            shown: shown.clone(),
            reason: reason.to_owned(),
        };
        let url = url::Url::parse(&with_scheme).map_err(|e| err(&e.to_string()))?;
        let scheme = match url.scheme() {
            "http" => ProxyScheme::Http,
            "https" => ProxyScheme::Https,
            "socks5" => ProxyScheme::Socks5 {
                proxy_resolves: false,
            },
            "socks5h" => ProxyScheme::Socks5 {
                proxy_resolves: true,
            },
            other => {
                return Err(err(&format!(
                    "only http:// and https:// (HTTP CONNECT), socks5:// and socks5h:// proxies are supported, not {other}://"
                )));
            }
        };
        let host = url
            .host_str()
            .ok_or_else(|| err("no host"))?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let port = url.port_or_known_default().unwrap_or(match scheme {
            ProxyScheme::Http => 80,
            ProxyScheme::Https => 443,
            ProxyScheme::Socks5 { .. } => 1080,
        });
        let credentials = (!url.username().is_empty()).then(|| {
            (
                percent_decode_str(url.username())
                    .decode_utf8_lossy()
                    .into_owned(),
                percent_decode_str(url.password().unwrap_or(""))
                    .decode_utf8_lossy()
                    .into_owned(),
            )
        });
        let authorization = credentials
            .as_ref()
            .map(|(user, pass)| format!("Basic {}", STANDARD.encode(format!("{user}:{pass}"))));
        let display = match &authorization {
            Some(_) => format!("{}://***@{}:{port}", url.scheme(), bracket(&host)),
            None => format!("{}://{}:{port}", url.scheme(), bracket(&host)),
        };
        Ok(Self {
            display,
            host,
            port,
            scheme,
            authorization,
            credentials,
            bypass: bypass
                .iter()
                .flat_map(|b| b.split(','))
                .map(|b| b.trim().to_ascii_lowercase())
                .filter(|b| !b.is_empty())
                .collect(),
        })
    }

    /// The `Proxy-Authorization` value when the URL carries credentials (never shown).
    pub fn authorization(&self) -> Option<&str> {
        self.authorization.as_deref()
    }

    /// Whether a target goes through the proxy: not when NO_PROXY names it (an entry matches the
    /// host and its subdomains; `*` matches everything).
    pub fn applies_to(&self, host: &str) -> bool {
        let host = host.to_ascii_lowercase();
        !self.bypass.iter().any(|entry| {
            let entry = entry.trim_start_matches("*.").trim_start_matches('.');
            entry == "*" || host == entry || host.ends_with(&format!(".{entry}"))
        })
    }
}

fn bracket(host: &str) -> String {
    if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_owned()
    }
}

/// Replaces `user:pass@` in a URL-ish string with `***@`, without parsing it (it may be invalid).
pub fn redact(raw: &str) -> String {
    let (scheme, rest) = raw.split_once("://").unwrap_or(("", raw));
    // The last '@' anywhere, not only before the first '/': a password may hold '/' (or '\',
    // which URL parsers read as '/'), and redacting a path's '@' too is harmless.
    match rest.rfind('@') {
        Some(at) => {
            let prefix = if scheme.is_empty() {
                String::new()
            } else {
                format!("{scheme}://")
            };
            format!("{prefix}***@{}", &rest[at + 1..])
        }
        None => raw.to_owned(),
    }
}

/// The TLS client configuration for `https://` proxies: the public roots (webpki-roots), this
/// machine's store and `extra` (`--proxy-cacert`), verified as any TLS client does.
pub fn tls_config(
    extra: &[rustls_pki_types::CertificateDer<'static>],
) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    // Unreadable native certificates are left out: the public roots and --proxy-cacert remain.
    let _ = roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
    let _ = roots.add_parsable_certificates(extra.iter().cloned());
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map(|b| b.with_root_certificates(roots).with_no_client_auth());
    match config {
        Ok(c) => Arc::new(c),
        // ring's default provider supports the default versions; kept total all the same.
        Err(_) => Arc::new(
            rustls::ClientConfig::builder()
                .with_root_certificates(rustls::RootCertStore::empty())
                .with_no_client_auth(),
        ),
    }
}

/// Opens TLS to an `https://` proxy, verifying its certificate for its host name; a certificate
/// that does not verify is a proxy error saying why.
pub async fn tls_to_proxy(
    stream: TcpStream,
    proxy: &ProxySettings,
    config: Arc<rustls::ClientConfig>,
) -> Result<tokio_rustls::client::TlsStream<TcpStream>, Failure> {
    let name = rustls_pki_types::ServerName::try_from(proxy.host.clone()).map_err(|e| {
        failure(
            None,
            format!(
                "the proxy {}: its name cannot be verified: {e}",
                proxy.display
            ),
        )
    })?;
    tokio_rustls::TlsConnector::from(config)
        .connect(name, stream)
        .await
        .map_err(|e| {
            failure(
                None,
                format!(
                    "TLS to the proxy {} failed: {e} (a private CA is given with --proxy-cacert)",
                    proxy.display
                ),
            )
        })
}

/// Asks a SOCKS5 proxy for a connection to `host:port` (an address this machine resolved, or the
/// name itself when the proxy resolves); on success the stream is the tunnel.
pub async fn socks5(
    stream: TcpStream,
    proxy: &ProxySettings,
    host: &str,
    port: u16,
) -> Result<TcpStream, Failure> {
    use tokio_socks::tcp::Socks5Stream;
    let connected = match &proxy.credentials {
        Some((user, pass)) => {
            Socks5Stream::connect_with_password_and_socket(stream, (host, port), user, pass).await
        }
        None => Socks5Stream::connect_with_socket(stream, (host, port)).await,
    };
    match connected {
        Ok(tunnel) => Ok(tunnel.into_inner()),
        Err(e) => Err(failure(
            None,
            format!(
                "the SOCKS5 proxy {} did not open a connection to {}:{port}: {e}",
                proxy.display,
                bracket(host)
            ),
        )),
    }
}

/// Sends CONNECT and reads the reply; on 2xx the stream is the tunnel.
pub async fn tunnel<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    proxy: &ProxySettings,
    host: &str,
    port: u16,
) -> Result<S, Failure> {
    let authority = format!("{}:{port}", bracket(host));
    let mut request = format!(
        "CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\nUser-Agent: pinscope/{}\r\n",
        env!("CARGO_PKG_VERSION")
    );
    if let Some(auth) = &proxy.authorization {
        request.push_str(&format!("Proxy-Authorization: {auth}\r\n"));
    }
    request.push_str("\r\n");
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(|e| failure(None, format!("sending CONNECT to the proxy failed: {e}")))?;

    // Exactly up to the blank line: anything after it belongs to the tunnel.
    let reply = match read_head(&mut stream, REPLY_LIMITS).await {
        Ok(head) => head.raw,
        Err(HeadError::NotHttp { received, .. }) => received,
        Err(HeadError::TooLarge { .. }) => {
            return Err(failure(
                None,
                format!("the proxy's reply headers exceed {MAX_REPLY_HEADERS} bytes"),
            ));
        }
        Err(HeadError::Closed { received }) => {
            return Err(failure(
                None,
                if received.is_empty() {
                    "the proxy closed the connection without answering the CONNECT".into()
                } else {
                    "the proxy closed the connection in the middle of its reply".into()
                },
            ));
        }
        Err(HeadError::Io(e)) => {
            return Err(failure(
                None,
                format!("reading the proxy's reply failed: {e}"),
            ));
        }
    };
    judge_reply(&reply, host, &authority)?;
    Ok(stream)
}

/// Judges a CONNECT reply (status line and headers, up to and including the blank line): `Ok` for
/// 2xx, otherwise the proxy failure to report. Pure, so it can be fuzzed; `authority` is the
/// `host:port` that was asked for.
pub fn judge_reply(reply: &[u8], host: &str, authority: &str) -> Result<(), Failure> {
    let Ok(Some(head)) = http::parse(reply, REPLY_LIMITS) else {
        let first = String::from_utf8_lossy(reply);
        return Err(failure(
            None,
            format!(
                "the proxy answered the CONNECT with something that is not HTTP: '{}'",
                first
                    .lines()
                    .next()
                    .unwrap_or("")
                    .chars()
                    .take(80)
                    .collect::<String>()
            ),
        ));
    };
    let (status, reason) = (head.status, head.reason);
    match status {
        200..=299 => Ok(()),
        407 => Err(failure(
            Some(status),
            format!(
                "the proxy demands authentication ({status} {reason}); Apple services fail when a proxy requires authentication, so exempt {host} from proxy authentication"
            ),
        )),
        403 => Err(failure(
            Some(status),
            format!("the proxy refused the tunnel to {authority} ({status} {reason})"),
        )),
        500..=599 => Err(failure(
            Some(status),
            format!("the proxy could not open a tunnel to {authority} ({status} {reason})"),
        )),
        _ => Err(failure(
            Some(status),
            format!("the proxy answered the CONNECT with {status} {reason}"),
        )),
    }
}

fn failure(status: Option<u16>, detail: String) -> Failure {
    Failure {
        kind: FailureKind::Proxy(status),
        phase: Phase::Proxy,
        detail,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_never_show() {
        let p = ProxySettings::parse("http://alice:s3cr%40t@proxy.corp:3128", &[]).expect("url");
        assert_eq!(p.display, "http://***@proxy.corp:3128");
        assert_eq!(p.port, 3128);
        assert_eq!(
            p.authorization.as_deref(),
            Some(format!("Basic {}", STANDARD.encode("alice:s3cr@t")).as_str())
        );
        assert_eq!(redact("http://bob:pw@host:1/x"), "http://***@host:1/x");
        // A password holding '/' or '\\' (an invalid URL, shown in the error) stays hidden.
        assert_eq!(
            redact("http://alice:pa/ss@proxy:3128"),
            "http://***@proxy:3128"
        );
        assert_eq!(
            redact("http://alice:pa\\ss@proxy:3128"),
            "http://***@proxy:3128"
        );
        let err = ProxySettings::parse("http://alice:pa/ss@proxy:3128", &[]).expect_err("bad");
        assert!(!err.to_string().contains("pa/ss"), "{err}");
        let err = ProxySettings::parse("socks4://u:p@h:1", &[]).expect_err("socks4");
        assert!(!err.to_string().contains("u:p"), "{err}");
        let socks = ProxySettings::parse("socks5h://u:pw@h", &[]).expect("socks5h");
        assert_eq!(socks.display, "socks5h://***@h:1080");
        assert_eq!(
            socks.scheme,
            ProxyScheme::Socks5 {
                proxy_resolves: true
            }
        );
        assert_eq!(socks.credentials, Some(("u".into(), "pw".into())));
        let https = ProxySettings::parse("https://proxy.corp", &[]).expect("https");
        assert_eq!((https.scheme, https.port), (ProxyScheme::Https, 443));
    }

    #[test]
    fn no_proxy_matches_domains_and_subdomains() {
        let p =
            ProxySettings::parse("proxy:8080", &["apple.com, .icloud.com".into()]).expect("url");
        assert!(!p.applies_to("gdmf.apple.com"));
        assert!(!p.applies_to("apple.com"));
        assert!(!p.applies_to("setup.icloud.com"));
        assert!(p.applies_to("notapple.com"));
        assert!(p.applies_to("kandji.io"));
        let all = ProxySettings::parse("proxy:8080", &["*".into()]).expect("url");
        assert!(!all.applies_to("anything.example"));
    }
}
