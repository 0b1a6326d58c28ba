//! The networking keys of a stack file through the real binary (no root, no daemon): bad
//! networks and ports are refused by `validate` and `up` with file:line:col before anything
//! is set up; good ones load and print.

mod common;
use common::nodaemon::{TempDir, rstack_in};

fn rstack(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    rstack_in(dir, "network-spec", args)
}

fn stack(tag: &str, yaml: &str) -> TempDir {
    TempDir::with_stack("rstack-netspec", tag, yaml)
}

#[test]
fn bad_networks_and_ports_fail_with_positions_before_anything_runs() {
    let d = stack(
        "bad",
        concat!(
            "services:\n",
            "  web:\n",
            "    image: x\n",
            "    networks: [fronts]\n",
            "  api:\n",
            "    image: x\n",
            "    ports: [\"8000-8001:80-82\"]\n",
            "networks:\n",
            "  front:\n",
            "    ipam:\n",
            "      config:\n",
            "        - subnet: 10.7.0.0/16\n",
            "  back:\n",
            "    ipam:\n",
            "      config:\n",
            "        - subnet: 10.7.1.0/24\n",
        ),
    );
    let out = rstack(&d.0, &["validate"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("compose.yaml:7:13") && err.contains("invalid port \"8000-8001:80-82\""),
        "{err}"
    );
    assert!(
        err.contains("compose.yaml:4:16") && err.contains("did you mean front?"),
        "{err}"
    );
    assert!(
        err.contains("compose.yaml:16:19")
            && err.contains("overlaps 10.7.0.0/16 of network \"front\" (compose.yaml:12:19)"),
        "{err}"
    );
    let up = rstack(&d.0, &["up", "-d"]);
    assert_eq!(up.status.code(), Some(1));
    assert!(!String::from_utf8_lossy(&up.stderr).contains("daemon"));
}

#[test]
fn good_networking_keys_load_and_print() {
    let d = stack(
        "good",
        concat!(
            "name: netspec\n",
            "services:\n",
            "  web:\n",
            "    image: x\n",
            "    ports: [\"127.0.0.1:8080:80\", \"9000-9001:9000-9001/udp\"]\n",
            "    networks:\n",
            "      front:\n",
            "        aliases: [www]\n",
            "        ipv4_address: 10.8.0.10\n",
            "    extra_hosts: [\"gw=host-gateway\"]\n",
            "    dns: [1.1.1.1]\n",
            "networks:\n",
            "  front:\n",
            "    ipam:\n",
            "      config:\n",
            "        - subnet: 10.8.0.0/24\n",
        ),
    );
    let out = rstack(&d.0, &["config", "--format", "json"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(!err.contains("not supported yet"), "{err}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["networks"]["front"]["name"], "netspec_front");
    assert_eq!(
        v["services"]["web"]["ports"].as_array().map(Vec::len),
        Some(3)
    );
    assert_eq!(
        v["services"]["web"]["networks"]["front"]["ipv4_address"],
        "10.8.0.10"
    );
}
