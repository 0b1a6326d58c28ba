//! `rstack export kubernetes`: manifests from the resolved stack, in-process (no daemon).

use super::args::Cli;
use super::project;
use crate::export::{self, ExportError, Options, PublishAs};
use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand, ValueEnum};
use std::path::PathBuf;

#[derive(Debug, Subcommand)]
// Built only when used (`args::Command` says why).
#[command(defer = true)]
pub enum ExportTarget {
    /// Write Kubernetes manifests for the stack (Deployments, StatefulSets, Jobs, Services,
    /// ConfigMaps, Secrets, PVCs); keys with no equivalent are warned about at file:line:col
    Kubernetes(KubeArgs),
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum PublishArg {
    Nodeport,
    Loadbalancer,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum KubeFormat {
    Yaml,
    Json,
}

#[derive(Debug, Args)]
pub struct KubeArgs {
    /// Directory to write one file per object (NAME-KIND.yaml) into; `-` (default): stdout
    #[arg(short = 'o', long, value_name = "DIR|-")]
    pub output: Option<PathBuf>,
    /// metadata.namespace of every object (default: none, the kubectl context decides)
    #[arg(long)]
    pub namespace: Option<String>,
    /// Fail (exit 1, nothing written) if any key has no faithful Kubernetes equivalent
    #[arg(long)]
    pub strict: bool,
    /// Type of the extra `NAME-published` Service for published ports
    #[arg(long, value_enum, default_value = "nodeport")]
    pub publish_as: PublishArg,
    /// Output format: YAML documents separated by `---`, or a JSON v1 List
    #[arg(long, value_enum, default_value = "yaml")]
    pub format: KubeFormat,
    /// Validate every object offline against the Kubernetes 1.30 API schemas first; if any
    /// is invalid, print why and write nothing
    #[arg(long)]
    pub check: bool,
    /// Image of the init containers that wait for a `service_completed_successfully`
    /// dependency's Job with `kubectl wait` (needs sh and kubectl)
    #[arg(long, value_name = "IMAGE", default_value = export::KUBECTL_IMAGE)]
    pub wait_image: String,
    /// Only these services (default: all)
    pub services: Vec<String>,
}

pub fn run(cli: &Cli, a: &KubeArgs) -> Result<i32> {
    let mut lo = project::options(cli)?;
    lo.target_services = a.services.clone();
    // The content of configs and secrets goes into ConfigMaps and Secrets. When some cannot
    // be read (a file not next to the stack), the export still runs, with those empty and
    // the loader's errors shown as a warning (an error under --strict).
    lo.read_secrets = true;
    let loaded = match crate::spec::load(&lo, &crate::spec::RealFs) {
        Ok(l) => {
            for w in &l.warnings {
                eprintln!("{w}");
            }
            l
        }
        Err(d) => {
            lo.read_secrets = false;
            let l = project::load_with(lo)?;
            if a.strict {
                bail!(
                    "{d}\nthe content of configs/secrets cannot be read (--strict); nothing written"
                );
            }
            eprintln!(
                "warning: the content of configs/secrets cannot be read; their ConfigMaps/Secrets are exported empty:\n{d}"
            );
            l
        }
    };
    let opts = Options {
        namespace: a.namespace.clone(),
        strict: a.strict,
        services: a.services.clone(),
        wait_image: Some(a.wait_image.clone()),
        publish_as: match a.publish_as {
            PublishArg::Nodeport => PublishAs::NodePort,
            PublishArg::Loadbalancer => PublishAs::LoadBalancer,
        },
    };
    let out = match export::kubernetes(&loaded, &opts) {
        Ok(out) => out,
        Err(ExportError::Strict(ws)) => {
            for w in &ws {
                eprintln!("{w}");
            }
            bail!(
                "{} key(s) have no faithful Kubernetes equivalent (--strict); nothing written",
                ws.len()
            );
        }
        Err(e) => return Err(e.into()),
    };
    for w in &out.warnings {
        eprintln!("{w}");
    }
    if a.check {
        let values: Vec<serde_json::Value> = out.objects.iter().map(|o| o.value.clone()).collect();
        let errors = export::check::check_all(&values);
        if !errors.is_empty() {
            for e in &errors {
                eprintln!("{e}");
            }
            bail!(
                "{} error(s) against the Kubernetes {} API schemas; nothing written",
                errors.len(),
                export::check::KUBERNETES_VERSION
            );
        }
        eprintln!(
            "{} object(s) valid for Kubernetes {}",
            values.len(),
            export::check::KUBERNETES_VERSION
        );
    }
    match a.output.as_deref() {
        Some(dir) if dir.as_os_str() != "-" => {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            for o in &out.objects {
                let (file, text) = match a.format {
                    KubeFormat::Yaml => (
                        format!("{}-{}.yaml", o.name, o.kind.to_lowercase()),
                        crate::spec::to_yaml(&o.value),
                    ),
                    KubeFormat::Json => (
                        format!("{}-{}.json", o.name, o.kind.to_lowercase()),
                        serde_json::to_string_pretty(&o.value)? + "\n",
                    ),
                };
                let path = dir.join(file);
                std::fs::write(&path, text)
                    .with_context(|| format!("writing {}", path.display()))?;
            }
        }
        _ => {
            let text = match a.format {
                KubeFormat::Yaml => out.to_yaml(),
                KubeFormat::Json => out.to_json(),
            };
            print!("{text}");
        }
    }
    Ok(0)
}
