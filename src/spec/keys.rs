//! Which Compose keys rstack implements, which it knows but does not support yet (warned, never
//! silently dropped), and edit-distance suggestions for unknown ones.

/// Service keys the converter reads.
pub const SERVICE_IMPLEMENTED: &[&str] = &[
    "build",
    "cap_add",
    "cap_drop",
    "command",
    "configs",
    "container_name",
    "cpus",
    "depends_on",
    "deploy",
    "develop",
    "device_cgroup_rules",
    "devices",
    "dns",
    "dns_opt",
    "dns_search",
    "domainname",
    "entrypoint",
    "env_file",
    "environment",
    "expose",
    "extends",
    "extra_hosts",
    "group_add",
    "healthcheck",
    "hostname",
    "image",
    "init",
    "labels",
    "links",
    "logging",
    "mac_address",
    "mem_limit",
    "mem_reservation",
    "network_mode",
    "networks",
    "oom_score_adj",
    "pid",
    "pids_limit",
    "platform",
    "ports",
    "post_start",
    "pre_stop",
    "privileged",
    "profiles",
    "pull_policy",
    "read_only",
    "restart",
    "runtime",
    "scale",
    "secrets",
    "security_opt",
    "shm_size",
    "stop_grace_period",
    "stdin_open",
    "stop_signal",
    "sysctls",
    "tmpfs",
    "tty",
    "ulimits",
    "user",
    "userns_mode",
    "volumes",
    "volumes_from",
    "working_dir",
];

/// Service keys of the compose-spec schema (shared/compat/compose-spec.json) not implemented yet.
pub const SERVICE_UNSUPPORTED: &[&str] = &[
    "annotations",
    "attach",
    "blkio_config",
    "cgroup",
    "cgroup_parent",
    "cpu_count",
    "cpu_percent",
    "cpu_period",
    "cpu_quota",
    "cpu_rt_period",
    "cpu_rt_runtime",
    "cpu_shares",
    "cpuset",
    "credential_spec",
    "external_links",
    "gpus",
    "ipc",
    "isolation",
    "label_file",
    "mem_swappiness",
    "memswap_limit",
    "models",
    "oom_kill_disable",
    "provider",
    "pull_refresh_after",
    "storage_opt",
    "use_api_socket",
    "uts",
];

/// Service keys docker compose accepts that are newer than the checked-in schema.
pub const SERVICE_UNSUPPORTED_NEWER: &[&str] = &["pre_start"];

/// Whether `key` is a Compose service key rstack knows but does not implement.
pub fn service_unsupported(key: &str) -> bool {
    SERVICE_UNSUPPORTED.contains(&key) || SERVICE_UNSUPPORTED_NEWER.contains(&key)
}

/// Top-level keys of the compose-spec schema.
pub const TOP_LEVEL: &[&str] = &[
    "version", "name", "include", "services", "models", "networks", "volumes", "secrets", "configs",
];

pub const HEALTHCHECK: &[&str] = &[
    "test",
    "interval",
    "timeout",
    "retries",
    "start_period",
    "start_interval",
    "disable",
];

pub const DEPENDS_ON: &[&str] = &["condition", "required", "restart"];

pub const DEPLOY_IMPLEMENTED: &[&str] = &["resources", "replicas", "restart_policy"];
pub const DEPLOY_UNSUPPORTED: &[&str] = &[
    "mode",
    "endpoint_mode",
    "labels",
    "rollback_config",
    "update_config",
    "placement",
];
pub const RESOURCES: &[&str] = &["limits", "reservations"];
pub const LIMITS_IMPLEMENTED: &[&str] = &["memory", "cpus", "pids"];
/// `deploy.resources.reservations` keys read (`devices`, `generic_resources` warn instead).
pub const RESERVATIONS_IMPLEMENTED: &[&str] = &["memory", "cpus", "pids"];
pub const RESERVATIONS_UNSUPPORTED: &[&str] = &["devices", "generic_resources"];
pub const X_RSTACK: &[&str] = &["restart_on_unhealthy", "restart_backoff"];
pub const BACKOFF: &[&str] = &["initial", "max"];

/// Edit distance counting an adjacent transposition as one edit (optimal string alignment),
/// so "tset" is one step from "test".
pub fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let w = b.len() + 1;
    let mut d = vec![0usize; (a.len() + 1) * w];
    for i in 0..=a.len() {
        d[i * w] = i;
    }
    for (j, cell) in d.iter_mut().enumerate().take(w) {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (d[(i - 1) * w + j] + 1)
                .min(d[i * w + j - 1] + 1)
                .min(d[(i - 1) * w + j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(d[(i - 2) * w + j - 2] + 1);
            }
            d[i * w + j] = v;
        }
    }
    d[a.len() * w + b.len()]
}

/// The closest candidate within a third of the word's length (at least 1, at most 3 edits), or
/// one that differs only by `-`/`_`.
pub fn suggest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let norm = |s: &str| s.to_ascii_lowercase().replace('-', "_");
    let w = norm(word);
    if let Some(c) = candidates.iter().find(|c| norm(c) == w) {
        return Some(c);
    }
    let limit = (word.chars().count() / 3).clamp(1, 3);
    candidates
        .iter()
        .map(|c| (distance(&w, c), *c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every service property of the checked-in compose-spec schema is classified exactly once.
    #[test]
    fn schema_service_keys_are_classified() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../shared/compat/compose-spec.json"
        );
        let Ok(text) = std::fs::read_to_string(path) else {
            crate::testutil::skip(
                "schema_service_keys_are_classified",
                &format!("{path} missing"),
            );
            return;
        };
        let Ok(schema) = serde_json::from_str::<serde_json::Value>(&text) else {
            panic!("compose-spec.json is not JSON");
        };
        let props = schema["definitions"]["service"]["properties"]
            .as_object()
            .map(|o| o.keys().cloned().collect::<Vec<_>>())
            .unwrap_or_default();
        assert!(props.len() > 50);
        for p in &props {
            let n = SERVICE_IMPLEMENTED.contains(&p.as_str()) as u8
                + SERVICE_UNSUPPORTED.contains(&p.as_str()) as u8;
            assert_eq!(n, 1, "service key {p} classified {n} times");
        }
        for k in SERVICE_IMPLEMENTED.iter().chain(SERVICE_UNSUPPORTED) {
            assert!(props.iter().any(|p| p == k), "{k} is not in the schema");
        }
    }

    #[test]
    fn suggestions() {
        let all: Vec<&str> = SERVICE_IMPLEMENTED
            .iter()
            .chain(SERVICE_UNSUPPORTED)
            .copied()
            .collect();
        let cases = [
            ("depend_on", Some("depends_on")),
            ("depends-on", Some("depends_on")),
            ("imgae", Some("image")),
            ("enviroment", Some("environment")),
            ("helthcheck", Some("healthcheck")),
            ("zzzzzz", None),
        ];
        for (w, want) in cases {
            assert_eq!(suggest(w, &all), want, "{w}");
        }
        assert_eq!(distance("kitten", "sitting"), 3);
        assert_eq!(distance("tset", "test"), 1);
        assert_eq!(distance("", "abc"), 3);
    }
}
