//! `amqps://`: the AMQP sink over TLS to the local RabbitMQ, through a TLS terminator (socat
//! with a certificate from a CA made for the test) in front of the broker's plain port. The CA
//! is trusted through `tls_ca_file`; without it the connection is refused and records stay in
//! the spool (never sent in clear, never lost). Needs `openssl` and `socat` (scripts/test
//! installs them).

mod amqp_support;

use std::{
    net::TcpListener,
    path::Path,
    process::{Child, Command, Stdio},
    time::Duration,
};

use amqp_support::*;
use futures_collector::output::sink::{amqp::LinkState, Sink};

struct Terminator(Child);

impl Drop for Terminator {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn openssl(dir: &Path, args: &[&str]) {
    let status = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("openssl is installed (scripts/test installs it)");
    assert!(status.success(), "openssl {args:?} failed");
}

/// A private CA (`ca.pem`, what `tls_ca_file` trusts) and a server certificate it signed for
/// 127.0.0.1 (`cert.pem`, `key.pem`), valid for a day.
fn make_certificates(dir: &Path) {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=futures-collector test CA",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
        ],
    );
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=127.0.0.1",
            "-keyout",
            "key.pem",
            "-out",
            "server.csr",
        ],
    );
    std::fs::write(
        dir.join("server.ext"),
        "basicConstraints=CA:FALSE\nsubjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "1",
            "-extfile",
            "server.ext",
            "-out",
            "cert.pem",
        ],
    );
}

/// TLS on a free loopback port, forwarded in clear to the broker's 5672.
fn start_terminator(dir: &Path) -> (Terminator, u16) {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let listen = format!(
        "OPENSSL-LISTEN:{port},bind=127.0.0.1,reuseaddr,fork,cert={},key={},verify=0",
        dir.join("cert.pem").display(),
        dir.join("key.pem").display()
    );
    let child = Command::new("socat")
        .arg(listen)
        .arg("TCP:127.0.0.1:5672")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("socat is installed (scripts/test installs it)");
    let terminator = Terminator(child);
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return (terminator, port);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("the TLS terminator did not start on port {port}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn amqps_delivers_with_a_trusted_ca_and_refuses_an_untrusted_certificate() {
    let _lock = broker_shared().await;
    let certs = tempfile::tempdir().unwrap();
    make_certificates(certs.path());
    let (_terminator, port) = start_terminator(certs.path());
    let url = format!("amqps://127.0.0.1:{port}/%2f");

    // Trusted through tls_ca_file: delivered.
    let exchange = unique("tls");
    let q = unique("tls-q");
    let _cleanup = Cleanup::default().exchange(&exchange).queue(&q);
    let spool = tempfile::tempdir().unwrap();
    let mut config = sink_config(&url, &exchange, spool.path());
    config.tls_ca_file = Some(certs.path().join("ca.pem"));
    config.queues = vec![futures_collector::config::AmqpQueueConfig {
        name: q.clone(),
        bindings: vec!["funding.#".into()],
        queue_type: futures_collector::config::AmqpQueueType::Classic,
        max_length: None,
        max_length_bytes: None,
        message_ttl: None,
        overflow: None,
    }];
    let mut sink = open_sink(&config).await;
    let stats = sink.stats();
    assert_eq!(
        write(
            &mut sink,
            &batch("binance", funding_records("binance", 1, 5, 5))
        )
        .await,
        5
    );
    // The sink declares the queue once its TLS link is up; a write is accepted (spooled) before
    // that, so wait for the confirms before consuming (the queue may not exist yet).
    assert!(
        eventually(Duration::from_secs(10), || stats
            .snapshot()
            .confirmed_records
            >= 5)
        .await,
        "no confirms over amqps: {:?}",
        stats.snapshot()
    );
    let got = Broker::connect()
        .await
        .collect(&q, Duration::from_secs(10), |g, _| g.len() >= 5)
        .await;
    assert_eq!(got.len(), 5, "records over amqps reached the queue");
    let s = stats.snapshot();
    assert_eq!(s.confirmed_records, 5);
    assert_eq!(s.spool_records, 0);
    sink.close().await.unwrap();

    // Without tls_ca_file the private CA is not trusted: nothing is sent, the records wait in
    // the spool.
    let spool = tempfile::tempdir().unwrap();
    let config = sink_config(&url, &unique("tls-untrusted"), spool.path());
    let mut sink = open_sink(&config).await;
    let stats = sink.stats();
    assert_eq!(
        write(
            &mut sink,
            &batch("binance", funding_records("binance", 2, 3, 3))
        )
        .await,
        3
    );
    assert!(
        eventually(Duration::from_secs(5), || stats.snapshot().state
            == LinkState::Down)
        .await,
        "the link never went down: {:?}",
        stats.snapshot().state
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    let s = stats.snapshot();
    assert_eq!(s.connections, 0, "an untrusted certificate was accepted");
    assert_eq!(s.confirmed_records, 0);
    assert_eq!(s.spool_records, 3);
    sink.close().await.unwrap();
}
