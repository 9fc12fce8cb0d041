//! The one error shape of the API:
//! `{"error":{"code":"…","message":"…"}}`, with a stable `code` from
//! [`ErrorCode`] and a message a person reads.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};

/// The stable error codes. Clients branch on these, never on messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// No bearer token, or one that is not configured (401).
    Unauthorized,
    /// The token's role does not allow this route (403).
    Forbidden,
    /// No such route, entity, list, draw or alert (404).
    NotFound,
    /// The route exists but not for this method (405).
    MethodNotAllowed,
    /// A query or path parameter is malformed or out of range (400).
    InvalidParameter,
    /// The path names an invalid unified social credit code (400).
    InvalidUscc,
    /// The body is not JSON of the expected shape (400, or 415 without a
    /// JSON content type).
    InvalidBody,
    /// The body's content type is not `application/json` (415).
    UnsupportedMediaType,
    /// The body is larger than the configured limit (413).
    PayloadTooLarge,
    /// The request conflicts with the resource's state, e.g. running a draw
    /// twice (409).
    Conflict,
    /// Well-formed but rejected by the domain, e.g. an invalid plan (422).
    Unprocessable,
    /// Not ready: state not restored or consumer behind (503).
    NotReady,
    /// A backing service is unavailable, or the request timed out (503).
    Unavailable,
    /// Something failed on the server side (500).
    Internal,
}

impl ErrorCode {
    pub const ALL: [ErrorCode; 14] = [
        ErrorCode::Unauthorized,
        ErrorCode::Forbidden,
        ErrorCode::NotFound,
        ErrorCode::MethodNotAllowed,
        ErrorCode::InvalidParameter,
        ErrorCode::InvalidUscc,
        ErrorCode::InvalidBody,
        ErrorCode::UnsupportedMediaType,
        ErrorCode::PayloadTooLarge,
        ErrorCode::Conflict,
        ErrorCode::Unprocessable,
        ErrorCode::NotReady,
        ErrorCode::Unavailable,
        ErrorCode::Internal,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::NotFound => "not_found",
            ErrorCode::MethodNotAllowed => "method_not_allowed",
            ErrorCode::InvalidParameter => "invalid_parameter",
            ErrorCode::InvalidUscc => "invalid_uscc",
            ErrorCode::InvalidBody => "invalid_body",
            ErrorCode::UnsupportedMediaType => "unsupported_media_type",
            ErrorCode::PayloadTooLarge => "payload_too_large",
            ErrorCode::Conflict => "conflict",
            ErrorCode::Unprocessable => "unprocessable",
            ErrorCode::NotReady => "not_ready",
            ErrorCode::Unavailable => "unavailable",
            ErrorCode::Internal => "internal",
        }
    }

    pub fn status(self) -> StatusCode {
        match self {
            ErrorCode::Unauthorized => StatusCode::UNAUTHORIZED,
            ErrorCode::Forbidden => StatusCode::FORBIDDEN,
            ErrorCode::NotFound => StatusCode::NOT_FOUND,
            ErrorCode::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ErrorCode::InvalidParameter | ErrorCode::InvalidUscc | ErrorCode::InvalidBody => {
                StatusCode::BAD_REQUEST
            }
            ErrorCode::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorCode::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::Conflict => StatusCode::CONFLICT,
            ErrorCode::Unprocessable => StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::NotReady | ErrorCode::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// An error answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
}

/// The body of every error answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorDetail {
    pub code: String,
    pub message: String,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError {
            code,
            message: message.into(),
        }
    }

    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            error: ErrorDetail {
                code: self.code.as_str().to_string(),
                message: self.message.clone(),
            },
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut r = (self.code.status(), Json(self.body())).into_response();
        if self.code == ErrorCode::Unauthorized {
            r.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer realm=\"tidewatch\""),
            );
        }
        r
    }
}

/// What an [`crate::EngineView`], [`crate::DrawService`] or
/// [`crate::AlertLog`] implementation reports when it cannot answer. Each
/// maps to one [`ErrorCode`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ServiceError {
    #[error("{0}")]
    NotFound(String),
    /// The request is well-formed JSON but not a valid request (a plan
    /// that fails validation, an unknown field).
    #[error("{0}")]
    Invalid(String),
    /// The request does not fit the current state (a draw already run).
    #[error("{0}")]
    Conflict(String),
    /// Not available yet (e.g. no scores snapshot) or temporarily.
    #[error("{0}")]
    Unavailable(String),
    #[error("{0}")]
    Internal(String),
}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::NotFound(m) => ApiError::new(ErrorCode::NotFound, m),
            ServiceError::Invalid(m) => ApiError::new(ErrorCode::Unprocessable, m),
            ServiceError::Conflict(m) => ApiError::new(ErrorCode::Conflict, m),
            ServiceError::Unavailable(m) => ApiError::new(ErrorCode::Unavailable, m),
            ServiceError::Internal(m) => {
                // The detail goes to the log; the client gets a generic
                // message so internals (paths, SQL-like detail) don't leak.
                tracing::error!(error = %m, "internal error answering a request");
                ApiError::new(ErrorCode::Internal, "internal error; see the server log")
            }
        }
    }
}
