//! A service's secrets and configs as the runtime's mounts: each a read-only bind of a file
//! in the container's own directory (`<state_dir>/secrets/N-NAME`, `<state_dir>/configs/...`),
//! whose content, mode and owner the daemon writes before each start.

use crate::model::{DEFAULT_FILE_MODE, FileMount, Service};
use crate::runtime::config::{FileSource, MountConfig};
use std::path::Path;

/// Appends the service's secret and config mounts to `mounts` (parents stay first).
pub fn add(mounts: &mut Vec<MountConfig>, state_dir: &Path, service: &Service) {
    for (dir, list) in [("secrets", &service.secrets), ("configs", &service.configs)] {
        for (i, f) in list.iter().enumerate() {
            // The index keeps two entries of one source (at two targets) apart; the name
            // only helps whoever looks into the directory.
            let file = state_dir.join(dir).join(format!("{i}-{}", safe(&f.source)));
            mounts.push(mount(&file, f));
        }
    }
    mounts.sort_by_key(|m| m.destination.split('/').filter(|c| !c.is_empty()).count());
}

fn mount(file: &Path, f: &FileMount) -> MountConfig {
    MountConfig {
        destination: f.target.clone(),
        kind: "bind".into(),
        source: file.to_string_lossy().into_owned(),
        // nosuid/nodev/noexec as Docker mounts its secrets.
        options: ["rbind", "ro", "nosuid", "nodev", "noexec"]
            .map(String::from)
            .to_vec(),
        create_source: false,
        volume: None,
        seed: false,
        file: Some(FileSource {
            data: f.data.clone(),
            mode: f.mode.unwrap_or(DEFAULT_FILE_MODE),
            uid: f.uid.unwrap_or(0),
            gid: f.gid.unwrap_or(0),
        }),
    }
}

/// A name safe as one path component.
fn safe(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_and_configs_become_read_only_binds_with_their_content() {
        let mut s = Service::new("a", "x");
        s.secrets = vec![FileMount {
            source: "db/pw".into(),
            target: "/run/secrets/db".into(),
            data: b"hunter2".to_vec(),
            ..Default::default()
        }];
        s.configs = vec![FileMount {
            source: "c".into(),
            target: "/etc/c.conf".into(),
            mode: Some(0o440),
            uid: Some(7),
            gid: Some(8),
            data: b"x=1".to_vec(),
        }];
        let mut m = Vec::new();
        add(&mut m, Path::new("/d/c1"), &s);
        assert_eq!(m.len(), 2);
        assert_eq!(m[0].destination, "/etc/c.conf");
        assert_eq!(m[0].source, "/d/c1/configs/0-c");
        let f = m[0].file.as_ref().unwrap();
        assert_eq!((f.mode, f.uid, f.gid), (0o440, 7, 8));
        assert_eq!(m[1].source, "/d/c1/secrets/0-db_pw");
        assert!(m[1].options.iter().any(|o| o == "ro"));
        let f = m[1].file.as_ref().unwrap();
        assert_eq!(
            (f.mode, f.uid, f.data.as_slice()),
            (0o444, 0, &b"hunter2"[..])
        );
    }

    #[test]
    fn a_changed_secret_changes_the_config_hash_and_none_keeps_the_old_one() {
        let plain = Service::new("a", "x");
        let mut one = plain.clone();
        one.secrets = vec![FileMount {
            source: "s".into(),
            target: "/run/secrets/s".into(),
            data: b"1".to_vec(),
            ..Default::default()
        }];
        let mut two = one.clone();
        two.secrets[0].data = b"2".to_vec();
        let h = |s: &Service| crate::plan::config_hash(s, "img");
        assert_ne!(h(&one), h(&two));
        assert_ne!(h(&one), h(&plain));
        // Unused, neither key enters the hashed document: the previous release's hash holds.
        let v = serde_json::to_value(&plain).unwrap();
        assert!(v.get("secrets").is_none() && v.get("configs").is_none());
        assert!(v.get("post_start").is_none() && v.get("pre_stop").is_none());
    }
}
