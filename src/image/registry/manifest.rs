//! Manifests as registries serve them: the four media types (OCI and Docker v2 schema 2,
//! single manifests and indexes / manifest lists), telling them apart, and picking the
//! linux/amd64 (the host's) manifest of a multi-platform index.

use super::Platform;
use crate::image::oci::{Descriptor, Index, MT_INDEX, MT_MANIFEST};

pub(crate) const MT_DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub(crate) const MT_DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";

/// The `Accept` header of a manifest request: every kind rstack can use.
pub(crate) fn accept() -> String {
    [MT_INDEX, MT_MANIFEST, MT_DOCKER_LIST, MT_DOCKER_MANIFEST].join(", ")
}

/// What a fetched manifest document is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A multi-platform index (OCI index or Docker manifest list).
    Index,
    /// An image manifest (OCI or Docker schema 2).
    Image,
}

/// Classifies a manifest from its Content-Type and, when that is missing or generic, from
/// its own `mediaType` and shape. Schema 1 and unknown documents are refused.
pub(crate) fn classify(content_type: Option<&str>, body: &[u8]) -> Result<(Kind, String), String> {
    let declared = content_type
        .map(|c| c.split(';').next().unwrap_or("").trim().to_string())
        .filter(|c| !c.is_empty() && c != "application/json" && c != "text/plain");
    let value: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| format!("the manifest is not JSON: {e}"))?;
    let own = value
        .get("mediaType")
        .and_then(|m| m.as_str())
        .map(str::to_string);
    let media = declared.or(own);
    match media.as_deref() {
        Some(MT_INDEX) | Some(MT_DOCKER_LIST) => Ok((Kind::Index, media.unwrap_or_default())),
        Some(MT_MANIFEST) | Some(MT_DOCKER_MANIFEST) => {
            Ok((Kind::Image, media.unwrap_or_default()))
        }
        Some(m) if m.contains("distribution.manifest.v1") => Err(format!(
            "it has a Docker schema 1 manifest ({m}), which rstack does not read: push it again with a current tool"
        )),
        Some(m) => Err(format!("unsupported manifest media type {m}")),
        // An OCI document may omit its media type: its shape tells.
        None if value.get("manifests").is_some() => Ok((Kind::Index, MT_INDEX.to_string())),
        None if value.get("config").is_some() => Ok((Kind::Image, MT_MANIFEST.to_string())),
        None => Err("the manifest has no media type and is neither an index nor an image".into()),
    }
}

/// Picks the manifest for `want` from an index, preferring the first one listed (a wanted
/// variant must match; none wanted takes any); attestation entries (`unknown/unknown`)
/// never match.
pub(crate) fn select_platform<'a>(
    index: &'a Index,
    want: &Platform,
) -> Result<&'a Descriptor, String> {
    index
        .manifests
        .iter()
        .find(|d| {
            d.platform
                .as_ref()
                .is_some_and(|p| want.matches(&p.os, &p.architecture, p.variant.as_deref()))
        })
        .ok_or_else(|| {
            let have: Vec<String> = index
                .manifests
                .iter()
                .filter_map(|d| d.platform.as_ref())
                .filter(|p| p.os != "unknown")
                .map(|p| match &p.variant {
                    Some(v) => format!("{}/{}/{v}", p.os, p.architecture),
                    None => format!("{}/{}", p.os, p.architecture),
                })
                .collect();
            format!(
                "no manifest for {want} in the index (it has: {})",
                if have.is_empty() {
                    "none".to_string()
                } else {
                    have.join(", ")
                }
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifests_are_classified_by_header_then_body() {
        let list = br#"{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.list.v2+json","manifests":[]}"#;
        assert_eq!(classify(None, list).expect("list").0, Kind::Index);
        assert_eq!(
            classify(Some("application/vnd.oci.image.manifest.v1+json"), b"{}").expect("m"),
            (Kind::Image, MT_MANIFEST.to_string())
        );
        let bare_oci =
            br#"{"schemaVersion":2,"config":{"digest":"sha256:00","size":1},"layers":[]}"#;
        assert_eq!(
            classify(Some("application/json"), bare_oci).expect("oci").0,
            Kind::Image
        );
        let bare_index = br#"{"schemaVersion":2,"manifests":[]}"#;
        assert_eq!(classify(None, bare_index).expect("idx").0, Kind::Index);
        let v1 = classify(
            Some("application/vnd.docker.distribution.manifest.v1+prettyjws"),
            b"{}",
        )
        .expect_err("schema 1");
        assert!(v1.contains("schema 1"), "{v1}");
        assert!(classify(None, b"not json").is_err());
    }

    #[test]
    fn the_index_entry_for_linux_amd64_is_chosen() {
        let index: Index = serde_json::from_str(
            r#"{"schemaVersion":2,"manifests":[
              {"digest":"sha256:a","size":1,"platform":{"os":"linux","architecture":"arm","variant":"v7"}},
              {"digest":"sha256:b","size":1,"platform":{"os":"unknown","architecture":"unknown"}},
              {"digest":"sha256:c","size":1,"platform":{"os":"linux","architecture":"amd64"}},
              {"digest":"sha256:d","size":1,"platform":{"os":"linux","architecture":"arm64","variant":"v8"}}]}"#,
        )
        .expect("index");
        if crate::image::oci::host_arch() == "amd64" {
            assert_eq!(
                select_platform(&index, &Platform::host())
                    .expect("amd64")
                    .digest,
                "sha256:c"
            );
        }
        let only_arm: Index = serde_json::from_str(
            r#"{"schemaVersion":2,"manifests":[
              {"digest":"sha256:a","size":1,"platform":{"os":"linux","architecture":"riscv64"}},
              {"digest":"sha256:b","size":1,"platform":{"os":"unknown","architecture":"unknown"}}]}"#,
        )
        .expect("index");
        let e = select_platform(&only_arm, &Platform::host()).expect_err("none");
        assert!(e.contains("linux/riscv64") && !e.contains("unknown"), "{e}");
    }

    #[test]
    fn a_named_platform_is_picked_from_the_index() {
        let index: Index = serde_json::from_str(
            r#"{"schemaVersion":2,"manifests":[
              {"digest":"sha256:a","size":1,"platform":{"os":"linux","architecture":"arm","variant":"v7"}},
              {"digest":"sha256:c","size":1,"platform":{"os":"linux","architecture":"amd64"}},
              {"digest":"sha256:d","size":1,"platform":{"os":"linux","architecture":"arm64","variant":"v8"}}]}"#,
        )
        .expect("index");
        let want = |a: &str, v: Option<&str>| Platform {
            os: "linux".into(),
            architecture: a.into(),
            variant: v.map(str::to_string),
        };
        let pick = |p: Platform| select_platform(&index, &p).map(|d| d.digest.clone());
        assert_eq!(pick(want("arm64", None)).expect("arm64"), "sha256:d");
        assert_eq!(pick(want("arm", Some("v7"))).expect("v7"), "sha256:a");
        let e = pick(want("arm", Some("v6"))).expect_err("v6");
        assert!(
            e.contains("linux/arm/v6") && e.contains("linux/arm/v7"),
            "{e}"
        );
    }
}
