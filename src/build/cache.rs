//! Build cache keys: a step's key is the sha256 of its parent's key and everything the step
//! depends on (its instruction after expansion, the build args in effect for a RUN, the
//! content and metadata of the files a COPY copies), so a change anywhere invalidates that
//! step and every later one, and nothing else.

use sha2::{Digest, Sha256};

/// The key of `parts`, each length-prefixed so that no two lists share a key.
pub fn key(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_le_bytes());
        h.update(p.as_bytes());
    }
    hex::encode(h.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_do_not_run_together() {
        assert_ne!(key(&["ab", "c"]), key(&["a", "bc"]));
        assert_eq!(key(&["a", "b"]), key(&["a", "b"]));
    }
}
