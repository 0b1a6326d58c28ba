//! The emitter (`compile`) against the previous compiler (`legacy`, seccompiler's filters
//! stacked as the kernel stacks them), both run in `interp` on the same inputs: every call
//! number 0..=470, x32 and out-of-range numbers, other architectures, and for calls with
//! argument conditions, argument vectors built around each condition's value.

use super::bpf::{self, Insn};
use super::compile::compile;
use super::interp::{self, Data};
use super::profile::{Action, Cond, Host, Op, Policy, Rule, parse, resolve};
use super::{DEFAULT_PROFILE, legacy};
use std::collections::{BTreeMap, BTreeSet};

const X32: u32 = 0x4000_0000;
const AUDIT_ARCH_I386: u32 = 0x4000_0003;

fn default_policy(caps: &[String], kernel: (u32, u32)) -> Policy {
    let p = parse(DEFAULT_PROFILE).unwrap();
    resolve(&p, &Host { caps, kernel }).unwrap()
}

/// Capability sets: none, Docker's default, default plus each capability the default
/// profile names, and all of those at once.
fn cap_sets() -> Vec<Vec<String>> {
    let p = parse(DEFAULT_PROFILE).unwrap();
    let named: BTreeSet<String> = p
        .syscalls
        .iter()
        .flat_map(|e| [&e.includes, &e.excludes])
        .flatten()
        .flat_map(|f| f.caps.iter().cloned())
        .collect();
    assert!(named.contains("CAP_SYS_ADMIN") && named.contains("CAP_SYS_PTRACE"));
    let docker = crate::runtime::docker_default_capabilities();
    let mut sets = vec![Vec::new(), docker.clone()];
    for c in &named {
        let mut s = docker.clone();
        s.push(c.clone());
        sets.push(s);
    }
    sets.push(named.into_iter().collect());
    sets
}

/// Values around a condition's operand for one argument.
fn probes(c: &Cond) -> Vec<u64> {
    let v = c.value;
    let mut out = vec![
        0,
        u64::MAX,
        v,
        v.wrapping_add(1),
        v.wrapping_sub(1),
        v ^ (1 << 32),
        v | (1 << 63),
        v & 0xffff_ffff,
        (v & 0xffff_ffff) | 0x1_0000_0000,
        v >> 32,
    ];
    if let Op::MaskedEq(m) = c.op {
        out.extend([m, v & m, (v & m) | !m, !m, m & m.wrapping_neg()]);
        // Each single mask bit flipped.
        out.extend(
            (0..64)
                .filter(|b| m >> b & 1 == 1)
                .map(|b| (v & m) ^ (1 << b)),
        );
    }
    out
}

/// Argument vectors for a call with these conditions: each argument alone through its
/// probes, and pairs of arguments through the cross product of theirs.
fn arg_vectors(conds: &[&Cond]) -> Vec<[u64; 6]> {
    let mut per: BTreeMap<u8, BTreeSet<u64>> = BTreeMap::new();
    for c in conds {
        per.entry(c.index).or_default().extend(probes(c));
    }
    let mut out = vec![[0; 6], [u64::MAX; 6]];
    for (&i, vals) in &per {
        for &v in vals {
            let mut a = [0; 6];
            a[usize::from(i)] = v;
            out.push(a);
        }
    }
    let keys: Vec<_> = per.keys().copied().collect();
    for (x, &i) in keys.iter().enumerate() {
        for &j in &keys[x + 1..] {
            for &vi in &per[&i] {
                for &vj in &per[&j] {
                    let mut a = [0; 6];
                    a[usize::from(i)] = vi;
                    a[usize::from(j)] = vj;
                    out.push(a);
                }
            }
        }
    }
    out
}

