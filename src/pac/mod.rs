//! Proxy auto-config (PAC) files, evaluated: `FindProxyForURL(url, host)` run by an embedded
//! JavaScript engine (boa_engine), with the standard PAC helpers defined in JavaScript beside it.
//!
//! Two users: `pinscope exemptions check` learns which hosts a PAC sends `DIRECT` (not through the
//! inspecting proxy), judged without this machine's network ([`Pac::new`]); `--pac` asks the PAC,
//! per target, which path a device takes ([`Pac::with_env`]): there the name-service helpers ask
//! the run's resolver and the clock helpers read the clock, through a [`PacEnv`], as a browser's
//! do (docs/proxies.md states each helper's semantics).
//!
//! What the helpers do without an environment, and where they differ from a browser's:
//! - `isPlainHostName`, `dnsDomainIs`, `localHostOrDomainIs`, `dnsDomainLevels`, `shExpMatch` and
//!   `convert_addr` behave as Mozilla's `pac_utils.js` defines them.
//! - Nothing is resolved: `dnsResolve` and `dnsResolveEx` return `null` (as a browser does for a
//!   name that does not resolve), `isResolvable` and `isResolvableEx` return `false`, `isInNet`
//!   compares only an address written as a dotted IPv4 literal (a name gives `false`), and
//!   `myIpAddress` returns `127.0.0.1` (what browsers return when they cannot tell). A PAC whose
//!   answer depends on resolving names is therefore judged as for a machine whose resolver knows
//!   none of them.
//! - `weekdayRange`, `dateRange` and `timeRange` depend on the clock; calling one is an error
//!   that names it, so no answer silently depends on when the check ran.
//! - `alert` does nothing.
//!
//! With a [`PacEnv`] (`--pac`): `dnsResolve` is the first IPv4 address the resolver gives (`null`
//! when none), `dnsResolveEx` every address joined by `;`, `isResolvable`/`isResolvableEx` whether
//! there is one, `isInNet` resolves a name first, `isInNetEx` compares any address with a
//! `prefix/len` (IPv4 or IPv6), `myIpAddress` is the first IPv4 address of
//! [`PacEnv::my_addresses`] (`127.0.0.1` when none), `myIpAddressEx` all of them, and
//! `sortIpAddressList` puts IPv6 before IPv4, each ascending, as Chrome's does. `weekdayRange`,
//! `dateRange` and `timeRange` compare the local time (or UTC with a trailing `"GMT"`) as
//! Mozilla's `pac_utils.js` does.
//!
//! Evaluation is bounded without reading a clock: loops stop after [`LOOP_LIMIT`] iterations,
//! recursion after [`RECURSION_LIMIT`] calls, and the engine's stack at [`STACK_LIMIT`] values;
//! a PAC that hits a bound is an error that says so.

use std::cell::RefCell;
use std::net::IpAddr;
use std::sync::Arc;

use boa_engine::{Context, JsArgs, JsResult, JsValue, NativeFunction, Source, js_string};

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
function weekdayRange() { __pinscopeClock('weekdayRange'); }
function dateRange() { __pinscopeClock('dateRange'); }
function timeRange() { __pinscopeClock('timeRange'); }
"#;

/// The helpers that ask this machine's network, replacing the ones above when a [`PacEnv`] is
/// given. `__pinscopeResolve(host, family)` and `__pinscopeMine(family)` are native: addresses
/// joined by `,` (family 4: IPv4 only; 0: all).
const NETWORK_HELPERS: &str = r#"
function dnsResolve(host) { var a = __pinscopeResolve(String(host), 4); return a ? a.split(',')[0] : null; }
function dnsResolveEx(host) { return __pinscopeResolve(String(host), 0).split(',').join(';'); }
function isResolvable(host) { return dnsResolve(host) != null; }
function isResolvableEx(host) { return __pinscopeResolve(String(host), 0) != ''; }
function isInNet(host, pattern, maskstr) {
    var ip = __pinscopeIsIPv4(host) ? String(host) : dnsResolve(host);
    if (ip == null || !__pinscopeIsIPv4(pattern) || !__pinscopeIsIPv4(maskstr)) return false;
    var mask = convert_addr(maskstr);
    return (convert_addr(ip) & mask) == (convert_addr(pattern) & mask);
}
function isInNetEx(ipaddr, prefix) { return __pinscopeInNet(String(ipaddr), String(prefix)); }
function myIpAddress() { var a = __pinscopeMine(4); return a ? a.split(',')[0] : '127.0.0.1'; }
function myIpAddressEx() { return __pinscopeMine(0).split(',').join(';'); }
function sortIpAddressList(list) { return __pinscopeSort(String(list)); }
"#;

