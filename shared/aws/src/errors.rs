//! SDK errors classified into the core's [`ErrorKind`]s, keeping AWS's code and message.

use aws_sdk_backup::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use relay_core::ports::{ErrorKind, PortError};

/// What an AWS error code means for the caller. Codes not listed are permanent: the request is wrong.
pub fn kind_for_code(code: &str) -> ErrorKind {
    match code {
        // Backup does not model throttling: it arrives as an unmodelled code.
        "ThrottlingException"
        | "Throttling"
        | "ThrottledException"
        | "TooManyRequestsException"
        | "RequestLimitExceeded"
        | "LimitExceededException"
        | "ProvisionedThroughputExceededException"
        | "RequestThrottled"
        | "RequestThrottledException"
        | "SlowDown" => ErrorKind::Throttled,
        "ServiceUnavailableException"
        | "ServiceUnavailable"
        | "InternalServerError"
        | "InternalServerException"
        | "InternalFailure"
        | "InternalError"
        | "InvalidResourceStateException"
        // AWS Backup's: a service it depends on failed (a server fault in its model).
        | "DependencyFailureException"
        | "RequestTimeout"
        | "RequestTimeoutException"
        | "TransactionConflictException"
        | "ExpiredTokenException" => ErrorKind::Retryable,
        // S3 names a missing object or bucket so.
        "NoSuchKey" | "NoSuchBucket" => ErrorKind::NotFound,
        "AccessDeniedException"
        | "AccessDenied"
        | "UnauthorizedOperation"
        | "UnrecognizedClientException"
        | "InvalidClientTokenId"
        | "AuthorizationError" => ErrorKind::AccessDenied,
        // DynamoDB's DescribeContinuousBackups names a missing table so.
        "ResourceNotFoundException"
        | "NotFoundException"
        | "NotFound"
        | "TableNotFoundException" => ErrorKind::NotFound,
        "ConditionalCheckFailedException" => ErrorKind::ConditionFailed,
        _ => ErrorKind::Permanent,
    }
}

/// The code given to a call whose credentials (an assumed role) could not be had.
pub const CREDENTIALS_REFUSED: &str = "CredentialsRefused";

/// What STS says when it refuses AssumeRole for good (a person must fix the role or the Region).
const REFUSALS: [&str; 3] = ["AccessDenied", "not authorized", "RegionDisabled"];

