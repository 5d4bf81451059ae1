//! Password hashing with argon2id (PHC strings), and the password policy.

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};

/// Shortest accepted password, in characters.
pub const MIN_LEN: usize = 10;
/// Longest accepted password, in bytes (bounds hashing work).
pub const MAX_LEN: usize = 256;

/// Checks the policy; the message says what is wrong.
pub fn check_policy(password: &str) -> Result<(), String> {
    if password.chars().count() < MIN_LEN {
        return Err(format!("password must have at least {MIN_LEN} characters"));
    }
    if password.len() > MAX_LEN {
        return Err(format!("password must have at most {MAX_LEN} bytes"));
    }
    Ok(())
}

/// Hashes with argon2id and a random salt (CPU-heavy: call from a blocking task).
pub fn hash(password: &str) -> String {
    Argon2::default()
        .hash_password(password.as_bytes())
        .expect("argon2 with default parameters hashes any input up to MAX_LEN")
        .to_string()
}

/// Whether `password` matches the PHC string `stored` (CPU-heavy: call from a blocking task).
pub fn verify(password: &str, stored: &str) -> bool {
    match PasswordHash::new(stored) {
        Ok(parsed) => Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// Spends the same work as a real verification, so an unknown account takes as long to
/// refuse as a wrong password (no account enumeration by timing).
pub fn verify_dummy(password: &str) {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let stored = DUMMY.get_or_init(|| hash("dummy password for timing"));
    let _ = verify(password, stored);
}

/// A random password for accounts created by an operator (`parlor user add`).
pub fn generate() -> String {
    crate::ids::random_base32::<15>()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_is_argon2id_and_verifies() {
        let h = hash("correct horse battery");
        assert!(h.starts_with("$argon2id$"), "{h}");
        assert!(verify("correct horse battery", &h));
        assert!(!verify("wrong horse battery", &h));
        assert!(!verify("x", "not a phc string"));
    }

    #[test]
    fn policy_rejects_short_and_huge() {
        assert!(check_policy("short").is_err());
        assert!(check_policy(&"x".repeat(300)).is_err());
        assert!(check_policy("long enough pw").is_ok());
        assert_eq!(generate().len(), 24);
    }
}
