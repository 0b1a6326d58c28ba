//! Networks through the real binary: services find each other by name and alias over TCP
//! and UDP, other networks and other stacks reach them neither by name nor by address,
//! published ports answer from the host, a taken port is named, and `down` leaves nothing.

mod common;

use common::registry::free_port;
use common::{Env, poll_for, setup_named, skip_unless_root};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// The UDP echo program (tests/data/udpecho.c), built static with musl so its resolver reads
/// the container's /etc/resolv.conf (busybox's nc has no UDP).
fn udpecho(env: &Env) -> PathBuf {
    let out = env.work.join("udpecho");
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/udpecho.c");
    let st = Command::new("musl-gcc")
        .args(["-static", "-O2", "-o"])
        .arg(&out)
        .arg(&src)
        .status()
        .expect("musl-gcc (Debian package musl-tools)");
    assert!(st.success(), "building udpecho failed");
    out
}

/// Runs `exec` until it succeeds with output containing `want` (a server may still be
/// starting), or panics after 10 s.
fn exec_until(env: &Env, p: &str, args: &[&str], want: &str) -> String {
    env.exec_until(p, args, want)
}

/// `exec` that must fail (or print nothing).
fn exec_fails(env: &Env, p: &str, args: &[&str]) -> String {
    let mut full = vec!["-p", p, "exec"];
    full.extend_from_slice(args);
    let out = env.run(&full);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        !out.status.success() || text.trim().is_empty(),
        "{args:?} should have failed: {text}"
    );
    text
}

/// The container's address on its first network.
fn address_of(env: &Env, p: &str, service: &str) -> String {
    let out = env.ok(&["-p", p, "exec", service, "hostname", "-i"]);
    let ip = out.split_whitespace().next().unwrap_or("").to_string();
    assert!(
        ip.starts_with("10.") || ip.contains('.'),
        "no address: {out}"
    );
    ip
}

const SERVER: &str = r#"
    image: busybox:test
    command: ["sh", "-c", "/opt/udpecho -l 7001 & while true; do echo tcp-ok | nc -l -p 7000; done"]
    volumes: ["./udpecho:/opt/udpecho:ro"]
"#;

#[test]
fn services_reach_each_other_by_name_and_alias_and_nothing_else_reaches_them() {
    if skip_unless_root("network_names") {
        return;
    }
    let mut env = Env::new("netnames");
    env.import_busybox();
    udpecho(&env);
    let p = env.project("netnames");
    env.write(
        "compose.yaml",
        &format!(
            r#"name: {p}
services:
  server:{SERVER}    networks:
      front:
        aliases: [srv]
  client:
    image: busybox:test
    command: ["sleep", "1000"]
    volumes: ["./udpecho:/opt/udpecho:ro"]
    networks: [front]
  outsider:
    image: busybox:test
    command: ["sleep", "1000"]
    networks: [back]
networks:
  front: {{}}
  back: {{}}
"#
        ),
    );
    env.ok(&["-p", &p, "up", "-d"]);
    for name in ["server", "srv"] {
        exec_until(&env, &p, &["client", "nc", name, "7000"], "tcp-ok");
        exec_until(
            &env,
            &p,
            &["client", "/opt/udpecho", name, "7001", "udp-ok"],
            "udp-ok",
        );
    }
    // Another network of the same stack: neither the name nor the address.
    let ip = address_of(&env, &p, "server");
    exec_fails(&env, &p, &["outsider", "nslookup", "server"]);
    exec_fails(&env, &p, &["outsider", "nc", "-w", "2", &ip, "7000"]);

    // Another stack with the same service names resolves its own, and cannot reach ours.
    let q = env.project("netnames2");
    let dir = env.work.join("q");
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::copy(env.work.join("udpecho"), dir.join("udpecho")).expect("copy");
    let q_file = dir.join("compose.yaml");
    std::fs::write(
        &q_file,
        format!(
            "name: {q}\nservices:\n  server:{SERVER}  client:\n    image: busybox:test\n    command: [\"sleep\", \"1000\"]\n"
        ),
    )
    .expect("write");
    let qf = q_file.to_str().expect("utf8");
    env.ok(&["-f", qf, "up", "-d"]);
    let theirs = address_of(&env, &q, "server");
    assert_ne!(theirs, ip);
    let answer = exec_until(&env, &q, &["client", "nslookup", "server"], &theirs);
    assert!(!answer.contains(&format!("Address: {ip}")), "{answer}");
    exec_fails(&env, &q, &["client", "nc", "-w", "2", &ip, "7000"]);
    exec_until(&env, &q, &["client", "nc", "server", "7000"], "tcp-ok");
    env.ok(&["-f", qf, "down", "-t", "1"]);
    env.ok(&["-p", &p, "down", "-t", "1"]);
}

