//! One function per command: parse-level checks, one or two API calls, output.

use super::args::*;
use super::connect::{ensure_daemon, socket_path};
use super::output::{LogPrinter, is_tty, print_table};
use super::project;
use crate::api::attach::Frame;
use crate::api::types::*;
use crate::api::{ApiError, Client};
use anyhow::{Context, Result};
use std::io::Write;

pub fn run(cli: &Cli) -> Result<i32> {
    let client = || -> Result<Client> { Ok(Client::new(socket_path(cli.host.as_deref())?)) };
    if cli.dry_run
        && let Some(res) = super::dry_run::run(cli, &client()?)
    {
        return res;
    }
    match &cli.command {
        Command::Up(a) => up(cli, &client()?, a),
        Command::Down(a) => super::down::run(cli, &client()?, a),
        Command::Create(a) => up(cli, &client()?, &a.as_up()),
        Command::Scale(a) => up(cli, &client()?, &a.as_up()),
        Command::Watch(a) => super::watch::watch(cli, &client()?, a),
        Command::Wait(a) => super::lifecycle::wait(cli, &client()?, a),
        Command::Ps(a) => ps(cli, &client()?, a),
        Command::Ls(a) => super::ls::run(&client()?, a),
        Command::Sync(c) => super::sync::run(&client()?, c),
        Command::Top(a) => super::top::run(cli, &client()?, a),
        Command::Pause(a) => pause(cli, &client()?, "pause", &a.services),
        Command::Unpause(a) => pause(cli, &client()?, "unpause", &a.services),
        Command::Rm(a) => super::rm::run(cli, &client()?, a),
        Command::Images(a) => super::stack_images::run(cli, &client()?, a),
        Command::Cp(a) => super::cp::cp(cli, &client()?, a),
        Command::Export(a) => match &a.target {
            Some(super::kube_export::ExportTarget::Kubernetes(k)) => {
                super::kube_export::run(cli, k)
            }
            None => super::cp::export(cli, &client()?, a),
        },
        Command::Stats(a) => super::stats::run(cli, &client()?, a),
        Command::Events(a) => super::events::run(cli, &client()?, a),
        Command::Inspect(a) => super::inspect::run(cli, &client()?, a),
        Command::Logs(a) => logs(cli, &client()?, a),
        Command::Exec(a) => exec(cli, &client()?, a),
        Command::Attach(a) => super::attach::run(cli, &client()?, a),
        Command::Run(a) => run_oneoff(cli, &client()?, a),
        Command::Start(a) => verb(cli, &client()?, "start", &a.services, None, None),
        Command::Stop(a) => verb(cli, &client()?, "stop", &a.services, a.timeout, None),
        Command::Restart(a) => verb(cli, &client()?, "restart", &a.services, a.timeout, None),
        Command::Kill(a) => verb(cli, &client()?, "kill", &a.services, None, Some(&a.signal)),
        Command::Config(a) => config(cli, a),
        Command::Validate => {
            let loaded = project::load_full(cli, true, true)?;
            println!(
                "{}: valid ({} services)",
                loaded
                    .files
                    .iter()
                    .map(|f| f.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
                loaded.stack.services.len()
            );
            Ok(0)
        }
        Command::Image(ImageCommand::Pull { reference }) => {
            let c = client()?;
            autostart(&c, || super::registry::pull(&c, reference))
        }
        Command::Image(ImageCommand::Push { reference }) => {
            let c = client()?;
            autostart(&c, || super::registry::push(&c, reference))
        }
        Command::Image(ImageCommand::Build(a)) => {
            let c = client()?;
            autostart(&c, || super::build::image_build(&c, a))
        }
        Command::Image(c) => image(&client()?, c),
        Command::Volume(c) => super::volumes::run(&client()?, c),
        Command::Network(c) => super::networks::run(&client()?, c),
        Command::Port(a) => super::networks::port(&client()?, &project::project_name(cli)?, a),
        Command::Build(a) => {
            let c = client()?;
            let stack = project::load_for(cli, &a.services)?;
            let opts = super::build::ServiceOptions {
                no_cache: a.no_cache,
                pull: a.pull,
                quiet: a.quiet,
            };
            autostart(&c, || {
                super::build::build_services(&c, &stack, &a.services, &opts)?;
                Ok(0)
            })
        }
        Command::Pull(a) => {
            let c = client()?;
            super::registry::services(cli, &c, &a.services, false)
        }
        Command::Push(a) => {
            let c = client()?;
            super::registry::services(cli, &c, &a.services, true)
        }
        Command::Login(a) => super::registry::login(&client()?, a),
        Command::Logout { registry } => super::registry::logout(registry.as_deref()),
        Command::Version => {
            println!("rstack version {}", env!("CARGO_PKG_VERSION"));
            match client()?.call::<(), VersionInfo>("GET", "/v1/version", None) {
                Ok(v) => {
                    println!(
                        "daemon version {} (api {}), data root {}, cgroups {}",
                        v.version, v.api, v.data_root, v.cgroup
                    );
                    println!("{}", registry_summary(&v));
                }
                Err(e) => println!("daemon: {e}"),
            }
            Ok(0)
        }
        Command::Info => {
            let c = client()?;
            let v: VersionInfo = autostart(&c, || {
                Ok(c.call::<(), VersionInfo>("GET", "/v1/version", None)?)
            })?;
            println!("Server Version: {}", v.version);
            println!("API Version: {}", v.api);
            println!("Data Root: {}", v.data_root);
            println!("Cgroup Version: {}", v.cgroup);
            println!("Registry Mirrors:");
            for m in &v.registry_mirrors {
                println!(" {m}");
            }
            println!("Insecure Registries:");
            for i in &v.insecure_registries {
                println!(" {i}");
            }
            println!(" 127.0.0.0/8, localhost, ::1 (always)");
            Ok(0)
        }
        Command::Completion(a) => super::help::completion(a),
        Command::Man(a) => super::help::man(a),
        Command::Daemon(a) => super::roles::daemon(a),
    }
}

/// The daemon's registry settings in one line (`version`).
fn registry_summary(v: &VersionInfo) -> String {
    let list = |l: &[String]| {
        if l.is_empty() {
            "none".to_string()
        } else {
            l.join(", ")
        }
    };
    format!(
        "registry mirrors: {}; insecure registries: {} (loopback always)",
        list(&v.registry_mirrors),
        list(&v.insecure_registries)
    )
}

/// `config`: offline, no daemon involved.
fn config(cli: &Cli, a: &ConfigArgs) -> Result<i32> {
    let loaded = project::load_full(cli, true, false)?;
    if a.quiet {
        return Ok(0);
    }
    if a.services {
        for name in loaded.stack.services.keys() {
            println!("{name}");
        }
    } else if a.profiles {
        for p in crate::spec::profile_names(&loaded) {
            println!("{p}");
        }
    } else {
        let v = crate::spec::to_compose_json(&loaded);
        match a.format {
            ConfigFormat::Json => println!("{}", serde_json::to_string_pretty(&v)?),
            ConfigFormat::Yaml => print!("{}", crate::spec::to_yaml(&v)),
        }
    }
    Ok(0)
}

pub(super) fn up(cli: &Cli, client: &Client, a: &UpArgs) -> Result<i32> {
    super::up_flags::validate(a).map_err(anyhow::Error::msg)?;
    let loaded = project::load_to_run_full(cli, &a.services)?;
    let mut stack = loaded.stack.clone();
    super::scale::apply(&mut stack, &a.scale)?;
    let selection = super::up_flags::select(&stack, a).map_err(anyhow::Error::msg)?;
    let name = stack.name.clone();
    // The log prefixes of each service's containers, for the width of the prefix column.
    let prefixes: Vec<(String, Vec<String>)> = stack
        .services
        .iter()
        .map(|(n, s)| {
            let own = s.options.container_name.as_deref();
            (n.clone(), super::output::prefixes_of(n, own, s.replicas()))
        })
        .collect();
    // Images first: nothing starts unless every image the services need is here.
    let builds = super::pull_policy::Builds {
        always: a.build,
        never: a.no_build,
        quiet_pull: a.attached.quiet_pull,
        quiet_build: a.quiet_build,
        no_deps: a.no_deps,
    };
    // A dry run pulls and builds nothing: the daemon plans without the missing images.
    if !cli.dry_run {
        super::pull_policy::prepare(client, &stack, &a.services, a.pull, builds)?;
    }
    super::volumes::check_external(client, &stack)?;
    super::up_checks::container_names(client, &loaded)?;
    // What a dry run says of networks needs the stack after the request took it.
    let dry_stack = cli.dry_run.then(|| stack.clone());
    let req = UpRequest {
        stack,
        services: a.services.clone(),
        wait: a.wait,
        force_recreate: a.force_recreate,
        remove_orphans: a.remove_orphans,
        no_start: a.no_start,
        no_recreate: a.no_recreate,
        always_recreate_deps: a.always_recreate_deps,
        wait_timeout: a.attached.wait_timeout.filter(|t| *t > 0),
        renew_anon_volumes: a.attached.renew_anon_volumes,
        dry_run: cli.dry_run,
        no_deps: a.no_deps,
        stop_timeout: a.attached.timeout,
    };
    // Attached output starts from here, so fast one-shots' lines are not lost.
    let since = crate::api::logs::since_now();
    let since_ms = super::output::now_ms();
    let path = format!("/v1/projects/{name}/up");
    let answer: UpAnswer = autostart(client, || Ok(client.call("POST", &path, Some(&req))?))
        .map_err(|e| super::up_checks::place_hook_failures(&loaded, e))?;
    for n in &answer.networks_created {
        eprintln!("Network {n}  Created");
    }
    let resp = answer.response;
    for w in &resp.warnings {
        eprintln!("warning: {w}");
    }
    if let Some(stack) = dry_stack {
        let existing: Vec<crate::api::networks::NetworkView> =
            client.call::<(), _>("GET", "/v1/networks", None)?;
        // As the real `up` (compose's removeDivergedNetwork): removed, then made again.
        for n in &answer.networks_recreated {
            super::dry_run::line(&format!("Network {n}  Removed (definition changed)"));
            super::dry_run::line(&format!("Network {n}  Created"));
        }
        for n in super::dry_run::networks_to_create(&stack, &resp, &existing) {
            super::dry_run::line(&format!("Network {n}  Created"));
        }
        for l in super::dry_run::up_lines(&resp, a.no_start) {
            super::dry_run::line(&l);
        }
        return Ok(0);
    }
    let quiet = super::display::progress() == super::display::Progress::Quiet;
    for r in resp.actions.iter().filter(|_| !quiet) {
        for l in super::container_events::up_lines(&r.container, &r.action, a.no_start) {
            eprintln!("{l}");
        }
    }
    if a.wait && !quiet {
        // The daemon answered once the wait was over: compose's `Waiting`/`Healthy` per
        // container up now.
        let rows: Vec<ContainerView> =
            client.call::<(), _>("GET", &format!("/v1/containers?project={name}"), None)?;
        let waited = |c: &&ContainerView| {
            resp.actions
                .iter()
                .any(|r| r.container == c.name && r.action != "removed")
        };
        for c in rows.iter().filter(waited) {
            for l in super::container_events::wait_lines(c) {
                eprintln!("{l}");
            }
        }
    }
    if a.detach || a.wait || a.no_start {
        return Ok(0);
    }
    let names: Vec<String> = prefixes
        .into_iter()
        .filter(|(s, _)| selection.attach.contains(s))
        .flat_map(|(_, p)| p)
        .collect();
    let watcher = super::up_flags::ExitWatcher::new(&name, &selection, &a.attached, since_ms);
    let printer = LogPrinter::new(&names, !a.attached.no_log_prefix, a.attached.timestamps)
        .project(&name)
        .only(selection.attach.iter().cloned())
        .color(!a.attached.no_color);
    let followed = Followed {
        services: selection.followed(),
        printer,
        watcher,
        timeout: a.attached.timeout,
    };
    if !a.watch {
        return attach_until_interrupt(client, &name, &a.services, followed, since);
    }
    // `up --watch` (never detached) is attached `up` with the watcher beside it, as compose.
    // SIGINT/SIGTERM are blocked before the watcher's thread starts, so it inherits the mask
    // and the attached side's sigwait gets them.
    let mut set = nix::sys::signal::SigSet::empty();
    set.add(nix::sys::signal::Signal::SIGINT);
    set.add(nix::sys::signal::Signal::SIGTERM);
    set.thread_block().context("blocking SIGINT")?;
    std::thread::scope(|s| {
        s.spawn(|| {
            let c = Client::new(client.socket().to_path_buf());
            if let Err(e) = super::watch::after_up(cli, &c, &a.services) {
                eprintln!("error: watch: {e:#}");
            }
        });
        let code = attach_until_interrupt(client, &name, &a.services, followed, since);
        // The watcher never returns by itself: the logs' end is the end of `up`.
        let code = match code {
            Ok(c) => c,
            Err(e) => {
                eprintln!("error: {e:#}");
                1
            }
        };
        std::process::exit(code)
    })
}

/// What attached `up` follows: these services' logs, printed by `printer`, and their exits.
struct Followed {
    services: Vec<String>,
    printer: LogPrinter,
    watcher: super::up_flags::ExitWatcher,
    /// `up -t`: the stop timeout of Ctrl-C's and an aborting exit's stop.
    timeout: Option<u64>,
}

/// Foreground `up`: stream the project's logs; Ctrl-C (or SIGTERM) stops the stack, and so
/// does an exit under `--abort-on-container-exit`/`-failure`. `services` (empty = the whole
/// project) are the ones stopped. Returns compose's exit code (see `up_flags`).
fn attach_until_interrupt(
    client: &Client,
    project: &str,
    services: &[String],
    followed: Followed,
    since: String,
) -> Result<i32> {
    let mut set = nix::sys::signal::SigSet::empty();
    set.add(nix::sys::signal::Signal::SIGINT);
    set.add(nix::sys::signal::Signal::SIGTERM);
    // Blocked here so the waiting thread (which inherits nothing but sigwaits) gets them.
    set.thread_block().context("blocking SIGINT")?;
    let socket = client.socket().to_path_buf();
    let p = project.to_string();
    let stop = ServicesRequest {
        services: services.to_vec(),
        timeout: followed.timeout,
        ..Default::default()
    };
    std::thread::spawn(move || {
        let _ = set.wait();
        eprintln!("Gracefully stopping... (press Ctrl-C again to force)");
        let stopper = std::thread::spawn(move || {
            let c = Client::new(socket);
            let _ = c.call::<_, serde_json::Value>(
                "POST",
                &format!("/v1/projects/{p}/stop"),
                Some(&stop),
            );
            std::process::exit(130);
        });
        let _ = set.wait();
        drop(stopper);
        std::process::exit(130);
    });
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stop = ServicesRequest {
        services: services.to_vec(),
        timeout: followed.timeout,
        ..Default::default()
    };
    let watcher = super::up_flags::spawn_watcher(client, followed.watcher, stop, done.clone());
    let q = LogsQuery {
        services: followed.services,
        follow: true,
        tail: None,
        since: Some(since),
        until: None,
        index: None,
    };
    let streamed = print_logs(client, project, &q, followed.printer);
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    let code = watcher.join().unwrap_or(0);
    streamed.map(|_| code)
}

fn ps(cli: &Cli, client: &Client, a: &PsArgs) -> Result<i32> {
    let p = project::project_name(cli)?;
    let filters = super::filter::parse(&a.filter)?;
    let mut rows: Vec<ContainerView> =
        client.call::<(), _>("GET", &format!("/v1/containers?project={p}"), None)?;
    // As compose: stopped containers, and those of `run`, only with -a (or a status filter).
    let all = a.all || filters.iter().any(|f| f.is_status());
    rows.retain(|c| {
        (all || (matches!(c.state.as_str(), "running" | "restarting" | "paused") && !c.one_off))
            && (a.services.is_empty() || a.services.contains(&c.service))
            && filters.iter().all(|f| f.matches(c))
    });
    if a.quiet {
        for r in &rows {
            println!("{}", r.name);
        }
    } else if a.format == Format::Json {
        // As compose: one object per line (nothing at all for no container).
        let now = super::output::now_ms();
        for r in &rows {
            println!("{}", super::ps_json::row(r, now, !a.no_trunc));
        }
    } else {
        print_table(&rows);
    }
    Ok(0)
}

fn logs(cli: &Cli, client: &Client, a: &LogsArgs) -> Result<i32> {
    let p = project::project_name(cli)?;
    // All prefixes up front, so the prefix column has one width from the first line.
    let rows: Vec<ContainerView> =
        client.call::<(), _>("GET", &format!("/v1/containers?project={p}"), None)?;
    let rows: Vec<ContainerView> = rows
        .into_iter()
        .filter(|r| !r.one_off)
        .filter(|r| a.services.is_empty() || a.services.contains(&r.service))
        .collect();
    let names: Vec<String> = rows
        .iter()
        .map(|r| super::output::prefix_of(Some(&p), &r.name, &r.service))
        .collect();
    let printer = LogPrinter::new(&names, !a.no_log_prefix, a.timestamps)
        .project(&p)
        .color(!a.no_color);
    let now = std::time::SystemTime::now();
    let time = |flag: &str, v: &Option<String>| -> Result<Option<String>> {
        v.as_deref()
            .map(|v| super::log_time::parse(flag, v, now))
            .transpose()
            .map_err(anyhow::Error::msg)
    };
    let q = LogsQuery {
        services: a.services.clone(),
        follow: a.follow,
        tail: a.tail,
        since: time("--since", &a.since)?,
        until: time("--until", &a.until)?,
        index: a.index,
    };
    print_logs(client, &p, &q, printer)
}

/// Streams a project's logs through `printer` until the daemon ends the stream.
fn print_logs(
    client: &Client,
    project: &str,
    q: &LogsQuery,
    mut printer: LogPrinter,
) -> Result<i32> {
    client.stream(
        "POST",
        &format!("/v1/projects/{project}/logs/stream"),
        Some(q),
        |item| {
            printer.print(&item);
            Ok(())
        },
    )?;
    Ok(0)
}

/// Attaches to a process (exec, run): stdin goes to it, its output is printed as it comes,
/// and its exit code is returned.
fn attach(client: &Client, path: &str, body: &impl serde::Serialize, tty: bool) -> Result<i32> {
    let size: Option<fn() -> (u16, u16)> = tty.then_some(super::terminal::size);
    // Nothing to read from /dev/null: the process gets EOF at once, and the CLI spares
    // itself a thread.
    let stdin = (!stdin_is_null()).then(std::io::stdin);
    let code = client.attach(path, body, stdin, size, |frame| {
        let _ = match frame {
            Frame::Stdout(d) => {
                let mut out = std::io::stdout().lock();
                out.write_all(&d).and_then(|_| out.flush())
            }
            Frame::Stderr(d) => std::io::stderr().write_all(&d),
            Frame::Exit(_)
            | Frame::Stdin(_)
            | Frame::Resize(..)
            | Frame::Error(..)
            | Frame::Signal(_) => Ok(()),
        };
    })?;
    Ok(code)
}

/// Whether our stdin is /dev/null (the character device 1:3).
fn stdin_is_null() -> bool {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    std::fs::metadata("/proc/self/fd/0")
        .is_ok_and(|m| m.file_type().is_char_device() && m.rdev() == nix::sys::stat::makedev(1, 3))
}

fn exec(cli: &Cli, client: &Client, a: &ExecArgs) -> Result<i32> {
    let p = project::project_name(cli)?;
    // As compose: a TTY unless -T, and only when we are talking to a terminal.
    let tty = (!a.no_tty && is_tty(0) && is_tty(1)).then(super::terminal::size);
    let req = ExecRequest {
        service: a.service.clone(),
        cmd: a.command.clone(),
        env: a.env.clone(),
        workdir: a.workdir.clone(),
        user: a.user.clone(),
        tty,
        index: a.index,
        privileged: a.privileged,
    };
    // Raw mode while attached, so keys (Ctrl-C included) reach the container's terminal;
    // restored when the guard drops, before the exit code is returned.
    let _raw = match tty {
        Some(_) => Some(super::terminal::RawMode::enter()?),
        None => None,
    };
    attach(
        client,
        &format!("/v1/projects/{p}/exec"),
        &req,
        tty.is_some(),
    )
}

fn run_oneoff(cli: &Cli, client: &Client, a: &RunArgs) -> Result<i32> {
    // An unknown service is a load error (with the stack's services and a hint).
    let stack = project::load_to_run(cli, std::slice::from_ref(&a.service))?;
    let name = stack.name.clone();
    let tty = (!a.no_tty && is_tty(0) && is_tty(1)).then(super::terminal::size);
    let req = RunRequest {
        stack,
        service: a.service.clone(),
        cmd: a.command.clone(),
        rm: a.rm,
        deps: !a.no_deps,
        tty,
        stdin: !stdin_is_null(),
    };
    let _raw = match tty {
        Some(_) => Some(super::terminal::RawMode::enter()?),
        None => None,
    };
    let path = format!("/v1/projects/{name}/run");
    autostart(client, || attach(client, &path, &req, tty.is_some()))
}

/// Runs `f`; when no daemon answers, starts one and runs `f` again. Trying first saves the
/// start-up path a round trip when the daemon is already there (the usual case).
pub(super) fn autostart<T>(client: &Client, f: impl Fn() -> Result<T>) -> Result<T> {
    match f() {
        Err(e)
            if e.downcast_ref::<ApiError>()
                .is_some_and(ApiError::is_not_running) =>
        {
            ensure_daemon(client)?;
            f()
        }
        r => r,
    }
}

fn verb(
    cli: &Cli,
    client: &Client,
    verb: &str,
    services: &[String],
    timeout: Option<u64>,
    signal: Option<&str>,
) -> Result<i32> {
    let p = project::project_name(cli)?;
    let req = ServicesRequest {
        services: services.to_vec(),
        timeout,
        signal: signal.map(str::to_string),
        ..Default::default()
    };
    // Who the verb acts on, read before it does (afterwards their states have changed).
    let texts = super::container_events::texts(verb);
    let targets = match texts {
        Some(_) => {
            let rows: Vec<ContainerView> =
                client.call::<(), _>("GET", &format!("/v1/containers?project={p}"), None)?;
            super::container_events::targets(&rows, services, verb)
        }
        None => Vec::new(),
    };
    client.call::<_, serde_json::Value>("POST", &format!("/v1/projects/{p}/{verb}"), Some(&req))?;
    if let Some((working, done)) = texts {
        for name in &targets {
            for l in super::container_events::pair(name, working, done) {
                eprintln!("{l}");
            }
        }
    }
    Ok(0)
}

/// `pause`/`unpause`: prints each container as compose does (`Container NAME  Paused`).
fn pause(cli: &Cli, client: &Client, verb: &str, services: &[String]) -> Result<i32> {
    let p = project::project_name(cli)?;
    let req = ServicesRequest {
        services: services.to_vec(),
        ..Default::default()
    };
    let names: Vec<String> =
        client.call("POST", &format!("/v1/projects/{p}/{verb}"), Some(&req))?;
    let done = if verb == "pause" {
        "Paused"
    } else {
        "Unpaused"
    };
    for n in names {
        eprintln!("Container {n}  {done}");
    }
    Ok(0)
}

fn image(client: &Client, c: &ImageCommand) -> Result<i32> {
    match c {
        ImageCommand::Import { file, name } => {
            // Opened here, with the user's own rights, and sent as the request body: the
            // daemon (root) never opens a path a client names.
            let path = format!(
                "/v1/images/import?reference={}&name={}",
                crate::api::client::query_escape(name),
                crate::api::client::query_escape(&file.display().to_string())
            );
            let v: ImageView = autostart(client, || {
                let f = std::fs::File::open(file)
                    .with_context(|| format!("image archive {}", file.display()))?;
                let len = f
                    .metadata()
                    .with_context(|| format!("image archive {}", file.display()))?
                    .len();
                Ok(client.upload(&path, f, len)?)
            })?;
            println!("Imported {} ({})", v.reference, v.id);
        }
        ImageCommand::Pull { .. } | ImageCommand::Push { .. } | ImageCommand::Build(_) => {}
        other => return super::images::run(client, other),
    }
    Ok(0)
}

pub(super) fn size(b: u64) -> String {
    const UNITS: [&str; 4] = ["B", "kB", "MB", "GB"];
    let mut v = b as f64;
    let mut u = 0;
    while v >= 1000.0 && u + 1 < UNITS.len() {
        v /= 1000.0;
        u += 1;
    }
    format!("{v:.1}{}", UNITS[u])
}
