//! The REST API's errors: one type for every refusal, the one mapping of
//! gRPC codes to HTTP statuses, and the JSON body every error answers with:
//! `{"code": 409, "status": "ALREADY_EXISTS", "message": "..."}` (the
//! HTTP status, the gRPC code's name, and the server's own words).
//!
//! FAILED_PRECONDITION is 409 Conflict, not 400: in Fulcrum it means the
//! state stands in the way (dependents exist, delete protection is on, the
//! EIP is already bound), so the request may succeed unchanged once the
//! state changes, which is what 409 tells a client.

use http::StatusCode;
use tonic::Code;

/// A refused REST request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RestError {
    /// The HTTP status it answers with.
    pub status: StatusCode,
    /// The gRPC code it stands for.
    pub code: Code,
    /// What is wrong, naming the field or setting at fault.
    pub message: String,
    /// For 405: the methods the path takes (the `Allow` header).
    pub allow: Option<String>,
}

impl RestError {
    /// A refusal with `code`'s usual HTTP status.
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        Self::with_status(http_status(code), code, message)
    }

    /// A refusal with an HTTP status of its own.
    pub fn with_status(status: StatusCode, code: Code, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            allow: None,
        }
    }

    /// `field` of the request breaks `rule`: 400.
    pub fn invalid(field: &str, rule: impl std::fmt::Display) -> Self {
        Self::new(Code::InvalidArgument, format!("{field}: {rule}"))
    }

    /// The answer of the gRPC call, as the server worded it.
    pub fn from_status(status: &tonic::Status) -> Self {
        Self::new(status.code(), status.message())
    }

    /// No route has this path: 404.
    pub fn no_route(method: &http::Method, path: &str) -> Self {
        Self::new(
            Code::NotFound,
            format!("{method} {path}: no such path (GET /openapi.json lists them)"),
        )
    }

    /// The path exists, but not with this method: 405.
    pub fn method_not_allowed(method: &http::Method, path: &str, allowed: &str) -> Self {
        Self {
            allow: Some(allowed.to_owned()),
            ..Self::with_status(
                StatusCode::METHOD_NOT_ALLOWED,
                Code::Unimplemented,
                format!("{method} {path}: not allowed; the path takes {allowed}"),
            )
        }
    }

    /// The body is over `api.max_request_bytes`: 413.
    pub fn body_too_large(limit: usize) -> Self {
        Self::with_status(
            StatusCode::PAYLOAD_TOO_LARGE,
            Code::ResourceExhausted,
            format!("body: larger than this node accepts (api.max_request_bytes = {limit})"),
        )
    }

    /// The JSON body of the error.
    pub fn body(&self) -> String {
        let body = ErrorBody {
            code: self.status.as_u16(),
            status: code_name(self.code),
            message: &self.message,
        };
        // A struct of a number and two strings always serializes.
        serde_json::to_string(&body).unwrap_or_default()
    }
}

/// The error body, its fields in this order.
#[derive(serde::Serialize)]
struct ErrorBody<'m> {
    code: u16,
    status: &'static str,
    message: &'m str,
}

impl std::fmt::Display for RestError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "{} {}", code_name(self.code), self.message)
    }
}

/// The HTTP status of a gRPC code (Google's mapping, except
/// FAILED_PRECONDITION: see the module's documentation).
pub fn http_status(code: Code) -> StatusCode {
    match code {
        Code::Ok => StatusCode::OK,
        Code::InvalidArgument | Code::OutOfRange => StatusCode::BAD_REQUEST,
        Code::Unauthenticated => StatusCode::UNAUTHORIZED,
        Code::PermissionDenied => StatusCode::FORBIDDEN,
        Code::NotFound => StatusCode::NOT_FOUND,
        Code::AlreadyExists | Code::Aborted | Code::FailedPrecondition => StatusCode::CONFLICT,
        Code::ResourceExhausted => StatusCode::TOO_MANY_REQUESTS,
        Code::Cancelled => client_closed_request(),
        Code::Unimplemented => StatusCode::NOT_IMPLEMENTED,
        Code::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        Code::DeadlineExceeded => StatusCode::GATEWAY_TIMEOUT,
        Code::Unknown | Code::Internal | Code::DataLoss => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// 499, nginx's "client closed request", which Google's mapping uses for
/// CANCELLED.
fn client_closed_request() -> StatusCode {
    StatusCode::from_u16(499).unwrap_or(StatusCode::BAD_REQUEST)
}

/// The name of a gRPC code, as the `status` field of an error shows it.
pub fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

/// Every code's name, for the OpenAPI document's error schema.
pub const CODE_NAMES: &[&str] = &[
    "OK",
    "CANCELLED",
    "UNKNOWN",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "UNAUTHENTICATED",
];

#[cfg(test)]
mod tests {
    use super::*;

    /// Each code with the HTTP status and name a client sees.
    #[test]
    fn each_grpc_code_has_its_http_status() {
        let cases = [
            (Code::InvalidArgument, 400, "INVALID_ARGUMENT"),
            (Code::OutOfRange, 400, "OUT_OF_RANGE"),
            (Code::Unauthenticated, 401, "UNAUTHENTICATED"),
            (Code::PermissionDenied, 403, "PERMISSION_DENIED"),
            (Code::NotFound, 404, "NOT_FOUND"),
            (Code::AlreadyExists, 409, "ALREADY_EXISTS"),
            (Code::Aborted, 409, "ABORTED"),
            (Code::FailedPrecondition, 409, "FAILED_PRECONDITION"),
            (Code::ResourceExhausted, 429, "RESOURCE_EXHAUSTED"),
            (Code::Cancelled, 499, "CANCELLED"),
            (Code::Internal, 500, "INTERNAL"),
            (Code::Unknown, 500, "UNKNOWN"),
            (Code::DataLoss, 500, "DATA_LOSS"),
            (Code::Unimplemented, 501, "UNIMPLEMENTED"),
            (Code::Unavailable, 503, "UNAVAILABLE"),
            (Code::DeadlineExceeded, 504, "DEADLINE_EXCEEDED"),
        ];
        for (code, status, name) in cases {
            assert_eq!(http_status(code).as_u16(), status, "{code:?}");
            assert_eq!(code_name(code), name);
            assert!(CODE_NAMES.contains(&name), "{name}");
        }
    }

    #[test]
    fn the_body_carries_the_status_the_code_and_the_servers_words() {
        let status = tonic::Status::already_exists("listener.port: 80 is taken by listener ls-1");
        let error = RestError::from_status(&status);
        assert_eq!(error.status, StatusCode::CONFLICT);
        let body: serde_json::Value = serde_json::from_str(&error.body()).expect("JSON");
        assert_eq!(
            body,
            serde_json::json!({
                "code": 409,
                "status": "ALREADY_EXISTS",
                "message": "listener.port: 80 is taken by listener ls-1",
            })
        );
    }
}
