//! The integer that an index row carries for its resource type and row name (a parameter code,
//! or an auxiliary or component row name: [`crate::search::registry::SearchParam::row_names`]), in place of the two
//! texts: every row and every entry of its lookup indexes repeated them (21 characters on
//! average), and an integer is 4 bytes.
//!
//! The key is a hash, not a number handed out from a table: any node computes it alone, a new
//! custom parameter needs no write before its first row, and group commit has nothing to
//! coordinate. Two pairs with one key would share rows, so the registry refuses to load
//! parameters whose keys collide ([`crate::search::registry::Registry::build`]); the R4 and
//! national parameters have none (its tests build it).
//!
//! The hash is FNV-1a (32 bits) over the Unicode scalar values of `Type.name`, each taken whole
//! as the step's input (for the ASCII of every code in use, exactly FNV-1a over the bytes),
//! keeping the low 31 bits so the key is a non-negative 4-byte integer in both databases.
//! Migration 0017 computes the same function in SQL for rows written before it; changing it
//! means a migration that rewrites every row.

const OFFSET_BASIS: u32 = 2_166_136_261;
const PRIME: u32 = 16_777_619;

/// The key of `row_name` rows of `resource_type`.
pub fn param_key(resource_type: &str, row_name: &str) -> i64 {
    let mut hash = OFFSET_BASIS;
    for c in resource_type.chars().chain(std::iter::once('.')).chain(row_name.chars()) {
        hash = (hash ^ u32::from(c)).wrapping_mul(PRIME);
    }
    i64::from(hash & 0x7fff_ffff)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// FNV-1a's published test vectors (32 bits), masked to 31: the function is the standard one.
    #[test]
    fn is_fnv1a_over_type_dot_name() {
        fn fnv(text: &str) -> u32 {
            text.bytes().fold(OFFSET_BASIS, |h, b| (h ^ u32::from(b)).wrapping_mul(PRIME))
        }
        assert_eq!(fnv(""), 0x811c_9dc5);
        assert_eq!(fnv("a"), 0xe40c_292c);
        assert_eq!(fnv("foobar"), 0xbf9c_f968);
        assert_eq!(param_key("Observation", "code"), i64::from(fnv("Observation.code") & 0x7fff_ffff));
        assert_ne!(param_key("Observation", "code"), param_key("Condition", "code"));
        assert_ne!(param_key("Observation", "code"), param_key("Observation", "code:text"));
    }

    /// Keys that are pinned: a change to the function would silently orphan every stored row
    /// (migration 0017 computes it in SQL; `tests/it/param_keys.rs` checks that the two agree).
    #[test]
    fn stable_values() {
        assert_eq!(param_key("Observation", "code"), 592_331_440);
        assert_eq!(param_key("Patient", "identifier"), 1_691_100_867);
    }
}
