//! The `rstack` binary: every role (CLI, daemon, shim, exec helper) lives in one executable.

/// musl's allocator maps and unmaps small pages as the heap grows and shrinks: a CLI call
/// made about a hundred mmap/munmap calls, and each unmap in the daemon flushes the other
/// cores' TLBs. TLSF takes memory from the kernel in pools it keeps, starts without probing
/// anything (mimalloc's start-up cost 0.3 ms a call), and gives every role the same
/// allocator. It has no fork handlers: no process forks while another thread may hold its
/// lock (the shim and nsexec are single-threaded; the daemon spawns with exec).
#[global_allocator]
static ALLOC: rlsf::GlobalTlsf = rlsf::GlobalTlsf::new();

fn main() {
    std::process::exit(rstack::cli::main());
}
