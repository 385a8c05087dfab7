//! Tags of a DynamoDB table, read in the table's own account and Region.

use aws_sdk_dynamodb::Client;
use relay_core::plan::Tags;
use relay_core::ports::PortResult;

use crate::errors::classify;

pub async fn table_tags(client: &Client, table_arn: &str) -> PortResult<Tags> {
    let mut tags = Tags::new();
    let mut next: Option<String> = None;
    loop {
        let out = client
            .list_tags_of_resource()
            .resource_arn(table_arn)
            .set_next_token(next.take())
            .send()
            .await
            .map_err(|e| classify("ListTagsOfResource", &e))?;
        for t in out.tags() {
            tags.insert(t.key().to_string(), t.value().to_string());
        }
        match out.next_token {
            Some(token) if !token.is_empty() => next = Some(token),
            _ => return Ok(tags),
        }
    }
}
