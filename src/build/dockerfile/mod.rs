//! The Dockerfile AST and its parser.
//!
//! `parse` turns a Dockerfile's text into `Dockerfile`: parser directives, then the ARGs
//! before the first FROM, then one `Stage` per FROM. Every problem is found in one pass and
//! returned together (`Diagnostics`), before anything runs.
//!
//! Words stay UNEXPANDED in the AST, quotes and escapes included, exactly as written: the
//! executor expands them with `subst::expand` (or `expand_words`) at each step, with the
//! build args and the ENV in effect there, as Docker does. Docker expands the arguments of
//! ADD, COPY, ENV, EXPOSE, FROM, LABEL, STOPSIGNAL, USER, VOLUME, WORKDIR and ARG's default
//! values (and the `--from`/`--chown`/`--chmod` flags); RUN, CMD, ENTRYPOINT, SHELL and
//! HEALTHCHECK are left to the shell.
//!
//! Files: `lex` (physical lines to logical lines: directives, comments, continuations,
//! here-documents), `parse` (instructions and stages), `subst` (variables), `error`
//! (diagnostics), `stages` (which stages a target needs), `args` (the ARGs before FROM).

mod args;
mod error;
mod lex;
mod parse;
mod stages;
pub mod subst;
mod words;

pub use error::{Diagnostic, Diagnostics};
pub use parse::parse;
pub use stages::StageError;
pub use subst::{SubstError, expand, expand_heredoc, expand_words};

use std::time::Duration;

/// A parsed Dockerfile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dockerfile {
    /// The ARG instructions before the first FROM (only `Kind::Arg`): their values are
    /// usable in FROM lines only, unless a stage declares the ARG again.
    pub args_before_from: Vec<Instruction>,
    /// One per FROM, in file order (`Stage::index` is the position here).
    pub stages: Vec<Stage>,
    /// The escape character (`# escape=`), `\` by default: `subst::expand` needs it.
    pub escape: char,
    /// The `# syntax=` directive, if any (ignored: rstack has one frontend).
    pub syntax: Option<String>,
    /// Problems that do not stop the build (empty continuation lines, MAINTAINER).
    pub warnings: Vec<Diagnostic>,
}

/// One build stage: a FROM and the instructions up to the next FROM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stage {
    pub index: usize,
    /// The `AS` name, lowercased (Docker matches stage names case-insensitively).
    pub name: Option<String>,
    /// The base as written (raw, unexpanded): an image reference, `scratch`, or the name
    /// of an earlier stage (compare lowercased after expansion).
    pub base: String,
    /// `--platform=` as written (unexpanded).
    pub platform: Option<String>,
    /// 1-based line of the FROM.
    pub line: usize,
    /// The FROM instruction's text, for history.
    pub from_text: String,
    pub instructions: Vec<Instruction>,
}

/// One instruction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instruction {
    /// 1-based line the instruction starts on.
    pub line: usize,
    /// 1-based last line, here-document bodies included.
    pub end_line: usize,
    /// The instruction as written, continuations joined (the escape and line break
    /// removed), without here-document bodies: what history's `created_by` shows.
    pub text: String,
    pub kind: Kind,
}

/// What an instruction does. Strings are raw (unexpanded), see the module doc.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// `ARG name[=default] ...`: the name, and the default as written.
    Arg(Vec<(String, Option<String>)>),
    /// `ENV k=v ...` or the old `ENV k v`: key and value words as written (the old form's
    /// value is the rest of the line). Expand both.
    Env(Vec<(String, String)>),
    /// `LABEL k=v ...`, as ENV.
    Label(Vec<(String, String)>),
    Workdir(String),
    User(String),
    Copy(Copy),
    Add(Copy),
    Run(Run),
    Cmd(Command),
    Entrypoint(Command),
    /// Port words (`80`, `53/udp`, `${PORT}`), each to expand.
    Expose(Vec<String>),
    /// Paths: the JSON form's strings, or the shell form's whitespace-separated words.
    Volume(Vec<String>),
    /// `None` is `HEALTHCHECK NONE`.
    Healthcheck(Option<Healthcheck>),
    StopSignal(String),
    /// Always the JSON form's strings (Docker requires it).
    Shell(Vec<String>),
    /// The trigger instruction's text (checked to be a known instruction).
    Onbuild(String),
    Maintainer(String),
}

