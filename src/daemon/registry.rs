//! The daemon's side of registry operations: the image store plus the `[registry]`
//! settings, behind the API's `RegistryAdmin`.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::api::registry::RegistryAdmin;
use crate::api::types::ImageView;
use crate::image::ImageStore;
use crate::image::registry::{self, Credentials, Settings};

pub struct Registries {
    pub store: Arc<ImageStore>,
    pub settings: Settings,
}

impl RegistryAdmin for Registries {
    fn pull(
        &self,
        reference: &str,
        auths: &BTreeMap<String, String>,
        progress: &(dyn Fn(&str) + Sync),
    ) -> Result<ImageView, String> {
        let i = registry::pull(&self.store, &self.settings, reference, auths, progress)
            .map_err(|e| e.to_string())?;
        Ok(ImageView {
            reference: i.reference,
            id: i.id,
            digest: i.digest,
            size: i.size,
            compressed_size: i.compressed_size,
            created: i.created,
        })
    }

    fn push(
        &self,
        reference: &str,
        auths: &BTreeMap<String, String>,
        progress: &(dyn Fn(&str) + Sync),
    ) -> Result<String, String> {
        registry::push(&self.store, &self.settings, reference, auths, progress)
            .map_err(|e| e.to_string())
    }

    fn login(&self, registry: &str, username: &str, password: &str) -> Result<(), String> {
        let creds = Credentials {
            username: username.to_string(),
            password: password.to_string(),
        };
        registry::login(&self.settings, registry, &creds).map_err(|e| e.to_string())
    }
}
