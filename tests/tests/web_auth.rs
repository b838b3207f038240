//! Web server authentication (issue 18, item 5) on the real binary: beyond loopback it refuses
//! to start without a token (naming the variable), or starts open with a warning when
//! `allow_unauthenticated` says so; with a token every route but `/healthz` and `/readyz`
//! answers 401 without it or with a wrong one (counted) and 200 with it; the dashboard's
//! one-time `/?token=` login sets a cookie that reads accept; a POST is refused even on
//! loopback without a token; a reload to an address that needs a missing token is rolled back
//! while the running server keeps serving. The token never appears in the log or the API.
//!
//! The servers listen on `0.0.0.0` where the test needs "beyond loopback", and every request
//! goes to 127.0.0.1. Clients are raw TCP, one connection per request, and headless Chromium
//! for the dashboard's login (page, assets and event stream on the cookie alone).

#[path = "../browser/chromium.rs"]
#[allow(dead_code)]
mod chromium;

use std::{
    io::{BufRead, BufReader, Read, Write},
    net::{SocketAddr, TcpStream},
    path::Path,
    process::{Child, Command, ExitStatus, Stdio},
    sync::{mpsc, Arc, Mutex},
    time::{Duration, Instant},
};

use integration_tests::{config_text, host_binary};

const TOKEN_ENV: &str = "FC_TEST_WEB_TOKEN";
/// 32 bytes.
const TOKEN: &str = "8f3a9c1e0b7d4f2a6e5c3b1d9f7a2c4e";
/// Same length, last byte different.
const WRONG_SAME_LENGTH: &str = "8f3a9c1e0b7d4f2a6e5c3b1d9f7a2c4f";
/// A prefix of the token.
const WRONG_SHORTER: &str = "8f3a9c1e0b7d4f2a";
/// Longest wait for the collector to start, exit or reload.
const STARTUP: Duration = Duration::from_secs(20);
/// Longest wait for one response.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(10);
const UNAUTHORIZED_MISSING: &str =
    "futures_collector_web_requests_unauthorized_total{reason=\"missing\"}";
const UNAUTHORIZED_INVALID: &str =
    "futures_collector_web_requests_unauthorized_total{reason=\"invalid\"}";

/// A config without exchanges (the web server is all these tests need) whose `[web]` is
/// `web`.
fn write_config(dir: &Path, web: &str) -> std::path::PathBuf {
    let plugin_dir = dir.join("plugins");
    std::fs::create_dir_all(&plugin_dir).unwrap();
    let text = config_text(dir, &plugin_dir, &[]).replace(
        "[web]\nlisten = \"127.0.0.1:0\"\n",
        &format!("[web]\n{web}\ntoken_env = \"{TOKEN_ENV}\"\n"),
    );
    let path = dir.join("collector.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn command(config: &Path, token: Option<&str>) -> Command {
    let mut cmd = Command::new(host_binary());
    cmd.args(["--log-format", "json", "run", "--config"])
        .arg(config)
        .env_remove(TOKEN_ENV)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    if let Some(token) = token {
        cmd.env(TOKEN_ENV, token);
    }
    cmd
}

/// The collector binary, killed on drop; its log lines are collected as they come.
struct Collector {
    child: Child,
    /// Where to send requests: 127.0.0.1 and the bound port.
    addr: SocketAddr,
    log: Arc<Mutex<Vec<String>>>,
    _dir: tempfile::TempDir,
}

impl Drop for Collector {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Collector {
    /// Starts the binary with `web` as its `[web]` keys and returns once it listens.
    fn start(web: &str, token: Option<&str>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let config = write_config(dir.path(), web);
        let mut child = command(&config, token).spawn().unwrap();
        let stderr = child.stderr.take().unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = mpsc::channel();
        let lines = Arc::clone(&log);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) {
                    let listening = v["message"]
                        .as_str()
                        .is_some_and(|m| m.starts_with("web server listening"));
                    if let (true, Some(addr)) = (listening, v["addr"].as_str()) {
                        let _ = tx.send(addr.parse::<SocketAddr>().unwrap());
                    }
                }
                lines.lock().unwrap().push(line);
            }
        });
        let bound = rx.recv_timeout(STARTUP).unwrap_or_else(|_| {
            panic!("no web address logged:\n{}", log.lock().unwrap().join("\n"))
        });
        Self {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], bound.port())),
            log,
            _dir: dir,
        }
    }

    fn log_text(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    /// Waits until a log line contains every one of `needles`.
    fn wait_for_log(&self, needles: &[&str]) -> String {
        let started = Instant::now();
        loop {
            if let Some(line) = self
                .log
                .lock()
                .unwrap()
                .iter()
                .find(|l| needles.iter().all(|n| l.contains(n)))
            {
                return line.clone();
            }
            assert!(
                started.elapsed() < STARTUP,
                "no log line with {needles:?}:\n{}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn config_path(&self) -> std::path::PathBuf {
        self._dir.path().join("collector.toml")
    }
}

/// Runs the binary to its exit: status and stderr.
fn run_to_exit(web: &str, token: Option<&str>) -> (ExitStatus, String) {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), web);
    let mut child = command(&config, token).spawn().unwrap();
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > STARTUP {
            let _ = child.kill();
            panic!("still running after {STARTUP:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    (status, stderr)
}

/// A response: status code, head (lowercase) and as much of the body as arrived.
#[derive(Debug)]
struct Answer {
    status: u16,
    head: String,
    body: String,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().find_map(|l| {
            l.split_once(": ")
                .filter(|(k, _)| *k == name)
                .map(|(_, v)| v)
        })
    }
}

/// One request on a fresh connection; reads until the server closes it, or only the head for
/// an event stream (which stays open).
fn request(addr: SocketAddr, method: &str, path: &str, headers: &[(&str, &str)]) -> Answer {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(RESPONSE_TIMEOUT)).unwrap();
    let mut text = format!("{method} {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n");
    for (k, v) in headers {
        text.push_str(&format!("{k}: {v}\r\n"));
    }
    if method == "POST" {
        text.push_str("Content-Length: 0\r\n");
    }
    text.push_str("\r\n");
    s.write_all(text.as_bytes()).unwrap();
    let mut received = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = s
            .read(&mut buf)
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        if n == 0 {
            break;
        }
        received.extend_from_slice(&buf[..n]);
        let head_done = received.windows(4).any(|w| w == b"\r\n\r\n");
        let streaming = String::from_utf8_lossy(&received)
            .to_lowercase()
            .contains("content-type: text/event-stream");
        if head_done && streaming {
            break;
        }
    }
    let text = String::from_utf8_lossy(&received);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    Answer {
        status: head
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0),
        head: head.to_lowercase(),
        body: body.to_owned(),
    }
}

