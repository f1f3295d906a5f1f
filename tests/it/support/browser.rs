//! Browser test infrastructure: Debian's headless Chromium driven through its chromedriver
//! (WebDriver, plain HTTP on 127.0.0.1) by fantoccini.
//!
//! Each `Browser` is its own chromedriver on a free port, in its own process group, with a new
//! empty Chromium profile; `close()` (or, failing that, `Drop`) ends the session and kills the
//! group, so no chromedriver or chromium outlives a test. Chromium is started with the flags
//! this machine's closed network needs (no background networking, no component updates, no
//! sync, no QUIC) and accepts self-signed certificates (`acceptInsecureCerts`).
//!
//! The helpers panic with context rather than return errors: they are for tests. Element
//! lookups wait (bounded by `PATIENCE`) for the element to appear. If Chromium is not installed
//! the test fails and says how to install it: the README's test command (`tests/run`, which CI
//! runs) installs it, so a skip would hide a broken setup.

use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use fantoccini::cookies::Cookie;
use fantoccini::elements::{Element, ElementRef};
use fantoccini::key::Key;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

use super::PATIENCE;

pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// The W3C WebDriver key under which a script's returned DOM element is identified.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// How often waits re-check their condition.
const POLL: Duration = Duration::from_millis(50);

/// The window's size: a laptop, or a phone held upright.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Viewport {
    /// 1280x900.
    Desktop,
    /// 390x844 (a current phone's CSS pixels).
    Phone,
    Custom(u32, u32),
}

impl Viewport {
    pub fn size(self) -> (u32, u32) {
        match self {
            Viewport::Desktop => (1280, 900),
            Viewport::Phone => (390, 844),
            Viewport::Custom(w, h) => (w, h),
        }
    }
}

pub struct Browser {
    client: Option<Client>,
    driver: Option<Child>,
    viewport: Viewport,
    /// Chromium's profile and chromedriver's log; removed after both are gone.
    dir: tempfile::TempDir,
}

impl Browser {
    /// A desktop-sized (1280x900) headless Chromium.
    pub async fn start() -> Browser {
        Browser::start_with(Viewport::Desktop).await
    }

    /// A phone-sized (390x844) headless Chromium.
    pub async fn start_phone() -> Browser {
        Browser::start_with(Viewport::Phone).await
    }

    pub async fn start_with(viewport: Viewport) -> Browser {
        for (what, path, package) in [
            ("Chromium", CHROMIUM, "chromium"),
            ("ChromeDriver", CHROMEDRIVER, "chromium-driver"),
        ] {
            assert!(
                Path::new(path).exists(),
                "browser tests need {what} at {path}, which is missing: install it with \
                 `apt-get install -y chromium chromium-driver` (tests/run does; Debian package \
                 `{package}`)"
            );
        }
        let dir = tempfile::Builder::new()
            .prefix("sitegate-browser-")
            .tempdir()
            .expect("temp dir");
        let (driver, port) = spawn_driver(dir.path()).await;
        let mut browser = Browser {
            client: None,
            driver: Some(driver),
            viewport,
            dir,
        };
        let (w, h) = viewport.size();
        let profile = browser.dir.path().join("profile");
        std::fs::create_dir(&profile).expect("profile dir");
        let args = vec![
            "--headless".to_string(),
            "--no-sandbox".to_string(),
            "--disable-gpu".to_string(),
            "--disable-quic".to_string(),
            "--no-first-run".to_string(),
            "--no-default-browser-check".to_string(),
            "--disable-background-networking".to_string(),
            "--disable-component-update".to_string(),
            "--disable-sync".to_string(),
            "--disable-dev-shm-usage".to_string(),
            "--hide-scrollbars".to_string(),
            format!("--user-data-dir={}", profile.display()),
            format!("--window-size={w},{h}"),
        ];
        let caps = json!({
            "browserName": "chrome",
            "acceptInsecureCerts": true,
            "goog:chromeOptions": { "binary": CHROMIUM, "args": args },
        });
        let caps = match caps {
            Value::Object(m) => m,
            _ => unreachable!(),
        };
        let url = format!("http://127.0.0.1:{port}");
        let connected = tokio::time::timeout(
            PATIENCE,
            ClientBuilder::new(HttpConnector::new())
                .capabilities(caps)
                .connect(&url),
        )
        .await;
        let client = match connected {
            Ok(Ok(c)) => c,
            Ok(Err(e)) => panic!(
                "chromedriver refused to start Chromium: {e}\n{}",
                browser.driver_log()
            ),
            Err(_) => panic!(
                "Chromium did not start within {PATIENCE:?}\n{}",
                browser.driver_log()
            ),
        };
        browser.client = Some(client);
        // The headless window's size is the viewport's; say it again in case the flag was
        // ignored, then check what the page sees.
        browser.set_viewport(viewport).await;
        browser
    }

