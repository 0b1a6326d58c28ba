//! The previous compiler (seccompiler), kept for tests only: `equiv_tests` runs its programs
//! and `compile`'s side by side in `interp` and asserts identical results.
//!
//! seccompiler builds filters with a single on-match action, while a profile may mix actions
//! (Docker's default: allow-list, plus `clone3` -> ENOSYS so glibc falls back to clone). The
//! kernel runs every installed filter and takes the most restrictive result (any action is
//! more restrictive than ALLOW), so a policy becomes:
//! - a main filter: every call a rule names (whatever its action) -> ALLOW, others -> the
//!   default action;
//! - one filter per other action: that action's rules -> the action, others -> ALLOW.
//!
//! Rules whose action is the default action change nothing and are dropped.

use super::bpf::Insn;
use super::compile::MAX_INSNS;
use super::profile::{Action, Cond, Op, Policy};
use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule, TargetArch,
};
use std::collections::BTreeMap;

/// The programs to install, in order.
pub fn compile(policy: &Policy) -> Result<Vec<Vec<Insn>>, String> {
    let rules: Vec<_> = policy
        .rules
        .iter()
        .filter(|r| r.action != policy.default)
        .collect();
    let mut programs = Vec::new();
    if policy.default != Action::Allow {
        let all = rules.iter().map(|r| (r.nr, r.conds.as_slice()));
        programs.push(program(all, Action::Allow, policy.default)?);
    }
    let mut others: Vec<Action> = Vec::new();
    for r in &rules {
        if r.action != Action::Allow && !others.contains(&r.action) {
            others.push(r.action);
        }
    }
    for act in others {
        let mine = rules
            .iter()
            .filter(|r| r.action == act)
            .map(|r| (r.nr, r.conds.as_slice()));
        programs.push(program(mine, act, Action::Allow)?);
    }
    Ok(programs
        .into_iter()
        .map(|p| {
            p.into_iter()
                .map(|i| Insn {
                    code: i.code,
                    jt: i.jt,
                    jf: i.jf,
                    k: i.k,
                })
                .collect()
        })
        .collect())
}

/// One filter: the calls of `rules` (a call with several rules matches when any holds; a
/// rule without conditions matches always) get `on_match`, the rest `mismatch`.
fn program<'a>(
    rules: impl Iterator<Item = (i64, &'a [Cond])>,
    on_match: Action,
    mismatch: Action,
) -> Result<BpfProgram, String> {
    // An empty rule list is seccompiler's "match on the number alone".
    let mut map: BTreeMap<i64, Option<Vec<SeccompRule>>> = BTreeMap::new();
    for (nr, conds) in rules {
        let slot = map.entry(nr).or_insert_with(|| Some(Vec::new()));
        if conds.is_empty() {
            *slot = None;
        } else if let Some(list) = slot {
            let conds = conds.iter().map(condition).collect::<Result<Vec<_>, _>>()?;
            list.push(SeccompRule::new(conds).map_err(|e| e.to_string())?);
        }
    }
    let map = map
        .into_iter()
        .map(|(nr, r)| (nr, r.unwrap_or_default()))
        .collect();
    let filter = SeccompFilter::new(
        map,
        sc_action(mismatch),
        sc_action(on_match),
        TargetArch::x86_64,
    )
    .map_err(|e| e.to_string())?;
    let prog = BpfProgram::try_from(filter).map_err(|e| e.to_string())?;
    if prog.len() > MAX_INSNS {
        return Err(format!(
            "the filter has {} instructions, more than the kernel's limit of {MAX_INSNS}",
            prog.len()
        ));
    }
    Ok(prog)
}

fn condition(c: &Cond) -> Result<SeccompCondition, String> {
    // libseccomp (and so Docker) compares all 64 bits of an argument.
    let op = match c.op {
        Op::Eq => SeccompCmpOp::Eq,
        Op::Ne => SeccompCmpOp::Ne,
        Op::Lt => SeccompCmpOp::Lt,
        Op::Le => SeccompCmpOp::Le,
        Op::Gt => SeccompCmpOp::Gt,
        Op::Ge => SeccompCmpOp::Ge,
        Op::MaskedEq(m) => SeccompCmpOp::MaskedEq(m),
    };
    SeccompCondition::new(c.index, SeccompCmpArgLen::Qword, op, c.value).map_err(|e| e.to_string())
}

fn sc_action(a: Action) -> SeccompAction {
    match a {
        Action::Allow => SeccompAction::Allow,
        Action::Errno(e) => SeccompAction::Errno(e),
        Action::KillThread => SeccompAction::KillThread,
        Action::KillProcess => SeccompAction::KillProcess,
        Action::Trap => SeccompAction::Trap,
        Action::Trace(t) => SeccompAction::Trace(t),
        Action::Log => SeccompAction::Log,
    }
}
