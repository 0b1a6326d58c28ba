//! `rstack export kubernetes`: the resolved stack as Kubernetes manifests.
//!
//! Pure: input is the loader's result (`spec::Loaded`: the model plus the spanned tree, which
//! gives the file:line:col of every key a warning names), output is a list of objects as
//! `serde_json::Value`s and the warnings. Objects are built as plain JSON rather than with
//! k8s-openapi's types (see ARCHITECTURE.md: its compile cost outweighs the dozen fields used).
//! Every key with no faithful Kubernetes equivalent is reported, never dropped silently.

pub mod check;
mod env;
mod locate;
mod names;
mod objects;
mod pod;
mod yaml;

pub use locate::Warning;
pub use names::dns_label;

use crate::spec::Loaded;
use serde_json::Value;

/// How published ports are exposed outside the cluster.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum PublishAs {
    /// A second Service `NAME-published` of type NodePort (default).
    #[default]
    NodePort,
    /// A second Service `NAME-published` of type LoadBalancer.
    LoadBalancer,
}

/// What `rstack export kubernetes` was asked for.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// `metadata.namespace` of every object; `None`: left out (the caller's context decides).
    pub namespace: Option<String>,
    /// Warnings become an error.
    pub strict: bool,
    /// Only these services (and the objects they use); empty: all.
    pub services: Vec<String>,
    pub publish_as: PublishAs,
    /// Image of the init containers that wait for a Job (`service_completed_successfully`):
    /// needs `sh` and `kubectl`; `None`: [`KUBECTL_IMAGE`].
    pub wait_image: Option<String>,
}

/// The default image of the init containers that run `kubectl wait` for a Job.
pub const KUBECTL_IMAGE: &str = "bitnami/kubectl:1.30";

/// One exported object.
#[derive(Debug, Clone, PartialEq)]
pub struct Object {
    pub kind: String,
    pub name: String,
    pub value: Value,
}

/// The manifests and what could not be carried over faithfully.
#[derive(Debug, Clone, Default)]
pub struct Export {
    pub objects: Vec<Object>,
    pub warnings: Vec<Warning>,
}

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("no such service: {0}")]
    NoSuchService(String),
    #[error("{} warning(s) under --strict:\n{}", .0.len(), render(.0))]
    Strict(Vec<Warning>),
}

fn render(w: &[Warning]) -> String {
    w.iter()
        .map(|w| w.to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Exports `loaded`'s stack. Under `opts.strict` any warning is `ExportError::Strict`.
pub fn kubernetes(loaded: &Loaded, opts: &Options) -> Result<Export, ExportError> {
    for s in &opts.services {
        if !loaded.stack.services.contains_key(s) {
            return Err(ExportError::NoSuchService(s.clone()));
        }
    }
    let out = objects::build(loaded, opts);
    if opts.strict && !out.warnings.is_empty() {
        return Err(ExportError::Strict(out.warnings));
    }
    Ok(out)
}

impl Export {
    /// YAML documents separated by `---`, in object order.
    pub fn to_yaml(&self) -> String {
        let mut out = String::with_capacity(self.objects.len() * 1024);
        for (i, o) in self.objects.iter().enumerate() {
            if i > 0 {
                out.push_str("---\n");
            }
            yaml::write(&mut out, &o.value);
        }
        out
    }

    /// A `v1` `List` of the objects, pretty JSON.
    pub fn to_json(&self) -> String {
        let items: Vec<Value> = self.objects.iter().map(|o| o.value.clone()).collect();
        let list = serde_json::json!({"apiVersion": "v1", "kind": "List", "items": items});
        serde_json::to_string_pretty(&list).unwrap_or_default() + "\n"
    }
}

#[cfg(test)]
mod tests;
