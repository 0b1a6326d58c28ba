//! cgroup v2 has no devices files: device access is decided by a BPF_PROG_TYPE_CGROUP_DEVICE
//! program attached to the cgroup. This module turns a rule list into that program's
//! instructions (pure), as runc's `devicefilter` and youki do.
//!
//! The rules are first reduced the way the v1 devices controller applies them
//! (`effective`), so both hierarchies mean the same thing: an `a` rule resets the default
//! and drops every exception; a rule of the default's kind removes access bits from exactly
//! matching exceptions; any other rule adds an exception.

use crate::runtime::devices::{ACC_ALL, DevKind, Rule};

/// A rule list reduced to a default and its exceptions (of the opposite verdict).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Effective {
    pub default_allow: bool,
    /// (kind, major, minor, access bits); never kind `All`.
    pub exceptions: Vec<(DevKind, Option<u32>, Option<u32>, u8)>,
}

/// Applies `rules` in order to a cgroup that starts allowing everything (a new v1 cgroup
/// below the root).
pub fn effective(rules: &[Rule]) -> Effective {
    let mut e = Effective {
        default_allow: true,
        exceptions: Vec::new(),
    };
    for r in rules {
        if r.kind == DevKind::All {
            // The kernel treats any line starting with `a` as the reset, whatever follows.
            e.default_allow = r.allow;
            e.exceptions.clear();
            continue;
        }
        let same = |x: &(DevKind, Option<u32>, Option<u32>, u8)| {
            x.0 == r.kind && x.1 == r.major && x.2 == r.minor
        };
        if r.allow == e.default_allow {
            for x in e.exceptions.iter_mut().filter(|x| same(x)) {
                x.3 &= !r.access;
            }
            e.exceptions.retain(|x| x.3 != 0);
        } else if let Some(x) = e.exceptions.iter_mut().find(|x| same(x)) {
            x.3 |= r.access;
        } else {
            e.exceptions.push((r.kind, r.major, r.minor, r.access));
        }
    }
    e
}

/// One eBPF instruction (`struct bpf_insn`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(C)]
pub struct Insn {
    pub code: u8,
    /// dst_reg in the low nibble, src_reg in the high one.
    pub regs: u8,
    pub off: i16,
    pub imm: i32,
}

// Opcodes used (class | op | source).
pub const LDX_MEM_W: u8 = 0x61; // BPF_LDX | BPF_MEM | BPF_W
pub const AND32_K: u8 = 0x54; // BPF_ALU | BPF_AND | BPF_K
pub const RSH32_K: u8 = 0x74; // BPF_ALU | BPF_RSH | BPF_K
pub const MOV32_K: u8 = 0xb4; // BPF_ALU | BPF_MOV | BPF_K
pub const MOV32_X: u8 = 0xbc; // BPF_ALU | BPF_MOV | BPF_X
pub const JNE_K: u8 = 0x55; // BPF_JMP | BPF_JNE | BPF_K
pub const JEQ_K: u8 = 0x15; // BPF_JMP | BPF_JEQ | BPF_K
pub const EXIT: u8 = 0x95; // BPF_JMP | BPF_EXIT

/// Registers holding the request after the prologue.
const R_TYPE: u8 = 2;
const R_ACCESS: u8 = 3;
const R_MAJOR: u8 = 4;
const R_MINOR: u8 = 5;
const R_TMP: u8 = 1;

/// `BPF_DEVCG_DEV_*`.
fn dev_type(k: DevKind) -> i32 {
    match k {
        DevKind::Block => 1,
        DevKind::Char => 2,
        DevKind::All => 0,
    }
}

fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
    Insn {
        code,
        regs: (dst & 0xf) | (src << 4),
        off,
        imm,
    }
}

