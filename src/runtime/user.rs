//! `user:` resolution against the container's /etc/passwd and /etc/group, Docker's rules:
//! "name", "uid", "uid:gid", "name:group"; supplementary groups from /etc/group membership.

use super::error::{Result, RuntimeError};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecUser {
    pub uid: u32,
    pub gid: u32,
    pub groups: Vec<u32>,
    pub home: String,
}

/// Resolves `spec` given the text of passwd and group (missing files = empty strings).
pub fn resolve(spec: &str, passwd: &str, group: &str) -> Result<ExecUser> {
    let (u, g) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let pw: Vec<Vec<&str>> = passwd
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| l.split(':').collect::<Vec<_>>())
        .filter(|f| f.len() >= 7)
        .collect();
    let gr: Vec<Vec<&str>> = group
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| l.split(':').collect::<Vec<_>>())
        .filter(|f| f.len() >= 4)
        .collect();
    let entry = pw
        .iter()
        .find(|f| f[0] == u || (u.parse::<u32>().is_ok() && f[2] == u));
    let (uid, mut gid, name, home) = match (entry, u.parse::<u32>()) {
        (Some(f), _) => (
            f[2].parse()
                .map_err(|_| RuntimeError::User(format!("{u}: bad uid in passwd")))?,
            f[3].parse()
                .map_err(|_| RuntimeError::User(format!("{u}: bad gid in passwd")))?,
            Some(f[0]),
            f[5].to_string(),
        ),
        (None, Ok(n)) => (n, 0, None, "/".to_string()),
        (None, Err(_)) => {
            return Err(RuntimeError::User(format!(
                "unable to find user {u}: no matching entries in passwd file"
            )));
        }
    };
    if let Some(g) = g {
        let found = gr
            .iter()
            .find(|f| f[0] == g || (g.parse::<u32>().is_ok() && f[2] == g));
        gid = match (found, g.parse::<u32>()) {
            (Some(f), _) => f[2]
                .parse()
                .map_err(|_| RuntimeError::User(format!("{g}: bad gid in group")))?,
            (None, Ok(n)) => n,
            (None, Err(_)) => {
                return Err(RuntimeError::User(format!(
                    "unable to find group {g}: no matching entries in group file"
                )));
            }
        };
    }
    let mut groups = vec![gid];
    if let (Some(name), None) = (name, g) {
        for f in &gr {
            if f[3].split(',').any(|m| m == name)
                && let Ok(n) = f[2].parse::<u32>()
                && !groups.contains(&n)
            {
                groups.push(n);
            }
        }
    }
    Ok(ExecUser {
        uid,
        gid,
        groups,
        home,
    })
}

/// Adds `group_add` entries (group names looked up in `group`, or numbers) to the user's
/// supplementary groups, as Docker does: an unknown name is an error.
pub fn add_groups(u: &mut ExecUser, extra: &[String], group: &str) -> Result<()> {
    for g in extra {
        let found = group
            .lines()
            .filter(|l| !l.starts_with('#'))
            .map(|l| l.split(':').collect::<Vec<_>>())
            .filter(|f| f.len() >= 4)
            .find(|f| f[0] == g || (g.parse::<u32>().is_ok() && f[2] == g));
        let gid = match (found, g.parse::<u32>()) {
            (Some(f), _) => f[2]
                .parse()
                .map_err(|_| RuntimeError::User(format!("{g}: bad gid in group")))?,
            (None, Ok(n)) => n,
            (None, Err(_)) => {
                return Err(RuntimeError::User(format!(
                    "group_add: unable to find group {g}: no matching entries in the container's /etc/group"
                )));
            }
        };
        if !u.groups.contains(&gid) {
            u.groups.push(gid);
        }
    }
    Ok(())
}

/// Reads /etc/passwd and /etc/group of the current root and resolves `spec`, with the
/// `group_add` groups.
pub fn resolve_in_root(spec: &str, group_add: &[String]) -> Result<ExecUser> {
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    let group = std::fs::read_to_string("/etc/group").unwrap_or_default();
    let mut u = resolve(spec, &passwd, &group)?;
    add_groups(&mut u, group_add, &group)?;
    Ok(u)
}

/// setgroups, setgid, setuid, in that order (each later call needs privileges the earlier kept).
pub fn switch_to(u: &ExecUser) -> Result<()> {
    // The system calls themselves, not libc's wrappers: those stop every thread of the
    // process to change them all (musl's __synccall, about ten system calls), and the
    // container init and nsexec, the only callers, are single-threaded.
    let gids: Vec<libc::gid_t> = u.groups.clone();
    // SAFETY: setgroups with a valid array of `gids.len()` entries.
    let r = unsafe { libc::syscall(libc::SYS_setgroups, gids.len(), gids.as_ptr()) };
    check(r, || "setgroups".to_string())?;
    // SAFETY: setgid and setuid with integer arguments.
    let r = unsafe { libc::syscall(libc::SYS_setgid, u.gid) };
    check(r, || format!("setgid {}", u.gid))?;
    // SAFETY: as above.
    let r = unsafe { libc::syscall(libc::SYS_setuid, u.uid) };
    check(r, || format!("setuid {}", u.uid))
}

fn check(r: libc::c_long, what: impl FnOnce() -> String) -> Result<()> {
    if r == 0 {
        return Ok(());
    }
    Err(RuntimeError::sys(what(), nix::errno::Errno::last()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\n\
        nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n\
        app:x:1000:1000::/home/app:/bin/sh\n";
    const GROUP: &str = "root:x:0:\nnogroup:x:65534:\napp:x:1000:\nwheel:x:10:app,root\n";

    #[test]
    fn resolves_names_and_numbers() {
        let r = resolve("app", PASSWD, GROUP).unwrap();
        assert_eq!(
            (r.uid, r.gid, r.groups.clone()),
            (1000, 1000, vec![1000, 10])
        );
        assert_eq!(r.home, "/home/app");
        let r = resolve("nobody", PASSWD, GROUP).unwrap();
        assert_eq!((r.uid, r.gid), (65534, 65534));
        let r = resolve("1000:10", PASSWD, GROUP).unwrap();
        assert_eq!((r.uid, r.gid, r.groups), (1000, 10, vec![10]));
        let r = resolve("app:nogroup", PASSWD, GROUP).unwrap();
        assert_eq!((r.uid, r.gid), (1000, 65534));
        let r = resolve("4242", PASSWD, GROUP).unwrap();
        assert_eq!((r.uid, r.gid), (4242, 0));
        let r = resolve("4242:4343", "", "").unwrap();
        assert_eq!((r.uid, r.gid, r.groups), (4242, 4343, vec![4343]));
        let r = resolve("0", PASSWD, GROUP).unwrap();
        assert_eq!((r.uid, r.gid, r.home.as_str()), (0, 0, "/root"));
    }

    #[test]
    fn group_add_by_name_and_number() {
        let mut r = resolve("app", PASSWD, GROUP).unwrap();
        add_groups(
            &mut r,
            &["nogroup".into(), "4242".into(), "10".into()],
            GROUP,
        )
        .unwrap();
        assert_eq!(r.groups, vec![1000, 10, 65534, 4242]);
        assert!(add_groups(&mut r, &["ghosts".into()], GROUP).is_err());
    }

    #[test]
    fn unknown_names_fail() {
        assert!(resolve("ghost", PASSWD, GROUP).is_err());
        assert!(resolve("app:ghosts", PASSWD, GROUP).is_err());
        assert!(resolve("root", "garbage\n", "").is_err());
    }
}
