//! The keyboard as a person uses it: typing into fields and at the focus, Enter, Ctrl with a
//! key, and the few sequences many tests share (unlock and start a log, seal).

use super::{App, ENTER, PASSPHRASE};

impl App {
    /// Types `text` wherever the focus is, through WebDriver key actions, as a person at the
    /// keyboard does (`type_into` focuses its element first).
    pub async fn type_keys(&self, text: &str) {
        use fantoccini::actions::{InputSource, KeyAction, KeyActions};
        let mut keys = KeyActions::new("keyboard".to_owned());
        for c in text.chars() {
            keys = keys
                .then(KeyAction::Down { value: c })
                .then(KeyAction::Up { value: c });
        }
        if let Err(e) = self.client().perform_actions(keys).await {
            panic!("typing {text:?} at the focus failed: {e}");
        }
    }

    /// Presses Ctrl with `key` (Ctrl+C, say) at the focus, as a person does.
    pub async fn press_ctrl(&self, key: char) {
        use fantoccini::actions::{InputSource, KeyAction, KeyActions};
        const CONTROL: char = '\u{E009}';
        let keys = KeyActions::new("keyboard".to_owned())
            .then(KeyAction::Down { value: CONTROL })
            .then(KeyAction::Down { value: key })
            .then(KeyAction::Up { value: key })
            .then(KeyAction::Up { value: CONTROL });
        if let Err(e) = self.client().perform_actions(keys).await {
            panic!("pressing Ctrl+{key} failed: {e}");
        }
    }

    /// Waits for `css`, then types `text` into it (appending to what is there).
    pub async fn type_into(&mut self, css: &str, text: &str) {
        let e = self.wait_for(css).await;
        if let Err(err) = e.send_keys(text).await {
            panic!(
                "{}",
                self.report(&format!("typing into `{css}` failed: {err}"))
                    .await
            );
        }
    }

    /// Waits for `css`, clears it, then types `text`.
    pub async fn replace_text(&mut self, css: &str, text: &str) {
        let e = self.wait_for(css).await;
        if let Err(err) = e.clear().await {
            panic!(
                "{}",
                self.report(&format!("clearing `{css}` failed: {err}"))
                    .await
            );
        }
        if let Err(err) = e.send_keys(text).await {
            panic!(
                "{}",
                self.report(&format!("typing into `{css}` failed: {err}"))
                    .await
            );
        }
    }

    /// Presses Enter in `css`.
    pub async fn press_enter(&mut self, css: &str) {
        self.type_into(css, ENTER).await;
    }

    /// Unlocks with the tests' passphrase, starts a new record's running log and enters
    /// `entry` in it.
    pub async fn unlock_and_log(&mut self, entry: &str) {
        self.type_into("#passphrase", PASSPHRASE).await;
        self.click("#unlock").await;
        self.wait_for("#main-screen").await;
        self.click("#new-log").await;
        self.wait_for("#live-log-screen").await;
        self.type_into("#log-input", entry).await;
        self.press_enter("#log-input").await;
        self.wait_count(".log-entry", 1).await;
    }

    /// Seals the running log's record: Seal (or Seal amendment), then the confirmation.
    pub async fn seal_record(&mut self) {
        self.click("#seal").await;
        self.click("#seal-confirm").await;
    }
}