    /// The fantoccini client, for anything the helpers don't cover.
    pub fn client(&self) -> &Client {
        self.client.as_ref().expect("browser open")
    }

    pub fn viewport(&self) -> Viewport {
        self.viewport
    }

    /// Resizes the window so the page's viewport is `viewport`.
    pub async fn set_viewport(&mut self, viewport: Viewport) {
        let (w, h) = viewport.size();
        let c = self.client();
        c.set_window_size(w, h).await.expect("set window size");
        // Headless windows have no browser chrome, but be exact: grow the window by whatever
        // the page does not get.
        let inner = self
            .execute("return [window.innerWidth, window.innerHeight];")
            .await;
        let (iw, ih) = (
            inner[0].as_u64().unwrap_or(0) as u32,
            inner[1].as_u64().unwrap_or(0) as u32,
        );
        if (iw, ih) != (w, h) && iw > 0 && ih > 0 {
            c.set_window_size(w + w.saturating_sub(iw), h + h.saturating_sub(ih))
                .await
                .expect("set window size");
        }
        self.viewport = viewport;
    }

    /// Ends the session (Chromium quits) and stops chromedriver. Prefer this to dropping.
    pub async fn close(mut self) {
        if let Some(c) = self.client.take() {
            // A bounded wait: a wedged browser must not hang the test; the kill below ends it.
            let _ = tokio::time::timeout(Duration::from_secs(10), c.close()).await;
        }
        self.kill();
    }

    /// Kills chromedriver's process group (chromedriver and every Chromium process it
    /// started) and reaps chromedriver.
    fn kill(&mut self) {
        if let Some(mut child) = self.driver.take() {
            let pgid = child.id() as libc::pid_t;
            // SAFETY: plain syscall; the group is ours (chromedriver was made its leader).
            unsafe {
                libc::kill(-pgid, libc::SIGKILL);
            }
            let _ = child.wait();
            reap_group(pgid);
        }
    }

    fn driver_log(&self) -> String {
        let path = self.dir.path().join("chromedriver.log");
        let log = std::fs::read_to_string(&path).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(40).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        format!("chromedriver's log (last lines):\n{}", tail.join("\n"))
    }

    /// Signs `user` in (password `web::PASSWORD`) on the page at `base` (`https://host:port`)
    /// with the form, and waits for the signed-in menu.
    pub async fn sign_in(&self, base: &str, user: &str) {
        self.goto(&format!("{base}/login")).await;
        self.fill("Username", user).await;
        self.fill("Password", super::web::PASSWORD).await;
        self.click("button[type=submit]").await;
        self.wait_for("nav[aria-label=menu]", super::PATIENCE).await;
    }

    // ---- navigation and reading ----

    pub async fn goto(&self, url: &str) {
        self.client()
            .goto(url)
            .await
            .unwrap_or_else(|e| panic!("navigating to {url}: {e}"));
    }

    pub async fn current_url(&self) -> String {
        self.client()
            .current_url()
            .await
            .expect("current url")
            .to_string()
    }

    pub async fn title(&self) -> String {
        self.client().title().await.expect("title")
    }

    /// Runs `js` (a function body: use `return`) in the page and returns its value as JSON.
    pub async fn execute(&self, js: &str) -> Value {
        self.execute_with(js, vec![]).await
    }

    /// As `execute`, with `arguments[i]` = `args[i]`.
    pub async fn execute_with(&self, js: &str, args: Vec<Value>) -> Value {
        self.client()
            .execute(js, args)
            .await
            .unwrap_or_else(|e| panic!("script failed: {e}\n{js}"))
    }

    /// The first element matching `css`, waiting up to `PATIENCE` for it to appear.
    pub async fn find(&self, css: &str) -> Element {
        self.wait_for(css, PATIENCE).await
    }

