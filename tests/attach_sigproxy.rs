//! `rstack attach --sig-proxy` (docker compose attach's flag, default true): the signals the
//! attach client receives reach the container's main process; with `--sig-proxy=false` they
//! only end the client. Real binary, real containers (root only).

mod common;

use common::*;
use std::process::{Child, Stdio};
use std::time::Duration;

/// A service whose main process reports the signals it traps, and ticks so that an attach
/// client can tell it is connected.
fn stack(p: &str) -> String {
    format!(
        r#"name: {p}
services:
  trap:
    image: busybox:test
    stop_grace_period: 1s
    command: ["sh", "-c", "trap 'echo got-usr1' USR1; trap 'echo got-usr2' USR2; trap 'echo got-term; exit 3' TERM; while :; do echo tick; sleep 0.2; done"]
"#
    )
}

struct Client {
    child: Child,
    out: Gathered,
}

impl Client {
    fn spawn(env: &Env, args: &[&str]) -> Client {
        let mut child = env
            .cmd(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("attach client");
        let out = Gathered::start(child.stdout.take().expect("stdout"));
        Client { child, out }
    }

    fn wait_output(&mut self, text: &str) {
        self.out.wait_for("attach", text, 60);
    }

    fn signal(&self, sig: i32) {
        // SAFETY: kill(2) on the pid of the child we started and have not reaped.
        assert_eq!(unsafe { libc::kill(self.child.id() as i32, sig) }, 0);
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn logs(env: &Env, p: &str) -> String {
    env.ok(&["-p", p, "logs", "--no-log-prefix", "trap"])
}

#[test]
fn attach_proxies_the_signals_it_receives_to_the_container() {
    let Some((env, p)) = setup("sigproxy") else {
        return;
    };
    env.write("compose.yaml", &stack(&p));
    env.ok(&["up", "-d"]);
    let mut c = Client::spawn(&env, &["-p", &p, "attach", "trap"]);
    // Output arrives only once the client is attached (and its signals are set up).
    c.wait_output("tick");
    c.signal(libc::SIGUSR1);
    c.wait_output("got-usr1");
    // SIGTERM too: the container ends, and so does the client, with its exit code.
    c.signal(libc::SIGTERM);
    c.wait_output("got-term");
    let st = c.child.wait().expect("wait");
    assert_eq!(st.code(), Some(3), "{st}");
    let row = env.wait_for(&p, "trap", 30, |r| r["state"] == "exited");
    assert_eq!(row["state"], "exited");
}

#[test]
fn attach_with_sig_proxy_false_keeps_the_signals_to_itself() {
    let Some((env, p)) = setup("nosigproxy") else {
        return;
    };
    env.write("compose.yaml", &stack(&p));
    env.ok(&["up", "-d"]);
    let mut c = Client::spawn(&env, &["-p", &p, "attach", "--sig-proxy=false", "trap"]);
    c.wait_output("tick");
    c.signal(libc::SIGUSR1);
    // Its default action ends the client, not the container.
    let st = c.child.wait().expect("wait");
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&st),
        Some(libc::SIGUSR1),
        "{st}"
    );
    // A signal sent afterwards through rstack arrives; the client's never did.
    env.ok(&["-p", &p, "kill", "-s", "SIGUSR2", "trap"]);
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let mut l = logs(&env, &p);
    while !l.contains("got-usr2") {
        assert!(std::time::Instant::now() < deadline, "no got-usr2: {l}");
        std::thread::sleep(Duration::from_millis(50));
        l = logs(&env, &p);
    }
    assert!(!l.contains("got-usr1"), "{l}");
    assert_eq!(env.service(&env.ps_json(&p), "trap")["state"], "running");
}
