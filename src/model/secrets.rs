//! A service's `secrets:` and `configs:`: each entry resolved to the bytes the container gets
//! (read by `spec` from the top-level definition's `file`, `environment` or `content`), the
//! absolute path it appears at, and its owner and mode. The daemon writes the bytes into the
//! container's own directory and the runtime binds that file read-only at `target`.
//!
//! The bytes are part of the model, so a changed secret changes the service's config hash
//! (the container is recreated), and the daemon never opens a path the client names.

use serde::{Deserialize, Serialize};

/// Mode of a secret or config file when the entry gives none (Docker's: world-readable).
pub const DEFAULT_FILE_MODE: u32 = 0o444;

/// One `secrets:` or `configs:` entry of a service.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct FileMount {
    /// The top-level secret's or config's key (`source:`).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub source: String,
    /// Absolute path inside the container.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub target: String,
    /// Owner; `None`: root.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uid: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gid: Option<u32>,
    /// Permission bits; `None`: [`DEFAULT_FILE_MODE`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<u32>,
    /// The content, hex in JSON (secrets may be binary). Empty when the stack was loaded
    /// without reading sources (`config`).
    #[serde(with = "hex_bytes", skip_serializing_if = "Vec::is_empty")]
    pub data: Vec<u8>,
}

/// `Vec<u8>` as a hex string.
pub mod hex_bytes {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(v))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        hex::decode(text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_round_trips_as_hex() {
        let f = FileMount {
            source: "s".into(),
            target: "/run/secrets/s".into(),
            data: vec![0, 0xff, b'a'],
            ..Default::default()
        };
        let v = serde_json::to_value(&f).unwrap();
        assert_eq!(v["data"], "00ff61");
        assert_eq!(serde_json::from_value::<FileMount>(v).unwrap(), f);
        assert_eq!(
            serde_json::to_value(FileMount::default()).unwrap(),
            serde_json::json!({})
        );
    }
}
