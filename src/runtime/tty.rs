//! A terminal for `exec -t`: a pty allocated from the container's own devpts (so the process
//! sees `/dev/pts/N` inside the container), the child made its session's controlling terminal,
//! and a relay between nsexec's stdin/stdout pipes and the pty master.

use super::error::{Result, RuntimeError};
use super::sys;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd, RawFd};

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

/// Sets a terminal's window size (the kernel then sends SIGWINCH to its foreground group).
fn set_size(master: RawFd, rows: u16, cols: u16) {
    let size = libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ on a descriptor we own, with a pointer to a winsize.
    unsafe { libc::ioctl(master, libc::TIOCSWINSZ, &size) };
}

/// One resize on a resize FIFO: rows and columns as big-endian u16s (4 bytes, well below
/// PIPE_BUF, so each arrives whole).
pub fn resize_record(rows: u16, cols: u16) -> [u8; 4] {
    let (r, c) = (rows.to_be_bytes(), cols.to_be_bytes());
    [r[0], r[1], c[0], c[1]]
}

/// Applies every resize waiting on the non-blocking `fifo` to `master`; false once the FIFO
/// has no writer left (stop polling it then).
pub fn apply_resizes(fifo: RawFd, master: RawFd) -> bool {
    let mut rec = [0u8; 4];
    loop {
        // SAFETY: reading one record into a buffer of its size.
        let n = unsafe { libc::read(fifo, rec.as_mut_ptr().cast(), rec.len()) };
        match n {
            4 => set_size(
                master,
                u16::from_be_bytes([rec[0], rec[1]]),
                u16::from_be_bytes([rec[2], rec[3]]),
            ),
            // Nothing more now (EAGAIN) keeps it; EOF, an error or a torn record ends it.
            _ => {
                return n < 0
                    && std::io::Error::last_os_error().raw_os_error() == Some(libc::EAGAIN);
            }
        }
    }
}

