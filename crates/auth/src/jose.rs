//! The small part of JOSE the server needs, on openssl: compact JWS signing (RS256 for our id_tokens,
//! any supported alg for test clients) and verification (RS256/RS384 and ES384), and JWKs.
//! Only asymmetric algorithms exist here, so `none` and `HS*` can never be accepted.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use openssl::bn::{BigNum, BigNumContext};
use openssl::ec::{EcGroup, EcKey};
use openssl::ecdsa::EcdsaSig;
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{HasPublic, PKey, Private, Public};
use openssl::rsa::Rsa;
use openssl::sign::{Signer, Verifier};
use serde_json::{Map, Value, json};

#[derive(Debug, thiserror::Error)]
pub enum JoseError {
    #[error("malformed JWS: {0}")]
    Malformed(&'static str),
    #[error("algorithm '{0}' is not accepted")]
    UnsupportedAlgorithm(String),
    #[error("the signature does not verify")]
    BadSignature,
    #[error("unusable key: {0}")]
    BadKey(String),
}

impl From<openssl::error::ErrorStack> for JoseError {
    fn from(e: openssl::error::ErrorStack) -> JoseError {
        JoseError::BadKey(e.to_string())
    }
}

/// Signature algorithms, each bound to one key type and digest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    RS256,
    RS384,
    ES384,
}

impl Algorithm {
    pub fn parse(name: &str) -> Result<Algorithm, JoseError> {
        match name {
            "RS256" => Ok(Algorithm::RS256),
            "RS384" => Ok(Algorithm::RS384),
            "ES384" => Ok(Algorithm::ES384),
            other => Err(JoseError::UnsupportedAlgorithm(other.to_string())),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Algorithm::RS256 => "RS256",
            Algorithm::RS384 => "RS384",
            Algorithm::ES384 => "ES384",
        }
    }

    /// The JWK `kty` a key for this algorithm has.
    pub fn key_type(self) -> &'static str {
        match self {
            Algorithm::RS256 | Algorithm::RS384 => "RSA",
            Algorithm::ES384 => "EC",
        }
    }

    fn digest(self) -> MessageDigest {
        match self {
            Algorithm::RS256 => MessageDigest::sha256(),
            Algorithm::RS384 | Algorithm::ES384 => MessageDigest::sha384(),
        }
    }
}

/// Smallest RSA modulus accepted from others (NIST SP 800-131A).
const MIN_RSA_BITS: u32 = 2048;

/// Bytes of one P-384 coordinate (and of each half of an ES384 signature).
const P384_BYTES: i32 = 48;

pub fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

pub fn unb64(text: &str) -> Result<Vec<u8>, JoseError> {
    URL_SAFE_NO_PAD.decode(text).map_err(|_| JoseError::Malformed("bad base64url"))
}

/// Signs `claims` as a compact JWS; `header` gets `alg` (and whatever else the caller put in it).
pub fn sign(
    alg: Algorithm,
    key: &PKey<Private>,
    mut header: Map<String, Value>,
    claims: &Value,
) -> Result<String, JoseError> {
    header.insert("alg".into(), json!(alg.name()));
    let header = serde_json::to_vec(&header).map_err(|_| JoseError::Malformed("header"))?;
    let payload = serde_json::to_vec(claims).map_err(|_| JoseError::Malformed("claims"))?;
    let input = format!("{}.{}", b64(&header), b64(&payload));
    let mut signer = Signer::new(alg.digest(), key)?;
    signer.update(input.as_bytes())?;
    let der_or_raw = signer.sign_to_vec()?;
    let signature = match alg {
        Algorithm::RS256 | Algorithm::RS384 => der_or_raw,
        // JWS wants r || s, each left-padded to the curve size; openssl produces DER.
        Algorithm::ES384 => {
            let sig = EcdsaSig::from_der(&der_or_raw)?;
            let mut raw = sig.r().to_vec_padded(P384_BYTES)?;
            raw.extend(sig.s().to_vec_padded(P384_BYTES)?);
            raw
        }
    };
    Ok(format!("{input}.{}", b64(&signature)))
}

