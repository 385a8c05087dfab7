//! Alerts through an SNS topic.

use aws_sdk_sns::Client;
use relay_core::ports::{Alert, PortResult};

use crate::errors::classify;

/// SNS subjects are at most 100 characters.
const SUBJECT_MAX: usize = 100;

pub struct SnsAlerts {
    client: Client,
    topic_arn: String,
}

impl SnsAlerts {
    pub fn new(client: Client, topic_arn: impl Into<String>) -> Self {
        Self {
            client,
            topic_arn: topic_arn.into(),
        }
    }

    pub async fn send(&self, alert: &Alert) -> PortResult<()> {
        let subject: String = alert
            .subject
            .chars()
            .filter(|c| c.is_ascii() && !c.is_ascii_control())
            .take(SUBJECT_MAX)
            .collect();
        self.client
            .publish()
            .topic_arn(&self.topic_arn)
            .subject(subject)
            .message(&alert.message)
            .send()
            .await
            .map_err(|e| classify("Publish", &e))?;
        Ok(())
    }
}
