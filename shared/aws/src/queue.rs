//! SQS behind [`PieceQueue`]: SendMessageBatch, ten messages a call (SQS's most); an entry SQS
//! failed is sent again once, then the whole send is an error (retried by the caller).

use relay_core::ports::{ErrorKind, PieceQueue, PortError, PortResult};

use aws_sdk_sqs::types::SendMessageBatchRequestEntry;

use crate::errors::classify;

/// SQS takes at most ten entries per SendMessageBatch.
const BATCH: usize = 10;

#[derive(Clone, Debug)]
pub struct SqsQueue {
    client: aws_sdk_sqs::Client,
    url: String,
}

impl SqsQueue {
    pub fn new(client: aws_sdk_sqs::Client, url: &str) -> Self {
        Self {
            client,
            url: url.to_string(),
        }
    }

    /// One batch; the indexes (into `batch`) of the entries SQS failed.
    async fn send_batch(&self, batch: &[&String]) -> PortResult<Vec<usize>> {
        let entries: Vec<SendMessageBatchRequestEntry> = batch
            .iter()
            .enumerate()
            .filter_map(|(i, body)| {
                SendMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .message_body(body.as_str())
                    .build()
                    .ok()
            })
            .collect();
        let out = self
            .client
            .send_message_batch()
            .queue_url(&self.url)
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(|e| classify("SendMessageBatch", &e))?;
        Ok(out
            .failed()
            .iter()
            .filter_map(|f| f.id().parse().ok())
            .collect())
    }
}

impl PieceQueue for SqsQueue {
    async fn send_pieces(&self, messages: &[String]) -> PortResult<()> {
        for chunk in messages.chunks(BATCH) {
            let all: Vec<&String> = chunk.iter().collect();
            let failed = self.send_batch(&all).await?;
            if failed.is_empty() {
                continue;
            }
            let again: Vec<&String> = failed.iter().filter_map(|i| all.get(*i).copied()).collect();
            let still = self.send_batch(&again).await?;
            if !still.is_empty() {
                return Err(PortError::new(
                    ErrorKind::Retryable,
                    "SendMessageBatch",
                    None,
                    format!("{} of {} pieces not queued", still.len(), messages.len()),
                ));
            }
        }
        Ok(())
    }
}
