//! How a resource body is stored: zstd with a dictionary trained on FHIR resources as this server
//! stores them (`bench/train-body-dictionary.sh`).
//!
//! A body is small JSON (about 1.3 KB on the synthetic population) made mostly of the same keys,
//! systems and codes as every other body, so compressing each one alone finds little to reuse
//! (1.9×), while a dictionary of the shared material makes it about ten times smaller. That is the
//! largest single share of a database's size per resource.
//!
//! The first byte says how the rest is stored. A dictionary is never replaced: bodies written with
//! one are read with it forever, so a new dictionary gets a new tag and both stay here.
//! - `{`: plain UTF-8 JSON, as written before compression (migration
//!   0014 moved those bodies here unchanged) and where compression would not make it smaller.
//! - [`ZSTD_V1`]: a zstd frame compressed with `dict/bodies-v1.zdict`, without the frame's own
//!   dictionary id and checksum (the tag names the dictionary; the database checks its pages).

use std::cell::RefCell;
use std::sync::LazyLock;

use zstd::bulk::{Compressor, Decompressor};
use zstd::dict::{DecoderDictionary, EncoderDictionary};
use zstd::zstd_safe::CParameter;

/// The tag of a body compressed with the first dictionary.
const ZSTD_V1: u8 = 1;

static DICTIONARY_V1: &[u8] = include_bytes!("../dict/bodies-v1.zdict");

/// zstd's level 3 (its default): compressing a body costs a few microseconds; the higher levels
/// measured here saved about 10% more of an already tenfold-smaller body at a quarter of the speed.
const LEVEL: i32 = 3;

/// No body the server accepts comes near this; a frame that claims more is not one of ours.
const MAX_BODY_BYTES: u64 = 256 * 1024 * 1024;

static ENCODER_V1: LazyLock<EncoderDictionary<'static>> =
    LazyLock::new(|| EncoderDictionary::copy(DICTIONARY_V1, LEVEL));
static DECODER_V1: LazyLock<DecoderDictionary<'static>> = LazyLock::new(|| DecoderDictionary::copy(DICTIONARY_V1));

thread_local! {
    // A compression context is a few hundred kilobytes of tables: one per thread, reused.
    static COMPRESSOR: RefCell<Option<Compressor<'static>>> = const { RefCell::new(None) };
    static DECOMPRESSOR: RefCell<Option<Decompressor<'static>>> = const { RefCell::new(None) };
}

/// A stored body that cannot be read back.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    #[error("stored body with unknown tag {0}")]
    UnknownTag(u8),
    #[error("stored body does not decompress: {0}")]
    Zstd(String),
    #[error("stored body is empty")]
    Empty,
    #[error("stored body is not UTF-8")]
    NotUtf8,
}

/// The stored form of a resource's JSON.
pub fn encode(json: &str) -> Vec<u8> {
    match compress(json.as_bytes()) {
        Some(frame) if frame.len() < json.len() => {
            let mut stored = Vec::with_capacity(frame.len() + 1);
            stored.push(ZSTD_V1);
            stored.extend_from_slice(&frame);
            stored
        }
        // Compression failing (it cannot for a valid context) or not paying: stored as it is.
        _ => json.as_bytes().to_vec(),
    }
}

/// The resource's JSON from its stored form.
pub fn decode(stored: &[u8]) -> Result<String, BodyError> {
    let bytes = match stored.first() {
        Some(&ZSTD_V1) => decompress(&stored[1..])?,
        // JSON text: an object, perhaps after white space.
        Some(b'{' | b' ' | b'\t' | b'\n' | b'\r') => stored.to_vec(),
        Some(&tag) => return Err(BodyError::UnknownTag(tag)),
        None => return Err(BodyError::Empty),
    };
    String::from_utf8(bytes).map_err(|_| BodyError::NotUtf8)
}

