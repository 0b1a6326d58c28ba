//! Git sources: follow a repository and materialize one revision's files.
//!
//! `sync_repo` keeps a bare cache clone in `cache/repo`, fetches into it (file://, ssh by
//! spawning `ssh`, http(s) through reqwest with rustls/ring), resolves the wanted reference
//! from what the remote advertised in this very fetch (so a deleted branch is not served
//! from a stale local ref), and writes that commit's tree to `cache/rev/<sha>/`.
//!
//! Blocking: the daemon runs it in `spawn_blocking`, one call at a time per cache directory.
//! Credentials never reach an error message or a log: URLs are shown with their userinfo
//! stripped, and every message is scrubbed of the password before it leaves this module.

use std::fmt;
use std::fs;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use gix::bstr::ByteSlice;
use gix::protocol::handshake::Ref;

use super::Checkout;

/// Revision directories kept besides the one returned (older ones are removed).
const KEEP_REVS: usize = 3;
/// Where the remote's HEAD is recorded in the cache (not refs/remotes/origin/HEAD, which
/// a clone may have made symbolic).
const REMOTE_HEAD: &str = "refs/rstack/remote-head";

/// Basic-auth (http) credentials for a source, from the daemon config.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// What went wrong following a repository. `url` fields are always redacted.
#[derive(Debug, thiserror::Error)]
pub enum GitError {
    #[error(
        "git URL `{url}` is not valid: {detail}; use file:///path, https://host/repo or ssh://host/repo (or host:repo)"
    )]
    InvalidUrl { url: String, detail: String },
    #[error(
        "cannot reach the git repository {url}: {detail}; check the URL, the network and that the host serves Git"
    )]
    Connect { url: String, detail: String },
    #[error(
        "authentication to {url} failed: {detail}; check the source's credentials in the daemon config (and the ssh key for ssh URLs)"
    )]
    Auth { url: String, detail: String },
    #[error("fetching from {url} failed: {detail}; `rstack sync now` retries")]
    Fetch { url: String, detail: String },
    #[error("the repository {url} has no branch, tag or commit named `{reference}`; {hint}")]
    UnknownRef {
        url: String,
        reference: String,
        hint: String,
    },
    #[error(
        "the repository {url} has no default branch (empty repository?); push a commit or pass --ref"
    )]
    NoHead { url: String },
    #[error(
        "git cache {path}: {detail}; check free space and permissions of the daemon's data directory"
    )]
    Cache { path: PathBuf, detail: String },
    #[error("cannot check out {revision} of {url}: {detail}")]
    Checkout {
        url: String,
        revision: String,
        detail: String,
    },
}

/// `url` with any `user[:password]@` removed, for messages.
pub fn redact_url(url: &str) -> String {
    if let Some((scheme, rest)) = url.split_once("://") {
        let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
        return format!("{scheme}://{host}{path}");
    }
    // scp-like `user@host:path` (no scheme): drop the user as well.
    match url.split_once(':') {
        Some((left, right)) if !left.contains('/') => {
            let host = left.rsplit_once('@').map_or(left, |(_, h)| h);
            format!("{host}:{right}")
        }
        _ => url.to_owned(),
    }
}

/// Splits `user:password@` out of an http(s) URL so the secret travels as credentials, not
/// in a URL that a library might print.
fn split_userinfo(url: &str) -> (String, Option<Credentials>) {
    let Some((scheme, rest)) = url.split_once("://") else {
        return (url.to_owned(), None);
    };
    if !scheme.starts_with("http") {
        return (url.to_owned(), None);
    }
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let (user, pass) = userinfo.split_once(':').unwrap_or((userinfo, ""));
            let creds = Credentials {
                username: user.to_owned(),
                password: pass.to_owned(),
            };
            (format!("{scheme}://{host}{path}"), Some(creds))
        }
        None => (url.to_owned(), None),
    }
}