/// Is a credentials error that STS refused among the causes of `err`? The credentials provider
/// wraps every STS failure alike (throttling and network errors too), so the refusal is told by
/// STS's own code in the chain of causes; anything else is worth a retry.
fn credentials_refused(err: &(dyn std::error::Error + 'static)) -> bool {
    use aws_credential_types::provider::error::CredentialsError;
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = cause {
        if let Some(c) = e.downcast_ref::<CredentialsError>() {
            if matches!(c, CredentialsError::ProviderTimedOut(_)) {
                return false;
            }
            let text = DisplayErrorContext(c).to_string();
            return REFUSALS.iter().any(|r| text.contains(r));
        }
        cause = e.source();
    }
    false
}

/// A call in `account` whose credentials were refused: AssumeRole into that account failed.
pub fn in_account(account: &str, e: PortError) -> PortError {
    if e.kind == ErrorKind::AccessDenied && e.code.as_deref() == Some(CREDENTIALS_REFUSED) {
        return PortError::account_denied(account, e.code.as_deref(), e.message);
    }
    e
}

/// Classify any SDK error: service errors by their code (one with no code is retried, as a
/// transport failure is); a refused role is access denied; anything else is permanent.
pub fn classify<E, R>(operation: &'static str, err: &SdkError<E, R>) -> PortError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match err {
        SdkError::ServiceError(service) => {
            let e = service.err();
            let code = e.code();
            let kind = match code {
                Some(c) => kind_for_code(c),
                None => ErrorKind::Retryable,
            };
            let message = e
                .message()
                .map(str::to_string)
                .unwrap_or_else(|| DisplayErrorContext(err).to_string());
            PortError::new(kind, operation, code, message)
        }
        // A role that cannot be assumed surfaces as a dispatch failure whose cause is a credentials
        // error: that needs a person, not a retry.
        SdkError::DispatchFailure(d)
            if d.as_connector_error()
                .is_some_and(|c| credentials_refused(c)) =>
        {
            PortError::new(
                ErrorKind::AccessDenied,
                operation,
                Some(CREDENTIALS_REFUSED),
                DisplayErrorContext(err).to_string(),
            )
        }
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            PortError::new(
                ErrorKind::Retryable,
                operation,
                None,
                DisplayErrorContext(err).to_string(),
            )
        }
        _ => PortError::new(
            ErrorKind::Permanent,
            operation,
            None,
            DisplayErrorContext(err).to_string(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_assume_role_is_access_denied_for_its_account_and_a_timeout_is_not() {
        use aws_credential_types::provider::error::CredentialsError;
        use aws_sdk_backup::error::SdkError;
        use aws_smithy_runtime_api::client::result::ConnectorError;

        let refused: SdkError<aws_sdk_backup::operation::start_copy_job::StartCopyJobError, ()> =
            SdkError::dispatch_failure(ConnectorError::other(
                Box::new(CredentialsError::provider_error(
                    "AccessDenied: not authorized to perform sts:AssumeRole",
                )),
                None,
            ));
        let e = in_account("333333333333", classify("StartCopyJob", &refused));
        assert!(e.is_account_denied(), "{e:?}");
        assert_eq!(e.account.as_deref(), Some("333333333333"));

        let slow: SdkError<aws_sdk_backup::operation::start_copy_job::StartCopyJobError, ()> =
            SdkError::dispatch_failure(ConnectorError::other(
                Box::new(CredentialsError::provider_timed_out(
                    std::time::Duration::from_secs(5),
                )),
                None,
            ));
        let e = in_account("333333333333", classify("StartCopyJob", &slow));
        assert_eq!(e.kind, ErrorKind::Retryable, "{e:?}");
        assert!(!e.is_account_denied());

        // STS throttled: the provider wraps it like a refusal, but it is worth a retry.
        let throttled: SdkError<aws_sdk_backup::operation::start_copy_job::StartCopyJobError, ()> =
            SdkError::dispatch_failure(ConnectorError::other(
                Box::new(CredentialsError::provider_error(
                    "Throttling: Rate exceeded",
                )),
                None,
            ));
        let e = in_account("333333333333", classify("StartCopyJob", &throttled));
        assert!(e.kind.is_transient(), "{e:?}");
    }

    #[test]
    fn codes_map_to_kinds() {
        assert_eq!(kind_for_code("ThrottlingException"), ErrorKind::Throttled);
        assert_eq!(
            kind_for_code("LimitExceededException"),
            ErrorKind::Throttled
        );
        assert_eq!(
            kind_for_code("InvalidResourceStateException"),
            ErrorKind::Retryable
        );
        assert_eq!(
            kind_for_code("ServiceUnavailableException"),
            ErrorKind::Retryable
        );
        assert_eq!(
            kind_for_code("AccessDeniedException"),
            ErrorKind::AccessDenied
        );
        assert_eq!(
            kind_for_code("ResourceNotFoundException"),
            ErrorKind::NotFound
        );
        assert_eq!(
            kind_for_code("InvalidParameterValueException"),
            ErrorKind::Permanent
        );
        assert_eq!(
            kind_for_code("ConditionalCheckFailedException"),
            ErrorKind::ConditionFailed
        );
        assert_eq!(kind_for_code("NoSuchKey"), ErrorKind::NotFound);
        assert_eq!(
            kind_for_code("DependencyFailureException"),
            ErrorKind::Retryable
        );
        assert_eq!(
            kind_for_code("InvalidRequestException"),
            ErrorKind::Permanent
        );
    }
}
