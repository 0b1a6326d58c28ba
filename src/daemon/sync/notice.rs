//! Source events: what the controller did (fetch, apply, fail, drift, heal, suspend, resume,
//! rollback), broadcast to the event streams of the source's project (`rstack events`).

use super::Controller;
use crate::api::events::{SourceEvent, source_event};

impl Controller {
    /// Broadcasts one event of source `name`; nobody listening is fine.
    pub(crate) fn emit(&self, name: &str, action: &str, attrs: Vec<(&'static str, String)>) {
        let Ok(doc) = self.doc(name) else { return };
        let Ok(st) = self.server() else { return };
        let _ = st.source_events.send(SourceEvent {
            project: doc.spec.project_name(),
            event: source_event(name, action, attrs),
        });
    }
}
