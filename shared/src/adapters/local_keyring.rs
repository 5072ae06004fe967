//! `LocalKeyring`: the `Keyring` port on local master key files (`master-v<n>.key`, 32 random bytes,
//! mode 0600). Data keys are wrapped with AES-256-GCM using the encryption context as associated data.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::RwLock;

use async_trait::async_trait;
use secrecy::SecretSlice;
use zeroize::Zeroizing;

use crate::crypto;
use crate::ports::{DataKey, EncryptionContext, Keyring, KeyringError};

const MAGIC: &[u8; 4] = b"WTK1";

pub struct LocalKeyring {
    dir: PathBuf,
    /// (version, key bytes), ascending by version; the last one wraps new data keys.
    keys: RwLock<Vec<(u32, Zeroizing<Vec<u8>>)>>,
}

impl LocalKeyring {
    /// Loads every master key in `dir`, creating the directory and a first key (0600) if none exist.
    pub fn open(dir: &Path) -> std::io::Result<Self> {
        fs::create_dir_all(dir)?;
        let keyring = Self { dir: dir.to_owned(), keys: RwLock::new(read_keys(dir)?) };
        if keyring.keys.read().expect("keyring lock").is_empty() {
            keyring.rotate()?;
        }
        Ok(keyring)
    }

    /// Picks up versions another process (`webtrigger keys rotate`) added since this one loaded.
    fn reload(&self) -> std::io::Result<()> {
        let fresh = read_keys(&self.dir)?;
        let mut keys = self.keys.write().expect("keyring lock");
        if fresh.len() > keys.len() {
            *keys = fresh;
        }
        Ok(())
    }

    /// Creates master key version n+1; later data keys are wrapped with it, earlier ones still unwrap.
    pub fn rotate(&self) -> std::io::Result<u32> {
        let mut keys = self.keys.write().expect("keyring lock");
        let version = keys.last().map_or(1, |(v, _)| v + 1);
        let key = Zeroizing::new(crypto::random_bytes::<32>().to_vec());
        let path = self.dir.join(format!("master-v{version}.key"));
        let mut file = create_private(&path)?;
        file.write_all(&key)?;
        file.sync_all()?;
        keys.push((version, key));
        Ok(version)
    }

    pub fn current_version(&self) -> u32 {
        self.keys.read().expect("keyring lock").last().map_or(0, |(v, _)| *v)
    }

    fn wrap(&self, plaintext_key: &[u8], context: &EncryptionContext) -> Result<(Vec<u8>, String), KeyringError> {
        let keys = self.keys.read().expect("keyring lock");
        let (version, master) = keys.last().ok_or_else(|| KeyringError::Unavailable("no master key".into()))?;
        let sealed = crypto::seal(master, &context.canonical_bytes(), plaintext_key).map_err(|e| KeyringError::Unavailable(e.to_string()))?;
        let mut out = Vec::with_capacity(8 + sealed.len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&version.to_be_bytes());
        out.extend_from_slice(&sealed);
        Ok((out, format!("local-v{version}")))
    }

    fn unwrap(&self, wrapped: &[u8], context: &EncryptionContext) -> Result<Zeroizing<Vec<u8>>, KeyringError> {
        if wrapped.len() < 8 || &wrapped[..4] != MAGIC {
            return Err(KeyringError::InvalidCiphertext);
        }
        let version = u32::from_be_bytes(wrapped[4..8].try_into().expect("4 bytes"));
        if !self.keys.read().expect("keyring lock").iter().any(|(v, _)| *v == version) {
            self.reload().map_err(|e| KeyringError::Unavailable(e.to_string()))?;
        }
        let keys = self.keys.read().expect("keyring lock");
        let (_, master) = keys.iter().find(|(v, _)| *v == version).ok_or(KeyringError::InvalidCiphertext)?;
        crypto::open(master, &context.canonical_bytes(), &wrapped[8..]).map(Zeroizing::new).map_err(|_| KeyringError::InvalidCiphertext)
    }
}

fn read_keys(dir: &Path) -> std::io::Result<Vec<(u32, Zeroizing<Vec<u8>>)>> {
    let mut keys = Vec::new();
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        let Some(version) = path.file_name().and_then(|n| n.to_str()).and_then(parse_key_file_name) else { continue };
        let bytes = Zeroizing::new(fs::read(&path)?);
        if bytes.len() != 32 {
            return Err(std::io::Error::other(format!("{} is not a 32-byte key", path.display())));
        }
        keys.push((version, bytes));
    }
    keys.sort_by_key(|(v, _)| *v);
    Ok(keys)
}

fn parse_key_file_name(name: &str) -> Option<u32> {
    name.strip_prefix("master-v")?.strip_suffix(".key")?.parse().ok()
}

#[cfg(unix)]
pub(crate) fn create_private(path: &Path) -> std::io::Result<fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)
}

#[cfg(not(unix))]
pub(crate) fn create_private(path: &Path) -> std::io::Result<fs::File> {
    fs::OpenOptions::new().write(true).create_new(true).open(path)
}

#[async_trait]
impl Keyring for LocalKeyring {
    async fn generate_data_key(&self, context: &EncryptionContext) -> Result<DataKey, KeyringError> {
        let plaintext = Zeroizing::new(crypto::random_bytes::<32>().to_vec());
        let (wrapped, master_key_id) = self.wrap(&plaintext, context)?;
        Ok(DataKey { plaintext: SecretSlice::from(plaintext.to_vec()), wrapped, master_key_id })
    }

    async fn unwrap_data_key(&self, wrapped: &[u8], context: &EncryptionContext) -> Result<SecretSlice<u8>, KeyringError> {
        self.unwrap(wrapped, context).map(|k| SecretSlice::from(k.to_vec()))
    }

    async fn rewrap(&self, wrapped: &[u8], context: &EncryptionContext) -> Result<(Vec<u8>, String), KeyringError> {
        let key = self.unwrap(wrapped, context)?;
        self.wrap(&key, context)
    }
}
