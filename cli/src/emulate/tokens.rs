//! Page tokens bound to what they were issued for. A NextToken names a position in one listing
//! (the operation, the account and Region that asked, the vault, the filters); handed back with
//! another of these, or made up, it is refused with InvalidParameterValueException, so a token
//! cannot read a listing its caller was not given (another account's vault).

use std::collections::BTreeMap;
use std::hash::{BuildHasher, RandomState};

use relay_core::arn::Location;
use sha2::{Digest, Sha256};

use super::error::AwsError;

/// The query parameters that only move through a listing; every other one is its filter.
const PAGING: [&str; 2] = ["nextToken", "maxResults"];

/// What a token was issued for.
pub(crate) struct Scope<'a> {
    pub operation: &'static str,
    pub at: &'a Location,
    /// The vault listed, or "" for a listing of the account and Region.
    pub vault: &'a str,
    pub query: &'a BTreeMap<String, String>,
}

/// Seals and opens tokens with a key of this process: tokens do not outlive the emulator, as
/// AWS's do not outlive their expiry.
pub(crate) struct PageTokens {
    key: [u8; 16],
}

impl PageTokens {
    pub(crate) fn new() -> Self {
        // std's RandomState is seeded from the OS's randomness: enough for a local emulator's key.
        let (a, b) = (RandomState::new(), RandomState::new());
        let mut key = [0u8; 16];
        key[..8].copy_from_slice(&a.hash_one(std::process::id()).to_le_bytes());
        key[8..].copy_from_slice(&b.hash_one(std::time::SystemTime::now()).to_le_bytes());
        Self { key }
    }

    /// The token for `position` (the listing's own cursor) in `scope`.
    pub(crate) fn seal(&self, scope: &Scope<'_>, position: &str) -> String {
        format!(
            "{}.{}",
            hex::encode(position),
            hex::encode(self.mac(scope, position))
        )
    }

    /// The position a token names, when it was sealed here for this very scope.
    pub(crate) fn open(&self, scope: &Scope<'_>, token: &str) -> Result<String, AwsError> {
        let refused = || {
            AwsError::invalid(format!(
                "NextToken is not valid for this {} request: it was issued for another listing, or never",
                scope.operation
            ))
        };
        let (position, mac) = token.split_once('.').ok_or_else(refused)?;
        let position = hex::decode(position)
            .ok()
            .and_then(|p| String::from_utf8(p).ok())
            .ok_or_else(refused)?;
        let mac = hex::decode(mac).map_err(|_| refused())?;
        // Not constant-time: the key guards against made-up tokens, not against timing attacks
        // on a loopback emulator.
        if mac == self.mac(scope, &position) {
            Ok(position)
        } else {
            Err(refused())
        }
    }

    fn mac(&self, scope: &Scope<'_>, position: &str) -> [u8; 16] {
        let mut h = Sha256::new();
        let mut part = |bytes: &[u8]| {
            // Length-prefixed, so no two different scopes hash the same bytes.
            h.update((bytes.len() as u64).to_be_bytes());
            h.update(bytes);
        };
        part(&self.key);
        for p in [
            scope.operation,
            &scope.at.partition,
            &scope.at.account,
            &scope.at.region,
            scope.vault,
            position,
        ] {
            part(p.as_bytes());
        }
        for (k, v) in scope
            .query
            .iter()
            .filter(|(k, _)| !PAGING.contains(&k.as_str()))
        {
            part(k.as_bytes());
            part(v.as_bytes());
        }
        let mut out = [0u8; 16];
        out.copy_from_slice(&h.finalize()[..16]);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(account: &str) -> Location {
        Location {
            partition: "aws".into(),
            account: account.into(),
            region: "us-east-1".into(),
        }
    }

    #[test]
    fn a_token_opens_only_in_the_scope_it_was_sealed_for() {
        let tokens = PageTokens::new();
        let home = at("111111111111");
        let query: BTreeMap<String, String> = [("maxResults".into(), "2".into())].into();
        let scope = Scope {
            operation: "ListRecoveryPointsByBackupVault",
            at: &home,
            vault: "primary",
            query: &query,
        };
        let token = tokens.seal(&scope, "17:3");
        assert_eq!(tokens.open(&scope, &token).unwrap(), "17:3");
        // Another page size is the same listing.
        let bigger: BTreeMap<String, String> = [("maxResults".into(), "9".into())].into();
        let same = Scope {
            query: &bigger,
            ..scope
        };
        assert_eq!(tokens.open(&same, &token).unwrap(), "17:3");

        let other = at("222222222222");
        let filtered: BTreeMap<String, String> = [("resourceArn".into(), "x".into())].into();
        for elsewhere in [
            Scope { at: &other, ..same },
            Scope {
                vault: "central",
                ..same
            },
            Scope {
                operation: "ListBackupVaults",
                ..same
            },
            Scope {
                query: &filtered,
                ..same
            },
        ] {
            assert!(tokens.open(&elsewhere, &token).is_err());
        }
        let forged = format!(
            "{}.{}",
            hex::encode("18:0"),
            token.split_once('.').unwrap().1
        );
        for bad in [forged.as_str(), "17:3", "", ".", "zz.zz"] {
            let e = tokens.open(&same, bad).unwrap_err();
            assert_eq!(e.code(), "InvalidParameterValueException", "{bad}");
        }
        assert!(
            PageTokens::new().open(&same, &token).is_err(),
            "another process's key"
        );
    }
}
