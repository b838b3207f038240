//! Bounded fuzzing of the two ways outside bytes enter the collector: config files (TOML, YAML,
//! JSON; the loader runs in this process, every outcome must be `Ok` or a clean error, never a
//! panic or a hang) and plugin files (garbage, truncated ELF, wrong architecture; the real
//! binary's `plugins --dir` must report each file as unusable and exit 2, never crash).
//!
//! Deterministic: a fixed seed per test, so a failure names the input that caused it and
//! repeats. The number of cases is bounded to keep the test command fast.

use std::{
    io::Write as _,
    path::{Path, PathBuf},
    process::Command,
    time::{Duration, Instant},
};

use futures_collector::config::{load, Environment, LoadRequest};
use integration_tests::{host_binary, plugin_path};

/// Mutated config documents tried per seed document.
const CONFIG_CASES_PER_SEED: usize = 400;
/// Longest a single load may take (a hang or a quadratic blow-up fails the test).
const LOAD_TIME_LIMIT: Duration = Duration::from_secs(2);

/// xorshift64*: small, deterministic, good enough to pick mutations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

/// Bytes that tend to matter to the three parsers.
const INTERESTING: &[&[u8]] = &[
    b"\"",
    b"'",
    b"[",
    b"]",
    b"{",
    b"}",
    b"=",
    b":",
    b",",
    b"\n",
    b"\\",
    b"\\u0000",
    b"\0",
    b"\xff\xfe",
    b"${",
    b"${UNDEFINED_VAR}",
    b"-1",
    b"1e999",
    b"18446744073709551616",
    b"0x7fffffff",
    b"nan",
    b"inf",
    b"\"1000000h\"",
    b"&anchor",
    b"*anchor",
    b"!!binary",
    b"extends = \"base\"\n",
    b"[exchanges.x]\n",
    b"[[sink.queues]]\n",
];

/// One random edit of `doc`.
fn mutate(rng: &mut Rng, doc: &[u8]) -> Vec<u8> {
    let mut out = doc.to_vec();
    for _ in 0..=rng.below(4) {
        let at = rng.below(out.len() + 1);
        match rng.below(7) {
            0 if !out.is_empty() => {
                let i = rng.below(out.len());
                out[i] ^= 1 << rng.below(8);
            }
            1 => {
                let piece = INTERESTING[rng.below(INTERESTING.len())];
                out.splice(at..at, piece.iter().copied());
            }
            2 => {
                let end = (at + rng.below(64)).min(out.len());
                out.drain(at..end);
            }
            3 => {
                let end = (at + rng.below(128)).min(out.len());
                let copy: Vec<u8> = out[at..end].to_vec();
                out.splice(at..at, copy);
            }
            4 => out.truncate(at),
            5 => {
                // A long value: the loader must refuse or accept it without echoing it whole.
                let long = vec![b'a'; 1 + rng.below(200_000)];
                out.splice(at..at, long);
            }
            _ => {
                let byte = (rng.next() & 0xff) as u8;
                out.insert(at, byte);
            }
        }
    }
    out
}

/// Loads `bytes` as a config file named `name` in `dir`; panics naming the input if the loader
/// panics or takes too long. Returns the error text, if any.
fn load_case(dir: &Path, name: &str, bytes: &[u8], what: &str) -> Option<String> {
    let path = dir.join(name);
    std::fs::write(&path, bytes).expect("write case");
    let request = LoadRequest {
        path: path.clone(),
        profile: None,
    };
    let env = Environment::from_pairs([("DEFINED_VAR", "x")]);
    let started = Instant::now();
    let outcome = std::panic::catch_unwind(|| load(&request, &env).err().map(|e| e.to_string()));
    let took = started.elapsed();
    let shown = String::from_utf8_lossy(&bytes[..bytes.len().min(300)]).into_owned();
    let error =
        outcome.unwrap_or_else(|_| panic!("{what}: the config loader panicked on {shown:?}"));
    assert!(
        took < LOAD_TIME_LIMIT,
        "{what}: loading took {took:?} on {shown:?}"
    );
    if let Some(text) = &error {
        assert!(!text.is_empty(), "{what}: an empty error for {shown:?}");
    }
    error
}

/// The shipped base config, and the same settings in YAML and JSON.
fn seeds() -> Vec<(&'static str, Vec<u8>)> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let base = std::fs::read(root.join("config/base.toml")).expect("config/base.toml");
    let yaml = b"plugins:\n  dir: plugins\nsink:\n  type: jsonl\n  path: data/records.jsonl\nexchanges:\n  binance:\n    enabled: true\n    base_url: http://127.0.0.1:1\n    intervals:\n      tickers: 5s\n      funding: 30s\nweb:\n  listen: 127.0.0.1:0\n".to_vec();
    let json = br##"{"plugins":{"dir":"plugins"},"sink":{"type":"amqp","url":"amqp://127.0.0.1:1/%2f","spool_dir":"spool","queues":[{"name":"q","bindings":["#"]}]},"exchanges":{"okx":{"enabled":true,"intervals":{"tickers":"2s"}}},"alerts":{"disabled":["stale"]}}"##.to_vec();
    vec![("toml", base), ("yaml", yaml), ("json", json)]
}

