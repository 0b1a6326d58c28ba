use super::*;

fn ok(text: &str) -> Dockerfile {
    parse(text, "Dockerfile").unwrap_or_else(|e| panic!("{e}"))
}

fn err(text: &str) -> String {
    parse(text, "Dockerfile").unwrap_err().to_string()
}

fn kinds(df: &Dockerfile, stage: usize) -> Vec<Kind> {
    df.stages[stage]
        .instructions
        .iter()
        .map(|i| i.kind.clone())
        .collect()
}

#[test]
fn stages_and_args_before_from() {
    let df = ok(
        "ARG BASE=alpine:3\nARG X\nFROM --platform=linux/amd64 ${BASE} AS Build\nRUN make\nFROM scratch\nCOPY --from=build /out /\n",
    );
    assert_eq!(df.args_before_from.len(), 2);
    assert_eq!(
        df.args_before_from[0].kind,
        Kind::Arg(vec![("BASE".into(), Some("alpine:3".into()))])
    );
    let s = &df.stages[0];
    assert_eq!(
        (s.index, s.name.as_deref(), s.base.as_str()),
        (0, Some("build"), "${BASE}")
    );
    assert_eq!(s.platform.as_deref(), Some("linux/amd64"));
    assert_eq!(s.line, 3);
    assert_eq!(df.stages[1].base, "scratch");
    assert_eq!(df.stage_order(None).unwrap(), vec![0, 1]);
    assert_eq!(df.escape, '\\');
}

#[test]
fn env_and_label_forms() {
    let df = ok(
        "FROM a\nENV A=1 B=\"two words\" C=three\\ words\nENV OLD value with spaces\nLABEL \"com.x\"=\"y\" v=1\nARG a=1 b\n",
    );
    assert_eq!(
        kinds(&df, 0),
        vec![
            Kind::Env(vec![
                ("A".into(), "1".into()),
                ("B".into(), "\"two words\"".into()),
                ("C".into(), "three\\ words".into()),
            ]),
            Kind::Env(vec![("OLD".into(), "value with spaces".into())]),
            Kind::Label(vec![
                ("\"com.x\"".into(), "\"y\"".into()),
                ("v".into(), "1".into())
            ]),
            Kind::Arg(vec![("a".into(), Some("1".into())), ("b".into(), None)]),
        ]
    );
    // The words expand to Docker's values.
    let Kind::Env(v) = &kinds(&df, 0)[0] else {
        panic!()
    };
    let none = |_: &str| None;
    assert_eq!(expand(&v[1].1, &none, '\\').unwrap(), "two words");
    assert_eq!(expand(&v[2].1, &none, '\\').unwrap(), "three words");
}

#[test]
fn commands_json_and_shell() {
    let df = ok(
        "FROM a\nCMD [\"a\", \"b c\"]\nENTRYPOINT exec foo\nRUN [ -f /x ] && echo\nRUN [\"sh\"]\nSHELL [\"/bin/bash\", \"-c\"]\nCMD [\"unterminated\"\n",
    );
    let k = kinds(&df, 0);
    assert_eq!(
        k[0],
        Kind::Cmd(Command::Exec(vec!["a".into(), "b c".into()]))
    );
    assert_eq!(k[1], Kind::Entrypoint(Command::Shell("exec foo".into())));
    let Kind::Run(r) = &k[2] else { panic!() };
    assert_eq!(r.command, Command::Shell("[ -f /x ] && echo".into()));
    let Kind::Run(r) = &k[3] else { panic!() };
    assert_eq!(r.command, Command::Exec(vec!["sh".into()]));
    assert_eq!(k[4], Kind::Shell(vec!["/bin/bash".into(), "-c".into()]));
    assert_eq!(k[5], Kind::Cmd(Command::Shell("[\"unterminated\"".into())));
}

