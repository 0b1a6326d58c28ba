//! A container on a network without IPv6 gets no IPv6 address on its interface: the veth
//! ends come up with the kernel's address generation off (no link-local address, no
//! duplicate address detection on the start path), through the real binary.

mod common;

use common::{Env, skip_unless_root};

#[test]
fn eth0_has_no_ipv6_link_local_address_on_a_v4_only_network() {
    if skip_unless_root("netv6off") {
        return;
    }
    let mut env = Env::new("netv6off");
    env.import_busybox();
    let p = env.project("netv6off");
    env.write(
        "compose.yaml",
        &format!(
            r#"name: {p}
services:
  t:
    image: busybox:test
"#
        ),
    );
    // Several runs: the first may start from a fresh shim, the others from a spare whose
    // veth pair was made ahead; both must come up without IPv6 addresses.
    for i in 0..3 {
        // /proc/net is the container's network namespace; tentative addresses are listed.
        let out = env.ok(&[
            "-p",
            &p,
            "run",
            "--rm",
            "t",
            "sh",
            "-c",
            "ip -o link show eth0 >/dev/null && cat /proc/net/if_inet6",
        ]);
        assert!(
            !out.contains("eth0"),
            "run {i}: eth0 has IPv6 addresses:\n{out}"
        );
    }
    env.ok(&["-p", &p, "down", "-t", "1"]);
}
