//! Real legacy certificates, made with the `openssl` command at test time, checked two ways: by
//! `pinscope::analysis::signatures::check` and by `openssl verify`. Where OpenSSL's crypto says a
//! CA signed a certificate, ours must say Valid (or, for an algorithm *ring* lacks, Unsupported,
//! never Invalid); where it says not, ours must not say Valid. Apple's requirements must then
//! flag what devices refuse in them.
//!
//! Without the `openssl` binary the tests are skipped with the reason printed, unless
//! PINSCOPE_REQUIRE_OPENSSL=1 (as in CI).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::PathBuf;
use std::process::{Command, Output};

use pinscope::analysis::Code;
use pinscope::analysis::requirements::{self, RootOrigin};
use pinscope::analysis::signatures::{self, HashAlg, KeyKind, SignatureCheck};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use x509_parser::prelude::{FromDer, X509Certificate};

use common::{openssl, require_tool};

/// Extensions for the lab's CAs and leaves; `-subj` gives each its name.
const CONFIG: &str = "\
[req]
distinguished_name = dn
prompt = no
[dn]
CN = placeholder
[ca_ext]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[leaf_ext]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:www.example.test
";

/// The real Superfish root's subject: a 1024-bit RSA key, self-signed with SHA-1.
const SUPERFISH: &str = "/C=US/ST=CA/L=SF/O=Superfish, Inc./CN=Superfish, Inc.";

/// A scratch folder where `openssl` makes keys and certificates.
struct OpensslLab {
    dir: tempfile::TempDir,
}

impl OpensslLab {
    /// `None` (with the reason printed) when the `openssl` binary is missing and not required.
    fn new() -> Option<Self> {
        require_tool("openssl", "PINSCOPE_REQUIRE_OPENSSL")?;
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("lab.cnf"), CONFIG).unwrap();
        let lab = Self { dir };
        // One leaf key and request, certified by each CA in turn.
        lab.run(&[
            "req",
            "-new",
            "-config",
            "lab.cnf",
            "-subj",
            "/CN=www.example.test",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "leaf.key",
            "-out",
            "leaf.csr",
        ]);
        Some(lab)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn openssl(&self, args: &[&str]) -> Output {
        Command::new("openssl")
            .args(args)
            .current_dir(self.dir.path())
            .output()
            .unwrap()
    }

    fn run(&self, args: &[&str]) {
        openssl(self.dir.path(), args);
    }

    /// A self-signed CA `name`.pem with key `name`.key.
    fn root(&self, name: &str, subject: &str, newkey: &[&str], digest: &str) {
        let (key, pem) = (format!("{name}.key"), format!("{name}.pem"));
        let mut args = vec![
            "req",
            "-x509",
            "-config",
            "lab.cnf",
            "-extensions",
            "ca_ext",
            "-subj",
            subject,
            "-nodes",
            "-keyout",
            &key,
            "-out",
            &pem,
            "-days",
            "3650",
            digest,
        ];
        args.extend_from_slice(newkey);
        self.run(&args);
    }

    /// The lab's leaf, certified by CA `ca` as `name`.pem with the given digest and options.
    fn leaf(&self, name: &str, ca: &str, serial: &str, sign: &[&str]) {
        let (ca_pem, ca_key, pem) = (
            format!("{ca}.pem"),
            format!("{ca}.key"),
            format!("{name}.pem"),
        );
        let mut args = vec![
            "x509",
            "-req",
            "-in",
            "leaf.csr",
            "-CA",
            &ca_pem,
            "-CAkey",
            &ca_key,
            "-set_serial",
            serial,
            "-days",
            "365",
            "-extfile",
            "lab.cnf",
            "-extensions",
            "leaf_ext",
            "-out",
            &pem,
        ];
        args.extend_from_slice(sign);
        self.run(&args);
    }

    fn der(&self, name: &str) -> Vec<u8> {
        CertificateDer::from_pem_file(self.path(&format!("{name}.pem")))
            .unwrap()
            .to_vec()
    }

    fn spki(&self, name: &str) -> Vec<u8> {
        let der = self.der(name);
        let (_, cert) = X509Certificate::from_der(&der).unwrap();
        cert.public_key().raw.to_vec()
    }

    /// What OpenSSL's crypto says: did `ca` sign `leaf`? Security level 0, so that SHA-1, MD5
    /// and RSA-1024 are judged by the signature alone.
    fn openssl_says_signed(&self, ca: &str, leaf: &str) -> bool {
        let out = self.openssl(&[
            "verify",
            "-auth_level",
            "0",
            "-partial_chain",
            "-CAfile",
            &format!("{ca}.pem"),
            &format!("{leaf}.pem"),
        ]);
        out.status.success() && String::from_utf8_lossy(&out.stdout).contains(": OK")
    }