/// A compact JWS split into its parts, not yet verified.
pub struct Unverified {
    pub header: Map<String, Value>,
    pub claims: Map<String, Value>,
    signing_input: String,
    signature: Vec<u8>,
}

impl Unverified {
    pub fn parse(token: &str) -> Result<Unverified, JoseError> {
        let mut parts = token.split('.');
        let (Some(h), Some(p), Some(s), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
            return Err(JoseError::Malformed("a compact JWS has three parts"));
        };
        let object = |part: &str| -> Result<Map<String, Value>, JoseError> {
            match serde_json::from_slice(&unb64(part)?) {
                Ok(Value::Object(map)) => Ok(map),
                _ => Err(JoseError::Malformed("not a JSON object")),
            }
        };
        Ok(Unverified {
            header: object(h)?,
            claims: object(p)?,
            signing_input: format!("{h}.{p}"),
            signature: unb64(s)?,
        })
    }

    pub fn header_str(&self, name: &str) -> Option<&str> {
        self.header.get(name).and_then(Value::as_str)
    }

    pub fn algorithm(&self) -> Result<Algorithm, JoseError> {
        Algorithm::parse(self.header_str("alg").unwrap_or_default())
    }

    /// Verifies the signature with `key` for the header's algorithm, returning the claims.
    pub fn verify(self, key: &PKey<Public>) -> Result<Map<String, Value>, JoseError> {
        let alg = self.algorithm()?;
        let signature = match alg {
            Algorithm::RS256 | Algorithm::RS384 => self.signature,
            Algorithm::ES384 => {
                if self.signature.len() != 2 * P384_BYTES as usize {
                    return Err(JoseError::BadSignature);
                }
                let (r, s) = self.signature.split_at(P384_BYTES as usize);
                EcdsaSig::from_private_components(BigNum::from_slice(r)?, BigNum::from_slice(s)?)?.to_der()?
            }
        };
        let mut verifier = Verifier::new(alg.digest(), key)?;
        verifier.update(self.signing_input.as_bytes())?;
        if verifier.verify(&signature).unwrap_or(false) { Ok(self.claims) } else { Err(JoseError::BadSignature) }
    }
}

/// The public JWK of a key (RSA, or EC on P-384), without `kid`/`alg`/`use`.
pub fn public_jwk<T: HasPublic>(key: &PKey<T>) -> Result<Map<String, Value>, JoseError> {
    let mut jwk = Map::new();
    if let Ok(rsa) = key.rsa() {
        jwk.insert("kty".into(), json!("RSA"));
        jwk.insert("n".into(), json!(b64(&rsa.n().to_vec())));
        jwk.insert("e".into(), json!(b64(&rsa.e().to_vec())));
    } else if let Ok(ec) = key.ec_key() {
        let mut ctx = BigNumContext::new()?;
        let (mut x, mut y) = (BigNum::new()?, BigNum::new()?);
        ec.public_key().affine_coordinates(ec.group(), &mut x, &mut y, &mut ctx)?;
        jwk.insert("kty".into(), json!("EC"));
        jwk.insert("crv".into(), json!("P-384"));
        jwk.insert("x".into(), json!(b64(&x.to_vec_padded(P384_BYTES)?)));
        jwk.insert("y".into(), json!(b64(&y.to_vec_padded(P384_BYTES)?)));
    } else {
        return Err(JoseError::BadKey("only RSA and EC keys are supported".into()));
    }
    Ok(jwk)
}

