//! Snapshot tests of the `vigil` command's messages and exit codes, as rage does with `trycmd`:
//! each `snapshots/*.trycmd` file is a terminal session (commands, their output, `? N` for the
//! exit code) run in a fresh copy of its `.in` folder. `TRYCMD=overwrite cargo test -p
//! vigil-cli --test cli-snapshots` rewrites them after a deliberate change of wording.

#[test]
fn messages_and_exit_codes() {
    trycmd::TestCases::new()
        .register_bin("vigil", std::path::Path::new(env!("CARGO_BIN_EXE_vigil")))
        .env("VIGIL_LOG", "off")
        .case("../../tests/cli/snapshots/*.trycmd");
}