/// Opens a resize FIFO's read end without waiting for a writer.
pub fn open_resize_fifo(path: &std::path::Path) -> Option<RawFd> {
    sys::open_raw(&path.to_string_lossy(), libc::O_RDONLY | libc::O_NONBLOCK).ok()
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
/// exited and its output is drained; forwards the signals blocked in `set` (nsexec's
/// forwarded ones) to the child; returns its wait status.
///
/// The master is non-blocking and input waits in a buffer until the master takes it, so a
/// child that is busy writing output can never deadlock against our writes of its input.
pub fn relay(child: i32, master: RawFd, mut resize: Option<RawFd>, set: &libc::sigset_t) -> i32 {
    // SAFETY: fcntl on the master we own; signalfd on a copy of the blocked set.
    let sigfd = unsafe {
        let fl = libc::fcntl(master, libc::F_GETFL);
        libc::fcntl(master, libc::F_SETFL, fl | libc::O_NONBLOCK);
        libc::signalfd(-1, set, libc::SFD_CLOEXEC | libc::SFD_NONBLOCK)
    };
    let mut buf = [0u8; 16 * 1024];
    let mut pending: Vec<u8> = Vec::new();
    let mut stdin_open = true;
    let mut eof_sent = false;
    let mut status = None;
    loop {
        if !stdin_open && !eof_sent && pending.is_empty() {
            // EOF on the client's stdin: the terminal's EOF character, not a hang-up.
            pending.push(4);
            eof_sent = true;
        }
        let mut fds = [
            libc::pollfd {
                fd: if stdin_open && pending.is_empty() {
                    0
                } else {
                    -1
                },
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: master,
                events: libc::POLLIN | if pending.is_empty() { 0 } else { libc::POLLOUT },
                revents: 0,
            },
            libc::pollfd {
                fd: sigfd,
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: resize.unwrap_or(-1),
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        // After the child exited, only drain what is buffered (no waiting).
        let timeout = if status.is_some() { 0 } else { 50 };
        // SAFETY: a valid pollfd array of length 4 (negative fds are ignored).
        let n = unsafe { libc::poll(fds.as_mut_ptr(), 4, timeout) };
        if n > 0
            && fds[3].revents != 0
            && let Some(fd) = resize
            && !apply_resizes(fd, master)
        {
            sys::close(fd);
            resize = None;
        }
        if n > 0 && fds[2].revents != 0 {
            // SAFETY: signalfd_siginfo is plain data; all-zero is a valid value.
            let mut si: libc::signalfd_siginfo = unsafe { std::mem::zeroed() };
            let size = std::mem::size_of::<libc::signalfd_siginfo>();
            let ptr = (&mut si as *mut libc::signalfd_siginfo).cast();
            // SAFETY: reading whole siginfo records into a properly sized local.
            while unsafe { libc::read(sigfd, ptr, size) } == size as isize {
                let sig = si.ssi_signo as i32;
                if sig != libc::SIGCHLD {
                    // SAFETY: plain kill of our own child.
                    unsafe { libc::kill(child, sig) };
                }
            }
        }
        if n > 0 && fds[0].revents != 0 {
            // SAFETY: reading into our buffer from our stdin.
            let r = unsafe { libc::read(0, buf.as_mut_ptr().cast(), buf.len()) };
            if r > 0 {
                pending.extend_from_slice(&buf[..r as usize]);
            } else {
                stdin_open = false;
            }
        }
        if n > 0 && fds[1].revents & libc::POLLOUT != 0 && !pending.is_empty() {
            // SAFETY: writing our buffer to the non-blocking master.
            let w = unsafe { libc::write(master, pending.as_ptr().cast(), pending.len()) };
            if w > 0 {
                pending.drain(..w as usize);
            }
        }
        let mut drained = true;
        if n > 0 && fds[1].revents & libc::POLLIN != 0 {
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
            for fd in resize.into_iter().chain((sigfd >= 0).then_some(sigfd)) {
                sys::close(fd);
            }
            return status.unwrap_or(0);
        }
    }
}

/// Sends `fd` (a pty master) over a unix socket (SCM_RIGHTS), as runc's console socket does:
/// the container's init creates its terminal inside its own devpts and hands the master out.
pub fn send_fd(sock: RawFd, fd: RawFd) -> std::result::Result<(), String> {
    sys::send_byte_with_fds(sock, 0, &[fd]).map_err(|e| format!("send terminal: {e}"))
}

/// Receives a descriptor sent by `send_fd` (close-on-exec), without waiting; `None` if the
/// peer sent none.
pub fn recv_fd(sock: RawFd) -> Option<RawFd> {
    let (_, mut fds) = sys::recv_byte_with_fds(sock, libc::MSG_DONTWAIT).ok()??;
    let first = (!fds.is_empty()).then(|| fds.remove(0));
    for extra in fds {
        sys::close(extra);
    }
    first
}

/// The shim's side of a container's terminal input: bytes from the daemon's stdin FIFO go to
/// the pty master through a buffer, written only as the (non-blocking) master takes them, so
/// the shim never blocks on a container that is not reading its terminal.
/// It owns the FIFO; the master stays its owner's (the shim's stdout stream), lent per call.
pub struct Input {
    /// The FIFO's read end; `None` once at EOF (closed then).
    fifo: Option<OwnedFd>,
    pending: Vec<u8>,
    eof_sent: bool,
}

impl Input {
    /// `master` is made non-blocking (its readers must take EAGAIN as "nothing yet").
    pub fn new(fifo: OwnedFd, master: BorrowedFd<'_>) -> Input {
        // SAFETY: fcntl on a descriptor borrowed for the call.
        unsafe {
            let fl = libc::fcntl(master.as_raw_fd(), libc::F_GETFL);
            libc::fcntl(master.as_raw_fd(), libc::F_SETFL, fl | libc::O_NONBLOCK);
        }
        Input {
            fifo: Some(fifo),
            pending: Vec::new(),
            eof_sent: false,
        }
    }

    /// The FIFO to poll for input: only while nothing is waiting for the master (-1: none).
    pub fn poll_fifo(&self) -> RawFd {
        match &self.fifo {
            Some(fd) if self.pending.is_empty() => fd.as_raw_fd(),
            _ => -1,
        }
    }

    /// Whether the FIFO is still open (no EOF yet).
    pub fn fifo_open(&self) -> bool {
        self.fifo.is_some()
    }

    /// Whether the master should be polled for POLLOUT.
    pub fn wants_master(&self) -> bool {
        !self.pending.is_empty()
    }

    /// The FIFO is readable: take what it has (EOF becomes the terminal's EOF character).
    pub fn read_fifo(&mut self, buf: &mut [u8]) {
        let Some(fifo) = &self.fifo else { return };
        // SAFETY: reading into the caller's buffer from the FIFO we own.
        let n = unsafe { libc::read(fifo.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        if n > 0 {
            self.pending.extend_from_slice(&buf[..n as usize]);
        } else if n == 0 {
            self.fifo = None;
            if !self.eof_sent {
                self.pending.push(4);
                self.eof_sent = true;
            }
        }
    }

    /// The master can take input: write what it takes.
    pub fn write_master(&mut self, master: BorrowedFd<'_>) {
        // SAFETY: writing our buffer to the non-blocking master, borrowed for the call.
        let w = unsafe {
            libc::write(
                master.as_raw_fd(),
                self.pending.as_ptr().cast(),
                self.pending.len(),
            )
        };
        if w > 0 {
            self.pending.drain(..w as usize);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    #[test]
    fn a_descriptor_crosses_the_console_socket() {
        let (a, b) = sys::socketpair().expect("socketpair");
        let (r, w) = sys::pipe().expect("pipe");
        send_fd(a, w).expect("send");
        let got = recv_fd(b).expect("received");
        assert_ne!(got, w, "a new descriptor for the same pipe");
        sys::write_all(got, b"x");
        let mut buf = [0u8; 1];
        // SAFETY: reading one byte into a local buffer from our pipe.
        assert_eq!(unsafe { libc::read(r, buf.as_mut_ptr().cast(), 1) }, 1);
        assert_eq!(&buf, b"x");
        assert_eq!(recv_fd(b), None, "nothing more was sent");
        for fd in [a, b, r, w, got] {
            sys::close(fd);
        }
    }

    #[test]
    fn terminal_input_waits_in_a_buffer_and_eof_becomes_ctrl_d() {
        let (fifo_r, fifo_w) = sys::pipe().expect("pipe");
        let (master_r, master_w) = sys::pipe().expect("pipe");
        // SAFETY: both pipe ends were just created and are owned by nothing else.
        let (fifo_r, master_w) = unsafe {
            use std::os::fd::FromRawFd;
            (OwnedFd::from_raw_fd(fifo_r), OwnedFd::from_raw_fd(master_w))
        };
        let mut input = Input::new(fifo_r, master_w.as_fd());
        sys::write_all(fifo_w, b"ls\n");
        sys::close(fifo_w);
        let mut buf = [0u8; 64];
        input.read_fifo(&mut buf);
        assert!(input.wants_master());
        assert_eq!(
            input.poll_fifo(),
            -1,
            "no more input read while some is pending"
        );
        input.write_master(master_w.as_fd());
        input.read_fifo(&mut buf); // EOF
        assert!(!input.fifo_open(), "closed at EOF");
        input.write_master(master_w.as_fd());
        // SAFETY: reading into a local buffer from our pipe.
        let n = unsafe { libc::read(master_r, buf.as_mut_ptr().cast(), buf.len()) };
        assert_eq!(&buf[..n as usize], b"ls\n\x04");
        sys::close(master_r);
    }

    /// The input owns its FIFO: dropping it (the shim's supervise loop ending) closes the
    /// read end, which the writer sees as a broken pipe.
    #[test]
    fn dropping_the_input_closes_its_fifo() {
        let (fifo_r, fifo_w) = sys::pipe().expect("pipe");
        let (master_r, master_w) = sys::pipe().expect("pipe");
        // SAFETY: both pipe ends were just created and are owned by nothing else.
        let (fifo_r, master_w) = unsafe {
            use std::os::fd::FromRawFd;
            (OwnedFd::from_raw_fd(fifo_r), OwnedFd::from_raw_fd(master_w))
        };
        let input = Input::new(fifo_r, master_w.as_fd());
        drop(input);
        // SAFETY: writing one byte from a local buffer to our pipe's write end (the Rust
        // runtime ignores SIGPIPE, so a closed reader is an EPIPE error).
        let n = unsafe { libc::write(fifo_w, b"x".as_ptr().cast(), 1) };
        let errno = std::io::Error::last_os_error().raw_os_error();
        assert_eq!((n, errno), (-1, Some(libc::EPIPE)));
        sys::close(fifo_w);
        sys::close(master_r);
    }
}
