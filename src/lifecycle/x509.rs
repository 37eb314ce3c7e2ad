//! X.509 for generators and validation: self-signed certificates, CSRs, DER parsing of
//! PEM blocks, key/certificate matching and expiry.

use std::str::FromStr;
use std::time::{Duration, SystemTime};

use der::asn1::{Ia5String, OctetString};
use der::{Decode, Encode, EncodePem};
use pkcs8::LineEnding;
use x509_cert::builder::{Builder, CertificateBuilder, Profile, RequestBuilder};
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::SubjectAltName;
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::spki::SubjectPublicKeyInfoOwned;
use x509_cert::time::Validity;
use x509_cert::Certificate;
use zeroize::Zeroizing;

use super::generate::{KeyPair, X509Spec};
use crate::error::{Error, Result};

/// A self-signed certificate for `key`, as PEM.
pub fn self_signed(spec: &X509Spec, key: &KeyPair) -> Result<String> {
    let subject = subject(spec)?;
    let spki = spki(key)?;
    let mut serial = [0u8; 16];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut serial);
    serial[0] &= 0x7f; // positive, as RFC 5280 requires
    let serial = SerialNumber::new(&serial).map_err(err)?;
    let validity = Validity::from_now(Duration::from_secs(u64::from(spec.days) * 86_400)).map_err(err)?;
    // A self-signed end-entity certificate: its own issuer, CA:FALSE, digitalSignature
    // (and keyEncipherment for RSA, which TLS 1.2 RSA key exchange needs).
    let profile = Profile::Leaf {
        issuer: subject.clone(),
        enable_key_agreement: false,
        enable_key_encipherment: matches!(key, KeyPair::Rsa(_)),
    };
    let pem = match key {
        KeyPair::P256(k) => {
            let mut b =
                CertificateBuilder::new(profile, serial, validity, subject, spki, k.as_ref()).map_err(err)?;
            if let Some(san) = san(spec)? {
                b.add_extension(&san).map_err(err)?;
            }
            b.build::<p256::ecdsa::DerSignature>()
                .map_err(err)?
                .to_pem(LineEnding::LF)
        }
        KeyPair::Rsa(k) => {
            let signer = rsa::pkcs1v15::SigningKey::<sha2::Sha256>::new((**k).clone());
            let mut b =
                CertificateBuilder::new(profile, serial, validity, subject, spki, &signer).map_err(err)?;
            if let Some(san) = san(spec)? {
                b.add_extension(&san).map_err(err)?;
            }
            b.build::<rsa::pkcs1v15::Signature>()
                .map_err(err)?
                .to_pem(LineEnding::LF)
        }
    };
    pem.map_err(err)
}

/// A certificate signing request for `key`, as PEM.
pub fn request(spec: &X509Spec, key: &KeyPair) -> Result<String> {
    let subject = subject(spec)?;
    let san = san(spec)?;
    let pem = match key {
        KeyPair::P256(k) => {
            let mut b = RequestBuilder::new(subject, k.as_ref()).map_err(err)?;
            if let Some(san) = &san {
                b.add_extension(san).map_err(err)?;
            }
            b.build::<p256::ecdsa::DerSignature>()
                .map_err(err)?
                .to_pem(LineEnding::LF)
        }
        KeyPair::Rsa(k) => {
            let signer = rsa::pkcs1v15::SigningKey::<sha2::Sha256>::new((**k).clone());
            let mut b = RequestBuilder::new(subject, &signer).map_err(err)?;
            if let Some(san) = &san {
                b.add_extension(san).map_err(err)?;
            }
            b.build::<rsa::pkcs1v15::Signature>()
                .map_err(err)?
                .to_pem(LineEnding::LF)
        }
    };
    pem.map_err(err)
}

fn subject(spec: &X509Spec) -> Result<Name> {
    if spec.common_name.contains(['=', '+', '\\', '"', '<', '>', ';']) {
        return Err(Error::msg("the CN may not contain = + \\ \" < > ;"));
    }
    Name::from_str(&format!("CN={}", spec.common_name)).map_err(err)
}

fn san(spec: &X509Spec) -> Result<Option<SubjectAltName>> {
    if spec.sans.is_empty() {
        return Ok(None);
    }
    let names = spec
        .sans
        .iter()
        .map(|s| match s.parse::<std::net::IpAddr>() {
            Ok(std::net::IpAddr::V4(ip)) => {
                OctetString::new(ip.octets().to_vec()).map(GeneralName::IpAddress)
            }
            Ok(std::net::IpAddr::V6(ip)) => {
                OctetString::new(ip.octets().to_vec()).map(GeneralName::IpAddress)
            }
            Err(_) => Ia5String::new(s).map(GeneralName::DnsName),
        })
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|_| Error::msg("a san= name is not ASCII"))?;
    Ok(Some(SubjectAltName(names)))
}

fn spki(key: &KeyPair) -> Result<SubjectPublicKeyInfoOwned> {
    SubjectPublicKeyInfoOwned::from_der(&key.public_der()?).map_err(err)
}

