//! Logical lines to instructions and stages, with every problem reported at its position.

use super::error::{Diagnostic, Diagnostics, suggest};
use super::lex::{self, Logical};
use super::words::{self, Json};
use super::{Command, Copy, Dockerfile, Healthcheck, Instruction, Kind, Run, Stage};
use std::time::Duration;

/// Every instruction keyword, upper case (FROM included).
pub const INSTRUCTIONS: &[&str] = &[
    "ADD",
    "ARG",
    "CMD",
    "COPY",
    "ENTRYPOINT",
    "ENV",
    "EXPOSE",
    "FROM",
    "HEALTHCHECK",
    "LABEL",
    "MAINTAINER",
    "ONBUILD",
    "RUN",
    "SHELL",
    "STOPSIGNAL",
    "USER",
    "VOLUME",
    "WORKDIR",
];

/// Parses a Dockerfile. `file_name` is what diagnostics show (e.g. `app/Dockerfile`).
pub fn parse(text: &str, file_name: &str) -> Result<Dockerfile, Diagnostics> {
    let body = text.strip_prefix('\u{feff}').unwrap_or(text);
    let phys: Vec<&str> = body.split('\n').collect();
    let lexed = lex::lex(text);
    let escape = lexed.directives.as_ref().map_or('\\', |d| d.escape);
    let syntax = lexed.directives.as_ref().and_then(|d| d.syntax.clone());
    let mut cx = Cx {
        file: file_name,
        phys: &phys,
        escape,
        errors: Vec::new(),
        warnings: Vec::new(),
    };
    for p in lexed.errors {
        let d = Diagnostic::at(file_name, &phys, p.line, p.col, p.width, p.message);
        cx.errors.push(match p.hint {
            Some(h) => d.with_hint(h),
            None => d,
        });
    }
    for p in lexed.warnings {
        let d = Diagnostic::at(file_name, &phys, p.line, p.col, p.width, p.message);
        cx.warnings.push(match p.hint {
            Some(h) => d.with_hint(h),
            None => d,
        });
    }

    let mut df = Dockerfile {
        args_before_from: Vec::new(),
        stages: Vec::new(),
        escape,
        syntax,
        warnings: Vec::new(),
    };
    // Where each stage's name was written, for duplicate and --from checks.
    let mut name_at: Vec<Option<(usize, usize)>> = Vec::new();
    for lg in &lexed.lines {
        match cx.line(lg) {
            Some(Parsed::From {
                base,
                platform,
                name,
                name_off,
            }) => {
                let index = df.stages.len();
                if let (Some(n), Some(off)) = (&name, name_off) {
                    if let Some(prev) = df.stages.iter().find(|s| s.name.as_ref() == Some(n)) {
                        let msg = format!("duplicate stage name {n:?}");
                        let hint = format!(
                            "the name is first used on line {}: stage names must be unique",
                            prev.line
                        );
                        cx.error(lg, off, n.len(), msg, Some(hint));
                    }
                    name_at.push(Some(lg.pos(off)));
                } else {
                    name_at.push(None);
                }
                df.stages.push(Stage {
                    index,
                    name,
                    base,
                    platform,
                    line: lg.line,
                    from_text: lg.text.trim().to_string(),
                    instructions: Vec::new(),
                });
            }
            Some(Parsed::Instruction(ins)) => match df.stages.last_mut() {
                Some(stage) => stage.instructions.push(ins),
                None if matches!(ins.kind, Kind::Arg(_)) => df.args_before_from.push(ins),
                None => {
                    let kw = ins.kind.keyword();
                    cx.error(
                        lg,
                        0,
                        kw.len(),
                        format!("{kw} before the first FROM"),
                        Some("a Dockerfile starts with FROM; only ARG may come before it".into()),
                    );
                }
            },
            None => {}
        }
    }
    if df.stages.is_empty() && cx.errors.is_empty() {
        cx.errors.push(
            Diagnostic::file(
                file_name,
                "no FROM instruction: the Dockerfile has no build stage",
            )
            .with_hint("start the Dockerfile with FROM IMAGE (or FROM scratch)"),
        );
    }
    check_copy_from(&mut cx, &df, &lexed.lines);
    df.warnings = cx.warnings;
    if cx.errors.is_empty() {
        Ok(df)
    } else {
        Err(Diagnostics(cx.errors))
    }
}