/// Fetches `url` into `cache/repo` and materializes `reference` (a branch, tag, full or
/// short SHA; the remote's HEAD when `None`) in `cache/rev/<sha>/`.
pub fn sync_repo(
    url: &str,
    reference: Option<&str>,
    cache: &Path,
    creds: Option<&Credentials>,
) -> Result<Checkout, GitError> {
    let (clean_url, url_creds) = split_userinfo(url);
    let creds = creds.cloned().or(url_creds);
    let shown = redact_url(url);
    let scrub = |s: String| scrub_secret(s, creds.as_ref());
    let repo = open_cache(&cache.join("repo"))?;
    let advertised = fetch(&repo, &clean_url, creds.as_ref(), &shown).map_err(|e| match e {
        GitError::Connect { url, detail } => GitError::Connect {
            url,
            detail: scrub(detail),
        },
        GitError::Auth { url, detail } => GitError::Auth {
            url,
            detail: scrub(detail),
        },
        GitError::Fetch { url, detail } => GitError::Fetch {
            url,
            detail: scrub(detail),
        },
        other => other,
    })?;
    let commit = resolve(&repo, &advertised, reference, &shown)?;
    let revision = commit.to_string();
    let revs = cache.join("rev");
    let root = revs.join(&revision);
    if !root.is_dir() {
        materialize(&repo, commit, &revs, &revision).map_err(|detail| GitError::Checkout {
            url: shown.clone(),
            revision: revision.clone(),
            detail,
        })?;
    } else {
        touch(&root);
    }
    prune(&revs, &revision);
    Ok(Checkout { revision, root })
}

/// The notes left by the checkout of `checkout` (skipped submodules and symlinks), one per
/// line; empty when nothing was skipped.
pub fn checkout_notes(checkout: &Checkout) -> Vec<String> {
    let path = notes_path(&checkout.root);
    fs::read_to_string(path)
        .map(|s| s.lines().map(str::to_owned).collect())
        .unwrap_or_default()
}

fn notes_path(root: &Path) -> PathBuf {
    let mut name = root.file_name().unwrap_or_default().to_os_string();
    name.push(".notes");
    root.with_file_name(name)
}

fn scrub_secret(s: String, creds: Option<&Credentials>) -> String {
    match creds {
        Some(c) if !c.password.is_empty() => s.replace(&c.password, "<redacted>"),
        _ => s,
    }
}

/// The error and its sources, one line.
fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        let msg = s.to_string();
        if !out.contains(&msg) {
            out.push_str(": ");
            out.push_str(&msg);
        }
        cur = s.source();
    }
    out
}

fn open_cache(path: &Path) -> Result<gix::Repository, GitError> {
    let cache_err = |detail: String| GitError::Cache {
        path: path.to_owned(),
        detail,
    };
    // Isolated: the daemon's behaviour must not depend on root's ~/.gitconfig or GIT_* env.
    let opts = gix::open::Options::isolated();
    if path.join("HEAD").is_file() {
        return gix::open_opts(path, opts).map_err(|e| cache_err(chain(&e)));
    }
    fs::create_dir_all(path).map_err(|e| cache_err(e.to_string()))?;
    gix::ThreadSafeRepository::init_opts(
        path,
        gix::create::Kind::Bare,
        gix::create::Options::default(),
        opts,
    )
    .map(Into::into)
    .map_err(|e| cache_err(chain(&e)))
}

/// Fetches all branches and tags and the remote HEAD; returns the refs the remote advertised.
fn fetch(
    repo: &gix::Repository,
    url: &str,
    creds: Option<&Credentials>,
    shown: &str,
) -> Result<Vec<Ref>, GitError> {
    install_tls_provider();
    let invalid = |detail: String| GitError::InvalidUrl {
        url: shown.to_owned(),
        detail,
    };
    let parsed = gix::url::parse(url.as_bytes().as_bstr()).map_err(|e| invalid(chain(&e)))?;
    if parsed.scheme == gix::url::Scheme::File && !parsed.path.to_path_lossy().exists() {
        return Err(GitError::Connect {
            url: shown.to_owned(),
            detail: "no such directory".into(),
        });
    }
    let remote = repo
        .remote_at(parsed)
        .and_then(|r| {
            r.with_refspecs(
                [
                    "+refs/heads/*:refs/remotes/origin/*",
                    "+refs/tags/*:refs/tags/*",
                    &format!("+HEAD:{REMOTE_HEAD}"),
                ],
                gix::remote::Direction::Fetch,
            )
        })
        .map_err(|e| invalid(chain(&e)))?
        .with_fetch_tags(gix::remote::fetch::Tags::None);
    let mut conn = remote
        .connect(gix::remote::Direction::Fetch)
        .map_err(|e| classify(shown, chain(&e), true))?;
    // Always our own answer: never git's configured helpers, never a prompt on a tty.
    let creds = creds.cloned();
    conn.set_credentials(move |action| match action {
        gix::credentials::helper::Action::Get(ctx) => match &creds {
            Some(c) => Ok(Some(gix::credentials::protocol::Outcome {
                credentials: gix::sec::identity::Credentials::UsernamePassword {
                    username: c.username.clone(),
                    password: c.password.clone(),
                    oauth_refresh_token: None,
                },
                next: ctx.into(),
            })),
            None => Ok(None),
        },
        _ => Ok(None),
    });
    let interrupt = AtomicBool::new(false);
    let outcome = conn
        .prepare_fetch(gix::progress::Discard, Default::default())
        .map_err(|e| classify(shown, chain(&e), true))?
        .receive(gix::progress::Discard, &interrupt)
        .map_err(|e| classify(shown, chain(&e), false))?;
    Ok(outcome.ref_map.remote_refs)
}

