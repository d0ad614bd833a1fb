//! End-to-end tests of `vigil-server`: the real binary on 127.0.0.1, port 0, its own data
//! folder; requests signed as enrolled devices sign them, and forged by the tests' own keys.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod admin;
mod api;
mod auth;
mod conformance;
mod harness;
mod pg;
mod s3;
mod scale;
mod tls;
mod uploads;

/// Runs each named `async fn(Backend)` of the calling module once per backend, as tests named
/// `sqlite::NAME`, `postgres::NAME` and `postgres_s3::NAME`.
#[macro_export]
macro_rules! on_every_backend {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name($crate::harness::Backend::Sqlite).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name($crate::harness::Backend::Postgres).await
                }
            )*
        }
        mod postgres_s3 {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name($crate::harness::Backend::PostgresS3).await
                }
            )*
        }
    };
}
