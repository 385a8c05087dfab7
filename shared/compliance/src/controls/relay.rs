//! Backup Relay's own controls: the chain complete, never expire kept, PITR, advanced features,
//! no native-only backups, no open incident.

use super::*;

pub(super) fn chain_complete(ix: &Index<'_>, v: &TableView<'_>) -> (Status, String, Vec<Evidence>) {
    if v.reached.is_empty() {
        return na("no route selects the table");
    }
    let hours = ix.params.chain_deadline_hours;
    let deadline = ix.now - Duration::hours(i64::from(hours));
    let held: BTreeSet<(DateTime<Utc>, &VaultArn)> =
        completed(v).map(|p| (p.creation_date, &p.vault)).collect();
    let origins: BTreeMap<&VaultArn, &str> = v
        .origins
        .iter()
        .map(|o| (&o.arn, o.alias.as_str()))
        .collect();
    let (mut originals, mut young) = (0, 0);
    let (mut missing, mut unseen) = (Vec::new(), Vec::new());
    for p in completed(v) {
        let Some(origin) = origins.get(&p.vault) else {
            continue;
        };
        if p.creation_date > deadline {
            young += 1;
            continue;
        }
        originals += 1;
        // The hop identity: (table, creation date) in each vault, whatever route made it.
        for vault in ix
            .policy
            .vaults_reached(origin, Some(DYNAMODB), &v.table.tags)
        {
            if held.contains(&(p.creation_date, &vault.arn)) {
                continue;
            }
            let (list, detail) = match ix.unread(&vault.arn) {
                Some(why) => (&mut unseen, format!("not verified: {why}")),
                None => (
                    &mut missing,
                    format!("no COMPLETED copy in '{}'", vault.alias),
                ),
            };
            list.push(Evidence {
                recovery_point_arn: Some(p.recovery_point_arn.clone()),
                vault: Some(vault.arn.to_string()),
                creation_date: Some(p.creation_date),
                delete_at: None,
                detail: Some(detail),
            });
        }
    }
    chain_verdict(v, hours, (originals, young), missing, unseen)
}

pub(super) fn chain_verdict(
    v: &TableView<'_>,
    hours: u32,
    (originals, young): (usize, usize),
    missing: Vec<Evidence>,
    unseen: Vec<Evidence>,
) -> (Status, String, Vec<Evidence>) {
    let names: Vec<&str> = v.origins.iter().map(|o| o.alias.as_str()).collect();
    match (originals, missing.len(), unseen.len()) {
        (0, _, _) if young > 0 => ok(
            format!("no backup older than {hours} h to check yet"),
            Vec::new(),
        ),
        (0, _, _) => bad(
            format!(
                "no backup of the table in {}: nothing its routes could copy",
                names.join(", ")
            ),
            Vec::new(),
        ),
        (_, 0, 0) => ok(
            format!(
                "{originals} backups older than {hours} h are in all {} vaults their routes reach",
                v.reached.len()
            ),
            Vec::new(),
        ),
        (_, 0, n) => bad(
            format!(
                "{} over {originals} backups could not be verified",
                count(n, "copy", "copies")
            ),
            unseen,
        ),
        (_, m, _) => bad(
            format!(
                "{} missing over {originals} backups older than {hours} h",
                count(m, "copy", "copies")
            ),
            missing.into_iter().chain(unseen).collect(),
        ),
    }
}

pub(super) fn never_expire_retention(
    ix: &Index<'_>,
    v: &TableView<'_>,
) -> (Status, String, Vec<Evidence>) {
    // Every never_expire vault of the policy: a copy there keeps 100 years however it got there
    // (a route, or a plan's copy action).
    let never: Vec<&relay_core::policy::Vault> = ix
        .policy
        .vaults
        .iter()
        .filter(|vault| matches!(vault.retention, Some(Retention::NeverExpire { .. })))
        .collect();
    let mut count_held = 0;
    let mut short = Vec::new();
    for p in completed(v) {
        let Some(vault) = never.iter().find(|n| n.arn == p.vault) else {
            continue;
        };
        count_held += 1;
        let lock = ix.vaults.get(&p.vault).and_then(|f| f.lock.as_ref());
        match guard::decide(vault, p, lock) {
            GuardDecision::Compliant { .. } => {}
            GuardDecision::Repair { .. } => short.push(point_evidence(
                p,
                Some("not kept 36500 days; the retention guard repairs it".into()),
            )),
            GuardDecision::Ignored { reason } | GuardDecision::Violation { reason } => {
                short.push(point_evidence(p, Some(reason)))
            }
        }
    }
    let reached: Vec<&&relay_core::policy::Vault> = never
        .iter()
        .filter(|n| v.reached.iter().any(|r| r.alias == n.alias))
        .collect();
    let unseen: Vec<Evidence> = reached
        .iter()
        .filter_map(|n| {
            ix.unread(&n.arn)
                .map(|why| vault_evidence(&n.arn, format!("not verified: {why}")))
        })
        .collect();
    if count_held == 0 && reached.is_empty() {
        return na(
            "none of its routes copies into a never_expire vault, and no copy of it is in one",
        );
    }
    match (short.len(), unseen.len()) {
        (0, 0) if count_held == 0 => ok(
            "no copy in a never_expire vault yet (RELAY_CHAIN_COMPLETE says if one is late)",
            Vec::new(),
        ),
        (0, 0) => ok(
            format!("all {count_held} copies in never_expire vaults are kept 36500 days"),
            Vec::new(),
        ),
        (0, n) => bad(
            format!(
                "{} never_expire vaults could not be read: their copies are not verified",
                n
            ),
            unseen,
        ),
        (s, _) => bad(
            format!("{s} of {count_held} copies in never_expire vaults are not kept 36500 days"),
            short.into_iter().chain(unseen).collect(),
        ),
    }
}

