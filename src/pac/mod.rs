//! Proxy auto-config (PAC) files, evaluated: `FindProxyForURL(url, host)` run by an embedded
//! JavaScript engine (boa_engine), with the standard PAC helpers defined in JavaScript beside it.
//!
//! Today `pinscope exemptions check` uses it to learn which hosts a PAC sends `DIRECT` (not through
//! the inspecting proxy). It is meant to grow into the evaluator `--pac` needs; extend it here
//! rather than embedding a second engine.
//!
//! What the helpers do, and where they differ from a browser's:
//! - `isPlainHostName`, `dnsDomainIs`, `localHostOrDomainIs`, `dnsDomainLevels`, `shExpMatch` and
//!   `convert_addr` behave as Mozilla's `pac_utils.js` defines them.
//! - Nothing is resolved: `dnsResolve` and `dnsResolveEx` return `null` (as a browser does for a
//!   name that does not resolve), `isResolvable` and `isResolvableEx` return `false`, `isInNet`
//!   compares only an address written as a dotted IPv4 literal (a name gives `false`), and
//!   `myIpAddress` returns `127.0.0.1` (what browsers return when they cannot tell). A PAC whose
//!   answer depends on resolving names is therefore judged as for a machine whose resolver knows
//!   none of them.
//! - `weekdayRange`, `dateRange` and `timeRange` depend on the clock, and so does `Date`; calling
//!   one is an error that names it, so no answer silently depends on when the evaluation ran (and
//!   the engine never reads the clock).
//! - `alert` does nothing.
//!
//! Evaluation is bounded without reading a clock: loops stop after [`LOOP_LIMIT`] iterations,
//! recursion after [`RECURSION_LIMIT`] calls, and the engine's stack at [`STACK_LIMIT`] values;
//! a PAC that hits a bound is an error that says so.

use boa_engine::{Context, JsValue, Source};

/// Iterations one evaluation may run in a loop.
pub const LOOP_LIMIT: u64 = 1_000_000;
/// Nested calls one evaluation may make.
pub const RECURSION_LIMIT: usize = 512;
/// Values on the engine's stack.
pub const STACK_LIMIT: usize = 64 * 1024;

/// The helpers a PAC may call, in JavaScript (see the module documentation for their semantics).
const HELPERS: &str = r#"
function isPlainHostName(host) { return String(host).indexOf('.') < 0; }
function dnsDomainIs(host, domain) {
    host = String(host); domain = String(domain);
    return host.length >= domain.length && host.substring(host.length - domain.length) == domain;
}
function localHostOrDomainIs(host, hostdom) {
    host = String(host); hostdom = String(hostdom);
    return host == hostdom || hostdom.lastIndexOf(host + '.', 0) == 0;
}
function dnsDomainLevels(host) { return String(host).split('.').length - 1; }
function shExpMatch(url, pattern) {
    pattern = String(pattern).replace(/[.+^${}()|[\]\\\/]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
    return new RegExp('^' + pattern + '$').test(String(url));
}
function convert_addr(ipchars) {
    var bytes = String(ipchars).split('.');
    return ((bytes[0] & 0xff) << 24) | ((bytes[1] & 0xff) << 16) | ((bytes[2] & 0xff) << 8) | (bytes[3] & 0xff);
}
function __pinscopeIsIPv4(s) { return /^\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(String(s)); }
function isInNet(ipaddr, pattern, maskstr) {
    if (!__pinscopeIsIPv4(ipaddr) || !__pinscopeIsIPv4(pattern) || !__pinscopeIsIPv4(maskstr)) return false;
    var mask = convert_addr(maskstr);
    return (convert_addr(ipaddr) & mask) == (convert_addr(pattern) & mask);
}
function isInNetEx(ipaddr, prefix) { return false; }
function dnsResolve(host) { return __pinscopeIsIPv4(host) ? String(host) : null; }
function dnsResolveEx(host) { return __pinscopeIsIPv4(host) ? String(host) : ''; }
function isResolvable(host) { return __pinscopeIsIPv4(host); }
function isResolvableEx(host) { return __pinscopeIsIPv4(host); }
function myIpAddress() { return '127.0.0.1'; }
function myIpAddressEx() { return '127.0.0.1'; }
function sortIpAddressList(list) { return list; }
function getClientVersion() { return '1.0'; }
function alert(message) {}
function __pinscopeClock(name) {
    throw new Error(name + '() depends on the date and time, which pinscope does not evaluate');
}
globalThis.Date = function Date() { __pinscopeClock('Date'); };
function weekdayRange() { __pinscopeClock('weekdayRange'); }
function dateRange() { __pinscopeClock('dateRange'); }
function timeRange() { __pinscopeClock('timeRange'); }
"#;

/// Why a PAC could not be evaluated.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum PacError {
    /// The script does not parse, or its top level throws.
    #[error("the PAC does not load: {0}")]
    Load(String),
    /// The script defines no `FindProxyForURL` function.
    #[error("the PAC defines no FindProxyForURL function")]
    NoFunction,
    /// `FindProxyForURL` threw, or hit one of the engine's bounds.
    #[error("FindProxyForURL(\"{url}\", \"{host}\") failed: {message}")]
    Call {
        url: String,
        host: String,
        message: String,
    },
    /// `FindProxyForURL` returned something that is not a string.
    #[error("FindProxyForURL(\"{url}\", \"{host}\") returned {returned}, not a string")]
    NotAString {
        url: String,
        host: String,
        returned: String,
    },
}

