//! Kubernetes export benchmark (issue 15): the largest file of the compose corpus (< 5 ms
//! asked) and a generated 500-service stack (< 200 ms asked), load excluded: the time of
//! `export::kubernetes` plus the YAML rendering. Run with `cargo bench --bench export`
//! (`cargo test --bench export` runs it unoptimized); prints medians and p90s.

use rstack::export::{Options, kubernetes};
use rstack::spec::{LoadOptions, Loaded, MemFs, RealFs, load};
use std::path::PathBuf;
use std::time::Instant;

fn measure(what: &str, loaded: &Loaded, runs: usize) {
    let opts = Options::default();
    let mut times = Vec::new();
    let mut build = Vec::new();
    let mut objects = 0;
    for _ in 0..runs {
        let t = Instant::now();
        let out = kubernetes(loaded, &opts).expect("exports");
        build.push(t.elapsed());
        let yaml = out.to_yaml();
        times.push(t.elapsed());
        objects = out.objects.len();
        std::hint::black_box(&yaml);
    }
    times.sort();
    build.sort();
    println!(
        "export {what} ({} services, {objects} objects): median {:.3} ms (objects {:.3} ms, then YAML), p90 {:.3} ms over {runs} runs",
        loaded.stack.services.len(),
        times[times.len() / 2].as_secs_f64() * 1e3,
        build[build.len() / 2].as_secs_f64() * 1e3,
        times[times.len() * 9 / 10].as_secs_f64() * 1e3,
    );
}

/// A stack of `n` services: each with a port, env, a healthcheck, a named volume every
/// third service, and a `service_healthy` dependency on the previous one.
fn generated(n: usize) -> String {
    let mut y = String::from("services:\n");
    for i in 0..n {
        y.push_str(&format!(
            "  svc{i}:\n    image: example/app:{i}\n    command: [serve, --port, '80']\n    environment: {{A: '1', B: 'two', IDX: '{i}'}}\n    ports: ['{}:80']\n    healthcheck: {{test: [CMD, wget, -q, localhost], interval: 5s}}\n    deploy: {{resources: {{limits: {{memory: 256M, cpus: '0.5'}}}}}}\n",
            30000 + i
        ));
        if i % 3 == 0 {
            y.push_str(&format!("    volumes: ['data{i}:/data']\n"));
        }
        if i > 0 {
            y.push_str(&format!(
                "    depends_on: {{svc{}: {{condition: service_healthy}}}}\n",
                i - 1
            ));
        }
    }
    y.push_str("volumes:\n");
    for i in (0..n).step_by(3) {
        y.push_str(&format!("  data{i}: {{}}\n"));
    }
    y
}

fn main() {
    let dir = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/compat/compose"
    ));
    // The largest corpus file that loads (the largest of all needs env files it lacks).
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
                .collect()
        })
        .unwrap_or_default();
    files.sort_by_key(|p| std::cmp::Reverse(std::fs::metadata(p).map(|m| m.len()).unwrap_or(0)));
    let found = files.iter().find_map(|file| {
        let opts = LoadOptions {
            files: vec![file.clone()],
            working_dir: dir.clone(),
            ..Default::default()
        };
        load(&opts, &RealFs).ok().map(|l| (file, l))
    });
    match found {
        Some((file, l)) => {
            let name = file.file_name().unwrap_or_default().to_string_lossy();
            measure(&name, &l, 200);
        }
        None => eprintln!(
            "no loadable corpus file in {}: skipping that figure",
            dir.display()
        ),
    }
    let fs = MemFs::new().with("/bench/compose.yaml", generated(500));
    let opts = LoadOptions {
        working_dir: "/bench".into(),
        ..Default::default()
    };
    let loaded = load(&opts, &fs).expect("generated stack loads");
    measure("generated 500-service stack", &loaded, 20);
}
