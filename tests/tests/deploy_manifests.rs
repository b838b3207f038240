//! The deployment files under `deploy/`, checked as far as this machine allows (no Docker
//! engine, no systemd as PID 1, no Kubernetes cluster): the Dockerfile's structure (hadolint
//! runs in scripts/lint-deploy), the compose stack's services, volumes, ports, mounts and
//! secrets, the Prometheus config through `promtool check config` laid out as the container
//! sees it, the Grafana provisioning pointing at the shipped dashboard, the systemd unit through
//! `systemd-analyze verify` and `security --offline`, and the Kubernetes manifests' probes,
//! volumes, resources, budget and service; every config shipped for them passes `check-config`.

use std::{
    path::{Path, PathBuf},
    process::Command,
};

use integration_tests::{host_binary, workspace_root};
use serde_json::Value;

fn deploy(path: &str) -> PathBuf {
    workspace_root().join("deploy").join(path)
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn yaml(path: &Path) -> Value {
    serde_saphyr::from_str::<Value>(&read(path))
        .unwrap_or_else(|e| panic!("{} is not valid YAML: {e}", path.display()))
}

fn json(path: &Path) -> Value {
    serde_json::from_str(&read(path))
        .unwrap_or_else(|e| panic!("{} is not valid JSON: {e}", path.display()))
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// A tool from PATH, or a clear failure saying who installs it.
fn tool(name: &str, installed_by: &str) -> PathBuf {
    std::env::var_os("PATH")
        .and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|p| p.join(name))
                .find(|p| p.is_file())
        })
        .unwrap_or_else(|| panic!("{name} not found: {installed_by}"))
}

/// `futures-collector check-config` on `args`; panics with its output unless it exits 0.
fn check_config(args: &[&str], what: &str) {
    let out = Command::new(host_binary())
        .arg("check-config")
        .args(args)
        .env_remove("KUBERNETES_SERVICE_HOST")
        .env_remove("FUTURES_COLLECTOR_PROFILE")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{what} fails check-config:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Dockerfile instructions with continuation lines joined and comments dropped.
fn dockerfile_instructions(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('#') || (trimmed.is_empty() && current.is_empty()) {
            continue;
        }
        if let Some(head) = trimmed.strip_suffix('\\') {
            current.push_str(head);
            current.push(' ');
            continue;
        }
        current.push_str(trimmed);
        let (word, rest) = current.split_once(' ').unwrap_or((&current, ""));
        out.push((word.to_ascii_uppercase(), rest.trim().to_owned()));
        current.clear();
    }
    out
}

#[test]
fn dockerfile_installs_the_package_as_non_root_with_healthcheck_volumes_and_signals() {
    let text = read(&deploy("docker/Dockerfile"));
    let ins = dockerfile_instructions(&text);
    let all = |word: &str| -> Vec<&str> {
        ins.iter()
            .filter(|(w, _)| w == word)
            .map(|(_, r)| r.as_str())
            .collect()
    };
    let from = all("FROM");
    assert!(from.len() >= 2, "not multi-stage: {from:?}");
    assert!(
        all("RUN").iter().any(|r| r.contains("./scripts/package")),
        "the image does not build the release package"
    );
    assert!(
        all("COPY").iter().any(|r| r.starts_with("--from=build")),
        "the runtime stage does not take the package from the build stage"
    );
    // Everything after the last FROM is the runtime image.
    let last_from = ins.iter().rposition(|(w, _)| w == "FROM").unwrap();
    let runtime = &ins[last_from..];
    let user = runtime
        .iter()
        .rfind(|(w, _)| w == "USER")
        .map(|(_, r)| r.clone())
        .expect("no USER in the runtime stage");
    let uid: u32 = user
        .split(':')
        .next()
        .unwrap()
        .parse()
        .expect("numeric uid");
    assert_ne!(uid, 0, "runs as root");
    let volumes = all("VOLUME").join(" ");
    for v in ["/config", "/plugins"] {
        assert!(volumes.contains(&format!("\"{v}\"")), "no VOLUME {v}");
    }
    let health = all("HEALTHCHECK").join(" ");
    assert!(
        health.contains("CMD [") && health.contains("/healthz"),
        "HEALTHCHECK: {health}"
    );
    let entrypoint = all("ENTRYPOINT").pop().expect("ENTRYPOINT");
    assert!(
        entrypoint.starts_with('[') && entrypoint.contains("tini"),
        "signals must reach the collector: exec-form ENTRYPOINT under tini, got {entrypoint}"
    );
    let env = all("ENV").join(" ");
    assert!(
        env.contains("FUTURES_COLLECTOR__WEB__LISTEN=0.0.0.0:9480"),
        "web server not reachable from the container network: {env}"
    );
    assert!(
        !text.to_ascii_lowercase().contains("allow_unauthenticated"),
        "the image must keep the web token requirement"
    );
    assert!(all("EXPOSE").contains(&"9480"));

    let entry = deploy("docker/entrypoint.sh");
    let syntax = Command::new("sh").arg("-n").arg(&entry).status().unwrap();
    assert!(syntax.success(), "entrypoint.sh has a syntax error");
    let script = read(&entry);
    let last = script.lines().rfind(|l| !l.trim().is_empty()).unwrap();
    assert!(
        last.starts_with("exec /opt/futures-collector/bin/futures-collector"),
        "the entrypoint must exec the collector: {last}"
    );
    let ignore = read(&workspace_root().join(".dockerignore"));
    for excluded in ["target/", "dist/", "data/", "config/local.*"] {
        assert!(
            ignore.lines().any(|l| l == excluded),
            ".dockerignore misses {excluded}"
        );
    }
}

