//! Anonymous volumes across a container's replacement, as docker compose does: a recreated
//! container gets the old container's anonymous volumes at the same targets (compose copies
//! the previous container's mounts), unless `up -V/--renew-anon-volumes` asks for fresh ones;
//! `rm` and `down` remove them only with `-v`. The runtime removes the anonymous volumes a
//! removed container's config names: a kept one is marked not anonymous in the config the
//! runtime gets, so it stays (listed by `volume ls` under its hash name, taken by `volume prune`).

use super::engine::ImageSource;
use super::runtime::Runtime;
use super::{Engine, EngineError};
use crate::model::Stack;
use crate::plan::ResolvedImage;
use crate::runtime::config::ContainerConfig;
use crate::store::ContainerRecord;

/// Gives `new` the anonymous volumes `old` has at the same targets. Returns the names taken.
pub fn inherit(new: &mut ContainerConfig, old: &ContainerConfig) -> Vec<String> {
    let mut taken = Vec::new();
    for m in new.mounts.iter_mut() {
        let Some(v) = m.volume.as_mut().filter(|v| v.anonymous) else {
            continue;
        };
        let prev = old.mounts.iter().find_map(|o| {
            o.volume
                .as_ref()
                .filter(|ov| ov.anonymous && o.destination == m.destination)
        });
        if let Some(p) = prev {
            v.name = p.name.clone();
            taken.push(p.name.clone());
        }
    }
    taken
}

/// `cfg` as the runtime must see it to remove the container but keep the anonymous volumes
/// `keep` says yes to.
pub fn keeping(cfg: &ContainerConfig, keep: impl Fn(&str) -> bool) -> ContainerConfig {
    let mut out = cfg.clone();
    for v in out.mounts.iter_mut().filter_map(|m| m.volume.as_mut()) {
        if v.anonymous && keep(&v.name) {
            v.anonymous = false;
        }
    }
    out
}

/// How `up` replaces a container: `-V` (new anonymous volumes) and `-t` (the old one's
/// stop timeout instead of its stop_grace_period).
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Replacing {
    pub renew_anon: bool,
    pub stop_timeout: Option<std::time::Duration>,
}

impl<R: Runtime, I: ImageSource> Engine<R, I> {
    /// The record replacing container `old_id` (replica `number` of `service`), with the old
    /// one removed (stopped within `how.stop_timeout` when given): its anonymous volumes go
    /// to the new one unless `how.renew_anon`.
    pub(super) async fn replace(
        &self,
        stack: &Stack,
        service: &str,
        image: &ResolvedImage,
        old_id: &str,
        number: u32,
        how: Replacing,
    ) -> Result<ContainerRecord, EngineError> {
        let mut rec = self.new_record(stack, service, image, None, number)?;
        let old = self
            .records(Some(&stack.name))?
            .into_iter()
            .find(|r| r.id == old_id);
        if let Some(old) = old {
            let taken = match how.renew_anon {
                true => Vec::new(),
                false => inherit(&mut rec.config, &old.config),
            };
            self.remove_container_keeping(&old, how.stop_timeout, |n| taken.iter().any(|t| t == n))
                .await;
        }
        Ok(rec)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::config::{MountConfig, VolumeSource};

    fn cfg(mounts: &[(&str, &str, bool)]) -> ContainerConfig {
        let who = crate::plan::ContainerIdentity {
            id: "0123456789abcdef",
            project: "p",
            name: "p-a-1",
            state_dir: std::path::Path::new("/data/c/0123"),
        };
        let img = ResolvedImage {
            id: "sha256:abc".into(),
            reference: "busybox:latest".into(),
            layers: Vec::new(),
            config: crate::plan::ImageConfig {
                cmd: Some(vec!["sh".into()]),
                ..Default::default()
            },
        };
        let svc = crate::plan::tests::service("a");
        let mut c = crate::plan::container_config(&who, &svc, &img, None).expect("config");
        c.mounts = mounts
            .iter()
            .map(|(dest, name, anonymous)| MountConfig {
                destination: dest.to_string(),
                kind: "bind".into(),
                source: String::new(),
                options: vec!["rbind".into()],
                create_source: false,
                volume: Some(VolumeSource {
                    name: name.to_string(),
                    anonymous: *anonymous,
                    ..Default::default()
                }),
                seed: false,
                file: None,
            })
            .collect();
        c
    }

    fn names(c: &ContainerConfig) -> Vec<(String, bool)> {
        c.mounts
            .iter()
            .filter_map(|m| m.volume.as_ref())
            .map(|v| (v.name.clone(), v.anonymous))
            .collect()
    }

    #[test]
    fn a_new_container_takes_the_old_anonymous_volumes_by_target() {
        let old = cfg(&[
            ("/data", "h1", true),
            ("/db", "p_db", false),
            ("/gone", "h2", true),
        ]);
        let mut new = cfg(&[
            ("/data", "n1", true),
            ("/db", "p_db", false),
            ("/new", "n3", true),
        ]);
        assert_eq!(inherit(&mut new, &old), ["h1"]);
        assert_eq!(
            names(&new),
            [
                ("h1".to_string(), true),
                ("p_db".to_string(), false),
                ("n3".to_string(), true)
            ]
        );
    }

    #[test]
    fn a_named_volume_at_an_old_anonymous_target_takes_nothing() {
        let old = cfg(&[("/data", "h1", true)]);
        let mut new = cfg(&[("/data", "p_data", false)]);
        assert!(inherit(&mut new, &old).is_empty());
        assert_eq!(names(&new), [("p_data".to_string(), false)]);
    }

    #[test]
    fn kept_anonymous_volumes_are_not_named_for_removal() {
        let c = cfg(&[("/a", "h1", true), ("/b", "h2", true), ("/c", "p_c", false)]);
        let k = keeping(&c, |n| n == "h1");
        // What the runtime removes with the container (`VolumeStore::anonymous_of`).
        let removed = |c: &ContainerConfig| -> Vec<String> {
            names(c)
                .into_iter()
                .filter(|(_, anon)| *anon)
                .map(|(n, _)| n)
                .collect()
        };
        assert_eq!(removed(&k), ["h2"]);
        assert!(removed(&keeping(&c, |_| true)).is_empty());
        assert_eq!(keeping(&c, |_| false), c);
    }
}
