//! Lab PKIs made with rcgen: roots, intermediates, leaves (with the serials and revocation URLs a
//! test chooses), CRLs, and the DER pieces rcgen does not write itself.

use rcgen::{
    BasicConstraints, CertificateParams, CertificateRevocationListParams, CrlDistributionPoint,
    CustomExtension, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyIdMethod,
    KeyPair, KeyUsagePurpose, RevocationReason, RevokedCertParams, SerialNumber,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// A certificate made for a test with its key: a certificate authority, or any certificate that
/// signs something (an OCSP responder's).
pub struct Ca {
    pub cert_der: CertificateDer<'static>,
    pub pem: String,
    key_pem: String,
    issuer: Issuer<'static, KeyPair>,
}

/// A leaf (or intermediate) with its key and the chain to serve.
pub struct Leaf {
    pub chain: Vec<CertificateDer<'static>>,
    pub key: PrivateKeyDer<'static>,
    pub pem: String,
}

/// A distinguished name of a common name and an organisation.
pub fn name(cn: &str, org: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, cn);
    dn.push(DnType::OrganizationName, org);
    dn
}

/// Valid from yesterday for 30 days.
pub fn validity(params: &mut CertificateParams) {
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::days(1);
    params.not_after = now + time::Duration::days(30);
}

/// A private key from PEM in PKCS#8, PKCS#1 (RSA) or SEC1 form. ring, behind rcgen, reads only
/// PKCS#8, so an RSA key in PKCS#1 is wrapped first.
fn key_from_pem(pem: &str) -> KeyPair {
    let der = PrivateKeyDer::from_pem_slice(pem.as_bytes()).unwrap();
    let pkcs8 = match &der {
        PrivateKeyDer::Pkcs8(k) => k.secret_pkcs8_der().to_vec(),
        PrivateKeyDer::Pkcs1(k) => {
            // PrivateKeyInfo ::= SEQUENCE { version 0, AlgorithmIdentifier rsaEncryption, OCTET STRING key }
            let alg = [
                0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05,
                0x00,
            ];
            let mut body = vec![0x02, 0x01, 0x00];
            body.extend_from_slice(&alg);
            body.extend(der_tlv(0x04, k.secret_pkcs1_der()));
            der_tlv(0x30, &body)
        }
        other => panic!("unsupported key form {other:?}"),
    };
    KeyPair::try_from(pkcs8.as_slice()).unwrap()
}

/// A DER TLV with a definite length: the product's own encoder.
pub fn der_tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    pinscope::der::encode(tag, content)
}

/// A dotted OID as rcgen wants it.
fn arcs(oid: &str) -> Vec<u64> {
    oid.split('.').map(|a| a.parse().unwrap()).collect()
}

/// An extension carrying no value (ASN.1 NULL), as Apple's marker extensions do.
pub fn marker(oid: &str) -> CustomExtension {
    CustomExtension::from_oid_content(&arcs(oid), vec![0x05, 0x00])
}

/// An unknown, non-critical extension holding an OCTET STRING of `size` bytes, to make a
/// certificate as large as a test needs.
pub fn padding(size: usize) -> CustomExtension {
    CustomExtension::from_oid_content(
        &arcs("1.3.6.1.4.1.55555.1"),
        der_tlv(0x04, &vec![0x41; size]),
    )
}

/// AuthorityInfoAccess with one id-ad-ocsp URI per URL.
pub fn ocsp_urls(urls: &[String]) -> CustomExtension {
    let descs: Vec<u8> = urls
        .iter()
        .flat_map(|u| {
            let oid = der_tlv(0x06, &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30, 0x01]);
            let uri = der_tlv(0x86, u.as_bytes());
            der_tlv(0x30, &[oid, uri].concat())
        })
        .collect();
    CustomExtension::from_oid_content(&arcs("1.3.6.1.5.5.7.1.1"), der_tlv(0x30, &descs))
}

/// A CRL distribution point extension naming one URL.
pub fn crl_distribution_point(url: &str) -> CustomExtension {
    let uri = der_tlv(0x86, url.as_bytes());
    let der = der_tlv(0x30, &der_tlv(0x30, &der_tlv(0xa0, &der_tlv(0xa0, &uri))));
    CustomExtension::from_oid_content(&arcs("2.5.29.31"), der)
}

/// Serial number `n` of a lab: its top bit is clear, so its DER and openssl's hex agree.
pub fn lab_serial(n: u8) -> Vec<u8> {
    vec![0x1a, 0x2b, 0x3c, 0x4d, n]
}

/// A CA certificate's parameters: the name, CA basic constraints, certificate and CRL signing,
/// the extensions, and the lab validity.
pub fn ca_params(cn: &str, org: &str, extensions: Vec<CustomExtension>) -> CertificateParams {
    let mut params = CertificateParams::default();
    params.distinguished_name = name(cn, org);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params.custom_extensions = extensions;
    validity(&mut params);
    params
}

/// A server certificate's parameters for `names` (the first is the subject's common name).
pub fn leaf_params(names: &[&str]) -> CertificateParams {
    let mut params =
        CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap();
    params.distinguished_name = name(names[0], "pinscope lab server");
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    validity(&mut params);
    params
}

impl Ca {
    fn made(cert: rcgen::Certificate, params: CertificateParams, key: KeyPair) -> Self {
        Self {
            cert_der: cert.der().clone(),
            pem: cert.pem(),
            key_pem: key.serialize_pem(),
            issuer: Issuer::new(params, key),
        }
    }

