//! Tags on copies, applied: each copy that lands by a route gets the tags the policy asks of it
//! (the original's, and the lineage), in its own vault's account, idempotently: the tags it
//! already carries are read first and nothing is called when none is missing. A hop whose copy
//! carries them is marked in the ledger, so the reconciler's repair passes it by.

use chrono::Duration;
use relay_core::arn::{TableArn, VaultArn};
use relay_core::copy_tags::{describe, missing_tags, DroppedTag};
use relay_core::ledger::{HopKey, Original};
use relay_core::plan::{is_root, OriginalPoint, TagRecoveryPoint, Tags};
use relay_core::policy::{Policy, Vault};
use relay_core::ports::{Alert, ErrorKind, LedgerPort, ListQuery, PortError, RouterPorts};

use crate::incident;

/// What tagging one copy did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tagged {
    /// TagResource added the missing tags.
    Added,
    /// The copy carried them all already: no call.
    Already,
    /// AWS refused for good (alerted once per account and cause): not marked.
    NotTagged,
    /// The copy is gone (deleted or expired since it was listed): nothing to tag.
    Gone,
}

/// The original a copy descends from, and its tags: the copy job's source when that is in a
/// root vault, else found in the root vaults of its table's account and Region (one listing by
/// resource and creation date). When it is gone (expired), the table's tags stand in, as AWS
/// Backup's tag inheritance put them on it.
pub async fn find_original<P: RouterPorts>(
    ports: &P,
    policy: &Policy,
    original: &Original,
    source: Option<(&str, &str)>,
) -> Result<OriginalPoint, PortError> {
    let located = match source.filter(|(vault, _)| is_root(policy, vault)) {
        Some((vault, point)) => VaultArn::parse(vault).ok().map(|v| (v, point.to_string())),
        None => locate(ports, policy, original, source.map(|(vault, _)| vault)).await?,
    };
    if let Some((vault, arn)) = located {
        match ports.recovery_point_tags(&vault, &arn).await {
            Ok(tags) => {
                return Ok(OriginalPoint {
                    arn: Some(arn),
                    tags,
                })
            }
            Err(e) if e.kind != ErrorKind::NotFound => return Err(e),
            Err(_) => {}
        }
        return Ok(OriginalPoint {
            arn: Some(arn),
            tags: table_tags(ports, &original.resource_arn).await?,
        });
    }
    Ok(OriginalPoint {
        arn: None,
        tags: table_tags(ports, &original.resource_arn).await?,
    })
}

/// A table's tags; a deleted table has none (routes that select on tags do not match it).
pub(crate) async fn table_tags<P: RouterPorts>(
    ports: &P,
    resource: &str,
) -> Result<Tags, PortError> {
    match ports.resource_tags(resource).await {
        Ok(t) => Ok(t),
        Err(e) if e.kind == ErrorKind::NotFound => Ok(Tags::new()),
        Err(e) => Err(e),
    }
}