    /// The first element matching `css` once there is one; fails after `timeout`.
    pub async fn wait_for(&self, css: &str, timeout: Duration) -> Element {
        let found = self
            .client()
            .wait()
            .at_most(timeout)
            .every(POLL)
            .for_element(Locator::Css(css))
            .await;
        match found {
            Ok(el) => el,
            Err(e) => panic!(
                "no element matches `{css}` after {timeout:?} ({e}) on {}",
                self.url_for_message().await
            ),
        }
    }

    /// Whether an element matches `css` now (no waiting).
    pub async fn exists(&self, css: &str) -> bool {
        !self
            .client()
            .find_all(Locator::Css(css))
            .await
            .expect("find")
            .is_empty()
    }

    /// The rendered (visible) text of the first element matching `css`.
    pub async fn text(&self, css: &str) -> String {
        self.find(css).await.text().await.expect("element text")
    }

    /// Waits until the first element matching `css` has a text containing `text`; returns the
    /// whole text. Fails after `timeout` with the last text seen.
    pub async fn wait_text(&self, css: &str, text: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        let mut last = None;
        loop {
            let found = self.client().find(Locator::Css(css)).await;
            if let Ok(el) = found
                && let Ok(t) = el.text().await
            {
                if t.contains(text) {
                    return t;
                }
                last = Some(t);
            }
            if Instant::now() >= deadline {
                panic!(
                    "`{css}` never showed {text:?} within {timeout:?} on {}; last text: {last:?}",
                    self.url_for_message().await
                );
            }
            tokio::time::sleep(POLL).await;
        }
    }

    async fn url_for_message(&self) -> String {
        match self.client().current_url().await {
            Ok(u) => u.to_string(),
            Err(_) => "(unknown page)".into(),
        }
    }

    // ---- acting as a user ----

    /// Types `value` into a form field, replacing what it held. The field is named by its
    /// label's text (exactly, ignoring surrounding white space), its `aria-label`, or a CSS
    /// selector, tried in that order and waited for up to `PATIENCE`.
    pub async fn fill(&self, field: &str, value: &str) {
        let el = self.resolve(FIND_FIELD, field, "form field").await;
        el.clear()
            .await
            .unwrap_or_else(|e| panic!("clearing {field:?}: {e}"));
        el.send_keys(value)
            .await
            .unwrap_or_else(|e| panic!("typing into {field:?}: {e}"));
    }

    /// Chooses the option shown as `option` (its text) in a `<select>` named as in `fill`.
    pub async fn select(&self, field: &str, option: &str) {
        let el = self.resolve(FIND_FIELD, field, "select").await;
        el.select_by_label(option)
            .await
            .unwrap_or_else(|e| panic!("choosing {option:?} in {field:?}: {e}"));
    }

    /// Clicks a button or link named by its text (exactly, ignoring surrounding white space),
    /// its `aria-label` or `value`, or a CSS selector; waits up to `PATIENCE` for it.
    pub async fn click(&self, target: &str) {
        let el = self.resolve(FIND_CLICKABLE, target, "button or link").await;
        el.click()
            .await
            .unwrap_or_else(|e| panic!("clicking {target:?}: {e}"));
    }

    /// Presses `key` on whatever has focus (WebDriver key actions, as a keyboard would).
    pub async fn press(&self, key: Key) {
        let ch: char = key.into();
        let keys = KeyActions::new("keyboard".into())
            .then(KeyAction::Down { value: ch })
            .then(KeyAction::Up { value: ch });
        self.client()
            .perform_actions(keys)
            .await
            .expect("key actions");
    }

