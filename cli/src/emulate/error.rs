//! AWS's REST-JSON error answer: the code in `x-amzn-ErrorType`, `{"Code", "Message"}` in the body
//! (the members of the service model's error shapes), and the HTTP status AWS gives that code.
//! Every error the emulator answers has this shape, also those axum makes on its own (a wrong
//! method, a body too large): boto3 and the Rust SDK read a code and a message from each.

use axum::body::to_bytes;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use relay_core::ports::{ErrorKind, PortError};
use serde_json::json;

/// The longest request URI the emulator takes; longer ones are refused as AWS's front end does
/// (AWS documents no number: 8 KiB is a common front-end limit). hyper itself refuses URIs over
/// 64 KiB before any handler runs, with an empty 414 the emulator cannot shape.
pub(crate) const MAX_URI_BYTES: usize = 8 * 1024;

/// An AWS error as REST-JSON carries it.
#[derive(Debug)]
pub(crate) struct AwsError {
    code: &'static str,
    message: String,
}

/// The HTTP status of each code. The service model gives its errors no `httpStatusCode`: its
/// client errors are 400 and its faults (`"fault": true`: ServiceUnavailableException,
/// DependencyFailureException) 500, as the API reference lists them; the rest are AWS's common
/// errors (authentication 403, throttling 400) and HTTP's own (unknown operation 404, too large
/// 413, URI too long 414).
fn status_of(code: &str) -> StatusCode {
    match code {
        "ServiceUnavailableException" | "DependencyFailureException" | "InternalFailure" => {
            StatusCode::INTERNAL_SERVER_ERROR
        }
        "AccessDeniedException"
        | "MissingAuthenticationTokenException"
        | "IncompleteSignatureException"
        | "InvalidSignatureException" => StatusCode::FORBIDDEN,
        "UnknownOperationException" => StatusCode::NOT_FOUND,
        "RequestEntityTooLargeException" => StatusCode::PAYLOAD_TOO_LARGE,
        "RequestUriTooLongException" => StatusCode::URI_TOO_LONG,
        _ => StatusCode::BAD_REQUEST,
    }
}

impl AwsError {
    pub(crate) fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    pub(crate) fn code(&self) -> &'static str {
        self.code
    }

    pub(crate) fn message(&self) -> &str {
        &self.message
    }

    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Self::new("InvalidParameterValueException", message)
    }

    pub(crate) fn missing(member: &str) -> Self {
        Self::new(
            "MissingParameterValueException",
            format!("{member} is required"),
        )
    }

    pub(crate) fn not_found(message: impl Into<String>) -> Self {
        Self::new("ResourceNotFoundException", message)
    }

    pub(crate) fn serialization(message: impl Into<String>) -> Self {
        Self::new("SerializationException", message)
    }
}

/// The simulator's error codes as the service names them; a kind without a code gets the one
/// AWS answers for it.
impl From<PortError> for AwsError {
    fn from(e: PortError) -> Self {
        let fallback = match e.kind {
            ErrorKind::NotFound => "ResourceNotFoundException",
            ErrorKind::Throttled => "ThrottlingException",
            ErrorKind::Retryable => "ServiceUnavailableException",
            ErrorKind::AccessDenied => "AccessDeniedException",
            ErrorKind::Permanent | ErrorKind::ConditionFailed => "InvalidRequestException",
        };
        Self::new(known_code(e.code.as_deref()).unwrap_or(fallback), e.message)
    }
}

/// The codes the emulator answers with, as `'static` names (the simulator's own `AccessDenied`,
/// STS's, is AccessDeniedException here, as AWS Backup names it).
fn known_code(code: Option<&str>) -> Option<&'static str> {
    const CODES: [&str; 10] = [
        "ResourceNotFoundException",
        "InvalidParameterValueException",
        "InvalidRequestException",
        "MissingParameterValueException",
        "LimitExceededException",
        "InvalidResourceStateException",
        "ConflictException",
        "ServiceUnavailableException",
        "ThrottlingException",
        "AccessDeniedException",
    ];
    match code? {
        "AccessDenied" => Some("AccessDeniedException"),
        c => CODES.iter().copied().find(|k| *k == c),
    }
}

impl IntoResponse for AwsError {
    fn into_response(self) -> Response {
        let body = json!({"Code": self.code, "Message": self.message});
        (
            status_of(self.code),
            [
                ("x-amzn-ErrorType", self.code),
                ("content-type", "application/json"),
            ],
            body.to_string(),
        )
            .into_response()
    }
}

/// An error answer made outside the handlers (axum's 405 for a wrong method, 413 for a body
/// over its limit, a rejected path or query) in AWS's shape; AWS-shaped answers pass as they are.
pub(crate) async fn aws_shaped(response: Response) -> Response {
    let status = response.status();
    if status.is_success() || response.headers().contains_key("x-amzn-errortype") {
        return response;
    }
    let (parts, body) = response.into_parts();
    // axum's rejections say why in a short text body; keep it as the message.
    let said = to_bytes(body, 64 * 1024).await.unwrap_or_default();
    let said = String::from_utf8_lossy(&said).trim().to_string();
    let error = match status {
        StatusCode::METHOD_NOT_ALLOWED | StatusCode::NOT_FOUND => AwsError::new(
            "UnknownOperationException",
            format!("relay emulate does not serve this method on this path ({said})"),
        ),
        StatusCode::PAYLOAD_TOO_LARGE => AwsError::new(
            "RequestEntityTooLargeException",
            format!("the request body is too large: {said}"),
        ),
        _ => AwsError::serialization(if said.is_empty() {
            status.to_string()
        } else {
            said
        }),
    };
    let mut shaped = error.into_response();
    // Keep what axum said about the request (Allow on a 405), not its text content type.
    if let Some(allow) = parts.headers.get(header::ALLOW) {
        shaped.headers_mut().insert(header::ALLOW, allow.clone());
    }
    shaped
}

/// A URI longer than [`MAX_URI_BYTES`]: refused before routing, in AWS's shape.
pub(crate) fn uri_too_long(len: usize) -> Response {
    AwsError::new(
        "RequestUriTooLongException",
        format!("the request URI is {len} bytes, more than the {MAX_URI_BYTES} accepted"),
    )
    .into_response()
}
