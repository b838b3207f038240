//! Plugin trust with the real binary and the real plugin `.so` files: a temp directory planted
//! by another user (the old predictable copy path, holding symlinks to a root-owned file) is
//! never used or written and nothing is left in the temp directory after SIGTERM; a
//! world-writable plugin file is refused naming it while the other plugins keep collecting; two
//! files with one exchange id are refused naming both while the running one keeps serving;
//! retired versions are counted and alert past `[plugins] max_retired`; pins refuse a file whose
//! SHA-256 does not match; the private-directory fallback leaves nothing behind.

mod collector_process;

use std::{
    os::unix::fs::{MetadataExt, PermissionsExt},
    path::{Path, PathBuf},
    process::Command,
};

use collector_process::{alert, metrics, status, status_where, Collector, Scene, EXCHANGES};
use futures_collector::plugins::{
    load_plugin_with, private_directory, remove_private_directory, CopyMethod, LoadPolicy,
};
use integration_tests::{deploy_plugin, host_binary, plugin_dir_with, plugin_path, REAL_PLUGINS};
use plugin_api::abi_stable::std_types::{ROption, RSlice, RStr};
use serde_json::Value;

/// uid and gid of `nobody`: the "other user" of these tests (they run as root).
const NOBODY: u32 = 65534;
/// Contents of the root-owned file a planted symlink points at.
const VICTIM_TEXT: &str = "root-only secret\n";

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// Plants what the old loader used: `$TMPDIR/futures-collector-$$`, owned by nobody, holding
/// `<stem>-<n>.so` symlinks to `$VICTIM`, then execs the collector (same pid).
const PLANT_THEN_EXEC: &str = r#"
d="$TMPDIR/futures-collector-$$"
mkdir "$d" || exit 90
for n in 1 2 3 4 5 6 7 8; do
  for s in libfc_plugin_binance libfc_plugin_bybit libfc_plugin_okx; do
    ln -s "$VICTIM" "$d/$s-$n.so" || exit 91
  done
done
chown -hR 65534:65534 "$d" || exit 92
exec "$@"
"#;

struct PlantedTemp {
    temp: tempfile::TempDir,
    victim: PathBuf,
}

impl PlantedTemp {
    fn new() -> Self {
        let temp = tempfile::tempdir().unwrap();
        // Like /tmp: everybody may create entries.
        chmod(temp.path(), 0o1777);
        let victim = temp.path().join("victim.conf");
        std::fs::write(&victim, VICTIM_TEXT).unwrap();
        chmod(&victim, 0o600);
        Self { temp, victim }
    }

    /// `sh -c PLANT_THEN_EXEC sh <args…>` with this temp directory as `TMPDIR`.
    fn command(&self, args: &[&std::ffi::OsStr]) -> Command {
        let mut command = Command::new("sh");
        command
            .arg("-c")
            .arg(PLANT_THEN_EXEC)
            .arg("sh")
            .args(args)
            .env("TMPDIR", self.temp.path())
            .env("VICTIM", &self.victim);
        command
    }

    fn planted(&self, pid: u32) -> PathBuf {
        self.temp.path().join(format!("futures-collector-{pid}"))
    }

