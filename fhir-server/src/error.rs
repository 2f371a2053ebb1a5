//! FHIR errors: every failure leaves the server as an OperationOutcome with the right status.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

/// One OperationOutcome.issue.
#[derive(Debug, Clone)]
pub struct OutcomeIssue {
    pub severity: &'static str,
    pub code: &'static str,
    pub diagnostics: String,
    pub expression: Option<String>,
}

/// An error that maps to an HTTP status and an OperationOutcome body.
#[derive(Debug, Clone)]
pub struct FhirError {
    pub status: StatusCode,
    pub issues: Vec<OutcomeIssue>,
    /// The `WWW-Authenticate` challenge sent with the error (RFC 6750), for refused credentials or scope.
    pub challenge: Option<String>,
}

/// Result alias used throughout the server.
pub type FhirResult<T> = Result<T, FhirError>;

impl FhirError {
    /// An error with one issue.
    pub fn new(status: StatusCode, code: &'static str, diagnostics: impl Into<String>) -> Self {
        FhirError {
            status,
            issues: vec![OutcomeIssue { severity: "error", code, diagnostics: diagnostics.into(), expression: None }],
            challenge: None,
        }
    }
    /// 401 (`login`) for a request without credentials: the challenge names the Bearer scheme and no
    /// error, as RFC 6750 section 3.1 asks when none were sent.
    pub fn token_required(msg: impl Into<String>) -> Self {
        FhirError { challenge: Some("Bearer".into()), ..Self::new(StatusCode::UNAUTHORIZED, "login", msg) }
    }
    /// 401 (`login`) for credentials that do not hold: `WWW-Authenticate: Bearer error="invalid_token"`.
    pub fn unauthorized(msg: impl Into<String>) -> Self {
        let msg = msg.into();
        let challenge = bearer_challenge("invalid_token", &msg);
        FhirError { challenge: Some(challenge), ..Self::new(StatusCode::UNAUTHORIZED, "login", msg) }
    }
    /// 403 (`forbidden`) for what the access token does not grant: `Bearer error="insufficient_scope"`.
    pub fn forbidden(msg: impl Into<String>) -> Self {
        let msg = msg.into();
        let challenge = bearer_challenge("insufficient_scope", &msg);
        FhirError { challenge: Some(challenge), ..Self::new(StatusCode::FORBIDDEN, "forbidden", msg) }
    }
    /// Attaches a FHIRPath expression to the first issue.
    pub fn at(mut self, expression: impl Into<String>) -> Self {
        if let Some(i) = self.issues.first_mut() {
            i.expression = Some(expression.into());
        }
        self
    }
    /// 400 with issue type `invalid`.
    pub fn bad_request(msg: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid", msg)
    }
    /// 404 with issue type `not-found`.
    pub fn not_found(msg: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not-found", msg)
    }
    /// 500 with issue type `exception`; the detail goes to the log, not to the client.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        tracing::error!(error = %detail, "internal error");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "exception", "internal server error")
    }
    /// Prefixes every expression (used to point into Bundle entries).
    pub fn within(mut self, prefix: &str) -> Self {
        for i in &mut self.issues {
            i.expression = Some(match i.expression.take() {
                Some(e) => format!("{prefix}.{e}"),
                None => prefix.to_string(),
            });
        }
        self
    }
    /// The OperationOutcome resource for this error.
    pub fn outcome(&self) -> Value {
        outcome_json(&self.issues)
    }
}

/// Builds an OperationOutcome from issues.
pub fn outcome_json(issues: &[OutcomeIssue]) -> Value {
    let issues: Vec<Value> = issues
        .iter()
        .map(|i| {
            let mut v = json!({"severity": i.severity, "code": i.code, "diagnostics": i.diagnostics});
            if let Some(e) = &i.expression {
                v["expression"] = json!([e]);
            }
            v
        })
        .collect();
    json!({"resourceType": "OperationOutcome", "issue": issues})
}

/// An informational OperationOutcome (for `Prefer: return=OperationOutcome` and deletes).
pub fn info_outcome(msg: impl Into<String>) -> Value {
    outcome_json(&[OutcomeIssue { severity: "information", code: "informational", diagnostics: msg.into(), expression: None }])
}

/// A Bearer challenge with an RFC 6750 error code and description; the description keeps only the
/// characters RFC 6750 allows there (no quote, no backslash, printable ASCII).
pub fn bearer_challenge(error: &str, description: &str) -> String {
    let clean: String = description.chars().map(|c| if (' '..='~').contains(&c) && c != '"' && c != '\\' { c } else { ' ' }).collect();
    format!("Bearer error=\"{error}\", error_description=\"{clean}\"")
}

impl IntoResponse for FhirError {
    fn into_response(self) -> Response {
        let mut r = crate::rest::format::json_response(self.status, &self.outcome(), false);
        if let Some(v) = self.challenge.as_deref().and_then(|c| axum::http::HeaderValue::from_str(c).ok()) {
            r.headers_mut().insert(axum::http::header::WWW_AUTHENTICATE, v);
        }
        // A 503 here is transient (a search parameter still being reindexed): say when to come back.
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            r.headers_mut().insert(axum::http::header::RETRY_AFTER, axum::http::HeaderValue::from_static("5"));
        }
        r
    }
}

impl From<search::SearchError> for FhirError {
    /// 400 naming the parameter; 503 (`transient`) while the parameter's index is being built.
    fn from(e: search::SearchError) -> Self {
        let status = if e.not_ready { StatusCode::SERVICE_UNAVAILABLE } else { StatusCode::BAD_REQUEST };
        FhirError::new(status, if e.not_ready { "transient" } else { "invalid" }, e.message).at(e.param)
    }
}

impl From<sqlx::Error> for FhirError {
    fn from(e: sqlx::Error) -> Self {
        FhirError::internal(e)
    }
}