/// CMD, ENTRYPOINT, RUN and HEALTHCHECK CMD arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// The JSON form: run as is.
    Exec(Vec<String>),
    /// The shell form: run with the stage's SHELL (default `/bin/sh -c`).
    Shell(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    pub command: Command,
    /// Here-documents named on the line, in order. With a shell-form command that is only a
    /// here-document (`RUN <<EOF`), Docker runs the body as the script.
    pub heredocs: Vec<Heredoc>,
    /// `--network=` (`default`, `none`, `host`), as written.
    pub network: Option<String>,
    /// `--mount=` values as written (`type=cache,target=/root/.cache`...); the executor
    /// decides which it supports.
    pub mounts: Vec<String>,
}

/// COPY and ADD.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Copy {
    /// Source words, raw (each to expand); here-document words (`<<EOF`) are not here but
    /// in `heredocs`.
    pub sources: Vec<String>,
    pub dest: String,
    /// `--from=` (COPY only): a stage name or index, or an image.
    pub from: Option<String>,
    pub chown: Option<String>,
    pub chmod: Option<String>,
    /// Here-documents used as sources: each becomes a file named `name` in `dest`.
    pub heredocs: Vec<Heredoc>,
    /// `--link` (accepted; the layer is the same without it here).
    pub link: bool,
    /// ADD's `--checksum=` as written.
    pub checksum: Option<String>,
    /// `--exclude=` patterns as written.
    pub excludes: Vec<String>,
}

/// A here-document: `<<NAME` up to a line that is exactly NAME.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heredoc {
    pub name: String,
    /// The lines between, each with its `\n`. With `strip_tabs`, leading tabs are already
    /// removed from each line.
    pub body: String,
    /// False when the name was quoted (`<<"EOF"`, `<<'EOF'`): the body is used verbatim.
    /// When true, the executor expands variables in it (for COPY; RUN's shell does).
    pub expand: bool,
    /// `<<-EOF`.
    pub strip_tabs: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Healthcheck {
    pub test: Command,
    pub interval: Option<Duration>,
    pub timeout: Option<Duration>,
    pub start_period: Option<Duration>,
    pub start_interval: Option<Duration>,
    pub retries: Option<u32>,
}

impl Dockerfile {
    /// Parses an ONBUILD trigger (`Kind::Onbuild`'s text, or one from a base image's config)
    /// as the instruction it is, with `escape` the escape character of the Dockerfile it is
    /// run in. Its line numbers are 1.
    pub fn parse_trigger(text: &str, escape: char) -> Result<Instruction, Diagnostics> {
        let directive = if escape == '`' { "# escape=`\n" } else { "" };
        let df = parse(&format!("{directive}FROM scratch\n{text}\n"), "ONBUILD")?;
        let mut ins = df
            .stages
            .into_iter()
            .next()
            .and_then(|s| s.instructions.into_iter().next())
            .ok_or_else(|| {
                Diagnostics(vec![Diagnostic::file("ONBUILD", "empty ONBUILD trigger")])
            })?;
        ins.line = 1;
        ins.end_line = 1;
        Ok(ins)
    }
}

impl Kind {
    /// The instruction's keyword, upper case.
    pub fn keyword(&self) -> &'static str {
        match self {
            Kind::Arg(_) => "ARG",
            Kind::Env(_) => "ENV",
            Kind::Label(_) => "LABEL",
            Kind::Workdir(_) => "WORKDIR",
            Kind::User(_) => "USER",
            Kind::Copy(_) => "COPY",
            Kind::Add(_) => "ADD",
            Kind::Run(_) => "RUN",
            Kind::Cmd(_) => "CMD",
            Kind::Entrypoint(_) => "ENTRYPOINT",
            Kind::Expose(_) => "EXPOSE",
            Kind::Volume(_) => "VOLUME",
            Kind::Healthcheck(_) => "HEALTHCHECK",
            Kind::StopSignal(_) => "STOPSIGNAL",
            Kind::Shell(_) => "SHELL",
            Kind::Onbuild(_) => "ONBUILD",
            Kind::Maintainer(_) => "MAINTAINER",
        }
    }
}

#[cfg(test)]
mod tests;
