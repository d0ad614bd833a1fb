//! Starting the real app under WebDriver, and the helpers the tests drive it with.
//!
//! One [`Env`] is a private world for one test: a temp root holding `HOME`, the XDG folders,
//! `TMPDIR` and the vault. Every [`Env::launch`] starts its own `tauri-driver` (which starts
//! `WebKitWebDriver`, which starts the app with `--vault <root>/vault`), all with that private
//! environment, so the "no traces" check can scan everything the app could have written.

use std::fs::{self, File};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};

mod keys;
mod process;
mod vaults;
mod world;
use process::{Driver, app_processes, free_ports, our_processes, signal, wait_gone};
pub use vaults::{new_vault, new_vault_with, open_vault, open_vault_after_app};

/// The passphrase every test vault uses.
pub const PASSPHRASE: &str = "correct horse battery staple";

/// How long a wait for the UI may take before the test fails.
pub const TIMEOUT: Duration = Duration::from_secs(15);

/// WebDriver key codes.
pub const ENTER: &str = "\u{E007}";

const POLL: Duration = Duration::from_millis(100);
const APP: &str = env!("CARGO_BIN_EXE_vigil-desktop");

/// The tests run one at a time: each starts a window, a WebKit web process and Argon2 unlocks,
/// and two of those at once on a 2-core machine only make the timeouts less meaningful.
/// (A tokio mutex does not poison, so one failing test does not fail the others.)
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Holds the desktop tests' turn; keep the guard for the whole test.
pub async fn serial() -> tokio::sync::MutexGuard<'static, ()> {
    SERIAL.lock().await
}

/// A private world for one test; everything is deleted on drop.
#[derive(Debug)]
pub struct Env {
    /// Test name, used for screenshot and log names.
    pub name: String,
    /// The scanned root: home, XDG folders, TMPDIR, and the vault.
    pub root: tempfile::TempDir,
    /// The vault folder the app is started with (`--vault`); not scanned for traces.
    pub vault: PathBuf,
    /// Driver and app output, outside the scanned root (WebKitWebDriver may echo typed text).
    logs: tempfile::TempDir,
    launches: usize,
}

impl Env {
    pub fn new(name: &str) -> Env {
        if std::env::var_os("DISPLAY").is_none_or(|d| d.is_empty()) {
            panic!(
                "the desktop tests open a real window and need an X display, but DISPLAY is not \
                 set: run them under Xvfb, e.g. `xvfb-run -a --server-args=\"-screen 0 1280x800x24\" \
                 cargo test -p vigil-desktop --test desktop` (scripts/test does this)"
            );
        }
        // VIGIL_E2E_KEEP=1 keeps the world (and the logs) for a look afterwards.
        let keep = std::env::var_os("VIGIL_E2E_KEEP").is_some_and(|v| !v.is_empty());
        let root = tempfile::Builder::new()
            .prefix("vigil-desktop-e2e-")
            .disable_cleanup(keep)
            .tempdir()
            .unwrap();
        if keep {
            eprintln!("[{name}] VIGIL_E2E_KEEP: keeping {}", root.path().display());
        }
        for dir in ["home", "config", "data", "cache", "state", "tmp", "runtime"] {
            fs::create_dir(root.path().join(dir)).unwrap();
        }
        // XDG_RUNTIME_DIR must be private to its user.
        fs::set_permissions(
            root.path().join("runtime"),
            fs::Permissions::from_mode(0o700),
        )
        .unwrap();
        let vault = root.path().join("vault");
        let logs = tempfile::Builder::new()
            .prefix("vigil-desktop-e2e-logs-")
            .disable_cleanup(keep)
            .tempdir()
            .unwrap();
        Env {
            name: name.to_owned(),
            root,
            vault,
            logs,
            launches: 0,
        }
    }

    /// Where the logs of the app and its driver are written.
    pub fn logs_dir(&self) -> &Path {
        self.logs.path()
    }

    fn dir(&self, name: &str) -> PathBuf {
        self.root.path().join(name)
    }

    /// `$XDG_CONFIG_HOME/vigil/settings.json`, as the app reads it at start.
    pub fn write_settings(&self, language: &str, auto_lock_seconds: u64) {
        self.write_settings_with(
            json!({ "language": language, "auto_lock_seconds": auto_lock_seconds }),
        );
    }

