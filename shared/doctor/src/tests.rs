use super::*;

const ORG_POLICY: &str = r#"{"Version": "2012-10-17", "Statement": [
  {"Sid": "Org", "Effect": "Allow", "Principal": "*", "Action": "backup:CopyIntoBackupVault",
   "Resource": "*", "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-abcdefghij"}}},
  {"Sid": "NoDelete", "Effect": "Deny", "Principal": "*", "Action": "backup:DeleteRecoveryPoint", "Resource": "*"}]}"#;

#[test]
fn an_organisation_condition_admits_its_members_only() {
    let a = admission_of(ORG_POLICY, COPY_INTO_VAULT);
    assert!(!a.everyone);
    assert!(a.admits("111111111111", Some("o-abcdefghij")));
    assert!(!a.admits("111111111111", Some("o-zzzzzzzzzz")));
    assert!(!a.admits("111111111111", None));
}

#[test]
fn accounts_roles_and_wildcards() {
    let doc = r#"{"Statement": {"Effect": "Allow", "Action": ["backup:*"],
        "Principal": {"AWS": ["arn:aws:iam::222222222222:root", "333333333333",
                              "arn:aws:iam::444444444444:role/x"]}}}"#;
    let a = admission_of(doc, COPY_INTO_VAULT);
    for account in ["222222222222", "333333333333", "444444444444"] {
        assert!(a.admits(account, None), "{account}");
    }
    assert!(!a.admits("555555555555", None));
    let open = r#"{"Statement": [{"Effect": "Allow", "Action": "*", "Principal": {"AWS": "*"}}]}"#;
    assert!(admission_of(open, COPY_INTO_VAULT).admits("555555555555", None));
    let other_action = r#"{"Statement": [{"Effect": "Allow", "Action": "backup:StartBackupJob", "Principal": "*"}]}"#;
    assert_eq!(
        admission_of(other_action, COPY_INTO_VAULT),
        Admission::default()
    );
    assert_eq!(
        admission_of("not json", COPY_INTO_VAULT),
        Admission::default()
    );
}

#[test]
fn a_key_must_allow_every_action_a_copy_needs() {
    let grant_only = r#"{"Statement": [{"Effect": "Allow", "Action": "kms:CreateGrant",
        "Principal": {"AWS": "222222222222"}}]}"#;
    assert!(!admission_of(grant_only, KMS_COPY_ACTIONS).admits("222222222222", None));
    let both = r#"{"Statement": [{"Effect": "Allow", "Action": ["kms:CreateGrant", "kms:Decrypt"],
        "Principal": "*", "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-abcdefghij",
        "kms:ViaService": "backup.us-east-1.amazonaws.com"}}}]}"#;
    assert!(admission_of(both, KMS_COPY_ACTIONS).admits("222222222222", Some("o-abcdefghij")));
}

#[test]
fn the_report_counts_and_orders_by_the_contracts_ids() {
    let c = |id, status| Check {
        id,
        status,
        account: "111111111111".into(),
        region: "us-east-1".into(),
        subject: "x".into(),
        message: String::new(),
        fix: String::new(),
    };
    let r = DoctorReport::new(vec![
        c("event_forwarding", Status::Fail),
        c("executor_role", Status::Pass),
        c("vault_exists", Status::Warn),
    ]);
    let ids: Vec<&str> = r.checks.iter().map(|c| c.id).collect();
    assert_eq!(ids, ["executor_role", "vault_exists", "event_forwarding"]);
    assert_eq!((r.summary.pass, r.summary.warn, r.summary.fail), (1, 1, 1));
    assert!(r.failed());
}

#[test]
fn conditions_and_denials_it_cannot_weigh_are_listed_not_judged() {
    let doc = r#"{"Statement": [
      {"Sid": "Org", "Effect": "Allow", "Principal": "*", "Action": "backup:CopyIntoBackupVault",
       "Condition": {"ForAnyValue:StringLike": {"aws:PrincipalOrgPaths": "o-a/r-b/ou-c/*"}}},
      {"Sid": "OnlyOne", "Effect": "Deny", "Principal": "*", "Action": "backup:CopyIntoBackupVault",
       "Condition": {"StringNotEquals": {"aws:PrincipalAccount": "999999999999"}}}]}"#;
    let a = admission_of(doc, COPY_INTO_VAULT);
    assert!(!a.admits("111111111111", Some("o-a")));
    assert_eq!(a.unevaluated.len(), 2, "{:?}", a.unevaluated);
    // The spoke's own key policy: the organisation, through AWS Backup only.
    let spoke = r#"{"Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"},
        "Action": ["kms:CreateGrant", "kms:Decrypt"], "Resource": "*",
        "Condition": {"StringEquals": {"kms:ViaService": "backup.us-east-1.amazonaws.com",
                                       "aws:PrincipalOrgID": "o-abcdefghij"},
                      "Bool": {"kms:GrantIsForAWSResource": "true"}}}]}"#;
    let k = admission_of(spoke, KMS_COPY_ACTIONS);
    assert!(k.unevaluated.is_empty(), "{:?}", k.unevaluated);
    assert!(k.admits("222222222222", Some("o-abcdefghij")));
}

#[test]
fn the_spokes_narrowing_to_the_route_accounts_is_read_not_left_unevaluated() {
    // The spoke's copy-in: the organisation, and of it only the accounts that route here.
    let doc = r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"backup:CopyIntoBackupVault","Resource":"*",
        "Condition":{"StringEquals":{"aws:PrincipalOrgID":"o-abcdefghij","aws:PrincipalAccount":["111111111111","222222222222"]}}}]}"#;
    let a = admission_of(doc, COPY_INTO_VAULT);
    assert!(a.unevaluated.is_empty(), "{a:?}");
    assert!(a.admits("111111111111", Some("o-abcdefghij")));
    assert!(!a.admits("333333333333", Some("o-abcdefghij")), "{a:?}");
}
