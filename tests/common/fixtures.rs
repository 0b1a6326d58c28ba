//! Small stack files and readers that several test files share word for word.

/// Two busybox services, `web` and `other`, sleeping (1 s grace period) in project `project`.
pub fn web_and_other_stack(project: &str) -> String {
    format!(
        r#"name: {project}
services:
  web:
    image: busybox:test
    stop_grace_period: 1s
    command: ["sleep", "1000"]
  other:
    image: busybox:test
    stop_grace_period: 1s
    command: ["sleep", "1000"]
"#
    )
}

/// Names in a tar archive.
pub fn tar_names(bytes: &[u8]) -> Vec<String> {
    let mut a = tar::Archive::new(bytes);
    a.entries()
        .expect("tar")
        .map(|e| {
            e.expect("entry")
                .path()
                .expect("path")
                .display()
                .to_string()
        })
        .collect()
}
