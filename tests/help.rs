//! The CLI's own documentation through the binary: grouped `--help`, shell completions that
//! the shells accept, and man pages. None of it needs root or a daemon.

mod common;

use std::process::{Command, Stdio};

#[test]
fn help_groups_commands_like_docker() {
    let out = Command::new(common::bin()).arg("--help").output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for group in [
        "Common Commands:",
        "Stack Commands:",
        "Management Commands:",
        "Other Commands:",
    ] {
        assert!(help.contains(group), "{group} missing:\n{help}");
    }
    assert!(help.contains("  completion "), "{help}");
}

#[test]
fn bash_completion_loads_and_completes_subcommands() {
    let script = Command::new(common::bin())
        .args(["completion", "bash"])
        .output()
        .unwrap();
    assert!(script.status.success());
    let path = std::env::temp_dir().join(format!("rstack-completion-{}.bash", std::process::id()));
    std::fs::write(&path, &script.stdout).unwrap();
    // Source the script, then ask its function for the words after `rstack net`.
    let probe = format!(
        "source {}; COMP_WORDS=(rstack net); COMP_CWORD=1; COMP_LINE='rstack net'; COMP_POINT=10; \
         _rstack rstack net rstack; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        path.display()
    );
    let out = Command::new("bash")
        .args(["-c", &probe])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&path);
    let words = String::from_utf8_lossy(&out.stdout);
    assert!(
        words.lines().any(|w| w == "network"),
        "completion of `rstack net` gave {words:?}, stderr {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn zsh_and_fish_scripts_name_the_commands() {
    for shell in ["zsh", "fish"] {
        let out = Command::new(common::bin())
            .args(["completion", shell])
            .output()
            .unwrap();
        assert!(out.status.success(), "{shell}");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("force-recreate"), "{shell}");
    }
    let bad = Command::new(common::bin())
        .args(["completion", "tcsh"])
        .output()
        .unwrap();
    assert!(!bad.status.success());
}

#[test]
fn man_writes_a_page_per_command() {
    let dir = std::env::temp_dir().join(format!("rstack-man-it-{}", std::process::id()));
    let out = Command::new(common::bin())
        .args(["man", "--dir"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let up = std::fs::read_to_string(dir.join("rstack-up.1"));
    let pull = dir.join("rstack-image-pull.1").exists();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(up.unwrap().contains(".SH OPTIONS"));
    assert!(pull);
}