/// Runs both compilations of `policy` over all inputs and asserts the same result for each;
/// returns the new program and the number of inputs compared.
fn assert_same(policy: &Policy, what: &str) -> (Option<Vec<Insn>>, usize) {
    let new = compile(policy).unwrap_or_else(|e| panic!("{what}: {e}"));
    let old = legacy::compile(policy).unwrap_or_else(|e| panic!("{what}: legacy: {e}"));
    assert_eq!(new.is_none(), old.is_empty(), "{what}: filter or not");
    let Some(prog) = new else {
        return (None, 0);
    };
    interp::check(&prog);
    old.iter().for_each(|p| interp::check(p));
    let mine = [prog];
    let mut inputs: Vec<Data> = Vec::new();
    let mut numbers: Vec<u32> = (0..=470).collect();
    numbers.extend([
        471,
        511,
        512,
        1000,
        0xffff,
        0x3fff_ffff,
        u32::MAX,
        u32::MAX - 1,
    ]);
    numbers.extend([0, 1, 56, 59, 135, 435, 0x200].map(|n| n | X32));
    for &nr in &numbers {
        for args in [[0; 6], [u64::MAX; 6], [1, 2, 3, 4, 5, 6]] {
            inputs.push(Data::x86_64(nr, args));
            let mut other = Data::x86_64(nr, args);
            other.arch = AUDIT_ARCH_I386;
            inputs.push(other);
        }
    }
    let mut by_nr: BTreeMap<i64, Vec<&Cond>> = BTreeMap::new();
    for r in &policy.rules {
        by_nr.entry(r.nr).or_default().extend(&r.conds);
    }
    for (nr, conds) in by_nr.iter().filter(|(_, c)| !c.is_empty()) {
        let nr = u32::try_from(*nr).unwrap();
        for args in arg_vectors(conds) {
            inputs.push(Data::x86_64(nr, args));
            inputs.push(Data::x86_64(nr | X32, args));
        }
    }
    for d in &inputs {
        let (a, b) = (interp::run_all(&mine, d), interp::run_all(&old, d));
        assert_eq!(a, b, "{what}: {d:x?}: new {a:#x}, old {b:#x}");
    }
    let [prog] = mine;
    (Some(prog), inputs.len())
}

#[test]
fn the_default_profile_compiles_to_the_same_results_for_every_capability_set() {
    let mut total = 0;
    for kernel in [(6, 1), (4, 4), (3, 10)] {
        for caps in cap_sets() {
            let what = format!("default profile, kernel {kernel:?}, caps {caps:?}");
            let (prog, n) = assert_same(&default_policy(&caps, kernel), &what);
            assert!(prog.is_some());
            total += n;
        }
    }
    assert!(total > 10_000, "{total} inputs");
}

#[test]
fn the_default_profile_is_one_small_program() {
    let docker = crate::runtime::docker_default_capabilities();
    let policy = default_policy(&docker, (6, 1));
    let new = compile(&policy).unwrap().unwrap();
    let old = legacy::compile(&policy).unwrap();
    let old_len: usize = old.iter().map(Vec::len).sum();
    eprintln!(
        "default profile, Docker's capabilities: {} instructions in one filter (seccompiler: {old_len} in {})",
        new.len(),
        old.len()
    );
    assert!(new.len() < 300, "{} instructions", new.len());
    // A handful of shared RETs, not one per call.
    let rets: BTreeSet<u32> = new
        .iter()
        .filter(|i| i.code == bpf::RET)
        .map(|i| i.k)
        .collect();
    assert!(rets.len() <= 5, "{rets:x?}");
    assert!(new.iter().filter(|i| i.code == bpf::RET).count() <= 8);
}

