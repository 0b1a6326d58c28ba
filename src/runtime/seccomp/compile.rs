//! A resolved `Policy` -> one classic BPF program, and its byte encoding for the file the shim
//! reads.
//!
//! The program:
//! 1. loads the architecture; anything but x86_64 (i386 via `int 0x80`, ...) -> KILL_PROCESS;
//! 2. loads the system call number and walks a balanced binary search (`JGE`) over the
//!    intervals of numbers that get the same outcome: runs of consecutive calls with the same
//!    unconditional action merge into one interval, and the gaps between named calls get the
//!    default action. x32 calls (number | 0x40000000) and unknown numbers fall in the last
//!    gap: the default action (EPERM for Docker's profile), as before;
//! 3. an unconditional interval jumps straight to a shared `RET` of its action at the end of
//!    the program; a call with argument conditions (an interval of one number) runs its rules,
//!    each condition on all 64 bits of its argument as two 32-bit halves (high half first, as
//!    libseccomp), then returns the first matching rule's action, or the default.
//!
//! Semantics are those of the filters rstack installed before (one per action with
//! seccompiler, the kernel keeping the most restrictive result; `equiv_tests` checks both
//! side by side): a rule whose action is the default action changes nothing and is dropped;
//! among a call's rules that match, the most restrictive action wins (kernel precedence:
//! KILL_PROCESS, KILL_THREAD, TRAP, ERRNO, TRACE, LOG, ALLOW); between two ERRNO (or TRACE)
//! actions with different data, the one the profile names last first wins (its filter was
//! installed later, and the kernel runs the newest filter first); no match -> the default.

use super::bpf::{self, Insn};
use super::layout::{Asm, Item, Label};
use super::profile::{Action, Cond, Op, Policy};
use std::collections::{BTreeMap, HashMap};

/// The kernel's limit on one classic BPF program (BPF_MAXINSNS).
pub const MAX_INSNS: usize = 4096;

/// The program to install; `None` when the policy filters nothing (default ALLOW and no
/// rule with another action).
pub fn compile(policy: &Policy) -> Result<Option<Vec<Insn>>, String> {
    let rules: Vec<_> = policy
        .rules
        .iter()
        .filter(|r| r.action != policy.default)
        .collect();
    if policy.default == Action::Allow && rules.is_empty() {
        return Ok(None);
    }
    // Actions by priority: precedence, then the later-named first (see the module doc).
    let mut actions: Vec<Action> = Vec::new();
    for r in &rules {
        if !actions.contains(&r.action) {
            actions.push(r.action);
        }
    }
    let named: Vec<Action> = actions.clone();
    actions.sort_by_key(|a| {
        let last_first = std::cmp::Reverse(named.iter().position(|n| n == a));
        (bpf::precedence(bpf::ret(*a)), last_first)
    });

    let mut calls: BTreeMap<u32, Vec<(Action, Vec<Cond>)>> = BTreeMap::new();
    for r in &rules {
        let nr = u32::try_from(r.nr).map_err(|_| format!("system call number {}", r.nr))?;
        let conds = r.conds.iter().copied().filter(|c| !always(c)).collect();
        calls.entry(nr).or_default().push((r.action, conds));
    }
    let default = bpf::ret(policy.default);
    let mut intervals: Vec<(u32, Leaf)> = Vec::new();
    let mut next: u64 = 0;
    for (nr, list) in calls {
        if u64::from(nr) > next {
            push_merged(&mut intervals, next as u32, Leaf::Ret(default));
        }
        push_merged(&mut intervals, nr, leaf(&actions, list, default));
        next = u64::from(nr) + 1;
    }
    if next <= u64::from(u32::MAX) {
        push_merged(&mut intervals, next as u32, Leaf::Ret(default));
    }

    let mut g = Gen {
        asm: Asm::default(),
        rets: HashMap::new(),
        order: Vec::new(),
    };
    // The default's RET first: the most common target of the search's leaves.
    g.ret(default);
    let ok = g.asm.label();
    let kill = g.asm.label();
    g.asm.push(Item::Ld(bpf::ARCH));
    g.asm.push(Item::Jump {
        op: bpf::JEQ,
        k: bpf::AUDIT_ARCH_X86_64,
        jt: ok,
        jf: kill,
    });
    g.asm.push(Item::Place(kill));
    g.asm.push(Item::Ret(bpf::RET_KILL_PROCESS));
    g.asm.push(Item::Place(ok));
    if intervals.len() > 1 {
        g.asm.push(Item::Ld(bpf::NR));
    }
    let root = g.tree(&intervals);
    // The root's code, when it has any, starts right here; a single RET leaf is only a
    // jump to the shared RET.
    if matches!(intervals.as_slice(), [(_, Leaf::Ret(_))]) {
        g.asm.push(Item::Ja(root));
    }
    for v in std::mem::take(&mut g.order) {
        let l = g.rets[&v];
        g.asm.push(Item::Place(l));
        g.asm.push(Item::Ret(v));
    }
    let prog = g.asm.assemble()?;
    if prog.len() > MAX_INSNS {
        return Err(format!(
            "the filter has {} instructions, more than the kernel's limit of {MAX_INSNS}",
            prog.len()
        ));
    }
    Ok(Some(prog))
}

