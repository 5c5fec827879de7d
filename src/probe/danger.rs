//! A certificate verifier that accepts every chain. It lives in a module named `danger` so that nobody
//! mistakes it for a way to trust a server: pinscope never sends data over these connections, it only
//! needs the chain a server (or a middlebox) presents so the analysis can judge it afterwards.
//!
//! Handshake signatures are still checked with the provider's algorithms, so the captured leaf is the
//! key that actually took part in the handshake rather than a certificate copied from elsewhere.

use std::sync::{Arc, Mutex, PoisonError};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::{DigitallySignedStruct, Error, SignatureScheme};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};

use crate::model::observation::Captured;

/// Records the presented chain and stapled OCSP response without judging them.
#[derive(Debug)]
pub struct CapturingVerifier {
    provider: Arc<CryptoProvider>,
    slot: Arc<Mutex<Option<Captured>>>,
}

impl CapturingVerifier {
    pub fn new(provider: Arc<CryptoProvider>, slot: Arc<Mutex<Option<Captured>>>) -> Self {
        Self { provider, slot }
    }
}

impl ServerCertVerifier for CapturingVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        let chain = std::iter::once(end_entity)
            .chain(intermediates)
            .map(|c| c.clone().into_owned())
            .collect();
        let captured = Captured {
            chain,
            stapled_ocsp: (!ocsp_response.is_empty()).then(|| ocsp_response.to_vec()),
        };
        // A poisoned lock only means another thread panicked mid-write of this same slot; the value
        // is replaced whole, so taking it over is sound.
        *self.slot.lock().unwrap_or_else(PoisonError::into_inner) = Some(captured);
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}