/// Sorts a transport failure into auth / unreachable / other by its text (gix's error
/// types differ per transport; the text is what they share).
fn classify(shown: &str, detail: String, connecting: bool) -> GitError {
    let lower = detail.to_ascii_lowercase();
    let url = shown.to_owned();
    if [
        "401",
        "403",
        "authenticat",
        "credentials",
        "permission denied",
        "unauthorized",
    ]
    .iter()
    .any(|w| lower.contains(w))
    {
        let detail = if lower.contains("clear text") {
            format!("{detail} (use an https:// URL to send credentials)")
        } else {
            detail
        };
        GitError::Auth { url, detail }
    } else if connecting {
        GitError::Connect { url, detail }
    } else {
        GitError::Fetch { url, detail }
    }
}

fn ref_target(r: &Ref) -> Option<(&[u8], gix::ObjectId)> {
    match r {
        Ref::Direct {
            full_ref_name,
            object,
        }
        | Ref::Peeled {
            full_ref_name,
            object,
            ..
        }
        | Ref::Symbolic {
            full_ref_name,
            object,
            ..
        } => Some((full_ref_name.as_slice(), *object)),
        Ref::Unborn { .. } => None,
    }
}

/// The commit `reference` names among the advertised refs, else as a SHA in the cache.
fn resolve(
    repo: &gix::Repository,
    advertised: &[Ref],
    reference: Option<&str>,
    shown: &str,
) -> Result<gix::ObjectId, GitError> {
    let find = |full: &str| {
        advertised
            .iter()
            .filter_map(ref_target)
            .find(|(name, _)| *name == full.as_bytes())
            .map(|(_, id)| id)
    };
    let id = match reference {
        None => find("HEAD").ok_or_else(|| GitError::NoHead {
            url: shown.to_owned(),
        })?,
        Some(r) => {
            let by_name = if r.starts_with("refs/") {
                find(r)
            } else {
                find(&format!("refs/heads/{r}")).or_else(|| find(&format!("refs/tags/{r}")))
            };
            match by_name {
                Some(id) => id,
                None => by_sha(repo, r).ok_or_else(|| GitError::UnknownRef {
                    url: shown.to_owned(),
                    reference: r.to_owned(),
                    hint: branches_hint(advertised),
                })?,
            }
        }
    };
    // Annotated tags: the advertised peeled object is the commit; peel anyway for safety.
    repo.find_object(id)
        .and_then(|o| o.peel_to_commit())
        .map(|c| c.id)
        .map_err(|e| GitError::Checkout {
            url: shown.to_owned(),
            revision: id.to_string(),
            detail: format!("not a commit: {}", chain(&e)),
        })
}

fn by_sha(repo: &gix::Repository, r: &str) -> Option<gix::ObjectId> {
    if r.len() < 4 || r.len() > 40 || !r.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let prefix = gix::hash::Prefix::from_hex(r).ok()?;
    match repo.objects.lookup_prefix(prefix, None) {
        Ok(Some(Ok(id))) => Some(id),
        _ => None,
    }
}