#[test]
fn spot_checks_of_the_default_program() {
    let docker = crate::runtime::docker_default_capabilities();
    let prog = compile(&default_policy(&docker, (6, 1))).unwrap().unwrap();
    let run = |nr: u32, a0: u64| interp::run(&prog, &Data::x86_64(nr, [a0, 0, 0, 0, 0, 0]));
    let eperm = bpf::ret(Action::Errno(libc::EPERM as u32));
    let allow = bpf::RET_ALLOW;
    assert_eq!(run(0, 0), allow, "read");
    assert_eq!(run(libc::SYS_mount as u32, 0), eperm);
    assert_eq!(
        run(435, 0),
        bpf::ret(Action::Errno(libc::ENOSYS as u32)),
        "clone3"
    );
    assert_eq!(run(56, 0x0001_0000), allow, "clone(CLONE_THREAD...)");
    assert_eq!(run(56, 0x2000_0000), eperm, "clone(CLONE_NEWUSER)");
    assert_eq!(
        run(56, (1 << 32) | 0x1_0000),
        allow,
        "clone: high bits outside the mask"
    );
    assert_eq!(run(135, 8), allow, "personality(UNAME26)");
    assert_eq!(
        run(135, 0x1_0000_0008),
        eperm,
        "personality: high half compared"
    );
    assert_eq!(run(135, 0xffff_ffff), allow, "personality query");
    assert_eq!(run(41, libc::AF_INET as u64), allow, "socket(AF_INET)");
    assert_eq!(run(41, libc::AF_VSOCK as u64), eperm, "socket(AF_VSOCK)");
    assert_eq!(run(41, 41), allow);
    assert_eq!(run(X32, 0), eperm, "x32 read: the default action");
    let mut i386 = Data::x86_64(0, [0; 6]);
    i386.arch = AUDIT_ARCH_I386;
    assert_eq!(interp::run(&prog, &i386), bpf::RET_KILL_PROCESS);
}

fn rule(nr: i64, action: Action, conds: &[(u8, Op, u64)]) -> Rule {
    Rule {
        nr,
        name: format!("nr{nr}"),
        action,
        conds: conds
            .iter()
            .map(|&(index, op, value)| Cond { index, op, value })
            .collect(),
    }
}

#[test]
fn mixed_actions_operators_and_ties_compile_to_the_same_results() {
    use Action::*;
    let big = 0x1_0000_0005u64;
    let rules = vec![
        rule(1, Errno(1), &[(0, Op::Eq, 7)]),
        rule(1, Errno(38), &[(0, Op::Ge, 5)]),
        rule(1, Allow, &[(1, Op::Lt, big)]),
        rule(2, Trace(9), &[(0, Op::Ne, big)]),
        rule(2, Log, &[(2, Op::Le, big), (3, Op::Gt, 3)]),
        rule(
            2,
            KillThread,
            &[(5, Op::MaskedEq(0xff00_0000_00ff), 0x1200_0000_0034)],
        ),
        rule(3, Trap, &[]),
        rule(3, Allow, &[(0, Op::Eq, 0)]),
        rule(4, Allow, &[(0, Op::Gt, 0xffff_ffff)]),
        rule(
            4,
            KillProcess,
            &[(0, Op::MaskedEq(0xffff_ffff_0000_0000), 0x5_0000_0000)],
        ),
        rule(5, Allow, &[(0, Op::MaskedEq(0), 3)]),
        rule(6, Allow, &[(0, Op::Ge, 0), (1, Op::Le, u64::MAX)]),
        rule(7, Errno(38), &[]),
        rule(7, Errno(1), &[(4, Op::Eq, 1)]),
        rule(8, Trace(1), &[(0, Op::Eq, 1)]),
        rule(8, Trace(2), &[(0, Op::Lt, 9)]),
        rule(9, Allow, &[]),
        rule(10, Allow, &[]),
        rule(12, Log, &[]),
        rule(13, Allow, &[]),
        rule(400, Allow, &[(0, Op::Eq, 1)]),
        rule(400, Allow, &[(0, Op::Eq, 2)]),
    ];
    for default in [
        Errno(1),
        Errno(13),
        Allow,
        KillProcess,
        KillThread,
        Trap,
        Log,
        Trace(4),
    ] {
        let policy = Policy {
            default,
            rules: rules.clone(),
        };
        assert_same(&policy, &format!("default {default:?}"));
    }
}

