//! The StatefulSet's start-up logic (`deploy/kubernetes/fulcrum-k8s-start`)
//! with real agents, as Kubernetes would run them: pods `fulcrum-0..3` in
//! network namespaces of their own on a bridge, each resolving the pods'
//! DNS names (`fulcrum-N.fulcrum-peers.lb.svc.cluster.local`) through its
//! own hosts file (`/etc/netns/NS/hosts`, which `ip netns exec` mounts), with
//! TLS certificates for those names. The first start forms the cluster once;
//! a killed pod rejoins with its data; a pod added by scaling up joins; a
//! bootstrap pod whose volume was lost is refused. Needs root (CI runs as
//! root); removes every namespace and file it made.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const NAMESPACE_PREFIX: &str = "fk8s-";
const BRIDGE_NAMESPACE: &str = "fk8s-bridge";
const PODS: usize = 4;
const INITIAL_REPLICAS: usize = 3;
const PATIENCE: Duration = Duration::from_secs(60);

fn pod_name(ordinal: usize) -> String {
    format!("fulcrum-{ordinal}")
}

fn dns_name(ordinal: usize) -> String {
    format!("fulcrum-{ordinal}.fulcrum-peers.lb.svc.cluster.local")
}

fn namespace(ordinal: usize) -> String {
    format!("{NAMESPACE_PREFIX}{ordinal}")
}

fn address(ordinal: usize) -> String {
    format!("10.89.0.{}", 10 + ordinal)
}

