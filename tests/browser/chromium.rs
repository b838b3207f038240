//! Headless Chromium for dashboard tests, driven over the DevTools protocol on a pipe
//! (`--remote-debugging-pipe`: JSON messages ending in NUL on fds 3 and 4). A plain
//! `--dump-dom`/`--screenshot` run cannot wait for data that arrives after the load event:
//! `--virtual-time-budget` never ends while a server-sent-event stream is open. So the test
//! loads the page, polls a JavaScript condition until the live data is there, then reads the
//! DOM and takes screenshots.
//!
//! The browser is the Debian package `chromium` (scripts/test installs it), started with a
//! fresh profile and the flags that keep it off the network: only the loopback URL under test
//! is loaded. Owns no assertions about the dashboard: `tests/tests/observability_browser.rs`
//! does.

use std::{
    io::{BufRead, BufReader, Write},
    path::{Path, PathBuf},
    process::{Child, ChildStdin, Command, Stdio},
    sync::mpsc,
    time::{Duration, Instant},
};

use serde_json::{json, Value};

/// Longest wait for one DevTools answer.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// The Chromium binary, or a panic that says how to install it.
pub fn chromium() -> PathBuf {
    for name in ["chromium", "chromium-browser", "google-chrome"] {
        let found = std::env::var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|p| p.join(name))
                .find(|p| p.is_file())
        });
        if let Some(path) = found {
            return path;
        }
    }
    panic!("chromium not found: scripts/test installs it (Debian package `chromium`); or run `apt-get install chromium`")
}

/// One headless browser with one page.
pub struct Browser {
    child: Child,
    to: ChildStdin,
    from: mpsc::Receiver<Value>,
    next_id: u64,
    session: Option<String>,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Starts Chromium with a `width`×`height` window.
    pub fn launch(width: u32, height: u32) -> Self {
        let profile = tempfile::tempdir().expect("profile dir");
        // fd 3: commands to the browser (our stdin pipe); fd 4: its answers (our stdout pipe).
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(r#"exec "$0" "$@" 3<&0 4>&1 0</dev/null 1>/dev/null 2>/dev/null"#)
            .arg(chromium())
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-dev-shm-usage",
                "--hide-scrollbars",
                "--font-render-hinting=none",
                "--remote-debugging-pipe",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg(format!("--window-size={width},{height}"))
            .arg("about:blank")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromium");
        let to = child.stdin.take().expect("browser pipe in");
        let out = child.stdout.take().expect("browser pipe out");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(out);
            let mut buf = Vec::new();
            while reader.read_until(0, &mut buf).is_ok_and(|n| n > 0) {
                if buf.last() == Some(&0) {
                    buf.pop();
                }
                if let Ok(v) = serde_json::from_slice::<Value>(&buf) {
                    if tx.send(v).is_err() {
                        break;
                    }
                }
                buf.clear();
            }
        });
        Self {
            child,
            to,
            from: rx,
            next_id: 0,
            session: None,
            _profile: profile,
        }
    }

    /// Sends one DevTools command and waits for its result (events in between are skipped).
    pub fn call(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let mut msg = json!({ "id": id, "method": method, "params": params });
        if let Some(s) = &self.session {
            msg["sessionId"] = json!(s);
        }
        let mut bytes = serde_json::to_vec(&msg).expect("encode");
        bytes.push(0);
        self.to.write_all(&bytes).expect("write to browser");
        self.to.flush().expect("flush to browser");
        let deadline = Instant::now() + CALL_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let v = self
                .from
                .recv_timeout(left)
                .unwrap_or_else(|_| panic!("no answer to {method} within {CALL_TIMEOUT:?}"));
            if v["id"] == json!(id) {
                assert!(v.get("error").is_none(), "{method}: {v}");
                return v["result"].clone();
            }
        }
    }

    /// Opens `url` in a new page of `width`×`height` CSS pixels.
    pub fn open(&mut self, url: &str, width: u32, height: u32) {
        let target = self.call("Target.createTarget", json!({ "url": "about:blank" }));
        let target_id = target["targetId"].as_str().expect("target id").to_owned();
        let attached = self.call(
            "Target.attachToTarget",
            json!({ "targetId": target_id, "flatten": true }),
        );
        self.session = Some(attached["sessionId"].as_str().expect("session").to_owned());
        self.call("Page.enable", json!({}));
        self.resize(width, height);
        self.call("Page.navigate", json!({ "url": url }));
    }

    pub fn resize(&mut self, width: u32, height: u32) {
        self.call(
            "Emulation.setDeviceMetricsOverride",
            json!({ "width": width, "height": height, "deviceScaleFactor": 1, "mobile": false }),
        );
    }

    /// Evaluates a JavaScript expression in the page; returns its JSON value.
    pub fn eval(&mut self, expression: &str) -> Value {
        let r = self.call(
            "Runtime.evaluate",
            json!({ "expression": expression, "returnByValue": true, "awaitPromise": true }),
        );
        r["result"]["value"].clone()
    }

    /// Polls `expression` every 100 ms until it is `true`; returns whether it became so.
    pub fn wait_for(&mut self, expression: &str, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if self.eval(expression) == json!(true) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        false
    }

    /// The page's HTML now.
    pub fn html(&mut self) -> String {
        self.eval("document.documentElement.outerHTML")
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// Saves a PNG of the viewport (or of the whole page) to `path`.
    pub fn screenshot(&mut self, path: &Path, full_page: bool) {
        let mut params = json!({ "format": "png" });
        if full_page {
            let m = self.call("Page.getLayoutMetrics", json!({}));
            let size = &m["cssContentSize"];
            params["clip"] = json!({
                "x": 0, "y": 0,
                "width": size["width"], "height": size["height"], "scale": 1
            });
            params["captureBeyondViewport"] = json!(true);
        }
        let shot = self.call("Page.captureScreenshot", params);
        let png = base64_decode(shot["data"].as_str().expect("screenshot data"));
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).expect("screenshot dir");
        }
        std::fs::write(path, &png).expect("write screenshot");
        assert!(
            png.len() > 10_000,
            "screenshot {} is {} bytes",
            path.display(),
            png.len()
        );
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Standard base64 (the DevTools screenshot encoding).
fn base64_decode(text: &str) -> Vec<u8> {
    let value = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0);
    for v in text.bytes().filter_map(value) {
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    out
}

#[test]
fn base64_roundtrip() {
    assert_eq!(base64_decode("aGVsbG8gd29ybGQ="), b"hello world");
    assert_eq!(base64_decode("YQ=="), b"a");
}