#[test]
fn compose_stack_has_its_services_volumes_ports_mounts_and_secrets() {
    let dir = deploy("compose");
    let compose = yaml(&dir.join("compose.yaml"));
    let services = compose["services"].as_object().expect("services");
    for name in ["collector", "rabbitmq", "prometheus", "grafana"] {
        assert!(services.contains_key(name), "no service {name}");
    }
    let named_volumes = compose["volumes"].as_object().expect("volumes");
    for (name, service) in services {
        for port in strings(&service["ports"]) {
            assert!(
                port.starts_with("127.0.0.1:"),
                "{name} publishes {port} beyond loopback"
            );
        }
        for mount in strings(&service["volumes"]) {
            let source = mount.split(':').next().unwrap();
            if source.starts_with('.') {
                assert!(
                    dir.join(source).exists(),
                    "{name} mounts {source}, which does not exist"
                );
            } else {
                assert!(
                    named_volumes.contains_key(source),
                    "{name} uses volume {source}, not declared"
                );
            }
        }
    }
    let mounts_of = |service: &str| strings(&services[service]["volumes"]);
    let ports_of = |service: &str| strings(&services[service]["ports"]);

    // The collector: built from the Dockerfile, its config file shipped in the image, plugins
    // and data on volumes, the token as a secret file, the web port published on loopback.
    let collector = &services["collector"];
    assert_eq!(collector["build"]["dockerfile"], "deploy/docker/Dockerfile");
    let context = dir.join(collector["build"]["context"].as_str().unwrap());
    assert!(context.join("deploy/docker/Dockerfile").is_file());
    let command = strings(&collector["command"]);
    let config_in_image = command.last().expect("command");
    let shipped = config_in_image
        .strip_prefix("/opt/futures-collector/")
        .expect("config from the installed package");
    let shipped = workspace_root().join(shipped);
    assert!(
        shipped.is_file(),
        "{} not in the package",
        shipped.display()
    );
    check_config(
        &["--config", shipped.to_str().unwrap()],
        "deploy/compose/collector.toml",
    );
    let collector_config = read(&shipped);
    assert!(collector_config.contains("url = \"amqp://rabbitmq:5672/%2f\""));
    assert!(collector_config.contains("listen = \"0.0.0.0:9480\""));
    assert!(mounts_of("collector")
        .iter()
        .any(|m| m.ends_with(":/plugins")));
    assert!(mounts_of("collector").iter().any(|m| m.ends_with(":/data")));
    assert_eq!(ports_of("collector"), ["127.0.0.1:9480:9480"]);
    assert_eq!(
        collector["environment"]["FUTURES_COLLECTOR_WEB_TOKEN_FILE"],
        "/run/secrets/web_token"
    );
    assert_eq!(
        collector["depends_on"]["rabbitmq"]["condition"],
        "service_healthy"
    );
    assert_eq!(
        compose["secrets"]["web_token"]["file"],
        "./secrets/web-token"
    );
    for service in ["collector", "prometheus"] {
        assert!(
            strings(&services[service]["secrets"]).contains(&"web_token".to_owned()),
            "{service} lacks the web_token secret"
        );
    }
    assert!(ports_of("rabbitmq").contains(&"127.0.0.1:5672:5672".to_owned()));
    assert_eq!(
        services["rabbitmq"]["environment"]["RABBITMQ_DEFAULT_USER"],
        collector["environment"]["FUTURES_COLLECTOR_AMQP_USERNAME"]
    );
    assert!(mounts_of("prometheus")
        .contains(&"../prometheus/alerts.yml:/etc/prometheus/alerts.yml:ro".to_owned()));
    assert!(mounts_of("grafana")
        .iter()
        .any(|m| m.starts_with("../grafana/dashboard.json:/var/lib/grafana/dashboards/")));
    // Every variable the file requires is in the example .env.
    let example = read(&dir.join("env.example"));
    for var in ["AMQP_PASSWORD", "GRAFANA_ADMIN_PASSWORD"] {
        assert!(
            example.contains(&format!("{var}=")),
            "env.example lacks {var}"
        );
    }
}

