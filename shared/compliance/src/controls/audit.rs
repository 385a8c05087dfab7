//! Audit Manager's ten controls, with its names, parameters and defaults, but counting every copy
//! that exists, however it was made.

use super::*;

pub(super) fn protected_by_plan(
    ix: &Index<'_>,
    v: &TableView<'_>,
) -> (Status, String, Vec<Evidence>) {
    let t = v.table;
    let no_vault = !ix
        .policy
        .vaults
        .iter()
        .any(|p| p.arn.account == t.account && p.arn.region == t.region);
    if v.plans.is_empty() && no_vault {
        return bad(
            format!("no backup plan in its account and Region selects the table, and no vault of the policy is in {}/{}: the table is not protected", t.account, t.region),
            Vec::new(),
        );
    }
    if v.plans.is_empty() {
        return bad(
            "no backup plan in its account and Region selects the table",
            Vec::new(),
        );
    }
    let names: Vec<&str> = v.plans.iter().map(|p| p.name.as_str()).collect();
    ok(
        format!("selected by backup plan {}", names.join(", ")),
        v.plans.iter().map(|p| plan_evidence(p)).collect(),
    )
}

pub(super) fn last_point_created(
    ix: &Index<'_>,
    v: &TableView<'_>,
) -> (Status, String, Vec<Evidence>) {
    let hours = ix.params.recovery_point_max_age_hours;
    let newest = completed(v).max_by_key(|p| p.creation_date);
    let Some(newest) = newest else {
        return bad(
            "no COMPLETED recovery point of the table exists",
            Vec::new(),
        );
    };
    let age = ix.now.signed_duration_since(newest.creation_date);
    let evidence = vec![point_evidence(
        newest,
        Some("the newest recovery point".into()),
    )];
    if age <= Duration::hours(i64::from(hours)) {
        ok(
            format!(
                "the newest recovery point is {} h old (at most {hours} h)",
                age.num_hours()
            ),
            evidence,
        )
    } else {
        bad(
            format!(
                "the newest recovery point is {} h old, over {hours} h",
                age.num_hours()
            ),
            evidence,
        )
    }
}

pub(super) fn plan_frequency_and_retention(
    ix: &Index<'_>,
    v: &TableView<'_>,
) -> (Status, String, Vec<Evidence>) {
    let (hours, days) = (
        ix.params.required_frequency_hours,
        ix.params.required_retention_days,
    );
    if v.plans.is_empty() {
        return na(
            "no backup plan selects the table (see BACKUP_RESOURCES_PROTECTED_BY_BACKUP_PLAN)",
        );
    }
    let good = |p: &&&PlanFacts| {
        p.every_hours.is_some_and(|h| h <= hours) && p.delete_after_days.is_none_or(|d| d >= days)
    };
    let evidence = v.plans.iter().map(|p| plan_evidence(p)).collect();
    match v.plans.iter().find(good) {
        Some(p) => ok(format!("plan '{}' backs up at least every {hours} h and keeps at least {days} days", p.name), evidence),
        None => bad(format!("no plan selecting the table backs up at least every {hours} h and keeps at least {days} days"), evidence),
    }
}

pub(super) fn minimum_retention(
    ix: &Index<'_>,
    v: &TableView<'_>,
) -> (Status, String, Vec<Evidence>) {
    let days = ix.params.required_retention_days;
    // Short by less than a day counts as kept: AWS rounds calculated delete dates (the guard
    // judges whole days the same way).
    let floor = Duration::days(i64::from(days) - 1);
    let mut count = 0;
    let short: Vec<Evidence> = completed(v)
        .inspect(|_| count += 1)
        .filter_map(|p| {
            let kept = p.delete_at?.signed_duration_since(p.creation_date);
            (kept <= floor)
                .then(|| point_evidence(p, Some(format!("kept {} days", kept.num_days()))))
        })
        .collect();
    if count == 0 {
        return na("no COMPLETED recovery point to check");
    }
    if short.is_empty() {
        ok(
            format!("all {count} recovery points are kept at least {days} days"),
            Vec::new(),
        )
    } else {
        bad(
            format!(
                "{} of {count} recovery points are kept less than {days} days",
                short.len()
            ),
            short,
        )
    }
}

