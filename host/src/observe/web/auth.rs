//! Who may use the web server: the bearer token (read from the environment variable named by
//! `[web] token_env` when the server starts), when it is required, and the check of every
//! request against it (a router layer in front of every route, the fallback included).
//!
//! The rule: with a token set, every request but GET/HEAD of `/healthz` and `/readyz` needs
//! `Authorization: Bearer <token>`, or for GET/HEAD the dashboard's login cookie; without one
//! (allowed on loopback, or beyond it with `allow_unauthenticated`), reads are open and any
//! other method is refused, so no route can change state without the token, whatever the
//! address.
//!
//! Owns the token's resolution and its start errors, loopback classification, the
//! constant-time comparison, the login cookie and the 401 answer. Must not keep, log, answer
//! or put into an error the token itself: only SHA-256 digests of it are kept, and errors give
//! the variable's name and the token's length at most. Must not serve routes.

use std::{
    ffi::OsString,
    fmt,
    net::{IpAddr, SocketAddr},
    sync::Arc,
};

use axum::{
    extract::{Query, Request, State},
    http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri},
    middleware::Next,
    response::{IntoResponse, Response},
    Json,
};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::{
    config::WebConfig,
    observe::telemetry::{Telemetry, WebUnauthorized},
};

/// Shortest token accepted (bytes): 16 random bytes, or 32 hex digits of a shorter secret,
/// cannot be guessed over a network.
pub const MIN_TOKEN_BYTES: usize = 16;
/// The cookie `GET /?token=<token>` sets for the dashboard. It holds a digest of the token,
/// never the token itself.
pub const TOKEN_COOKIE: &str = "futures_collector_token";
/// The query parameter of the dashboard's login (`GET /?token=<token>`).
const LOGIN_PARAM: &str = "token";
/// The one path whose `?token=` logs a browser in: the dashboard page.
const LOGIN_PATH: &str = "/";
/// Paths anyone may GET: probes must answer without credentials.
const PROBE_PATHS: [&str; 2] = ["/healthz", "/readyz"];
/// Prefix of the hashed cookie value, so that it differs from the digest the bearer check uses.
const COOKIE_DIGEST_CONTEXT: &[u8] = b"futures-collector dashboard cookie\0";
const CHALLENGE_MISSING: &str = "Bearer realm=\"futures-collector\"";
const CHALLENGE_INVALID: &str = "Bearer realm=\"futures-collector\", error=\"invalid_token\"";
/// The cookie's attributes: never readable by scripts, never sent with a cross-site request.
const COOKIE_ATTRIBUTES: &str = "Path=/; HttpOnly; SameSite=Strict";

/// Why the web server cannot start with the token it was given (never quoting the token).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error(
        "web server: [web] listen = {listen} is not a loopback address, so it requires a bearer token, and the environment variable {variable} ([web] token_env) is unset or empty. Set {variable} to a secret of at least {MIN_TOKEN_BYTES} bytes (for example `openssl rand -hex 32`), listen on a loopback address (127.0.0.1), or set [web] allow_unauthenticated = true to serve without authentication"
    )]
    Missing {
        variable: String,
        listen: SocketAddr,
    },
    #[error(
        "web server: the token in the environment variable {variable} ([web] token_env) has {bytes} bytes; it needs at least {MIN_TOKEN_BYTES} (for example `openssl rand -hex 32`)"
    )]
    TooShort { variable: String, bytes: usize },
    #[error(
        "web server: the token in the environment variable {variable} ([web] token_env) has characters other than printable ASCII (or spaces); it travels in an Authorization header, so use for example `openssl rand -hex 32`"
    )]
    NotPrintable { variable: String },
}

/// Whether `ip` reaches only this machine: 127.0.0.0/8 and `::1` (also written as an
/// IPv4-mapped IPv6 address). `0.0.0.0` and `::` listen on every interface: not loopback.
pub fn is_loopback(ip: IpAddr) -> bool {
    ip.to_canonical().is_loopback()
}

/// Whether two digests are equal, in a time that does not depend on where they differ.
fn digests_equal(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.ct_eq(b).into()
}

fn sha256(parts: &[&[u8]]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part);
    }
    hasher.finalize().into()
}

