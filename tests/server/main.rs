//! End-to-end tests of `vigil-server`: the real binary on 127.0.0.1, port 0, its own data
//! folder; requests signed as enrolled devices sign them, and forged by the tests' own keys.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod admin;
mod api;
mod auth;
mod harness;
