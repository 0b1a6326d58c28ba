//! Canonical, versioned config hash: equal hashes mean "nothing to recreate".
//!
//! Like compose's `ServiceHash`, the hash covers the resolved service without the keys that do
//! not change the container (depends_on; scale and profiles never reach the model), plus the
//! image id, so a re-imported tag recreates exactly the services that use it. The JSON is
//! canonicalized through `serde_json::Value` (sorted keys), so reordering keys or environment
//! entries in the file does not recreate anything (compose#9600).

use crate::model::Service;
use sha2::{Digest, Sha256};

/// Bumped when the hashed shape changes, so an upgrade recreates deliberately, not by accident.
const HASH_VERSION: &str = "rstack-config-v1";

pub fn config_hash(service: &Service, image_id: &str) -> String {
    let mut svc = service.clone();
    svc.depends_on.clear();
    // Serializing plain data cannot fail; a Null fallback would still hash deterministically.
    let value = serde_json::to_value(&svc).unwrap_or(serde_json::Value::Null);
    let canonical = serde_json::to_string(&value).unwrap_or_default();
    let mut h = Sha256::new();
    h.update(HASH_VERSION.as_bytes());
    h.update([0]);
    h.update(image_id.as_bytes());
    h.update([0]);
    h.update(canonical.as_bytes());
    hex::encode(h.finalize())
}