/// What the numbers of an interval get.
#[derive(Debug, Clone, PartialEq)]
enum Leaf {
    Ret(u32),
    /// Conditional rules in priority order, then what a call matching none gets.
    Rules(Vec<(u32, Vec<Cond>)>, u32),
}

/// A call's outcome from its rules: by action priority, each action's rules in profile
/// order; an unconditional rule ends the list (what follows cannot be reached).
fn leaf(actions: &[Action], list: Vec<(Action, Vec<Cond>)>, default: u32) -> Leaf {
    let mut rules = Vec::new();
    for a in actions {
        for (_, conds) in list.iter().filter(|(x, _)| x == a) {
            if conds.is_empty() {
                return match rules.is_empty() {
                    true => Leaf::Ret(bpf::ret(*a)),
                    false => Leaf::Rules(rules, bpf::ret(*a)),
                };
            }
            rules.push((bpf::ret(*a), conds.clone()));
        }
    }
    Leaf::Rules(rules, default)
}

fn push_merged(intervals: &mut Vec<(u32, Leaf)>, start: u32, leaf: Leaf) {
    match (intervals.last(), &leaf) {
        (Some((_, Leaf::Ret(a))), Leaf::Ret(b)) if a == b => {}
        _ => intervals.push((start, leaf)),
    }
}

/// A condition that holds for every argument value (no code).
fn always(c: &Cond) -> bool {
    match c.op {
        Op::MaskedEq(m) => m == 0,
        Op::Ge => c.value == 0,
        Op::Le => c.value == u64::MAX,
        _ => false,
    }
}

struct Gen {
    asm: Asm,
    /// The shared RET of each return value, emitted at the end in `order`.
    rets: HashMap<u32, Label>,
    order: Vec<u32>,
}

impl Gen {
    fn ret(&mut self, v: u32) -> Label {
        if let Some(l) = self.rets.get(&v) {
            return *l;
        }
        let l = self.asm.label();
        self.rets.insert(v, l);
        self.order.push(v);
        l
    }

    /// The code for `intervals` (the number is in A), in pre-order: a node's `JGE`, then its
    /// lower half, then its upper half; all jumps go forward. Returns its entry label.
    fn tree(&mut self, intervals: &[(u32, Leaf)]) -> Label {
        match intervals {
            [(_, Leaf::Ret(v))] => self.ret(*v),
            [(_, Leaf::Rules(rules, otherwise))] => {
                let entry = self.asm.here();
                self.rules(rules, *otherwise);
                entry
            }
            _ => {
                let entry = self.asm.here();
                let mid = intervals.len() / 2;
                let at = self.asm.label();
                // Placeholder targets, patched once both halves are written.
                let slot = self.asm.next_index();
                self.asm.push(Item::Jump {
                    op: bpf::JGE,
                    k: intervals[mid].0,
                    jt: at,
                    jf: at,
                });
                let low = self.tree(&intervals[..mid]);
                let high = self.tree(&intervals[mid..]);
                self.asm.set(
                    slot,
                    Item::Jump {
                        op: bpf::JGE,
                        k: intervals[mid].0,
                        jt: high,
                        jf: low,
                    },
                );
                entry
            }
        }
    }

