//! Session and socket ids: 20 random url-safe base64 characters, like Node's `base64id`; and
//! the hasher of the tables keyed by them.

use std::hash::{BuildHasher, Hasher, RandomState};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngExt as _;

/// A fresh random id of 20 url-safe characters (15 random bytes).
pub(crate) fn generate() -> String {
    let bytes: [u8; 15] = rand::rng().random();
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The hasher of tables keyed by session or socket ids: the session table, a namespace's
/// sockets, a room's members. Every polling request and every broadcast delivery looks an id up,
/// and SipHash costs more there than the rest of the lookup. The keys are ids the server made
/// (random, unless `generate_id` says otherwise), never chosen by a client, so a keyed
/// multiply-rotate hash is enough: a client only picks what it looks up, which costs it one
/// probe sequence.
#[derive(Clone, Copy)]
pub(crate) struct IdHash(u64);

impl IdHash {
    pub(crate) fn new() -> Self {
        // Keyed per table, so that ids made by a predictable `generate_id` still spread.
        IdHash(RandomState::new().hash_one(0u8) | 1)
    }
}

impl Default for IdHash {
    /// Keyed once per process: cheap enough for the short-lived sets a broadcast builds.
    fn default() -> Self {
        static KEY: std::sync::OnceLock<IdHash> = std::sync::OnceLock::new();
        *KEY.get_or_init(IdHash::new)
    }
}

impl BuildHasher for IdHash {
    type Hasher = IdHasher;
    fn build_hasher(&self) -> IdHasher {
        IdHasher(self.0)
    }
}

pub(crate) struct IdHasher(u64);

impl Hasher for IdHasher {
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.0 = (self.0.rotate_left(23) ^ u64::from_le_bytes(w)).wrapping_mul(K);
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            self.0 = (self.0.rotate_left(23) ^ u64::from_le_bytes(w)).wrapping_mul(K);
        }
    }

    fn write_u8(&mut self, i: u8) {
        self.write(&[i]);
    }

    fn finish(&self) -> u64 {
        // hashbrown takes its control bits from the top 7 bits and its bucket from the low
        // ones: fold the well-mixed high half down.
        self.0 ^ (self.0 >> 29)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn ids_are_20_url_safe_chars_and_distinct() {
        let a = super::generate();
        let b = super::generate();
        assert_eq!(a.len(), 20);
        assert!(
            a.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        );
        assert_ne!(a, b);
    }
}
