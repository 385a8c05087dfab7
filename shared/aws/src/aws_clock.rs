//! Time as AWS Backup tells it. The functions compare their clock with the dates AWS gives
//! recovery points and jobs, so they take AWS's clock: each Backup answer's `Date` header (which
//! the SDK already reads for its own clock-skew correction) sets the offset from the local clock.
//! Against AWS the offset is noise of the header's one-second resolution and is ignored; against
//! `relay emulate`, whose clock runs ahead, it keeps the functions on the emulator's time.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::BeforeDeserializationInterceptorContextRef;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use chrono::{DateTime, Duration, Utc};

/// Offsets under this are the `Date` header's resolution and the request's latency, not a clock.
const NOISE_MS: i64 = 5_000;

#[derive(Debug, Default)]
pub struct AwsClock {
    offset_ms: AtomicI64,
}

impl AwsClock {
    pub fn now(&self) -> DateTime<Utc> {
        Utc::now() + Duration::milliseconds(self.offset_ms.load(Ordering::Relaxed))
    }

    /// AWS said it was `date` (an HTTP date) just now.
    pub fn observe(&self, date: &str) {
        let Ok(aws) = DateTime::parse_from_rfc2822(date) else {
            return;
        };
        let offset = (aws.with_timezone(&Utc) - Utc::now()).num_milliseconds();
        let kept = if offset.abs() < NOISE_MS { 0 } else { offset };
        self.offset_ms.store(kept, Ordering::Relaxed);
    }
}

/// The interceptor on Backup clients that reads each answer's `Date`.
#[derive(Debug, Clone)]
pub struct ObserveDate(pub Arc<AwsClock>);

impl Intercept for ObserveDate {
    fn name(&self) -> &'static str {
        "ObserveDate"
    }

    fn read_after_transmit(
        &self,
        context: &BeforeDeserializationInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        _config: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(date) = context.response().headers().get("date") {
            self.0.observe(date);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_offset_within_the_headers_resolution_is_ignored_and_a_clock_ahead_is_followed() {
        let clock = AwsClock::default();
        clock.observe(&Utc::now().format("%a, %d %b %Y %H:%M:%S GMT").to_string());
        assert!((clock.now() - Utc::now()).num_seconds().abs() <= 1);
        let ahead = Utc::now() + Duration::days(2);
        clock.observe(&ahead.format("%a, %d %b %Y %H:%M:%S GMT").to_string());
        assert!((clock.now() - ahead).num_seconds().abs() <= 2);
        clock.observe("not a date");
        assert!((clock.now() - ahead).num_seconds().abs() <= 2);
    }
}
