//! Session and socket ids: 20 random url-safe base64 characters, like Node's `base64id`.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngExt as _;

/// A fresh random id of 20 url-safe characters (15 random bytes).
pub(crate) fn generate() -> String {
    let bytes: [u8; 15] = rand::rng().random();
    URL_SAFE_NO_PAD.encode(bytes)
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
