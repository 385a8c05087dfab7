//! The Organizations adapter against moto's Organizations: an organisation with a nested OU tree,
//! read as vault sets read it, and the policy expanded with what it answers.

use aws_sdk_organizations::types::OrganizationFeatureSet;
use relay_aws::AwsOrganizations;
use relay_core::organization::read_tree;
use relay_core::policy::Policy;
use relay_core::ports::OrganizationsPort;
use relay_tests::MotoServer;

async fn account_in(
    org: &aws_sdk_organizations::Client,
    name: &str,
    root: &str,
    ou: &str,
) -> String {
    let created = org
        .create_account()
        .account_name(name)
        .email(format!("{name}@example.com"))
        .send()
        .await
        .unwrap();
    let id = created
        .create_account_status()
        .unwrap()
        .account_id()
        .unwrap()
        .to_string();
    org.move_account()
        .account_id(&id)
        .source_parent_id(root)
        .destination_parent_id(ou)
        .send()
        .await
        .unwrap();
    id
}

#[tokio::test]
async fn nested_ous_are_read_through_the_sdk_and_expand_the_sets() {
    let moto = MotoServer::start().unwrap();
    let config = moto.sdk_config().await;
    let org = aws_sdk_organizations::Client::new(&config);
    org.create_organization()
        .feature_set(OrganizationFeatureSet::All)
        .send()
        .await
        .unwrap();
    let root = org.list_roots().send().await.unwrap().roots()[0]
        .id()
        .unwrap()
        .to_string();
    let ou = |parent: String, name: &'static str| {
        let org = org.clone();
        async move {
            let out = org
                .create_organizational_unit()
                .parent_id(parent)
                .name(name)
                .send()
                .await
                .unwrap();
            out.organizational_unit().unwrap().id().unwrap().to_string()
        }
    };
    let workloads = ou(root.clone(), "workloads").await;
    let nested = ou(workloads.clone(), "team-a").await;
    let a = account_in(&org, "alpha", &root, &workloads).await;
    let b = account_in(&org, "beta", &root, &nested).await;
    let _outside = account_in(&org, "gamma", &root, &ou(root.clone(), "sandbox").await).await;

    let adapter = AwsOrganizations::new(org.clone());
    let unit = adapter.unit(&workloads).await.unwrap();
    assert_eq!(unit.accounts, [a.clone()].into());
    assert_eq!(unit.children, std::slice::from_ref(&nested));
    assert!(adapter.active_accounts().await.unwrap().contains(&b));

    let policy = Policy::parse(&format!(
        "version: 1\ncopy_role: \"arn:aws:iam::{{account}}:role/copy\"\nvaults:\n  primary: {{ name: primary, accounts: {{ organizational_units: [{workloads}] }}, regions: [us-east-1] }}\n  central: {{ arn: \"arn:aws:backup:us-east-1:222222222222:backup-vault:central\", retention: {{ delete_after_days: 35 }} }}\nroutes:\n  - {{ from: primary, to: central }}\n"
    ))
    .unwrap();
    let tree = read_tree(&adapter, &policy).await.unwrap();
    let members = policy.membership(&tree);
    assert_eq!(members["primary"], [a, b].into());
    assert_eq!(policy.expand(&members).routes.len(), 2);
}