pub(super) fn encrypted(_: &Index<'_>, v: &TableView<'_>) -> (Status, String, Vec<Evidence>) {
    let mut count = 0;
    let plain: Vec<Evidence> = completed(v)
        .inspect(|_| count += 1)
        .filter(|p| p.encrypted != Some(true))
        .map(|p| {
            point_evidence(
                p,
                Some(match p.encrypted {
                    Some(false) => "not encrypted".into(),
                    _ => "encryption not reported".into(),
                }),
            )
        })
        .collect();
    if count == 0 {
        return na("no COMPLETED recovery point to check");
    }
    if plain.is_empty() {
        ok(
            format!("all {count} recovery points are encrypted"),
            Vec::new(),
        )
    } else {
        bad(
            format!(
                "{} of {count} recovery points are not known to be encrypted",
                plain.len()
            ),
            plain,
        )
    }
}

/// The vaults holding a COMPLETED point of the table, each once.
pub(super) fn holding_vaults<'a>(v: &'a TableView<'a>) -> BTreeSet<&'a VaultArn> {
    completed(v).map(|p| &p.vault).collect()
}

pub(super) fn manual_deletion_disabled(
    ix: &Index<'_>,
    v: &TableView<'_>,
) -> (Status, String, Vec<Evidence>) {
    let vaults = holding_vaults(v);
    if vaults.is_empty() {
        return na("no vault holds a COMPLETED recovery point of the table");
    }
    let open: Vec<Evidence> = vaults
        .iter()
        .filter(|a| !ix.vaults.get(*a).is_some_and(|f| f.deny_manual_deletion))
        .map(|a| match ix.vaults.get(*a) {
            Some(_) => vault_evidence(
                a,
                "its access policy does not deny backup:DeleteRecoveryPoint",
            ),
            None => vault_evidence(a, "its access policy could not be read"),
        })
        .collect();
    if open.is_empty() {
        ok(
            format!(
                "all {} vaults holding its recovery points deny manual deletion",
                vaults.len()
            ),
            Vec::new(),
        )
    } else {
        bad(
            format!(
                "{} of {} vaults holding its recovery points are not shown to deny manual deletion",
                open.len(),
                vaults.len()
            ),
            open,
        )
    }
}

/// Compliant when a COMPLETED copy is in each required place (`required` empty: any place other
/// than the table's own); the evidence is one copy per place found.
pub(super) fn copies_elsewhere(
    ix: &Index<'_>,
    v: &TableView<'_>,
    what: &str,
    own: &str,
    listed: &[String],
    place: impl Fn(&VaultArn) -> &str,
) -> (Status, String, Vec<Evidence>) {
    let mut found: BTreeMap<&str, &PointView> = BTreeMap::new();
    for p in completed(v) {
        let at = place(&p.vault);
        if at != own {
            found.entry(at).or_insert(p);
        }
    }
    let evidence: Vec<Evidence> = found
        .iter()
        .map(|(at, p)| point_evidence(p, Some(format!("a copy in {what} {at}"))))
        .collect();
    // The table's own place is never a cross-place copy: listing it asks for nothing more.
    let required: Vec<&str> = listed
        .iter()
        .map(String::as_str)
        .filter(|r| *r != own)
        .collect();
    let unverified = unread_note(ix, v);
    if required.is_empty() {
        return match found.keys().next() {
            Some(at) => ok(
                format!("copies in {} other {what}(s), e.g. {at}", found.len()),
                evidence,
            ),
            None => bad(
                format!("no COMPLETED copy in another {what}{unverified}"),
                Vec::new(),
            ),
        };
    }
    let missing: Vec<&str> = required
        .into_iter()
        .filter(|r| !found.contains_key(r))
        .collect();
    if missing.is_empty() {
        ok(
            format!("a COMPLETED copy in every required {what}"),
            evidence,
        )
    } else {
        bad(
            format!(
                "no COMPLETED copy in {what} {}{unverified}",
                missing.join(", ")
            ),
            evidence,
        )
    }
}