/// A PAC script, loaded into its own engine: call [`Pac::find_proxy`] as often as needed.
pub struct Pac {
    context: Context,
}

impl std::fmt::Debug for Pac {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pac").finish_non_exhaustive()
    }
}

impl Pac {
    /// Loads the helpers and the script, and checks that it defines `FindProxyForURL`.
    pub fn new(pac_text: &str) -> Result<Self, PacError> {
        let mut context = Context::default();
        let limits = context.runtime_limits_mut();
        limits.set_loop_iteration_limit(LOOP_LIMIT);
        limits.set_recursion_limit(RECURSION_LIMIT);
        limits.set_stack_size_limit(STACK_LIMIT);
        context
            .eval(Source::from_bytes(HELPERS))
            .map_err(|e| PacError::Load(format!("the built-in helpers: {}", first_line(&e))))?;
        context
            .eval(Source::from_bytes(pac_text))
            .map_err(|e| PacError::Load(first_line(&e)))?;
        let defined = context
            .eval(Source::from_bytes("typeof FindProxyForURL === 'function'"))
            .map_err(|e| PacError::Load(first_line(&e)))?;
        if defined != JsValue::from(true) {
            return Err(PacError::NoFunction);
        }
        Ok(Self { context })
    }

    /// The PAC's answer for one URL and host, as it returned it (`"PROXY a:3128; DIRECT"`).
    pub fn find_proxy(&mut self, url: &str, host: &str) -> Result<String, PacError> {
        let call = format!("FindProxyForURL({}, {})", js_string(url), js_string(host));
        let value = self
            .context
            .eval(Source::from_bytes(call.as_str()))
            .map_err(|e| PacError::Call {
                url: url.to_owned(),
                host: host.to_owned(),
                message: first_line(&e),
            })?;
        match value.as_string() {
            Some(s) => Ok(s.to_std_string_escaped()),
            None => Err(PacError::NotAString {
                url: url.to_owned(),
                host: host.to_owned(),
                returned: value.display().to_string(),
            }),
        }
    }
}

/// Evaluates `FindProxyForURL(url, host)` of `pac_text` once (a fresh engine per call: to ask
/// about many hosts, keep a [`Pac`]).
pub fn evaluate(pac_text: &str, url: &str, host: &str) -> Result<String, PacError> {
    Pac::new(pac_text)?.find_proxy(url, host)
}

/// One entry of a PAC answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Route {
    Direct,
    /// `PROXY`, `HTTP`, `HTTPS`, `SOCKS`, `SOCKS4`, `SOCKS5`, with the address as written.
    Proxy {
        kind: String,
        address: String,
    },
    /// Anything else, as written.
    Other(String),
}

/// Splits a PAC answer into its entries, in order (empty entries left out).
pub fn routes(answer: &str) -> Vec<Route> {
    answer
        .split(';')
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .map(|e| {
            let mut parts = e.split_whitespace();
            let kind = parts.next().unwrap_or("").to_ascii_uppercase();
            let address = parts.next().map(str::to_owned);
            match (kind.as_str(), address) {
                ("DIRECT", None) => Route::Direct,
                ("PROXY" | "HTTP" | "HTTPS" | "SOCKS" | "SOCKS4" | "SOCKS5", Some(address)) => {
                    Route::Proxy { kind, address }
                }
                _ => Route::Other(e.to_owned()),
            }
        })
        .collect()
}

