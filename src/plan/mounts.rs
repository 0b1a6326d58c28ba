//! A service's `tmpfs:` and `volumes:` as the runtime's mounts.
//!
//! Binds go as they are (recursive, as Docker binds; `ro` applied by a read-only remount in
//! the runtime), with `create_source` unless the entry said `create_host_path: false`.
//! Named and anonymous volumes go as binds carrying a `VolumeSource`, which the daemon turns
//! into a bind of the volume's directory (or its tmpfs) before the start. Parents are
//! mounted before what is mounted inside them.

use crate::model::{MountKind, Service, Tmpfs, VolumeMount};
use crate::runtime::config::{MountConfig, VolumeSource};
use sha2::{Digest, Sha256};

/// `image_volumes`: the image's `VOLUME` paths; each one the service mounts nothing at gets
/// an anonymous volume, as Docker gives it.
pub fn mounts(container_id: &str, service: &Service, image_volumes: &[String]) -> Vec<MountConfig> {
    let mut out: Vec<MountConfig> = service.tmpfs.iter().map(tmpfs).collect();
    out.extend(
        service
            .volumes
            .iter()
            .map(|v| volume_mount(container_id, v)),
    );
    for path in image_volumes {
        let target = clean(path);
        if target.starts_with('/') && !out.iter().any(|m| m.destination == target) {
            let anon = VolumeMount {
                kind: MountKind::Volume,
                target,
                ..VolumeMount::default()
            };
            out.push(volume_mount(container_id, &anon));
        }
    }
    // A stable sort by depth: `/data` before `/data/cache`, file order otherwise.
    out.sort_by_key(|m| m.destination.split('/').filter(|c| !c.is_empty()).count());
    out
}

/// `/data/` and `/data` are the same mount point.
fn clean(p: &str) -> String {
    match p.trim_end_matches('/') {
        "" => "/".to_string(),
        t => t.to_string(),
    }
}

fn tmpfs(t: &Tmpfs) -> MountConfig {
    tmpfs_at(&t.target, t.size, t.mode, false)
}

fn tmpfs_at(target: &str, size: Option<u64>, mode: Option<u32>, ro: bool) -> MountConfig {
    let mut options = vec!["nosuid".into(), "nodev".into(), "noexec".into()];
    if ro {
        options.push("ro".into());
    }
    if let Some(size) = size {
        options.push(format!("size={size}"));
    }
    if let Some(mode) = mode {
        options.push(format!("mode={mode:o}"));
    }
    MountConfig {
        destination: target.to_string(),
        kind: "tmpfs".into(),
        source: "tmpfs".into(),
        options,
        create_source: false,
        volume: None,
        seed: false,
        file: None,
    }
}

/// The name of the anonymous volume a container gets at `target`: stable for the container
/// (a restart mounts the same one), distinct between containers.
pub fn anonymous_name(container_id: &str, target: &str) -> String {
    let mut h = Sha256::new();
    h.update(container_id.as_bytes());
    h.update([0]);
    h.update(target.as_bytes());
    hex::encode(h.finalize())
}

fn volume_mount(container_id: &str, v: &VolumeMount) -> MountConfig {
    let mut options = vec!["rbind".to_string()];
    if v.read_only {
        options.push("ro".into());
    }
    match v.kind {
        MountKind::Tmpfs => tmpfs_at(&v.target, v.size, v.mode, v.read_only),
        MountKind::Bind => {
            if let Some(p) = &v.propagation {
                options.push(p.clone());
            }
            MountConfig {
                destination: v.target.clone(),
                kind: "bind".into(),
                source: v.source.clone(),
                options,
                create_source: !v.no_create_host_path,
                volume: None,
                seed: false,
                file: None,
            }
        }
        MountKind::Volume => {
            let anonymous = v.source.is_empty();
            let name = if anonymous {
                anonymous_name(container_id, &v.target)
            } else {
                v.source.clone()
            };
            let def = v.volume.clone().unwrap_or_default();
            MountConfig {
                destination: v.target.clone(),
                kind: "bind".into(),
                source: String::new(),
                options,
                create_source: false,
                volume: Some(VolumeSource {
                    name,
                    anonymous,
                    external: def.external,
                    nocopy: v.nocopy,
                    project: def.project,
                    labels: def.labels.into_iter().collect(),
                    driver_opts: def.driver_opts.into_iter().collect(),
                }),
                seed: false,
                file: None,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::VolumeDef;

    #[test]
    fn volumes_become_mounts_parents_first() {
        let mut s = Service::new("a", "x");
        s.volumes = vec![
            VolumeMount {
                kind: MountKind::Bind,
                source: "/h/sub".into(),
                target: "/data/sub".into(),
                read_only: true,
                ..Default::default()
            },
            VolumeMount {
                kind: MountKind::Volume,
                source: "p_db".into(),
                target: "/data".into(),
                volume: Some(VolumeDef {
                    project: "p".into(),
                    ..Default::default()
                }),
                ..Default::default()
            },
            VolumeMount {
                kind: MountKind::Volume,
                target: "/anon".into(),
                ..Default::default()
            },
        ];
        let m = mounts("cid", &s, &["/anon/".into(), "/img".into()]);
        assert_eq!(m[0].destination, "/data");
        let v = m[0].volume.as_ref().expect("volume");
        assert_eq!(
            (v.name.as_str(), v.project.as_str(), v.anonymous),
            ("p_db", "p", false)
        );
        assert_eq!(m[1].destination, "/anon");
        let a = m[1].volume.as_ref().expect("volume");
        assert!(a.anonymous);
        assert_eq!(a.name, anonymous_name("cid", "/anon"));
        assert_ne!(a.name, anonymous_name("cid2", "/anon"));
        assert_eq!(m[2].destination, "/img");
        assert!(m[2].volume.as_ref().is_some_and(|v| v.anonymous));
        assert_eq!(m.len(), 4, "/anon/ of the image is the service's /anon");
        let m = &m[1..];
        assert_eq!(m[2].destination, "/data/sub");
        assert_eq!(m[2].options, ["rbind", "ro"]);
        assert!(m[2].create_source);
    }
}