#[test]
fn mutated_config_files_load_or_fail_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng(0x5eed_0001_c0f1_9000);
    let mut errors = 0;
    for (ext, seed) in seeds() {
        // The seed itself is a valid document of its format.
        let _ = load_case(dir.path(), &format!("seed.{ext}"), &seed, "seed");
        for case in 0..CONFIG_CASES_PER_SEED {
            let bytes = mutate(&mut rng, &seed);
            let what = format!("{ext} case {case}");
            if load_case(dir.path(), &format!("case.{ext}"), &bytes, &what).is_some() {
                errors += 1;
            }
        }
    }
    // Most mutations break the document: the loader said so each time.
    assert!(errors > CONFIG_CASES_PER_SEED, "{errors} errors");
}

#[test]
fn hostile_config_documents_fail_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let deep = 100_000;
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("toml", format!("a = {}{}", "[".repeat(deep), "]".repeat(deep)).into_bytes()),
        ("toml", format!("a = {}{}", "{b = ".repeat(deep), "}".repeat(deep)).into_bytes()),
        ("json", format!("{{\"a\":{}{}}}", "[".repeat(deep), "]".repeat(deep)).into_bytes()),
        ("yaml", format!("a: {}{}", "[".repeat(deep), "]".repeat(deep)).into_bytes()),
        ("yaml", "a:\n".to_owned().into_bytes().into_iter().chain((0..5_000).flat_map(|i| format!("{}- x\n", " ".repeat(i % 400)).into_bytes())).collect()),
        // Billion laughs: aliases that expand exponentially.
        ("yaml", b"a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]\ng: [*f, *f, *f, *f, *f, *f, *f, *f, *f]\n".to_vec()),
        ("toml", b"extends = \"case\"\n".to_vec()),
        ("toml", b"\xef\xbb\xbf[plugins]\ndir = \"x\"\n".to_vec()),
        ("toml", b"[plugins]\ndir = \"\xff\xfe\"\n".to_vec()),
        ("toml", b"[sink]\ntype = \"jsonl\"\npath = \"a\0b\"\n".to_vec()),
        ("toml", format!("[exchanges.{}]\nenabled = true\n", "x".repeat(1 << 20)).into_bytes()),
        ("json", vec![b' '; 1 << 20]),
        ("json", Vec::new()),
    ];
    for (n, (ext, bytes)) in cases.iter().enumerate() {
        let error = load_case(
            dir.path(),
            &format!("case.{ext}"),
            bytes,
            &format!("hostile case {n}"),
        );
        assert!(error.is_some(), "hostile case {n} was accepted");
    }
}

/// What `futures-collector plugins --dir` says about a folder of broken plugin files.
fn plugins_report(dir: &Path) -> (Option<i32>, String) {
    let out = Command::new(host_binary())
        .args(["plugins", "--dir"])
        .arg(dir)
        .output()
        .expect("run plugins --dir");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code(), text)
}

fn write_file(path: &Path, bytes: &[u8]) {
    let mut f = std::fs::File::create(path).expect("create");
    f.write_all(bytes).expect("write");
}

#[test]
fn broken_plugin_files_are_refused_without_crashing_the_loader() {
    let real = std::fs::read(plugin_path("fc_plugin_binance")).expect("binance plugin");
    assert_eq!(&real[..4], b"\x7fELF");
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng(0x5eed_0002_e1f0_0001);
    let mut names = Vec::new();
    let mut add = |name: String, bytes: &[u8]| {
        write_file(&dir.path().join(&name), bytes);
        names.push(name);
    };
    add("empty.so".into(), b"");
    add("text.so".into(), b"not a shared library\n");
    add("elf-magic-only.so".into(), b"\x7fELF");
    // Truncated copies of a real plugin, cut inside the headers and inside the sections.
    for cut in [
        16,
        52,
        64,
        200,
        1_000,
        4_096,
        real.len() / 3,
        real.len() / 2,
        real.len() - 1,
    ] {
        add(format!("truncated-{cut}.so"), &real[..cut]);
    }
    // Another architecture (aarch64) and another ELF class (32-bit).
    let mut arm = real.clone();
    arm[18..20].copy_from_slice(&183u16.to_le_bytes());
    add("aarch64.so".into(), &arm);
    let mut class32 = real.clone();
    class32[4] = 1;
    add("elf32.so".into(), &class32);
    // Random bytes behind a valid ELF header, and random bytes alone.
    for n in 0..6 {
        let mut bytes = real[..64].to_vec();
        bytes.extend((0..rng.below(100_000)).map(|_| (rng.next() & 0xff) as u8));
        add(format!("elf-garbage-{n}.so"), &bytes);
        let random: Vec<u8> = (0..rng.below(10_000))
            .map(|_| (rng.next() & 0xff) as u8)
            .collect();
        add(format!("garbage-{n}.so"), &random);
    }
    // A few flipped bytes in the first 4 KiB of a real plugin (headers, dynamic section,
    // symbol versions).
    for n in 0..30 {
        let mut bytes = real.clone();
        for _ in 0..4 {
            let at = rng.below(4096);
            bytes[at] ^= 1 << rng.below(8);
        }
        add(format!("flipped-{n}.so"), &bytes);
    }
    let (code, report) = plugins_report(dir.path());
    assert_eq!(
        code,
        Some(2),
        "plugins --dir must end with exit 2 (some files unusable), not crash:\n{report}"
    );
    // Some damaged copies pass every header check and crash `dlopen` itself: the probe
    // process takes the crash (without it, `plugins --dir` died of SIGSEGV here).
    assert!(
        report.contains("crashed a probe process"),
        "no damaged file reached the probe:\n{report}"
    );
    for name in names.iter().filter(|n| !n.starts_with("flipped-")) {
        assert!(
            report.lines().any(|l| l.contains(name.as_str())),
            "{name} not reported:\n{report}"
        );
    }
}