pub(super) fn pitr(_: &Index<'_>, v: &TableView<'_>) -> (Status, String, Vec<Evidence>) {
    match v.table.pitr {
        Some(true) => ok("point-in-time recovery is on", Vec::new()),
        Some(false) => bad("point-in-time recovery is off", Vec::new()),
        None => bad("point-in-time recovery could not be read", Vec::new()),
    }
}

pub(super) fn advanced_features(
    ix: &Index<'_>,
    v: &TableView<'_>,
) -> (Status, String, Vec<Evidence>) {
    let at = format!("{}/{}", v.table.account, v.table.region);
    match ix.regions.get(&(v.table.account.as_str(), v.table.region.as_str())).and_then(|r| r.advanced_features) {
        Some(true) => ok(format!("advanced features for DynamoDB are on in {at}"), Vec::new()),
        Some(false) => bad(format!("advanced features for DynamoDB are off in {at}: its backups are native and cannot be copied"), Vec::new()),
        None => bad(format!("the Region settings of {at} could not be read"), Vec::new()),
    }
}

pub(super) fn no_native_only(_: &Index<'_>, v: &TableView<'_>) -> (Status, String, Vec<Evidence>) {
    let is_native = |p: &PointView| {
        RecoveryPointArn::parse(&p.recovery_point_arn).is_ok_and(|a| a.is_dynamodb_native())
    };
    let native_points: Vec<&PointView> = completed(v).filter(|p| is_native(p)).collect();
    let copyable = completed(v).filter(|p| !is_native(p)).count();
    let native = (v.table.native_backups as usize).max(native_points.len());
    if native == 0 {
        return ok("no native backups", Vec::new());
    }
    if copyable > 0 {
        return ok(format!("{native} native backups, and {copyable} AWS Backup recovery points that can be copied"), Vec::new());
    }
    bad(
        format!("protected only by {native} DynamoDB-native backups, which cannot be copied"),
        native_points
            .iter()
            .map(|p| point_evidence(p, Some("DynamoDB-native backup".into())))
            .collect(),
    )
}

pub(super) fn open_incidents(ix: &Index<'_>, v: &TableView<'_>) -> (Status, String, Vec<Evidence>) {
    if let Some(why) = &ix.unread_ledger {
        return bad(
            format!("the ledger's open incidents could not be read ({why})"),
            Vec::new(),
        );
    }
    let accounts: BTreeSet<&str> = v
        .reached
        .iter()
        .chain(&v.origins)
        .map(|vault| vault.arn.account.as_str())
        .chain([v.table.account.as_str()])
        .collect();
    let open: Vec<Evidence> = ix
        .incidents
        .iter()
        .filter(|i| concerns(i, v.table, &accounts))
        .map(|i| Evidence {
            vault: i
                .alert
                .hop
                .as_ref()
                .map(|h| h.destination_vault_arn.clone()),
            creation_date: i.alert.hop.as_ref().map(|h| h.original.creation_date),
            detail: Some(format!("{} (open since {})", i.alert.subject, i.opened_at)),
            ..Evidence::default()
        })
        .collect();
    if open.is_empty() {
        ok("no open incident", Vec::new())
    } else {
        bad(format!("{} open incidents need a person", open.len()), open)
    }
}

/// Does this incident hold up a copy of this table? Its hop or table; an account its chains
/// pass through; native backups in its own account and Region.
pub(super) fn concerns(incident: &Incident, table: &TableFacts, accounts: &BTreeSet<&str>) -> bool {
    let a = &incident.alert;
    if let Some(rest) = incident.id.strip_prefix("native#") {
        return rest.split_once('#') == Some((table.account.as_str(), table.region.as_str()));
    }
    a.hop
        .as_ref()
        .is_some_and(|h| h.original.resource_arn == table.arn)
        || a.resource.as_deref() == Some(table.arn.as_str())
        || a.account
            .as_deref()
            .is_some_and(|acc| accounts.contains(acc))
}
