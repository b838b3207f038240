//! The release package as an operator installs it: `scripts/package --debug` (the debug build,
//! so CI needs no release build) makes the tarball, which is unpacked into an empty directory
//! (root-owned, as a package manager would leave it, with only `data/` given to the service
//! user) and run there as the unprivileged user `nobody` with nothing from the checkout: the
//! checksums verify, `check-config` passes, `run` against the exchange emulator becomes ready
//! (`/readyz` 200) and writes records under the install, SIGTERM exits 0.

mod collector_process;

use std::{
    path::{Path, PathBuf},
    process::Command,
    time::{Duration, Instant},
};

use collector_process::{Collector, PATIENCE};
use integration_tests::{host_binary, read_records, spawn_default_emulator, workspace_root};

/// The unprivileged account the package runs as: uid and gid of `nobody`.
fn nobody() -> (u32, u32) {
    let id = |flag: &str| -> u32 {
        let out = Command::new("id")
            .args([flag, "nobody"])
            .output()
            .expect("run `id`");
        assert!(
            out.status.success(),
            "this machine has no user `nobody`: the package cannot be run unprivileged"
        );
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .expect("numeric id")
    };
    (id("-u"), id("-g"))
}

/// `program args…` as `nobody` through `setpriv` (util-linux), from `cwd`, with an empty
/// environment: nothing of the test's (or CI's) environment leaks into the installed collector.
fn as_nobody(cwd: &Path, program: &str, args: &[&str]) -> Command {
    let setpriv = ["/usr/bin/setpriv", "/bin/setpriv"]
        .into_iter()
        .find(|p| Path::new(p).is_file())
        .expect("setpriv (Debian package util-linux) is needed to run the package unprivileged");
    let (uid, gid) = nobody();
    let mut command = Command::new(setpriv);
    command
        .arg(format!("--reuid={uid}"))
        .arg(format!("--regid={gid}"))
        .args(["--clear-groups", "--inh-caps=-all", "--"])
        .arg(program)
        .args(args)
        .current_dir(cwd)
        .env_clear()
        .env("PATH", "/usr/bin:/bin");
    command
}