fn branches_hint(advertised: &[Ref]) -> String {
    let mut names: Vec<String> = advertised
        .iter()
        .filter_map(ref_target)
        .filter_map(|(n, _)| n.strip_prefix(b"refs/heads/"))
        .map(|n| n.to_str_lossy().into_owned())
        .collect();
    names.sort();
    if names.is_empty() {
        return "the repository has no branches".into();
    }
    let more = names.len().saturating_sub(8);
    names.truncate(8);
    let mut hint = format!("branches: {}", names.join(", "));
    if more > 0 {
        hint.push_str(&format!(" and {more} more"));
    }
    hint.push_str("; pass a branch, a tag or a commit SHA");
    hint
}

/// Writes the tree of `commit` to `revs/<revision>` via a temporary directory renamed into
/// place, so a half-written checkout is never seen as complete.
fn materialize(
    repo: &gix::Repository,
    commit: gix::ObjectId,
    revs: &Path,
    revision: &str,
) -> Result<(), String> {
    let tmp = revs.join(format!(".tmp-{revision}"));
    let _ = fs::remove_dir_all(&tmp);
    fs::create_dir_all(&tmp).map_err(|e| format!("{}: {e}", tmp.display()))?;
    let tree = repo
        .find_commit(commit)
        .and_then(|c| c.tree())
        .map_err(|e| chain(&e))?;
    let mut notes = Vec::new();
    let res = write_tree(&tree, &tmp, Path::new(""), &mut notes);
    if let Err(e) = res {
        let _ = fs::remove_dir_all(&tmp);
        return Err(e);
    }
    let root = revs.join(revision);
    if !notes.is_empty() {
        let _ = fs::write(notes_path(&root), notes.join("\n") + "\n");
    }
    fs::rename(&tmp, &root).map_err(|e| format!("{}: {e}", root.display()))
}

fn write_tree(
    tree: &gix::Tree<'_>,
    dir: &Path,
    rel: &Path,
    notes: &mut Vec<String>,
) -> Result<(), String> {
    use gix::object::tree::EntryKind;
    for entry in tree.iter() {
        let entry = entry.map_err(|e| format!("{}: {}", rel.display(), chain(&e)))?;
        let name = entry.filename();
        let rel_path = rel.join(std::ffi::OsStr::from_bytes(name));
        // Names come from the remote: nothing that could leave the directory or write git
        // metadata (git itself refuses these too).
        if name.is_empty()
            || name == b"."
            || name == b".."
            || name.contains(&b'/')
            || name.eq_ignore_ascii_case(b".git")
        {
            notes.push(format!("skipped unsafe path {}", rel_path.display()));
            continue;
        }
        let path = dir.join(std::ffi::OsStr::from_bytes(name));
        let io = |e: std::io::Error| format!("{}: {e}", rel_path.display());
        match entry.mode().kind() {
            EntryKind::Tree => {
                fs::create_dir(&path).map_err(io)?;
                let sub = entry
                    .object()
                    .map_err(|e| chain(&e))?
                    .peel_to_tree()
                    .map_err(|e| chain(&e))?;
                write_tree(&sub, &path, &rel_path, notes)?;
            }
            EntryKind::Blob | EntryKind::BlobExecutable => {
                let mode = if entry.mode().kind() == EntryKind::BlobExecutable {
                    0o755
                } else {
                    0o644
                };
                let blob = entry.object().map_err(|e| chain(&e))?;
                let mut f = fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(mode)
                    .open(&path)
                    .map_err(io)?;
                f.write_all(&blob.data).map_err(io)?;
            }
            EntryKind::Link => {
                let blob = entry.object().map_err(|e| chain(&e))?;
                let target = Path::new(std::ffi::OsStr::from_bytes(&blob.data));
                if link_stays_inside(rel, target) {
                    std::os::unix::fs::symlink(target, &path).map_err(io)?;
                } else {
                    notes.push(format!(
                        "skipped symlink {} -> {}: it points outside the repository",
                        rel_path.display(),
                        target.display()
                    ));
                }
            }
            EntryKind::Commit => {
                notes.push(format!(
                    "skipped submodule {}: submodules are not fetched",
                    rel_path.display()
                ));
            }
        }
    }
    Ok(())
}