#[test]
fn copy_add_flags_and_heredocs() {
    let df = ok(
        "FROM a AS one\nFROM b\nCOPY --from=one --chown=1:2 --chmod=755 --link a b /dst/\nADD --checksum=sha256:abc https://x/y.tgz /\nCOPY [\"a b\", \"/c d/\"]\nCOPY <<EOF <<-\"TWO\" /etc/\nhello $X\nEOF\n\tliteral $Y\n\tTWO\nRUN --network=none --mount=type=cache,target=/c <<EOF\nset -e\necho hi\nEOF\n",
    );
    let k = kinds(&df, 1);
    let Kind::Copy(c) = &k[0] else { panic!() };
    assert_eq!(c.sources, vec!["a", "b"]);
    assert_eq!(c.dest, "/dst/");
    assert_eq!(
        (
            c.from.as_deref(),
            c.chown.as_deref(),
            c.chmod.as_deref(),
            c.link
        ),
        (Some("one"), Some("1:2"), Some("755"), true)
    );
    let Kind::Add(a) = &k[1] else { panic!() };
    assert_eq!(a.checksum.as_deref(), Some("sha256:abc"));
    let Kind::Copy(c) = &k[2] else { panic!() };
    assert_eq!(
        (c.sources.clone(), c.dest.as_str()),
        (vec!["a b".to_string()], "/c d/")
    );
    let Kind::Copy(c) = &k[3] else { panic!() };
    assert!(c.sources.is_empty());
    assert_eq!(c.dest, "/etc/");
    assert_eq!(c.heredocs.len(), 2);
    assert_eq!(
        c.heredocs[0],
        Heredoc {
            name: "EOF".into(),
            body: "hello $X\n".into(),
            expand: true,
            strip_tabs: false
        }
    );
    assert_eq!(c.heredocs[1].body, "literal $Y\n");
    assert!(!c.heredocs[1].expand && c.heredocs[1].strip_tabs);
    let Kind::Run(r) = &k[4] else { panic!() };
    assert_eq!(r.network.as_deref(), Some("none"));
    assert_eq!(r.mounts, vec!["type=cache,target=/c"]);
    assert_eq!(r.heredocs[0].body, "set -e\necho hi\n");
    assert_eq!(r.command, Command::Shell("<<EOF".into()));
    let ins = &df.stages[1].instructions[4];
    assert_eq!((ins.line, ins.end_line), (11, 14));
    assert_eq!(
        ins.text,
        "RUN --network=none --mount=type=cache,target=/c <<EOF"
    );
}

#[test]
fn misc_instructions() {
    let df = ok(
        "from a\nexpose 80 ${P}/udp\nVOLUME /a /b\nVOLUME [\"/c\"]\nWORKDIR /app dir\nUSER 1000:1000\nSTOPSIGNAL SIGINT\nONBUILD RUN echo hi\nMAINTAINER me\nHEALTHCHECK --interval=30s --timeout=1m30s --retries=3 --start-period=500ms CMD curl -f http://x/\nHEALTHCHECK NONE\n",
    );
    let k = kinds(&df, 0);
    assert_eq!(k[0], Kind::Expose(vec!["80".into(), "${P}/udp".into()]));
    assert_eq!(k[1], Kind::Volume(vec!["/a".into(), "/b".into()]));
    assert_eq!(k[2], Kind::Volume(vec!["/c".into()]));
    assert_eq!(k[3], Kind::Workdir("/app dir".into()));
    assert_eq!(k[4], Kind::User("1000:1000".into()));
    assert_eq!(k[5], Kind::StopSignal("SIGINT".into()));
    assert_eq!(k[6], Kind::Onbuild("RUN echo hi".into()));
    assert_eq!(k[7], Kind::Maintainer("me".into()));
    let Kind::Healthcheck(Some(h)) = &k[8] else {
        panic!()
    };
    assert_eq!(h.test, Command::Shell("curl -f http://x/".into()));
    assert_eq!(h.interval, Some(std::time::Duration::from_secs(30)));
    assert_eq!(h.timeout, Some(std::time::Duration::from_secs(90)));
    assert_eq!(h.start_period, Some(std::time::Duration::from_millis(500)));
    assert_eq!(h.retries, Some(3));
    assert_eq!(k[9], Kind::Healthcheck(None));
    assert_eq!(df.warnings.len(), 1, "MAINTAINER is deprecated");
}

#[test]
fn escape_directive_and_continuations() {
    let df = ok("# escape=`\nFROM mcr/windows\nRUN dir c:\\ `\n  && echo done\nCOPY a`\n  b /\n");
    assert_eq!(df.escape, '`');
    let k = kinds(&df, 0);
    let Kind::Run(r) = &k[0] else { panic!() };
    assert_eq!(r.command, Command::Shell("dir c:\\   && echo done".into()));
    let Kind::Copy(c) = &k[1] else { panic!() };
    assert_eq!(c.sources, vec!["a", "b"]);
    assert_eq!(df.stages[0].instructions[1].line, 5);
}

#[test]
fn unknown_instruction_rendered() {
    assert_eq!(
        err("FROM alpine\nRUNN echo hi\n"),
        "error: unknown instruction: RUNN
  --> Dockerfile:2:1
   |
 2 | RUNN echo hi
   | ^^^^
   = hint: did you mean RUN?"
    );
}

