//! Ed25519 signatures of down messages (docs/mqtt.md, "Signatures"): a signed payload is one
//! header line `SIG1 <key-id> <base64 signature>` then the JSON, the signature covering the full
//! topic, a newline and the JSON bytes, so that a message signed for one site or one topic cannot
//! be replayed to another. Owns the header format and the trusted keys; never reads JSON.

use std::collections::HashMap;
use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::{Signature, VerifyingKey};
#[cfg(test)]
use ed25519_dalek::{Signer, SigningKey};

use super::downlink::{Refusal, RefusalReason};

/// The header's first word.
const MAGIC: &[u8] = b"SIG1 ";
/// Longest header line accepted (a key id, 88 characters of base64 and spaces).
const MAX_HEADER: usize = 256;

/// The public keys a site trusts (`[uplink.signing] keys`) and whether unsigned payloads are
/// refused.
#[derive(Clone)]
pub struct TrustedKeys {
    keys: HashMap<String, VerifyingKey>,
    require_signed: bool,
}

impl fmt::Debug for TrustedKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut ids: Vec<&String> = self.keys.keys().collect();
        ids.sort();
        f.debug_struct("TrustedKeys")
            .field("keys", &ids)
            .field("require_signed", &self.require_signed)
            .finish()
    }
}

impl TrustedKeys {
    /// Keys by id, as 32-byte Ed25519 public keys. Refuses a key that is not a valid curve
    /// point, an empty or spaced key id, and an id given twice.
    pub fn new(keys: Vec<(String, [u8; 32])>, require_signed: bool) -> Result<TrustedKeys, String> {
        let mut map = HashMap::new();
        for (id, bytes) in keys {
            if id.is_empty() || id.chars().any(|c| c.is_whitespace() || c.is_control()) {
                return Err(format!("key id {id:?} must be non-empty without spaces"));
            }
            let key = VerifyingKey::from_bytes(&bytes)
                .map_err(|_| format!("key {id:?} is not an Ed25519 public key"))?;
            if map.insert(id.clone(), key).is_some() {
                return Err(format!("key id {id:?} is given twice"));
            }
        }
        Ok(TrustedKeys {
            keys: map,
            require_signed,
        })
    }

    /// Checks a payload's signature for `topic` (the full topic) and returns its JSON part: the
    /// payload itself when unsigned (and unsigned payloads are allowed), the bytes after the
    /// header line when signed by a trusted key.
    pub fn verify<'a>(&self, topic: &str, payload: &'a [u8]) -> Result<Verified<'a>, Refusal> {
        if !payload.starts_with(MAGIC) {
            if self.require_signed {
                return Err(Refusal::new(
                    RefusalReason::Unsigned,
                    "signed payloads are required",
                ));
            }
            return Ok(Verified {
                json: payload,
                key_id: None,
            });
        }
        let bad = |detail: &str| Refusal::new(RefusalReason::BadSignature, detail);
        let Some(end) = payload.iter().take(MAX_HEADER).position(|&b| b == b'\n') else {
            return Err(bad("the signature line has no end"));
        };
        let header = std::str::from_utf8(&payload[MAGIC.len()..end])
            .map_err(|_| bad("the signature line is not UTF-8"))?;
        let json = &payload[end + 1..];
        let mut words = header.trim_end_matches('\r').split(' ');
        let (Some(key_id), Some(sig_b64), None) = (words.next(), words.next(), words.next()) else {
            return Err(bad("the signature line is not `SIG1 <key-id> <signature>`"));
        };
        let Some(key) = self.keys.get(key_id) else {
            return Err(Refusal::new(
                RefusalReason::UnknownKey,
                format!("key {key_id:?} is not trusted"),
            ));
        };
        let sig_bytes = STANDARD
            .decode(sig_b64)
            .map_err(|_| bad("the signature is not base64"))?;
        let sig =
            Signature::from_slice(&sig_bytes).map_err(|_| bad("the signature is not 64 bytes"))?;
        key.verify_strict(&signed_bytes(topic, json), &sig)
            .map_err(|_| bad(&format!("the signature by {key_id:?} does not verify")))?;
        Ok(Verified {
            json,
            key_id: Some(key_id.to_string()),
        })
    }
}

/// A payload whose signature (if any) verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified<'a> {
    /// The JSON bytes, without the signature line.
    pub json: &'a [u8],
    /// The key that signed it; `None`: unsigned.
    pub key_id: Option<String>,
}

