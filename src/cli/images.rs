//! `rstack image` store commands: ls, rm, tag, inspect, history, prune, save, load, search.
//! Each is one API call; archives stream between the file (or stdin/stdout) and the daemon.

use std::io::{Read, Write};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};

use super::args::{Format, ImageCommand};
use super::commands::{autostart, size};
use super::output::is_tty;
use crate::api::Client;
use crate::api::images::{
    HistoryRow, LoadedView, PruneReport, RefsRequest, RemoveReport, RemoveRequest, SearchAnswer,
    SearchRequest, TagRequest,
};
use crate::api::types::ImageView;

/// CREATED BY is cut to this many characters unless --no-trunc (as docker history).
const CREATED_BY_WIDTH: usize = 45;

pub fn run(client: &Client, c: &ImageCommand) -> Result<i32> {
    match c {
        ImageCommand::Ls {
            format,
            digests,
            quiet,
        } => ls(client, *format, *digests, *quiet),
        ImageCommand::Rm { force, names } => rm(client, *force, names),
        ImageCommand::Tag { source, target } => {
            let req = TagRequest {
                source: source.clone(),
                target: target.clone(),
            };
            client.call::<_, serde_json::Value>("POST", "/v1/images/tag", Some(&req))?;
            Ok(0)
        }
        ImageCommand::Inspect { names } => {
            let req = RefsRequest {
                references: names.clone(),
            };
            let v: Vec<serde_json::Value> =
                client.call("POST", "/v1/images/inspect", Some(&req))?;
            println!("{}", serde_json::to_string_pretty(&v)?);
            Ok(0)
        }
        ImageCommand::History {
            name,
            no_trunc,
            quiet,
            format,
        } => {
            let req = RemoveRequest {
                reference: name.clone(),
                force: false,
            };
            let rows: Vec<HistoryRow> = client.call("POST", "/v1/images/history", Some(&req))?;
            if *format == Format::Json {
                println!("{}", serde_json::to_string(&rows)?);
            } else {
                print!("{}", history_table(&rows, now_secs(), *no_trunc, *quiet));
            }
            Ok(0)
        }
        ImageCommand::Prune { all } => {
            let r: PruneReport = client.call(
                "POST",
                "/v1/images/prune",
                Some(&serde_json::json!({ "all": all })),
            )?;
            if !r.deleted.is_empty() {
                println!("Deleted Images:");
                for (reference, id) in &r.deleted {
                    if reference != crate::api::images::NONE_REFERENCE {
                        println!("untagged: {reference}");
                    }
                    println!("deleted: {id}");
                }
                println!();
            }
            println!("Total reclaimed space: {}", size(r.reclaimed));
            Ok(0)
        }
        ImageCommand::Save { output, names } => save(client, output.as_deref(), names),
        ImageCommand::Load { input } => load(client, input.as_deref()),
        ImageCommand::Search { term, format } => {
            let req = SearchRequest {
                term: term.clone(),
                auths: super::registry::auths(),
            };
            let a: SearchAnswer = client.call("POST", "/v1/images/search", Some(&req))?;
            if *format == Format::Json {
                println!("{}", serde_json::to_string(&a)?);
            } else {
                print!("{}", search_table(&a));
            }
            Ok(0)
        }
        ImageCommand::Import { .. }
        | ImageCommand::Pull { .. }
        | ImageCommand::Push { .. }
        | ImageCommand::Build(_) => Ok(0),
    }
}

fn ls(client: &Client, format: Format, digests: bool, quiet: bool) -> Result<i32> {
    let list: Vec<ImageView> = client.call::<(), _>("GET", "/v1/images", None)?;
    if quiet {
        for i in &list {
            println!("{}", short_id(&i.id));
        }
        return Ok(0);
    }
    if format == Format::Json {
        println!("{}", serde_json::to_string(&list)?);
        return Ok(0);
    }
    print!("{}", ls_table(&list, digests, now_secs()));
    Ok(0)
}

fn ls_table(list: &[ImageView], digests: bool, now: i64) -> String {
    let mut rows = vec![vec![
        "REFERENCE".to_string(),
        "IMAGE ID".to_string(),
        "CREATED".to_string(),
        "SIZE".to_string(),
    ]];
    if digests {
        rows[0].insert(1, "DIGEST".to_string());
    }
    for i in list {
        let mut row = vec![
            i.reference.clone(),
            short_id(&i.id).to_string(),
            created(i.created.as_deref(), now),
            size(i.size),
        ];
        if digests {
            row.insert(1, non_empty(&i.digest));
        }
        rows.push(row);
    }
    columns(&rows)
}