/// The engine's message without the backtrace it appends on the following lines: errors are one
/// line.
fn first_line(e: &impl std::fmt::Display) -> String {
    e.to_string().lines().next().unwrap_or("").trim().to_owned()
}

fn js_string(s: &str) -> String {
    // A JSON string is a JavaScript string literal.
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAC: &str = r#"
        function FindProxyForURL(url, host) {
            if (dnsDomainIs(host, ".push.apple.com")) return "DIRECT";
            if (shExpMatch(host, "*.mzstatic.com")) return "DIRECT";
            if (localHostOrDomainIs(host, "gdmf.apple.com")) return "DIRECT";
            if (isPlainHostName(host)) return "DIRECT";
            if (isInNet(host, "10.0.0.0", "255.0.0.0")) return "DIRECT";
            if (isResolvable(host)) return "DIRECT";
            return "PROXY proxy.example:3128; DIRECT";
        }"#;

    fn answer(host: &str) -> String {
        evaluate(PAC, &format!("https://{host}/"), host).expect("evaluates")
    }

    #[test]
    fn the_standard_helpers_decide() {
        assert_eq!(answer("courier.push.apple.com"), "DIRECT");
        assert_eq!(answer("s.mzstatic.com"), "DIRECT");
        assert_eq!(answer("gdmf.apple.com"), "DIRECT");
        assert_eq!(answer("gdmf"), "DIRECT");
        assert_eq!(answer("10.1.2.3"), "DIRECT");
        assert_eq!(
            answer("albert.apple.com"),
            "PROXY proxy.example:3128; DIRECT"
        );
        assert_eq!(
            routes(&answer("albert.apple.com")),
            [
                Route::Proxy {
                    kind: "PROXY".into(),
                    address: "proxy.example:3128".into()
                },
                Route::Direct
            ]
        );
    }

    #[test]
    fn shexpmatch_is_a_glob_not_a_regex() {
        let pac = r#"function FindProxyForURL(u, h) { return shExpMatch(h, "a.b?c") ? "DIRECT" : "PROXY p:1"; }"#;
        assert_eq!(
            evaluate(pac, "https://a.bxc/", "a.bxc"),
            Ok("DIRECT".into())
        );
        assert_eq!(
            evaluate(pac, "https://aXbxc/", "aXbxc"),
            Ok("PROXY p:1".into())
        );
    }

    #[test]
    fn endless_loops_and_recursion_are_stopped() {
        let looping = "function FindProxyForURL(u, h) { while (true) {} }";
        assert!(matches!(
            evaluate(looping, "https://a/", "a"),
            Err(PacError::Call { .. })
        ));
        let recursing =
            "function f(n) { return f(n + 1); } function FindProxyForURL(u, h) { return f(0); }";
        assert!(matches!(
            evaluate(recursing, "https://a/", "a"),
            Err(PacError::Call { .. })
        ));
    }

    #[test]
    fn bad_scripts_are_errors() {
        assert!(matches!(
            evaluate("function (", "https://a/", "a"),
            Err(PacError::Load(_))
        ));
        assert_eq!(
            evaluate("var x = 1;", "https://a/", "a"),
            Err(PacError::NoFunction)
        );
        assert!(matches!(
            evaluate(
                "function FindProxyForURL(u, h) { return 1; }",
                "https://a/",
                "a"
            ),
            Err(PacError::NotAString { .. })
        ));
        let clock =
            "function FindProxyForURL(u, h) { return timeRange(9, 17) ? 'DIRECT' : 'PROXY p:1'; }";
        let err = evaluate(clock, "https://a/", "a").expect_err("clock");
        assert!(err.to_string().contains("timeRange"), "{err}");
        let date = "function FindProxyForURL(u, h) { return new Date().getHours() > 8 ? 'DIRECT' : 'PROXY p:1'; }";
        let err = evaluate(date, "https://a/", "a").expect_err("clock");
        assert!(err.to_string().contains("Date()"), "{err}");
    }
}