#[test]
fn prometheus_config_passes_promtool_and_scrapes_the_collector() {
    let dir = deploy("compose");
    // /etc/prometheus as the compose file mounts it, and the token secret.
    let etc = tempfile::tempdir().unwrap();
    let token = etc.path().join("web_token");
    std::fs::write(&token, "0123456789abcdef0123456789abcdef\n").unwrap();
    let config_text = read(&dir.join("prometheus/prometheus.yml"));
    assert!(config_text.contains("/run/secrets/web_token"));
    std::fs::write(
        etc.path().join("prometheus.yml"),
        config_text.replace("/run/secrets/web_token", token.to_str().unwrap()),
    )
    .unwrap();
    std::fs::copy(
        deploy("prometheus/alerts.yml"),
        etc.path().join("alerts.yml"),
    )
    .unwrap();
    let out = Command::new(tool(
        "promtool",
        "scripts/test installs it (Debian package `prometheus`)",
    ))
    .args(["check", "config"])
    .arg(etc.path().join("prometheus.yml"))
    .output()
    .unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "promtool check config:\n{said}");
    assert!(
        said.contains("SUCCESS: 1 rule files found"),
        "rules not loaded:\n{said}"
    );

    let config = yaml(&dir.join("prometheus/prometheus.yml"));
    let jobs = config["scrape_configs"].as_array().unwrap();
    let job = jobs
        .iter()
        .find(|j| j["job_name"] == "futures-collector")
        .expect("job futures-collector (the name alerts.yml assumes)");
    assert!(read(&deploy("prometheus/alerts.yml")).contains("job=\"futures-collector\""));
    assert_eq!(
        strings(&job["static_configs"][0]["targets"]),
        ["collector:9480"]
    );
    assert_eq!(job["authorization"]["type"], "Bearer");
}

#[test]
fn grafana_provisioning_points_at_the_shipped_dashboard() {
    let dir = deploy("compose/grafana/provisioning");
    let datasources = yaml(&dir.join("datasources/prometheus.yml"));
    let ds = &datasources["datasources"][0];
    assert_eq!(ds["type"], "prometheus");
    assert_eq!(ds["url"], "http://prometheus:9090");
    assert_eq!(ds["isDefault"], true);

    let providers = yaml(&dir.join("dashboards/futures-collector.yml"));
    let path = providers["providers"][0]["options"]["path"]
        .as_str()
        .expect("provider path")
        .to_owned();
    // The compose file mounts the shipped dashboard into that folder.
    let compose = yaml(&deploy("compose/compose.yaml"));
    let mount = strings(&compose["services"]["grafana"]["volumes"])
        .into_iter()
        .find(|m| m.contains(&format!(":{path}/")))
        .unwrap_or_else(|| panic!("nothing mounted into {path}"));
    let source = deploy("compose").join(mount.split(':').next().unwrap());
    let dashboard = json(&source);
    assert_eq!(dashboard["uid"], "futures-collector");
    assert!(
        dashboard["panels"]
            .as_array()
            .is_some_and(|p| !p.is_empty()),
        "dashboard has no panels"
    );
    // The provisioning folder is mounted where Grafana reads it.
    assert!(strings(&compose["services"]["grafana"]["volumes"])
        .contains(&"./grafana/provisioning:/etc/grafana/provisioning:ro".to_owned()));
}

