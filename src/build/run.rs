//! RUN: the container a step runs in. It is an ordinary rstack container (the same runtime,
//! seccomp profile and capabilities as a service's) on the stage's layers, whose upper
//! directory becomes the step's layer. It shares the host's network unless the build or the
//! step says `none`, as `docker build --network=host` does (there is no bridge network
//! yet), with the host's `/etc/resolv.conf` and `/etc/hosts` bound read-only over the
//! image's.

use std::path::{Path, PathBuf};

use crate::runtime::config::{
    CGROUP_PARENT, ContainerConfig, DEFAULT_RLIMITS, DOCKER_DEFAULT_CAPABILITIES,
    DOCKER_DEFAULT_MASKED_PATHS, DOCKER_DEFAULT_READONLY_PATHS, LogConfig, MountConfig,
    ProcessConfig, ResourceConfig, Rlimit, RootConfig, Seccomp,
};

/// Files bound from the host into a build container on the host's network.
pub const HOST_FILES: [&str; 2] = ["/etc/resolv.conf", "/etc/hosts"];

/// What one RUN container needs.
pub struct RunSpec<'a> {
    pub id: &'a str,
    /// The step's scratch directory: state, upper, work and mount point go here.
    pub dir: &'a Path,
    /// Layer directories, topmost first (at least one).
    pub layers: Vec<PathBuf>,
    pub args: Vec<String>,
    pub env: Vec<String>,
    pub cwd: String,
    pub user: Option<String>,
    pub host_network: bool,
    /// Which of `HOST_FILES` to bind (those whose directory exists in the image).
    pub binds: Vec<&'static str>,
}

/// The container configuration of a RUN step.
pub fn container_config(s: &RunSpec) -> ContainerConfig {
    let strings = |l: &[&str]| l.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    ContainerConfig {
        id: s.id.to_string(),
        hostname: "rstack-build".to_string(),
        root: RootConfig {
            layers: s.layers.clone(),
            upper: s.dir.join("upper"),
            work: s.dir.join("work"),
            merged: s.dir.join("rootfs"),
            readonly: false,
            // Synced once, with the build's commit, not at every step's unmount.
            volatile: true,
        },
        process: ProcessConfig {
            args: s.args.clone(),
            env: s.env.clone(),
            cwd: s.cwd.clone(),
            user: s.user.clone(),
            capabilities: strings(&DOCKER_DEFAULT_CAPABILITIES),
            // As in Docker: setuid programs (su, sudo, apt's sandbox) work in a RUN.
            no_new_privileges: false,
            group_add: Vec::new(),
            rlimits: DEFAULT_RLIMITS
                .iter()
                .map(|&(kind, soft, hard)| Rlimit {
                    kind: kind.to_string(),
                    soft,
                    hard,
                    exact: false,
                })
                .collect(),
            stdin: false,
            tty: None,
            attachable: false,
        },
        mounts: s
            .binds
            .iter()
            .map(|f| MountConfig {
                destination: f.to_string(),
                kind: "bind".into(),
                source: f.to_string(),
                options: vec!["bind".into(), "ro".into(), "nosuid".into(), "nodev".into()],
                create_source: false,
                volume: None,
                seed: false,
                file: None,
            })
            .collect(),
        resources: ResourceConfig::default(),
        cgroup_path: format!("{CGROUP_PARENT}/{}", s.id),
        init: false,
        masked_paths: strings(&DOCKER_DEFAULT_MASKED_PATHS),
        readonly_paths: strings(&DOCKER_DEFAULT_READONLY_PATHS),
        state_dir: s.dir.join("state"),
        devices: Vec::new(),
        device_rules: Vec::new(),
        log: LogConfig::default(),
        seccomp: Seccomp::Default,
        seccomp_filter: None,
        host_network: s.host_network,
        network: Default::default(),
        sysctls: Vec::new(),
        shm_size: None,
        oom_score_adj: None,
        host_pid: false,
    }
}