fn non_empty(s: &str) -> String {
    if s.is_empty() {
        "<none>".to_string()
    } else {
        s.to_string()
    }
}

/// Left-aligned columns, three spaces apart, the last one not padded.
fn columns(rows: &[Vec<String>]) -> String {
    let n = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..n)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for r in rows {
        let mut line = String::new();
        for (c, cell) in r.iter().enumerate() {
            if c + 1 == r.len() {
                line.push_str(cell);
            } else {
                line.push_str(&format!("{cell:<w$}   ", w = widths[c]));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

fn short_id(id: &str) -> &str {
    let hex = id.strip_prefix("sha256:").unwrap_or(id);
    &hex[..hex.len().min(12)]
}

fn rm(client: &Client, force: bool, names: &[String]) -> Result<i32> {
    let mut failed = false;
    for name in names {
        let req = RemoveRequest {
            reference: name.clone(),
            force,
        };
        match client.call::<_, RemoveReport>("POST", "/v1/images/remove", Some(&req)) {
            Ok(r) => {
                for t in &r.untagged {
                    println!("Untagged: {t}");
                }
                for d in &r.deleted {
                    println!("Deleted: {d}");
                }
            }
            // Docker goes on with the other names and fails at the end.
            Err(e) => {
                eprintln!("error: {e}");
                failed = true;
            }
        }
    }
    Ok(if failed { super::EXIT_FAILURE } else { 0 })
}

fn save(client: &Client, output: Option<&std::path::Path>, names: &[String]) -> Result<i32> {
    if output.is_none() && is_tty(1) {
        bail!("refusing to write an image archive to a terminal: use -o FILE or redirect stdout");
    }
    let req = RefsRequest {
        references: names.to_vec(),
    };
    let resp = client
        .request("POST", "/v1/images/save", Some(&req))?
        .ok()?;
    let mut body = resp.into_reader();
    match output {
        Some(path) => {
            // Written next to the target and renamed: a failed save leaves no short archive.
            let tmp = path.with_file_name(format!(
                ".{}.rstack-save-{}",
                path.file_name()
                    .map(|n| n.to_string_lossy())
                    .unwrap_or_default(),
                std::process::id()
            ));
            let res = (|| -> Result<()> {
                let mut f = std::fs::File::create(&tmp)
                    .with_context(|| format!("creating {}", path.display()))?;
                std::io::copy(&mut body, &mut f)
                    .with_context(|| format!("receiving the archive for {}", path.display()))?;
                f.sync_all()
                    .with_context(|| format!("writing {}", path.display()))?;
                std::fs::rename(&tmp, path)
                    .with_context(|| format!("writing {}", path.display()))?;
                Ok(())
            })();
            if res.is_err() {
                let _ = std::fs::remove_file(&tmp);
            }
            res?;
        }
        None => {
            let mut out = std::io::stdout().lock();
            std::io::copy(&mut body, &mut out).context("receiving the archive")?;
            out.flush().context("writing the archive to stdout")?;
        }
    }
    Ok(0)
}

fn load(client: &Client, input: Option<&std::path::Path>) -> Result<i32> {
    // The upload needs its length first: stdin that is not a file is spooled to a
    // temporary file (removed when done).
    let (file, name, _spool) = match input {
        Some(p) => (
            std::fs::File::open(p).with_context(|| format!("image archive {}", p.display()))?,
            p.display().to_string(),
            None,
        ),
        None => {
            if is_tty(0) {
                bail!("no archive to load: use -i FILE or redirect stdin");
            }
            let stdin = std::fs::File::open("/dev/stdin").context("opening stdin")?;
            let is_file = stdin.metadata().map(|m| m.is_file()).unwrap_or(false);
            if is_file {
                (stdin, "stdin".to_string(), None)
            } else {
                let spool = Spool::new()?;
                let mut f = spool.create()?;
                std::io::copy(&mut std::io::stdin().lock(), &mut f)
                    .context("reading the archive from stdin")?;
                f.sync_all().ok();
                let f = std::fs::File::open(&spool.0).context("reading the spooled archive")?;
                (f, "stdin".to_string(), Some(spool))
            }
        }
    };
    let len = file.metadata().context("image archive")?.len();
    let path = format!(
        "/v1/images/load?reference=&name={}",
        crate::api::client::query_escape(&name)
    );
    let loaded: Vec<LoadedView> = autostart(client, || {
        let f = file.try_clone().context("image archive")?;
        Ok(client.upload(&path, f.take(len), len)?)
    })?;
    for l in loaded {
        match l.reference {
            Some(r) => println!("Loaded image: {r}"),
            None => println!("Loaded image ID: {}", l.id),
        }
    }
    Ok(0)
}

/// A temporary file removed when dropped.
struct Spool(std::path::PathBuf);

impl Spool {
    fn new() -> Result<Spool> {
        Ok(Spool(std::env::temp_dir().join(format!(
            "rstack-load-{}-{}",
            std::process::id(),
            now_secs()
        ))))
    }

    fn create(&self) -> Result<std::fs::File> {
        use std::os::unix::fs::OpenOptionsExt;
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&self.0)
            .with_context(|| format!("creating {}", self.0.display()))
    }
}

impl Drop for Spool {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// `image history`'s table (or ids with `quiet`).
fn history_table(rows: &[HistoryRow], now: i64, no_trunc: bool, quiet: bool) -> String {
    let id = |r: &HistoryRow| {
        if r.id.starts_with("sha256:") && !no_trunc {
            short_id(&r.id).to_string()
        } else {
            r.id.clone()
        }
    };
    if quiet {
        return rows.iter().map(|r| format!("{}\n", id(r))).collect();
    }
    let mut table = vec![vec![
        "IMAGE".to_string(),
        "CREATED".to_string(),
        "CREATED BY".to_string(),
        "SIZE".to_string(),
        "COMMENT".to_string(),
    ]];
    for r in rows {
        let by = r.created_by.replace(['\n', '\t'], " ");
        table.push(vec![
            id(r),
            created(r.created.as_deref(), now),
            if no_trunc {
                by
            } else {
                truncate(&by, CREATED_BY_WIDTH)
            },
            size(r.size),
            r.comment.clone(),
        ]);
    }
    columns(&table)
}

/// Cuts `s` to `width` characters, the last one an ellipsis (as docker).
fn truncate(s: &str, width: usize) -> String {
    if s.chars().count() <= width {
        return s.to_string();
    }
    let mut out: String = s.chars().take(width.saturating_sub(1)).collect();
    out.push('…');
    out
}

fn search_table(a: &SearchAnswer) -> String {
    if a.repositories.is_empty() {
        return format!("no repository of {} matches\n", a.registry);
    }
    let mut rows = vec![vec!["NAME".to_string(), "TAGS".to_string()]];
    for r in &a.repositories {
        rows.push(vec![r.name.clone(), r.tags.join(", ")]);
    }
    columns(&rows)
}

/// The CREATED column: "2 minutes ago", or "N/A" without (or with an unreadable) time.
fn created(time: Option<&str>, now: i64) -> String {
    match time.and_then(parse_rfc3339) {
        Some(t) => format!("{} ago", human_duration(now - t)),
        None => "N/A".to_string(),
    }
}

/// Seconds since the epoch of an RFC 3339 time (`2024-01-02T03:04:05.123Z`, `+01:00`).
fn parse_rfc3339(s: &str) -> Option<i64> {
    let num = |a: usize, b: usize| s.get(a..b)?.parse::<i64>().ok();
    let (y, mo, d) = (num(0, 4)?, num(5, 7)?, num(8, 10)?);
    let (h, mi, sec) = (num(11, 13)?, num(14, 16)?, num(17, 19)?);
    if s.get(4..5)? != "-" || !matches!(s.get(10..11)?, "T" | "t" | " ") {
        return None;
    }
    let mut rest = s.get(19..)?;
    if let Some(frac) = rest.strip_prefix('.') {
        rest = frac.trim_start_matches(|c: char| c.is_ascii_digit());
    }
    let offset = match rest {
        "Z" | "z" => 0,
        _ => {
            let sign = match rest.get(..1)? {
                "+" => 1,
                "-" => -1,
                _ => return None,
            };
            let oh = rest.get(1..3)?.parse::<i64>().ok()?;
            let om = rest.get(4..6)?.parse::<i64>().ok()?;
            sign * (oh * 3600 + om * 60)
        }
    };
    Some(days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - offset)
}

/// Days since 1970-01-01 of a date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

/// Docker's (go-units) HumanDuration: "Less than a second", "About a minute", "3 hours".
fn human_duration(secs: i64) -> String {
    let s = secs.max(0);
    let minutes = s / 60;
    let hours = (s as f64 / 3600.0).round() as i64;
    if s < 1 {
        "Less than a second".into()
    } else if s == 1 {
        "1 second".into()
    } else if s < 60 {
        format!("{s} seconds")
    } else if minutes == 1 {
        "About a minute".into()
    } else if minutes < 60 {
        format!("{minutes} minutes")
    } else if hours == 1 {
        "About an hour".into()
    } else if hours < 48 {
        format!("{hours} hours")
    } else if hours < 24 * 7 * 2 {
        format!("{} days", hours / 24)
    } else if hours < 24 * 30 * 2 {
        format!("{} weeks", hours / 24 / 7)
    } else if hours < 24 * 365 * 2 {
        format!("{} months", hours / 24 / 30)
    } else {
        format!("{} years", s / 3600 / 24 / 365)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_read_as_docker_shows_them() {
        let cases = [
            (0, "Less than a second"),
            (1, "1 second"),
            (59, "59 seconds"),
            (60, "About a minute"),
            (150, "2 minutes"),
            (3600, "About an hour"),
            (5 * 3600, "5 hours"),
            (3 * 86400, "3 days"),
            (20 * 86400, "2 weeks"),
            (90 * 86400, "3 months"),
            (3 * 365 * 86400, "3 years"),
        ];
        for (secs, want) in cases {
            assert_eq!(human_duration(secs), want, "{secs}");
        }
    }

    #[test]
    fn rfc3339_times_parse_with_fractions_and_offsets() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            parse_rfc3339("2023-11-14T22:13:20.000000005Z"),
            Some(1_700_000_000)
        );
        assert_eq!(
            parse_rfc3339("2023-11-14T23:13:20+01:00"),
            Some(1_700_000_000)
        );
        assert_eq!(parse_rfc3339("2000-02-29T00:00:00Z"), Some(951_782_400));
        assert_eq!(parse_rfc3339("yesterday"), None);
        assert_eq!(
            created(Some("2023-11-14T22:11:20Z"), 1_700_000_000),
            "2 minutes ago"
        );
        assert_eq!(created(None, 0), "N/A");
    }

    #[test]
    fn history_rows_render_newest_first_truncated() {
        let rows = vec![
            HistoryRow {
                id: "sha256:0123456789abcdef0123".into(),
                created: Some("2023-11-14T22:11:20Z".into()),
                created_by:
                    "RUN /bin/sh -c apt-get update && apt-get install -y curl ca-certificates"
                        .into(),
                size: 1500,
                comment: "buildkit".into(),
                empty_layer: false,
            },
            HistoryRow {
                id: "<missing>".into(),
                created: None,
                created_by: "ENV A=1".into(),
                size: 0,
                comment: String::new(),
                empty_layer: true,
            },
        ];
        let out = history_table(&rows, 1_700_000_000, false, false);
        let lines: Vec<&str> = out.lines().collect();
        assert!(lines[0].starts_with("IMAGE"), "{out}");
        assert!(
            lines[1].starts_with("0123456789ab   2 minutes ago"),
            "{out}"
        );
        assert!(
            lines[1].contains("RUN /bin/sh -c apt-get update && apt-get ins…   "),
            "{out}"
        );
        assert!(
            lines[1].contains("1.5kB") && lines[1].ends_with("buildkit"),
            "{out}"
        );
        assert!(lines[2].starts_with("<missing>"), "{out}");
        assert!(
            lines[2].contains("N/A") && lines[2].contains("0.0B"),
            "{out}"
        );
        let full = history_table(&rows, 1_700_000_000, true, false);
        assert!(full.contains("ca-certificates"), "{full}");
        assert!(full.contains("sha256:0123456789abcdef0123"), "{full}");
        let quiet = history_table(&rows, 0, false, true);
        assert_eq!(quiet, "0123456789ab\n<missing>\n");
    }

    #[test]
    fn ls_shows_digests_only_when_asked() {
        let list = vec![ImageView {
            reference: "app:1".into(),
            id: "sha256:aaaaaaaaaaaaaaaaaaaa".into(),
            digest: "sha256:dddd".into(),
            size: 2000,
            compressed_size: 0,
            created: None,
        }];
        let plain = ls_table(&list, false, 0);
        assert!(
            !plain.contains("DIGEST") && !plain.contains("sha256:dddd"),
            "{plain}"
        );
        assert!(plain.contains("app:1       aaaaaaaaaaaa   N/A"), "{plain}");
        let with = ls_table(&list, true, 0);
        assert!(
            with.contains("DIGEST") && with.contains("sha256:dddd"),
            "{with}"
        );
    }
}