/// The clock helpers, replacing the refusing ones when a [`PacEnv`] is given: Mozilla's
/// `pac_utils.js` semantics, local time unless the last argument is `"GMT"`.
const CLOCK_HELPERS: &str = r#"
function __pinscopeArgs(args) {
    var a = Array.prototype.slice.call(args);
    var gmt = a.length > 0 && a[a.length - 1] == 'GMT';
    if (gmt) a.pop();
    return { a: a, gmt: gmt, now: new Date() };
}
function __pinscopeIndex(list, name) {
    var i = list.indexOf(String(name).toUpperCase());
    return (i < 0 || i % 3 != 0 || String(name).length != 3) ? -1 : i / 3;
}
function weekdayRange() {
    var c = __pinscopeArgs(arguments), days = 'SUNMONTUEWEDTHUFRISAT';
    if (c.a.length < 1) return false;
    var today = c.gmt ? c.now.getUTCDay() : c.now.getDay();
    var d1 = __pinscopeIndex(days, c.a[0]);
    if (d1 < 0) return false;
    if (c.a.length == 1) return today == d1;
    var d2 = __pinscopeIndex(days, c.a[1]);
    if (d2 < 0) return false;
    return d1 <= d2 ? (d1 <= today && today <= d2) : (d1 <= today || today <= d2);
}
function dateRange() {
    var c = __pinscopeArgs(arguments), months = 'JANFEBMARAPRMAYJUNJULAUGSEPOCTNOVDEC';
    var n = c.a.length, now = c.now;
    if (n < 1 || n > 6) return false;
    var day = c.gmt ? now.getUTCDate() : now.getDate();
    var month = c.gmt ? now.getUTCMonth() : now.getMonth();
    var year = c.gmt ? now.getUTCFullYear() : now.getFullYear();
    function kind(v) {
        var t = parseInt(v, 10);
        if (isNaN(t)) return ['m', __pinscopeIndex(months, v)];
        return t < 32 ? ['d', t] : ['y', t];
    }
    if (n == 1) {
        var k = kind(c.a[0]);
        return k[0] == 'm' ? month == k[1] : k[0] == 'd' ? day == k[1] : year == k[1];
    }
    var half = n >> 1, onlyDays = true;
    var lo = { y: year, m: 0, d: 1 }, hi = { y: year, m: 11, d: 31 };
    for (var i = 0; i < n; i++) {
        var k = kind(c.a[i]), end = i < half ? lo : hi;
        if (k[0] == 'm' && k[1] < 0) return false;
        end[k[0]] = k[1];
        if (k[0] != 'd') onlyDays = false;
        if (k[0] == 'm' && i >= half && kind(c.a[i - half])[0] != 'd') hi.d = 31;
    }
    if (onlyDays) { lo.m = month; hi.m = month; }
    function key(x) { return x.y * 10000 + x.m * 100 + x.d; }
    var today = key({ y: year, m: month, d: day }), a = key(lo), b = key(hi);
    return a <= b ? (a <= today && today <= b) : (today >= a || today <= b);
}
function timeRange() {
    var c = __pinscopeArgs(arguments), a = c.a, now = c.now;
    var h = c.gmt ? now.getUTCHours() : now.getHours();
    var t = h * 3600 + (c.gmt ? now.getUTCMinutes() : now.getMinutes()) * 60
        + (c.gmt ? now.getUTCSeconds() : now.getSeconds());
    var lo, hi;
    if (a.length == 1) return h == Number(a[0]);
    if (a.length == 2) return Number(a[0]) <= h && h < Number(a[1]);
    if (a.length == 4) {
        lo = a[0] * 3600 + a[1] * 60; hi = a[2] * 3600 + a[3] * 60 + 59;
    } else if (a.length == 6) {
        lo = a[0] * 3600 + a[1] * 60 + Number(a[2]); hi = a[3] * 3600 + a[4] * 60 + Number(a[5]);
    } else {
        return false;
    }
    return lo <= hi ? (lo <= t && t <= hi) : (t >= lo || t <= hi);
}
"#;