/// "; 'bunker' could not be read (...)" when a vault the table's routes reach is unknown: a
/// finding there may be a copy the report could not see.
pub(super) fn unread_note(ix: &Index<'_>, v: &TableView<'_>) -> String {
    v.reached
        .iter()
        .chain(&v.origins)
        .filter_map(|vault| ix.unread(&vault.arn))
        .map(|why| format!("; {why}"))
        .collect()
}

pub(super) fn cross_region(ix: &Index<'_>, v: &TableView<'_>) -> (Status, String, Vec<Evidence>) {
    copies_elsewhere(
        ix,
        v,
        "Region",
        &v.table.region,
        &ix.params.cross_region_list,
        |a| &a.region,
    )
}

pub(super) fn cross_account(ix: &Index<'_>, v: &TableView<'_>) -> (Status, String, Vec<Evidence>) {
    copies_elsewhere(
        ix,
        v,
        "account",
        &v.table.account,
        &ix.params.cross_account_list,
        |a| &a.account,
    )
}

pub(super) fn vault_lock(ix: &Index<'_>, v: &TableView<'_>) -> (Status, String, Vec<Evidence>) {
    let (min, max) = (
        ix.params.vault_lock_min_retention_days,
        ix.params.vault_lock_max_retention_days,
    );
    let fits = |f: &VaultFacts| {
        f.lock.as_ref().is_some_and(|l| {
            min.is_none_or(|m| l.min_retention_days.is_some_and(|d| d >= m))
                && max.is_none_or(|m| l.max_retention_days.is_some_and(|d| d <= m))
        })
    };
    let locked: Vec<&PointView> = completed(v)
        .filter(|p| ix.vaults.get(&p.vault).is_some_and(|f| fits(f)))
        .collect();
    match locked.first() {
        Some(p) => ok(
            format!(
                "{} COMPLETED recovery points are in locked vaults",
                locked.len()
            ),
            vec![point_evidence(p, Some("in a locked vault".into()))],
        ),
        None => {
            let bounds = match (min, max) {
                (None, None) => String::new(),
                _ => format!(
                    " (lock bounds {}..{} days)",
                    min.map_or("any".into(), |d| d.to_string()),
                    max.map_or("any".into(), |d| d.to_string())
                ),
            };
            let unlocked = holding_vaults(v)
                .into_iter()
                .map(|a| vault_evidence(a, "not locked, or locked outside the bounds"))
                .collect();
            bad(
                format!(
                    "no COMPLETED recovery point is in a locked vault{bounds}{}",
                    unread_note(ix, v)
                ),
                unlocked,
            )
        }
    }
}

pub(super) fn restore_time(ix: &Index<'_>, v: &TableView<'_>) -> (Status, String, Vec<Evidence>) {
    let Some(target) = ix.params.max_restore_time_minutes else {
        return na("no restore time target set (compliance.max_restore_time_minutes)");
    };
    let Some(test) = ix.restores.get(v.table.arn.as_str()) else {
        return match &ix.unread_restores {
            Some(why) => bad(
                format!("the restore tests could not be read ({why})"),
                Vec::new(),
            ),
            None => na("no restore test of the table on record"),
        };
    };
    let evidence = vec![Evidence {
        recovery_point_arn: Some(test.recovery_point_arn.clone()),
        vault: Some(test.vault.clone()),
        detail: Some(format!(
            "restore drill of {}: {} minutes; {}",
            test.finished_at, test.minutes, test.detail
        )),
        ..Evidence::default()
    }];
    if !test.passed {
        return bad(
            format!("the last restore drill failed: {}", test.detail),
            evidence,
        );
    }
    if test.minutes <= target {
        ok(
            format!(
                "the last restore took {} minutes (target {target})",
                test.minutes
            ),
            evidence,
        )
    } else {
        bad(
            format!(
                "the last restore took {} minutes, over the {target}-minute target",
                test.minutes
            ),
            evidence,
        )
    }
}
