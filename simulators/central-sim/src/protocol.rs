//! Pure pieces of central's side of the protocol (docs/mqtt.md, version 1): topic names,
//! Ed25519 signing of down payloads, chunking a full access list, filling commands.

use anyhow::{Context, bail};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

/// The protocol version carried in every topic.
pub const PREFIX: &str = "sitegate/v1";

/// `sitegate/v1/{site}/{rest}`.
pub fn topic(site: &str, rest: &str) -> String {
    format!("{PREFIX}/{site}/{rest}")
}

/// Splits `sitegate/v1/{site}/{rest}` into `(site, rest)`.
pub fn split_topic(topic: &str) -> Option<(&str, &str)> {
    let after = topic.strip_prefix(PREFIX)?.strip_prefix('/')?;
    after.split_once('/')
}

/// An Ed25519 signing key with the id the sites know it by (`[uplink.signing] keys`).
#[derive(Clone)]
pub struct Signer {
    pub key_id: String,
    pub key: SigningKey,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer")
            .field("key_id", &self.key_id)
            .field("public_key", &self.public_key_b64())
            .finish()
    }
}

impl Signer {
    /// From a base64 32-byte seed (the format `central-sim keygen` prints).
    pub fn from_seed_b64(key_id: &str, seed_b64: &str) -> anyhow::Result<Self> {
        let bytes = B64
            .decode(seed_b64.trim())
            .context("the signing key is not base64")?;
        let seed: [u8; 32] = bytes.try_into().map_err(|b: Vec<u8>| {
            anyhow::anyhow!("the signing key has {} bytes, not 32", b.len())
        })?;
        if key_id.is_empty() || key_id.contains(char::is_whitespace) {
            bail!("a key id must be non-empty and without spaces");
        }
        Ok(Signer {
            key_id: key_id.to_owned(),
            key: SigningKey::from_bytes(&seed),
        })
    }

    pub fn verifying_key(&self) -> VerifyingKey {
        self.key.verifying_key()
    }

    pub fn public_key_b64(&self) -> String {
        B64.encode(self.verifying_key().as_bytes())
    }

    /// `SIG1 <key-id> <base64 signature>\n` + json, the signature being over
    /// `full_topic` + `\n` + json.
    pub fn sign(&self, full_topic: &str, json: &[u8]) -> Vec<u8> {
        let sig = self.key.sign(&signed_bytes(full_topic, json));
        let mut out = format!("SIG1 {} {}\n", self.key_id, B64.encode(sig.to_bytes())).into_bytes();
        out.extend_from_slice(json);
        out
    }
}

/// The bytes a signature covers: the full topic, a newline, the JSON exactly as sent.
pub fn signed_bytes(full_topic: &str, json: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(full_topic.len() + 1 + json.len());
    m.extend_from_slice(full_topic.as_bytes());
    m.push(b'\n');
    m.extend_from_slice(json);
    m
}

/// A fresh seed and its public key, both base64.
pub fn keygen() -> (String, String) {
    use rand::RngCore;
    let mut seed = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut seed);
    let key = SigningKey::from_bytes(&seed);
    (B64.encode(seed), B64.encode(key.verifying_key().as_bytes()))
}

/// Splits a signed payload into `(key id, signature bytes, json)`; `None` for an unsigned one.
pub fn parse_signed(payload: &[u8]) -> Option<(String, Vec<u8>, &[u8])> {
    let rest = payload.strip_prefix(b"SIG1 ")?;
    let nl = rest.iter().position(|&b| b == b'\n')?;
    let header = std::str::from_utf8(&rest[..nl]).ok()?;
    let (key_id, sig) = header.split_once(' ')?;
    let sig = B64.decode(sig).ok()?;
    Some((key_id.to_owned(), sig, &rest[nl + 1..]))
}

/// A full access list cut into chunks, with the commit that closes it.
#[derive(Debug, Clone)]
pub struct ChunkedList {
    pub version: u64,
    /// The JSON bytes of every chunk, exactly as published (without a signature line).
    pub chunks: Vec<Vec<u8>>,
    /// The JSON bytes of the commit.
    pub commit: Vec<u8>,
    /// Hex SHA-256 over the chunks' bytes, in order.
    pub sha256: String,
}

/// Cuts `{version, rules, users, tokens}` into chunks of at most `chunk_users` users, each with
/// the tokens of its users (tokens of users not in the list go with chunk 0), `rules` in chunk
/// 0 only; the commit carries the SHA-256 over the chunks' exact bytes.
pub fn chunk_access_list(list: &Value, chunk_users: usize) -> anyhow::Result<ChunkedList> {
    let version = list
        .get("version")
        .and_then(Value::as_u64)
        .context("the access list has no numeric `version`")?;
    let users = array(list, "users")?;
    let tokens = array(list, "tokens")?;
    let rules = list.get("rules").cloned();
    let chunk_users = chunk_users.max(1);
    let user_groups: Vec<&[Value]> = if users.is_empty() {
        vec![&[]]
    } else {
        users.chunks(chunk_users).collect()
    };
    let n = user_groups.len();
    let mut chunk_of_user = std::collections::HashMap::new();
    for (i, group) in user_groups.iter().enumerate() {
        for u in *group {
            if let Some(id) = u.get("id").and_then(Value::as_str) {
                chunk_of_user.insert(id.to_owned(), i);
            }
        }
    }
    let mut chunk_tokens: Vec<Vec<Value>> = vec![Vec::new(); n];
    for t in tokens {
        let i = t
            .get("user")
            .and_then(Value::as_str)
            .and_then(|u| chunk_of_user.get(u).copied())
            .unwrap_or(0);
        chunk_tokens[i].push(t.clone());
    }
    let mut hasher = Sha256::new();
    let mut chunks = Vec::with_capacity(n);
    for (i, (group, toks)) in user_groups.into_iter().zip(chunk_tokens).enumerate() {
        let mut m = Map::new();
        m.insert("version".into(), json!(version));
        m.insert("chunk".into(), json!(i));
        m.insert("chunks".into(), json!(n));
        if i == 0
            && let Some(r) = &rules
        {
            m.insert("rules".into(), r.clone());
        }
        m.insert("users".into(), Value::Array(group.to_vec()));
        m.insert("tokens".into(), Value::Array(toks));
        let bytes = serde_json::to_vec(&Value::Object(m))?;
        hasher.update(&bytes);
        chunks.push(bytes);
    }
    let sha256 = hex(&hasher.finalize());
    let commit = serde_json::to_vec(&json!({"version": version, "chunks": n, "sha256": sha256}))?;
    Ok(ChunkedList {
        version,
        chunks,
        commit,
        sha256,
    })
}

