//! Classic BPF as seccomp takes it: the instruction format, the few opcodes the compiler
//! emits, the offsets of `struct seccomp_data` and the return value of each action.

use super::profile::Action;

/// One instruction, the kernel's `struct sock_filter` (same layout).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(C)]
pub struct Insn {
    pub code: u16,
    pub jt: u8,
    pub jf: u8,
    pub k: u32,
}

/// `BPF_LD | BPF_W | BPF_ABS`: A = the 32-bit word of `seccomp_data` at offset k.
pub const LD_ABS: u16 = 0x20;
/// `BPF_ALU | BPF_AND | BPF_K`: A &= k.
pub const AND: u16 = 0x54;
/// `BPF_JMP | BPF_JA`: skip k instructions.
pub const JA: u16 = 0x05;
/// `BPF_JMP | BPF_JEQ | BPF_K`, `JGT`, `JGE`: skip jt when A (op) k holds, else jf.
pub const JEQ: u16 = 0x15;
pub const JGT: u16 = 0x25;
pub const JGE: u16 = 0x35;
/// `BPF_RET | BPF_K`: the filter's result is k.
pub const RET: u16 = 0x06;

/// Offsets in `struct seccomp_data { int nr; u32 arch; u64 instruction_pointer; u64 args[6]; }`.
pub const NR: u32 = 0;
pub const ARCH: u32 = 4;
/// The low and high 32-bit halves of argument `i` (little endian).
pub fn arg_lo(i: u8) -> u32 {
    16 + 8 * u32::from(i)
}
pub fn arg_hi(i: u8) -> u32 {
    arg_lo(i) + 4
}

/// `AUDIT_ARCH_X86_64`: the only ABI the filter admits (i386 and other arches are killed).
pub const AUDIT_ARCH_X86_64: u32 = 0xC000_003E;

pub const RET_KILL_PROCESS: u32 = 0x8000_0000;
pub const RET_ALLOW: u32 = 0x7fff_0000;
const RET_KILL_THREAD: u32 = 0;
const RET_TRAP: u32 = 0x0003_0000;
const RET_ERRNO: u32 = 0x0005_0000;
const RET_TRACE: u32 = 0x7ff0_0000;
const RET_LOG: u32 = 0x7ffc_0000;
const RET_DATA: u32 = 0xffff;

/// What the filter returns for `a` (the data of ERRNO and TRACE is 16 bits).
pub fn ret(a: Action) -> u32 {
    match a {
        Action::Allow => RET_ALLOW,
        Action::Errno(e) => RET_ERRNO | (e & RET_DATA),
        Action::KillThread => RET_KILL_THREAD,
        Action::KillProcess => RET_KILL_PROCESS,
        Action::Trap => RET_TRAP,
        Action::Trace(t) => RET_TRACE | (t & RET_DATA),
        Action::Log => RET_LOG,
    }
}

/// The kernel's precedence of a return value when several filters answer: the action part
/// read as a signed number, lower is more restrictive (KILL_PROCESS < KILL_THREAD < TRAP <
/// ERRNO < TRACE < LOG < ALLOW).
pub fn precedence(ret: u32) -> i32 {
    (ret & 0xffff_0000) as i32
}