    /// Each rule in turn: all its conditions hold -> its RET; one fails -> the next rule;
    /// none matched -> `otherwise`.
    fn rules(&mut self, rules: &[(u32, Vec<Cond>)], otherwise: u32) {
        let fallback = self.ret(otherwise);
        for (i, (ret, conds)) in rules.iter().enumerate() {
            let next_rule = if i + 1 < rules.len() {
                self.asm.label()
            } else {
                fallback
            };
            let matched = self.ret(*ret);
            for (j, c) in conds.iter().enumerate() {
                let next_cond = if j + 1 < conds.len() {
                    self.asm.label()
                } else {
                    matched
                };
                self.cond(c, next_cond, next_rule);
                if j + 1 < conds.len() {
                    self.asm.push(Item::Place(next_cond));
                }
            }
            if i + 1 < rules.len() {
                self.asm.push(Item::Place(next_rule));
            }
        }
    }

    /// Jumps to `t` when `c` holds, else to `f`. 64-bit unsigned comparisons, high half first.
    fn cond(&mut self, c: &Cond, t: Label, f: Label) {
        let (hi, lo) = (bpf::arg_hi(c.index), bpf::arg_lo(c.index));
        let (vh, vl) = ((c.value >> 32) as u32, c.value as u32);
        match c.op {
            Op::Eq => {
                self.ld_jump(hi, bpf::JEQ, vh, None, f);
                self.ld_jump(lo, bpf::JEQ, vl, Some(t), f);
            }
            Op::Ne => {
                self.ld_jump(hi, bpf::JEQ, vh, None, t);
                self.ld_jump(lo, bpf::JEQ, vl, Some(f), t);
            }
            // arg > v: high > vh, or high == vh and low > vl; arg >= v likewise. arg < v is
            // not (arg >= v), arg <= v is not (arg > v).
            Op::Gt | Op::Ge | Op::Lt | Op::Le => {
                let (yes, no) = match c.op {
                    Op::Gt | Op::Ge => (t, f),
                    _ => (f, t),
                };
                let low_op = match c.op {
                    Op::Gt | Op::Le => bpf::JGT,
                    _ => bpf::JGE,
                };
                self.asm.push(Item::Ld(hi));
                let eq = self.asm.label();
                self.asm.push(Item::Jump {
                    op: bpf::JGT,
                    k: vh,
                    jt: yes,
                    jf: eq,
                });
                self.asm.push(Item::Place(eq));
                self.jump(bpf::JEQ, vh, None, no);
                self.ld_jump(lo, low_op, vl, Some(yes), no);
            }
            Op::MaskedEq(m) => {
                let (mh, ml) = ((m >> 32) as u32, m as u32);
                let (vh, vl) = (vh & mh, vl & ml);
                // A half whose mask is 0 always compares equal (both masks 0: `always`).
                if mh != 0 {
                    self.asm.push(Item::Ld(hi));
                    self.asm.push(Item::And(mh));
                    self.jump(bpf::JEQ, vh, (ml == 0).then_some(t), f);
                }
                if ml != 0 {
                    self.asm.push(Item::Ld(lo));
                    self.asm.push(Item::And(ml));
                    self.jump(bpf::JEQ, vl, Some(t), f);
                }
            }
        }
    }

    fn ld_jump(&mut self, off: u32, op: u16, k: u32, jt: Option<Label>, jf: Label) {
        self.asm.push(Item::Ld(off));
        self.jump(op, k, jt, jf);
    }

    /// A conditional jump; `jt` None: on to the next instruction.
    fn jump(&mut self, op: u16, k: u32, jt: Option<Label>, jf: Label) {
        let next = self.asm.label();
        self.asm.push(Item::Jump {
            op,
            k,
            jt: jt.unwrap_or(next),
            jf,
        });
        self.asm.push(Item::Place(next));
    }
}

/// File format: per program, its instruction count (u32, little endian), then each
/// instruction as the kernel's `struct sock_filter` (code u16, jt u8, jf u8, k u32; LE).
pub fn encode(programs: &[Vec<Insn>]) -> Vec<u8> {
    let mut out = Vec::new();
    for p in programs {
        out.extend_from_slice(&(p.len() as u32).to_le_bytes());
        for i in p {
            out.extend_from_slice(&i.code.to_le_bytes());
            out.push(i.jt);
            out.push(i.jf);
            out.extend_from_slice(&i.k.to_le_bytes());
        }
    }
    out
}