fn to_hex(bytes: &[u8; 32]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn from_hex(text: &str) -> Option<[u8; 32]> {
    let text = text.as_bytes();
    if text.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (byte, pair) in out.iter_mut().zip(text.chunks_exact(2)) {
        let pair = std::str::from_utf8(pair).ok()?;
        *byte = u8::from_str_radix(pair, 16).ok()?;
    }
    Some(out)
}

/// What the server accepts, derived from the token: its digest (bearer header, login) and the
/// digest the login cookie carries. The token itself is not kept.
#[derive(Clone)]
pub(crate) struct Credentials {
    bearer: [u8; 32],
    cookie: [u8; 32],
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Credentials(<redacted>)")
    }
}

impl Credentials {
    pub(crate) fn from_token(token: &str) -> Self {
        Self {
            bearer: sha256(&[token.as_bytes()]),
            cookie: sha256(&[COOKIE_DIGEST_CONTEXT, token.as_bytes()]),
        }
    }

    /// Compares digests, so neither the time nor the outcome depends on the token's length
    /// or on how much of it a guess got right.
    fn accepts_token(&self, presented: &[u8]) -> bool {
        digests_equal(&self.bearer, &sha256(&[presented]))
    }

    fn accepts_cookie(&self, value: &str) -> bool {
        from_hex(value).is_some_and(|presented| digests_equal(&self.cookie, &presented))
    }

    fn cookie_header(&self) -> String {
        format!(
            "{TOKEN_COOKIE}={}; {COOKIE_ATTRIBUTES}",
            to_hex(&self.cookie)
        )
    }
}

/// How the web server admits clients, decided once when it starts.
#[derive(Debug, Clone)]
pub(crate) struct Access {
    /// `None`: reads are open (loopback, or `allow_unauthenticated`).
    pub credentials: Option<Credentials>,
    /// Open on an address beyond loopback: warned about at every start.
    pub open_beyond_loopback: bool,
}

impl Access {
    /// Reads the variable `[web] token_env` names from the process environment.
    pub(crate) fn from_environment(config: &WebConfig) -> Result<Self, TokenError> {
        Self::resolve(config, std::env::var_os(&config.token_env))
    }

    /// The access `config` asks for, given the value of its token variable (unset and empty
    /// are the same).
    pub(crate) fn resolve(config: &WebConfig, value: Option<OsString>) -> Result<Self, TokenError> {
        let variable = || config.token_env.clone();
        let token = match value.filter(|v| !v.is_empty()) {
            None => None,
            Some(v) => {
                let token = v.into_string().map_err(|_| TokenError::NotPrintable {
                    variable: variable(),
                })?;
                if !token.bytes().all(|b| b.is_ascii_graphic()) {
                    return Err(TokenError::NotPrintable {
                        variable: variable(),
                    });
                }
                if token.len() < MIN_TOKEN_BYTES {
                    return Err(TokenError::TooShort {
                        variable: variable(),
                        bytes: token.len(),
                    });
                }
                Some(Credentials::from_token(&token))
            }
        };
        let beyond_loopback = !is_loopback(config.listen.ip());
        match token {
            Some(credentials) => Ok(Self {
                credentials: Some(credentials),
                open_beyond_loopback: false,
            }),
            None if beyond_loopback && !config.allow_unauthenticated => Err(TokenError::Missing {
                variable: variable(),
                listen: config.listen,
            }),
            None => Ok(Self {
                credentials: None,
                open_beyond_loopback: beyond_loopback,
            }),
        }
    }

    /// No token: reads open, every other method refused.
    pub(crate) fn open() -> Self {
        Self {
            credentials: None,
            open_beyond_loopback: false,
        }
    }

    /// For the start log line.
    pub(crate) fn describe(&self) -> &'static str {
        match (&self.credentials, self.open_beyond_loopback) {
            (Some(_), _) => "bearer token",
            (None, false) => "none (loopback; GET and HEAD only)",
            (None, true) => "none (allow_unauthenticated; GET and HEAD only)",
        }
    }
}

/// What the layer does with one request.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Decision {
    Serve,
    /// A valid `GET /?token=`: set the cookie and send the browser to the page without the
    /// token in its address.
    Login {
        cookie: String,
    },
    Refuse(Refusal),
}

/// Why a request gets 401.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refusal {
    /// No credential (or a cookie in a cross-site request).
    Missing,
    /// A credential that is not the token.
    Invalid,
    /// Not GET or HEAD, and the server has no token that could allow it.
    NoTokenForChange,
}

