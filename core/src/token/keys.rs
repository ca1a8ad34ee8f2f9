//! Verification keys parsed once. A JWK's public material is decoded when the key set is
//! loaded and turned into an aws-lc-rs [`ParsedPublicKey`] the first time an algorithm uses it
//! (the JWK's own `alg`, or the family's default, is parsed at load), so a first-sight token
//! costs one signature verification, not a key parse plus a verification.

use std::sync::OnceLock;

use aws_lc_rs::signature::{self, ParsedPublicKey, VerificationAlgorithm};
use jsonwebtoken::Algorithm;

/// The algorithms a key may verify, in one fixed order (the index of the parsed-key slots).
const ALGS: [Algorithm; 9] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

fn slot(alg: Algorithm) -> Option<usize> {
    ALGS.iter().position(|a| *a == alg)
}

fn verification(alg: Algorithm) -> Option<&'static dyn VerificationAlgorithm> {
    Some(match alg {
        Algorithm::RS256 => &signature::RSA_PKCS1_2048_8192_SHA256,
        Algorithm::RS384 => &signature::RSA_PKCS1_2048_8192_SHA384,
        Algorithm::RS512 => &signature::RSA_PKCS1_2048_8192_SHA512,
        Algorithm::PS256 => &signature::RSA_PSS_2048_8192_SHA256,
        Algorithm::PS384 => &signature::RSA_PSS_2048_8192_SHA384,
        Algorithm::PS512 => &signature::RSA_PSS_2048_8192_SHA512,
        Algorithm::ES256 => &signature::ECDSA_P256_SHA256_FIXED,
        Algorithm::ES384 => &signature::ECDSA_P384_SHA384_FIXED,
        Algorithm::EdDSA => &signature::ED25519,
        _ => return None,
    })
}

/// Public key material in the encodings aws-lc-rs parses: PKCS#1 `RSAPublicKey` DER for RSA,
/// the uncompressed point `04 || x || y` for EC, the 32 raw bytes for Ed25519.
pub(crate) struct VerifyKey {
    material: Vec<u8>,
    parsed: [OnceLock<Option<ParsedPublicKey>>; ALGS.len()],
}

impl VerifyKey {
    /// RSA from the JWK's big-endian `n` and `e`; `None` for a modulus outside 2048..=8192
    /// bits (the range every RSA algorithm here accepts).
    pub(crate) fn rsa(n: &[u8], e: &[u8]) -> Option<VerifyKey> {
        let bits = {
            let n = &n[n.iter().position(|b| *b != 0).unwrap_or(n.len())..];
            n.len() * 8 - n.first().map_or(8, |b| b.leading_zeros() as usize)
        };
        (2048..=8192)
            .contains(&bits)
            .then(|| VerifyKey::new(rsa_public_key_der(n, e)))
    }

    /// EC from the JWK's `x` and `y` coordinates.
    pub(crate) fn ec(x: &[u8], y: &[u8]) -> VerifyKey {
        let mut point = Vec::with_capacity(1 + x.len() + y.len());
        point.push(0x04);
        point.extend_from_slice(x);
        point.extend_from_slice(y);
        VerifyKey::new(point)
    }

    /// Ed25519 from the JWK's `x`.
    pub(crate) fn ed25519(x: &[u8]) -> VerifyKey {
        VerifyKey::new(x.to_vec())
    }

    fn new(material: Vec<u8>) -> VerifyKey {
        VerifyKey {
            material,
            parsed: Default::default(),
        }
    }

    /// Parse the key for `alg` now (at load); false when the material does not make a key
    /// for it (the key is then unusable and skipped).
    pub(crate) fn prepare(&self, alg: Algorithm) -> bool {
        self.parsed_for(alg).is_some()
    }

    fn parsed_for(&self, alg: Algorithm) -> Option<&ParsedPublicKey> {
        let i = slot(alg)?;
        self.parsed[i]
            .get_or_init(|| ParsedPublicKey::new(verification(alg)?, &self.material).ok())
            .as_ref()
    }

    /// Whether `signature` (raw bytes) is a valid `alg` signature of `message`.
    pub(crate) fn verify(&self, alg: Algorithm, message: &[u8], signature: &[u8]) -> bool {
        self.parsed_for(alg)
            .is_some_and(|k| k.verify_sig(message, signature).is_ok())
    }
}

/// DER `RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER }` (RFC 8017 A.1.1)
/// from big-endian unsigned magnitudes.
fn rsa_public_key_der(n: &[u8], e: &[u8]) -> Vec<u8> {
    let mut body = Vec::with_capacity(n.len() + e.len() + 16);
    der_unsigned_integer(&mut body, n);
    der_unsigned_integer(&mut body, e);
    let mut out = Vec::with_capacity(body.len() + 4);
    out.push(0x30);
    der_length(&mut out, body.len());
    out.extend_from_slice(&body);
    out
}

fn der_unsigned_integer(out: &mut Vec<u8>, magnitude: &[u8]) {
    let start = magnitude
        .iter()
        .position(|b| *b != 0)
        .unwrap_or(magnitude.len());
    let digits = &magnitude[start..];
    // A leading 0x00 keeps a set high bit from reading as negative; zero is one 0x00 byte.
    let pad = digits.first().is_none_or(|b| b & 0x80 != 0);
    out.push(0x02);
    der_length(out, digits.len() + usize::from(pad));
    if pad {
        out.push(0x00);
    }
    out.extend_from_slice(digits);
}

fn der_length(out: &mut Vec<u8>, len: usize) {
    if len < 0x80 {
        out.push(len as u8);
        return;
    }
    let bytes = len.to_be_bytes();
    let first = bytes
        .iter()
        .position(|b| *b != 0)
        .unwrap_or(bytes.len() - 1);
    out.push(0x80 | (bytes.len() - first) as u8);
    out.extend_from_slice(&bytes[first..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn der_encoding() {
        let mut v = Vec::new();
        der_unsigned_integer(&mut v, &[0x00, 0x01, 0x00, 0x01]);
        assert_eq!(v, [0x02, 0x03, 0x01, 0x00, 0x01]);
        let mut v = Vec::new();
        der_unsigned_integer(&mut v, &[0x80]);
        assert_eq!(v, [0x02, 0x02, 0x00, 0x80]);
        let mut v = Vec::new();
        der_unsigned_integer(&mut v, &[]);
        assert_eq!(v, [0x02, 0x01, 0x00]);
        let mut v = Vec::new();
        der_length(&mut v, 257);
        assert_eq!(v, [0x82, 0x01, 0x01]);
    }

    #[test]
    fn a_malformed_key_prepares_nothing_and_verifies_nothing() {
        assert!(
            VerifyKey::rsa(&[1, 2, 3], &[1, 0, 1]).is_none(),
            "a 17-bit modulus"
        );
        let mut n = vec![0u8; 256];
        n[0] = 0x7f; // 2047 bits
        assert!(VerifyKey::rsa(&n, &[1, 0, 1]).is_none());
        n[0] = 0xff; // 2048 bits, but not a valid key for aws-lc (even modulus)
        let k = VerifyKey::rsa(&n, &[1, 0, 1]).expect("in range");
        assert!(!k.verify(Algorithm::RS256, b"m", &[0; 256]));
        let k = VerifyKey::ec(&[0; 32], &[0; 32]);
        assert!(!k.prepare(Algorithm::ES256), "not a point on the curve");
        assert!(!VerifyKey::ed25519(&[7; 32]).verify(Algorithm::HS256, b"m", b"s"));
    }
}