    async fn resolve(&self, script: &str, name: &str, what: &str) -> Element {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let found = self.execute_with(script, vec![json!(name)]).await;
            if let Some(id) = found.get(ELEMENT_KEY).and_then(Value::as_str) {
                return Element::from_element_id(
                    self.client().clone(),
                    ElementRef::from(id.to_string()),
                );
            }
            if Instant::now() >= deadline {
                panic!(
                    "no {what} named {name:?} (by label, aria-label, text or CSS) within \
                     {PATIENCE:?} on {} (last lookup: {found})",
                    self.url_for_message().await
                );
            }
            tokio::time::sleep(POLL).await;
        }
    }

    // ---- evidence ----

    /// Saves what the viewport shows as `target/screenshots/<name>.png`; returns the path.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let png = self.client().screenshot().await.expect("screenshot");
        save_png(name, &png)
    }

    /// Saves the whole page, however tall, as `target/screenshots/<name>.png`: the window is
    /// made as tall as the document for the shot, then restored.
    pub async fn screenshot_full_page(&mut self, name: &str) -> PathBuf {
        let viewport = self.viewport;
        let (w, h) = viewport.size();
        let height = self
            .execute("return Math.ceil(document.documentElement.scrollHeight);")
            .await
            .as_u64()
            .unwrap_or(h as u64) as u32;
        if height > h {
            self.set_viewport(Viewport::Custom(w, height.min(16_000)))
                .await;
        }
        let path = self.screenshot(name).await;
        if height > h {
            self.set_viewport(viewport).await;
        }
        path
    }

    /// The cookies the browser holds for the current page.
    pub async fn cookies(&self) -> Vec<Cookie<'static>> {
        self.client().get_all_cookies().await.expect("cookies")
    }

    /// A description of the focused element (`tag#id.class[name]` and its text), or `body`.
    pub async fn focused(&self) -> String {
        self.execute(&format!(
            "{DESCRIBE}\nreturn describe(document.activeElement);"
        ))
        .await
        .as_str()
        .unwrap_or("")
        .to_string()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Without `close()` (a failed test unwinding, say) the session can't be ended politely
        // from a synchronous drop: kill the whole group.
        self.kill();
    }
}

/// Where screenshots go: `$CARGO_TARGET_DIR/screenshots` (relative to the package if the
/// variable is relative), else the package's `target/screenshots`.
pub fn screenshot_dir() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let target = match std::env::var_os("CARGO_TARGET_DIR") {
        Some(t) if !t.is_empty() => manifest.join(t),
        _ => manifest.join("target"),
    };
    target.join("screenshots")
}

fn save_png(name: &str, png: &[u8]) -> PathBuf {
    assert!(
        png.starts_with(b"\x89PNG\r\n\x1a\n"),
        "the screenshot is not a PNG"
    );
    let dir = screenshot_dir();
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("creating {}: {e}", dir.display()));
    let path = dir.join(format!("{name}.png"));
    std::fs::write(&path, png).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
    path
}

/// Makes this test process the reaper of its orphaned descendants, so that Chromium's
/// processes, orphaned when chromedriver dies, are reaped by `reap_group` rather than left as
/// zombies under a PID 1 that may not reap them (it doesn't on this workplace's machines).
fn become_subreaper() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // SAFETY: plain syscall with integer arguments.
        unsafe {
            libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
        }
    });
}

/// Reaps every process of the killed group `pgid` that has become this process's child: each
/// is reparented here when its parent dies, before that parent can be reaped, so waiting until
/// none is left gets them all. Bounded: a process that survives SIGKILL is not waited for.
fn reap_group(pgid: libc::pid_t) {
    for _ in 0..1000 {
        let mut status = 0;
        // SAFETY: plain syscall; only children in the group `pgid` are waited for.
        let pid = unsafe { libc::waitpid(-pgid, &mut status, libc::WNOHANG) };
        match pid {
            -1 => break, // ECHILD: none left
            0 => std::thread::sleep(Duration::from_millis(10)),
            _ => {}
        }
    }
    reap_escaped_zombies();
}

/// Chromium's crashpad handler leaves the process group (so it is not waited for above); once
/// its browser is gone it exits, and as an orphan it is this process's child: reap those
/// already dead, found by name in /proc, and no other child.
fn reap_escaped_zombies() {
    let me = std::process::id().to_string();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return;
    };
    for e in entries.flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<libc::pid_t>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // "pid (comm) state ppid ..."; comm may hold spaces, so split after its ')'.
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let comm = &stat[open + 1..close];
        let mut rest = stat[close + 1..].split_whitespace();
        let (state, ppid) = (rest.next(), rest.next());
        if state == Some("Z") && ppid == Some(me.as_str()) && comm.starts_with("chrom") {
            let mut status = 0;
            // SAFETY: plain syscall on a dead child of ours, named as Chromium's.
            unsafe {
                libc::waitpid(pid, &mut status, libc::WNOHANG);
            }
        }
    }
}