/// `COPY --from` must name an earlier stage (by name or index), or an image.
fn check_copy_from(cx: &mut Cx<'_>, df: &Dockerfile, lines: &[Logical]) {
    for stage in &df.stages {
        for ins in &stage.instructions {
            let Kind::Copy(c) = &ins.kind else { continue };
            let Some(from) = &c.from else { continue };
            if from.contains('$') {
                continue;
            }
            let lower = from.to_ascii_lowercase();
            let target = match lower.parse::<usize>() {
                Ok(i) => Some(i),
                Err(_) => df
                    .stages
                    .iter()
                    .find(|s| s.name.as_deref() == Some(lower.as_str()))
                    .map(|s| s.index),
            };
            let problem = match target {
                Some(t) if t >= df.stages.len() => Some("names a stage that does not exist"),
                Some(t) if t == stage.index => Some("names its own stage"),
                Some(t) if t > stage.index => Some("names a later stage"),
                _ => None,
            };
            let Some(problem) = problem else { continue };
            let Some(lg) = lines.iter().find(|l| l.line == ins.line) else {
                continue;
            };
            let off = lg.text.find("--from").unwrap_or(0);
            let width = lg.text[off..]
                .find(char::is_whitespace)
                .unwrap_or(lg.text.len() - off);
            cx.error(
                lg,
                off,
                width,
                format!("COPY --from={from} {problem}"),
                Some("--from takes an earlier stage (its AS name or index) or an image".into()),
            );
        }
    }
}

enum Parsed {
    From {
        base: String,
        platform: Option<String>,
        name: Option<String>,
        name_off: Option<usize>,
    },
    Instruction(Instruction),
}

/// A parsed `--flag[=value]`.
struct Flag {
    name: String,
    value: Option<String>,
    /// Offset of the `--` in the logical text, and the word's length.
    at: usize,
    len: usize,
}

/// What a flag takes.
#[derive(Clone, Copy, PartialEq)]
enum FlagKind {
    Value,
    Bool,
    /// Docker has it; rstack refuses it rather than build something else than meant.
    Unsupported,
}

fn flags_of(kw: &str) -> &'static [(&'static str, FlagKind)] {
    use FlagKind::*;
    match kw {
        "FROM" => &[("platform", Value)],
        "COPY" => &[
            ("from", Value),
            ("chown", Value),
            ("chmod", Value),
            ("link", Bool),
            ("exclude", Value),
            ("parents", Unsupported),
        ],
        "ADD" => &[
            ("chown", Value),
            ("chmod", Value),
            ("link", Bool),
            ("exclude", Value),
            ("checksum", Value),
            ("keep-git-dir", Unsupported),
            ("unpack", Unsupported),
        ],
        "RUN" => &[
            ("network", Value),
            ("mount", Value),
            ("security", Unsupported),
        ],
        "HEALTHCHECK" => &[
            ("interval", Value),
            ("timeout", Value),
            ("start-period", Value),
            ("start-interval", Value),
            ("retries", Value),
        ],
        _ => &[],
    }
}

struct Cx<'a> {
    file: &'a str,
    phys: &'a [&'a str],
    escape: char,
    errors: Vec<Diagnostic>,
    warnings: Vec<Diagnostic>,
}