/// A `RUN --mount=` as the runtime mounts it: `type=cache` (a directory kept under
/// `cache_root` across builds, by its `id`, else its target) and `type=tmpfs`. The others
/// (bind, secret, ssh) are refused with what to do instead.
pub fn mount(spec: &str, cache_root: &Path) -> Result<MountConfig, String> {
    let mut kind = "bind";
    let mut target = None;
    let mut id = None;
    let mut size = None;
    let mut readonly = false;
    for part in spec.split(',') {
        let (k, v) = part.split_once('=').unwrap_or((part, ""));
        match k {
            "type" => kind = v,
            "target" | "dst" | "destination" => target = Some(v),
            "id" => id = Some(v),
            "size" => size = Some(v),
            "ro" | "readonly" => readonly = v.is_empty() || v == "true",
            _ => {}
        }
    }
    let target = target
        .filter(|t| t.starts_with('/'))
        .ok_or_else(|| format!("--mount={spec}: give an absolute target="))?;
    match kind {
        "cache" => {
            let key = super::cache::key(&[id.unwrap_or(target)]);
            let dir = cache_root.join(&key[..32]);
            std::fs::create_dir_all(&dir)
                .map_err(|e| format!("--mount={spec}: creating {}: {e}", dir.display()))?;
            let mut options = vec![
                "rbind".to_string(),
                "nosuid".to_string(),
                "nodev".to_string(),
            ];
            if readonly {
                options.push("ro".into());
            }
            Ok(MountConfig {
                destination: target.to_string(),
                kind: "bind".into(),
                source: dir.display().to_string(),
                options,
                create_source: false,
                volume: None,
                seed: false,
                file: None,
            })
        }
        "tmpfs" => {
            let mut options = vec!["nosuid".to_string(), "nodev".to_string()];
            if let Some(s) = size {
                options.push(format!("size={s}"));
            }
            Ok(MountConfig {
                destination: target.to_string(),
                kind: "tmpfs".into(),
                source: "tmpfs".into(),
                options,
                create_source: false,
                volume: None,
                seed: false,
                file: None,
            })
        }
        other => Err(format!(
            "--mount=type={other} is not supported by rstack yet (cache and tmpfs are): COPY what the step needs first"
        )),
    }
}

/// The argv of a RUN: the exec form as is; the shell form through the stage's shell. A
/// command that is only a here-document runs its body as the script; other here-documents
/// are handed to the shell with the command, which feeds them as it would in a script.
pub fn argv(
    command: &super::dockerfile::Command,
    heredocs: &[super::dockerfile::Heredoc],
    shell: &[String],
) -> Vec<String> {
    use super::dockerfile::Command;
    match command {
        Command::Exec(a) => a.clone(),
        Command::Shell(s) => {
            let mut script = s.clone();
            if let [only] = heredocs
                && is_just_heredoc(s, &only.name)
            {
                script = only.body.clone();
            } else {
                for h in heredocs {
                    script.push('\n');
                    script.push_str(&h.body);
                    script.push_str(&h.name);
                }
            }
            let mut v = shell.to_vec();
            v.push(script);
            v
        }
    }
}

/// Whether `command` is nothing but the here-document operator for `name`.
fn is_just_heredoc(command: &str, name: &str) -> bool {
    let t = command.trim();
    let Some(rest) = t.strip_prefix("<<") else {
        return false;
    };
    let rest = rest.strip_prefix('-').unwrap_or(rest);
    let rest = rest.trim_matches(|c| c == '"' || c == '\'');
    rest == name
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::build::dockerfile::{Command, Heredoc};

    fn doc(name: &str, body: &str) -> Heredoc {
        Heredoc {
            name: name.into(),
            body: body.into(),
            expand: true,
            strip_tabs: false,
        }
    }

    #[test]
    fn shell_form_goes_through_the_shell() {
        let sh = vec!["/bin/sh".to_string(), "-c".to_string()];
        assert_eq!(
            argv(&Command::Shell("echo hi".into()), &[], &sh),
            vec!["/bin/sh", "-c", "echo hi"]
        );
        assert_eq!(
            argv(&Command::Exec(vec!["a".into(), "b".into()]), &[], &sh),
            vec!["a", "b"]
        );
    }

    #[test]
    fn heredocs_become_the_script_or_its_input() {
        let sh = vec!["/bin/sh".to_string(), "-c".to_string()];
        let only = argv(
            &Command::Shell("<<EOF".into()),
            &[doc("EOF", "echo a\necho b\n")],
            &sh,
        );
        assert_eq!(only[2], "echo a\necho b\n");
        let fed = argv(
            &Command::Shell("cat <<EOF > /x".into()),
            &[doc("EOF", "hello\n")],
            &sh,
        );
        assert_eq!(fed[2], "cat <<EOF > /x\nhello\nEOF");
    }
}
