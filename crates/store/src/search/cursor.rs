//! Stateless paging cursors: the sort-key values and key of the row a page ends (or starts) at,
//! bound to the query they page and signed, so pages stay correct while data changes and a
//! cursor cannot be forged or replayed against another query.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use openssl::hash::MessageDigest;
use openssl::pkey::PKey;
use openssl::sign::Signer;
use serde::{Deserialize, Serialize};

use super::{SearchError, SearchResult};
use crate::sql::Cell;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Towards {
    /// Rows after the boundary (next page).
    #[serde(rename = "n")]
    Next,
    /// Rows before the boundary (previous page).
    #[serde(rename = "p")]
    Previous,
}

/// A sort-key value of the boundary row. Encoded as tagged text (`n`, `i:…`, `t:…`, `r:…`):
/// serde's untagged enums cannot read numbers under `serde_json/arbitrary_precision`.
#[derive(Debug, Clone, PartialEq)]
pub enum Key {
    Null,
    Int(i64),
    Text(String),
    Real(f64),
}

impl Key {
    pub fn from_cell(cell: &Cell) -> Key {
        match cell {
            Cell::Null => Key::Null,
            Cell::Int(i) => Key::Int(*i),
            Cell::Real(f) => Key::Real(*f),
            Cell::Text(s) => Key::Text(s.clone()),
        }
    }

    fn encode(&self) -> String {
        match self {
            Key::Null => "n".to_string(),
            Key::Int(i) => format!("i:{i}"),
            Key::Text(s) => format!("t:{s}"),
            // The bit pattern survives the round trip exactly.
            Key::Real(f) => format!("r:{:016x}", f.to_bits()),
        }
    }

    fn decode(text: &str) -> Option<Key> {
        match text.split_once(':') {
            None if text == "n" => Some(Key::Null),
            Some(("i", v)) => v.parse().ok().map(Key::Int),
            Some(("t", v)) => Some(Key::Text(v.to_string())),
            Some(("r", v)) => u64::from_str_radix(v, 16).ok().map(|bits| Key::Real(f64::from_bits(bits))),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Cursor {
    pub towards: Towards,
    pub keys: Vec<Key>,
    pub rid: i64,
}

#[derive(Serialize, Deserialize)]
struct Wire {
    t: Towards,
    k: Vec<String>,
    r: String,
}

/// Signs and verifies cursors with the server's secret (shared by all nodes through the database).
#[derive(Clone)]
pub struct CursorSigner {
    secret: Vec<u8>,
}

impl CursorSigner {
    pub fn new(secret: Vec<u8>) -> CursorSigner {
        CursorSigner { secret }
    }

    fn mac(&self, payload: &[u8], query: &str) -> SearchResult<Vec<u8>> {
        let internal = |e: openssl::error::ErrorStack| SearchError::Internal(format!("HMAC: {e}"));
        let key = PKey::hmac(&self.secret).map_err(internal)?;
        let mut signer = Signer::new(MessageDigest::sha256(), &key).map_err(internal)?;
        signer.update(payload).map_err(internal)?;
        signer.update(b"\n").map_err(internal)?;
        signer.update(query.as_bytes()).map_err(internal)?;
        let mut mac = signer.sign_to_vec().map_err(internal)?;
        mac.truncate(16);
        Ok(mac)
    }

    /// Encodes a cursor for the query identified by `query` (its canonical parameters).
    pub fn encode(&self, cursor: &Cursor, query: &str) -> SearchResult<String> {
        let wire =
            Wire { t: cursor.towards, k: cursor.keys.iter().map(Key::encode).collect(), r: cursor.rid.to_string() };
        let payload = serde_json::to_vec(&wire).map_err(|e| SearchError::Internal(e.to_string()))?;
        let mac = self.mac(&payload, query)?;
        Ok(format!("{}.{}", URL_SAFE_NO_PAD.encode(&payload), URL_SAFE_NO_PAD.encode(mac)))
    }

    pub fn decode(&self, token: &str, query: &str) -> SearchResult<Cursor> {
        let invalid = || SearchError::invalid("the paging cursor is invalid or belongs to another search");
        let (payload, mac) = token.split_once('.').ok_or_else(invalid)?;
        let payload = URL_SAFE_NO_PAD.decode(payload).map_err(|_| invalid())?;
        let mac = URL_SAFE_NO_PAD.decode(mac).map_err(|_| invalid())?;
        let expected = self.mac(&payload, query)?;
        if mac.len() != expected.len() || !openssl::memcmp::eq(&expected, &mac) {
            return Err(invalid());
        }
        let wire: Wire = serde_json::from_slice(&payload).map_err(|_| invalid())?;
        Ok(Cursor {
            towards: wire.t,
            keys: wire.k.iter().map(|k| Key::decode(k)).collect::<Option<Vec<Key>>>().ok_or_else(invalid)?,
            rid: wire.r.parse().map_err(|_| invalid())?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_tamper() {
        let s = CursorSigner::new(b"secret".to_vec());
        let c = Cursor {
            towards: Towards::Next,
            keys: vec![Key::Text("a".into()), Key::Null, Key::from_cell(&Cell::Real(1.5))],
            rid: 7,
        };
        let token = s.encode(&c, "Patient?name=a").expect("encode");
        assert_eq!(s.decode(&token, "Patient?name=a").expect("decode"), c);
        assert!(s.decode(&token, "Patient?name=b").is_err(), "bound to its query");
        let forged = token.replacen('e', "f", 1);
        assert!(s.decode(&forged, "Patient?name=a").is_err());
    }
}
