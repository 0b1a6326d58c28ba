//! Loading benchmark: the largest file of the compose corpus through the whole loader
//! (parse, interpolate, merge, convert, validate). Issue 3 asks for < 5 ms.
//! Run with `cargo bench --bench load`; prints the median and the 90th percentile.

use rstack::spec::{LoadOptions, RealFs, load};
use std::path::PathBuf;
use std::time::Instant;

fn main() {
    let dir = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/compat/compose"
    ));
    let Ok(entries) = std::fs::read_dir(&dir) else {
        eprintln!("no corpus at {}: nothing to measure", dir.display());
        return;
    };
    let largest = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
        .max_by_key(|p| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0));
    let Some(file) = largest else {
        eprintln!("empty corpus");
        return;
    };
    let opts = LoadOptions {
        files: vec![file.clone()],
        working_dir: dir.clone(),
        build_image_names: true,
        ..Default::default()
    };
    let mut times = Vec::new();
    for _ in 0..200 {
        let t = Instant::now();
        let res = load(&opts, &RealFs);
        times.push(t.elapsed());
        std::hint::black_box(&res);
    }
    times.sort();
    let bytes = std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
    println!(
        "load {} ({bytes} bytes): median {:.3} ms, p90 {:.3} ms over {} runs",
        file.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        times[times.len() / 2].as_secs_f64() * 1e3,
        times[times.len() * 9 / 10].as_secs_f64() * 1e3,
        times.len()
    );
}