impl Cx<'_> {
    fn diag(
        &self,
        lg: &Logical,
        off: usize,
        width: usize,
        msg: String,
        hint: Option<String>,
    ) -> Diagnostic {
        let (line, col) = lg.pos(off);
        let d = Diagnostic::at(self.file, self.phys, line, col, width, msg);
        match hint {
            Some(h) => d.with_hint(h),
            None => d,
        }
    }

    fn error(&mut self, lg: &Logical, off: usize, width: usize, msg: String, hint: Option<String>) {
        let d = self.diag(lg, off, width, msg, hint);
        self.errors.push(d);
    }

    /// One logical line; `None` after reporting its errors.
    fn line(&mut self, lg: &Logical) -> Option<Parsed> {
        let text = lg.text.as_str();
        let kw_off = text.len() - text.trim_start().len();
        let word = text[kw_off..]
            .split(char::is_whitespace)
            .next()
            .unwrap_or("");
        let kw = word.to_ascii_uppercase();
        if !INSTRUCTIONS.contains(&kw.as_str()) {
            let hint = match suggest(word, INSTRUCTIONS) {
                Some(s) => format!("did you mean {s}?"),
                None => format!("instructions are {}", INSTRUCTIONS.join(", ")),
            };
            self.error(
                lg,
                kw_off,
                word.len(),
                format!("unknown instruction: {word}"),
                Some(hint),
            );
            return None;
        }
        let args_off = kw_off + word.len();
        let errors_before = self.errors.len();
        let (flags, rest_off) = self.flags(lg, &kw, args_off);
        let rest = text[rest_off..].trim_end();
        let rest_off = rest_off + (rest.len() - rest.trim_start().len());
        let rest = rest.trim_start();
        if rest.is_empty() {
            let hint = usage(&kw);
            self.error(
                lg,
                kw_off,
                word.len(),
                format!("{kw} needs arguments"),
                Some(format!("write {hint}")),
            );
            return None;
        }
        let a = Args {
            lg,
            kw: &kw,
            flags,
            rest,
            rest_off,
        };
        let kind = match kw.as_str() {
            "FROM" => return self.from(a),
            _ => self.kind(a)?,
        };
        if self.errors.len() > errors_before {
            return None;
        }
        if kw == "MAINTAINER" {
            let d = self.diag(
                lg,
                kw_off,
                word.len(),
                "MAINTAINER is deprecated".into(),
                Some("use LABEL maintainer=\"NAME\"".into()),
            );
            self.warnings.push(d);
        }
        Some(Parsed::Instruction(Instruction {
            line: lg.line,
            end_line: lg.end_line,
            text: text.trim().to_string(),
            kind,
        }))
    }

    /// Reads `--name[=value]` words after the keyword, as Docker's `extractBuilderFlags`
    /// (quotes and backslashes removed from values), and checks them against `kw`'s flags.
    /// Returns the flags and the offset where the arguments start.
    fn flags(&mut self, lg: &Logical, kw: &str, mut off: usize) -> (Vec<Flag>, usize) {
        let text = lg.text.as_str();
        let allowed = flags_of(kw);
        let mut out: Vec<Flag> = Vec::new();
        loop {
            let rest = &text[off..];
            let start = off + (rest.len() - rest.trim_start().len());
            if !text[start..].starts_with("--") {
                return (out, start);
            }
            let (word, end) = flag_word(text, start);
            off = end;
            if word == "--" {
                return (out, end);
            }
            let body = &word[2..];
            let (name, value) = match body.split_once('=') {
                Some((n, v)) => (n.to_string(), Some(v.to_string())),
                None => (body.to_string(), None),
            };
            let len = end - start;
            match allowed.iter().find(|(n, _)| *n == name) {
                None => {
                    let names: Vec<&str> = allowed.iter().map(|(n, _)| *n).collect();
                    let hint = match suggest(&name, &names) {
                        Some(s) => format!("did you mean --{s}?"),
                        None if names.is_empty() => format!("{kw} takes no flags"),
                        None => format!(
                            "{kw} takes {}",
                            names
                                .iter()
                                .map(|n| format!("--{n}"))
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    };
                    self.error(
                        lg,
                        start,
                        len,
                        format!("unknown flag --{name} for {kw}"),
                        Some(hint),
                    );
                }
                Some((_, FlagKind::Unsupported)) => self.error(
                    lg,
                    start,
                    len,
                    format!("{kw} --{name} is not supported by rstack"),
                    Some("remove the flag".into()),
                ),
                Some((_, FlagKind::Value)) if value.is_none() => self.error(
                    lg,
                    start,
                    len,
                    format!("--{name} needs a value"),
                    Some(format!("write --{name}=VALUE")),
                ),
                Some((_, FlagKind::Bool))
                    if value
                        .as_deref()
                        .is_some_and(|v| !matches!(v, "true" | "false")) =>
                {
                    self.error(
                        lg,
                        start,
                        len,
                        format!("--{name} takes true or false"),
                        Some(format!("write --{name} or --{name}=false")),
                    )
                }
                Some(_) => {
                    let repeatable = matches!(name.as_str(), "mount" | "exclude");
                    if !repeatable && out.iter().any(|f| f.name == name) {
                        self.error(
                            lg,
                            start,
                            len,
                            format!("--{name} given twice"),
                            Some("keep one".into()),
                        );
                    }
                    out.push(Flag {
                        name,
                        value,
                        at: start,
                        len,
                    })
                }
            }
        }
    }

    fn from(&mut self, a: Args<'_>) -> Option<Parsed> {
        let ws = words::fields(a.rest);
        let platform = a.value("platform");
        let (base, name, name_off) = match ws.as_slice() {
            [b] => (b.text.clone(), None, None),
            [b, as_, n] if as_.text.eq_ignore_ascii_case("as") => {
                let lower = n.text.to_ascii_lowercase();
                if !valid_stage_name(&lower) {
                    self.error(
                        a.lg,
                        a.rest_off + n.at,
                        n.text.len(),
                        format!("invalid stage name {:?}", n.text),
                        Some("a stage name starts with a letter and has letters, digits, -, _ and . only".into()),
                    );
                    return None;
                }
                (b.text.clone(), Some(lower), Some(a.rest_off + n.at))
            }
            _ => {
                self.error(
                    a.lg,
                    a.rest_off,
                    a.rest.len(),
                    "FROM takes an image and an optional AS NAME".into(),
                    Some("write FROM IMAGE or FROM IMAGE AS NAME".into()),
                );
                return None;
            }
        };
        Some(Parsed::From {
            base,
            platform,
            name,
            name_off,
        })
    }

    fn kind(&mut self, a: Args<'_>) -> Option<Kind> {
        Some(match a.kw {
            "ARG" => Kind::Arg(self.arg(&a)?),
            "ENV" => Kind::Env(self.name_values(&a)?),
            "LABEL" => Kind::Label(self.name_values(&a)?),
            "WORKDIR" => Kind::Workdir(a.rest.to_string()),
            "USER" => Kind::User(a.rest.to_string()),
            "STOPSIGNAL" => Kind::StopSignal(a.rest.to_string()),
            "MAINTAINER" => Kind::Maintainer(a.rest.to_string()),
            "CMD" => Kind::Cmd(self.command(&a)?),
            "ENTRYPOINT" => Kind::Entrypoint(self.command(&a)?),
            "RUN" => Kind::Run(Run {
                command: self.command(&a)?,
                heredocs: a.lg.heredocs.clone(),
                network: a.value("network"),
                mounts: a.values("mount"),
            }),
            "SHELL" => match words::json_form(a.rest) {
                Json::Array(v) if !v.is_empty() => Kind::Shell(v),
                _ => {
                    self.error(
                        a.lg,
                        a.rest_off,
                        a.rest.len(),
                        "SHELL needs the JSON form".into(),
                        Some("write SHELL [\"/bin/bash\", \"-c\"]".into()),
                    );
                    return None;
                }
            },
            "COPY" | "ADD" => {
                let c = self.copy(&a)?;
                if a.kw == "COPY" {
                    Kind::Copy(c)
                } else {
                    Kind::Add(c)
                }
            }
            "EXPOSE" => Kind::Expose(words::fields(a.rest).into_iter().map(|w| w.text).collect()),
            "VOLUME" => Kind::Volume(self.list(&a)?),
            "HEALTHCHECK" => Kind::Healthcheck(self.healthcheck(&a)?),
            "ONBUILD" => Kind::Onbuild(self.onbuild(&a)?),
            _ => return None,
        })
    }

    fn arg(&mut self, a: &Args<'_>) -> Option<Vec<(String, Option<String>)>> {
        let mut out = Vec::new();
        for w in words::split(a.rest, self.escape) {
            let (k, v) = match w.text.split_once('=') {
                Some((k, v)) => (k.to_string(), Some(v.to_string())),
                None => (w.text.clone(), None),
            };
            if !valid_name(&k) {
                self.error(
                    a.lg,
                    a.rest_off + w.at,
                    w.text.len(),
                    format!("invalid ARG name {k:?}"),
                    Some("an ARG name has letters, digits and _ only, and does not start with a digit".into()),
                );
                return None;
            }
            out.push((k, v));
        }
        Some(out)
    }

    /// ENV and LABEL: `k=v ...`, or the old `k v` (value = rest of the line) when the first
    /// word has no `=`.
    fn name_values(&mut self, a: &Args<'_>) -> Option<Vec<(String, String)>> {
        let ws = words::split(a.rest, self.escape);
        let first = ws.first()?;
        if !first.text.contains('=') {
            let key_end = a.rest.find(char::is_whitespace).unwrap_or(a.rest.len());
            let value = a.rest[key_end..].trim_start();
            if value.is_empty() {
                self.error(
                    a.lg,
                    a.rest_off,
                    a.rest.len(),
                    format!("{} {} has no value", a.kw, &a.rest[..key_end]),
                    Some(format!("write {} {}=VALUE", a.kw, &a.rest[..key_end])),
                );
                return None;
            }
            return Some(vec![(a.rest[..key_end].to_string(), value.to_string())]);
        }
        let mut out = Vec::new();
        for w in &ws {
            match w.text.split_once('=') {
                Some((k, v)) if !k.is_empty() => out.push((k.to_string(), v.to_string())),
                _ => {
                    self.error(
                        a.lg,
                        a.rest_off + w.at,
                        w.text.len(),
                        format!("{} expects name=value, found {:?}", a.kw, w.text),
                        Some("quote values with spaces: name=\"a value\"".into()),
                    );
                    return None;
                }
            }
        }
        Some(out)
    }

    fn command(&mut self, a: &Args<'_>) -> Option<Command> {
        match words::json_form(a.rest) {
            Json::Array(v) => Some(Command::Exec(v)),
            Json::Shell => Some(Command::Shell(a.rest.to_string())),
            Json::Broken(e) => {
                self.broken_json(a, &e);
                None
            }
        }
    }

    fn broken_json(&mut self, a: &Args<'_>, e: &str) {
        self.error(
            a.lg,
            a.rest_off,
            a.rest.len(),
            format!("{} has an invalid JSON form: {e}", a.kw),
            Some("the JSON form takes double-quoted strings: [\"executable\", \"arg\"]".into()),
        );
    }

    /// The JSON form's strings, or whitespace-separated words.
    fn list(&mut self, a: &Args<'_>) -> Option<Vec<String>> {
        match words::json_form(a.rest) {
            Json::Array(v) => Some(v),
            Json::Shell => Some(words::fields(a.rest).into_iter().map(|w| w.text).collect()),
            Json::Broken(e) => {
                self.broken_json(a, &e);
                None
            }
        }
    }

    fn copy(&mut self, a: &Args<'_>) -> Option<Copy> {
        let json = matches!(words::json_form(a.rest), Json::Array(_));
        let mut items = self.list(a)?;
        let heredocs = a.lg.heredocs.clone();
        if !json && !heredocs.is_empty() {
            // Here-document words are sources named by the document, not files.
            items.retain(|w| {
                let t = w.trim_start_matches(|c: char| c.is_ascii_digit());
                !(t.starts_with("<<") && t.len() > 2)
            });
        }
        let enough = if heredocs.is_empty() { 2 } else { 1 };
        if items.len() < enough {
            self.error(
                a.lg,
                a.rest_off,
                a.rest.len(),
                format!("{} needs a source and a destination", a.kw),
                Some(format!("write {} SRC... DEST", a.kw)),
            );
            return None;
        }
        let dest = items.pop().unwrap_or_default();
        if a.kw == "COPY" && a.value("from").as_deref() == Some("") {
            self.error(a.lg, a.rest_off, 1, "--from is empty".into(), None);
        }
        Some(Copy {
            sources: items,
            dest,
            from: a.value("from"),
            chown: a.value("chown"),
            chmod: a.value("chmod"),
            heredocs,
            link: a
                .flag("link")
                .is_some_and(|f| f.value.as_deref() != Some("false")),
            checksum: a.value("checksum"),
            excludes: a.values("exclude"),
        })
    }

    fn healthcheck(&mut self, a: &Args<'_>) -> Option<Option<Healthcheck>> {
        let first = a.rest.split(char::is_whitespace).next().unwrap_or("");
        let after = a.rest[first.len()..].trim_start();
        if first.eq_ignore_ascii_case("none") {
            if !after.is_empty() || !a.flags.is_empty() {
                self.error(
                    a.lg,
                    a.rest_off,
                    a.rest.len(),
                    "HEALTHCHECK NONE takes no arguments".into(),
                    Some("write HEALTHCHECK NONE alone".into()),
                );
                return None;
            }
            return Some(None);
        }
        if !first.eq_ignore_ascii_case("cmd") {
            self.error(
                a.lg,
                a.rest_off,
                first.len(),
                format!("unknown HEALTHCHECK type {first:?}"),
                Some(
                    "write HEALTHCHECK [--interval=DURATION ...] CMD COMMAND, or HEALTHCHECK NONE"
                        .into(),
                ),
            );
            return None;
        }
        if after.is_empty() {
            self.error(
                a.lg,
                a.rest_off,
                first.len(),
                "HEALTHCHECK CMD needs a command".into(),
                Some("write HEALTHCHECK CMD curl -f http://localhost/".into()),
            );
            return None;
        }
        let cmd_args = Args {
            lg: a.lg,
            kw: "HEALTHCHECK",
            flags: Vec::new(),
            rest: after,
            rest_off: a.rest_off + (a.rest.len() - after.len()),
        };
        let test = self.command(&cmd_args)?;
        let mut hc = Healthcheck {
            test,
            interval: None,
            timeout: None,
            start_period: None,
            start_interval: None,
            retries: None,
        };
        for f in &a.flags {
            let v = f.value.as_deref().unwrap_or("");
            if f.name == "retries" {
                match v.parse::<u32>() {
                    Ok(n) => hc.retries = Some(n),
                    Err(_) => self.error(
                        a.lg,
                        f.at,
                        f.len,
                        format!("--retries={v} is not a number"),
                        Some("write --retries=3".into()),
                    ),
                }
                continue;
            }
            let d = match parse_duration(v) {
                Some(d) if d.is_zero() || d >= Duration::from_millis(1) => d,
                _ => {
                    self.error(
                        a.lg,
                        f.at,
                        f.len,
                        format!("--{}={v} is not a duration of at least 1ms", f.name),
                        Some("durations are written as 30s, 1m30s, 500ms".into()),
                    );
                    continue;
                }
            };
            let slot = match f.name.as_str() {
                "interval" => &mut hc.interval,
                "timeout" => &mut hc.timeout,
                "start-period" => &mut hc.start_period,
                _ => &mut hc.start_interval,
            };
            *slot = Some(d);
        }
        Some(Some(hc))
    }

    fn onbuild(&mut self, a: &Args<'_>) -> Option<String> {
        let inner = a.rest.split(char::is_whitespace).next().unwrap_or("");
        let upper = inner.to_ascii_uppercase();
        let problem = match upper.as_str() {
            "ONBUILD" => Some("ONBUILD ONBUILD is not allowed".to_string()),
            "FROM" | "MAINTAINER" => Some(format!("{upper} is not allowed as an ONBUILD trigger")),
            u if !INSTRUCTIONS.contains(&u) => Some(format!("unknown instruction: {inner}")),
            _ => None,
        };
        if let Some(p) = problem {
            let hint = match suggest(inner, INSTRUCTIONS) {
                Some(s) if !INSTRUCTIONS.contains(&upper.as_str()) => format!("did you mean {s}?"),
                _ => "ONBUILD takes an instruction to run when the image is used as a base".into(),
            };
            self.error(a.lg, a.rest_off, inner.len(), p, Some(hint));
            return None;
        }
        Some(a.rest.to_string())
    }
}