#[test]
fn a_published_port_answers_on_the_hosts_loopback_and_a_taken_one_is_named() {
    let Some((env, p)) = setup_named("network_ports", "netports") else {
        return;
    };
    std::fs::create_dir_all(env.work.join("www")).expect("mkdir");
    env.write("www/index.html", "served-through-dnat\n");
    let port = free_port();
    let port2 = free_port();
    env.write(
        "compose.yaml",
        &format!(
            r#"name: {p}
services:
  web:
    image: busybox:test
    command: ["httpd", "-f", "-p", "8000", "-h", "/www"]
    volumes: ["./www:/www:ro"]
    ports: ["127.0.0.1:{port}:8000", "{port2}:8000"]
"#
        ),
    );
    env.ok(&["-p", &p, "up", "-d"]);
    let url = format!("http://127.0.0.1:{port}/index.html");
    poll_for(10, 100, || {
        let out = Command::new("curl")
            .args(["-s", "--max-time", "2", &url])
            .output()
            .expect("curl");
        if String::from_utf8_lossy(&out.stdout).contains("served-through-dnat") {
            return Ok(());
        }
        Err(format!("no answer on {url}\n{}", env.daemon_log()))
    });
    // From the container itself, through a host address (its gateway): the DNAT sends the
    // connection back into the port it came from (hairpin).
    let route = env.ok(&["-p", &p, "exec", "web", "ip", "route"]);
    let gw = route
        .lines()
        .find_map(|l| l.strip_prefix("default via "))
        .and_then(|r| r.split_whitespace().next())
        .unwrap_or_else(|| panic!("no default route: {route}"))
        .to_string();
    let own = format!("http://{gw}:{port2}/index.html");
    exec_until(
        &env,
        &p,
        &["web", "wget", "-q", "-O", "-", &own],
        "served-through-dnat",
    );
    // The port is held by the daemon while it is published.
    assert!(std::net::TcpListener::bind(("127.0.0.1", port)).is_err());

    // A host port someone else holds fails that service, naming the port.
    let holder = std::net::TcpListener::bind("0.0.0.0:0").expect("bind");
    let taken = holder.local_addr().expect("addr").port();
    env.write(
        "taken.yaml",
        &format!(
            "name: {p}\nservices:\n  other:\n    image: busybox:test\n    command: [\"sleep\", \"100\"]\n    ports: [\"{taken}:80\"]\n"
        ),
    );
    let out = env.run(&["-f", "taken.yaml", "up", "-d", "other"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "up with a taken port succeeded");
    assert!(err.contains(&taken.to_string()), "{err}");
    drop(holder);
    env.ok(&["-p", &p, "down", "-t", "1"]);
    assert!(
        std::net::TcpListener::bind(("127.0.0.1", port)).is_ok(),
        "the host port is still held after down"
    );
}

/// The bridge of network `name` and the host ends of the veths on it.
fn bridge_and_veths(env: &Env, name: &str) -> (String, Vec<String>) {
    let rec: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(env.data_root.join(format!("networks/{name}.json")))
            .expect("network record"),
    )
    .expect("json");
    let bridge = rec["bridge"].as_str().expect("bridge").to_string();
    let out = Command::new("ip")
        .args(["-o", "link", "show", "master", &bridge])
        .output()
        .expect("ip");
    let veths = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split(':').nth(1))
        .map(|n| n.trim().split('@').next().unwrap_or("").to_string())
        .collect();
    (bridge, veths)
}

