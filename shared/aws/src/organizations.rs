//! AWS Organizations behind [`OrganizationsPort`]: the ACTIVE accounts (ListAccounts), and an
//! OU's ACTIVE accounts (ListAccountsForParent) and child OUs (ListOrganizationalUnitsForParent),
//! every page, through the Organizations read role in the management or delegated administrator
//! account. Organizations is global: its endpoint is in us-east-1 (aws), us-gov-west-1 or
//! cn-northwest-1, which the SDK picks from the Region given.

use std::collections::BTreeSet;

use aws_config::sts::AssumeRoleProvider;
use aws_config::{Region, SdkConfig};
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_sdk_organizations::types::{Account, AccountState, AccountStatus};
use relay_core::policy::OrgUnit;
use relay_core::ports::{OrganizationsPort, PortResult};

use crate::errors::classify;

/// ListAccounts and ListAccountsForParent return at most 20 a page.
const PAGE: i32 = 20;

#[derive(Clone, Debug)]
pub struct AwsOrganizations {
    client: aws_sdk_organizations::Client,
}

impl AwsOrganizations {
    pub fn new(client: aws_sdk_organizations::Client) -> Self {
        Self { client }
    }

    /// Through `role_arn` (the read role), named `session_name` in CloudTrail; without a role,
    /// with the caller's own credentials (the management account itself, or a test).
    pub async fn through_role(
        base: &SdkConfig,
        role_arn: Option<&str>,
        session_name: &str,
    ) -> Self {
        let partition = role_arn.and_then(|r| r.split(':').nth(1)).unwrap_or("aws");
        let region = match partition {
            "aws-us-gov" => "us-gov-west-1",
            "aws-cn" => "cn-northwest-1",
            _ => "us-east-1",
        };
        let mut builder = base.to_builder().region(Region::new(region));
        if let Some(role) = role_arn {
            let provider = AssumeRoleProvider::builder(role)
                .session_name(session_name)
                .configure(base)
                .build()
                .await;
            builder = builder.credentials_provider(SharedCredentialsProvider::new(provider));
        }
        Self::new(aws_sdk_organizations::Client::new(&builder.build()))
    }
}

/// ACTIVE only: a SUSPENDED, PENDING_CLOSURE or CLOSED account gets no new copies (and loses
/// nothing). `State` is what AWS sends since `Status` was retired (9 September 2026); an answer
/// with `Status` alone (older emulators) is read by it.
fn active_ids<'a, I>(accounts: I) -> BTreeSet<String>
where
    I: Iterator<Item = &'a Account>,
{
    accounts
        .filter(|a| match (a.state(), a.status()) {
            (Some(state), _) => state == &AccountState::Active,
            (None, status) => status == Some(&AccountStatus::Active),
        })
        .filter_map(|a| a.id().map(str::to_string))
        .collect()
}

impl OrganizationsPort for AwsOrganizations {
    async fn active_accounts(&self) -> PortResult<BTreeSet<String>> {
        let pages = self
            .client
            .list_accounts()
            .max_results(PAGE)
            .into_paginator()
            .send()
            .try_collect()
            .await
            .map_err(|e| classify("ListAccounts", &e))?;
        Ok(active_ids(pages.iter().flat_map(|p| p.accounts())))
    }

    async fn unit(&self, ou: &str) -> PortResult<OrgUnit> {
        let accounts = self
            .client
            .list_accounts_for_parent()
            .parent_id(ou)
            .max_results(PAGE)
            .into_paginator()
            .send()
            .try_collect()
            .await
            .map_err(|e| classify("ListAccountsForParent", &e))?;
        let units = self
            .client
            .list_organizational_units_for_parent()
            .parent_id(ou)
            .max_results(PAGE)
            .into_paginator()
            .send()
            .try_collect()
            .await
            .map_err(|e| classify("ListOrganizationalUnitsForParent", &e))?;
        Ok(OrgUnit {
            accounts: active_ids(accounts.iter().flat_map(|p| p.accounts())),
            children: units
                .iter()
                .flat_map(|p| p.organizational_units())
                .filter_map(|u| u.id().map(str::to_string))
                .collect(),
        })
    }
}
