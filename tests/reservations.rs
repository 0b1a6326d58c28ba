//! `mem_reservation` and `deploy.resources.reservations` through the real binary: the soft
//! memory limit of a running container (cgroup v1 memory.soft_limit_in_bytes, v2 memory.low),
//! `config` output as docker compose prints it, and the one warning left (GPU `devices`).

mod common;

use common::*;

/// The soft memory limit file of a live process's cgroup, read on the host.
fn soft_limit(pid: i64) -> String {
    let cg = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).expect("proc cgroup");
    for line in cg.lines() {
        let mut f = line.splitn(3, ':');
        let (_, ctrls, path) = (f.next(), f.next().unwrap_or(""), f.next().unwrap_or(""));
        if ctrls.split(',').any(|c| c == "memory") {
            let file = format!("/sys/fs/cgroup/memory{path}/memory.soft_limit_in_bytes");
            return std::fs::read_to_string(&file)
                .expect(&file)
                .trim()
                .to_string();
        }
        if ctrls.is_empty() && line.starts_with("0::") {
            let file = format!("/sys/fs/cgroup{path}/memory.low");
            if let Ok(s) = std::fs::read_to_string(&file) {
                return s.trim().to_string();
            }
        }
    }
    panic!("no memory cgroup for {pid}: {cg}");
}

#[test]
fn memory_reservations_become_the_soft_limit_of_the_container() {
    let Some((env, p)) = setup("resvsoft") else {
        return;
    };
    env.write(
        "compose.yaml",
        &format!(
            "name: {p}\nservices:\n  legacy:\n    image: busybox:test\n    command: sleep 300\n    mem_reservation: 48m\n  deploy:\n    image: busybox:test\n    command: sleep 300\n    deploy:\n      resources:\n        reservations:\n          memory: 40m\n          cpus: \"0.5\"\n  plain:\n    image: busybox:test\n    command: sleep 300\n"
        ),
    );
    let out = env.run(&["up", "-d"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    // memory and cpus of reservations are read as docker compose reads them: no warning.
    assert!(!err.contains("reservation"), "{err}");
    let rows = env.ps_json(&p);
    let pid = |s: &str| env.service(&rows, s)["pid"].as_i64().expect("pid");
    assert_eq!(soft_limit(pid("legacy")), (48u64 << 20).to_string());
    assert_eq!(soft_limit(pid("deploy")), (40u64 << 20).to_string());
    // Without a reservation the soft limit stays the kernel's "none".
    assert_ne!(soft_limit(pid("plain")), (40u64 << 20).to_string());
    env.ok(&["down"]);
}

#[test]
fn config_prints_reservations_and_gpu_devices_warn_at_their_place() {
    let Some((env, p)) = setup("resvcfg") else {
        return;
    };
    env.write(
        "compose.yaml",
        &format!(
            "name: {p}\nservices:\n  web:\n    image: busybox:test\n    mem_reservation: 64m\n    deploy:\n      resources:\n        reservations:\n          memory: 64m\n          cpus: \"0.25\"\n          devices:\n            - capabilities: [gpu]\n"
        ),
    );
    let out = env.run(&["config", "--format", "json"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("config json");
    let web = &v["services"]["web"];
    assert_eq!(web["mem_reservation"], "67108864", "{web}");
    let res = &web["deploy"]["resources"]["reservations"];
    assert_eq!(res["memory"], "67108864", "{web}");
    assert_eq!(res["cpus"], 0.25, "{web}");
    // Only the GPU request warns, with file:line:col.
    let warned: Vec<&str> = err.lines().filter(|l| l.contains("reservations")).collect();
    assert_eq!(warned.len(), 1, "{err}");
    assert!(
        warned[0].contains("compose.yaml:11:")
            && warned[0].contains("deploy.resources.reservations.devices"),
        "{err}"
    );
}