#[test]
fn edge_policies_compile_to_the_same_results() {
    use Action::*;
    let cases = [
        // Nothing to filter: no program.
        Policy {
            default: Allow,
            rules: vec![],
        },
        Policy {
            default: Allow,
            rules: vec![rule(0, Allow, &[])],
        },
        // Only the default: no search at all.
        Policy {
            default: Errno(1),
            rules: vec![],
        },
        Policy {
            default: KillProcess,
            rules: vec![rule(0, KillProcess, &[(0, Op::Eq, 1)])],
        },
        // Calls at both ends of the number space.
        Policy {
            default: Errno(1),
            rules: vec![
                rule(0, Allow, &[]),
                rule(0x3fff_ffff, Allow, &[]),
                rule(u32::MAX as i64, Allow, &[(0, Op::Eq, 1)]),
            ],
        },
        Policy {
            default: Allow,
            rules: vec![rule(u32::MAX as i64, Errno(1), &[])],
        },
    ];
    for (i, p) in cases.iter().enumerate() {
        assert_same(p, &format!("case {i}"));
    }
    assert!(compile(&cases[0]).unwrap().is_none());
    assert!(compile(&cases[1]).unwrap().is_none());
}

/// xorshift64*: reproducible pseudo-random numbers without a dependency.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn random_policy(rng: &mut Rng, calls: u64, max_rules: u64) -> Policy {
    use Action::*;
    let actions = [
        Allow,
        Allow,
        Allow,
        Errno(1),
        Errno(38),
        KillThread,
        KillProcess,
        Trap,
        Trace(3),
        Log,
    ];
    let values = [0, 1, 7, 0xffff_ffff, 0x1_0000_0000, 0x1_0000_0007, u64::MAX];
    let ops = [Op::Eq, Op::Ne, Op::Lt, Op::Le, Op::Gt, Op::Ge];
    let pick = |rng: &mut Rng, n: usize| rng.below(n as u64) as usize;
    let default = actions[pick(rng, actions.len())];
    let mut rules = Vec::new();
    for _ in 0..calls {
        let nr = rng.below(480) as i64;
        for _ in 0..=rng.below(max_rules) {
            let mut conds = Vec::new();
            for _ in 0..rng.below(3) {
                let index = rng.below(6) as u8;
                let value = values[pick(rng, values.len())];
                let op = match rng.below(7) {
                    6 => Op::MaskedEq(values[pick(rng, values.len())] | rng.next()),
                    k => ops[k as usize],
                };
                conds.push(Cond { index, op, value });
            }
            rules.push(Rule {
                nr,
                name: String::new(),
                action: actions[pick(rng, actions.len())],
                conds,
            });
        }
    }
    Policy { default, rules }
}

#[test]
fn random_policies_compile_to_the_same_results() {
    let mut rng = Rng(0x5eed_cafe_f00d_1234);
    for i in 0..150 {
        let calls = 1 + rng.below(40);
        let p = random_policy(&mut rng, calls, 4);
        assert_same(&p, &format!("random policy {i}: {p:?}"));
    }
}

#[test]
fn long_programs_reach_far_targets_through_trampolines() {
    // 250 calls with two conditions each: the shared RETs at the end are far more than 255
    // instructions from most jumps.
    let mut rules = Vec::new();
    for nr in 0..250 {
        rules.push(rule(
            nr,
            Action::Allow,
            &[(0, Op::Eq, nr as u64), (1, Op::Ne, 3)],
        ));
        if nr % 3 == 0 {
            rules.push(rule(nr, Action::Errno(38), &[(2, Op::Gt, 5)]));
        }
    }
    let policy = Policy {
        default: Action::Errno(1),
        rules,
    };
    let (prog, _) = assert_same(&policy, "long program");
    let prog = prog.unwrap();
    assert!(prog.len() > 1000, "{}", prog.len());
    let trampolines = prog
        .iter()
        .filter(|i| i.code == bpf::JA || i.code == bpf::RET)
        .count();
    assert!(trampolines > 100, "{trampolines} JA/RET");
    // And the whole default profile, under every capability set, fits without any JA.
    for caps in cap_sets() {
        let p = compile(&default_policy(&caps, (6, 1))).unwrap().unwrap();
        assert!(p.len() < 300);
    }
}

