//! A terminal for `exec -t`: a pty allocated from the container's own devpts (so the process
//! sees `/dev/pts/N` inside the container), the child made its session's controlling terminal,
//! and a relay between nsexec's stdin/stdout pipes and the pty master.

use super::error::{Result, RuntimeError};
use super::sys;
use std::os::fd::RawFd;

/// The master side of a new pty and its slave's path (inside the container's mount ns).
pub struct Pty {
    pub master: RawFd,
    pub slave: String,
}

/// Opens `/dev/ptmx` (call after joining the container's mount namespace), unlocks the slave
/// and sets the window size.
pub fn open(rows: u16, cols: u16) -> Result<Pty> {
    let master = sys::open_raw("/dev/ptmx", libc::O_RDWR | libc::O_NOCTTY)
        .map_err(|e| RuntimeError::io("open", "/dev/ptmx", e))?;
    let unlock: libc::c_int = 0;
    let mut n: libc::c_uint = 0;
    let size = libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: ioctls on the master we just opened, with pointers to properly typed locals.
    let ok = unsafe {
        libc::ioctl(master, libc::TIOCSPTLCK, &unlock) == 0
            && libc::ioctl(master, libc::TIOCGPTN, &mut n) == 0
            && libc::ioctl(master, libc::TIOCSWINSZ, &size) == 0
    };
    if !ok {
        let e = std::io::Error::last_os_error();
        sys::close(master);
        return Err(RuntimeError::io("ioctl", "/dev/ptmx", e));
    }
    Ok(Pty {
        master,
        slave: format!("/dev/pts/{n}"),
    })
}

/// In the forked child: new session, the slave as controlling terminal and as 0, 1 and 2.
pub fn attach_child(pty: &Pty) -> std::result::Result<(), String> {
    // SAFETY: setsid has no preconditions in a fresh child.
    unsafe { libc::setsid() };
    let slave =
        sys::open_raw(&pty.slave, libc::O_RDWR).map_err(|e| format!("open {}: {e}", pty.slave))?;
    // SAFETY: ioctl/dup2 on descriptors this child owns.
    unsafe {
        if libc::ioctl(slave, libc::TIOCSCTTY, 0) != 0 {
            return Err(format!(
                "set controlling terminal: {}",
                std::io::Error::last_os_error()
            ));
        }
    }
    for fd in 0..3 {
        sys::dup2(slave, fd).map_err(|e| format!("dup2 tty: {e}"))?;
    }
    sys::close(slave);
    sys::close(pty.master);
    Ok(())
}

/// In nsexec's parent: copies fd 0 to the master and the master to fd 1 until `child` has
/// exited and its output is drained; returns its wait status.
pub fn relay(child: i32, master: RawFd) -> i32 {
    let mut buf = [0u8; 16 * 1024];
    let mut stdin_open = true;
    let mut status = None;
    loop {
        let mut fds = [
            libc::pollfd {
                fd: if stdin_open { 0 } else { -1 },
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: master,
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        // After the child exited, only drain what is buffered (no waiting).
        let timeout = if status.is_some() { 0 } else { 50 };
        // SAFETY: a valid pollfd array of length 2.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), 2, timeout) };
        if n > 0 && fds[0].revents != 0 {
            // SAFETY: reading into our buffer from our stdin.
            let r = unsafe { libc::read(0, buf.as_mut_ptr().cast(), buf.len()) };
            if r > 0 {
                sys::write_all(master, &buf[..r as usize]);
            } else {
                // EOF on the client's stdin: send the terminal's EOF character instead of
                // closing the master, which would hang up the session.
                sys::write_all(master, &[4]);
                stdin_open = false;
            }
        }
        let mut drained = true;
        if n > 0 && fds[1].revents != 0 {
            // SAFETY: reading into our buffer from the master we own.
            let r = unsafe { libc::read(master, buf.as_mut_ptr().cast(), buf.len()) };
            if r > 0 {
                sys::write_all(1, &buf[..r as usize]);
                drained = false;
            }
        }
        if status.is_none() {
            let mut st = 0;
            // SAFETY: valid out-pointer; reaps only our child.
            if unsafe { libc::waitpid(child, &mut st, libc::WNOHANG) } == child {
                status = Some(st);
            }
        } else if drained {
            sys::close(master);
            return status.unwrap_or(0);
        }
    }
}