/// `key=value` settings of a unit file (every occurrence).
fn unit_settings(text: &str) -> Vec<(String, String)> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#') && !l.starts_with('['))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

#[test]
fn systemd_unit_is_hardened_reloads_with_sighup_and_verifies() {
    let unit_path = deploy("systemd/futures-collector.service");
    let text = read(&unit_path);
    let settings = unit_settings(&text);
    let get = |key: &str| -> Vec<&str> {
        settings
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .collect()
    };
    for (key, value) in [
        ("DynamicUser", "yes"),
        ("ProtectSystem", "strict"),
        ("NoNewPrivileges", "yes"),
        ("Restart", "on-failure"),
        ("ExecReload", "/bin/kill -HUP $MAINPID"),
        ("ReadWritePaths", "/var/lib/futures-collector"),
        ("StateDirectory", "futures-collector"),
        ("ProtectHome", "yes"),
        ("PrivateTmp", "yes"),
        ("CapabilityBoundingSet", ""),
    ] {
        assert_eq!(get(key), [value], "{key}");
    }
    // The only writable path holds the records (and an AMQP sink's spool).
    let env = get("Environment");
    assert!(env.contains(&"FUTURES_COLLECTOR__SINK__PATH=/var/lib/futures-collector/records.jsonl"));
    assert!(env.contains(&"FUTURES_COLLECTOR_PROFILE=production"));

    // systemd-analyze verify needs the ExecStart binary: point the unit at an installed-like
    // copy of this build's binary.
    let root = tempfile::tempdir().unwrap();
    let install = root.path().join("opt/futures-collector");
    std::fs::create_dir_all(install.join("bin")).unwrap();
    std::fs::copy(host_binary(), install.join("bin/futures-collector")).unwrap();
    let unit = root.path().join("futures-collector.service");
    std::fs::write(
        &unit,
        text.replace("/opt/futures-collector", install.to_str().unwrap()),
    )
    .unwrap();
    let analyze = tool(
        "systemd-analyze",
        "scripts/test installs it (Debian package `systemd`)",
    );
    let out = Command::new(&analyze)
        .arg("verify")
        .arg(&unit)
        .output()
        .unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // verify exits 0 on settings it ignores: any output is a finding.
    assert!(
        out.status.success() && said.trim().is_empty(),
        "systemd-analyze verify:\n{said}"
    );

    let out = Command::new(&analyze)
        .args(["security", "--offline=yes", "--no-pager"])
        .arg(&unit)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    let exposure: f64 = said
        .lines()
        .find_map(|l| l.split_once("Overall exposure level for futures-collector.service: "))
        .and_then(|(_, rest)| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no exposure level in:\n{said}"));
    assert!(
        exposure <= 2.0,
        "systemd-analyze security exposure {exposure} (want <= 2.0):\n{said}"
    );
}

fn k8s(file: &str) -> Value {
    yaml(&deploy("kubernetes").join(file))
}

#[test]
fn kubernetes_manifests_have_probes_config_plugins_resources_budget_and_service() {
    let kustomization = k8s("kustomization.yaml");
    let resources = strings(&kustomization["resources"]);
    let mut on_disk: Vec<String> = std::fs::read_dir(deploy("kubernetes"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".yaml") && n != "kustomization.yaml")
        .collect();
    on_disk.sort();
    let mut listed = resources.clone();
    listed.sort();
    assert_eq!(listed, on_disk, "kustomization.yaml resources");
    for file in &resources {
        let doc = k8s(file);
        for field in ["apiVersion", "kind"] {
            assert!(doc[field].is_string(), "{file}: no {field}");
        }
        assert!(doc["metadata"]["name"].is_string(), "{file}: no name");
    }

    let deployment = k8s("deployment.yaml");
    assert_eq!(deployment["kind"], "Deployment");
    let labels = &deployment["spec"]["template"]["metadata"]["labels"];
    assert_eq!(&deployment["spec"]["selector"]["matchLabels"], labels);
    assert_eq!(
        deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"],
        0
    );
    let pod = &deployment["spec"]["template"]["spec"];
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    let container = &pod["containers"][0];
    let port = &container["ports"][0];
    assert_eq!(port["containerPort"], 9480);
    for (probe, path) in [("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")] {
        let get = &container[probe]["httpGet"];
        assert_eq!(get["path"], path, "{probe}");
        assert_eq!(get["port"], port["name"], "{probe} port");
    }
    for kind in ["requests", "limits"] {
        assert!(
            container["resources"][kind]["memory"].is_string(),
            "resources.{kind}.memory"
        );
    }
    assert!(container["resources"]["requests"]["cpu"].is_string());
    assert_eq!(
        container["securityContext"]["allowPrivilegeEscalation"],
        false
    );
    assert!(strings(&container["args"]).ends_with(&["--config".into(), "/config".into()]));
    let token = container["env"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "FUTURES_COLLECTOR_WEB_TOKEN")
        .expect("the web token from a Secret");
    assert!(token["valueFrom"]["secretKeyRef"]["name"].is_string());

    let volumes = pod["volumes"].as_array().unwrap();
    let mounts = container["volumeMounts"].as_array().unwrap();
    let mount_of = |path: &str| {
        mounts
            .iter()
            .find(|m| m["mountPath"] == path)
            .unwrap_or_else(|| panic!("nothing mounted at {path}"))
    };
    let volume = |name: &Value| {
        volumes
            .iter()
            .find(|v| &v["name"] == name)
            .unwrap_or_else(|| panic!("no volume {name}"))
    };
    let config_mount = mount_of("/config");
    assert!(
        config_mount.get("subPath").is_none(),
        "a subPath mount never sees ConfigMap updates"
    );
    let configmap = k8s("configmap.yaml");
    assert_eq!(
        volume(&config_mount["name"])["configMap"]["name"],
        configmap["metadata"]["name"]
    );
    let plugins = mount_of("/plugins");
    assert_eq!(plugins["readOnly"], true);
    let claim = &volume(&plugins["name"])["persistentVolumeClaim"]["claimName"];
    assert_eq!(claim, &k8s("plugins-pvc.yaml")["metadata"]["name"]);
    mount_of("/data");

    // The ConfigMap's files are a valid config for the production profile.
    let dir = tempfile::tempdir().unwrap();
    let data = configmap["data"].as_object().unwrap();
    for (name, text) in data {
        std::fs::write(dir.path().join(name), text.as_str().unwrap()).unwrap();
    }
    check_config(
        &[
            "--config",
            dir.path().to_str().unwrap(),
            "--profile",
            "production",
        ],
        "deploy/kubernetes/configmap.yaml",
    );

    let pdb = k8s("pdb.yaml");
    assert_eq!(pdb["kind"], "PodDisruptionBudget");
    assert_eq!(&pdb["spec"]["selector"]["matchLabels"], labels);
    let min = pdb["spec"]["minAvailable"].as_u64().expect("minAvailable");
    let replicas = deployment["spec"]["replicas"].as_u64().unwrap();
    assert!(
        min >= 1 && min < replicas,
        "minAvailable {min} of {replicas} replicas would block drains or allow an outage"
    );

    let service = k8s("service.yaml");
    assert_eq!(service["kind"], "Service");
    let selector = service["spec"]["selector"].as_object().unwrap();
    for (k, v) in selector {
        assert_eq!(&labels[k], v, "service selector {k}");
    }
    let sport = &service["spec"]["ports"][0];
    assert_eq!(sport["port"], 9480);
    assert_eq!(sport["targetPort"], port["name"]);
}
