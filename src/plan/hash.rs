//! Canonical, versioned config hash: equal hashes mean "nothing to recreate".
//!
//! Like compose's `ServiceHash`, the hash covers the resolved service without the keys that do
//! not change the container (depends_on, build, scale; profiles never reach the model), plus the
//! image id, so a re-imported tag recreates exactly the services that use it. The JSON is
//! canonicalized through `serde_json::Value` (sorted keys), so reordering keys or environment
//! entries in the file does not recreate anything (compose#9600).
//!
//! The canonical form is the v1 field set at its values (defaults put back, `hash_shape`)
//! plus every later field only when it is not at its default: the hash of any service the
//! previous releases stored is unchanged, and adding a defaulted field changes no hash.

use super::hash_shape::{SERVICE, fill};
use crate::model::Service;
use sha2::{Digest, Sha256};

/// Bumped when the hashed shape changes, so an upgrade recreates deliberately, not by accident.
const HASH_VERSION: &str = "rstack-config-v1";

pub fn config_hash(service: &Service, image_id: &str) -> String {
    // Serializing plain data cannot fail; a Null fallback would still hash deterministically.
    let value = serde_json::to_value(service).unwrap_or(serde_json::Value::Null);
    hash_value(value, image_id)
}

/// The hash of a service given as its serialized JSON (tests pass shapes the model does not
/// have yet).
pub(super) fn hash_value(value: serde_json::Value, image_id: &str) -> String {
    let canonical = canonical_json(value);
    let mut h = Sha256::new();
    h.update(HASH_VERSION.as_bytes());
    h.update([0]);
    h.update(image_id.as_bytes());
    h.update([0]);
    h.update(canonical.as_bytes());
    hex::encode(h.finalize())
}

/// The text that is hashed: without depends_on, build and scale, v1's keys put back, sorted keys, no
/// whitespace.
pub(super) fn canonical_json(mut value: serde_json::Value) -> String {
    if let Some(map) = value.as_object_mut() {
        map.remove("depends_on");
        // How the image is built changes the container only through the image id, which is
        // hashed: a build spec edit alone recreates nothing, and adding the field changed no
        // stored hash.
        map.remove("build");
        // The number of replicas is not a container's config: scaling adds or removes
        // containers and never recreates the ones that stay (compose excludes it too).
        map.remove("scale");
        // Watch rules are for the CLI's dev loop, not the container.
        map.remove("develop");
    }
    fill(&mut value, &SERVICE);
    serde_json::to_string(&value).unwrap_or_default()
}