/// Install cost of the default filter in the kernel, old (seccompiler's filters) against new:
/// each sample forks a child that sets no_new_privs and times the seccomp calls (filters
/// stack and count toward a per-process limit, so one install per child).
/// `cargo test --lib seccomp::equiv_tests::install_cost -- --ignored --nocapture`
#[test]
#[ignore = "timing, for the record: run by hand"]
fn install_cost() {
    let docker = crate::runtime::docker_default_capabilities();
    let policy = default_policy(&docker, (6, 1));
    let new = vec![compile(&policy).unwrap().unwrap()];
    let old = legacy::compile(&policy).unwrap();
    let n = 300;
    for round in 0..2 {
        for (name, progs) in [("seccompiler", &old), ("rstack", &new)] {
            let mut t: Vec<u64> = (0..n).map(|_| time_install(progs)).collect();
            t.sort_unstable();
            let len: usize = progs.iter().map(Vec::len).sum();
            eprintln!(
                "round {round}: {name:12} {} filter(s), {len:5} instructions: median {:6.1} µs, p10 {:6.1}, p90 {:6.1}",
                progs.len(),
                t[n / 2] as f64 / 1000.0,
                t[n / 10] as f64 / 1000.0,
                t[n * 9 / 10] as f64 / 1000.0
            );
        }
    }
}

/// Nanoseconds the seccomp calls take in a fresh child.
fn time_install(progs: &[Vec<Insn>]) -> u64 {
    let fprogs: Vec<libc::sock_fprog> = progs
        .iter()
        .map(|p| libc::sock_fprog {
            len: p.len() as u16,
            filter: p.as_ptr().cast::<libc::sock_filter>().cast_mut(),
        })
        .collect();
    let mut fds = [0; 2];
    // SAFETY: plain system calls; the child only makes system calls on memory prepared
    // before the fork (Insn has sock_filter's layout), then _exits.
    unsafe {
        assert_eq!(libc::pipe(fds.as_mut_ptr()), 0);
        let pid = libc::fork();
        assert!(pid >= 0);
        if pid == 0 {
            let now = || {
                let mut ts = libc::timespec {
                    tv_sec: 0,
                    tv_nsec: 0,
                };
                libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts);
                ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
            };
            libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
            let t0 = now();
            for f in &fprogs {
                if libc::syscall(libc::SYS_seccomp, libc::SECCOMP_SET_MODE_FILTER, 0, f) != 0 {
                    libc::_exit(1);
                }
            }
            let dt = now() - t0;
            libc::write(fds[1], (&dt as *const u64).cast(), 8);
            libc::_exit(0);
        }
        libc::close(fds[1]);
        let mut dt = 0u64;
        let got = libc::read(fds[0], (&mut dt as *mut u64).cast(), 8);
        libc::close(fds[0]);
        let mut status = 0;
        libc::waitpid(pid, &mut status, 0);
        assert_eq!(got, 8, "the child failed to install the filter");
        dt
    }
}

