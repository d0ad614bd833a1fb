//! End-to-end tests of the `vigil` command: real processes, real SQLCipher vaults on disk.
//!
//! Registered as the `cli` test target of the `vigil-cli` package (see its Cargo.toml), so
//! `CARGO_BIN_EXE_vigil` is the freshly built binary.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod bad_input;
mod basics;
mod chaos;
mod common;
mod crash_safety;
mod disk_full;
mod exchange;
mod field_safety;
mod limits;
#[path = "../support/memory.rs"]
mod memory;
mod no_plaintext;
mod org;
mod stick_images;
mod sticks;
mod sticks_large;
mod streaming;
mod sync;
mod sync_attachments;
mod sync_network;
mod trust;
#[path = "../support/vigil_server.rs"]
mod vigil_server;
