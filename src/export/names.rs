//! Kubernetes object names: DNS-1123 labels (lower-case alphanumerics and `-`, at most 63).

use indexmap::IndexMap;

/// `name` as a DNS-1123 label: lower-cased, other characters (`_`, `.`) turned into `-`,
/// leading and trailing `-` removed, cut at 63 characters; `x` if nothing is left.
pub fn dns_label(name: &str) -> String {
    let mapped: String = name
        .chars()
        .map(|c| {
            let c = c.to_ascii_lowercase();
            if c.is_ascii_alphanumeric() { c } else { '-' }
        })
        .collect();
    let mut s: String = mapped.trim_matches('-').chars().take(63).collect();
    while s.ends_with('-') {
        s.pop();
    }
    if s.is_empty() { "x".into() } else { s }
}

/// Object names for every service, unique; a service already a valid label keeps its name.
pub fn service_names<'a>(services: impl Iterator<Item = &'a String>) -> IndexMap<String, String> {
    let mut out: IndexMap<String, String> = IndexMap::new();
    let all: Vec<&String> = services.collect();
    for s in &all {
        if dns_label(s) == **s {
            out.insert((*s).clone(), (*s).clone());
        }
    }
    for s in all {
        if out.contains_key(s) {
            continue;
        }
        let base = dns_label(s);
        let mut name = base.clone();
        let mut n = 2;
        while out.values().any(|v| *v == name) {
            let suffix = format!("-{n}");
            let keep: String = base.chars().take(63 - suffix.len()).collect();
            name = format!("{}{suffix}", keep.trim_end_matches('-'));
            n += 1;
        }
        out.insert(s.clone(), name);
    }
    out
}