/// RFC 7638 thumbprint, used as our keys' `kid`.
pub fn thumbprint(jwk: &Map<String, Value>) -> Result<String, JoseError> {
    let field = |name: &str| jwk.get(name).and_then(Value::as_str).unwrap_or_default().to_string();
    // Members in lexicographic order, no whitespace, as RFC 7638 requires.
    let canonical = match field("kty").as_str() {
        "RSA" => format!(r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#, field("e"), field("n")),
        "EC" => format!(r#"{{"crv":"{}","kty":"EC","x":"{}","y":"{}"}}"#, field("crv"), field("x"), field("y")),
        _ => return Err(JoseError::BadKey("unknown kty".into())),
    };
    Ok(b64(&openssl::sha::sha256(canonical.as_bytes())))
}

/// The public key a JWK describes (RSA, or EC on P-384).
pub fn key_from_jwk(jwk: &Map<String, Value>) -> Result<PKey<Public>, JoseError> {
    let bytes = |name: &str| -> Result<BigNum, JoseError> {
        let text = jwk.get(name).and_then(Value::as_str).ok_or(JoseError::Malformed("JWK member missing"))?;
        Ok(BigNum::from_slice(&unb64(text)?)?)
    };
    match jwk.get("kty").and_then(Value::as_str) {
        Some("RSA") => {
            let rsa = Rsa::from_public_components(bytes("n")?, bytes("e")?)?;
            if rsa.size() * 8 < MIN_RSA_BITS {
                return Err(JoseError::BadKey(format!("RSA keys need at least {MIN_RSA_BITS} bits")));
            }
            Ok(PKey::from_rsa(rsa)?)
        }
        Some("EC") => {
            if jwk.get("crv").and_then(Value::as_str) != Some("P-384") {
                return Err(JoseError::BadKey("only the P-384 curve is supported".into()));
            }
            let group = EcGroup::from_curve_name(Nid::SECP384R1)?;
            let (x, y) = (bytes("x")?, bytes("y")?);
            let key = EcKey::from_public_key_affine_coordinates(&group, &x, &y)?;
            key.check_key()?;
            Ok(PKey::from_ec_key(key)?)
        }
        _ => Err(JoseError::BadKey("unsupported kty".into())),
    }
}

/// A fresh P-384 key (clients' ES384 keys; tests).
pub fn generate_p384() -> Result<PKey<Private>, JoseError> {
    let group = EcGroup::from_curve_name(Nid::SECP384R1)?;
    Ok(PKey::from_ec_key(EcKey::generate(&group)?)?)
}

/// A fresh RSA key.
pub fn generate_rsa(bits: u32) -> Result<PKey<Private>, JoseError> {
    Ok(PKey::from_rsa(Rsa::generate(bits)?)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_and_verify_each_algorithm_and_reject_tampering() {
        let rsa = generate_rsa(2048).expect("rsa");
        let ec = generate_p384().expect("ec");
        for (alg, key) in [(Algorithm::RS256, &rsa), (Algorithm::RS384, &rsa), (Algorithm::ES384, &ec)] {
            let token = sign(alg, key, Map::new(), &json!({"sub": "x"})).expect("sign");
            let public = key_from_jwk(&public_jwk(key).expect("jwk")).expect("key");
            let claims = Unverified::parse(&token).expect("parse").verify(&public).expect("verifies");
            assert_eq!(claims["sub"], "x");
            let mut parts: Vec<&str> = token.split('.').collect();
            let forged = b64(br#"{"sub":"y"}"#);
            parts[1] = &forged;
            assert!(Unverified::parse(&parts.join(".")).expect("parse").verify(&public).is_err(), "{alg:?}");
        }
        // `none` and HMAC never verify; neither do small RSA keys.
        let none = format!("{}.{}.", b64(br#"{"alg":"none"}"#), b64(br#"{"sub":"x"}"#));
        let public = key_from_jwk(&public_jwk(&rsa).expect("jwk")).expect("key");
        assert!(Unverified::parse(&none).expect("parse").verify(&public).is_err());
        let small = public_jwk(&generate_rsa(1024).expect("rsa")).expect("jwk");
        assert!(key_from_jwk(&small).is_err());
    }
}
