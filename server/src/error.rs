//! The API's errors: every failure is a JSON body `{"code", "description"}` with the HTTP status that
//! says whose fault it is (400 bad request, 404 not found, 500/503 the server or the database).
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// An error answered to the client.
#[derive(Debug)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// What went wrong, naming the parameter or object.
    pub description: String,
}

impl ApiError {
    /// A request the client must change (a malformed or unsupported parameter).
    pub fn bad_request(description: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            description: description.into(),
        }
    }

    /// Something the request names that is not there.
    pub fn not_found(description: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::NOT_FOUND,
            description: description.into(),
        }
    }

    /// A failure of the server or its database (logged; the client sees a short reason).
    pub fn internal(description: impl Into<String>) -> ApiError {
        let description = description.into();
        tracing::error!("{description}");
        ApiError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            description,
        }
    }
}

impl From<catalog_schema::Error> for ApiError {
    fn from(e: catalog_schema::Error) -> ApiError {
        match e {
            catalog_schema::Error::NotFound { .. } => ApiError::not_found(e.to_string()),
            catalog_schema::Error::Invalid { .. } => ApiError::bad_request(e.to_string()),
            e => ApiError::internal(e.to_string()),
        }
    }
}

impl From<postgres::Error> for ApiError {
    fn from(e: postgres::Error) -> ApiError {
        let timeout = e.code() == Some(&postgres::error::SqlState::QUERY_CANCELED);
        let mut err = ApiError::internal(format!("database: {e}"));
        if timeout {
            err.status = StatusCode::SERVICE_UNAVAILABLE;
            err.description = "the query took longer than the server allows".into();
        }
        err
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let code = match self.status {
            StatusCode::BAD_REQUEST => "BadRequest",
            StatusCode::NOT_FOUND => "NotFound",
            StatusCode::SERVICE_UNAVAILABLE => "ServiceUnavailable",
            _ => "InternalServerError",
        };
        (
            self.status,
            axum::Json(json!({"code": code, "description": self.description})),
        )
            .into_response()
    }
}