/// The kernel runs the default program as `interp` does: calls the interpreter says the
/// filter allows give in a filtered child what they give in an unfiltered one; the others
/// fail with the filter's errno. Every probe is harmless when allowed (bad arguments, or an
/// effect confined to the throwaway child).
#[test]
fn the_kernel_runs_the_default_program_as_the_interpreter_does() {
    const CLONE_THREAD: u64 = 0x1_0000;
    const CLONE_NEWUSER: u64 = 0x1000_0000;
    let docker = crate::runtime::docker_default_capabilities();
    let prog = compile(&default_policy(&docker, (6, 1))).unwrap().unwrap();
    let probes: Vec<(u32, [u64; 6])> = vec![
        (libc::SYS_getpid as u32, [0; 6]),
        (libc::SYS_getpid as u32 | X32, [0; 6]),
        (1000, [0; 6]),
        (libc::SYS_personality as u32, [0xffff_ffff, 0, 0, 0, 0, 0]),
        (libc::SYS_personality as u32, [0x1_0000_0008, 0, 0, 0, 0, 0]),
        (
            libc::SYS_socket as u32,
            [libc::AF_INET as u64, 999, 0, 0, 0, 0],
        ),
        (
            libc::SYS_socket as u32,
            [libc::AF_VSOCK as u64, 999, 0, 0, 0, 0],
        ),
        (libc::SYS_clone as u32, [CLONE_THREAD, 0, 0, 0, 0, 0]),
        (
            libc::SYS_clone as u32,
            [CLONE_THREAD | CLONE_NEWUSER, 0, 0, 0, 0, 0],
        ),
        (libc::SYS_clone3 as u32, [0; 6]),
        (libc::SYS_unshare as u32, [CLONE_NEWUSER, 0, 0, 0, 0, 0]),
        (libc::SYS_mount as u32, [0; 6]),
    ];
    let filtered = run_probes(Some(&prog), &probes);
    let free = run_probes(None, &probes);
    for (i, (nr, args)) in probes.iter().enumerate() {
        let ret = interp::run(&prog, &Data::x86_64(*nr, *args));
        let want = match ret {
            bpf::RET_ALLOW => free[i],
            r => {
                assert_eq!(r & 0xffff_0000, 0x0005_0000, "{nr}: {r:#x}");
                -i64::from(r & 0xffff)
            }
        };
        assert_eq!(filtered[i], want, "call {nr:#x} {args:x?}: interp {ret:#x}");
    }
    // Both kinds of outcome were exercised.
    assert!(filtered.iter().zip(&free).any(|(a, b)| a == b));
    assert!(filtered.contains(&-i64::from(libc::ENOSYS)) && filtered.contains(&-1));
}

/// Each probe's result in a fresh child (0: success, -errno: failure), under `prog` if any.
fn run_probes(prog: Option<&[Insn]>, probes: &[(u32, [u64; 6])]) -> Vec<i64> {
    let fprog = prog.map(|p| libc::sock_fprog {
        len: p.len() as u16,
        filter: p.as_ptr().cast::<libc::sock_filter>().cast_mut(),
    });
    let mut out = vec![0i64; probes.len()];
    let mut fds = [0; 2];
    // SAFETY: the child only makes system calls on memory prepared before the fork (Insn has
    // sock_filter's layout), then _exits.
    unsafe {
        assert_eq!(libc::pipe(fds.as_mut_ptr()), 0);
        let pid = libc::fork();
        assert!(pid >= 0);
        if pid == 0 {
            libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
            if let Some(f) = &fprog
                && libc::syscall(libc::SYS_seccomp, libc::SECCOMP_SET_MODE_FILTER, 0, f) != 0
            {
                libc::_exit(1);
            }
            for (i, (nr, a)) in probes.iter().enumerate() {
                let r = libc::syscall(libc::c_long::from(*nr), a[0], a[1], a[2], a[3], a[4], a[5]);
                out[i] = if r == -1 {
                    -i64::from(*libc::__errno_location())
                } else {
                    0
                };
            }
            let bytes = std::mem::size_of_val(out.as_slice());
            libc::write(fds[1], out.as_ptr().cast(), bytes);
            libc::_exit(0);
        }
        libc::close(fds[1]);
        let bytes = std::mem::size_of_val(out.as_slice());
        let got = libc::read(fds[0], out.as_mut_ptr().cast(), bytes);
        libc::close(fds[0]);
        let mut status = 0;
        libc::waitpid(pid, &mut status, 0);
        assert_eq!(got as usize, bytes, "the probe child failed");
    }
    out
}