/// A certificate encoder's or builder's error as "cannot build the certificate: …",
/// keeping it as the source.
fn err(e: impl std::error::Error + Send + Sync + 'static) -> Error {
    Error::with_source("cannot build the certificate", e)
}

/// One PEM block: its label and DER body.
pub struct PemBlock {
    /// The label between `BEGIN ` and `-----`.
    pub label: String,
    /// The decoded body (key material for a private key: zeroized on drop).
    pub der: Zeroizing<Vec<u8>>,
}

/// Whether `der` is a well-formed structure of the kind `label` names (a certificate,
/// PKCS#8 / PKCS#1 / SEC1 key, SPKI, CSR), or at least one complete DER value for
/// labels we do not know.
pub fn der_is_valid(label: &str, der: &[u8]) -> bool {
    match label {
        "CERTIFICATE" => Certificate::from_der(der).is_ok(),
        "PRIVATE KEY" => pkcs8::PrivateKeyInfo::from_der(der).is_ok(),
        "PUBLIC KEY" => x509_cert::spki::SubjectPublicKeyInfoRef::from_der(der).is_ok(),
        "RSA PRIVATE KEY" => rsa::pkcs1::RsaPrivateKey::from_der(der).is_ok(),
        "RSA PUBLIC KEY" => rsa::pkcs1::RsaPublicKey::from_der(der).is_ok(),
        "EC PRIVATE KEY" => sec1::EcPrivateKey::from_der(der).is_ok(),
        "CERTIFICATE REQUEST" => x509_cert::request::CertReq::from_der(der).is_ok(),
        // An OpenSSH key's body is its own binary format, not DER.
        "OPENSSH PRIVATE KEY" => der.starts_with(b"openssh-key-v1\0"),
        _ => der::Any::from_der(der).is_ok(),
    }
}

/// The first certificate among `blocks`.
pub fn first_certificate(blocks: &[PemBlock]) -> Option<Certificate> {
    blocks
        .iter()
        .filter(|b| b.label == "CERTIFICATE")
        .find_map(|b| Certificate::from_der(&b.der).ok())
}

/// When a certificate stops being valid.
pub fn not_after(cert: &Certificate) -> SystemTime {
    cert.tbs_certificate.validity.not_after.to_system_time()
}

/// The DER SubjectPublicKeyInfo a value stands for: a certificate's, a CSR's, a public
/// key's, or the one derived from a private key (PKCS#8 RSA, P-256, Ed25519; PKCS#1; SEC1).
pub fn public_key_of(blocks: &[PemBlock]) -> Option<Vec<u8>> {
    use pkcs8::EncodePublicKey;
    let block = blocks.first()?;
    let der = &block.der;
    match block.label.as_str() {
        "CERTIFICATE" => Certificate::from_der(der)
            .ok()?
            .tbs_certificate
            .subject_public_key_info
            .to_der()
            .ok(),
        "CERTIFICATE REQUEST" => x509_cert::request::CertReq::from_der(der)
            .ok()?
            .info
            .public_key
            .to_der()
            .ok(),
        "PUBLIC KEY" => Some(der.to_vec()),
        "RSA PRIVATE KEY" => {
            use rsa::pkcs1::DecodeRsaPrivateKey;
            let k = rsa::RsaPrivateKey::from_pkcs1_der(der).ok()?;
            k.to_public_key()
                .to_public_key_der()
                .ok()
                .map(der::Document::into_vec)
        }
        "EC PRIVATE KEY" => {
            let k = p256::SecretKey::from_sec1_der(der).ok()?;
            k.public_key()
                .to_public_key_der()
                .ok()
                .map(der::Document::into_vec)
        }
        "PRIVATE KEY" => {
            use pkcs8::DecodePrivateKey;
            if let Ok(k) = rsa::RsaPrivateKey::from_pkcs8_der(der) {
                return k
                    .to_public_key()
                    .to_public_key_der()
                    .ok()
                    .map(der::Document::into_vec);
            }
            if let Ok(k) = p256::SecretKey::from_pkcs8_der(der) {
                return k
                    .public_key()
                    .to_public_key_der()
                    .ok()
                    .map(der::Document::into_vec);
            }
            let info = pkcs8::PrivateKeyInfo::from_der(der).ok()?;
            // Ed25519 (RFC 8410): the private key is an OCTET STRING holding the seed.
            if info.algorithm.oid == der::oid::ObjectIdentifier::new_unwrap("1.3.101.112") {
                let seed = der::asn1::OctetStringRef::from_der(info.private_key).ok()?;
                let seed: Zeroizing<[u8; 32]> = Zeroizing::new(seed.as_bytes().try_into().ok()?);
                let key = ed25519_dalek::SigningKey::from_bytes(&seed);
                return key
                    .verifying_key()
                    .to_public_key_der()
                    .ok()
                    .map(der::Document::into_vec);
            }
            None
        }
        _ => None,
    }
}