/// What is signed: the full topic, a newline, the JSON bytes as sent.
fn signed_bytes(topic: &str, json: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(topic.len() + 1 + json.len());
    m.extend_from_slice(topic.as_bytes());
    m.push(b'\n');
    m.extend_from_slice(json);
    m
}

/// Signs `json` for `topic` (the full topic): the payload central sends. For central's side
/// (simulators, tests).
#[cfg(test)]
pub fn sign(topic: &str, json: &[u8], key_id: &str, key: &SigningKey) -> Vec<u8> {
    let sig = key.sign(&signed_bytes(topic, json));
    let mut out = format!("SIG1 {key_id} {}\n", STANDARD.encode(sig.to_bytes())).into_bytes();
    out.extend_from_slice(json);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOPIC: &str = "sitegate/v1/site-a/access/diff";

    fn key(seed: u8) -> SigningKey {
        SigningKey::from_bytes(&[seed; 32])
    }

    fn trusted(require: bool) -> TrustedKeys {
        TrustedKeys::new(
            vec![("central-1".into(), key(1).verifying_key().to_bytes())],
            require,
        )
        .unwrap()
    }

    #[test]
    fn a_signed_payload_verifies_and_yields_its_json() {
        let payload = sign(TOPIC, br#"{"version":1}"#, "central-1", &key(1));
        let v = trusted(true).verify(TOPIC, &payload).unwrap();
        assert_eq!(v.json, br#"{"version":1}"#);
        assert_eq!(v.key_id.as_deref(), Some("central-1"));
    }

    #[test]
    fn another_topic_or_site_does_not_verify() {
        let payload = sign(TOPIC, br#"{"version":1}"#, "central-1", &key(1));
        for other in [
            "sitegate/v1/site-b/access/diff",
            "sitegate/v1/site-a/access/full",
        ] {
            let r = trusted(false).verify(other, &payload).unwrap_err();
            assert_eq!(r.reason, RefusalReason::BadSignature, "{other}");
        }
    }

    #[test]
    fn a_changed_byte_does_not_verify() {
        let mut payload = sign(TOPIC, br#"{"version":1}"#, "central-1", &key(1));
        let last = payload.len() - 2;
        payload[last] = b'2';
        let r = trusted(false).verify(TOPIC, &payload).unwrap_err();
        assert_eq!(r.reason, RefusalReason::BadSignature);
    }

    #[test]
    fn an_unknown_key_is_refused_even_when_signing_is_optional() {
        let payload = sign(TOPIC, b"{}", "central-2", &key(2));
        let r = trusted(false).verify(TOPIC, &payload).unwrap_err();
        assert_eq!(r.reason, RefusalReason::UnknownKey);
        // A trusted id with another key's signature is a bad signature.
        let payload = sign(TOPIC, b"{}", "central-1", &key(2));
        let r = trusted(false).verify(TOPIC, &payload).unwrap_err();
        assert_eq!(r.reason, RefusalReason::BadSignature);
    }

    #[test]
    fn unsigned_is_refused_only_when_required() {
        assert_eq!(trusted(false).verify(TOPIC, b"{}").unwrap().json, b"{}");
        let r = trusted(true).verify(TOPIC, b"{}").unwrap_err();
        assert_eq!(r.reason, RefusalReason::Unsigned);
    }

    #[test]
    fn broken_headers_are_bad_signatures() {
        for payload in [
            &b"SIG1 central-1\n{}"[..],
            b"SIG1 central-1 !!!notbase64\n{}",
            b"SIG1 central-1 AAAA\n{}",
            b"SIG1 central-1 AAAA extra\n{}",
            b"SIG1 central-1 AAAA",
        ] {
            let r = trusted(false).verify(TOPIC, payload).unwrap_err();
            assert!(
                matches!(
                    r.reason,
                    RefusalReason::BadSignature | RefusalReason::UnknownKey
                ),
                "{r}"
            );
        }
        let long = [b"SIG1 ".as_slice(), &[b'a'; 1000], b"\n{}"].concat();
        let r = trusted(false).verify(TOPIC, &long).unwrap_err();
        assert_eq!(r.reason, RefusalReason::BadSignature);
    }

    #[test]
    fn keys_are_checked_when_built() {
        assert!(
            TrustedKeys::new(
                vec![("a b".into(), key(1).verifying_key().to_bytes())],
                false
            )
            .is_err()
        );
        let k = key(1).verifying_key().to_bytes();
        assert!(TrustedKeys::new(vec![("a".into(), k), ("a".into(), k)], false).is_err());
    }
}
