//! A classic BPF interpreter for seccomp programs (tests only): runs a program on a
//! `seccomp_data`, and several stacked filters as the kernel does. It knows the instructions
//! both compilers emit (LD ABS, ALU AND, JA, JEQ/JGT/JGE/JSET with K, RET K) and panics on any
//! other, and checks what the kernel's checker checks of them.

use super::bpf::{self, Insn};
use super::compile::MAX_INSNS;

/// `struct seccomp_data`.
#[derive(Debug, Clone, Copy)]
pub struct Data {
    pub nr: u32,
    pub arch: u32,
    pub ip: u64,
    pub args: [u64; 6],
}

impl Data {
    pub fn x86_64(nr: u32, args: [u64; 6]) -> Data {
        Data {
            nr,
            arch: bpf::AUDIT_ARCH_X86_64,
            ip: 0x7f00_1234_5678,
            args,
        }
    }

    fn word(&self, off: u32) -> u32 {
        assert!(off.is_multiple_of(4) && off < 64, "load at offset {off}");
        let half = |v: u64| match off % 8 {
            0 => v as u32,
            _ => (v >> 32) as u32,
        };
        match off {
            0 => self.nr,
            4 => self.arch,
            8 | 12 => half(self.ip),
            _ => half(self.args[(off as usize - 16) / 8]),
        }
    }
}

/// Panics unless the kernel would load `p`: 1 to 4096 instructions, known opcodes, jumps
/// inside the program, a RET last.
pub fn check(p: &[Insn]) {
    assert!(
        !p.is_empty() && p.len() <= MAX_INSNS,
        "{} instructions",
        p.len()
    );
    for (pc, i) in p.iter().enumerate() {
        let after = |off: u64| pc as u64 + 1 + off < p.len() as u64;
        match i.code {
            bpf::LD_ABS => assert!(i.k.is_multiple_of(4) && i.k < 64, "pc {pc}: load {}", i.k),
            bpf::AND | bpf::RET => {}
            bpf::JA => assert!(after(u64::from(i.k)), "pc {pc}: JA out of the program"),
            bpf::JEQ | bpf::JGT | bpf::JGE | JSET => {
                assert!(after(u64::from(i.jt)) && after(u64::from(i.jf)), "pc {pc}")
            }
            c => panic!("pc {pc}: opcode {c:#x}"),
        }
    }
    assert_eq!(
        p[p.len() - 1].code,
        bpf::RET,
        "the last instruction is not a RET"
    );
}

const JSET: u16 = 0x45;

/// The program's return value for `d`.
pub fn run(p: &[Insn], d: &Data) -> u32 {
    let (mut a, mut pc) = (0u32, 0usize);
    loop {
        let i = p[pc];
        pc += 1;
        let cond = |holds: bool| usize::from(if holds { i.jt } else { i.jf });
        match i.code {
            bpf::LD_ABS => a = d.word(i.k),
            bpf::AND => a &= i.k,
            bpf::JA => pc += i.k as usize,
            bpf::JEQ => pc += cond(a == i.k),
            bpf::JGT => pc += cond(a > i.k),
            bpf::JGE => pc += cond(a >= i.k),
            JSET => pc += cond(a & i.k != 0),
            bpf::RET => return i.k,
            c => panic!("opcode {c:#x}"),
        }
    }
}

/// The result of filters installed in this order (the kernel's `seccomp_run_filters`): the
/// newest runs first, and a result replaces the current one only when strictly more
/// restrictive. No filter: ALLOW.
pub fn run_all(programs: &[Vec<Insn>], d: &Data) -> u32 {
    let mut ret = bpf::RET_ALLOW;
    for p in programs.iter().rev() {
        let r = run(p, d);
        if bpf::precedence(r) < bpf::precedence(ret) {
            ret = r;
        }
    }
    ret
}
