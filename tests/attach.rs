//! `rstack attach` and the service keys `stdin_open` and `tty`: the real binary, real
//! containers (root only). Each test's Env takes its project down when dropped, failed or
//! not; the attach clients are killed on the way out.

mod common;

use common::*;
use std::io::{Read, Write};
use std::process::{Child, Command, Stdio};

/// An attach client: its stdin to type into, its stdout gathered by a thread.
struct Client {
    child: Child,
    out: Gathered,
}

impl Client {
    fn spawn(mut cmd: Command) -> Client {
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("attach client");
        let out = Gathered::start(child.stdout.take().expect("stdout"));
        Client { child, out }
    }

    fn type_in(&mut self, data: &[u8]) {
        let stdin = self.child.stdin.as_mut().expect("stdin");
        stdin.write_all(data).expect("type");
        stdin.flush().expect("flush");
    }

    /// Waits until the client has printed `text` (a bound only against hanging forever).
    fn wait_output(&mut self, text: &str) {
        self.out.wait_for("attach", text, 60);
    }

    /// Types the detach keys and waits for the client to leave; its exit status and stderr.
    fn detach(mut self) -> (std::process::ExitStatus, String) {
        self.type_in(b"\x10\x11");
        let mut err = String::new();
        if let Some(mut e) = self.child.stderr.take() {
            let _ = e.read_to_string(&mut err);
        }
        let st = self.child.wait().expect("wait attach");
        (st, err)
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        // Killed only if still running (a failed test): by the pid of the child we started.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn logs(env: &Env, p: &str, service: &str) -> String {
    env.ok(&["-p", p, "logs", "--no-log-prefix", service])
}

/// Polls the service's log until it contains `text`.
fn wait_log(env: &Env, p: &str, service: &str, text: &str) -> String {
    poll_for(60, 50, || {
        let l = logs(env, p, service);
        if l.contains(text) {
            return Ok(l);
        }
        Err(format!("log of {service} never showed {text:?}: {l}"))
    })
}

#[test]
fn attach_writes_into_an_open_stdin_and_detaches_leaving_it_open() {
    let Some((env, p)) = setup("attachin") else {
        return;
    };
    env.write(
        "compose.yaml",
        &format!(
            r#"name: {p}
services:
  echo:
    image: busybox:test
    stop_grace_period: 1s
    stdin_open: true
    command: ["sh", "-c", "while read x; do echo got:$$x; done; echo stdin-closed"]
"#
        ),
    );
    let cfg = env.run(&["config"]);
    assert!(
        !String::from_utf8_lossy(&cfg.stderr).contains("not supported"),
        "{}",
        String::from_utf8_lossy(&cfg.stderr)
    );
    env.ok(&["up", "-d"]);
    let mut c = Client::spawn(env.cmd(&["-p", &p, "attach", "echo"]));
    c.type_in(b"hello\n");
    // Through the container and its log, back to the attached client.
    c.wait_output("got:hello");
    let (st, err) = c.detach();
    assert!(st.success(), "detach: {st}: {err}");
    assert!(logs(&env, &p, "echo").contains("got:hello"));

    // The container goes on, and its stdin stayed open: a second attach is read too.
    let row = env.wait_for(&p, "echo", 30, |r| r["state"] == "running");
    assert_eq!(row["state"], "running");
    let mut c = Client::spawn(env.cmd(&["-p", &p, "attach", "echo"]));
    c.type_in(b"again\n");
    c.wait_output("got:again");
    let (st, err) = c.detach();
    assert!(st.success(), "second detach: {st}: {err}");
    let l = logs(&env, &p, "echo");
    assert!(!l.contains("stdin-closed"), "{l}");
    assert_eq!(env.service(&env.ps_json(&p), "echo")["state"], "running");
}

#[test]
fn a_tty_service_runs_on_a_terminal_and_attach_types_into_it() {
    let Some((env, p)) = setup("attachtty") else {
        return;
    };
    env.write(
        "compose.yaml",
        &format!(
            r#"name: {p}
services:
  term:
    image: busybox:test
    stop_grace_period: 1s
    tty: true
    stdin_open: true
    command: ["sh", "-c", "[ -t 0 ] && [ -t 1 ] && echo on-a-tty; tty; while read x; do echo got:$$x; done"]
"#
        ),
    );
    env.ok(&["up", "-d"]);
    let l = wait_log(&env, &p, "term", "on-a-tty");
    assert!(l.contains("/dev/pts/"), "{l}");

    // Through a real terminal: `script` gives the client a pty, which it puts in raw mode.
    if Command::new("script").arg("--version").output().is_err() {
        eprintln!("skipping the attached part: no `script` (bsdutils)");
        return;
    }
    let attach = format!("{} -p {p} attach term", bin());
    let mut script = Command::new("script");
    script
        .args(["-qefc", &attach, "/dev/null"])
        .current_dir(&env.work);
    // The Env's socket and data root, as its own commands get them.
    for (k, v) in env.cmd(&[]).get_envs() {
        match v {
            Some(v) => script.env(k, v),
            None => script.env_remove(k),
        };
    }
    let mut c = Client::spawn(script);
    c.type_in(b"hi\n");
    c.wait_output("got:hi");
    let (st, err) = c.detach();
    assert!(st.success(), "detach: {st}: {err}");
    assert!(logs(&env, &p, "term").contains("got:hi"));
    assert_eq!(env.service(&env.ps_json(&p), "term")["state"], "running");
}

#[test]
fn stdin_stays_open_across_a_daemon_restart() {
    let Some((env, p)) = setup("attachrestart") else {
        return;
    };
    env.write(
        "compose.yaml",
        &format!(
            r#"name: {p}
services:
  echo:
    image: busybox:test
    stop_grace_period: 1s
    stdin_open: true
    command: ["sh", "-c", "while read x; do echo got:$$x; done; echo stdin-closed"]
"#
        ),
    );
    env.ok(&["up", "-d"]);
    env.wait_for(&p, "echo", 30, |r| r["state"] == "running");
    // The daemon held a writer on the FIFO before the start: its exit must not be EOF.
    env.stop_daemon(libc::SIGTERM);
    let mut daemon = env.start_daemon();
    let mut c = Client::spawn(env.cmd(&["-p", &p, "attach", "echo"]));
    c.type_in(b"after\n");
    c.wait_output("got:after");
    let (st, err) = c.detach();
    assert!(st.success(), "detach: {st}: {err}");
    assert!(!logs(&env, &p, "echo").contains("stdin-closed"));
    env.ok(&["-p", &p, "down", "-t", "1"]);
    drop(env);
    let _ = daemon.wait();
}
