//! Labs the audit tests share: a "public" root and an "inspection" root given as the two trust
//! stores, and a user catalog of lab services on loopback.

use super::pki::Ca;
use super::run::{Run, Scratch, pinscope, resolve};

/// A lab PKI: a "public" root, an "inspection" root, and the scratch folder for their PEM files.
pub struct Lab {
    pub public: Ca,
    pub inspection: Ca,
    pub scratch: Scratch,
}

impl Lab {
    pub fn new() -> Self {
        Self {
            public: Ca::root("Lab Public Root"),
            inspection: Ca::root("Corp SSL Inspection CA"),
            scratch: Scratch::new(),
        }
    }

    /// Trust flags: the lab public root as the public store, the inspection root as the native one.
    pub fn trust(&self) -> Vec<String> {
        vec![
            self.public_roots(),
            self.scratch.roots("native", &self.inspection.pem),
        ]
    }

    /// The lab public root as the public store (`--public-roots`), alone.
    pub fn public_roots(&self) -> String {
        self.scratch.roots("public", &self.public.pem)
    }

    /// `audit --format=json` of explicit `host:port` targets, each resolved to 127.0.0.1, with
    /// the lab's trust stores.
    pub fn audit(&self, targets: &[(&str, u16)], extra: &[&str]) -> Run {
        let mut args = vec!["audit".to_string(), "--format=json".into()];
        for (host, port) in targets {
            args.push(format!("{host}:{port}"));
            args.push(resolve(host, *port));
        }
        args.extend(extra.iter().map(ToString::to_string));
        args.extend(self.trust());
        pinscope(&args)
    }

    /// `inspect --format=json` of a chain (PEM, written to the scratch folder) for `host`, with
    /// the lab's trust stores.
    pub fn inspect(&self, chain: &str, host: &str) -> Run {
        let mut args = vec![
            "inspect".to_string(),
            self.scratch.file("chain.pem", chain).display().to_string(),
            format!("--host={host}"),
            "--format=json".into(),
        ];
        args.extend(self.trust());
        pinscope(&args)
    }
}

/// A user catalog with a section of its own (`lab`), whose rows say how each is probed, and the
/// `--resolve` rules that point its names at loopback.
pub struct LabCatalog {
    pub scratch: Scratch,
    pub toml: String,
    resolve: Vec<String>,
}

impl LabCatalog {
    pub fn new() -> Self {
        Self {
            scratch: Scratch::new(),
            toml: "version = 1\n[[source]]\nid = \"lab\"\ntitle = \"Lab\"\n\
                   [[section]]\nid = \"lab\"\ntitle = \"Lab services\"\n"
                .into(),
            resolve: Vec::new(),
        }
    }

    /// Adds `host` on loopback `port`; `extra` is more TOML for the entry (`probe = "ntp"`, …).
    pub fn add(&mut self, host: &str, port: u16, transport: &str, extra: &str) {
        self.toml.push_str(&format!(
            "[[entry]]\nhosts = [\"{host}\"]\nports = [{port}]\ntransport = \"{transport}\"\n\
             section = \"lab\"\nsource = \"lab\"\ndescription = \"Lab service\"\n{extra}\n"
        ));
        self.resolve.push(resolve(host, port));
    }

    /// `--catalog=FILE`, the catalog written to the scratch folder.
    pub fn flag(&self) -> String {
        format!(
            "--catalog={}",
            self.scratch.file("lab.toml", &self.toml).display()
        )
    }

    /// `audit --catalog=… --section=lab --format=json` with the given extra flags.
    pub fn audit(&self, extra: &[String]) -> Run {
        let mut args = vec![
            "audit".to_string(),
            self.flag(),
            "--section=lab".into(),
            "--format=json".into(),
        ];
        args.extend(self.resolve.iter().cloned());
        args.extend(extra.iter().cloned());
        let run = pinscope(&args);
        eprintln!("{}{}", run.stdout, run.stderr);
        run
    }
}