/// What the network helpers ask of the machine evaluating a PAC. Called from the thread running
/// the script, which may block (it is never the async runtime's).
pub trait PacEnv: Send + Sync {
    /// The addresses `host` resolves to, in the resolver's order (empty when it does not).
    fn resolve(&self, host: &str) -> Vec<IpAddr>;
    /// This machine's addresses as the network sees them (the source address of a connection
    /// towards the network), best first.
    fn my_addresses(&self) -> Vec<IpAddr>;
}

thread_local! {
    /// The environment of the evaluation running on this thread (set by [`Pac::find_proxy`]).
    static ENV: RefCell<Option<Arc<dyn PacEnv>>> = const { RefCell::new(None) };
}

fn with_env<T>(f: impl FnOnce(&dyn PacEnv) -> T, none: T) -> T {
    ENV.with(|e| match e.borrow().as_ref() {
        Some(env) => f(env.as_ref()),
        None => none,
    })
}

fn arg_string(args: &[JsValue], i: usize, context: &mut Context) -> JsResult<String> {
    Ok(args
        .get_or_undefined(i)
        .to_string(context)?
        .to_std_string_escaped())
}

fn family_filter(args: &[JsValue], i: usize, context: &mut Context) -> JsResult<bool> {
    Ok(args.get_or_undefined(i).to_number(context)? == 4.0)
}

fn joined(addrs: impl IntoIterator<Item = IpAddr>, v4_only: bool) -> JsValue {
    let list: Vec<String> = addrs
        .into_iter()
        .filter(|a| !v4_only || a.is_ipv4())
        .map(|a| a.to_string())
        .collect();
    JsValue::from(boa_engine::JsString::from(list.join(",").as_str()))
}

fn native_resolve(_: &JsValue, args: &[JsValue], context: &mut Context) -> JsResult<JsValue> {
    let host = arg_string(args, 0, context)?;
    let v4 = family_filter(args, 1, context)?;
    let addrs = match host.parse::<IpAddr>() {
        Ok(ip) => vec![ip],
        Err(_) => with_env(|env| env.resolve(&host), Vec::new()),
    };
    Ok(joined(addrs, v4))
}

fn native_mine(_: &JsValue, args: &[JsValue], context: &mut Context) -> JsResult<JsValue> {
    let v4 = family_filter(args, 0, context)?;
    Ok(joined(with_env(|env| env.my_addresses(), Vec::new()), v4))
}

fn native_in_net(_: &JsValue, args: &[JsValue], context: &mut Context) -> JsResult<JsValue> {
    let ip = arg_string(args, 0, context)?;
    let prefix = arg_string(args, 1, context)?;
    Ok(JsValue::from(in_net_ex(&ip, &prefix)))
}

fn native_sort(_: &JsValue, args: &[JsValue], context: &mut Context) -> JsResult<JsValue> {
    let list = arg_string(args, 0, context)?;
    Ok(match sort_ip_list(&list) {
        Some(sorted) => JsValue::from(boa_engine::JsString::from(sorted.as_str())),
        None => JsValue::from(false),
    })
}

/// `isInNetEx(ip, "prefix/len")`: whether `ip` (an address literal) lies in the prefix.
pub fn in_net_ex(ip: &str, prefix: &str) -> bool {
    let Some((net, len)) = prefix.split_once('/') else {
        return false;
    };
    let (Ok(ip), Ok(net), Ok(len)) = (
        ip.trim().parse::<IpAddr>(),
        net.trim().parse::<IpAddr>(),
        len.trim().parse::<u32>(),
    ) else {
        return false;
    };
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(b)) if len <= 32 => {
            let mask = u32::MAX.checked_shl(32 - len).unwrap_or(0);
            u32::from(a) & mask == u32::from(b) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(b)) if len <= 128 => {
            let mask = u128::MAX.checked_shl(128 - len).unwrap_or(0);
            u128::from(a) & mask == u128::from(b) & mask
        }
        _ => false,
    }
}

