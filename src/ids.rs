//! Typed identifiers and random tokens.
//!
//! Every entity id is a prefixed string of 128 random bits (lower-case base32), so ids are
//! unguessable and cannot be confused across kinds (`UserId` vs `BookingId`). Tokens (session
//! cookies, API keys, feed tokens) are 256 random bits; only their SHA-256 is stored.

use data_encoding::BASE32_NOPAD;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// `n` bytes from the operating system's CSPRNG.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut buf = [0u8; N];
    getrandom::fill(&mut buf).expect("the OS random source is available");
    buf
}

/// Lower-case base32 of `n` random bytes (no padding).
pub fn random_base32<const N: usize>() -> String {
    BASE32_NOPAD
        .encode(&random_bytes::<N>())
        .to_ascii_lowercase()
}

/// A fresh 256-bit token for cookies, keys and feed links (URL-safe).
pub fn new_token() -> String {
    random_base32::<32>()
}

/// Hex SHA-256 of a token: what the database stores instead of the token.
pub fn token_hash(token: &str) -> String {
    data_encoding::HEXLOWER.encode(&Sha256::digest(token.as_bytes()))
}

macro_rules! typed_id {
    ($(#[$doc:meta])* $name:ident, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
        #[serde(transparent)]
        pub struct $name(pub String);

        impl $name {
            /// A new random id.
            pub fn generate() -> Self {
                Self(format!(concat!($prefix, "_{}"), random_base32::<16>()))
            }
            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

typed_id!(/// A user account.
    UserId, "u");
typed_id!(/// A coach profile.
    CoachId, "c");
typed_id!(/// A booking.
    BookingId, "b");
typed_id!(/// A coaching commitment.
    CommitmentId, "m");
typed_id!(/// An integration API key.
    ApiKeyId, "k");
typed_id!(/// An AI voice session.
    VoiceSessionId, "v");

/// A room name: 160 random bits, lower-case hex (valid as a Jitsi room name too).
pub fn new_room_name() -> String {
    data_encoding::HEXLOWER.encode(&random_bytes::<20>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_prefixed_and_distinct() {
        let a = BookingId::generate();
        let b = BookingId::generate();
        assert!(a.as_str().starts_with("b_"));
        assert_eq!(a.as_str().len(), 2 + 26);
        assert_ne!(a, b);
    }

    #[test]
    fn room_names_carry_160_bits() {
        let r = new_room_name();
        assert_eq!(r.len(), 40);
        assert!(
            r.chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
    }

    #[test]
    fn token_hash_is_stable_hex() {
        assert_eq!(token_hash("x"), token_hash("x"));
        assert_eq!(token_hash("x").len(), 64);
    }
}