/// The original's ARN and vault, listed in the root vaults of its table's account and Region;
/// when the copy came from vault `via`, first those whose routes lead there (two root vaults
/// here may each hold an original of the table made at the same instant: the one copied towards
/// `via` is this copy's).
async fn locate<P: RouterPorts>(
    ports: &P,
    policy: &Policy,
    original: &Original,
    via: Option<&str>,
) -> Result<Option<(VaultArn, String)>, PortError> {
    let Ok(table) = TableArn::parse(&original.resource_arn) else {
        return Ok(None);
    };
    let via = via
        .and_then(|v| VaultArn::parse(v).ok())
        .and_then(|v| policy.vault_by_arn(&v))
        .map(|v| v.alias.as_str());
    let roots = policy.root_vaults();
    let mut here: Vec<&Vault> = roots
        .into_iter()
        .filter(|v| v.arn.account == table.account && v.arn.region == table.region)
        .collect();
    if let Some(via) = via {
        // Stable: those that lead to `via` first, the others after, each in policy order.
        here.sort_by_key(|root| !policy.leads(&root.alias, via));
    }
    for vault in here {
        let query = points_of(original);
        let page = match ports.list_recovery_points(&vault.arn, &query).await {
            Ok(p) => p,
            Err(e) if e.kind == ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        let found = page
            .items
            .into_iter()
            .find(|p| p.creation_date == original.creation_date && p.source_vault_arn.is_none());
        if let Some(p) = found {
            return Ok(Some((vault.arn.clone(), p.recovery_point_arn)));
        }
    }
    Ok(None)
}

/// A listing of the points of one original (its resource, its creation date to the second).
pub(crate) fn points_of(original: &Original) -> ListQuery {
    ListQuery {
        created_after: Some(original.creation_date - Duration::seconds(1)),
        created_before: Some(original.creation_date + Duration::seconds(1)),
        resource_arn: Some(original.resource_arn.clone()),
        page_token: None,
        page_size: 100,
    }
}

/// Put the planned tags on the copy: only the missing ones, then mark the hop. A transient
/// failure or an unreachable account is the caller's to retry; a refusal for good is one
/// incident per account and cause; tags that cannot fit are one incident per destination vault.
pub async fn apply<P: RouterPorts>(
    ports: &P,
    action: &TagRecoveryPoint,
) -> Result<Tagged, PortError> {
    let Ok(vault) = VaultArn::parse(&action.backup_vault_arn) else {
        return Ok(Tagged::NotTagged);
    };
    let arn = &action.recovery_point_arn;
    let present = match ports.recovery_point_tags(&vault, arn).await {
        Ok(t) => t,
        Err(e) if e.kind == ErrorKind::NotFound => return Ok(Tagged::Gone),
        Err(e) if e.kind.is_transient() || e.is_account_denied() => return Err(e),
        Err(e) => return refused(ports, action, &e).await.map(|_| Tagged::NotTagged),
    };
    let (add, no_room) = missing_tags(&action.tags, &present);
    let mut no_room = no_room;
    let done = if add.is_empty() {
        Tagged::Already
    } else {
        match ports.tag_recovery_point(&vault, arn, &add).await {
            Ok(()) => Tagged::Added,
            Err(e) if e.kind.is_transient() || e.is_account_denied() => return Err(e),
            // The copy filled up meanwhile (someone else tagged it): what did not fit is
            // named like any tag that does not fit, not taken for a refusal.
            Err(e) if e.code.as_deref() == Some("LimitExceededException") => {
                no_room.extend(add.keys().map(|k| DroppedTag {
                    key: k.clone(),
                    reason: "no room beside the tags the copy already carries",
                }));
                Tagged::Already
            }
            Err(e) => return refused(ports, action, &e).await.map(|_| Tagged::NotTagged),
        }
    };
    tracing::info!(route = %action.route, recovery_point = %arn, added = add.len(), "copy tagged");
    let hop = HopKey::new(action.original.clone(), action.backup_vault_arn.clone());
    ports
        .ledger()
        .mark_tagged(&hop, &action.route, arn, ports.now())
        .await?;
    let dropped: Vec<DroppedTag> = action.dropped.iter().cloned().chain(no_room).collect();
    if !dropped.is_empty() {
        dropped_tags(ports, action, &dropped).await?;
    }
    Ok(done)
}

/// AWS refused to tag (a role without backup:TagResource, an SCP, a tag it rejects): one
/// incident per account and cause; the copies stay unmarked, so the repair tries again.
async fn refused<P: RouterPorts>(
    ports: &P,
    action: &TagRecoveryPoint,
    e: &PortError,
) -> Result<bool, PortError> {
    tracing::warn!(route = %action.route, error = %e, "copy could not be tagged");
    let alert = Alert::plain(
        format!(
            "Backup Relay: copies in {} cannot be tagged",
            action.backup_vault_arn
        ),
        format!(
            "Tagging copies in {} (account {}) was refused: they lack the cost and lineage tags \
             the policy asks for, so they cannot be charged back. One alert for this refusal in \
             this account, whichever of its vaults it recurs in. The reconciler tries \
             copies of the last two days again every hour; older ones stay untagged and the \
             compliance report's RELAY_COPY_TAGS names them. AWS said: {e}\nLikely fix: allow \
             backup:TagResource and backup:ListTags on the vault's recovery points to the \
             executor role in {} (the spoke stack grants it), or remove what denies it.",
            action.backup_vault_arn, action.account, action.account
        ),
    );
    // One an account and cause, a spoke added later that refuses alerted too; past three
    // accounts, one for the rest (an SCP refusing everywhere is one fix).
    let cause = e.code.as_deref().unwrap_or(e.kind.name());
    incident::raise(ports, format!("tags#{}#{cause}", action.account), alert).await
}

/// Tags of the original that cannot go on its copies (AWS's limits): one incident per route.
async fn dropped_tags<P: RouterPorts>(
    ports: &P,
    action: &TagRecoveryPoint,
    dropped: &[DroppedTag],
) -> Result<bool, PortError> {
    let keys: Tags = dropped
        .iter()
        .map(|d| (d.key.clone(), d.reason.to_string()))
        .collect();
    let alert = Alert::plain(
        format!("Backup Relay: tags left off copies along {}", action.route),
        format!(
            "Copies along {} carry at most AWS's 50 tags (keys up to 128 characters, values up \
             to 256): these tags of their originals were left off: {}. Fewer tags on the tables, \
             or a shorter `tags.copy` list in the policy, make room.",
            action.route,
            describe(&keys)
        ),
    );
    // One a destination vault: a set's member routes into it share one.
    let into = action.route.rsplit("->").next().unwrap_or(&action.route);
    incident::raise(ports, format!("tags-dropped#{into}"), alert).await
}