#[test]
fn bad_flag_rendered() {
    assert_eq!(
        err("FROM a AS b\nFROM c\n  COPY --form=b /x /y\n"),
        "error: unknown flag --form for COPY
  --> Dockerfile:3:8
   |
 3 |   COPY --form=b /x /y
   |        ^^^^^^^^
   = hint: did you mean --from?"
    );
}

#[test]
fn all_problems_at_once() {
    let text = "RUN x\nFROM a AS one\nCOPY --from=two a /b\nFROM b AS two\nENV\nCOPY --from=1 a b\nHEALTHCHECK --interval=3x CMD true\nFROM c AS One\nRUN <<EOF\nnever closed\n";
    let e = parse(text, "app/Dockerfile").unwrap_err();
    let msgs: Vec<(usize, &str)> = e.0.iter().map(|d| (d.line, d.message.as_str())).collect();
    assert_eq!(
        msgs,
        vec![
            (9, "unterminated here-document EOF"),
            (1, "RUN before the first FROM"),
            (5, "ENV needs arguments"),
            (7, "--interval=3x is not a duration of at least 1ms"),
            (8, "duplicate stage name \"one\""),
            (3, "COPY --from=two names a later stage"),
            (6, "COPY --from=1 names its own stage"),
        ]
    );
    let s = e.to_string();
    assert!(s.ends_with("error: 7 problems in the Dockerfile"), "{s}");
    assert!(s.contains("--> app/Dockerfile:8:11"), "{s}");
    assert!(
        s.contains("= hint: the name is first used on line 2"),
        "{s}"
    );
}

#[test]
fn empty_and_no_from() {
    assert_eq!(
        err(""),
        "error: no FROM instruction: the Dockerfile has no build stage\n  --> Dockerfile\n  = hint: start the Dockerfile with FROM IMAGE (or FROM scratch)"
    );
    assert!(err("# just a comment\nARG X\n").contains("no FROM instruction"));
}

#[test]
fn argument_errors() {
    let cases = [
        ("FROM a b", "FROM takes an image and an optional AS NAME"),
        ("FROM a AS 1x", "invalid stage name \"1x\""),
        (
            "FROM a\nCOPY onlyone",
            "COPY needs a source and a destination",
        ),
        ("FROM a\nENV K", "ENV K has no value"),
        ("FROM a\nENV A=1 B", "ENV expects name=value, found \"B\""),
        ("FROM a\nSHELL /bin/sh -c", "SHELL needs the JSON form"),
        ("FROM a\nCMD ['a', 'b']", "CMD has an invalid JSON form"),
        (
            "FROM a\nHEALTHCHECK echo",
            "unknown HEALTHCHECK type \"echo\"",
        ),
        (
            "FROM a\nHEALTHCHECK NONE x",
            "HEALTHCHECK NONE takes no arguments",
        ),
        (
            "FROM a\nHEALTHCHECK --retries=x CMD true",
            "--retries=x is not a number",
        ),
        (
            "FROM a\nONBUILD FROM x",
            "FROM is not allowed as an ONBUILD trigger",
        ),
        ("FROM a\nONBUILD RUNN x", "unknown instruction: RUNN"),
        ("FROM a\nRUN --network", "--network needs a value"),
        (
            "FROM a\nCOPY --link=maybe a b",
            "--link takes true or false",
        ),
        (
            "FROM a\nCOPY --parents a b",
            "COPY --parents is not supported by rstack",
        ),
        ("FROM a\nWORKDIR --x /a", "unknown flag --x for WORKDIR"),
        ("FROM a\nARG 1x=2", "invalid ARG name \"1x\""),
        (
            "FROM a\nCOPY --from=7 a b",
            "COPY --from=7 names a stage that does not exist",
        ),
        ("FROM a\nRUN <<\"EOF'\nx\n", "quotes do not match"),
    ];
    for (text, want) in cases {
        let e = err(text);
        assert!(e.contains(want), "{text:?}: {e}");
    }
}

#[test]
fn copy_from_images_and_variables_are_fine() {
    let df = ok(
        "FROM a\nCOPY --from=nginx:latest /x /y\nCOPY --from=${STAGE} /x /y\nFROM b\nCOPY --from=0 /x /y\n",
    );
    assert_eq!(df.stage_order(None).unwrap(), vec![0, 1]);
}

#[test]
fn stage_order_follows_dependencies() {
    let df = ok(
        "FROM a AS base\nFROM base AS build\nFROM x AS unrelated\nFROM b AS tools\nFROM scratch AS final\nCOPY --from=build /a /\nRUN --mount=from=tools,target=/t true\nCOPY --from=golang:1 /x /\n",
    );
    assert_eq!(df.stage_order(None).unwrap(), vec![0, 1, 3, 4]);
    assert_eq!(df.stage_order(Some("BUILD")).unwrap(), vec![0, 1]);
    assert_eq!(df.stage_order(Some("unrelated")).unwrap(), vec![2]);
    let e = df.stage_order(Some("nope")).unwrap_err();
    assert_eq!(
        e.to_string(),
        "target stage \"nope\" not found; the stages are: base, build, unrelated, tools, final"
    );
}

