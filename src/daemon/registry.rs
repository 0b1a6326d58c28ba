//! The daemon's side of registry operations: the image store plus the `[registry]`
//! settings, behind the API's `RegistryAdmin`.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::api::registry::{ImageStatusView, RegistryAdmin, TransferLine};
use crate::api::types::ImageView;
use crate::image::ImageStore;
use crate::image::registry::{self, Credentials, Event, Settings};

pub struct Registries {
    pub store: Arc<ImageStore>,
    pub settings: Settings,
}

impl RegistryAdmin for Registries {
    fn pull(
        &self,
        reference: &str,
        platform: Option<&str>,
        auths: &BTreeMap<String, String>,
        progress: &(dyn Fn(TransferLine) + Sync),
    ) -> Result<ImageView, String> {
        let report = |e: Event| progress(line_of(e));
        let platform = platform_of(platform)?;
        let i = registry::pull(
            &self.store,
            &self.settings,
            reference,
            platform.as_ref(),
            auths,
            &report,
        )
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

    fn check(
        &self,
        reference: &str,
        platform: Option<&str>,
        auths: &BTreeMap<String, String>,
        push: bool,
    ) -> Result<Vec<String>, String> {
        let res = match push {
            true => registry::push_check(&self.store, &self.settings, reference, auths),
            false => {
                let platform = platform_of(platform)?;
                registry::pull_check(
                    &self.store,
                    &self.settings,
                    reference,
                    platform.as_ref(),
                    auths,
                )
            }
        };
        res.map_err(|e| e.to_string())
    }

    fn status(&self, references: &[String]) -> Result<Vec<ImageStatusView>, String> {
        references
            .iter()
            .map(|r| {
                let st = self.store.pull_status(r).map_err(|e| format!("{r}: {e}"))?;
                Ok(match st {
                    Some(s) => ImageStatusView {
                        reference: r.clone(),
                        present: true,
                        id: Some(s.id),
                        pulled_at: s.pulled_at,
                        platform: Some(s.platform),
                    },
                    None => ImageStatusView {
                        reference: r.clone(),
                        ..ImageStatusView::default()
                    },
                })
            })
            .collect()
    }

    fn login(&self, registry: &str, username: &str, password: &str) -> Result<(), String> {
        let creds = Credentials {
            username: username.to_string(),
            password: password.to_string(),
        };
        registry::login(&self.settings, registry, &creds).map_err(|e| e.to_string())
    }
}

/// `os/arch[/variant]` as the registry code takes it.
fn platform_of(platform: Option<&str>) -> Result<Option<registry::Platform>, String> {
    Ok(match platform {
        Some(p) => {
            let p = crate::model::Platform::parse(p, crate::model::host_arch())?;
            Some(registry::Platform {
                os: p.os,
                architecture: p.architecture,
                variant: p.variant,
            })
        }
        None => None,
    })
}

/// A pull's event as the API streams it: its text as `status` (what every client prints),
/// and per layer the fields a client draws progress from.
fn line_of(e: Event) -> TransferLine {
    let mut l = TransferLine {
        status: e.text(),
        ..TransferLine::default()
    };
    match e {
        Event::Step(_) => {}
        Event::Bytes { layer, done, total } => {
            l.layer = Some(layer.to_string());
            l.current = Some(done);
            l.total = Some(total);
        }
        Event::Layer { layer, size, state } => {
            l.layer = Some(layer.to_string());
            l.total = Some(size);
            l.state = Some(state.to_string());
        }
    }
    l
}
