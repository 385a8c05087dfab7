//! Whom a resource policy (a vault access policy, a KMS key policy) lets do something: read from
//! its Allow statements. What the doctor cannot evaluate (a Deny that may bite, a condition other
//! than the organisation's id and AWS Backup's own use of a key) is listed, so the check warns
//! instead of judging.

use std::collections::BTreeSet;

use serde_json::Value;

use relay_core::iam::{action_matches, everyone, strings};

pub const COPY_INTO_VAULT: &[&str] = &["backup:CopyIntoBackupVault"];
/// What a copy needs of the source key in the destination account (facts §9).
pub const KMS_COPY_ACTIONS: &[&str] = &["kms:CreateGrant", "kms:Decrypt"];

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Admission {
    /// Any principal (no organisation condition).
    pub everyone: bool,
    /// Principals of these organisations (`aws:PrincipalOrgID`).
    pub organizations: BTreeSet<String>,
    /// Principals of these accounts (`123456789012`, `arn:...:iam::123456789012:root`, its roles).
    pub accounts: BTreeSet<String>,
    /// What was not evaluated: Deny statements on the action, Allows under other conditions.
    pub unevaluated: BTreeSet<String>,
}

impl Admission {
    pub fn admits(&self, account: &str, organization: Option<&str>) -> bool {
        self.everyone
            || self.accounts.contains(account)
            || organization.is_some_and(|o| self.organizations.contains(o))
    }

    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if self.everyone {
            parts.push("everyone".to_string());
        }
        for o in &self.organizations {
            parts.push(format!("organisation {o}"));
        }
        if !self.accounts.is_empty() {
            let list: Vec<&str> = self.accounts.iter().map(String::as_str).collect();
            parts.push(format!("accounts {}", list.join(", ")));
        }
        if parts.is_empty() {
            "no other account".into()
        } else {
            parts.join(", ")
        }
    }
}

/// Whom `policy_json` allows every one of `actions`. An unreadable document admits nobody.
pub fn admission_of(policy_json: &str, actions: &[&str]) -> Admission {
    let Ok(doc) = serde_json::from_str::<Value>(policy_json) else {
        return Admission::default();
    };
    let statements = match doc.get("Statement") {
        Some(Value::Array(a)) => a.clone(),
        Some(s @ Value::Object(_)) => vec![s.clone()],
        _ => return Admission::default(),
    };
    let mut per_action: Vec<Admission> = Vec::new();
    for action in actions {
        let mut admission = Admission::default();
        for s in statements.iter().filter(|s| applies(s, action, "Allow")) {
            let unknown = unknown_conditions(s);
            if unknown.is_empty() {
                add_principals(s, &mut admission);
            } else {
                admission
                    .unevaluated
                    .insert(format!("an Allow of {action} under {}", unknown.join(", ")));
            }
        }
        for s in statements.iter().filter(|s| applies(s, action, "Deny")) {
            let sid = s.get("Sid").and_then(Value::as_str).unwrap_or("(no Sid)");
            admission
                .unevaluated
                .insert(format!("a Deny of {action} ({sid})"));
        }
        per_action.push(admission);
    }
    intersect(per_action)
}

fn applies(statement: &Value, action: &str, effect: &str) -> bool {
    statement.get("Effect").and_then(Value::as_str) == Some(effect)
        && strings(statement.get("Action"))
            .iter()
            .any(|p| action_matches(p, action))
}

/// Condition keys of a statement other than those AWS Backup's copies meet by construction:
/// the organisation's id (evaluated), `kms:ViaService` naming AWS Backup, and
/// `kms:GrantIsForAWSResource` true.
fn unknown_conditions(statement: &Value) -> Vec<String> {
    let Some(Value::Object(conditions)) = statement.get("Condition") else {
        return Vec::new();
    };
    let mut unknown = Vec::new();
    for (op, keys) in conditions {
        let Some(keys) = keys.as_object() else {
            unknown.push(op.clone());
            continue;
        };
        for (key, value) in keys {
            let met = match key.to_ascii_lowercase().as_str() {
                "aws:principalorgid" | "aws:principalaccount" => {
                    op.starts_with("StringEquals") || op.starts_with("StringLike")
                }
                "kms:viaservice" => strings(Some(value))
                    .iter()
                    .all(|v| v.starts_with("backup.")),
                "kms:grantisforawsresource" => op == "Bool",
                _ => false,
            };
            if !met {
                unknown.push(format!("{op} {key}"));
            }
        }
    }
    unknown
}

fn add_principals(statement: &Value, admission: &mut Admission) {
    let orgs = condition_values(statement, "aws:PrincipalOrgID");
    // The spoke's narrowing: the organisation and, of it, only the accounts that route here.
    let accounts = condition_values(statement, "aws:PrincipalAccount");
    if everyone(statement.get("Principal")) {
        if !accounts.is_empty() {
            admission.accounts.extend(accounts);
            return;
        }
        if orgs.is_empty() {
            admission.everyone = true;
        }
        admission.organizations.extend(orgs);
        return;
    }
    let aws = statement.get("Principal").and_then(|p| p.get("AWS"));
    for principal in strings(aws) {
        if let Some(account) = account_of_principal(&principal) {
            admission.accounts.insert(account);
        }
    }
}

/// The values of a StringEquals/StringLike condition on `key` (`aws:PrincipalOrgID`, ...).
fn condition_values(statement: &Value, key: &str) -> Vec<String> {
    let Some(Value::Object(conditions)) = statement.get("Condition") else {
        return Vec::new();
    };
    conditions
        .iter()
        .filter(|(op, _)| op.starts_with("StringEquals") || op.starts_with("StringLike"))
        .filter_map(|(_, keys)| keys.as_object())
        .flat_map(|keys| {
            keys.iter()
                .filter(|(k, _)| k.eq_ignore_ascii_case(key))
                .flat_map(|(_, v)| strings(Some(v)))
        })
        .collect()
}

/// `123456789012`, `arn:aws:iam::123456789012:root` or any principal ARN of that account.
fn account_of_principal(principal: &str) -> Option<String> {
    let account = if principal.starts_with("arn:") {
        principal.split(':').nth(4)?
    } else {
        principal
    };
    (account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit())).then(|| account.into())
}

fn intersect(all: Vec<Admission>) -> Admission {
    let mut it = all.into_iter();
    let Some(mut out) = it.next() else {
        return Admission::default();
    };
    for a in it {
        let unevaluated = out.unevaluated.union(&a.unevaluated).cloned().collect();
        out = Admission {
            unevaluated,
            everyone: out.everyone && a.everyone,
            organizations: out
                .organizations
                .iter()
                .filter(|o| a.everyone || a.organizations.contains(*o))
                .cloned()
                .chain(a.organizations.iter().filter(|_| out.everyone).cloned())
                .collect(),
            accounts: out
                .accounts
                .iter()
                .filter(|x| a.everyone || a.accounts.contains(*x))
                .cloned()
                .chain(a.accounts.iter().filter(|_| out.everyone).cloned())
                .collect(),
        };
    }
    out
}