/// Builds the debug package into `out` and returns the tarball's path.
fn build_package(out: &Path) -> PathBuf {
    let target_dir = host_binary()
        .parent()
        .and_then(Path::parent)
        .expect("target dir")
        .to_owned();
    let output = Command::new(workspace_root().join("scripts/package"))
        .args(["--debug", "--no-build", "--out"])
        .arg(out)
        .env("CARGO_TARGET_DIR", &target_dir)
        .output()
        .expect("run scripts/package");
    assert!(
        output.status.success(),
        "scripts/package failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let tarball = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
    let name = tarball.file_name().unwrap().to_string_lossy().into_owned();
    let version = std::fs::read_to_string(workspace_root().join("host/Cargo.toml"))
        .unwrap()
        .lines()
        .find_map(|l| {
            l.strip_prefix("version = \"")?
                .strip_suffix('"')
                .map(str::to_owned)
        })
        .expect("version in host/Cargo.toml");
    assert!(
        name.starts_with(&format!("futures-collector-{version}-")) && name.ends_with(".tar.gz"),
        "tarball name {name} does not carry version {version}"
    );
    assert!(tarball.is_file(), "{} missing", tarball.display());
    tarball
}

fn chmod(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// The real uid of a running process, from `/proc/<pid>/status`.
fn process_uid(pid: u32) -> u32 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|u| u.parse().ok())
        .expect("Uid line")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unpacked_package_runs_unprivileged_becomes_ready_and_stops_cleanly() {
    let work = tempfile::tempdir().unwrap();
    let tarball = build_package(&work.path().join("dist"));

    // An empty directory that only the package goes into, readable by the service user.
    let install = work.path().join("install");
    std::fs::create_dir(&install).unwrap();
    chmod(work.path(), 0o755);
    chmod(&install, 0o755);
    let untar = Command::new("tar")
        .arg("-xzf")
        .arg(&tarball)
        .arg("-C")
        .arg(&install)
        .status()
        .unwrap();
    assert!(untar.success(), "tar -xzf failed");
    let entries: Vec<PathBuf> = std::fs::read_dir(&install)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(entries.len(), 1, "one top folder: {entries:?}");
    let root = entries[0].clone();
    for part in [
        "bin/futures-collector",
        "plugins/libfc_plugin_binance.so",
        "plugins/libfc_plugin_bybit.so",
        "plugins/libfc_plugin_okx.so",
        "config/base.toml",
        "config/production.toml",
        "schemas/config.schema.json",
        "deploy/prometheus/alerts.yml",
        "docs/configuration.md",
        "README.md",
        "SHA256SUMS",
        "VERSION",
    ] {
        assert!(root.join(part).exists(), "{part} missing from the package");
    }
    let sums = Command::new("sha256sum")
        .args(["--check", "--quiet", "SHA256SUMS"])
        .current_dir(&root)
        .status()
        .unwrap();
    assert!(sums.success(), "SHA256SUMS does not verify");

    let bin = root.join("bin/futures-collector");
    let bin = bin.to_str().unwrap();

    // check-config, as nobody, on the shipped config as is (profile development).
    let check = as_nobody(&root, bin, &["check-config", "--config", "config"])
        .output()
        .unwrap();
    assert_eq!(
        check.status.code(),
        Some(0),
        "check-config on the unpacked package failed:\n{}{}",
        String::from_utf8_lossy(&check.stdout),
        String::from_utf8_lossy(&check.stderr)
    );
    let effective = String::from_utf8_lossy(&check.stdout);
    assert!(
        effective.contains("dir = \"config/../plugins\""),
        "the plugin dir does not resolve inside the install:\n{effective}"
    );

    // The operator's machine layer: the exchanges at the emulator, the web server on a free
    // loopback port. The service user may write data/ only.
    let emu = spawn_default_emulator().await;
    let mut local = String::from("[web]\nlisten = \"127.0.0.1:0\"\n");
    for id in ["binance", "bybit", "okx"] {
        let oi = if id == "binance" {
            "open_interest = \"off\"\n"
        } else {
            ""
        };
        local.push_str(&format!(
            "\n[exchanges.{id}]\nbase_url = {:?}\n[exchanges.{id}.intervals]\ntickers = \"1s\"\nfunding = \"1s\"\n{oi}",
            emu.base_url(id)
        ));
    }
    std::fs::write(root.join("config/local.toml"), local).unwrap();
    let (uid, gid) = nobody();
    let data = root.join("data");
    std::os::unix::fs::chown(&data, Some(uid), Some(gid)).unwrap();

    let collector = Collector::spawn(as_nobody(
        &root,
        bin,
        &["--log-format", "json", "run", "--config", "config"],
    ));
    let base = collector.web_base().await;
    // (Read once it serves: right after the spawn, setpriv may not have switched yet.)
    assert_eq!(
        process_uid(collector.pid()),
        uid,
        "the collector does not run as nobody"
    );
    let client = reqwest::Client::new();
    let start = Instant::now();
    let mut last = String::new();
    let ready = loop {
        let response = client.get(format!("{base}/readyz")).send().await.unwrap();
        let code = response.status().as_u16();
        last = response.text().await.unwrap_or(last);
        if code == 200 {
            break true;
        }
        if start.elapsed() > PATIENCE {
            break false;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(ready, "/readyz never 200 within {PATIENCE:?}: {last}");
    let records = data.join("records.jsonl");
    assert!(
        !read_records(&records).is_empty(),
        "no records in {}",
        records.display()
    );
    let loaded = collector.logged("plugin loaded");
    assert_eq!(loaded.len(), 3, "plugins loaded: {loaded:?}");

    let status = collector.stop();
    assert_eq!(status.code(), Some(0), "exit after SIGTERM: {status:?}");
    emu.shutdown().await;
}