/// An instruction's arguments after its flags.
struct Args<'a> {
    lg: &'a Logical,
    kw: &'a str,
    flags: Vec<Flag>,
    /// The arguments, trimmed, and their offset in the logical text.
    rest: &'a str,
    rest_off: usize,
}

impl Args<'_> {
    fn flag(&self, name: &str) -> Option<&Flag> {
        self.flags.iter().find(|f| f.name == name)
    }

    fn value(&self, name: &str) -> Option<String> {
        self.flag(name).and_then(|f| f.value.clone())
    }

    fn values(&self, name: &str) -> Vec<String> {
        self.flags
            .iter()
            .filter(|f| f.name == name)
            .filter_map(|f| f.value.clone())
            .collect()
    }
}

/// One flag word from `start`: its text with quotes and backslashes removed, and the offset
/// just after it.
fn flag_word(text: &str, start: usize) -> (String, usize) {
    let mut word = String::new();
    let mut quote: Option<char> = None;
    let mut chars = text[start..].char_indices();
    while let Some((i, ch)) = chars.next() {
        match quote {
            None if ch.is_whitespace() => return (word, start + i),
            None if ch == '\'' || ch == '"' => quote = Some(ch),
            Some(q) if ch == q => quote = None,
            _ if ch == '\\' => {
                if let Some((_, next)) = chars.next() {
                    word.push(next);
                }
            }
            _ => word.push(ch),
        }
    }
    (word, text.len())
}