fn get(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> Answer {
    request(addr, "GET", path, headers)
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

fn sample(text: &str, series: &str) -> f64 {
    text.lines()
        .find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{series} missing from:\n{text}"))
}

fn metrics(addr: SocketAddr, token: Option<&str>) -> String {
    let auth = token.map(bearer);
    let headers: Vec<(&str, &str)> = auth.iter().map(|a| ("Authorization", a.as_str())).collect();
    let a = get(addr, "/metrics", &headers);
    assert_eq!(a.status, 200, "{a:?}");
    a.body
}

fn assert_unauthorized(a: &Answer, what: &str, invalid: bool) {
    assert_eq!(a.status, 401, "{what}: {a:?}");
    let challenge = a
        .header("www-authenticate")
        .unwrap_or_else(|| panic!("{what}: no WWW-Authenticate: {a:?}"));
    assert!(challenge.starts_with("bearer "), "{what}: {challenge}");
    assert_eq!(
        challenge.contains("error=\"invalid_token\""),
        invalid,
        "{what}: {challenge}"
    );
    let body: serde_json::Value = serde_json::from_str(&a.body)
        .unwrap_or_else(|e| panic!("{what}: not JSON ({e}): {:?}", a.body));
    assert_eq!(body["error"], "unauthorized", "{what}");
    assert!(!a.body.contains(TOKEN), "{what}: the token is echoed");
}

#[test]
fn beyond_loopback_without_a_token_the_binary_exits_naming_the_variable() {
    for token in [None, Some("")] {
        let (status, stderr) = run_to_exit("listen = \"0.0.0.0:0\"", token);
        assert!(!status.success(), "{status}: {stderr}");
        let error = stderr
            .lines()
            .find(|l| l.starts_with("error: "))
            .unwrap_or_else(|| panic!("no error line:\n{stderr}"));
        for needle in [
            TOKEN_ENV,
            "0.0.0.0:0",
            "is not a loopback address",
            "allow_unauthenticated = true",
        ] {
            assert!(error.contains(needle), "{needle:?} missing from: {error}");
        }
        assert!(
            !stderr.contains("web server listening"),
            "it listened:\n{stderr}"
        );
    }
    // A token that is too short is refused too, by its length only.
    let (status, stderr) = run_to_exit("listen = \"0.0.0.0:0\"", Some("short-token"));
    assert!(!status.success(), "{status}: {stderr}");
    assert!(
        stderr.contains(&format!(
            "{TOKEN_ENV} ([web] token_env) has 11 bytes; it needs at least 16"
        )),
        "{stderr}"
    );
    assert!(!stderr.contains("short-token"), "{stderr}");
}

#[test]
fn allow_unauthenticated_starts_open_with_a_warning_and_still_refuses_a_post() {
    let c = Collector::start("listen = \"0.0.0.0:0\"\nallow_unauthenticated = true", None);
    let warning = c.wait_for_log(&["WITHOUT AUTHENTICATION"]);
    let line: serde_json::Value = serde_json::from_str(&warning).unwrap();
    assert_eq!(line["level"], "WARN", "{warning}");
    assert!(warning.contains(TOKEN_ENV), "{warning}");
    assert_eq!(get(c.addr, "/api/status", &[]).status, 200);
    assert_eq!(get(c.addr, "/metrics", &[]).status, 200);
    let post = request(c.addr, "POST", "/api/status", &[]);
    assert_unauthorized(&post, "POST /api/status, open server", false);
}

#[test]
fn with_a_token_everything_but_the_probes_needs_it() {
    let c = Collector::start("listen = \"0.0.0.0:0\"", Some(TOKEN));
    let listening = c.wait_for_log(&["web server listening"]);
    assert!(listening.contains("bearer token"), "{listening}");

    // Probes answer without a token (readiness may say "not ready": there is no exchange).
    let health = get(c.addr, "/healthz", &[]);
    assert_eq!(health.status, 200, "{health:?}");
    assert!(health.body.contains("\"alive\""), "{health:?}");
    let ready = get(c.addr, "/readyz", &[]);
    assert!(matches!(ready.status, 200 | 503), "{ready:?}");
    assert!(ready.body.contains("\"ready\""), "{ready:?}");
    assert_eq!(request(c.addr, "HEAD", "/healthz", &[]).status, 200);

    let good = bearer(TOKEN);
    let same_length = bearer(WRONG_SAME_LENGTH);
    let shorter = bearer(WRONG_SHORTER);
    let paths = ["/metrics", "/api/status", "/", "/api/events"];
    for path in paths {
        assert_unauthorized(&get(c.addr, path, &[]), path, false);
        for wrong in [&same_length, &shorter] {
            let a = get(c.addr, path, &[("Authorization", wrong)]);
            assert_unauthorized(&a, &format!("{path} with {wrong}"), true);
        }
        let a = get(c.addr, path, &[("Authorization", &good)]);
        assert_eq!(a.status, 200, "{path} with the token: {a:?}");
    }
    assert!(get(c.addr, "/api/status", &[("Authorization", &good)])
        .body
        .contains("\"exchanges\""));
    // An unknown path does not say what exists.
    assert_unauthorized(&get(c.addr, "/nope", &[]), "/nope", false);

    // Every refusal is counted: 4 paths + /nope without, 4 × 2 wrong ones.
    let text = metrics(c.addr, Some(TOKEN));
    assert_eq!(sample(&text, UNAUTHORIZED_MISSING), 5.0, "{text}");
    assert_eq!(sample(&text, UNAUTHORIZED_INVALID), 8.0, "{text}");

    // The token is nowhere in what the collector says.
    let status = get(c.addr, "/api/status", &[("Authorization", &good)]);
    assert!(!status.body.contains(TOKEN));
    assert!(!c.log_text().contains(TOKEN), "the token is in the log");
}

#[test]
fn the_dashboard_logs_in_once_with_a_same_site_cookie() {
    let c = Collector::start("listen = \"0.0.0.0:0\"", Some(TOKEN));
    let login = get(c.addr, &format!("/?token={TOKEN}"), &[]);
    assert_eq!(login.status, 303, "{login:?}");
    assert_eq!(login.header("location"), Some("/"));
    let set_cookie = login.header("set-cookie").expect("a cookie");
    assert!(!set_cookie.contains(TOKEN), "{set_cookie}");
    for attribute in ["httponly", "samesite=strict", "path=/"] {
        assert!(set_cookie.contains(attribute), "{attribute}: {set_cookie}");
    }
    let cookie = set_cookie.split(';').next().unwrap().to_owned();
    // The set-cookie header is lowercased with the rest of the head; the value is hex.
    assert!(cookie.starts_with("futures_collector_token="), "{cookie}");

    for path in ["/", "/assets/app.js", "/api/status", "/api/events"] {
        let a = get(c.addr, path, &[("Cookie", &cookie)]);
        assert_eq!(a.status, 200, "{path} with the cookie: {a:?}");
        let same_origin = get(
            c.addr,
            path,
            &[("Cookie", &cookie), ("Sec-Fetch-Site", "same-origin")],
        );
        assert_eq!(same_origin.status, 200, "{path}: {same_origin:?}");
        let cross = get(
            c.addr,
            path,
            &[("Cookie", &cookie), ("Sec-Fetch-Site", "cross-site")],
        );
        assert_unauthorized(&cross, &format!("{path} cross-site"), false);
    }
    // A wrong login token sets nothing; a cookie does not allow a POST.
    let wrong = get(c.addr, &format!("/?token={WRONG_SAME_LENGTH}"), &[]);
    assert_unauthorized(&wrong, "login with a wrong token", true);
    assert!(wrong.header("set-cookie").is_none());
    let post = request(c.addr, "POST", "/api/status", &[("Cookie", &cookie)]);
    assert_unauthorized(&post, "POST with the cookie", false);
    assert!(!c.log_text().contains(TOKEN), "the token is in the log");
}

#[test]
fn a_post_needs_the_token_even_on_loopback() {
    // No token: reads open (today's behaviour), a POST refused.
    let open = Collector::start("listen = \"127.0.0.1:0\"", None);
    assert_eq!(get(open.addr, "/api/status", &[]).status, 200);
    for path in ["/api/status", "/healthz", "/metrics", "/nope"] {
        let a = request(open.addr, "POST", path, &[]);
        assert_unauthorized(&a, &format!("POST {path} on loopback"), false);
    }
    let text = metrics(open.addr, None);
    assert_eq!(sample(&text, UNAUTHORIZED_MISSING), 4.0, "{text}");
    drop(open);

    // A token on loopback is required too; with it a POST reaches the router (which has no
    // POST route: 405).
    let closed = Collector::start("listen = \"127.0.0.1:0\"", Some(TOKEN));
    assert_unauthorized(&get(closed.addr, "/api/status", &[]), "GET", false);
    assert_eq!(get(closed.addr, "/healthz", &[]).status, 200);
    assert_unauthorized(
        &request(closed.addr, "POST", "/api/status", &[]),
        "POST without",
        false,
    );
    let good = bearer(TOKEN);
    let a = request(
        closed.addr,
        "POST",
        "/api/status",
        &[("Authorization", &good)],
    );
    assert_eq!(a.status, 405, "{a:?}");
}

#[test]
fn a_reload_that_needs_a_missing_token_is_rolled_back_and_the_server_keeps_serving() {
    // The same address before and after, so the reload would restart the server in place:
    // the token is checked before the running server stops.
    let port = std::net::TcpListener::bind("0.0.0.0:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let listen = format!("listen = \"0.0.0.0:{port}\"");
    let c = Collector::start(&format!("{listen}\nallow_unauthenticated = true"), None);
    let rolled_back = "futures_collector_config_reloads_total{result=\"rolled_back\"}";
    let before = metrics(c.addr, None);
    assert!(!before.contains(rolled_back), "{before}");
    let config = c.config_path();
    let text = std::fs::read_to_string(&config)
        .unwrap()
        .replace("allow_unauthenticated = true", "");
    std::fs::write(&config, text).unwrap();
    // SIGHUP reloads whether or not the file watcher saw the write.
    let hup = Command::new("kill")
        .args(["-HUP", &c.child.id().to_string()])
        .status()
        .unwrap();
    assert!(hup.success());
    let line = c.wait_for_log(&["rolled back to the previous config", TOKEN_ENV]);
    assert!(line.contains("is not a loopback address"), "{line}");
    // Still the same server, still open.
    let text = metrics(c.addr, None);
    assert_eq!(sample(&text, rolled_back), 1.0, "{text}");
    assert_eq!(get(c.addr, "/api/status", &[]).status, 200);
    let log = c.log_text();
    assert_eq!(
        log.matches("web server listening").count(),
        1,
        "the server was restarted:\n{log}"
    );
}

#[test]
fn a_browser_logs_in_once_and_the_dashboard_runs_on_the_cookie() {
    let c = Collector::start(
        "listen = \"127.0.0.1:0\"\nlive_interval = \"200ms\"",
        Some(TOKEN),
    );
    let base = format!("http://{}", c.addr);
    let mut b = chromium::Browser::launch(1280, 800);
    // Without the token: the page is a 401, nothing of the dashboard.
    b.open(&format!("{base}/"), 1280, 800);
    let refused = b.wait_for(
        "document.body !== null && document.body.innerText.includes('unauthorized')",
        Duration::from_secs(20),
    );
    assert!(refused, "no 401 page: {}", b.html());
    // Once with the token: redirected to the dashboard, which then loads its assets, its
    // status and its live event stream with the cookie alone (scripts cannot read it).
    b.open(&format!("{base}/?token={TOKEN}"), 1280, 800);
    let live = b.wait_for(
        "location.pathname === '/' && location.search === '' \
         && document.body.dataset.state === 'live' && document.body.dataset.ticks >= 2",
        Duration::from_secs(20),
    );
    assert!(live, "the dashboard did not go live: {}", b.html());
    assert_eq!(b.eval("document.cookie"), serde_json::json!(""));
    assert!(!b.html().contains(TOKEN), "the token is in the page");
    assert!(!c.log_text().contains(TOKEN), "the token is in the log");
}
