//! A service's `build:` (the Compose Specification's build section), resolved by `spec`:
//! the context and Dockerfile as absolute paths, args with the environment's values filled
//! in. Only what rstack honours is here; the keys it accepts without effect are warned
//! about at load and dropped.

use super::defaults::is_default;
use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

/// How to build a service's image. `Default` is `build: .` before path resolution.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct BuildSpec {
    /// The build context: an absolute directory (remote contexts are refused at load).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub context: String,
    /// The Dockerfile: an absolute path (`dockerfile:` resolved against the context,
    /// `Dockerfile` in it by default). Empty when `dockerfile_inline` is set.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub dockerfile: String,
    /// `dockerfile_inline`: the Dockerfile's text itself.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dockerfile_inline: Option<String>,
    /// Build args in file order. An arg written without a value took the environment's
    /// (shell over `.env`), as Compose does; one the environment lacks is left out, so the
    /// Dockerfile's default applies.
    #[serde(skip_serializing_if = "IndexMap::is_empty")]
    pub args: IndexMap<String, String>,
    /// `target`: the stage to build (the last one when `None`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// Extra names for the built image, besides the service's image.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// Labels added to the image's config.
    #[serde(skip_serializing_if = "IndexMap::is_empty")]
    pub labels: IndexMap<String, String>,
    /// Named contexts for `FROM name` / `COPY --from=name`: an absolute directory, or as
    /// written for `docker-image://REF`, `service:NAME` and other schemes.
    #[serde(skip_serializing_if = "IndexMap::is_empty")]
    pub additional_contexts: IndexMap<String, String>,
    #[serde(skip_serializing_if = "is_default")]
    pub no_cache: bool,
    /// `pull`: look for newer base images even when present.
    #[serde(skip_serializing_if = "is_default")]
    pub pull: bool,
    /// `network` of RUN steps (`none`, `host`, `default`); `None`: the default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network: Option<String>,
}