impl Refusal {
    fn reason(self) -> WebUnauthorized {
        match self {
            Self::Missing | Self::NoTokenForChange => WebUnauthorized::Missing,
            Self::Invalid => WebUnauthorized::Invalid,
        }
    }

    fn challenge(self) -> &'static str {
        match self {
            Self::Invalid => CHALLENGE_INVALID,
            Self::Missing | Self::NoTokenForChange => CHALLENGE_MISSING,
        }
    }

    fn detail(self) -> &'static str {
        match self {
            Self::Missing => "send Authorization: Bearer <token>, or open /?token=<token> once in a browser",
            Self::Invalid => "the token is not valid",
            Self::NoTokenForChange => "requests other than GET and HEAD need the bearer token, and the server has none ([web] token_env)",
        }
    }
}

/// The token of an `Authorization: Bearer …` header: `Some(Err)` for a header that is not a
/// bearer token (another scheme, unreadable bytes).
fn bearer_token(headers: &HeaderMap) -> Option<Result<&[u8], ()>> {
    let value = headers.get(header::AUTHORIZATION)?;
    let Ok(text) = value.to_str() else {
        return Some(Err(()));
    };
    Some(match text.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => {
            Ok(token.trim_matches(' ').as_bytes())
        }
        _ => Err(()),
    })
}

/// Whether a cookie may be taken from this request: browsers that send fetch metadata say
/// where a request comes from; anything but this origin, or the user typing the address
/// (`none`), is refused even if the browser sent the cookie.
fn cookie_allowed(headers: &HeaderMap) -> bool {
    match headers.get("sec-fetch-site") {
        None => true,
        Some(site) => matches!(site.as_bytes(), b"same-origin" | b"none"),
    }
}

/// The value of the login cookie, from any `Cookie` header.
fn token_cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == TOKEN_COOKIE)
        .map(|(_, value)| value)
}

#[derive(serde::Deserialize)]
struct LoginQuery {
    token: Option<String>,
}

/// The `?token=` of a login request: `Some(None)` when the query cannot be read.
fn login_token(uri: &Uri) -> Option<Option<String>> {
    let query = uri.query()?;
    if !query
        .split('&')
        .any(|pair| pair.split('=').next() == Some(LOGIN_PARAM))
    {
        return None;
    }
    Some(
        Query::<LoginQuery>::try_from_uri(uri)
            .ok()
            .and_then(|q| q.0.token),
    )
}

fn decide(
    credentials: Option<&Credentials>,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
) -> Decision {
    let reads = method == Method::GET || method == Method::HEAD;
    if reads && PROBE_PATHS.contains(&uri.path()) {
        return Decision::Serve;
    }
    let Some(credentials) = credentials else {
        return if reads {
            Decision::Serve
        } else {
            Decision::Refuse(Refusal::NoTokenForChange)
        };
    };
    let valid = |ok: bool| {
        if ok {
            Decision::Serve
        } else {
            Decision::Refuse(Refusal::Invalid)
        }
    };
    if let Some(bearer) = bearer_token(headers) {
        return valid(bearer.is_ok_and(|t| credentials.accepts_token(t)));
    }
    if !reads {
        return Decision::Refuse(Refusal::Missing);
    }
    if method == Method::GET && uri.path() == LOGIN_PATH {
        if let Some(token) = login_token(uri) {
            return match token {
                Some(t) if credentials.accepts_token(t.as_bytes()) => Decision::Login {
                    cookie: credentials.cookie_header(),
                },
                _ => Decision::Refuse(Refusal::Invalid),
            };
        }
    }
    match token_cookie(headers) {
        Some(value) if cookie_allowed(headers) => valid(credentials.accepts_cookie(value)),
        _ => Decision::Refuse(Refusal::Missing),
    }
}

/// What the layer shares: the credentials and the counter of refusals.
#[derive(Clone)]
pub(crate) struct Gate {
    credentials: Option<Arc<Credentials>>,
    telemetry: Telemetry,
}

impl Gate {
    pub(crate) fn new(access: Access, telemetry: Telemetry) -> Self {
        Self {
            credentials: access.credentials.map(Arc::new),
            telemetry,
        }
    }
}