    /// `settings.json` with these fields over the defaults (language English, 300 s auto-lock).
    pub fn write_settings_with(&self, fields: Value) {
        let dir = self.dir("config").join("vigil");
        fs::create_dir_all(&dir).unwrap();
        let mut settings = json!({ "language": "en", "auto_lock_seconds": 300, "vault_dir": null });
        for (k, v) in fields.as_object().unwrap() {
            settings[k] = v.clone();
        }
        fs::write(dir.join("settings.json"), settings.to_string()).unwrap();
    }

    /// Creates the vault directly through the store (the floor KDF parameters, so it is quick),
    /// for tests that start at the unlock screen.
    pub fn create_vault(&self) {
        self.create_vault_with(vigil_crypto::kdf::KdfParams::FLOOR);
    }

    /// Creates the vault with the given Argon2id parameters (a slow unlock, say).
    pub fn create_vault_with(&self, kdf: vigil_crypto::kdf::KdfParams) {
        drop(new_vault_with(&self.vault, kdf));
    }

    /// Starts tauri-driver and opens a WebDriver session, which starts the app.
    pub async fn launch(&mut self) -> App {
        self.launches += 1;
        let started = Instant::now();
        let (port, native_port) = free_ports();
        let log = self
            .logs
            .path()
            .join(format!("{}-launch-{}.log", self.name, self.launches));
        let out = File::create(&log).unwrap();
        let mut cmd = Command::new("tauri-driver");
        cmd.arg("--port")
            .arg(port.to_string())
            .arg("--native-port")
            .arg(native_port.to_string())
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out);
        // The app inherits the private environment through WebKitWebDriver.
        self.private_env(&mut cmd);
        let child = match cmd.spawn() {
            Ok(c) => c,
            Err(e) => panic!(
                "could not start tauri-driver ({e}); install it with scripts/setup \
                 (cargo install tauri-driver --version '^2' --locked)"
            ),
        };
        let mut driver = Driver {
            child,
            log,
            tmp: self.dir("tmp"),
            stopped: false,
        };
        driver.wait_listening(&[port, native_port]);

        let mut caps = serde_json::Map::new();
        caps.insert("browserName".into(), json!("wry"));
        caps.insert(
            "tauri:options".into(),
            json!({
                "application": APP,
                "args": ["--vault", self.vault.to_str().unwrap()],
            }),
        );
        let session = tokio::time::timeout(
            Duration::from_secs(60),
            ClientBuilder::new(HttpConnector::new())
                .capabilities(caps)
                .connect(&format!("http://127.0.0.1:{port}")),
        )
        .await;
        let client = match session {
            Ok(Ok(c)) => c,
            Ok(Err(e)) => panic!(
                "WebDriver could not start the app: {e}\n{}",
                driver.log_tail()
            ),
            Err(_) => panic!(
                "WebDriver did not start the app within 60 s\n{}",
                driver.log_tail()
            ),
        };
        let app = App {
            client: Some(client),
            driver,
            name: format!("{}-{}", self.name, self.launches),
            failures: 0,
        };
        app.wait_loaded().await;
        eprintln!(
            "[{}] launch {}: window ready in {:.2} s",
            self.name,
            self.launches,
            started.elapsed().as_secs_f64()
        );
        app
    }
}

/// The app under WebDriver.
#[derive(Debug)]
pub struct App {
    client: Option<Client>,
    driver: Driver,
    name: String,
    failures: usize,
}

/// Whether the first element matching a CSS selector is rendered (not `hidden`, not
/// `display: none`, not inside something hidden).
const VISIBLE_JS: &str = r#"
const e = document.querySelector(arguments[0]);
return !!e && !e.closest('[hidden]') && e.getClientRects().length > 0;
"#;

/// How many elements matching a CSS selector are rendered.
const COUNT_JS: &str = r#"
return Array.from(document.querySelectorAll(arguments[0]))
  .filter(e => !e.closest('[hidden]') && e.getClientRects().length > 0).length;
"#;

impl App {
    fn client(&self) -> &Client {
        self.client.as_ref().expect("the session is open")
    }

