//! `image pull`, `image push`, `login`, `logout`: the user's registry credentials live in
//! Docker's client config (`$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`,
//! `auths`), read and written here with the user's own rights; the daemon receives them
//! with each request and never reads a home directory.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;

use anyhow::{Context, Result, bail};

use super::args::LoginArgs;
use super::commands::autostart;
use super::output::is_tty;
use super::progress::Display;
use crate::api::Client;
use crate::api::registry::{LoginRequest, TransferLine, TransferRequest};
use crate::image::registry::auth::{self, Credentials};

/// Where Docker's client config is.
fn config_path() -> Result<PathBuf> {
    if let Some(d) = std::env::var_os("DOCKER_CONFIG") {
        return Ok(PathBuf::from(d).join("config.json"));
    }
    let home = std::env::var_os("HOME").context("HOME is not set: cannot find ~/.docker")?;
    Ok(PathBuf::from(home).join(".docker").join("config.json"))
}

fn read_config() -> Result<serde_json::Value> {
    let path = config_path()?;
    match std::fs::read(&path) {
        Ok(b) => serde_json::from_slice(&b).with_context(|| format!("parsing {}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(serde_json::json!({})),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

/// The `auths` entries of the user's Docker config (registry key -> base64 `user:pass`).
/// An unreadable config is warned about and pulls go anonymous.
pub(super) fn auths() -> BTreeMap<String, String> {
    let cfg = match read_config() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("warning: {e:#}; using no credentials");
            return BTreeMap::new();
        }
    };
    let mut out = BTreeMap::new();
    if let Some(map) = cfg.get("auths").and_then(|a| a.as_object()) {
        for (k, v) in map {
            if let Some(a) = v
                .get("auth")
                .and_then(|a| a.as_str())
                .filter(|a| !a.is_empty())
            {
                out.insert(k.clone(), a.to_string());
            }
        }
    }
    out
}

/// Sends a pull or push and prints its progress; the last line carries the result.
fn transfer(client: &Client, path: &str, reference: &str) -> Result<TransferLine> {
    transfer_with(client, path, reference, None, &Display::new(), "")
}

/// `transfer` for a `platform`, its progress shown on `display`, prefixed with `prefix`.
pub(super) fn transfer_with(
    client: &Client,
    path: &str,
    reference: &str,
    platform: Option<&str>,
    display: &Display,
    prefix: &str,
) -> Result<TransferLine> {
    let req = TransferRequest {
        reference: reference.to_string(),
        auths: auths(),
        platform: platform.map(str::to_string),
        progress: display.wants_bytes(),
        dry_run: false,
    };
    let resp = client.request("POST", path, Some(&req))?.ok()?;
    let mut reader = BufReader::new(resp.into_reader());
    let mut buf = String::new();
    loop {
        buf.clear();
        if reader
            .read_line(&mut buf)
            .context("reading the daemon's answer")?
            == 0
        {
            bail!("the daemon ended the answer without a result");
        }
        if buf.trim().is_empty() {
            continue;
        }
        let item: TransferLine =
            serde_json::from_str(&buf).context("reading the daemon's answer")?;
        if item.status.is_some() || item.layer.is_some() {
            display.line(prefix, &item);
            continue;
        }
        if let Some(e) = item.error {
            bail!("{e}");
        }
        return Ok(item);
    }
}

pub fn pull(client: &Client, reference: &str) -> Result<i32> {
    let last = transfer(client, "/v1/images/pull", reference)?;
    if let Some(v) = last.image {
        println!("Pulled {} ({})", v.reference, v.id);
    }
    Ok(0)
}

pub fn push(client: &Client, reference: &str) -> Result<i32> {
    let last = transfer(client, "/v1/images/push", reference)?;
    if let Some(d) = last.digest {
        println!("Pushed {reference} ({d})");
    }
    Ok(0)
}

/// `pull|push [SERVICE...]`: each distinct image of the services (all, or those named),
/// one after the other (each pull downloads its layers in parallel). A failure is reported
/// and the others still go; the exit status says whether any failed.
pub fn services(
    cli: &super::args::Cli,
    client: &Client,
    names: &[String],
    push_them: bool,
) -> Result<i32> {
    let images = stack_images(cli, names, push_them)?;
    let mut failed = 0;
    for (image, platform) in &images {
        let res = autostart(client, || {
            if push_them {
                push(client, image)
            } else {
                let last = transfer_with(
                    client,
                    "/v1/images/pull",
                    image,
                    platform.as_deref(),
                    &Display::new(),
                    "",
                )?;
                if let Some(v) = last.image {
                    println!("Pulled {} ({})", v.reference, v.id);
                }
                Ok(0)
            }
        });
        if let Err(e) = res {
            eprintln!("error: {image}: {e:#}");
            failed += 1;
        }
    }
    Ok(if failed > 0 { 1 } else { 0 })
}

/// The distinct images of the services (all, or those named) with the platform of the
/// first service naming each: what `pull`/`push` of a stack transfer.
pub(super) fn stack_images(
    cli: &super::args::Cli,
    names: &[String],
    push_them: bool,
) -> Result<Vec<(String, Option<String>)>> {
    let stack = super::project::load_for(cli, names)?;
    for n in names {
        if !stack.services.contains_key(n) {
            bail!("no such service: {n}");
        }
    }
    // Each distinct image once, for the platform of the first service naming one.
    let mut images: Vec<(String, Option<String>)> = Vec::new();
    for (name, s) in &stack.services {
        if !names.is_empty() && !names.contains(name) {
            continue;
        }
        if s.image.is_empty() {
            eprintln!(
                "{name}: no image to {}",
                if push_them { "push" } else { "pull" }
            );
        } else if let Some(seen) = images.iter_mut().find(|(i, _)| *i == s.image) {
            if seen.1.is_none() {
                seen.1 = s.platform.as_ref().map(|p| p.to_string());
            }
        } else {
            images.push((s.image.clone(), s.platform.as_ref().map(|p| p.to_string())));
        }
    }
    Ok(images)
}

fn read_password(a: &LoginArgs) -> Result<String> {
    if let Some(p) = &a.password {
        if a.password_stdin {
            bail!("--password and --password-stdin cannot be used together");
        }
        eprintln!("WARNING! Using --password via the CLI is insecure. Use --password-stdin.");
        return Ok(p.clone());
    }
    let mut line = String::new();
    if !a.password_stdin && is_tty(0) {
        eprint!("Password: ");
        let _ = std::io::stderr().flush();
        let _echo = EchoOff::new();
        std::io::stdin()
            .read_line(&mut line)
            .context("reading the password")?;
        eprintln!();
    } else if a.password_stdin {
        std::io::stdin()
            .read_line(&mut line)
            .context("reading the password from stdin")?;
    } else {
        bail!("no password: pass --password-stdin and the password on stdin");
    }
    let p = line.trim_end_matches(['\r', '\n']).to_string();
    if p.is_empty() {
        bail!("empty password");
    }
    Ok(p)
}

/// Turns the terminal's echo off while the password is typed.
struct EchoOff(Option<nix::sys::termios::Termios>);

impl EchoOff {
    fn new() -> EchoOff {
        use nix::sys::termios::{LocalFlags, SetArg, tcgetattr, tcsetattr};
        let stdin = std::io::stdin();
        let Ok(old) = tcgetattr(&stdin) else {
            return EchoOff(None);
        };
        let mut t = old.clone();
        t.local_flags.remove(LocalFlags::ECHO);
        let _ = tcsetattr(&stdin, SetArg::TCSANOW, &t);
        EchoOff(Some(old))
    }
}

impl Drop for EchoOff {
    fn drop(&mut self) {
        if let Some(old) = &self.0 {
            let _ = nix::sys::termios::tcsetattr(
                std::io::stdin(),
                nix::sys::termios::SetArg::TCSANOW,
                old,
            );
        }
    }
}

fn registry_name(r: Option<&str>) -> String {
    match r {
        None | Some("docker.io" | "index.docker.io" | "https://index.docker.io/v1/") => {
            "docker.io".to_string()
        }
        Some(r) => r
            .trim_start_matches("https://")
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_string(),
    }
}

pub fn login(client: &Client, a: &LoginArgs) -> Result<i32> {
    let registry = registry_name(a.registry.as_deref());
    let username = match &a.username {
        Some(u) => u.clone(),
        None if is_tty(0) && !a.password_stdin => {
            eprint!("Username: ");
            let _ = std::io::stderr().flush();
            let mut u = String::new();
            std::io::stdin()
                .read_line(&mut u)
                .context("reading the user name")?;
            u.trim().to_string()
        }
        None => bail!("no user name: pass -u USER"),
    };
    let password = read_password(a)?;
    let req = LoginRequest {
        registry: registry.clone(),
        username: username.clone(),
        password: password.clone(),
    };
    autostart(client, || {
        client.call::<_, serde_json::Value>("POST", "/v1/registry/login", Some(&req))?;
        Ok(())
    })?;
    let creds = Credentials { username, password };
    let path = config_path()?;
    let mut cfg = read_config()?;
    if !cfg.is_object() {
        cfg = serde_json::json!({});
    }
    let auths = cfg
        .as_object_mut()
        .and_then(|o| {
            o.entry("auths")
                .or_insert_with(|| serde_json::json!({}))
                .as_object_mut()
        })
        .with_context(|| format!("{}: \"auths\" is not an object", path.display()))?;
    auths.insert(
        auth::config_key(&registry),
        serde_json::json!({ "auth": creds.to_auth() }),
    );
    write_config(&path, &cfg)?;
    eprintln!("Login Succeeded (credentials saved in {})", path.display());
    Ok(0)
}

pub fn logout(registry: Option<&str>) -> Result<i32> {
    let registry = registry_name(registry);
    let path = config_path()?;
    let mut cfg = read_config()?;
    let key = auth::config_key(&registry);
    let removed = cfg
        .get_mut("auths")
        .and_then(|a| a.as_object_mut())
        .and_then(|a| a.remove(&key))
        .is_some();
    if removed {
        write_config(&path, &cfg)?;
        eprintln!("Removing login credentials for {registry}");
    } else {
        eprintln!("Not logged in to {registry}");
    }
    Ok(0)
}

/// Writes the config atomically, readable by its owner only (it holds passwords).
fn write_config(path: &std::path::Path, cfg: &serde_json::Value) -> Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let dir = path.parent().context("config path has no directory")?;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let tmp = dir.join(format!(".config.json.{}", std::process::id()));
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .with_context(|| format!("writing {}", tmp.display()))?;
    let mut text = serde_json::to_vec_pretty(cfg)?;
    text.push(b'\n');
    f.write_all(&text)
        .and_then(|()| f.sync_all())
        .with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("replacing {}", path.display()))?;
    Ok(())
}
