//! Proxies the tests run for real: squid with ssl_bump (or as a plain tunnel), squid as an HTTPS
//! proxy, and the guard that stops each process when its test ends. squid comes from Debian's
//! squid-openssl, installed by `.ci/run`; without it these return `None` after a printed skip,
//! unless PINSCOPE_REQUIRE_INTERCEPTORS=1 (set in CI) makes its absence fail.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use super::pki::Ca;
use super::run::Scratch;
use super::servers::{free_port, wait_for_port};
use super::tools::require_tool;

/// Set in CI: a missing proxy fails the test instead of skipping it.
pub const INTERCEPTORS: &str = "PINSCOPE_REQUIRE_INTERCEPTORS";

/// A child process killed when the test ends, with the shared-memory files it leaves.
pub struct Running {
    pub child: Child,
    pub cleanup: Vec<PathBuf>,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        for p in &self.cleanup {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// squid with ssl_bump, its CA signing every forged leaf; `bump` false makes it a plain tunnel.
/// `hosts` lines resolve catalog names to loopback without DNS; `deny` names a host whose CONNECT
/// is denied by http_access.
pub fn squid(
    scratch: &Scratch,
    bump: bool,
    hosts: &[&str],
    deny: Option<&str>,
) -> Option<(Running, u16)> {
    let squid = require_tool("/usr/sbin/squid", INTERCEPTORS)?;
    let certgen = require_tool("/usr/lib/squid/security_file_certgen", INTERCEPTORS)?;
    let dir = scratch.dir.path().join(format!("squid-{}", free_port()));
    std::fs::create_dir_all(&dir).unwrap();
    // Squid CAs are made by each site; this one is named the way many deployments name theirs.
    let ca = Ca::root_with("Squid Proxy CA", "Example Corp", Vec::new());
    std::fs::write(dir.join("ca.pem"), &ca.pem).unwrap();
    std::fs::write(dir.join("ca.key"), ca.key_pem()).unwrap();
    let db = dir.join("ssl_db");
    let status = Command::new(&certgen)
        .args(["-c", "-s"])
        .arg(&db)
        .args(["-M", "4MB"])
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "security_file_certgen -c failed");
    let port = free_port();
    let d = dir.display();
    let bump_rules = if bump {
        "acl step1 at_step SslBump1\nssl_bump peek step1\nssl_bump bump all\n"
    } else {
        "ssl_bump splice all\n"
    };
    let deny_rules = deny
        .map(|h| format!("acl denied dstdomain {h}\nhttp_access deny denied\n"))
        .unwrap_or_default();
    let conf = format!(
        "http_port 127.0.0.1:{port} ssl-bump tls-cert={d}/ca.pem tls-key={d}/ca.key generate-host-certificates=on\n\
         sslcrtd_program {certgen} -s {d}/ssl_db -M 4MB\n\
         sslcrtd_children 2\n\
         {bump_rules}{deny_rules}http_access allow all\n\
         {base}sslproxy_cert_error allow all\n\
         tls_outgoing_options flags=DONT_VERIFY_PEER\n",
        certgen = certgen.display(),
        base = squid_base(&dir)
    );
    Some((start_squid(&squid, scratch, &dir, port, hosts, &conf), port))
}

/// squid as an HTTPS proxy (`https_port`, TLS to the proxy, CONNECT inside it) that only tunnels,
/// its own certificate for `localhost` issued by `proxy_ca`.
pub fn https_squid(scratch: &Scratch, proxy_ca: &Ca, hosts: &[&str]) -> Option<(Running, u16)> {
    let squid = require_tool("/usr/sbin/squid", INTERCEPTORS)?;
    let dir = scratch
        .dir
        .path()
        .join(format!("squid-https-{}", free_port()));
    std::fs::create_dir_all(&dir).unwrap();
    let leaf = proxy_ca.leaf_reusing_ca_key(&["localhost"]);
    std::fs::write(dir.join("proxy.pem"), &leaf.pem).unwrap();
    std::fs::write(dir.join("proxy.key"), proxy_ca.key_pem()).unwrap();
    let port = free_port();
    let d = dir.display();
    let conf = format!(
        "https_port 127.0.0.1:{port} tls-cert={d}/proxy.pem tls-key={d}/proxy.key\n\
         http_access allow all\n\
         {base}",
        base = squid_base(&dir)
    );
    Some((start_squid(&squid, scratch, &dir, port, hosts, &conf), port))
}

/// Writes `conf` into `dir` and runs squid on it (in the foreground, under its own service name so
/// parallel squids do not share memory segments), waiting until `port` listens.
/// `hosts` resolve to loopback through its hosts file, without DNS.
fn start_squid(
    squid: &Path,
    scratch: &Scratch,
    dir: &Path,
    port: u16,
    hosts: &[&str],
    conf: &str,
) -> Running {
    let hosts_file: String = hosts.iter().map(|h| format!("127.0.0.1 {h}\n")).collect();
    std::fs::write(dir.join("hosts"), hosts_file).unwrap();
    std::fs::write(dir.join("squid.conf"), conf).unwrap();
    // squid drops to the proxy user, which must read its files and write its database.
    let _ = Command::new("chown")
        .arg("-R")
        .arg("proxy")
        .arg(dir)
        .status();
    let _ = Command::new("chmod")
        .arg("-R")
        .arg("a+rwX")
        .arg(scratch.dir.path())
        .status();
    let name = format!("pinscope{port}");
    let mut child = Command::new(squid)
        .args(["-N", "-n", &name, "-f"])
        .arg(dir.join("squid.conf"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for_port(port, &mut child, "squid");
    let cleanup = [
        "cf__metadata",
        "cf__queues",
        "cf__readers",
        "tls_session_cache",
    ]
    .iter()
    .map(|s| Path::new("/dev/shm").join(format!("{name}-{s}.shm")))
    .collect();
    Running { child, cleanup }
}

/// What every squid here shares: names from its hosts file, no cache, its files in `dir`, quick
/// shutdown.
fn squid_base(dir: &Path) -> String {
    let d = dir.display();
    format!(
        "hosts_file {d}/hosts\n\
         dns_nameservers 127.0.0.1\n\
         shutdown_lifetime 0 seconds\n\
         pid_filename {d}/squid.pid\n\
         cache_log {d}/cache.log\n\
         access_log none\n\
         cache deny all\n\
         cache_mem 0 MB\n\
         cache_effective_user proxy\n\
         coredump_dir {d}\n"
    )
}