/// The router layer: serves, logs a browser in, or answers 401 (counted).
pub(crate) async fn authorize(State(gate): State<Gate>, request: Request, next: Next) -> Response {
    match decide(
        gate.credentials.as_deref(),
        request.method(),
        request.uri(),
        request.headers(),
    ) {
        Decision::Serve => next.run(request).await,
        Decision::Login { cookie } => login(cookie),
        Decision::Refuse(refusal) => {
            gate.telemetry.web_request_unauthorized(refusal.reason());
            // The path only: a query may hold a token.
            tracing::debug!(
                method = %request.method(),
                path = request.uri().path(),
                reason = refusal.reason().as_str(),
                "web request unauthorized"
            );
            unauthorized(refusal)
        }
    }
}

/// `303` to the dashboard with the cookie set; the token stays out of the address bar and of
/// the next request's `Referer`.
fn login(cookie: String) -> Response {
    let Ok(cookie) = HeaderValue::try_from(cookie) else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    (
        StatusCode::SEE_OTHER,
        [
            (header::LOCATION, HeaderValue::from_static(LOGIN_PATH)),
            (header::SET_COOKIE, cookie),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            (
                header::REFERRER_POLICY,
                HeaderValue::from_static("no-referrer"),
            ),
        ],
    )
        .into_response()
}

