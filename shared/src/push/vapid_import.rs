//! VAPID key import: a site moving from another vendor keeps its key pair, so its existing browser
//! subscriptions (made with that `applicationServerKey`) stay reachable. The private key is accepted as
//! the raw 32-byte scalar (base64url, what `web-push generate-vapid-keys` prints), or PKCS#8 / SEC1 DER
//! in PEM or base64, sealed with the envelope like a generated one and never returned.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use aws_lc_rs::encoding::AsBigEndian;
use base64::Engine;
use serde::Deserialize;
use utoipa::ToSchema;
use zeroize::Zeroizing;

use super::crypto::VapidKey;
use super::sites::{self, Site, SiteId};
use crate::auth::{Action, RequestMeta, Workspace};
use crate::http::ApiError;
use crate::ports::envelope::seal;
use crate::ports::{Condition, TxWrite};
use crate::state::AppState;
use crate::workspaces::audit;

#[derive(Deserialize, ToSchema)]
pub struct VapidKeyImport {
    /// The private key: base64url raw scalar, or PKCS#8 / SEC1 (`EC PRIVATE KEY`) as PEM or base64 DER.
    pub private_key: String,
    /// The public key (base64url, uncompressed) to check the pair against, as the old vendor shows it.
    pub public_key: Option<String>,
}

fn refused() -> ApiError {
    ApiError::Validation("private_key: not a P-256 private key (give the base64url scalar, or PKCS#8 / EC PRIVATE KEY PEM)".into())
}

/// The 32-byte private scalar from any of the accepted forms.
pub fn parse_private_key(raw: &str) -> Result<Zeroizing<Vec<u8>>, ApiError> {
    let text = raw.trim();
    let der: Zeroizing<Vec<u8>> = if text.starts_with("-----BEGIN") {
        let body: String = text.lines().filter(|l| !l.starts_with("-----")).map(str::trim).collect();
        Zeroizing::new(STANDARD.decode(body).map_err(|_| refused())?)
    } else {
        let unpadded = text.trim_end_matches('=');
        let bytes = URL_SAFE_NO_PAD.decode(unpadded).or_else(|_| STANDARD.decode(text)).map_err(|_| refused())?;
        if bytes.len() == 32 {
            return Ok(Zeroizing::new(bytes));
        }
        Zeroizing::new(bytes)
    };
    let private = aws_lc_rs::agreement::PrivateKey::from_private_key_der(&aws_lc_rs::agreement::ECDH_P256, &der).map_err(|_| refused())?;
    let bin: aws_lc_rs::encoding::EcPrivateKeyBin = private.as_be_bytes().map_err(|_| refused())?;
    let scalar: &[u8] = bin.as_ref();
    Ok(Zeroizing::new(scalar.to_vec()))
}

/// Replaces the site's VAPID key pair with an imported one. Subscriptions made with the old key stop
/// receiving (push services tie a subscription to its key), which is the point when the old key was a
/// placeholder and the imported one is what the site's browsers subscribed with.
pub async fn import(state: &AppState, ws: &Workspace, meta: &RequestMeta, id: &SiteId, input: &VapidKeyImport) -> Result<Site, ApiError> {
    ws.require(Action::SitesManage)?;
    let scalar = parse_private_key(&input.private_key)?;
    let key = VapidKey::from_private(&scalar).map_err(|_| refused())?;
    if let Some(expected) = &input.public_key {
        if expected.trim().trim_end_matches('=') != key.public_key() {
            return Err(ApiError::Validation("public_key: does not belong to private_key".into()));
        }
    }
    let item = sites::load_item(state, ws.id(), id).await?;
    let mut site: Site = item.parse()?;
    site.vapid_public_key = key.public_key().to_owned();
    let sealed = seal(state.keyring.as_ref(), &sites::vapid_context(ws.id(), id), &scalar).await?;
    let updated = sites::stored(sites::site_key(ws.id(), id), &site, &sealed).with_version(item.version + 1);
    state
        .table
        .transact(vec![
            TxWrite::Put { item: updated, condition: Condition::VersionIs(item.version) },
            TxWrite::Put { item: sites::pointer(ws.id(), &site), condition: Condition::Exists },
            audit::entry(state, ws, meta, "site.vapid_import", id.as_str()),
        ])
        .await?;
    Ok(site)
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::encoding::AsDer;

    #[test]
    fn private_keys_in_every_accepted_form_give_the_same_scalar() {
        let (key, scalar) = VapidKey::generate().unwrap();
        let raw = URL_SAFE_NO_PAD.encode(&scalar);
        let private = aws_lc_rs::agreement::PrivateKey::from_private_key(&aws_lc_rs::agreement::ECDH_P256, &scalar).unwrap();
        let der: aws_lc_rs::encoding::Pkcs8V1Der = private.as_der().unwrap();
        let der = der.as_ref();
        let pem = format!("-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n", STANDARD.encode(der));
        for (form, why) in [(raw.clone(), "base64url scalar"), (format!("{raw}="), "padded"), (STANDARD.encode(der), "base64 PKCS#8 DER"), (pem, "PKCS#8 PEM")] {
            let parsed = parse_private_key(&form).unwrap_or_else(|e| panic!("{why}: {e:?}"));
            assert_eq!(*parsed, scalar, "{why}");
            assert_eq!(VapidKey::from_private(&parsed).unwrap().public_key(), key.public_key(), "{why}");
        }
        for bad in ["", "not base64 at all!", &URL_SAFE_NO_PAD.encode([7u8; 31]), "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----"] {
            assert!(parse_private_key(bad).is_err(), "{bad} accepted");
        }
    }
}