fn compress(plain: &[u8]) -> Option<Vec<u8>> {
    COMPRESSOR.with(|slot| {
        let mut slot = slot.borrow_mut();
        if slot.is_none() {
            let mut compressor = Compressor::with_prepared_dictionary(&ENCODER_V1).ok()?;
            compressor.set_parameter(CParameter::DictIdFlag(false)).ok()?;
            compressor.set_parameter(CParameter::ChecksumFlag(false)).ok()?;
            compressor.set_parameter(CParameter::ContentSizeFlag(true)).ok()?;
            *slot = Some(compressor);
        }
        slot.as_mut()?.compress(plain).ok()
    })
}

fn decompress(frame: &[u8]) -> Result<Vec<u8>, BodyError> {
    let size = zstd::zstd_safe::get_frame_content_size(frame)
        .map_err(|_| BodyError::Zstd("not a zstd frame".into()))?
        .ok_or_else(|| BodyError::Zstd("the frame does not say its size".into()))?;
    if size > MAX_BODY_BYTES {
        return Err(BodyError::Zstd(format!("the frame claims {size} bytes")));
    }
    DECOMPRESSOR.with(|slot| {
        let mut slot = slot.borrow_mut();
        if slot.is_none() {
            *slot =
                Some(Decompressor::with_prepared_dictionary(&DECODER_V1).map_err(|e| BodyError::Zstd(e.to_string()))?);
        }
        let decompressor = slot.as_mut().ok_or_else(|| BodyError::Zstd("no decompression context".into()))?;
        decompressor.decompress(frame, size as usize).map_err(|e| BodyError::Zstd(e.to_string()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const OBSERVATION: &str = r#"{"resourceType":"Observation","id":"obs-1","meta":{"versionId":"1","lastUpdated":"2026-12-07T08:35:58.577Z"},"status":"final","code":{"coding":[{"system":"http://loinc.org","code":"8480-6","display":"Systolic blood pressure"}],"text":"Ciśnienie tętnicze"},"subject":{"reference":"Patient/pat-000001"},"valueQuantity":{"value":122,"unit":"mmHg","system":"http://unitsofmeasure.org","code":"mm[Hg]"}}"#;

    #[test]
    fn a_body_round_trips_compressed_and_much_smaller() {
        let stored = encode(OBSERVATION);
        assert_eq!(stored[0], ZSTD_V1);
        assert!(stored.len() * 3 < OBSERVATION.len(), "{} of {} bytes", stored.len(), OBSERVATION.len());
        assert_eq!(decode(&stored).unwrap(), OBSERVATION);
    }

    #[test]
    fn a_body_that_does_not_shrink_is_stored_plain_and_plain_bodies_read_as_they_are() {
        let tiny = "{}";
        assert_eq!(encode(tiny), tiny.as_bytes());
        assert_eq!(decode(b"{}").unwrap(), "{}");
        assert_eq!(decode(OBSERVATION.as_bytes()).unwrap(), OBSERVATION);
    }

    #[test]
    fn damaged_or_foreign_bodies_are_errors_not_panics() {
        let mut stored = encode(OBSERVATION);
        assert!(matches!(decode(&[7, 1, 2, 3]), Err(BodyError::UnknownTag(7))));
        assert!(matches!(decode(&[]), Err(BodyError::Empty)));
        assert!(decode(&[ZSTD_V1]).is_err());
        assert!(decode(&[ZSTD_V1, 0x28, 0xb5, 0x2f, 0xfd]).is_err());
        stored.truncate(stored.len() / 2);
        assert!(decode(&stored).is_err());
        // A frame header claiming an enormous size is refused before anything is allocated.
        let mut huge = vec![ZSTD_V1, 0x28, 0xb5, 0x2f, 0xfd, 0b1100_0000, 0];
        huge.extend_from_slice(&u64::MAX.to_le_bytes());
        assert!(decode(&huge).is_err());
        assert!(matches!(decode(&[b'{', 0xff, b'}']), Err(BodyError::NotUtf8)));
    }
}
