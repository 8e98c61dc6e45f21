//! The image `deploy/container/Containerfile` makes, built with buildah (no
//! Docker engine here) and run: the agent inside it answers the CLI.
//!
//! No image registry is reachable, so the base image the Containerfile's
//! runtime names (`docker.io/library/debian:bookworm-slim`) is made here from
//! a Debian root file system that `scripts/test` made with debootstrap
//! (`target/container-base/rootfs`). The image is built from the real
//! Containerfile at its `prebuilt` target, with the binary this build made:
//! the same runtime stage as the default target, without compiling the
//! workspace a second time inside the build (the `build` stage, which does,
//! is for builders with a Rust image). Builds and runs use buildah's chroot
//! isolation and the host's network (crun cannot run in this machine's
//! cgroup layout). Needs root, as CI runs.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const BASE_IMAGE: &str = "docker.io/library/debian:bookworm-slim";
const IMAGE: &str = "localhost/fulcrum-test:latest";
const PATIENCE: Duration = Duration::from_secs(60);

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn buildah(args: &[&str]) -> Output {
    let output = Command::new("buildah")
        .args(args)
        .output()
        .expect("buildah (Debian's buildah package)");
    assert!(
        output.status.success(),
        "buildah {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

fn text(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

/// The base image, made from the debootstrap root file system when the
/// store does not hold it yet.
fn base_image() {
    let present = Command::new("buildah")
        .args(["inspect", "--type", "image", BASE_IMAGE])
        .output()
        .unwrap();
    if present.status.success() {
        return;
    }
    let rootfs = repository().join("target/container-base/rootfs");
    assert!(
        rootfs.join("usr/sbin/nft").exists(),
        "{} holds no Debian root file system: scripts/test makes it (debootstrap)",
        rootfs.display()
    );
    let container = text(&buildah(&["from", "scratch"]));
    let mount = text(&buildah(&["mount", &container]));
    let copied = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "tar -C '{}' -cf - . | tar -C '{mount}' -xf -",
            rootfs.display()
        ))
        .status()
        .unwrap();
    assert!(copied.success());
    buildah(&["umount", &container]);
    buildah(&[
        "config",
        "--env",
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "--cmd",
        "/bin/sh",
        &container,
    ]);
    buildah(&["commit", "--rm", &container, BASE_IMAGE]);
}

/// A build context laid out as the repository (the paths the Containerfile
/// copies), holding only what the `prebuilt` target needs.
fn context() -> tempfile::TempDir {
    let context = tempfile::tempdir().unwrap();
    let start = context.path().join("deploy/kubernetes");
    std::fs::create_dir_all(&start).unwrap();
    std::fs::copy(
        repository().join("deploy/kubernetes/fulcrum-k8s-start"),
        start.join("fulcrum-k8s-start"),
    )
    .unwrap();
    let bin = context.path().join("target/bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::copy(env!("CARGO_BIN_EXE_fulcrum"), bin.join("fulcrum")).unwrap();
    context
}

/// A working container of the image; removed when dropped (its processes
/// with it).
struct Container(String);

impl Container {
    fn run(&self, args: &[&str]) -> Command {
        let mut command = Command::new("buildah");
        command
            .args(["run", "--isolation=chroot", "--network=host", &self.0, "--"])
            .args(args);
        command
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        let _ = Command::new("buildah").args(["rm", &self.0]).output();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn the_image_builds_and_its_agent_answers_the_cli() {
    fulcrum_chaos_tests::cluster::assert_root();
    let started = Instant::now();
    base_image();
    let context = context();
    let containerfile = repository().join("deploy/container/Containerfile");
    buildah(&[
        "build",
        "--pull=never",
        "--isolation=chroot",
        "--network=host",
        "--file",
        containerfile.to_str().unwrap(),
        "--target",
        "prebuilt",
        "--build-arg",
        "BINARY=target/bin/fulcrum",
        "--tag",
        IMAGE,
        context.path().to_str().unwrap(),
    ]);
    let built = started.elapsed();

    // The runtime as the Containerfile says: an unprivileged user, the
    // binder's tools, the start-up script, the entrypoint.
    let config: serde_json::Value =
        serde_json::from_str(&text(&buildah(&["inspect", "--type", "image", IMAGE]))).unwrap();
    let image = &config["OCIv1"]["config"];
    assert_eq!(image["User"], "10001:10001");
    assert_eq!(image["Entrypoint"][0], "/usr/local/bin/fulcrum");
    let container = Container(text(&buildah(&["from", "--pull=never", IMAGE])));
    for tool in ["nft", "ip", "fulcrum", "fulcrum-k8s-start"] {
        let found = container
            .run(&["sh", "-c", &format!("command -v {tool}")])
            .output()
            .unwrap();
        assert!(found.status.success(), "{tool} is in the image");
    }
    let user = container.run(&["id", "-u"]).output().unwrap();
    assert_eq!(text(&user), "10001");

    // The agent, in the container, on loopback ports of its own.
    let (api, raft, http) = (free_port(), free_port(), free_port());
    let endpoint = format!("127.0.0.1:{api}");
    let mut agent = container
        .run(&[
            "fulcrum",
            "agent",
            "--dev",
            "--api-address",
            &endpoint,
            "--raft-address",
            &format!("127.0.0.1:{raft}"),
            "--http-address",
            &format!("127.0.0.1:{http}"),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + PATIENCE;
    let status = loop {
        let status = Command::new(env!("CARGO_BIN_EXE_fulcrum"))
            .args([
                "--endpoint",
                &endpoint,
                "--timeout",
                "2",
                "-o",
                "json",
                "cluster",
                "status",
            ])
            .output()
            .unwrap();
        if status.status.success() {
            break status;
        }
        assert!(
            agent.try_wait().unwrap().is_none(),
            "the agent in the container stopped"
        );
        assert!(
            Instant::now() < deadline,
            "the agent in the container never answered"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    let status: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(status["leaderId"], 1);

    // The image's own CLI writes; the host's reads it back.
    let created = container
        .run(&[
            "fulcrum",
            "--endpoint",
            &endpoint,
            "network",
            "create",
            "from-the-image",
            "--cidr",
            "10.1.0.0/16",
        ])
        .output()
        .unwrap();
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    let listed = Command::new(env!("CARGO_BIN_EXE_fulcrum"))
        .args(["--endpoint", &endpoint, "network", "list"])
        .output()
        .unwrap();
    assert!(text(&listed).contains("from-the-image"));

    let stopped = Command::new("kill")
        .args(["-TERM", &agent.id().to_string()])
        .status()
        .unwrap();
    assert!(stopped.success());
    let exited = agent.wait().unwrap();
    println!(
        "image test: built in {built:?}, the whole test {:?}; the agent exited {exited}",
        started.elapsed()
    );
}