fn usage(kw: &str) -> &'static str {
    match kw {
        "FROM" => "FROM IMAGE [AS NAME]",
        "ARG" => "ARG NAME[=DEFAULT]",
        "ENV" => "ENV NAME=VALUE ...",
        "LABEL" => "LABEL NAME=VALUE ...",
        "WORKDIR" => "WORKDIR /path",
        "USER" => "USER NAME[:GROUP]",
        "COPY" => "COPY SRC... DEST",
        "ADD" => "ADD SRC... DEST",
        "RUN" => "RUN COMMAND",
        "CMD" => "CMD [\"executable\", \"arg\"]",
        "ENTRYPOINT" => "ENTRYPOINT [\"executable\", \"arg\"]",
        "EXPOSE" => "EXPOSE PORT[/PROTO] ...",
        "VOLUME" => "VOLUME /path ...",
        "HEALTHCHECK" => "HEALTHCHECK CMD COMMAND, or HEALTHCHECK NONE",
        "STOPSIGNAL" => "STOPSIGNAL SIGNAL",
        "SHELL" => "SHELL [\"executable\", \"arg\"]",
        "ONBUILD" => "ONBUILD INSTRUCTION",
        _ => "MAINTAINER NAME",
    }
}

/// Docker's stage-name rule: `^[a-z][a-z0-9-_.]*$` (after lowercasing).
fn valid_stage_name(n: &str) -> bool {
    n.starts_with(|c: char| c.is_ascii_lowercase())
        && n.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_' | '.'))
}

fn valid_name(n: &str) -> bool {
    !n.is_empty()
        && !n.starts_with(|c: char| c.is_ascii_digit())
        && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A Go duration (`1h30m`, `1.5s`, `500ms`, `10us`): what Docker's HEALTHCHECK flags take.
pub(crate) fn parse_duration(s: &str) -> Option<Duration> {
    if s == "0" {
        return Some(Duration::ZERO);
    }
    let mut rest = s;
    let mut total = 0f64;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let num: f64 = rest[..num_len].parse().ok()?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let secs = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" | "μs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total += num * secs;
    }
    Duration::try_from_secs_f64(total).ok()
}