fn link_exists(name: &str) -> bool {
    Command::new("ip")
        .args(["link", "show", name])
        .stderr(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[test]
fn down_leaves_no_link_rule_or_lease_of_the_stack() {
    let Some((env, p)) = setup_named("network_down", "netdown") else {
        return;
    };
    let port = free_port();
    env.write(
        "compose.yaml",
        &format!(
            "name: {p}\nservices:\n  a:\n    image: busybox:test\n    command: [\"sleep\", \"1000\"]\n    ports: [\"{port}:80\"]\n  b:\n    image: busybox:test\n    command: [\"sleep\", \"1000\"]\n"
        ),
    );
    env.ok(&["-p", &p, "up", "-d"]);
    // A one-off on the same network, reaching a service by name, removed at its exit.
    env.ok(&["-p", &p, "run", "--rm", "b", "nslookup", "a"]);
    let (bridge, veths) = bridge_and_veths(&env, &format!("{p}_default"));
    // The one-off's veth may still be going (the kernel deletes it with its namespace).
    assert!(veths.len() >= 2, "{veths:?}");
    let rules = Command::new("nft")
        .args(["list", "ruleset"])
        .output()
        .expect("nft");
    let rules = String::from_utf8_lossy(&rules.stdout).into_owned();
    assert!(
        rules.contains(&bridge) && rules.contains(&port.to_string()),
        "{rules}"
    );

    env.ok(&["-p", &p, "down", "-t", "1"]);
    assert!(!link_exists(&bridge), "bridge {bridge} outlived down");
    // The kernel deletes a veth with its namespace, a moment after the container is gone.
    let deadline = Instant::now() + Duration::from_secs(10);
    while veths.iter().any(|v| link_exists(v)) {
        assert!(Instant::now() < deadline, "veths {veths:?} outlived down");
        std::thread::sleep(Duration::from_millis(100));
    }
    let rules = Command::new("nft")
        .args(["list", "ruleset"])
        .output()
        .expect("nft");
    let rules = String::from_utf8_lossy(&rules.stdout).into_owned();
    assert!(!rules.contains(&bridge), "{rules}");
    assert!(!rules.contains(&format!("{port}")), "{rules}");
    assert!(
        !env.data_root
            .join(format!("networks/{p}_default.json"))
            .exists(),
        "the network's record (and so its subnet) outlived down"
    );
}

#[test]
fn network_mode_none_host_and_service() {
    let Some((env, p)) = setup_named("network_modes", "netmodes") else {
        return;
    };
    env.write(
        "compose.yaml",
        &format!(
            r#"name: {p}
services:
  main:
    image: busybox:test
    command: ["sh", "-c", "while true; do echo joined | nc -l -p 7000; done"]
    extra_hosts: ["db.example:10.1.2.3", "gw:host-gateway"]
    dns_search: [example.com]
    hostname: mainhost
  side:
    image: busybox:test
    command: ["sleep", "1000"]
    network_mode: "service:main"
  lonely:
    image: busybox:test
    command: ["sleep", "1000"]
    network_mode: none
  hosty:
    image: busybox:test
    command: ["sleep", "1000"]
    network_mode: host
"#
        ),
    );
    env.ok(&["-p", &p, "up", "-d"]);
    // `side` shares main's namespace: main's listener is on its loopback.
    exec_until(&env, &p, &["side", "nc", "127.0.0.1", "7000"], "joined");
    let hosts = env.ok(&["-p", &p, "exec", "main", "cat", "/etc/hosts"]);
    assert!(hosts.contains("10.1.2.3\tdb.example"), "{hosts}");
    assert!(hosts.contains("mainhost"), "{hosts}");
    let resolv = env.ok(&["-p", &p, "exec", "main", "cat", "/etc/resolv.conf"]);
    assert!(resolv.contains("search example.com"), "{resolv}");
    let links = env.ok(&["-p", &p, "exec", "lonely", "ip", "-o", "link"]);
    assert_eq!(links.lines().count(), 1, "{links}");
    assert!(links.contains("lo"), "{links}");
    // The host's namespace: its interfaces, loopback and more.
    let links = env.ok(&["-p", &p, "exec", "hosty", "ip", "-o", "link"]);
    assert!(links.lines().count() > 1, "{links}");
    env.ok(&["-p", &p, "down", "-t", "1"]);
}

#[test]
fn three_replicas_give_three_dns_answers() {
    let Some((env, p)) = setup_named("network_replicas", "netscale") else {
        return;
    };
    env.write(
        "compose.yaml",
        &format!(
            "name: {p}\nservices:\n  web:\n    image: busybox:test\n    command: [\"sleep\", \"1000\"]\n    deploy:\n      replicas: 2\n  client:\n    image: busybox:test\n    command: [\"sleep\", \"1000\"]\n"
        ),
    );
    env.ok(&["-p", &p, "up", "-d", "--scale", "web=3"]);
    let answer = env.ok(&["-p", &p, "exec", "client", "nslookup", "web"]);
    let addresses: std::collections::BTreeSet<&str> = answer
        .lines()
        .filter_map(|l| l.strip_prefix("Address: "))
        .collect();
    assert_eq!(addresses.len(), 3, "{answer}");
    // Each replica by its container name too.
    for i in 1..=3 {
        let name = format!("{p}-web-{i}");
        let one = env.ok(&["-p", &p, "exec", "client", "nslookup", &name]);
        let n = one.lines().filter(|l| l.starts_with("Address: ")).count();
        assert_eq!(n, 1, "{one}");
    }
    env.ok(&["-p", &p, "down", "-t", "1"]);
}

#[test]
fn a_crashed_daemons_successor_keeps_names_and_ports_working() {
    let Some((env, p)) = setup_named("network_adopt", "netadopt") else {
        return;
    };
    std::fs::create_dir_all(env.work.join("www")).expect("mkdir");
    env.write("www/index.html", "still-here\n");
    let port = free_port();
    env.write(
        "compose.yaml",
        &format!(
            r#"name: {p}
services:
  web:
    image: busybox:test
    command: ["httpd", "-f", "-p", "8000", "-h", "/www"]
    volumes: ["./www:/www:ro"]
    ports: ["127.0.0.1:{port}:8000"]
  client:
    image: busybox:test
    command: ["sleep", "1000"]
"#
        ),
    );
    env.ok(&["-p", &p, "up", "-d"]);
    exec_until(
        &env,
        &p,
        &[
            "client",
            "wget",
            "-q",
            "-O",
            "-",
            "http://web:8000/index.html",
        ],
        "still-here",
    );
    env.stop_daemon(libc::SIGKILL);
    // The next daemon adopts the containers: the name is answered again, and the host port
    // is held and forwarded.
    let mut daemon = env.start_daemon();
    let before = env.ps_json(&p);
    assert_eq!(env.service(&before, "web")["state"], "running");
    exec_until(
        &env,
        &p,
        &[
            "client",
            "wget",
            "-q",
            "-O",
            "-",
            "http://web:8000/index.html",
        ],
        "still-here",
    );
    let out = Command::new("curl")
        .args([
            "-s",
            "--max-time",
            "3",
            &format!("http://127.0.0.1:{port}/index.html"),
        ])
        .output()
        .expect("curl");
    assert!(String::from_utf8_lossy(&out.stdout).contains("still-here"));
    assert!(
        std::net::TcpListener::bind(("127.0.0.1", port)).is_err(),
        "the adopting daemon does not hold the host port"
    );
    env.ok(&["-p", &p, "down", "-t", "1"]);
    // SAFETY: signalling the daemon this test started, by its pid; then reaping it.
    unsafe { libc::kill(daemon.id() as i32, libc::SIGTERM) };
    let _ = daemon.wait();
}

/// A UDP client on the host that keeps sending to a published port from one source port
/// reaches the container that replaced the one it talked to, at another address. Its
/// connection-tracking entry, DNAT'd to the old address, lives as long as it keeps sending;
/// the daemon forgets it when the new container's port is published (as Docker does).
#[test]
fn a_steady_udp_client_reaches_the_container_that_replaced_its_own() {
    let Some((env, p)) = setup_named("network_udp_replaced", "netudp") else {
        return;
    };
    udpecho(&env);
    let port = std::net::UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .expect("free UDP port")
        .port();
    env.write(
        "compose.yaml",
        &format!(
            r#"name: {p}
services:
  echo:
    image: busybox:test
    command: ["/opt/udpecho", "-l", "7001"]
    volumes: ["./udpecho:/opt/udpecho:ro"]
    ports: ["127.0.0.1:{port}:7001/udp"]
    stop_signal: SIGKILL
  filler:
    image: busybox:test
    command: ["sleep", "1000"]
    profiles: ["fill"]
"#
        ),
    );
    env.ok(&["-p", &p, "up", "-d"]);
    let old_ip = address_of(&env, &p, "echo");

    // The client: one socket, a datagram every 50 ms, counting the answers.
    let answers = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let client = {
        let (answers, stop) = (answers.clone(), stop.clone());
        let s = std::net::UdpSocket::bind("127.0.0.1:0").expect("client socket");
        s.set_read_timeout(Some(Duration::from_millis(50)))
            .expect("timeout");
        std::thread::spawn(move || {
            let mut buf = [0u8; 64];
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let _ = s.send_to(b"ping", ("127.0.0.1", port));
                if let Ok((n, _)) = s.recv_from(&mut buf)
                    && &buf[..n] == b"ping"
                {
                    answers.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
            }
        })
    };
    let count = || answers.load(std::sync::atomic::Ordering::Relaxed);
    let answered_after = |n: usize, what: &str| {
        poll_for(10, 100, || match count() > n + 3 {
            true => Ok(()),
            false => Err(format!("{what}: {} answers\n{}", count(), env.daemon_log())),
        })
    };
    answered_after(0, "the first container");

    // Replaced while the client keeps sending, at another address (the filler takes the old
    // one meanwhile).
    env.ok(&["-p", &p, "rm", "-s", "-f", "echo"]);
    env.ok(&["-p", &p, "--profile", "fill", "up", "-d", "filler"]);
    env.ok(&["-p", &p, "up", "-d", "echo"]);
    let new_ip = address_of(&env, &p, "echo");
    assert_ne!(new_ip, old_ip, "the new container has the old address");
    answered_after(count(), "the replacing container");

    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    client.join().expect("client thread");
    env.ok(&["-p", &p, "--profile", "fill", "down", "-t", "1"]);
}
