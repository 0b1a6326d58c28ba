//! The volume store behind the API's `VolumeAdmin`.

use crate::api::server::ApiFailure;
use crate::api::volumes::{VolumeAdmin, VolumeCreateRequest, VolumeView};
use crate::volume::{VolumeError, VolumeRecord, VolumeStore};
use std::sync::Arc;

pub struct Volumes(pub Arc<VolumeStore>);

fn failure(e: VolumeError) -> ApiFailure {
    match e {
        VolumeError::NotFound(_) => ApiFailure::NotFound(e.to_string()),
        VolumeError::InUse { .. } | VolumeError::Exists(_) => ApiFailure::Conflict(e.to_string()),
        VolumeError::Invalid(_) | VolumeError::ExternalMissing(_) => {
            ApiFailure::BadRequest(e.to_string())
        }
        VolumeError::Io { .. } => ApiFailure::Internal(e.to_string()),
    }
}

fn view(store: &VolumeStore, r: VolumeRecord) -> VolumeView {
    let mut labels = r.labels.clone();
    if !r.project.is_empty() {
        labels.insert("com.docker.compose.project".into(), r.project.clone());
    }
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(r.created);
    VolumeView {
        mountpoint: store.data_dir(&r.name).display().to_string(),
        driver: "local".into(),
        created_at: crate::runtime::log::rfc3339_nanos(t),
        labels,
        options: r.driver_opts,
        scope: "local".into(),
        project: r.project,
        anonymous: r.anonymous,
        name: r.name,
    }
}

impl VolumeAdmin for Volumes {
    fn list(&self) -> Result<Vec<VolumeView>, ApiFailure> {
        let list = self.0.list().map_err(failure)?;
        Ok(list.into_iter().map(|r| view(&self.0, r)).collect())
    }

    fn create(&self, req: &VolumeCreateRequest) -> Result<VolumeView, ApiFailure> {
        if let Some(d) = req.driver.as_deref().filter(|d| *d != "local") {
            return Err(ApiFailure::BadRequest(format!(
                "volume driver \"{d}\" is not supported: rstack has the local driver only"
            )));
        }
        let rec = VolumeRecord {
            name: req.name.clone(),
            created: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
            labels: req.labels.clone(),
            driver_opts: req.driver_opts.clone(),
            ..VolumeRecord::default()
        };
        self.0.create(&rec).map_err(failure)?;
        // As Docker: creating an existing volume answers it.
        let r = self.0.get(&req.name).map_err(failure)?.unwrap_or(rec);
        Ok(view(&self.0, r))
    }

    fn remove(&self, name: &str) -> Result<(), ApiFailure> {
        self.0.remove(name).map_err(failure)
    }
}
