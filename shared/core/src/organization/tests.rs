use std::collections::BTreeMap;
use std::sync::Mutex;

use super::*;
use crate::policy::OrgUnit;

/// An organisation in memory, counting the calls made of it.
#[derive(Default)]
struct FakeOrg {
    active: BTreeSet<String>,
    units: BTreeMap<String, OrgUnit>,
    calls: Mutex<Vec<String>>,
    fail: Option<ErrorKind>,
    /// An OU it does not hold is ParentNotFoundException, as AWS answers (else: empty).
    strict: bool,
}

impl OrganizationsPort for FakeOrg {
    async fn active_accounts(&self) -> PortResult<BTreeSet<String>> {
        self.calls.lock().unwrap().push("ListAccounts".into());
        match self.fail {
            Some(kind) => Err(PortError::new(
                kind,
                "ListAccounts",
                Some("AccessDeniedException"),
                "no",
            )),
            None => Ok(self.active.clone()),
        }
    }

    async fn unit(&self, ou: &str) -> PortResult<OrgUnit> {
        self.calls.lock().unwrap().push(ou.to_string());
        if let Some(kind) = self.fail {
            return Err(PortError::new(kind, "ListAccountsForParent", None, "no"));
        }
        match self.units.get(ou) {
            None if self.strict => Err(PortError::new(
                ErrorKind::NotFound,
                "ListAccountsForParent",
                Some("ParentNotFoundException"),
                "no such parent",
            )),
            unit => Ok(unit.cloned().unwrap_or_default()),
        }
    }
}

/// One OU of the policy deleted (or mistyped): it has no members and is named, and every other
/// OU is read and in force; it does not fail the read.
#[tokio::test]
async fn an_ou_that_does_not_exist_is_named_and_holds_up_no_other() {
    let org = FakeOrg {
        strict: true,
        ..chain(2)
    };
    let p = set_policy("{ organizational_units: [ou-ab12-level000, ou-ab12-gone0000] }");
    let tree = read_tree(&org, &p).await.unwrap();
    assert_eq!(
        tree.missing,
        BTreeSet::from(["ou-ab12-gone0000".to_string()])
    );
    // level000 and its child level001; level001's child, level002, is gone too, but it is no
    // OU of the policy's.
    assert_eq!(p.membership(&tree)["p"].len(), 2);
}

fn set_policy(accounts: &str) -> Policy {
    Policy::parse(&format!(
        "version: 1\ncopy_role: \"arn:aws:iam::{{account}}:role/r\"\nvaults:\n  p: {{ name: primary, accounts: {accounts}, regions: [us-east-1] }}\n  c: {{ arn: \"arn:aws:backup:us-east-1:222222222222:backup-vault:cv\", retention: {{ delete_after_days: 35 }} }}\nroutes:\n  - {{ from: p, to: c }}\n"
    ))
    .unwrap()
}

fn chain(levels: usize) -> FakeOrg {
    let mut org = FakeOrg::default();
    for level in 0..levels {
        org.units.insert(
            format!("ou-ab12-level{level:03}"),
            OrgUnit {
                accounts: [format!("{:012}", 100_000_000_000u64 + level as u64)].into(),
                children: vec![format!("ou-ab12-level{:03}", level + 1)],
            },
        );
    }
    org
}

#[tokio::test]
async fn only_what_the_scopes_ask_for_is_read() {
    let org = chain(3);
    let listed = set_policy("[\"111111111111\"]");
    assert_eq!(read_tree(&org, &listed).await.unwrap(), OrgTree::default());
    assert!(org.calls.lock().unwrap().is_empty());
    let whole = set_policy("organization");
    read_tree(&org, &whole).await.unwrap();
    assert_eq!(*org.calls.lock().unwrap(), ["ListAccounts"]);
}

#[tokio::test]
async fn the_ou_walk_stops_five_levels_down_and_at_a_cycle() {
    let mut org = chain(12);
    // A malformed answer: the deepest OU read names the first as its child.
    org.units
        .get_mut("ou-ab12-level005")
        .unwrap()
        .children
        .push("ou-ab12-level000".into());
    let p = set_policy("{ organizational_units: [ou-ab12-level000] }");
    let tree = read_tree(&org, &p).await.unwrap();
    // The OU named and five levels below it.
    assert_eq!(tree.units.len(), MAX_OU_DEPTH + 1);
    assert_eq!(org.calls.lock().unwrap().len(), MAX_OU_DEPTH + 1);
    assert_eq!(p.membership(&tree)["p"].len(), 6);
}

#[tokio::test]
async fn an_answer_over_the_bounds_is_an_error_not_a_boundless_read() {
    let org = FakeOrg {
        active: (0..=MAX_ACCOUNTS as u64)
            .map(|i| format!("{:012}", 100_000_000_000 + i))
            .collect(),
        ..FakeOrg::default()
    };
    let e = read_tree(&org, &set_policy("organization"))
        .await
        .unwrap_err();
    assert!(e.message.contains("more than 20000 accounts"), "{e}");
}

#[test]
fn a_failed_refresh_keeps_the_last_tree_and_is_announced_once() {
    let t0 = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
    let mut cache = MembershipCache::default();
    assert!(cache.due(t0));
    let tree = OrgTree {
        active: ["100000000001".to_string()].into(),
        units: BTreeMap::new(),
        ..OrgTree::default()
    };
    assert!(!cache.record(Ok(&tree), t0));
    assert!(!cache.due(t0 + Duration::minutes(14)));
    assert!(cache.due(t0 + Duration::minutes(15)));
    let e = PortError::new(ErrorKind::AccessDenied, "ListAccounts", None, "denied");
    assert!(
        cache.record(Err(&e), t0 + Duration::minutes(15)),
        "the first failure alerts"
    );
    assert!(
        !cache.record(Err(&e), t0 + Duration::minutes(30)),
        "the next do not"
    );
    assert_eq!(
        cache.tree.as_ref(),
        Some(&tree),
        "the last membership stays"
    );
    assert!(!cache.record(Ok(&tree), t0 + Duration::minutes(45)));
    assert!(
        cache.record(Err(&e), t0 + Duration::minutes(60)),
        "a new outage alerts again"
    );
}