/// Whether a symlink at `dir/<name>` with `target` resolves inside the checkout, judged on
/// the text alone. `..` is allowed only at the start, where it climbs real directories this
/// checkout made: after a name it could climb out of a symlinked directory (`a/../..` with
/// `a -> ..`). Links named later in a target are themselves checked the same way.
fn link_stays_inside(dir: &Path, target: &Path) -> bool {
    use std::path::Component;
    if target.is_absolute() {
        return false;
    }
    let mut depth = dir.components().count();
    let mut seen_name = false;
    for c in target.components() {
        match c {
            Component::ParentDir if seen_name => return false,
            Component::ParentDir => match depth.checked_sub(1) {
                Some(d) => depth = d,
                None => return false,
            },
            Component::Normal(_) => seen_name = true,
            Component::CurDir => {}
            _ => return false,
        }
    }
    true
}

/// Marks a reused revision as recent so pruning keeps it.
fn touch(root: &Path) {
    if let Ok(f) = fs::File::open(root) {
        let _ = f.set_modified(std::time::SystemTime::now());
    }
}

/// Removes all but the newest `KEEP_REVS` revision directories (and stale temporaries),
/// never `keep`.
fn prune(revs: &Path, keep: &str) {
    let Ok(entries) = fs::read_dir(revs) else {
        return;
    };
    let mut dirs: Vec<(std::time::SystemTime, PathBuf)> = Vec::new();
    for e in entries.flatten() {
        let name = e.file_name();
        let name = name.to_string_lossy();
        if name == keep || name.ends_with(".notes") || name.starts_with(".tmp-") {
            continue;
        }
        let mtime = e
            .metadata()
            .and_then(|m| m.modified())
            .unwrap_or(std::time::UNIX_EPOCH);
        dirs.push((mtime, e.path()));
    }
    dirs.sort_by_key(|d| std::cmp::Reverse(d.0));
    for (_, old) in dirs.into_iter().skip(KEEP_REVS.saturating_sub(1)) {
        let _ = fs::remove_dir_all(&old);
        let _ = fs::remove_file(notes_path(&old));
    }
}

/// reqwest is built without a crypto provider of its own: give rustls ring, as the registry
/// client uses, once per process (a second install is refused, harmlessly).
fn install_tls_provider() {
    // ring lacks the post-quantum key exchange (hence the deprecation); aws-lc-rs has it but
    // needs cmake and a C build for musl.
    #[allow(deprecated)]
    let _ = rustls::crypto::ring::default_provider().install_default();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_redacted() {
        assert_eq!(
            redact_url("https://bob:s3cret@git.example/org/repo.git"),
            "https://git.example/org/repo.git"
        );
        assert_eq!(redact_url("https://git.example/r"), "https://git.example/r");
        assert_eq!(redact_url("ssh://git@host:22/r"), "ssh://host:22/r");
        assert_eq!(redact_url("git@github.com:o/r.git"), "github.com:o/r.git");
        assert_eq!(redact_url("file:///srv/r"), "file:///srv/r");
        assert_eq!(redact_url("/srv/r"), "/srv/r");
    }

    #[test]
    fn userinfo_becomes_credentials() {
        let (url, c) = split_userinfo("https://bob:pw@h/r");
        assert_eq!(url, "https://h/r");
        let c = c.unwrap();
        assert_eq!((c.username.as_str(), c.password.as_str()), ("bob", "pw"));
        assert!(split_userinfo("ssh://git@h/r").1.is_none());
    }

    #[test]
    fn debug_hides_the_password() {
        let c = Credentials {
            username: "bob".into(),
            password: "hunter2".into(),
        };
        let s = format!("{c:?}");
        assert!(s.contains("bob") && !s.contains("hunter2"), "{s}");
        assert_eq!(
            scrub_secret("x hunter2 y".into(), Some(&c)),
            "x <redacted> y"
        );
    }

    #[test]
    fn symlinks_must_stay_inside() {
        assert!(link_stays_inside(Path::new(""), Path::new("a/b")));
        assert!(link_stays_inside(Path::new("d"), Path::new("../x")));
        assert!(!link_stays_inside(Path::new("d"), Path::new("../../x")));
        assert!(!link_stays_inside(Path::new(""), Path::new("../x")));
        assert!(!link_stays_inside(Path::new(""), Path::new("/etc/passwd")));
        assert!(!link_stays_inside(Path::new("d"), Path::new("a/../..")));
    }
}