    /// Ours and OpenSSL's answers for `leaf` under `ca`'s key, which must agree.
    fn cross_check(&self, ca: &str, leaf: &str) -> SignatureCheck {
        let ours = signatures::check(&self.der(leaf), &self.spki(ca));
        let theirs = self.openssl_says_signed(ca, leaf);
        match (&ours, theirs) {
            (SignatureCheck::Valid, true) | (SignatureCheck::Invalid, false) => {}
            // An algorithm ring lacks: nothing known, which contradicts no one.
            (SignatureCheck::Unsupported { .. }, _) => {}
            _ => panic!("{leaf} under {ca}: ours {ours:?}, openssl says signed: {theirs}"),
        }
        ours
    }
}

#[test]
fn superfish_like_rsa_1024_sha1_chain() {
    let Some(lab) = OpensslLab::new() else { return };
    lab.root("superfish", SUPERFISH, &["-newkey", "rsa:1024"], "-sha1");
    lab.root(
        "other",
        "/CN=Unrelated CA",
        &["-newkey", "rsa:1024"],
        "-sha1",
    );
    lab.leaf("leaf", "superfish", "2", &["-sha1"]);
    lab.leaf("sha256", "superfish", "12", &["-sha256"]);
    lab.leaf("sha384", "superfish", "13", &["-sha384"]);

    // The root's own SHA-1 self-signature, and the SHA-1 leaf: signed, say both.
    assert_eq!(
        lab.cross_check("superfish", "superfish"),
        SignatureCheck::Valid
    );
    assert_eq!(lab.cross_check("superfish", "leaf"), SignatureCheck::Valid);
    assert_eq!(
        lab.cross_check("superfish", "sha256"),
        SignatureCheck::Valid
    );
    // ring offers SHA-384 only for RSA keys of 2048 bits and more.
    assert!(lab.openssl_says_signed("superfish", "sha384"));
    assert_eq!(
        lab.cross_check("superfish", "sha384"),
        SignatureCheck::Unsupported {
            algorithm: "sha384WithRSAEncryption with a 1024-bit RSA key".into()
        }
    );
    // Another CA's key of the same kind did not sign them.
    assert_eq!(lab.cross_check("other", "leaf"), SignatureCheck::Invalid);
    assert_eq!(
        lab.cross_check("other", "superfish"),
        SignatureCheck::Invalid
    );

    let root = lab.der("superfish");
    let leaf = lab.der("leaf");
    let alg = signatures::signature_algorithm(&leaf).unwrap();
    assert_eq!(alg.name, "sha1WithRSAEncryption");
    assert_eq!(alg.hash, Some(HashAlg::Sha1));
    let key = signatures::key_info(&lab.spki("superfish")).unwrap();
    assert_eq!((key.kind, key.bits), (KeyKind::Rsa, 1024));

    // Devices refuse the CA's 1024-bit key and the leaf's SHA-1 signature; the root's own SHA-1
    // self-signature is never relied on, so it is not held against it.
    for origin in [RootOrigin::System, RootOrigin::Installed] {
        let findings = requirements::check(&[&leaf, &root], origin);
        let codes: Vec<Code> = findings.iter().map(|f| f.code).collect();
        assert_eq!(
            codes,
            [Code::WeakSignatureAlgorithm, Code::WeakKey],
            "{findings:?}"
        );
        assert!(
            findings[0]
                .message
                .starts_with("'www.example.test' is signed with sha1WithRSAEncryption (SHA-1)"),
            "{}",
            findings[0].message
        );
        assert!(
            findings[1]
                .message
                .starts_with("'Superfish, Inc.' has a 1024-bit RSA key"),
            "{}",
            findings[1].message
        );
    }
}

#[test]
fn md5_signed_leaf_is_unsupported_not_invalid() {
    let Some(lab) = OpensslLab::new() else { return };
    lab.root("ca", "/CN=Legacy CA", &["-newkey", "rsa:2048"], "-sha256");
    lab.leaf("md5", "ca", "3", &["-md5"]);
    assert!(lab.openssl_says_signed("ca", "md5"));
    assert_eq!(
        lab.cross_check("ca", "md5"),
        SignatureCheck::Unsupported {
            algorithm: "md5WithRSAEncryption".into()
        }
    );
    let leaf = lab.der("md5");
    let findings = requirements::check(&[&leaf, &lab.der("ca")], RootOrigin::Installed);
    let codes: Vec<Code> = findings.iter().map(|f| f.code).collect();
    assert_eq!(codes, [Code::WeakSignatureAlgorithm], "{findings:?}");
    assert!(findings[0].message.contains("md5WithRSAEncryption (MD5)"));
}

