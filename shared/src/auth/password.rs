//! Password hashing with argon2id (OWASP parameters: 19 MiB, 2 passes, 1 lane), run on the blocking pool.

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};
use secrecy::{ExposeSecret, SecretString};

fn hasher() -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, Params::new(19 * 1024, 2, 1, None).expect("valid argon2 params"))
}

/// A PHC-format argon2id hash of the password with a fresh random salt.
pub async fn hash(password: &SecretString) -> String {
    let password = password.clone();
    tokio::task::spawn_blocking(move || {
        hasher().hash_password(password.expose_secret().as_bytes()).expect("argon2 hashing").to_string()
    })
    .await
    .expect("hash task")
}

/// Checks a password against a stored hash; a malformed hash never verifies.
pub async fn verify(password: &SecretString, stored: &str) -> bool {
    let (password, stored) = (password.clone(), stored.to_owned());
    tokio::task::spawn_blocking(move || {
        PasswordHash::new(&stored).is_ok_and(|parsed| hasher().verify_password(password.expose_secret().as_bytes(), &parsed).is_ok())
    })
    .await
    .unwrap_or(false)
}

/// A hash of a random password, verified against when the email is unknown so that a login costs the
/// same time whether or not the account exists.
pub fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| {
        hasher().hash_password(&crate::crypto::random_bytes::<24>()).expect("argon2").to_string()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hash_and_verify() {
        let pw = SecretString::from("correct horse battery");
        let stored = hash(&pw).await;
        assert!(stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(verify(&pw, &stored).await);
        assert!(!verify(&SecretString::from("wrong horse battery"), &stored).await);
        assert!(!verify(&pw, "not a hash").await);
        assert!(!verify(&pw, decoy_hash()).await);
    }
}
