//! The top-level help, grouped as the docker CLI groups its commands, and the definitions'
//! other outputs: shell completions (`rstack completion SHELL`) and man pages (`rstack man`).
//! All three come from the one clap definition in `args.rs`, so they cannot drift from it.

use std::fmt::Write as _;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::{Args, Command, CommandFactory, ValueEnum};

use super::args::Cli;

/// The command groups of `rstack --help`, in order. Every visible command is in exactly one
/// (a unit test holds every new command to that).
const GROUPS: &[(&str, &[&str])] = &[
    (
        "Common Commands",
        &[
            "up", "down", "ps", "logs", "exec", "run", "build", "pull", "config",
        ],
    ),
    (
        "Stack Commands",
        &[
            "attach", "cp", "create", "events", "export", "images", "inspect", "kill", "ls",
            "pause", "port", "push", "restart", "rm", "scale", "start", "stats", "stop", "top",
            "unpause", "validate", "wait", "watch",
        ],
    ),
    (
        "Management Commands",
        &["image", "network", "sync", "volume"],
    ),
    (
        "Other Commands",
        &[
            "login",
            "logout",
            "info",
            "version",
            "completion",
            "man",
            "daemon",
        ],
    ),
];

/// `cmd` with a help template that lists its subcommands by group, each with its one-line
/// description from the definition.
pub(super) fn grouped(cmd: Command) -> Command {
    let width = GROUPS
        .iter()
        .flat_map(|(_, names)| names.iter())
        .map(|n| n.len())
        .max()
        .unwrap_or(0);
    let mut groups = String::new();
    for (title, names) in GROUPS {
        let present: Vec<&Command> = names
            .iter()
            .filter_map(|n| cmd.find_subcommand(n))
            .filter(|c| !c.is_hide_set())
            .collect();
        if present.is_empty() {
            continue;
        }
        let _ = writeln!(groups, "{title}:");
        for c in present {
            let about = c.get_about().map(|a| a.to_string()).unwrap_or_default();
            let _ = writeln!(groups, "  {:width$}  {about}", c.get_name());
        }
        groups.push('\n');
    }
    cmd.help_template(format!(
        "{{about-with-newline}}\n{{usage-heading}} {{usage}}\n\n{groups}Options:\n{{options}}{{after-help}}"
    ))
}

/// The shells `rstack completion` writes for.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
}

#[derive(Debug, Args)]
pub struct CompletionArgs {
    /// The shell to write the completion script for
    #[arg(value_enum)]
    pub shell: Shell,
}

#[derive(Debug, Args)]
pub struct ManArgs {
    /// Write rstack.1 and one page per command (rstack-up.1, rstack-image-pull.1, ...) into
    /// this directory instead of printing rstack.1
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

/// `rstack completion SHELL`: the completion script on stdout.
pub(super) fn completion(args: &CompletionArgs) -> Result<i32> {
    let mut cmd = Cli::command();
    let shell = match args.shell {
        Shell::Bash => clap_complete::Shell::Bash,
        Shell::Zsh => clap_complete::Shell::Zsh,
        Shell::Fish => clap_complete::Shell::Fish,
    };
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut cmd, "rstack", &mut out);
    std::io::stdout()
        .write_all(&out)
        .context("writing the completion script")?;
    Ok(0)
}

/// `rstack man [--dir DIR]`: the man page(s), rendered from the command definitions.
pub(super) fn man(args: &ManArgs) -> Result<i32> {
    let mut cmd = Cli::command();
    cmd.build();
    match &args.dir {
        None => {
            let mut out = Vec::new();
            clap_mangen::Man::new(cmd)
                .render(&mut out)
                .context("rendering the man page")?;
            std::io::stdout()
                .write_all(&out)
                .context("writing the man page")?;
        }
        Some(dir) => {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            write_pages(&cmd, dir)?;
        }
    }
    Ok(0)
}

/// Writes `NAME.1` for `cmd` and, below it, a page for each visible subcommand; a built
/// command names its subcommands `rstack-up`, `rstack-image-pull`, ....
fn write_pages(cmd: &Command, dir: &Path) -> Result<()> {
    let name = cmd.get_display_name().unwrap_or_else(|| cmd.get_name());
    let path = dir.join(format!("{name}.1"));
    let mut out = Vec::new();
    clap_mangen::Man::new(cmd.clone())
        .render(&mut out)
        .with_context(|| format!("rendering {}", path.display()))?;
    std::fs::write(&path, out).with_context(|| format!("writing {}", path.display()))?;
    for sub in cmd.get_subcommands().filter(|c| !c.is_hide_set()) {
        write_pages(sub, dir)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_visible_command_is_in_exactly_one_group() {
        let cmd = Cli::command();
        for sub in cmd.get_subcommands().filter(|c| !c.is_hide_set()) {
            let n = GROUPS
                .iter()
                .filter(|(_, names)| names.contains(&sub.get_name()))
                .count();
            assert_eq!(n, 1, "`{}` must be in one group of help.rs", sub.get_name());
        }
    }

    #[test]
    fn grouped_help_lists_each_command_under_its_group() {
        let mut cmd = grouped(Cli::command());
        let help = cmd.render_help().to_string();
        let common = help.find("Common Commands:").expect("common group");
        let mgmt = help.find("Management Commands:").expect("management group");
        let up = help.find("\n  up ").expect("up listed");
        let network = help.find("\n  network ").expect("network listed");
        assert!(common < up && up < mgmt, "{help}");
        assert!(mgmt < network, "{help}");
        assert!(help.contains("Options:"), "{help}");
        assert!(!help.contains("\nCommands:"), "{help}");
    }

    #[test]
    fn completions_name_subcommands_and_their_flags() {
        for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
            let mut cmd = Cli::command();
            let s = match shell {
                Shell::Bash => clap_complete::Shell::Bash,
                Shell::Zsh => clap_complete::Shell::Zsh,
                Shell::Fish => clap_complete::Shell::Fish,
            };
            let mut out = Vec::new();
            clap_complete::generate(s, &mut cmd, "rstack", &mut out);
            let text = String::from_utf8(out).expect("utf-8");
            // A subcommand, and a flag that only exists once deferred args are built.
            assert!(text.contains("network"), "{shell:?}");
            assert!(text.contains("force-recreate"), "{shell:?}");
        }
    }

    #[test]
    fn man_pages_cover_subcommands() {
        let dir = std::env::temp_dir().join(format!("rstack-man-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("dir");
        let mut cmd = Cli::command();
        cmd.build();
        write_pages(&cmd, &dir).expect("pages");
        let up = std::fs::read_to_string(dir.join("rstack-up.1")).expect("rstack-up.1");
        assert!(up.contains("force\\-recreate"), "{up}");
        assert!(dir.join("rstack-image-pull.1").exists());
        std::fs::remove_dir_all(&dir).expect("cleanup");
    }
}