/// The program for `rules`: returns 1 (allow) or 0 (deny, the caller gets EPERM).
///
/// Prologue: the context is `struct bpf_cgroup_dev_ctx { u32 access_type; u32 major;
/// u32 minor; }`, where access_type is `(access << 16) | type`. Then one block per
/// exception: each test that fails jumps to the next block; a block that falls through
/// returns the exception's verdict. The last block returns the default.
pub fn program(rules: &[Rule]) -> Vec<Insn> {
    let e = effective(rules);
    let mut p = vec![
        insn(LDX_MEM_W, R_TYPE, 1, 0, 0),
        insn(AND32_K, R_TYPE, 0, 0, 0xffff),
        insn(LDX_MEM_W, R_ACCESS, 1, 0, 0),
        insn(RSH32_K, R_ACCESS, 0, 0, 16),
        insn(LDX_MEM_W, R_MAJOR, 1, 4, 0),
        insn(LDX_MEM_W, R_MINOR, 1, 8, 0),
    ];
    for &(kind, major, minor, access) in &e.exceptions {
        // Tests as (opcode, register, immediate); each jumps past the block when it fails.
        let mut tests: Vec<Vec<(u8, u8, i32)>> = Vec::new();
        tests.push(vec![(JNE_K, R_TYPE, dev_type(kind))]);
        if e.default_allow {
            // A deny exception: refuse if any requested bit is one it names (the v1 rule for
            // a default-allow cgroup). Every request has a bit, so `rwm` needs no test.
            if access != ACC_ALL {
                tests.push(vec![
                    (MOV32_X, R_TMP, R_ACCESS as i32),
                    (AND32_K, R_TMP, i32::from(access)),
                    (JEQ_K, R_TMP, 0),
                ]);
            }
        } else if access != ACC_ALL {
            // An allow exception: every requested bit must be one it grants.
            tests.push(vec![
                (MOV32_X, R_TMP, R_ACCESS as i32),
                (AND32_K, R_TMP, i32::from(!access & ACC_ALL)),
                (JNE_K, R_TMP, 0),
            ]);
        }
        if let Some(m) = major {
            tests.push(vec![(JNE_K, R_MAJOR, m as i32)]);
        }
        if let Some(m) = minor {
            tests.push(vec![(JNE_K, R_MINOR, m as i32)]);
        }
        let len: usize = tests.iter().map(Vec::len).sum::<usize>() + 2;
        let mut at = 0;
        for group in tests {
            for (code, reg, imm) in group {
                at += 1;
                p.push(match code {
                    // MOV32_X carries the source register in `imm` above.
                    MOV32_X => insn(code, reg, imm as u8, 0, 0),
                    // A jump's offset counts from the next instruction to the block's end.
                    JNE_K | JEQ_K => insn(code, reg, 0, (len - at) as i16, imm),
                    _ => insn(code, reg, 0, 0, imm),
                });
            }
        }
        p.push(insn(MOV32_K, 0, 0, 0, i32::from(!e.default_allow)));
        p.push(insn(EXIT, 0, 0, 0, 0));
    }
    p.push(insn(MOV32_K, 0, 0, 0, i32::from(e.default_allow)));
    p.push(insn(EXIT, 0, 0, 0, 0));
    p
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::devices::{ACC_MKNOD, ACC_READ, ACC_WRITE, DEFAULT_RULES};

    fn rule(allow: bool, kind: DevKind, major: Option<u32>, minor: Option<u32>, a: u8) -> Rule {
        Rule {
            allow,
            kind,
            major,
            minor,
            access: a,
        }
    }

    #[test]
    fn v1_semantics() {
        let deny_all = rule(false, DevKind::All, None, None, ACC_ALL);
        let e = effective(&DEFAULT_RULES);
        assert!(!e.default_allow);
        assert_eq!(e.exceptions.len(), 12);
        // A deny in a default-deny cgroup only takes bits away from the same exception.
        let e = effective(&[
            deny_all,
            rule(true, DevKind::Char, Some(1), Some(3), ACC_ALL),
            rule(false, DevKind::Char, Some(1), Some(3), ACC_WRITE),
            rule(false, DevKind::Char, Some(1), None, ACC_ALL),
        ]);
        assert_eq!(
            e.exceptions,
            vec![(DevKind::Char, Some(1), Some(3), ACC_READ | ACC_MKNOD)]
        );
        // `a` resets: allow-all drops every exception; later denies are exceptions.
        let e = effective(&[
            deny_all,
            rule(true, DevKind::Char, Some(1), Some(3), ACC_ALL),
            rule(true, DevKind::All, None, None, ACC_ALL),
            rule(false, DevKind::Block, Some(7), None, ACC_READ),
            rule(false, DevKind::Block, Some(7), None, ACC_WRITE),
        ]);
        assert!(e.default_allow);
        assert_eq!(
            e.exceptions,
            vec![(DevKind::Block, Some(7), None, ACC_READ | ACC_WRITE)]
        );
    }

    /// Instruction by instruction, for a default-deny list with every kind of test.
    #[test]
    fn whitelist_program() {
        let p = program(&[
            rule(false, DevKind::All, None, None, ACC_ALL),
            rule(true, DevKind::Char, None, None, ACC_MKNOD),
            rule(true, DevKind::Char, Some(1), Some(3), ACC_ALL),
            rule(true, DevKind::Block, Some(7), None, ACC_READ | ACC_MKNOD),
        ]);
        let i = |code, dst, src, off, imm| insn(code, dst, src, off, imm);
        let expected = vec![
            // Prologue.
            i(0x61, 2, 1, 0, 0),
            i(0x54, 2, 0, 0, 0xffff),
            i(0x61, 3, 1, 0, 0),
            i(0x74, 3, 0, 0, 16),
            i(0x61, 4, 1, 4, 0),
            i(0x61, 5, 1, 8, 0),
            // c *:* m: type, then "no bit but m requested".
            i(0x55, 2, 0, 5, 2),
            i(0xbc, 1, 3, 0, 0),
            i(0x54, 1, 0, 0, 6),
            i(0x55, 1, 0, 2, 0),
            i(0xb4, 0, 0, 0, 1),
            i(0x95, 0, 0, 0, 0),
            // c 1:3 rwm: type, major, minor.
            i(0x55, 2, 0, 4, 2),
            i(0x55, 4, 0, 3, 1),
            i(0x55, 5, 0, 2, 3),
            i(0xb4, 0, 0, 0, 1),
            i(0x95, 0, 0, 0, 0),
            // b 7:* rm: type, access (w must not be asked), major.
            i(0x55, 2, 0, 6, 1),
            i(0xbc, 1, 3, 0, 0),
            i(0x54, 1, 0, 0, 4),
            i(0x55, 1, 0, 3, 0),
            i(0x55, 4, 0, 2, 7),
            i(0xb4, 0, 0, 0, 1),
            i(0x95, 0, 0, 0, 0),
            // Default: deny.
            i(0xb4, 0, 0, 0, 0),
            i(0x95, 0, 0, 0, 0),
        ];
        assert_eq!(p, expected);
        assert_eq!(p[0].regs, 0x12, "dst r2 low nibble, src r1 high nibble");
    }

    #[test]
    fn blacklist_program() {
        let p = program(&[
            rule(true, DevKind::All, None, None, ACC_ALL),
            rule(false, DevKind::Char, Some(4), None, ACC_WRITE),
            rule(false, DevKind::Block, None, None, ACC_ALL),
        ]);
        let i = |code, dst, src, off, imm| insn(code, dst, src, off, imm);
        assert_eq!(
            p[6..],
            [
                // c 4:* w denied: refuse when w is among the requested bits.
                i(0x55, 2, 0, 6, 2),
                i(0xbc, 1, 3, 0, 0),
                i(0x54, 1, 0, 0, 4),
                i(0x15, 1, 0, 3, 0),
                i(0x55, 4, 0, 2, 4),
                i(0xb4, 0, 0, 0, 0),
                i(0x95, 0, 0, 0, 0),
                // b *:* rwm denied: the type test alone.
                i(0x55, 2, 0, 2, 1),
                i(0xb4, 0, 0, 0, 0),
                i(0x95, 0, 0, 0, 0),
                i(0xb4, 0, 0, 0, 1),
                i(0x95, 0, 0, 0, 0),
            ]
        );
    }

    #[test]
    fn default_rules_program_shape() {
        let p = program(&DEFAULT_RULES);
        // Prologue, 12 blocks, the default; every jump lands inside the program.
        assert_eq!(p.len(), 6 + 2 * 6 + 9 * 5 + 4 + 2);
        for (n, x) in p.iter().enumerate() {
            if x.code == JNE_K || x.code == JEQ_K {
                assert!(n + 1 + (x.off as usize) < p.len());
            }
        }
        assert_eq!(p.last().map(|x| x.code), Some(EXIT));
    }
}
