//! The Organizations adapter with aws-smithy-mocks: every page read, only ACTIVE accounts kept
//! (by `State`, or `Status` where an answer has only that), OU children listed, throttling and
//! refusals classified.

use std::time::Duration;

use aws_sdk_organizations::config::retry::RetryConfig;
use aws_sdk_organizations::operation::list_accounts::ListAccountsOutput;
use aws_sdk_organizations::operation::list_accounts_for_parent::ListAccountsForParentOutput;
use aws_sdk_organizations::operation::list_organizational_units_for_parent::ListOrganizationalUnitsForParentOutput;
use aws_sdk_organizations::types::{Account, AccountState, AccountStatus, OrganizationalUnit};
use aws_smithy_mocks::{mock, mock_client, RuleMode};
use relay_aws::AwsOrganizations;
use relay_core::ports::{ErrorKind, OrganizationsPort};

fn account(id: &str, state: Option<AccountState>, status: Option<AccountStatus>) -> Account {
    Account::builder()
        .id(id)
        .set_state(state)
        .set_status(status)
        .build()
}

#[tokio::test]
async fn every_page_of_list_accounts_is_read_and_only_active_accounts_kept() {
    let rule = mock!(aws_sdk_organizations::Client::list_accounts)
        .sequence()
        .output(|| {
            ListAccountsOutput::builder()
                .accounts(account("100000000001", Some(AccountState::Active), None))
                .accounts(account(
                    "100000000002",
                    Some(AccountState::Suspended),
                    Some(AccountStatus::Active),
                ))
                .next_token("page-2")
                .build()
        })
        .output(|| {
            ListAccountsOutput::builder()
                .accounts(account("100000000003", None, Some(AccountStatus::Active)))
                .accounts(account(
                    "100000000004",
                    Some(AccountState::PendingClosure),
                    None,
                ))
                .accounts(account("100000000005", Some(AccountState::Closed), None))
                .build()
        })
        .build();
    let client = mock_client!(aws_sdk_organizations, RuleMode::Sequential, [&rule]);
    let active = AwsOrganizations::new(client)
        .active_accounts()
        .await
        .unwrap();
    assert_eq!(
        active,
        ["100000000001", "100000000003"].map(String::from).into()
    );
    assert_eq!(rule.num_calls(), 2);
}

#[tokio::test]
async fn an_ou_is_its_active_accounts_and_its_child_ous_over_every_page() {
    let accounts = mock!(aws_sdk_organizations::Client::list_accounts_for_parent)
        .match_requests(|r| r.parent_id() == Some("ou-ab12-cdef3456"))
        .sequence()
        .output(|| {
            ListAccountsForParentOutput::builder()
                .accounts(account("100000000001", Some(AccountState::Active), None))
                .next_token("t")
                .build()
        })
        .output(|| {
            ListAccountsForParentOutput::builder()
                .accounts(account("100000000002", Some(AccountState::Active), None))
                .build()
        })
        .build();
    let units = mock!(aws_sdk_organizations::Client::list_organizational_units_for_parent)
        .match_requests(|r| r.parent_id() == Some("ou-ab12-cdef3456"))
        .then_output(|| {
            ListOrganizationalUnitsForParentOutput::builder()
                .organizational_units(OrganizationalUnit::builder().id("ou-ab12-aaaa1111").build())
                .build()
        });
    let client = mock_client!(
        aws_sdk_organizations,
        RuleMode::MatchAny,
        [&accounts, &units]
    );
    let unit = AwsOrganizations::new(client)
        .unit("ou-ab12-cdef3456")
        .await
        .unwrap();
    assert_eq!(unit.accounts.len(), 2);
    assert_eq!(unit.children, ["ou-ab12-aaaa1111"]);
}

fn error_body(code: &str) -> String {
    format!(r#"{{"__type":"{code}","Message":"from the mock"}}"#)
}

#[tokio::test]
async fn throttling_is_retried_by_the_sdk_then_classified_and_a_refusal_is_access_denied() {
    let throttled = mock!(aws_sdk_organizations::Client::list_accounts)
        .sequence()
        .http_status(400, Some(error_body("TooManyRequestsException")))
        .output(|| {
            ListAccountsOutput::builder()
                .accounts(account("100000000001", Some(AccountState::Active), None))
                .build()
        })
        .build();
    let client = mock_client!(
        aws_sdk_organizations,
        RuleMode::Sequential,
        [&throttled],
        |c| c.retry_config(
            RetryConfig::standard()
                .with_max_attempts(3)
                .with_initial_backoff(Duration::from_millis(1))
        )
    );
    let active = AwsOrganizations::new(client)
        .active_accounts()
        .await
        .unwrap();
    assert_eq!(active.len(), 1);
    assert_eq!(throttled.num_calls(), 2);

    for (code, kind) in [
        ("TooManyRequestsException", ErrorKind::Throttled),
        ("AccessDeniedException", ErrorKind::AccessDenied),
        ("AWSOrganizationsNotInUseException", ErrorKind::Permanent),
        ("ParentNotFoundException", ErrorKind::Permanent),
    ] {
        let rule = mock!(aws_sdk_organizations::Client::list_accounts_for_parent)
            .sequence()
            .http_status(400, Some(error_body(code)))
            .build();
        let client = mock_client!(aws_sdk_organizations, RuleMode::Sequential, [&rule], |c| c
            .retry_config(RetryConfig::disabled()));
        let e = AwsOrganizations::new(client)
            .unit("ou-ab12-cdef3456")
            .await
            .unwrap_err();
        assert_eq!(e.kind, kind, "{code}: {e}");
        assert_eq!(e.operation, "ListAccountsForParent");
        assert_eq!(e.code.as_deref(), Some(code));
    }
}