/// BuildKit's parser test files (continueIndent, escapes, env): the same logical lines and
/// words, as facts.
#[test]
fn buildkit_parser_facts() {
    let df = ok(
        "FROM ubuntu:14.04\n\nRUN echo hello\\\n  world\\\n  goodnight  \\\n  moon\\\n  light\\\nning\nRUN echo hello  \\  \nworld\nRUN echo hi \\\n \\\n world \\\n\\\n good\\\n\\\nnight\nRUN echo hello \\\n# this is a comment\n\n# this is a comment with a blank line surrounding it\n\nthis is some more useful stuff\nRUN foo \\\n\nbar \\\n\nbaz\nLABEL maintainer Erik \\\\Hollensbe <erik@hollensbe.org>\\\"\nCMD [ \"\\/usr\\\\\\\"/bin/znc\", \"-f\", \"-r\" ]\nENV name='a\\'b''\nENV SCUBA 1 DUBA 3\n",
    );
    let runs: Vec<String> = df.stages[0]
        .instructions
        .iter()
        .filter_map(|i| match &i.kind {
            Kind::Run(r) => match &r.command {
                Command::Shell(s) => Some(s.clone()),
                Command::Exec(_) => None,
            },
            _ => None,
        })
        .collect();
    assert_eq!(
        runs,
        vec![
            "echo hello  world  goodnight    moon  lightning",
            "echo hello  world",
            "echo hi   world  goodnight",
            "echo hello this is some more useful stuff",
            "foo bar baz",
        ]
    );
    let k = kinds(&df, 0);
    assert_eq!(
        k[5],
        Kind::Label(vec![(
            "maintainer".into(),
            "Erik \\\\Hollensbe <erik@hollensbe.org>\\\"".into()
        )])
    );
    assert_eq!(
        k[6],
        Kind::Cmd(Command::Exec(vec![
            "/usr\\\"/bin/znc".into(),
            "-f".into(),
            "-r".into()
        ]))
    );
    assert_eq!(k[7], Kind::Env(vec![("name".into(), "'a\\'b''".into())]));
    assert_eq!(k[8], Kind::Env(vec![("SCUBA".into(), "1 DUBA 3".into())]));
    assert_eq!(df.warnings.len(), 2, "empty continuation lines (two RUNs)");
}

#[test]
fn onbuild_triggers_parse_as_instructions() {
    let t = Dockerfile::parse_trigger("COPY --chown=1 a /b", '\\').unwrap();
    let Kind::Copy(c) = t.kind else { panic!() };
    assert_eq!(
        (c.sources, c.dest, c.chown),
        (
            vec!["a".to_string()],
            "/b".to_string(),
            Some("1".to_string())
        )
    );
    assert_eq!(t.line, 1);
    assert!(Dockerfile::parse_trigger("RUNN x", '\\').is_err());
}

/// No input panics: every prefix of a rich Dockerfile, and each position with a special
/// character put in, parses or fails with diagnostics (and substitution never panics).
#[test]
fn no_input_panics() {
    let rich = "# escape=\\\nARG A=1\nFROM --platform=x ${A} AS b\nRUN <<-\"E\" cat <<F\n\tx\n\tE\ny\nF\nCOPY --from=b --chmod=7 [\"a\", \"b\"] /c\nENV a=\"b c\" d='e' f=g\\ h\nHEALTHCHECK --interval=1s CMD [\"x\"]\nONBUILD RUN x\nLABEL é=ü\nEXPOSE 80/tcp\n";
    let specials = [
        '\\', '`', '"', '\'', '[', ']', '<', '-', '$', '{', '}', '\n', '#', '=', ' ', 'é',
    ];
    let mut inputs: Vec<String> = Vec::new();
    for (i, _) in rich.char_indices() {
        inputs.push(rich[..i].to_string());
        for c in specials {
            let mut s = rich.to_string();
            s.insert(i, c);
            inputs.push(s);
        }
    }
    let none = |_: &str| None;
    for text in &inputs {
        let _ = parse(text, "Dockerfile").map(|d| d.stage_order(None));
        let _ = expand(text, &none, '\\');
        let _ = expand_words(text, &none, '`');
        let _ = subst::expand_heredoc(text, &none, '\\');
        let _ = crate::build::ignore::Ignore::parse(text).is_excluded(text);
    }
}
