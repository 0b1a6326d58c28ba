//! A CLI whose reader went away (`rstack top web | head -1`) ends quietly, as compose does.
//!
//! Rust ignores SIGPIPE, so `println!` into a closed pipe panics ("failed printing to
//! stdout: Broken pipe"). Restoring SIGPIPE's default disposition would also kill the
//! client when the daemon closes its socket early (an upload it refuses, whose answer says
//! more than the broken pipe), so instead: when stdout is a pipe with no reader left, the
//! CLI dies of SIGPIPE itself, as a Go program such as docker compose does on EPIPE on
//! stdout (the shell sees 141). Only the CLI installs this; the daemon and the shim keep
//! ignoring SIGPIPE.

use std::io::ErrorKind;

/// Installs the panic hook that turns a failed print into stdout's closed pipe into the
/// quiet SIGPIPE death; every other panic reports as before.
pub fn install() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let msg = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("");
        if msg.starts_with("failed printing to stdout") && stdout_reader_gone() {
            die();
        }
        previous(info);
    }));
}

/// True when `err` is a broken pipe and stdout has no reader: the error is about our
/// output, not the daemon's socket, and is not worth a message.
pub fn is_closed_stdout(err: &anyhow::Error) -> bool {
    err.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == ErrorKind::BrokenPipe)
    }) && stdout_reader_gone()
}

/// For writes whose errors are otherwise ignored (log lines, attached output): a closed
/// stdout ends the command as `die` does, instead of streaming on into nothing.
pub fn check(r: std::io::Result<()>) {
    if r.is_err_and(|e| e.kind() == ErrorKind::BrokenPipe) && stdout_reader_gone() {
        die();
    }
}

/// A pipe whose read end is closed polls as POLLERR on its write end.
fn stdout_reader_gone() -> bool {
    let mut fd = libc::pollfd {
        fd: libc::STDOUT_FILENO,
        events: libc::POLLOUT,
        revents: 0,
    };
    // SAFETY: one valid pollfd, zero timeout.
    let n = unsafe { libc::poll(&mut fd, 1, 0) };
    n == 1 && fd.revents & libc::POLLERR != 0
}

/// Dies of SIGPIPE (default disposition restored first), without a message.
pub fn die() -> ! {
    // SAFETY: plain signal calls on our own process.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        libc::raise(libc::SIGPIPE);
    }
    // Blocked by the caller's mask, say: the conventional status instead.
    std::process::exit(128 + libc::SIGPIPE)
}
