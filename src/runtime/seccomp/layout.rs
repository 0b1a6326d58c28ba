//! Assembly of a program written with labels into classic BPF: jump offsets resolved, with
//! trampolines where a conditional jump reaches too far.
//!
//! cBPF jumps only forward; a conditional jump's offsets (jt, jf) are 8 bits, while `JA`'s is
//! 32. A conditional jump whose target is more than 255 instructions ahead gets a trampoline
//! right after it (its offset then 0 or 1): `JA target`, or a copy of the `RET` when the
//! target is one (as short, and one instruction less to run). Inserting trampolines moves
//! other targets further, so layout repeats until no jump needs a new one; each side of a
//! jump gets at most one, so this ends.

use super::bpf::{self, Insn};

/// A position in the program, placed once with `Item::Place`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Label(usize);

#[derive(Debug, Clone, Copy)]
pub enum Item {
    Place(Label),
    Ld(u32),
    And(u32),
    /// `op` is `bpf::JEQ`, `JGT` or `JGE`.
    Jump {
        op: u16,
        k: u32,
        jt: Label,
        jf: Label,
    },
    Ja(Label),
    Ret(u32),
}

/// A program being written.
#[derive(Default)]
pub struct Asm {
    items: Vec<Item>,
    labels: usize,
}

impl Asm {
    pub fn label(&mut self) -> Label {
        self.labels += 1;
        Label(self.labels - 1)
    }

    pub fn push(&mut self, i: Item) {
        self.items.push(i);
    }

    pub fn next_index(&self) -> usize {
        self.items.len()
    }

    /// Replaces item `i` (a jump written before its targets were known).
    pub fn set(&mut self, i: usize, item: Item) {
        self.items[i] = item;
    }

    /// A new label placed here.
    pub fn here(&mut self) -> Label {
        let l = self.label();
        self.push(Item::Place(l));
        l
    }

    /// The instructions; an error is a bug of the compiler (a label placed never or twice,
    /// a backward jump).
    pub fn assemble(&self) -> Result<Vec<Insn>, String> {
        // Which label is placed on a RET, and with which value.
        let mut ret_at = vec![None; self.labels];
        let mut pending = Vec::new();
        for it in &self.items {
            match *it {
                Item::Place(l) => pending.push(l),
                Item::Ret(v) => {
                    for l in pending.drain(..) {
                        ret_at[l.0] = Some(v);
                    }
                }
                _ => pending.clear(),
            }
        }
        // far[i]: item i (a Jump) has a trampoline for its (jt, jf).
        let mut far = vec![[false; 2]; self.items.len()];
        loop {
            let (pos, at) = self.positions(&far)?;
            let mut changed = false;
            for (i, it) in self.items.iter().enumerate() {
                if let Item::Jump { jt, jf, .. } = *it {
                    for (side, target) in [jt, jf].into_iter().enumerate() {
                        if !far[i][side] && forward(&pos, at[i], target)? > usize::from(u8::MAX) {
                            far[i][side] = true;
                            changed = true;
                        }
                    }
                }
            }
            if !changed {
                return self.emit(&pos, &far, &ret_at);
            }
        }
    }

    fn size(&self, i: usize, far: &[[bool; 2]]) -> usize {
        match self.items[i] {
            Item::Place(_) => 0,
            Item::Jump { .. } => 1 + usize::from(far[i][0]) + usize::from(far[i][1]),
            _ => 1,
        }
    }

    /// Each label's instruction index, and each item's.
    fn positions(&self, far: &[[bool; 2]]) -> Result<(Vec<usize>, Vec<usize>), String> {
        let mut pos = vec![usize::MAX; self.labels];
        let mut at = Vec::with_capacity(self.items.len());
        let mut p = 0;
        for (i, it) in self.items.iter().enumerate() {
            if let Item::Place(l) = *it {
                if pos[l.0] != usize::MAX {
                    return Err(format!("label {} placed twice", l.0));
                }
                pos[l.0] = p;
            }
            at.push(p);
            p += self.size(i, far);
        }
        Ok((pos, at))
    }

