//! `watch --prune`: after a rebuild, the image the service ran before is left untagged
//! (dangling); compose removes the project's dangling images then. rstack's images carry no
//! project label, so what is removed is exactly the image this rebuild left dangling, and
//! only when it is dangling and unused (the daemon refuses an image a container uses).

use crate::api::Client;
use crate::api::images::{RemoveReport, RemoveRequest};
use crate::api::registry::{ImageStatusRequest, ImageStatusView};
use crate::api::types::ImageView;

/// The id of the image `reference` names now, if any.
pub fn image_id(client: &Client, reference: &str) -> Option<String> {
    if reference.is_empty() {
        return None;
    }
    let req = ImageStatusRequest {
        references: vec![reference.to_string()],
    };
    let rows: Vec<ImageStatusView> = client.call("POST", "/v1/images/status", Some(&req)).ok()?;
    rows.into_iter().next().filter(|r| r.present)?.id
}

/// Removes image `id` when no tag names it any more. Failures are not errors (compose
/// only logs them at debug level): the image stays for `rstack image prune`.
pub fn if_dangling(client: &Client, id: &str) {
    let Ok(rows) = client.call::<(), Vec<ImageView>>("GET", "/v1/images", None) else {
        return;
    };
    let dangling = rows
        .iter()
        .any(|r| r.id == id && r.reference == "<none>:<none>");
    let tagged = rows
        .iter()
        .any(|r| r.id == id && r.reference != "<none>:<none>");
    if !dangling || tagged {
        return;
    }
    let req = RemoveRequest {
        reference: id.to_string(),
        force: false,
    };
    let _ = client.call::<_, RemoveReport>("POST", "/v1/images/remove", Some(&req));
}