fn run(program: &str, args: &[&str]) -> Output {
    let output = Command::new(program).args(args).output().unwrap();
    assert!(
        output.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_fulcrum")
}

/// The pods' network, state and processes; taken down when dropped.
struct Pods {
    state: tempfile::TempDir,
    running: Vec<Option<Child>>,
}

impl Pods {
    fn new() -> Self {
        let pods = Self {
            state: tempfile::tempdir().unwrap(),
            running: (0..PODS).map(|_| None).collect(),
        };
        pods.tear_down_network();
        run("ip", &["netns", "add", BRIDGE_NAMESPACE]);
        run(
            "ip",
            &[
                "-n",
                BRIDGE_NAMESPACE,
                "link",
                "add",
                "br0",
                "type",
                "bridge",
            ],
        );
        run("ip", &["-n", BRIDGE_NAMESPACE, "link", "set", "br0", "up"]);
        let hosts: String = (0..PODS)
            .map(|ordinal| format!("{} {}\n", address(ordinal), dns_name(ordinal)))
            .collect();
        for ordinal in 0..PODS {
            let ns = namespace(ordinal);
            let (outside, inside) = (format!("fk8s{ordinal}"), format!("fk8s{ordinal}in"));
            run("ip", &["netns", "add", &ns]);
            run(
                "ip",
                &[
                    "link", "add", &outside, "type", "veth", "peer", "name", &inside,
                ],
            );
            run("ip", &["link", "set", &outside, "netns", BRIDGE_NAMESPACE]);
            run("ip", &["link", "set", &inside, "netns", &ns]);
            run(
                "ip",
                &[
                    "-n",
                    BRIDGE_NAMESPACE,
                    "link",
                    "set",
                    &outside,
                    "master",
                    "br0",
                ],
            );
            run(
                "ip",
                &["-n", BRIDGE_NAMESPACE, "link", "set", &outside, "up"],
            );
            run("ip", &["-n", &ns, "link", "set", &inside, "name", "eth0"]);
            run(
                "ip",
                &[
                    "-n",
                    &ns,
                    "addr",
                    "add",
                    &format!("{}/24", address(ordinal)),
                    "dev",
                    "eth0",
                ],
            );
            run("ip", &["-n", &ns, "link", "set", "eth0", "up"]);
            run("ip", &["-n", &ns, "link", "set", "lo", "up"]);
            let etc = PathBuf::from("/etc/netns").join(&ns);
            std::fs::create_dir_all(&etc).unwrap();
            std::fs::write(etc.join("hosts"), format!("127.0.0.1 localhost\n{hosts}")).unwrap();
        }
        pods.make_pki();
        pods
    }

    fn pki(&self) -> PathBuf {
        self.state.path().join("pki")
    }

    fn make_pki(&self) {
        let dir = self.pki();
        let dir = dir.to_str().unwrap();
        run(binary(), &["certs", "create-ca", "--dir", dir]);
        run(binary(), &["certs", "create-data-key", "--dir", dir]);
        run(
            binary(),
            &[
                "certs",
                "issue-client",
                "--dir",
                dir,
                "--principal",
                "admin",
                "--role",
                "admin",
            ],
        );
        for ordinal in 0..PODS {
            run(
                binary(),
                &[
                    "certs",
                    "issue-node",
                    "--dir",
                    dir,
                    "--name",
                    &pod_name(ordinal),
                    "--host",
                    &dns_name(ordinal),
                ],
            );
        }
    }

    fn data_dir(&self, ordinal: usize) -> PathBuf {
        self.state.path().join(pod_name(ordinal))
    }

    fn log(&self, ordinal: usize) -> PathBuf {
        self.state.path().join(format!("{}.log", pod_name(ordinal)))
    }

    /// Starts pod `ordinal` as its container would: the start-up script,
    /// with the environment the StatefulSet gives it.
    fn start(&mut self, ordinal: usize) {
        let script =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/kubernetes/fulcrum-k8s-start");
        let pki = self.pki();
        let file = |name: &str| pki.join(name).display().to_string();
        let log = std::fs::File::create(self.log(ordinal)).unwrap();
        let child = Command::new("ip")
            .args(["netns", "exec", &namespace(ordinal)])
            .arg(script)
            .env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .env("POD_NAME", pod_name(ordinal))
            .env("POD_NAMESPACE", "lb")
            .env("FULCRUM_PEERS_SERVICE", "fulcrum-peers")
            .env("FULCRUM_INITIAL_REPLICAS", INITIAL_REPLICAS.to_string())
            .env("FULCRUM_BIN", binary())
            .env("FULCRUM_DATA_DIR", self.data_dir(ordinal))
            .env("FULCRUM_EIP_POOL", "127.77.0.0/24")
            .env("FULCRUM_TLS_CA_FILE", file("ca.crt"))
            .env(
                "FULCRUM_TLS_CERT_FILE",
                file(&format!("{}.crt", pod_name(ordinal))),
            )
            .env(
                "FULCRUM_TLS_KEY_FILE",
                file(&format!("{}.key", pod_name(ordinal))),
            )
            .env("FULCRUM_DATA_KEY_FILE", file("data.key"))
            .env("FULCRUM_LOG", "info,openraft=warn")
            .stdout(Stdio::from(log.try_clone().unwrap()))
            .stderr(Stdio::from(log))
            .spawn()
            .unwrap();
        self.running[ordinal] = Some(child);
    }

    fn kill(&mut self, ordinal: usize) {
        if let Some(mut child) = self.running[ordinal].take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// The CLI inside pod `ordinal`'s namespace, as admin, against that pod.
    fn cli(&self, ordinal: usize, args: &[&str]) -> Output {
        let pki = self.pki();
        Command::new("ip")
            .args(["netns", "exec", &namespace(ordinal), binary()])
            .args([
                "--timeout",
                "5",
                "-o",
                "json",
                "--endpoint",
                &format!("{}:7400", dns_name(ordinal)),
            ])
            .arg("--ca")
            .arg(pki.join("ca.crt"))
            .arg("--cert")
            .arg(pki.join("client.admin.crt"))
            .arg("--key")
            .arg(pki.join("client.admin.key"))
            .args(args)
            .env("XDG_CONFIG_HOME", "/nonexistent/fulcrum-tests")
            .output()
            .unwrap()
    }

    /// Waits until `check` holds of the JSON `args` answer through pod `ordinal`.
    fn eventually(
        &self,
        ordinal: usize,
        args: &[&str],
        what: &str,
        check: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let output = self.cli(ordinal, args);
            if output.status.success()
                && let Ok(answer) = serde_json::from_slice::<serde_json::Value>(&output.stdout)
                && check(&answer)
            {
                return answer;
            }
            assert!(
                Instant::now() < deadline,
                "{what}: {}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn tear_down_network(&self) {
        let listed = Command::new("ip").args(["netns", "list"]).output().unwrap();
        for line in String::from_utf8_lossy(&listed.stdout).lines() {
            let name = line.split_whitespace().next().unwrap_or_default();
            if name.starts_with(NAMESPACE_PREFIX) {
                let _ = Command::new("ip").args(["netns", "del", name]).output();
                let _ = std::fs::remove_dir_all(PathBuf::from("/etc/netns").join(name));
            }
        }
    }
}

impl Drop for Pods {
    fn drop(&mut self) {
        for ordinal in 0..PODS {
            self.kill(ordinal);
        }
        self.tear_down_network();
    }
}

fn voters_at_their_names(status: &serde_json::Value, count: usize) -> bool {
    let members = status["members"].as_array().cloned().unwrap_or_default();
    !status["leaderId"].is_null()
        && members.len() == count
        && members.iter().all(|member| {
            member["role"] == "CLUSTER_ROLE_VOTER"
                && (0..PODS)
                    .any(|ordinal| member["raftAddress"] == format!("{}:7401", dns_name(ordinal)))
        })
}

fn names(listed: &serde_json::Value) -> Vec<String> {
    listed
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|network| network["name"].as_str().map(str::to_owned))
        .collect()
}

#[test]
fn the_statefulset_bootstraps_once_rejoins_with_data_and_grows() {
    fulcrum_chaos_tests::cluster::assert_root();
    let mut pods = Pods::new();
    // The first start of the set, all pods at once (podManagementPolicy: Parallel).
    for ordinal in 0..INITIAL_REPLICAS {
        pods.start(ordinal);
    }
    pods.eventually(
        0,
        &["cluster", "status"],
        "three voters at their DNS names",
        |status| voters_at_their_names(status, 3),
    );
    let created = pods.cli(0, &["network", "create", "before", "--cidr", "10.1.0.0/16"]);
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );

    // A pod killed and started again finds its data and rejoins: it has
    // what was written while it was away.
    pods.kill(1);
    let created = pods.cli(
        0,
        &["network", "create", "while-away", "--cidr", "10.2.0.0/16"],
    );
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    pods.start(1);
    pods.eventually(
        1,
        &["--local", "network", "list"],
        "pod 1 caught up",
        |listed| names(listed).contains(&"while-away".to_owned()),
    );
    let log = std::fs::read_to_string(pods.log(1)).unwrap();
    assert!(log.contains("restarting, not initialising"), "{log}");

    // Scaled up: pod 3 (beyond the initial replicas) joins through pod 0.
    pods.start(3);
    pods.eventually(0, &["cluster", "status"], "four voters", |status| {
        voters_at_their_names(status, 4)
    });

    // A bootstrap pod whose volume is lost does not take part again as if
    // new: the leader, which knows it had acknowledged entries, refuses it,
    // and the refusal says what to do. (A lost pod that was the leader is
    // known to the next leader only once it hears from it: see the README.)
    let status = pods.eventually(0, &["cluster", "status"], "a leader", |status| {
        !status["leaderId"].is_null()
    });
    let leader = status["leaderId"].as_u64().unwrap() as usize;
    let lost = [2, 1]
        .into_iter()
        .find(|ordinal| ordinal + 1 != leader)
        .unwrap();
    pods.kill(lost);
    std::fs::remove_dir_all(pods.data_dir(lost)).unwrap();
    pods.start(lost);
    let deadline = Instant::now() + PATIENCE;
    let exited = loop {
        if let Some(status) = pods.running[lost].as_mut().unwrap().try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "pod {lost} started on an empty volume: {}",
            std::fs::read_to_string(pods.log(lost)).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(!exited.success());
    let log = std::fs::read_to_string(pods.log(lost)).unwrap();
    assert!(log.contains("node.data_dir is empty"), "{log}");
    assert!(log.contains("remove"), "the refusal names the fix: {log}");
}
