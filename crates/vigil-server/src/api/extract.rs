//! axum's `Query` and `Path` extractors, refusing as the rest of the API does: 400 with a
//! [`Problem`](crate::error::Problem) body. axum's own refusals are plain text that the OpenAPI
//! document does not describe, and they quote what the request carried.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// The query string read as `T`; otherwise 400 `bad_request`.
#[derive(Debug, Clone, Copy)]
pub struct Query<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(Query(value)),
            Err(_) => Err(ApiError::bad_request(
                "bad_request",
                "the query string is not what this endpoint takes (see /v1/openapi.json)",
            )),
        }
    }
}

/// The path's parameters read as `T`; otherwise 400 `bad_request`.
#[derive(Debug, Clone, Copy)]
pub struct Path<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for Path<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(Path(value)),
            Err(_) => Err(ApiError::bad_request(
                "bad_request",
                "the path names no valid id (an id is a UUID)",
            )),
        }
    }
}
