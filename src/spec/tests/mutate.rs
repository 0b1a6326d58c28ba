//! Deterministic mutation testing of the loader (a cheap, always-on cousin of a fuzz target):
//! corpus files and hand-written seeds are truncated, spliced and byte-flipped; loading any
//! of them must return (Ok or diagnostics), never panic, and every error must have a position
//! inside the text it names.

use super::opts;
use crate::spec::{MemFs, load};
use std::path::PathBuf;

struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

const SNIPPETS: &[&str] = &[
    "${",
    "$$",
    "${A:-${B:?x}}",
    "<<: *a",
    "&a ",
    "*a",
    "!reset ",
    "!override ",
    "- ",
    ": ",
    "\n  ",
    "\"",
    "'",
    "{",
    "}",
    "[",
    "]",
    "#",
    "\t",
    "depends_on: [x]\n",
    "extends: x\n",
    "include: [y]\n",
    "é",
    "\u{0}",
    "---\n",
    "? ",
    "|\n  x\n",
    ">-\n",
    "!!int ",
    "1e999",
    "-",
    "~",
];

fn mutate(rng: &mut Lcg, base: &str) -> String {
    let mut b: Vec<u8> = base.as_bytes().to_vec();
    for _ in 0..1 + rng.below(4) {
        match rng.below(4) {
            0 if !b.is_empty() => {
                let at = rng.below(b.len());
                b.truncate(at);
            }
            1 => {
                let at = rng.below(b.len() + 1);
                let s = SNIPPETS[rng.below(SNIPPETS.len())].as_bytes();
                b.splice(at..at, s.iter().copied());
            }
            2 if !b.is_empty() => {
                let at = rng.below(b.len());
                b[at] = b" :-[]{}\n$&*!#'\"x0"[rng.below(17)];
            }
            _ if b.len() > 2 => {
                let a = rng.below(b.len());
                let len = rng.below(b.len() - a).min(40);
                let chunk: Vec<u8> = b[a..a + len].to_vec();
                let at = rng.below(b.len() + 1);
                b.splice(at..at, chunk);
            }
            _ => {}
        }
    }
    String::from_utf8_lossy(&b).into_owned()
}

#[test]
fn mutated_inputs_never_panic() {
    let mut seeds: Vec<String> = vec![
        "x-a: &a {image: b, restart: always}\nservices:\n  s:\n    <<: *a\n    depends_on: {t: {condition: service_healthy}}\n    healthcheck: {test: [CMD, x], interval: 1s}\n  t:\n    image: \"${IMG:-t}\"\n    mem_limit: 1g\n    tmpfs: [/run:size=1m]\n".into(),
    ];
    let dir = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/compat/compose"
    ));
    if let Ok(entries) = std::fs::read_dir(&dir) {
        let mut files: Vec<PathBuf> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
        files.sort();
        seeds.extend(
            files
                .iter()
                .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
                .filter_map(|p| std::fs::read_to_string(p).ok()),
        );
    }
    // RSTACK_MUTATE_ROUNDS / RSTACK_MUTATE_SEED widen an ad-hoc run.
    let env_num = |k: &str| std::env::var(k).ok().and_then(|v| v.parse::<u64>().ok());
    let mut rng = Lcg(env_num("RSTACK_MUTATE_SEED").unwrap_or(0x5eed));
    let rounds = env_num("RSTACK_MUTATE_ROUNDS").unwrap_or(40);
    for seed in &seeds {
        for _ in 0..rounds {
            let text = mutate(&mut rng, seed);
            let fs = MemFs::new()
                .with("/p/compose.yaml", text.clone())
                .with("/p/x", text.clone())
                .with("/p/y", "services: {}\n");
            crate::spec::fuzz_load(text.as_bytes());
            if let Err(d) = load(&opts(), &fs) {
                let lines = text.lines().count().max(1) as u32 + 1;
                for e in d.errors() {
                    if e.file == "compose.yaml" {
                        assert!(
                            e.line >= 1 && e.line <= lines,
                            "line {} out of range: {e}\n--- input:\n{text}",
                            e.line
                        );
                    }
                    let _ = e.to_string();
                }
            }
        }
    }
}