/// `sortIpAddressList("a;b;…")`: IPv6 first, then IPv4, each ascending; `None` (the helper's
/// `false`) when an entry is not an address.
pub fn sort_ip_list(list: &str) -> Option<String> {
    let mut addrs = list
        .split(';')
        .map(|a| a.trim().parse::<IpAddr>().ok())
        .collect::<Option<Vec<_>>>()?;
    addrs.sort_by_key(|a| (a.is_ipv4(), *a));
    Some(
        addrs
            .iter()
            .map(IpAddr::to_string)
            .collect::<Vec<_>>()
            .join(";"),
    )
}

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
    env: Option<Arc<dyn PacEnv>>,
}

impl std::fmt::Debug for Pac {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pac").finish_non_exhaustive()
    }
}

impl Pac {
    /// Loads the helpers and the script, and checks that it defines `FindProxyForURL`.
    pub fn new(pac_text: &str) -> Result<Self, PacError> {
        Self::load(pac_text, None)
    }

    /// Loads the script with the helpers that resolve names, know this machine's addresses and
    /// read the clock, through `env` (what `--pac` uses).
    pub fn with_env(pac_text: &str, env: Arc<dyn PacEnv>) -> Result<Self, PacError> {
        Self::load(pac_text, Some(env))
    }

    fn load(pac_text: &str, env: Option<Arc<dyn PacEnv>>) -> Result<Self, PacError> {
        let mut context = Context::default();
        let limits = context.runtime_limits_mut();
        limits.set_loop_iteration_limit(LOOP_LIMIT);
        limits.set_recursion_limit(RECURSION_LIMIT);
        limits.set_stack_size_limit(STACK_LIMIT);
        context
            .eval(Source::from_bytes(HELPERS))
            .map_err(|e| PacError::Load(format!("the built-in helpers: {}", first_line(&e))))?;
        if env.is_some() {
            let natives: [(_, _, NativeFunction); 4] = [
                (
                    js_string!("__pinscopeResolve"),
                    2,
                    NativeFunction::from_fn_ptr(native_resolve),
                ),
                (
                    js_string!("__pinscopeMine"),
                    1,
                    NativeFunction::from_fn_ptr(native_mine),
                ),
                (
                    js_string!("__pinscopeInNet"),
                    2,
                    NativeFunction::from_fn_ptr(native_in_net),
                ),
                (
                    js_string!("__pinscopeSort"),
                    1,
                    NativeFunction::from_fn_ptr(native_sort),
                ),
            ];
            for (name, length, function) in natives {
                context
                    .register_global_builtin_callable(name, length, function)
                    .map_err(|e| PacError::Load(format!("the built-in helpers: {e}")))?;
            }
            for helpers in [NETWORK_HELPERS, CLOCK_HELPERS] {
                context
                    .eval(Source::from_bytes(helpers))
                    .map_err(|e| PacError::Load(format!("the built-in helpers: {e}")))?;
            }
        }
        // The script's top level may call the helpers too.
        let _scope = EnvScope::set(env.clone());
        context
            .eval(Source::from_bytes(pac_text))
            .map_err(|e| PacError::Load(first_line(&e)))?;
        let defined = context
            .eval(Source::from_bytes("typeof FindProxyForURL === 'function'"))
            .map_err(|e| PacError::Load(first_line(&e)))?;
        if defined != JsValue::from(true) {
            return Err(PacError::NoFunction);
        }
        Ok(Self { context, env })
    }

