//! The benchmark's exchange emulator: a separate process (so the CPU and memory the bench
//! reads are the collector's own), started with the scenario's instances on a free loopback
//! port and killed when dropped.
//!
//! Owns starting, waiting for and stopping the emulator process. Must not measure anything.

use std::{
    net::TcpListener,
    process::{Child, Command, Stdio},
    time::Duration,
};

use super::{BenchError, BenchOptions};

/// Polls of the emulator's admin endpoint before giving up.
const START_POLLS: u32 = 100;
/// Time between those polls (100 × 50 ms = 5 s).
const START_POLL_INTERVAL: Duration = Duration::from_millis(50);

pub(super) struct EmulatorProcess {
    child: Child,
    pub(super) base: String,
}

impl Drop for EmulatorProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> Result<u16, BenchError> {
    let l = TcpListener::bind("127.0.0.1:0").map_err(|e| BenchError::Emulator(e.to_string()))?;
    l.local_addr()
        .map(|a| a.port())
        .map_err(|e| BenchError::Emulator(e.to_string()))
}

/// Starts the emulator with `instances` (name, type, universe) and waits until it answers.
pub(super) async fn start_emulator(
    opts: &BenchOptions,
    instances: &[(String, &str, usize)],
) -> Result<EmulatorProcess, BenchError> {
    let port = free_port()?;
    let mut cmd = Command::new(&opts.emulator);
    cmd.arg("--listen").arg(format!("127.0.0.1:{port}"));
    for (name, kind, universe) in instances {
        cmd.arg("--instance").arg(format!(
            "{name}={kind}:{universe}:{}:{}",
            opts.latency_ms, opts.jitter_ms
        ));
    }
    let child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| {
            BenchError::Emulator(format!("cannot start {}: {e}", opts.emulator.display()))
        })?;
    let emulator = EmulatorProcess {
        child,
        base: format!("http://127.0.0.1:{port}"),
    };
    let client = reqwest::Client::new();
    for _ in 0..START_POLLS {
        if client
            .get(format!("{}/_admin/instances", emulator.base))
            .send()
            .await
            .is_ok()
        {
            return Ok(emulator);
        }
        tokio::time::sleep(START_POLL_INTERVAL).await;
    }
    Err(BenchError::Emulator(
        "did not start listening within 5 s".into(),
    ))
}
