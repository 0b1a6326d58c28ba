//! Tags in index.json, as pure operations on the `Index`: an entry with a ref name is a tag;
//! an entry without one is a dangling image, kept (as Docker keeps the old image untagged)
//! when its last tag moved to another image, until `image prune` or `image rm` removes it.
//!
//! Invariants kept by every operation here: at most one entry per tag, at most one untagged
//! entry per manifest digest, and no untagged entry for a manifest that also has a tag.

use super::oci::{Descriptor, Index, REF_NAME};

/// Whether an index entry is a dangling (untagged) image.
pub(crate) fn is_dangling(d: &Descriptor) -> bool {
    !d.annotations.contains_key(REF_NAME)
}

/// Points tag `key` at `desc` (whose annotations get the ref name). The image the tag named
/// before, if it is another one and no other tag names it, stays as a dangling entry.
/// Returns whether the tag moved from another image.
pub(crate) fn set_tag(index: &mut Index, key: &str, desc: &Descriptor) -> bool {
    let mut desc = desc.clone();
    desc.annotations
        .insert(REF_NAME.to_string(), key.to_string());
    let old = index
        .manifests
        .iter()
        .position(|d| d.annotations.get(REF_NAME).map(String::as_str) == Some(key));
    let moved = match old {
        Some(i) => {
            let before = std::mem::replace(&mut index.manifests[i], desc.clone());
            if before.digest != desc.digest {
                keep_untagged(index, before);
                true
            } else {
                false
            }
        }
        None => {
            index.manifests.push(desc.clone());
            false
        }
    };
    // A dangling image that got a tag again is no longer dangling.
    index
        .manifests
        .retain(|d| !(is_dangling(d) && d.digest == desc.digest));
    moved
}

/// Adds `desc` (without its ref name) as a dangling entry unless something (a tag or
/// another dangling entry) still names its manifest.
pub(crate) fn keep_untagged(index: &mut Index, mut desc: Descriptor) {
    if index.manifests.iter().any(|d| d.digest == desc.digest) {
        return;
    }
    desc.annotations.remove(REF_NAME);
    index.manifests.push(desc);
}

/// The tags that name manifest `digest`, in index order.
pub(crate) fn tags_of(index: &Index, digest: &str) -> Vec<String> {
    index
        .manifests
        .iter()
        .filter(|d| d.digest == digest)
        .filter_map(|d| d.annotations.get(REF_NAME).cloned())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn desc(digest: &str) -> Descriptor {
        Descriptor {
            media_type: String::new(),
            digest: digest.to_string(),
            size: 1,
            annotations: BTreeMap::new(),
            platform: None,
        }
    }

    fn shape(index: &Index) -> Vec<(String, Option<String>)> {
        index
            .manifests
            .iter()
            .map(|d| (d.digest.clone(), d.annotations.get(REF_NAME).cloned()))
            .collect()
    }

    #[test]
    fn a_moved_tag_leaves_the_old_image_dangling_once() {
        let mut ix = Index::empty();
        assert!(!set_tag(&mut ix, "app:1", &desc("a")));
        assert!(set_tag(&mut ix, "app:1", &desc("b")));
        assert_eq!(
            shape(&ix),
            [("b".into(), Some("app:1".into())), ("a".into(), None)]
        );
        // Moving it again: b dangles too, a stays dangling once.
        assert!(set_tag(&mut ix, "app:1", &desc("a")));
        assert_eq!(
            shape(&ix),
            [("a".into(), Some("app:1".into())), ("b".into(), None)]
        );
        // The same image again is no move.
        assert!(!set_tag(&mut ix, "app:1", &desc("a")));
        assert_eq!(ix.manifests.len(), 2);
    }

    #[test]
    fn an_image_with_another_tag_does_not_dangle() {
        let mut ix = Index::empty();
        set_tag(&mut ix, "app:1", &desc("a"));
        set_tag(&mut ix, "app:stable", &desc("a"));
        set_tag(&mut ix, "app:1", &desc("b"));
        assert_eq!(
            shape(&ix),
            [
                ("b".into(), Some("app:1".into())),
                ("a".into(), Some("app:stable".into()))
            ]
        );
        assert_eq!(tags_of(&ix, "a"), ["app:stable"]);
        assert!(ix.manifests.iter().all(|d| !is_dangling(d)));
    }
}