#[test]
fn modern_rsa_2048_sha256_chain() {
    let Some(lab) = OpensslLab::new() else { return };
    lab.root(
        "root",
        "/CN=Modern Root",
        &["-newkey", "rsa:2048"],
        "-sha256",
    );
    lab.root(
        "other",
        "/CN=Unrelated CA",
        &["-newkey", "rsa:2048"],
        "-sha256",
    );
    lab.leaf("leaf", "root", "4", &["-sha256"]);
    lab.leaf("sha512", "root", "5", &["-sha512"]);
    lab.leaf("sha384", "root", "6", &["-sha384"]);
    lab.leaf(
        "pss",
        "root",
        "7",
        &[
            "-sha256",
            "-sigopt",
            "rsa_padding_mode:pss",
            "-sigopt",
            "rsa_pss_saltlen:digest",
        ],
    );
    for leaf in ["root", "leaf", "sha512", "sha384", "pss"] {
        assert_eq!(
            lab.cross_check("root", leaf),
            SignatureCheck::Valid,
            "{leaf}"
        );
        assert_eq!(
            lab.cross_check("other", leaf),
            SignatureCheck::Invalid,
            "{leaf}"
        );
    }
    assert_eq!(
        signatures::signature_algorithm(&lab.der("pss")).unwrap(),
        signatures::SignatureAlgorithm {
            name: "rsassaPss".into(),
            hash: Some(HashAlg::Sha256)
        }
    );
    let (leaf, root) = (lab.der("leaf"), lab.der("root"));
    for origin in [RootOrigin::System, RootOrigin::Installed] {
        let findings = requirements::check(&[&leaf, &root], origin);
        assert!(findings.is_empty(), "{findings:?}");
    }
}

#[test]
fn pss_with_a_salt_ring_cannot_check_is_unsupported() {
    let Some(lab) = OpensslLab::new() else { return };
    lab.root("root", "/CN=PSS Root", &["-newkey", "rsa:2048"], "-sha256");
    lab.leaf(
        "pss",
        "root",
        "8",
        &[
            "-sha256",
            "-sigopt",
            "rsa_padding_mode:pss",
            "-sigopt",
            "rsa_pss_saltlen:max",
        ],
    );
    assert!(lab.openssl_says_signed("root", "pss"));
    let SignatureCheck::Unsupported { algorithm } = lab.cross_check("root", "pss") else {
        panic!("a PSS salt longer than the hash should be unsupported");
    };
    assert!(
        algorithm.starts_with("rsassaPss with SHA-256 and a "),
        "{algorithm}"
    );
}

#[test]
fn ecdsa_chains() {
    let Some(lab) = OpensslLab::new() else { return };
    lab.root(
        "p384",
        "/CN=EC Root",
        &["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-384"],
        "-sha384",
    );
    lab.root(
        "p256",
        "/CN=Old EC Root",
        &["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"],
        "-sha1",
    );
    lab.leaf("leaf384", "p384", "9", &["-sha384"]);
    lab.leaf("leaf256", "p384", "10", &["-sha256"]);
    lab.leaf("sha1", "p256", "11", &["-sha1"]);
    assert_eq!(lab.cross_check("p384", "p384"), SignatureCheck::Valid);
    assert_eq!(lab.cross_check("p384", "leaf384"), SignatureCheck::Valid);
    assert_eq!(lab.cross_check("p384", "leaf256"), SignatureCheck::Valid);
    assert_eq!(lab.cross_check("p256", "leaf384"), SignatureCheck::Invalid);
    // ecdsa-with-SHA1: OpenSSL checks it, ring cannot.
    assert!(lab.openssl_says_signed("p256", "sha1"));
    assert_eq!(
        lab.cross_check("p256", "sha1"),
        SignatureCheck::Unsupported {
            algorithm: "ecdsa-with-SHA1".into()
        }
    );
    let findings = requirements::check(&[&lab.der("sha1"), &lab.der("p256")], RootOrigin::System);
    let codes: Vec<Code> = findings.iter().map(|f| f.code).collect();
    assert_eq!(codes, [Code::WeakSignatureAlgorithm], "{findings:?}");
}