    /// A self-signed root.
    pub fn root(cn: &str) -> Self {
        Self::root_with(cn, "pinscope lab", Vec::new())
    }

    /// A self-signed root with the given organisation and extensions.
    pub fn root_with(cn: &str, org: &str, extensions: Vec<CustomExtension>) -> Self {
        Self::self_signed(ca_params(cn, org, extensions))
    }

    /// A self-signed certificate with these parameters and a new key.
    pub fn self_signed(params: CertificateParams) -> Self {
        let key = KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        Self::made(cert, params, key)
    }

    /// An intermediate CA signed by this one.
    pub fn intermediate(&self, cn: &str, org: &str, extensions: Vec<CustomExtension>) -> Self {
        self.sign(ca_params(cn, org, extensions))
    }

    /// A certificate with these parameters and a new key, signed by this CA.
    pub fn sign(&self, params: CertificateParams) -> Self {
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        Self::made(cert, params, key)
    }

    /// A real CA whose certificate and private key are given (PEM), e.g. an interception product's.
    pub fn from_pem(cert_pem: &str, key_pem: &str) -> Self {
        let key = key_from_pem(key_pem);
        let issuer = Issuer::from_ca_cert_pem(cert_pem, key).unwrap();
        let cert_der = CertificateDer::from_pem_slice(cert_pem.as_bytes()).unwrap();
        Self {
            cert_der,
            pem: cert_pem.to_owned(),
            key_pem: key_pem.to_owned(),
            issuer,
        }
    }

    /// The CA's private key in PEM.
    pub fn key_pem(&self) -> &str {
        &self.key_pem
    }

    /// A server certificate for `names`, signed by this CA; the served chain is leaf + this CA
    /// unless `send_ca` is false.
    pub fn leaf(&self, names: &[&str], send_ca: bool) -> Leaf {
        let chain = if send_ca { vec![self] } else { Vec::new() };
        self.leaf_with(names, Vec::new(), chain)
    }

    /// A server certificate with extensions; `chain` lists the CA certificates sent after it.
    pub fn leaf_with(
        &self,
        names: &[&str],
        extensions: Vec<CustomExtension>,
        chain: Vec<&Ca>,
    ) -> Leaf {
        let mut params = leaf_params(names);
        params.custom_extensions = extensions;
        self.leaf_from(params, chain, KeyPair::generate().unwrap())
    }

    /// A leaf whose key is this CA's own key, as mitmproxy and squid make them; chain: leaf + CA.
    pub fn leaf_reusing_ca_key(&self, names: &[&str]) -> Leaf {
        let key = key_from_pem(&self.key_pem);
        self.leaf_from(leaf_params(names), vec![self], key)
    }

    /// A server certificate for `host` with serial [`lab_serial`]`(n)`, naming these OCSP
    /// responders and CRLs; the served chain is leaf + this CA.
    pub fn revocable_leaf(&self, host: &str, n: u8, ocsp: &[String], crl: &[String]) -> Leaf {
        let mut params = leaf_params(&[host]);
        params.serial_number = Some(SerialNumber::from(lab_serial(n)));
        if !ocsp.is_empty() {
            params.custom_extensions = vec![ocsp_urls(ocsp)];
        }
        if !crl.is_empty() {
            params.crl_distribution_points = vec![CrlDistributionPoint { uris: crl.to_vec() }];
        }
        self.leaf_from(params, vec![self], KeyPair::generate().unwrap())
    }

    /// A leaf with these parameters and key, signed by this CA; `chain` lists the CA certificates
    /// sent after it.
    pub fn leaf_from(&self, params: CertificateParams, chain: Vec<&Ca>, key: KeyPair) -> Leaf {
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        let mut ders = vec![cert.der().clone()];
        let mut pem = cert.pem();
        for ca in chain {
            ders.push(ca.cert_der.clone());
            pem.push_str(&ca.pem);
        }
        Leaf {
            chain: ders,
            key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
            pem,
        }
    }

    /// A CRL from this CA listing the serials [`lab_serial`]`(n)` of `revoked` (keyCompromise);
    /// `stale` puts its nextUpdate in the past.
    pub fn crl(&self, revoked: &[u8], stale: bool) -> Vec<u8> {
        let now = time::OffsetDateTime::now_utc();
        let (this_update, next_update) = if stale {
            (
                now - time::Duration::days(10),
                now - time::Duration::days(3),
            )
        } else {
            (
                now - time::Duration::hours(1),
                now + time::Duration::days(7),
            )
        };
        CertificateRevocationListParams {
            this_update,
            next_update,
            crl_number: SerialNumber::from(1u64),
            issuing_distribution_point: None,
            revoked_certs: revoked
                .iter()
                .map(|&n| RevokedCertParams {
                    serial_number: SerialNumber::from(lab_serial(n)),
                    revocation_time: now - time::Duration::hours(2),
                    reason_code: Some(RevocationReason::KeyCompromise),
                    invalidity_date: None,
                })
                .collect(),
            key_identifier_method: KeyIdMethod::Sha256,
        }
        .signed_by(&self.issuer)
        .unwrap()
        .der()
        .to_vec()
    }
}

/// A self-signed server certificate (no CA at all).
pub fn self_signed_leaf(host: &str) -> Leaf {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(vec![host.to_string()]).unwrap();
    params.distinguished_name = name(host, "self-signed");
    validity(&mut params);
    let cert = params.self_signed(&key).unwrap();
    Leaf {
        chain: vec![cert.der().clone()],
        key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        pem: cert.pem(),
    }
}