    /// The PAC's answer for one URL and host, as it returned it (`"PROXY a:3128; DIRECT"`).
    pub fn find_proxy(&mut self, url: &str, host: &str) -> Result<String, PacError> {
        let call = format!("FindProxyForURL({}, {})", js_string(url), js_string(host));
        let _scope = EnvScope::set(self.env.clone());
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

/// Sets this thread's [`PacEnv`] for as long as it lives.
struct EnvScope;

impl EnvScope {
    fn set(env: Option<Arc<dyn PacEnv>>) -> Self {
        ENV.with(|e| *e.borrow_mut() = env);
        Self
    }
}

impl Drop for EnvScope {
    fn drop(&mut self) {
        ENV.with(|e| *e.borrow_mut() = None);
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

/// Text a PAC or a server supplied, made safe for one line of output: controls, escape sequences
/// and bidi overrides shown escaped, at most 200 characters.
pub fn clean_line(text: &str) -> String {
    text.chars()
        .take(200)
        .flat_map(|c| {
            if c.is_control()
                || ('\u{202a}'..='\u{202e}').contains(&c)
                || ('\u{2066}'..='\u{2069}').contains(&c)
            {
                c.escape_unicode().collect::<Vec<_>>()
            } else {
                vec![c]
            }
        })
        .collect()
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
    }

    struct Lab;

    impl PacEnv for Lab {
        fn resolve(&self, host: &str) -> Vec<IpAddr> {
            match host {
                "intranet.corp" => vec!["10.1.2.3".parse().unwrap(), "fd00::1".parse().unwrap()],
                "v6only.corp" => vec!["fd00::2".parse().unwrap()],
                _ => Vec::new(),
            }
        }

        fn my_addresses(&self) -> Vec<IpAddr> {
            vec!["192.168.7.9".parse().unwrap()]
        }
    }

    fn with_lab(body: &str) -> String {
        let pac = format!("function FindProxyForURL(url, host) {{ return String({body}); }}");
        Pac::with_env(&pac, Arc::new(Lab))
            .expect("loads")
            .find_proxy("https://x/", "x")
            .expect("evaluates")
    }

    #[test]
    fn the_network_helpers_ask_the_environment() {
        assert_eq!(with_lab("dnsResolve('intranet.corp')"), "10.1.2.3");
        assert_eq!(with_lab("dnsResolve('v6only.corp')"), "null");
        assert_eq!(with_lab("dnsResolve('nowhere.corp')"), "null");
        assert_eq!(
            with_lab("dnsResolveEx('intranet.corp')"),
            "10.1.2.3;fd00::1"
        );
        assert_eq!(with_lab("isResolvable('intranet.corp')"), "true");
        assert_eq!(with_lab("isResolvable('v6only.corp')"), "false");
        assert_eq!(with_lab("isResolvableEx('v6only.corp')"), "true");
        assert_eq!(
            with_lab("isInNet('intranet.corp', '10.0.0.0', '255.0.0.0')"),
            "true"
        );
        assert_eq!(
            with_lab("isInNet('nowhere.corp', '10.0.0.0', '255.0.0.0')"),
            "false"
        );
        assert_eq!(with_lab("isInNetEx('fd00::1', 'fd00::/8')"), "true");
        assert_eq!(with_lab("isInNetEx('10.1.2.3', '10.1.0.0/16')"), "true");
        assert_eq!(with_lab("isInNetEx('10.2.2.3', '10.1.0.0/16')"), "false");
        assert_eq!(with_lab("myIpAddress()"), "192.168.7.9");
        assert_eq!(with_lab("myIpAddressEx()"), "192.168.7.9");
        assert_eq!(
            with_lab("sortIpAddressList('10.2.0.1;fd00::1;10.1.0.1')"),
            "fd00::1;10.1.0.1;10.2.0.1"
        );
        assert_eq!(with_lab("sortIpAddressList('10.2.0.1;nope')"), "false");
    }

    #[test]
    fn the_clock_helpers_read_the_clock_with_an_environment() {
        // Every day of the week, every hour, every month: true whatever the time.
        assert_eq!(with_lab("weekdayRange('SUN', 'SAT')"), "true");
        assert_eq!(with_lab("weekdayRange('SAT', 'FRI', 'GMT')"), "true");
        assert_eq!(with_lab("timeRange(0, 24)"), "true");
        assert_eq!(with_lab("timeRange(0, 0, 23, 59, 'GMT')"), "true");
        assert_eq!(with_lab("dateRange('JAN', 'DEC')"), "true");
        assert_eq!(with_lab("dateRange(1, 31)"), "true");
        assert_eq!(with_lab("dateRange(1970, 9999)"), "true");
        assert_eq!(with_lab("dateRange(1971)"), "false");
        assert_eq!(with_lab("weekdayRange('XYZ')"), "false");
        // Exactly one of these seven holds.
        let days = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];
        let today: usize = days
            .iter()
            .filter(|d| with_lab(&format!("weekdayRange('{d}')")) == "true")
            .count();
        assert_eq!(today, 1);
    }
}