fn unauthorized(refusal: Refusal) -> Response {
    (
        StatusCode::UNAUTHORIZED,
        [
            (
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(refusal.challenge()),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        Json(serde_json::json!({ "error": "unauthorized", "detail": refusal.detail() })),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "0123456789abcdef-secret";

    fn config(listen: &str, allow_unauthenticated: bool) -> WebConfig {
        WebConfig {
            listen: listen.parse().unwrap(),
            allow_unauthenticated,
            ..WebConfig::default()
        }
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    fn check(method: Method, uri: &str, pairs: &[(&'static str, &str)]) -> Decision {
        let c = Credentials::from_token(TOKEN);
        decide(Some(&c), &method, &uri.parse().unwrap(), &headers(pairs))
    }

    fn cookie() -> String {
        format!(
            "{TOKEN_COOKIE}={}",
            to_hex(&Credentials::from_token(TOKEN).cookie)
        )
    }

    #[test]
    fn loopback_is_127_slash_8_and_ipv6_one_only() {
        let cases = [
            ("127.0.0.1", true),
            ("127.1.2.3", true),
            ("127.255.255.254", true),
            ("::1", true),
            ("::ffff:127.0.0.1", true),
            ("0.0.0.0", false),
            ("::", false),
            ("10.0.0.1", false),
            ("192.168.1.10", false),
            ("128.0.0.1", false),
            ("126.255.255.255", false),
            ("::2", false),
            ("::ffff:10.0.0.1", false),
            ("fe80::1", false),
        ];
        for (ip, expected) in cases {
            assert_eq!(is_loopback(ip.parse().unwrap()), expected, "{ip}");
        }
    }

    #[test]
    fn digests_equal_only_when_every_byte_is() {
        let a = sha256(&[b"one"]);
        assert!(digests_equal(&a, &a.clone()));
        for i in [0, 15, 31] {
            let mut b = a;
            b[i] ^= 0x01;
            assert!(!digests_equal(&a, &b), "byte {i}");
        }
        assert!(!digests_equal(&[0; 32], &[0xff; 32]));
    }

    #[test]
    fn the_token_is_accepted_whole_and_nothing_else() {
        let c = Credentials::from_token(TOKEN);
        assert!(c.accepts_token(TOKEN.as_bytes()));
        for wrong in [
            "",
            "0123456789abcdef-secreT",
            "0123456789abcdef-secre",
            "0123456789abcdef-secret ",
            "x0123456789abcdef-secret",
        ] {
            assert!(!c.accepts_token(wrong.as_bytes()), "{wrong:?}");
        }
        let value = to_hex(&c.cookie);
        assert!(c.accepts_cookie(&value));
        assert_eq!(from_hex(&value), Some(c.cookie));
        assert!(
            !c.accepts_cookie(&to_hex(&c.bearer)),
            "the bearer digest is not the cookie"
        );
        assert!(!c.accepts_cookie(TOKEN), "the raw token is not the cookie");
        assert!(!c.accepts_cookie(&value[1..]));
        assert!(!c.accepts_cookie(&format!("{}zz", &value[2..])));
    }

    #[test]
    fn debug_and_cookie_never_show_the_token() {
        let c = Credentials::from_token(TOKEN);
        assert!(!format!("{c:?}").contains(TOKEN));
        let header = c.cookie_header();
        assert!(!header.contains(TOKEN), "{header}");
        assert!(header.starts_with("futures_collector_token="), "{header}");
        assert!(
            header.ends_with("; Path=/; HttpOnly; SameSite=Strict"),
            "{header}"
        );
    }

    #[test]
    fn access_needs_a_token_beyond_loopback_unless_allowed() {
        let token = || Some(OsString::from(TOKEN));
        // Beyond loopback: a token, or allow_unauthenticated.
        let c = config("0.0.0.0:9480", false);
        let e = Access::resolve(&c, None).unwrap_err();
        let text = e.to_string();
        assert!(text.contains("FUTURES_COLLECTOR_WEB_TOKEN"), "{text}");
        assert!(text.contains("allow_unauthenticated = true"), "{text}");
        assert!(text.contains("0.0.0.0:9480"), "{text}");
        assert_eq!(Access::resolve(&c, Some(OsString::new())).unwrap_err(), e);
        assert!(Access::resolve(&c, token()).unwrap().credentials.is_some());
        for listen in ["[::]:9480", "10.1.2.3:9480"] {
            assert!(
                Access::resolve(&config(listen, false), None).is_err(),
                "{listen}"
            );
        }
        let open = Access::resolve(&config("0.0.0.0:9480", true), None).unwrap();
        assert!(open.credentials.is_none() && open.open_beyond_loopback);
        let closed = Access::resolve(&config("0.0.0.0:9480", true), token()).unwrap();
        assert!(closed.credentials.is_some() && !closed.open_beyond_loopback);
        // Loopback: optional, required when set.
        for listen in ["127.0.0.1:9480", "[::1]:9480"] {
            let open = Access::resolve(&config(listen, false), None).unwrap();
            assert!(open.credentials.is_none() && !open.open_beyond_loopback);
            let closed = Access::resolve(&config(listen, false), token()).unwrap();
            assert!(closed.credentials.is_some());
        }
    }

    #[test]
    fn a_set_token_must_be_long_and_printable_and_errors_never_show_it() {
        let c = config("127.0.0.1:9480", false);
        let short = "fifteen-bytes!!";
        assert_eq!(short.len(), MIN_TOKEN_BYTES - 1);
        let e = Access::resolve(&c, Some(short.into())).unwrap_err();
        assert_eq!(
            e,
            TokenError::TooShort {
                variable: "FUTURES_COLLECTOR_WEB_TOKEN".into(),
                bytes: 15
            }
        );
        assert!(!e.to_string().contains(short), "{e}");
        assert!(Access::resolve(&c, Some(format!("{short}!").into())).is_ok());
        for bad in [
            "has a space in the middle",
            "trailing-newline-0123\n",
            "non-ascii-täöü-0123456",
        ] {
            let e = Access::resolve(&c, Some(bad.into())).unwrap_err();
            assert!(matches!(e, TokenError::NotPrintable { .. }), "{bad:?}: {e}");
            assert!(!e.to_string().contains(bad.trim()), "{e}");
        }
        #[cfg(unix)]
        {
            use std::os::unix::ffi::OsStringExt;
            let not_utf8 = OsString::from_vec(vec![0xff; 20]);
            assert!(matches!(
                Access::resolve(&c, Some(not_utf8)),
                Err(TokenError::NotPrintable { .. })
            ));
        }
    }

    #[test]
    fn probes_are_open_and_everything_else_needs_the_token() {
        let bearer = format!("Bearer {TOKEN}");
        for path in ["/healthz", "/readyz"] {
            assert_eq!(check(Method::GET, path, &[]), Decision::Serve);
            assert_eq!(check(Method::HEAD, path, &[]), Decision::Serve);
            assert_eq!(
                check(Method::POST, path, &[]),
                Decision::Refuse(Refusal::Missing),
                "POST {path}"
            );
        }
        for path in [
            "/",
            "/metrics",
            "/api/status",
            "/api/events",
            "/nope",
            "/healthz/",
        ] {
            assert_eq!(
                check(Method::GET, path, &[]),
                Decision::Refuse(Refusal::Missing)
            );
            assert_eq!(
                check(Method::GET, path, &[("authorization", &bearer)]),
                Decision::Serve
            );
            assert_eq!(
                check(
                    Method::GET,
                    path,
                    &[("authorization", "Bearer 0123456789abcdef-secreT")]
                ),
                Decision::Refuse(Refusal::Invalid)
            );
        }
        // The scheme is case-insensitive; other schemes are not a token.
        assert_eq!(
            check(
                Method::GET,
                "/metrics",
                &[("authorization", &format!("bearer {TOKEN}"))]
            ),
            Decision::Serve
        );
        for other in [
            format!("Basic {TOKEN}"),
            TOKEN.to_owned(),
            "Bearer".to_owned(),
        ] {
            assert_eq!(
                check(Method::GET, "/metrics", &[("authorization", &other)]),
                Decision::Refuse(Refusal::Invalid),
                "{other}"
            );
        }
        // A state change needs the header: a cookie is not enough.
        assert_eq!(
            check(Method::POST, "/api/status", &[("authorization", &bearer)]),
            Decision::Serve
        );
        assert_eq!(
            check(Method::POST, "/api/status", &[("cookie", &cookie())]),
            Decision::Refuse(Refusal::Missing)
        );
    }

    #[test]
    fn without_a_token_reads_are_open_and_changes_refused() {
        let none = |method: Method, path: &str| {
            decide(None, &method, &path.parse().unwrap(), &HeaderMap::new())
        };
        for path in ["/", "/metrics", "/api/status", "/healthz"] {
            assert_eq!(none(Method::GET, path), Decision::Serve);
            assert_eq!(none(Method::HEAD, path), Decision::Serve);
        }
        for method in [
            Method::POST,
            Method::PUT,
            Method::DELETE,
            Method::PATCH,
            Method::OPTIONS,
        ] {
            assert_eq!(
                none(method.clone(), "/api/status"),
                Decision::Refuse(Refusal::NoTokenForChange),
                "{method}"
            );
        }
    }

    #[test]
    fn the_dashboard_login_sets_a_same_site_cookie_that_reads_accept() {
        let login = check(Method::GET, &format!("/?token={TOKEN}"), &[]);
        let Decision::Login { cookie: header } = login else {
            panic!("{login:?}")
        };
        assert_eq!(header, Credentials::from_token(TOKEN).cookie_header());
        // Only a valid token, only on the dashboard page, only by GET.
        assert_eq!(
            check(Method::GET, "/?token=0123456789abcdef-secreT", &[]),
            Decision::Refuse(Refusal::Invalid)
        );
        assert_eq!(
            check(Method::GET, "/?token=", &[]),
            Decision::Refuse(Refusal::Invalid)
        );
        assert_eq!(
            check(Method::GET, &format!("/metrics?token={TOKEN}"), &[]),
            Decision::Refuse(Refusal::Missing)
        );
        assert_eq!(
            check(Method::POST, &format!("/?token={TOKEN}"), &[]),
            Decision::Refuse(Refusal::Missing)
        );
        // The cookie admits reads from this origin, or a typed address; never cross-site.
        let c = cookie();
        let with = |site: Option<&str>| {
            let mut pairs = vec![("cookie", c.as_str())];
            if let Some(site) = site {
                pairs.push(("sec-fetch-site", site));
            }
            check(Method::GET, "/api/status", &pairs)
        };
        assert_eq!(with(None), Decision::Serve);
        assert_eq!(with(Some("same-origin")), Decision::Serve);
        assert_eq!(with(Some("none")), Decision::Serve);
        assert_eq!(with(Some("cross-site")), Decision::Refuse(Refusal::Missing));
        assert_eq!(with(Some("same-site")), Decision::Refuse(Refusal::Missing));
        let among_others = format!("theme=dark; {c}; other=1");
        assert_eq!(
            check(Method::GET, "/api/events", &[("cookie", &among_others)]),
            Decision::Serve
        );
        assert_eq!(
            check(
                Method::GET,
                "/api/events",
                &[("cookie", &format!("{TOKEN_COOKIE}={TOKEN}"))]
            ),
            Decision::Refuse(Refusal::Invalid)
        );
    }
}