    async fn wait_loaded(&self) {
        let start = Instant::now();
        loop {
            let ready = self
                .client()
                .execute(
                    "return document.readyState === 'complete' && !!document.body",
                    vec![],
                )
                .await;
            if matches!(ready, Ok(Value::Bool(true))) {
                return;
            }
            if start.elapsed() > TIMEOUT {
                panic!(
                    "the window's page did not load within {TIMEOUT:?} (last answer: {ready:?})\n{}",
                    self.driver.log_tail()
                );
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Runs a script in the window and returns its result.
    pub async fn eval(&self, script: &str, args: Vec<Value>) -> Value {
        match self.client().execute(script, args).await {
            Ok(v) => v,
            Err(e) => panic!("script failed: {e}\nscript: {script}"),
        }
    }

    /// Runs an asynchronous script (it calls `arguments[arguments.length - 1]` with its
    /// result) and returns that result.
    pub async fn eval_async(&self, script: &str, args: Vec<Value>) -> Value {
        match self.client().execute_async(script, args).await {
            Ok(v) => v,
            Err(e) => panic!("async script failed: {e}\nscript: {script}"),
        }
    }

    /// How long a script run by `eval_async` may take before WebDriver gives up (30 s unless
    /// set).
    #[allow(dead_code)] // the benchmarks use it; the tests' scripts are short
    pub async fn set_script_timeout(&self, limit: Duration) {
        self.client()
            .update_timeouts(fantoccini::wd::TimeoutConfiguration::new(
                Some(limit),
                None,
                None,
            ))
            .await
            .unwrap_or_else(|e| panic!("could not set the script timeout: {e}"));
    }

    /// SIGKILLs the app, as a crash or a flat battery ends it, and waits until it is gone. The
    /// WebDriver session dies with it: drop this `App` and launch again.
    pub fn kill_app(&self) {
        for pid in our_processes(&self.driver.tmp, Some("vigil-desktop")) {
            signal(pid, libc::SIGKILL);
        }
        assert!(
            wait_gone(
                &self.driver.tmp,
                Some("vigil-desktop"),
                Duration::from_secs(10)
            ),
            "the app outlived SIGKILL"
        );
    }

    /// The app's processes (the app and its WebKit helpers; not the drivers).
    pub fn process_ids(&self) -> Vec<u32> {
        app_processes(&self.driver.tmp)
    }

    /// `document.title`.
    pub async fn title(&self) -> String {
        self.client().title().await.unwrap()
    }

    /// Waits until `check` is true, polling; on timeout saves a screenshot and fails with `what`
    /// and the screens that are visible.
    pub async fn wait_until<F, Fut>(&mut self, what: &str, limit: Duration, mut check: F)
    where
        F: FnMut(Client) -> Fut,
        Fut: Future<Output = bool>,
    {
        let start = Instant::now();
        loop {
            if check(self.client().clone()).await {
                return;
            }
            if start.elapsed() > limit {
                panic!(
                    "{}",
                    self.report(&format!("timed out after {limit:?} waiting for {what}"))
                        .await
                );
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// `message` with a description of what is on screen and a screenshot, for a panic.
    pub async fn report(&mut self, message: &str) -> String {
        self.failures += 1;
        let shot = format!("FAILED-{}-{}", self.name, self.failures);
        let path = self.screenshot(&shot).await;
        let screens = self
            .client()
            .execute(
                r#"return Array.from(document.querySelectorAll('[id]'))
                     .filter(e => e.id.endsWith('-screen') && !e.closest('[hidden]')
                                  && e.getClientRects().length > 0)
                     .map(e => e.id).join(', ')"#,
                vec![],
            )
            .await
            .map(|v| v.as_str().unwrap_or("").to_owned())
            .unwrap_or_else(|e| format!("(could not ask: {e})"));
        let title = self.client().title().await.unwrap_or_default();
        format!(
            "{message}\n  window title: {title:?}\n  visible screens: [{screens}]\n  \
             screenshot: {}",
            path.display()
        )
    }

    /// Waits up to `limit` for the unlock screen to be shown (the app locked by itself).
    pub async fn wait_unlock_screen(&mut self, what: &str, limit: Duration) {
        self.wait_until(what, limit, |c| async move {
            c.execute(
                "const e = document.querySelector('#unlock-screen');
                 return !!e && !e.closest('[hidden]') && e.getClientRects().length > 0",
                vec![],
            )
            .await
            .is_ok_and(|v| v == Value::Bool(true))
        })
        .await;
    }

    /// Waits for a rendered element matching `css` and returns it.
    pub async fn wait_for(&mut self, css: &str) -> Element {
        let sel = css.to_owned();
        self.wait_until(&format!("`{css}` to be visible"), TIMEOUT, move |c| {
            let sel = sel.clone();
            async move {
                matches!(
                    c.execute(VISIBLE_JS, vec![json!(sel)]).await,
                    Ok(Value::Bool(true))
                )
            }
        })
        .await;
        self.find(css).await
    }

    /// Waits until the element matching `css` is visible and its text contains `needle`;
    /// returns the whole text.
    pub async fn wait_text(&mut self, css: &str, needle: &str) -> String {
        let (sel, want) = (css.to_owned(), needle.to_owned());
        self.wait_until(&format!("`{css}` to show {needle:?}"), TIMEOUT, move |c| {
            let (sel, want) = (sel.clone(), want.clone());
            async move {
                c.execute(
                    "const e = document.querySelector(arguments[0]);
                         return !!e && !e.closest('[hidden]') ? e.textContent : ''",
                    vec![json!(sel)],
                )
                .await
                .is_ok_and(|v| matches!(v, Value::String(s) if s.contains(&want)))
            }
        })
        .await;
        self.text(css).await
    }

    /// The first element matching `css` (visible or not).
    pub async fn find(&mut self, css: &str) -> Element {
        match self.client().find(Locator::Css(css)).await {
            Ok(e) => e,
            Err(e) => panic!("{}", self.report(&format!("no element `{css}`: {e}")).await),
        }
    }

    /// Whether an element matching `css` is rendered now.
    pub async fn is_visible(&self, css: &str) -> bool {
        matches!(
            self.client().execute(VISIBLE_JS, vec![json!(css)]).await,
            Ok(Value::Bool(true))
        )
    }

    /// How many elements matching `css` are rendered now.
    pub async fn count(&self, css: &str) -> u64 {
        self.eval(COUNT_JS, vec![json!(css)])
            .await
            .as_u64()
            .unwrap_or(0)
    }

    /// Waits until exactly `n` elements matching `css` are rendered.
    pub async fn wait_count(&mut self, css: &str, n: u64) {
        let sel = css.to_owned();
        self.wait_until(&format!("exactly {n} visible `{css}`"), TIMEOUT, move |c| {
            let sel = sel.clone();
            async move {
                c.execute(COUNT_JS, vec![json!(sel)])
                    .await
                    .ok()
                    .and_then(|v| v.as_u64())
                    == Some(n)
            }
        })
        .await;
    }

    /// Waits for `css`, scrolls it to the middle of its scrolling box (as a person scrolls to
    /// what they want; WebKitWebDriver may refuse an element half out of a scrolled dialog),
    /// and clicks it.
    pub async fn click(&mut self, css: &str) {
        let e = self.wait_for(css).await;
        let _ = self
            .client()
            .execute(
                "document.querySelector(arguments[0])
                   ?.scrollIntoView({ block: 'center', inline: 'nearest' }); return null",
                vec![json!(css)],
            )
            .await;
        if let Err(err) = e.click().await {
            panic!(
                "{}",
                self.report(&format!("clicking `{css}` failed: {err}"))
                    .await
            );
        }
    }

    /// Clicks `css` until `opens` is visible: for a list that may render once more after it
    /// settles (a search's results), replacing the element just clicked.
    pub async fn click_until(&mut self, css: &str, opens: &str) {
        let (sel, target) = (css.to_owned(), opens.to_owned());
        self.wait_until(
            &format!("`{opens}` to be visible after clicking `{css}`"),
            TIMEOUT,
            move |c| {
                let (sel, target) = (sel.clone(), target.clone());
                async move {
                    if let Ok(e) = c.find(Locator::Css(&sel)).await {
                        let _ = e.click().await;
                    }
                    tokio::time::sleep(POLL * 3).await;
                    matches!(
                        c.execute(VISIBLE_JS, vec![json!(target)]).await,
                        Ok(Value::Bool(true))
                    )
                }
            },
        )
        .await;
    }

    /// Waits for `css` and selects the option with `value` in it (a `<select>`).
    pub async fn select(&mut self, css: &str, value: &str) {
        let e = self.wait_for(css).await;
        if let Err(err) = e.select_by_value(value).await {
            panic!(
                "{}",
                self.report(&format!("choosing {value:?} in `{css}` failed: {err}"))
                    .await
            );
        }
    }

    /// The rendered text of the first element matching `css` (waits for it).
    pub async fn text(&mut self, css: &str) -> String {
        let e = self.wait_for(css).await;
        e.text().await.unwrap_or_default()
    }

    /// The `value` of a form field matching `css` (waits for it).
    pub async fn value(&mut self, css: &str) -> String {
        let e = self.wait_for(css).await;
        e.prop("value").await.ok().flatten().unwrap_or_default()
    }

    /// Saves a PNG of the window to `target/screenshots/<name>.png` (or `$VIGIL_SCREENSHOTS`).
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let dir = screenshot_dir();
        let path = dir.join(format!("{name}.png"));
        // Right after a screen appears WebKit may not have painted it yet: wait for the fonts
        // and two animation frames (at most a second).
        let _ = self
            .client()
            .execute_async(
                r#"const done = arguments[arguments.length - 1];
                   setTimeout(done, 1000);
                   document.fonts.ready.then(() =>
                     requestAnimationFrame(() => requestAnimationFrame(() => done())));"#,
                vec![],
            )
            .await;
        // WebKitWebDriver takes the screenshot after the page's next paint. Without
        // accelerated compositing (the app turns it off) an idle page does not paint again,
        // and the screenshot would wait for ever unless a caret blinks somewhere. So one
        // transparent pixel in a corner changes every frame until the screenshot is taken.
        let _ = self
            .client()
            .execute(
                r#"const n = document.createElement('div');
                   n.id = 'vigil-test-paint-nudge';
                   n.setAttribute('aria-hidden', 'true');
                   n.style.cssText = 'position:fixed;right:0;bottom:0;width:1px;height:1px;pointer-events:none;z-index:2147483647';
                   let on = false;
                   n.dataset.timer = String(setInterval(() => {
                     on = !on; n.style.background = on ? 'rgba(0,0,0,0.004)' : 'rgba(0,0,0,0)';
                   }, 16));
                   document.body.appendChild(n); return null;"#,
                vec![],
            )
            .await;
        let shot = self.client().screenshot().await;
        let _ = self
            .client()
            .execute(
                r#"const n = document.getElementById('vigil-test-paint-nudge');
                   if (n) { clearInterval(Number(n.dataset.timer)); n.remove(); } return null;"#,
                vec![],
            )
            .await;
        match shot {
            Ok(png) => {
                fs::create_dir_all(&dir).unwrap();
                fs::write(&path, png).unwrap();
            }
            Err(e) => eprintln!("[{}] screenshot {name} failed: {e}", self.name),
        }
        path
    }

    /// Ends the session (WebDriver closes the window and the app exits), waits for the app's
    /// process to be gone, and stops tauri-driver. Returns whether the app exited by itself.
    pub async fn quit(mut self) -> bool {
        let client = self.client.take().expect("the session is open");
        if let Err(e) = client.close().await {
            eprintln!("[{}] closing the WebDriver session failed: {e}", self.name);
        }
        let exited = wait_gone(
            &self.driver.tmp,
            Some("vigil-desktop"),
            Duration::from_secs(10),
        );
        if !exited {
            eprintln!(
                "[{}] the app was still running 10 s after the session closed",
                self.name
            );
        }
        self.driver.stop();
        exited
    }
}

impl Drop for App {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("{}", self.driver.log_tail());
        }
        // Without an async context the session cannot be closed politely; stopping the driver
        // and killing what is left of this world is enough.
        self.driver.stop();
    }
}

/// `$VIGIL_SCREENSHOTS`, else `<target dir>/screenshots`.
pub fn screenshot_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("VIGIL_SCREENSHOTS").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    // CARGO_BIN_EXE_* is <target>/<profile>/vigil-desktop.
    Path::new(APP)
        .parent()
        .and_then(Path::parent)
        .map(|t| t.join("screenshots"))
        .unwrap_or_else(|| PathBuf::from("target/screenshots"))
}