    /// The victim is untouched, the planted directory still holds only the links, and nothing
    /// else appeared in the temp directory.
    fn assert_untouched(&self, pid: u32) {
        let meta = std::fs::metadata(&self.victim).unwrap();
        assert_eq!(std::fs::read_to_string(&self.victim).unwrap(), VICTIM_TEXT);
        assert_eq!(meta.mode() & 0o7777, 0o600, "victim mode unchanged");
        assert_eq!(meta.uid(), 0);
        let planted = self.planted(pid);
        let meta = std::fs::symlink_metadata(&planted).expect("planted directory still there");
        assert_eq!(meta.uid(), NOBODY);
        let entries: Vec<_> = std::fs::read_dir(&planted)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        assert_eq!(entries.len(), 24, "{entries:?}");
        for entry in entries {
            assert_eq!(std::fs::read_link(&entry).unwrap(), self.victim);
        }
        let mut names: Vec<String> = std::fs::read_dir(self.temp.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(
            names,
            [format!("futures-collector-{pid}"), "victim.conf".to_owned()],
            "nothing else in the temp directory"
        );
    }
}

#[test]
fn plugins_command_never_uses_a_planted_temp_directory() {
    let planted = PlantedTemp::new();
    let dir = tempfile::tempdir().unwrap();
    let plugin_dir = plugin_dir_with(dir.path(), &REAL_PLUGINS);
    let bin = host_binary();
    let out = planted
        .command(&[
            bin.as_os_str(),
            "plugins".as_ref(),
            "--dir".as_ref(),
            plugin_dir.as_os_str(),
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for id in ["binance", "bybit", "okx"] {
        assert!(stdout.contains(&format!("exchange={id} ")), "{stdout}");
    }
    // The shell exec'd the collector: its pid is the one the directory was planted for.
    let pid = std::fs::read_dir(planted.temp.path())
        .unwrap()
        .filter_map(|e| {
            e.unwrap()
                .file_name()
                .to_string_lossy()
                .strip_prefix("futures-collector-")
                .and_then(|p| p.parse::<u32>().ok())
        })
        .next()
        .expect("the planted directory");
    planted.assert_untouched(pid);
}

#[test]
fn plugins_command_reports_refusals_hashes_and_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    let plugin_dir = plugin_dir_with(dir.path(), &["fc_plugin_binance", "fc_plugin_bybit"]);
    deploy_as("fc_plugin_bybit", &plugin_dir, "bybit_copy.so");
    let binance = plugin_dir.join("libfc_plugin_binance.so");
    chmod(&binance, 0o666);
    let list = |extra: &[&str]| {
        let out = Command::new(host_binary())
            .args(["plugins", "--dir"])
            .arg(&plugin_dir)
            .args(extra)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, stdout, _) = list(&[]);
    assert_eq!(code, Some(2), "{stdout}");
    let line = stdout
        .lines()
        .find(|l| l.starts_with("libfc_plugin_binance.so"))
        .unwrap();
    assert!(
        line.contains("ERROR") && line.contains("plugin file refused"),
        "{line}"
    );
    assert!(
        line.contains(&format!("(sha256={})", sha256sum(&binance))),
        "a refused file is still hashed: {line}"
    );
    assert!(
        stdout.contains(
            "ERROR exchange id bybit is declared by bybit_copy.so, libfc_plugin_bybit.so"
        ),
        "{stdout}"
    );

    let (code, stdout, stderr) = list(&["--allow-insecure-permissions"]);
    assert_eq!(code, Some(2), "the duplicate remains: {stdout}");
    assert!(
        stdout.contains("libfc_plugin_binance.so: exchange=binance"),
        "{stdout}"
    );
    assert!(
        stderr.contains("warning:") && stderr.contains("libfc_plugin_binance.so"),
        "a waived check is still reported: {stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn planted_temp_directory_is_never_used_and_sigterm_leaves_nothing() {
    let scene = Scene::new(&REAL_PLUGINS, "", "").await;
    let planted = PlantedTemp::new();
    let bin = host_binary();
    let collector = Collector::spawn(planted.command(&[
        bin.as_os_str(),
        "--log-format".as_ref(),
        "json".as_ref(),
        "run".as_ref(),
        "--config".as_ref(),
        scene.config.as_os_str(),
    ]));
    let pid = collector.pid();
    for id in EXCHANGES {
        assert!(scene.more_records(id, 0).await, "{id} collects");
    }
    // Loaded from sealed memfds: no plugin is mapped from a file in the temp directory.
    let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).unwrap();
    let memfd_mapped = maps
        .lines()
        .filter(|l| l.contains("/memfd:futures-collector-plugin-"))
        .count();
    assert!(memfd_mapped >= 3, "plugins mapped from memfds:\n{maps}");
    let temp = planted.temp.path().display().to_string();
    assert!(
        !maps.lines().any(|l| l.contains(&temp)),
        "nothing mapped from the temp directory:\n{maps}"
    );

    scene.finish(collector).await;
    planted.assert_untouched(pid);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn world_writable_plugin_is_refused_and_the_others_keep_collecting() {
    let scene = Scene::new(&REAL_PLUGINS, "", "").await;
    let okx = scene.plugin("libfc_plugin_okx.so");
    chmod(&okx, 0o666);
    let (collector, base) = scene.run().await;

    // Refused with a message naming the file and the fix: in the log, the status, a metric and
    // an alert.
    let s = status_where(&base, |s| alert(s, "plugin_refused").is_some()).await;
    let refusals = s["plugin_refusals"].as_array().unwrap();
    assert_eq!(refusals.len(), 1, "{s:#}");
    assert_eq!(refusals[0]["path"], okx.display().to_string());
    assert_eq!(refusals[0]["reason"], "writable");
    let message = refusals[0]["message"].as_str().unwrap();
    assert!(message.contains("libfc_plugin_okx.so"), "{message}");
    assert!(
        message.contains("writable by group and others (mode 0666)"),
        "{message}"
    );
    assert!(message.contains("chmod go-w"), "{message}");
    let refused = alert(&s, "plugin_refused").unwrap();
    assert_eq!(refused["severity"], "critical");
    assert_eq!(refused["subject"], okx.display().to_string());
    let logged = collector.logged("plugin refused");
    assert!(
        logged.iter().any(|l| l["error"]
            .as_str()
            .is_some_and(|e| e.contains("libfc_plugin_okx.so"))),
        "{logged:?}"
    );
    let text = metrics(&base).await;
    assert!(
        text.contains("futures_collector_plugin_files_refused{reason=\"writable\"} 1"),
        "{text}"
    );
    assert!(
        !s["plugins"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["exchange_id"] == "okx"),
        "okx not loaded: {s:#}"
    );

    // The others keep collecting; okx writes nothing.
    for id in ["binance", "bybit"] {
        let now = scene.records_of(id);
        assert!(scene.more_records(id, now).await, "{id} keeps collecting");
    }
    assert_eq!(scene.records_of("okx"), 0);

    // Fixed as the message says: loaded at once (the watcher sees the mode change).
    chmod(&okx, 0o755);
    assert!(scene.more_records("okx", 0).await, "okx starts once fixed");
    status_where(&base, |s| {
        s["plugin_refusals"].as_array().is_some_and(Vec::is_empty)
    })
    .await;
    scene.finish(collector).await;
}

/// Copies `lib` into `dir` as `name` the way operators deploy (write, then rename).
fn deploy_as(lib: &str, dir: &Path, name: &str) -> PathBuf {
    let tmp = dir.join(format!(".{name}.tmp"));
    std::fs::copy(plugin_path(lib), &tmp).unwrap();
    let dest = dir.join(name);
    std::fs::rename(&tmp, &dest).unwrap();
    dest
}

fn refusal_messages(s: &Value) -> Vec<String> {
    s["plugin_refusals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["message"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_file_with_a_served_exchange_id_is_refused_naming_both() {
    let scene = Scene::new(&["fc_plugin_binance"], "", "").await;
    let original = scene.plugin("libfc_plugin_binance.so");
    let (collector, base) = scene.run().await;
    assert!(scene.more_records("binance", 0).await);

    let copy = deploy_as("fc_plugin_binance", &scene.plugin_dir, "binance_copy.so");
    let s = status_where(&base, |s| !refusal_messages(s).is_empty()).await;
    let messages = refusal_messages(&s);
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert!(
        messages[0].starts_with(&copy.display().to_string())
            && messages[0].contains(&format!("{} already serves", original.display())),
        "names both files: {}",
        messages[0]
    );
    assert_eq!(s["plugin_refusals"][0]["reason"], "duplicate");
    let serving = &s["plugins"].as_array().unwrap()[0];
    assert_eq!(
        serving["file"], "libfc_plugin_binance.so",
        "the running one stays"
    );
    let now = scene.records_of("binance");
    assert!(
        scene.more_records("binance", now).await,
        "and keeps serving"
    );

    // The conflict resolves when one file goes: the other serves.
    std::fs::remove_file(&original).unwrap();
    let s = status_where(&base, |s| {
        s["plugins"]
            .as_array()
            .is_some_and(|p| p.len() == 1 && p[0]["file"] == "binance_copy.so")
    })
    .await;
    assert!(refusal_messages(&s).is_empty(), "{s:#}");
    let now = scene.records_of("binance");
    assert!(scene.more_records("binance", now).await);
    scene.finish(collector).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_files_with_one_exchange_id_at_start_up_are_both_refused() {
    let scene = Scene::new(&["fc_plugin_bybit"], "", "").await;
    deploy_as("fc_plugin_bybit", &scene.plugin_dir, "bybit_copy.so");
    let (collector, base) = scene.run().await;
    let s = status_where(&base, |s| refusal_messages(s).len() == 2).await;
    for message in refusal_messages(&s) {
        assert!(
            message.contains("bybit_copy.so") && message.contains("libfc_plugin_bybit.so"),
            "{message}"
        );
        assert!(message.contains("none of them is loaded"), "{message}");
    }
    assert!(
        s["plugins"].as_array().unwrap().is_empty(),
        "neither is picked: {s:#}"
    );
    scene.finish(collector).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retired_versions_are_counted_and_alert_past_the_limit() {
    // Replacements serve at once here (no canary), so each retires its predecessor.
    let scene = Scene::new(
        &["fc_plugin_okx"],
        "max_retired = 1\ncanary_cycles = 0\n",
        "",
    )
    .await;
    let (collector, base) = scene.run().await;
    assert!(scene.more_records("okx", 0).await);
    let s = status(&base).await;
    assert_eq!(s["retired_plugins"]["versions"], 0, "{s:#}");
    assert_eq!(s["retired_plugins"]["max"], 1);

    for replacement in 1..=2u64 {
        deploy_plugin("fc_plugin_okx", &scene.plugin_dir);
        status_where(&base, |s| {
            s["retired_plugins"]["versions"].as_u64() == Some(replacement)
        })
        .await;
    }
    let s = status_where(&base, |s| alert(s, "plugins_retired").is_some()).await;
    let mapped = s["retired_plugins"]["mapped_bytes"].as_u64().unwrap();
    assert!(mapped > 1 << 20, "two debug builds map megabytes: {mapped}");
    let retired = alert(&s, "plugins_retired").unwrap();
    assert!(
        retired["summary"]
            .as_str()
            .unwrap()
            .contains("a restart reclaims the memory"),
        "{retired}"
    );
    let text = metrics(&base).await;
    assert!(
        text.contains("futures_collector_plugins_retired 2"),
        "{text}"
    );
    assert!(
        text.contains("futures_collector_plugins_retired_max 1"),
        "{text}"
    );
    let now = scene.records_of("okx");
    assert!(
        scene.more_records("okx", now).await,
        "the newest version serves"
    );
    scene.finish(collector).await;
}

fn sha256sum(path: &Path) -> String {
    let out = Command::new("sha256sum").arg(path).output().unwrap();
    String::from_utf8(out.stdout)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pins_refuse_files_whose_sha256_differs() {
    let binance_sha = sha256sum(&plugin_path("fc_plugin_binance"));
    let wrong = "0".repeat(64);
    let pins = format!("\n[plugins.pins]\nbinance = \"{binance_sha}\"\nokx = \"{wrong}\"\n");
    // Three plugins: binance pinned right, okx pinned wrong, bybit not pinned at all.
    let scene = Scene::new(
        &["fc_plugin_binance", "fc_plugin_bybit", "fc_plugin_okx"],
        "",
        &pins,
    )
    .await;

    // `plugins --dir` prints the value a pin expects.
    let out = Command::new(host_binary())
        .args(["plugins", "--dir"])
        .arg(&scene.plugin_dir)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .find(|l| l.starts_with("libfc_plugin_binance.so"))
        .unwrap();
    assert!(line.ends_with(&format!("sha256={binance_sha}")), "{line}");

    let (collector, base) = scene.run().await;
    let s = status_where(&base, |s| refusal_messages(s).len() == 2).await;
    let refusals = s["plugin_refusals"].as_array().unwrap();
    for r in refusals {
        assert_eq!(r["reason"], "pin", "{r}");
    }
    // okx: its digest is not the pinned one; bybit: pins are all-or-nothing.
    let by_path = |p: &str| {
        refusals
            .iter()
            .find(|r| r["path"].as_str().unwrap().ends_with(p))
            .unwrap_or_else(|| panic!("{p} not refused: {s:#}"))["message"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let okx_message = by_path("libfc_plugin_okx.so");
    let okx = scene.plugin("libfc_plugin_okx.so");
    assert!(
        okx_message.contains(&okx.display().to_string()),
        "{okx_message}"
    );
    assert!(
        okx_message.contains("matches no [plugins.pins] entry"),
        "{okx_message}"
    );
    by_path("libfc_plugin_bybit.so");
    assert!(
        scene.more_records("binance", 0).await,
        "the pinned plugin runs"
    );
    assert_eq!(scene.records_of("okx"), 0);
    scene.finish(collector).await;
}

/// Replaces the config file the way editors save (write a temporary file, rename it over).
fn save_config(config: &Path, text: &str) {
    let tmp = config.with_extension("toml.tmp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, config).unwrap();
}

/// The last reload's result and message, once one at or after `after_ms` is reported.
async fn reload_after(base: &str, after_ms: i64) -> (String, String) {
    let s = status_where(base, |s| {
        s["config"]["last_reload"]["ts_ms"]
            .as_i64()
            .is_some_and(|ts| ts >= after_ms)
    })
    .await;
    let reload = &s["config"]["last_reload"];
    (
        reload["result"].as_str().unwrap().to_owned(),
        reload["message"].as_str().unwrap().to_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reloads_to_an_insecure_plugin_or_config_directory_are_refused() {
    let scene = Scene::new(&["fc_plugin_okx"], "", "").await;
    let (collector, base) = scene.run().await;
    assert!(scene.more_records("okx", 0).await);
    let text = std::fs::read_to_string(&scene.config).unwrap();
    let now_ms = |s: &Value| s["now_ms"].as_i64().unwrap();

    // A plugin directory others can write: the reload is rolled back, the old one stays.
    let open_dir = scene.dir.path().join("open-plugins");
    std::fs::create_dir(&open_dir).unwrap();
    chmod(&open_dir, 0o777);
    let plugin_dir = scene.plugin_dir.display().to_string();
    let started = now_ms(&status(&base).await);
    save_config(
        &scene.config,
        &text.replace(
            &format!("{plugin_dir:?}"),
            &format!("{:?}", open_dir.display().to_string()),
        ),
    );
    let (result, message) = reload_after(&base, started).await;
    assert_eq!(result, "rolled_back", "{message}");
    assert!(
        message.contains(&format!("{}: plugin directory refused", open_dir.display())),
        "{message}"
    );

    // A config directory others can write: the reload is rejected.
    chmod(scene.dir.path(), 0o777);
    let started = now_ms(&status(&base).await);
    save_config(
        &scene.config,
        &text.replace("evaluate_every = \"1s\"", "evaluate_every = \"2s\""),
    );
    let (result, message) = reload_after(&base, started).await;
    chmod(scene.dir.path(), 0o700);
    assert_eq!(result, "invalid", "{message}");
    assert!(message.contains("config directory refused"), "{message}");

    let now = scene.records_of("okx");
    assert!(scene.more_records("okx", now).await, "collection went on");
    scene.finish(collector).await;
}

#[test]
fn truncated_or_damaged_plugin_files_are_refused_before_mapping() {
    let real = std::fs::read(plugin_path("fc_plugin_okx")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    // The first loadable segment (program headers: 56 bytes each after the 64-byte ELF
    // header) given another type leaves the dynamic symbols unmapped: dlopen crashes on them.
    let first_load = (0..)
        .map(|i| 64 + i * 56)
        .find(|at| real[*at..*at + 4] == 1u32.to_le_bytes())
        .unwrap();
    let mut first_load_gone = real.clone();
    first_load_gone[first_load + 1] ^= 1;
    let cases: [(&str, &[u8], &str); 4] = [
        ("cut-in-headers.so", &real[..200], "program headers"),
        (
            "cut-in-segment.so",
            &real[..4096],
            "ends past the end of the file",
        ),
        (
            "first-load-gone.so",
            &first_load_gone,
            "does not start the file",
        ),
        (
            "aarch64.so",
            &{
                let mut b = real.clone();
                b[18] = 183;
                b
            },
            "another machine",
        ),
    ];
    for (name, bytes, expected) in cases {
        let file = dir.path().join(name);
        std::fs::write(&file, bytes).unwrap();
        let err = load_plugin_with(&file, &LoadPolicy::default()).unwrap_err();
        let line = err.to_string();
        assert!(
            line.contains(name) && line.contains("not a futures-collector plugin"),
            "{line}"
        );
        assert!(line.contains(expected), "{name}: {line}");
    }
}

#[test]
fn private_directory_fallback_is_private_and_removed() {
    let policy = LoadPolicy {
        copy: CopyMethod::PrivateDirectory,
        ..LoadPolicy::default()
    };
    let plugin = load_plugin_with(&plugin_path("fc_plugin_bybit"), &policy).unwrap();
    assert_eq!(plugin.exchange_id(), "bybit");
    assert!(plugin.mapped_bytes > 0);
    let ctx = plugin_api::Context {
        exchange_id: RStr::from_str("bybit"),
        now_ms: 0,
        instruments: RSlice::from_slice(&[]),
        options: RSlice::from_slice(&[]),
        credentials: ROption::RNone,
    };
    assert!(!plugin
        .build_requests("instruments", &ctx)
        .unwrap()
        .is_empty());
    let dir = private_directory().expect("the fallback directory");
    let meta = std::fs::symlink_metadata(&dir).unwrap();
    assert!(meta.is_dir());
    assert_eq!(meta.mode() & 0o777, 0o700);
    assert_eq!(
        std::fs::read_dir(&dir).unwrap().count(),
        0,
        "the copy is unlinked once mapped"
    );
    remove_private_directory();
    assert!(!dir.exists(), "removed at exit");
}