fn array<'a>(v: &'a Value, key: &str) -> anyhow::Result<&'a [Value]> {
    match v.get(key) {
        None | Some(Value::Null) => Ok(&[]),
        Some(Value::Array(a)) => Ok(a),
        Some(_) => bail!("`{key}` is not an array"),
    }
}

pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// RFC 3339 UTC with milliseconds, as the protocol writes times.
pub fn rfc3339(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Fills a command's `id` (`cmd-<n>-<random>`) and `expires_at` (now + `ttl`) when absent;
/// returns the id.
pub fn fill_command(
    cmd: &mut Value,
    counter: u64,
    ttl: std::time::Duration,
) -> anyhow::Result<String> {
    let obj = cmd.as_object_mut().context("a command is a JSON object")?;
    if !obj.get("command").is_some_and(Value::is_string) {
        bail!("a command needs a string `command` field");
    }
    if !obj.get("id").is_some_and(Value::is_string) {
        let r: u32 = rand::random();
        obj.insert("id".into(), json!(format!("cmd-{counter}-{r:08x}")));
    }
    if !obj.contains_key("expires_at") {
        let at = chrono::Utc::now() + chrono::Duration::from_std(ttl)?;
        obj.insert(
            "expires_at".into(),
            json!(at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
        );
    }
    Ok(obj["id"].as_str().unwrap_or_default().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::Verifier;

    #[test]
    fn signature_covers_topic_and_json() {
        let (seed, public) = keygen();
        let s = Signer::from_seed_b64("k1", &seed).unwrap();
        assert_eq!(s.public_key_b64(), public);
        let t = topic("site-a", "commands");
        let json = br#"{"a":1}"#;
        let signed = s.sign(&t, json);
        let (kid, sig, body) = parse_signed(&signed).unwrap();
        assert_eq!(kid, "k1");
        assert_eq!(body, json);
        let sig = ed25519_dalek::Signature::from_slice(&sig).unwrap();
        s.verifying_key()
            .verify(&signed_bytes(&t, body), &sig)
            .unwrap();
        assert!(
            s.verifying_key()
                .verify(&signed_bytes(&topic("site-b", "commands"), body), &sig)
                .is_err()
        );
    }

    #[test]
    fn chunks_hash_to_the_commit() {
        let users: Vec<Value> = (0..7).map(|i| json!({"id": format!("u{i}")})).collect();
        let tokens: Vec<Value> = (0..7)
            .map(|i| json!({"token": format!("T{i}"), "user": format!("u{i}")}))
            .chain([json!({"token": "X", "user": "nobody"})])
            .collect();
        let list = json!({"version": 3, "rules": {"site": {}}, "users": users, "tokens": tokens});
        let c = chunk_access_list(&list, 3).unwrap();
        assert_eq!(c.chunks.len(), 3);
        let all: Vec<u8> = c.chunks.concat();
        assert_eq!(sha256_hex(&all), c.sha256);
        let commit: Value = serde_json::from_slice(&c.commit).unwrap();
        assert_eq!(
            commit,
            json!({"version": 3, "chunks": 3, "sha256": c.sha256})
        );
        let c0: Value = serde_json::from_slice(&c.chunks[0]).unwrap();
        let c2: Value = serde_json::from_slice(&c.chunks[2]).unwrap();
        assert!(c0.get("rules").is_some() && c2.get("rules").is_none());
        assert_eq!(c0["tokens"].as_array().unwrap().len(), 4);
        assert_eq!(c2["users"], json!([{"id": "u6"}]));
        assert_eq!(c2["tokens"], json!([{"token": "T6", "user": "u6"}]));
    }

    #[test]
    fn empty_list_is_one_chunk() {
        let c = chunk_access_list(&json!({"version": 1, "users": [], "tokens": []}), 10).unwrap();
        assert_eq!(c.chunks.len(), 1);
    }

    #[test]
    fn commands_get_id_and_expiry() {
        let mut c = json!({"command": "remote_stop", "socket": "s1"});
        let id = fill_command(&mut c, 1, std::time::Duration::from_secs(60)).unwrap();
        assert!(id.starts_with("cmd-1-"));
        assert!(c["expires_at"].as_str().unwrap().ends_with('Z'));
        let mut c =
            json!({"command": "report_state", "id": "x", "expires_at": "2030-01-01T00:00:00Z"});
        assert_eq!(
            fill_command(&mut c, 2, std::time::Duration::from_secs(60)).unwrap(),
            "x"
        );
        assert_eq!(c["expires_at"], "2030-01-01T00:00:00Z");
    }
}