    fn emit(
        &self,
        pos: &[usize],
        far: &[[bool; 2]],
        ret_at: &[Option<u32>],
    ) -> Result<Vec<Insn>, String> {
        let mut out = Vec::new();
        let insn = |code, jt, jf, k| Insn { code, jt, jf, k };
        let short = |p: usize, l: Label| -> Result<u8, String> {
            u8::try_from(forward(pos, p, l)?).map_err(|_| "jump out of reach".to_string())
        };
        let long = |p: usize, l: Label| -> Result<Insn, String> {
            Ok(match ret_at[l.0] {
                Some(v) => insn(bpf::RET, 0, 0, v),
                None => {
                    let k = u32::try_from(forward(pos, p, l)?).map_err(|_| "jump out of reach")?;
                    insn(bpf::JA, 0, 0, k)
                }
            })
        };
        for (i, it) in self.items.iter().enumerate() {
            let p = out.len();
            match *it {
                Item::Place(_) => {}
                Item::Ld(k) => out.push(insn(bpf::LD_ABS, 0, 0, k)),
                Item::And(k) => out.push(insn(bpf::AND, 0, 0, k)),
                Item::Ja(l) => out.push(long(p, l)?),
                Item::Ret(v) => out.push(insn(bpf::RET, 0, 0, v)),
                Item::Jump { op, k, jt, jf } => {
                    let [ft, ff] = far[i];
                    let t = if ft { 0 } else { short(p, jt)? };
                    let f = if ff { u8::from(ft) } else { short(p, jf)? };
                    out.push(insn(op, t, f, k));
                    if ft {
                        out.push(long(out.len(), jt)?);
                    }
                    if ff {
                        out.push(long(out.len(), jf)?);
                    }
                }
            }
        }
        Ok(out)
    }
}

/// The offset from the instruction at `p` to `target` (0: the next instruction).
fn forward(pos: &[usize], p: usize, target: Label) -> Result<usize, String> {
    match pos[target.0] {
        usize::MAX => Err(format!("label {} never placed", target.0)),
        t if t <= p => Err(format!("backward jump from {p} to {t}")),
        t => Ok(t - p - 1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn far_targets_get_trampolines() {
        let mut a = Asm::default();
        let (far_ret, far_code, near) = (a.label(), a.label(), a.label());
        a.push(Item::Jump {
            op: bpf::JEQ,
            k: 1,
            jt: far_ret,
            jf: near,
        });
        a.push(Item::Jump {
            op: bpf::JGT,
            k: 2,
            jt: near,
            jf: far_code,
        });
        a.push(Item::Place(near));
        for _ in 0..300 {
            a.push(Item::Ld(0));
        }
        a.push(Item::Place(far_code));
        a.push(Item::Ld(4));
        a.push(Item::Place(far_ret));
        a.push(Item::Ret(7));
        let p = a.assemble().unwrap();
        assert_eq!(p.len(), 2 + 2 + 300 + 2);
        // JEQ: jt to its trampoline (a copy of the RET), jf past the other jump's.
        assert_eq!((p[0].jt, p[0].jf), (0, 3));
        assert_eq!((p[1].code, p[1].k), (bpf::RET, 7));
        assert_eq!((p[2].jt, p[2].jf), (1, 0));
        assert_eq!((p[3].code, p[3].k), (bpf::JA, 300));
        assert_eq!(p[4 + 300].k, 4);
    }

    #[test]
    fn backward_or_unplaced_labels_are_errors() {
        let mut a = Asm::default();
        let l = a.here();
        a.push(Item::Ja(l));
        assert!(a.assemble().is_err());
        let mut a = Asm::default();
        let l = a.label();
        a.push(Item::Ja(l));
        assert!(a.assemble().is_err());
    }
}
