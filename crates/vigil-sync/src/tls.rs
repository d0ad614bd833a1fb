//! TLS to the organisation's server, trusting one key: the SHA-256 of the SubjectPublicKeyInfo
//! the organisation's profile pins. No certificate authority is consulted, so a server that
//! presents any other key is refused, however valid its certificate (a captive portal, an
//! interception box, a forged certificate from a compromised authority). The handshake's
//! signature is still checked against that key, so only the holder of the pinned private key
//! can complete it.

use std::sync::Arc;

use rustls::DigitallySignedStruct;
use rustls::SignatureScheme;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};

use crate::SyncError;

/// The pin of a certificate (DER): SHA-256 of its SubjectPublicKeyInfo, 64 lowercase hex digits.
pub fn pin_of_der(der: &[u8]) -> Result<String, SyncError> {
    let der = CertificateDer::from(der);
    let cert = webpki::EndEntityCert::try_from(&der)
        .map_err(|e| SyncError::Certificate(format!("not a certificate: {e:?}")))?;
    let spki = cert.subject_public_key_info();
    Ok(hex::encode(vigil_crypto::sign::sha256(spki.as_ref())))
}

/// The pin of the first certificate in a PEM file (the server's own, as `--tls-cert` takes it).
pub fn pin_of_pem(pem: &[u8]) -> Result<String, SyncError> {
    let der = CertificateDer::pem_slice_iter(pem)
        .next()
        .ok_or_else(|| SyncError::Certificate("no certificate in this PEM file".into()))?
        .map_err(|e| SyncError::Certificate(format!("unreadable PEM: {e}")))?;
    pin_of_der(der.as_ref())
}

/// A client configuration that trusts exactly the key `pin` names.
pub fn pinned_config(pin: &str) -> Result<rustls::ClientConfig, SyncError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = Pinned {
        pin: pin.to_owned(),
        algorithms: provider.signature_verification_algorithms,
    };
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| SyncError::Certificate(e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// The text rustls carries for a key that is not the pinned one; [`crate::SyncError`] finds it
/// in a failed request to say so plainly.
pub(crate) const WRONG_KEY: &str = "vigil: the server presented a key that is not the pinned one";

#[derive(Debug)]
struct Pinned {
    pin: String,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for Pinned {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match pin_of_der(end_entity.as_ref()) {
            Ok(pin) if pin == self.pin => Ok(ServerCertVerified::assertion()),
            _ => Err(rustls::Error::General(WRONG_KEY.into())),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}