/// Starts chromedriver on a free port and waits until it says it is ready. A port taken
/// between choosing and binding shows as chromedriver exiting: then another port is tried.
async fn spawn_driver(dir: &Path) -> (Child, u16) {
    become_subreaper();
    let log = dir.join("chromedriver.log");
    let mut last_err = String::new();
    for _ in 0..5 {
        let port = {
            let l = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
            l.local_addr().expect("local addr").port()
        };
        let mut child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .arg(format!("--log-path={}", log.display()))
            .arg("--allowed-ips=127.0.0.1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            // Its own process group: killing the group ends chromedriver and every Chromium
            // process it started, whatever state they are in.
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {CHROMEDRIVER}: {e}"));
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(status) = child.try_wait().expect("chromedriver status") {
                last_err = format!(
                    "chromedriver exited ({status}) on port {port}: {}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                );
                break;
            }
            if driver_ready(port).await {
                return (child, port);
            }
            if Instant::now() >= deadline {
                let pgid = child.id() as libc::pid_t;
                // SAFETY: plain syscall on the group chromedriver leads.
                unsafe {
                    libc::kill(-pgid, libc::SIGKILL);
                }
                let _ = child.wait();
                reap_group(pgid);
                panic!("chromedriver on port {port} not ready within {PATIENCE:?}");
            }
            tokio::time::sleep(POLL).await;
        }
    }
    panic!("chromedriver would not start: {last_err}");
}

/// Whether chromedriver answers `GET /status` with `"ready": true`.
async fn driver_ready(port: u16) -> bool {
    let probe = async {
        let mut s = TcpStream::connect(("127.0.0.1", port)).await.ok()?;
        s.write_all(b"GET /status HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            .await
            .ok()?;
        // chromedriver keeps the connection open whatever the request says: read until the
        // body is a whole JSON document.
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            let n = s.read(&mut chunk).await.ok()?;
            if n == 0 {
                return None;
            }
            buf.extend_from_slice(&chunk[..n]);
            let text = String::from_utf8_lossy(&buf);
            if let Some(body) = text.split("\r\n\r\n").nth(1)
                && let Ok(v) = serde_json::from_str::<Value>(body)
            {
                return v["value"]["ready"].as_bool();
            }
        }
    };
    matches!(
        tokio::time::timeout(Duration::from_secs(2), probe).await,
        Ok(Some(true))
    )
}

/// JS: `describe(el)`, a short human description of an element for failure messages.
pub(crate) const DESCRIBE: &str = r#"
function describe(el) {
  if (!el || el === document.body || el === document.documentElement) return 'body';
  let s = el.tagName.toLowerCase();
  if (el.id) s += '#' + el.id;
  for (const c of el.classList) s += '.' + c;
  const name = el.getAttribute('name');
  if (name) s += '[name=' + name + ']';
  const t = (el.innerText || el.value || '').trim().replace(/\s+/g, ' ').slice(0, 40);
  if (t) s += ' "' + t + '"';
  return s;
}
"#;

/// JS: the form control named `arguments[0]` by label text, aria-label, or CSS, or null.
const FIND_FIELD: &str = r#"
const name = arguments[0];
const norm = s => (s || '').trim().replace(/\s+/g, ' ');
const controls = 'input:not([type=hidden]), select, textarea, [contenteditable=""], [contenteditable=true]';
for (const label of document.querySelectorAll('label')) {
  if (norm(label.innerText) === norm(name) && label.control) return label.control;
}
for (const el of document.querySelectorAll(controls)) {
  if (norm(el.getAttribute('aria-label')) === norm(name)) return el;
  const by = el.getAttribute('aria-labelledby');
  if (by && norm(by.split(/\s+/).map(id => (document.getElementById(id) || {}).innerText || '').join(' ')) === norm(name)) return el;
}
try { return document.querySelector(name); } catch (e) { return null; }
"#;

/// JS: the button or link named `arguments[0]` by text, aria-label or value, or CSS, or null.
const FIND_CLICKABLE: &str = r#"
const name = arguments[0];
const norm = s => (s || '').trim().replace(/\s+/g, ' ');
const clickable = 'button, a[href], input[type=submit], input[type=button], input[type=reset], [role=button], [role=link], summary';
for (const el of document.querySelectorAll(clickable)) {
  if (norm(el.innerText) === norm(name) || norm(el.getAttribute('aria-label')) === norm(name)
      || ((el.tagName === 'INPUT') && norm(el.value) === norm(name))) return el;
}
try { return document.querySelector(name); } catch (e) { return null; }
"#;
