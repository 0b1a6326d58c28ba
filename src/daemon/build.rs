//! The daemon's side of builds: the uploaded context unpacked, `build::build` run against the
//! image store, RUN steps started on the daemon's own runtime (`NativeRuntime`, the same
//! start path as a service's container) and base images pulled with the client's
//! credentials and the `[registry]` settings.

use std::collections::BTreeMap;
use std::io::{Read, Seek};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use crate::api::build::{BuildAdmin, BuildLine, BuildOptions, BuildStep};
use crate::api::types::ImageView;
use crate::build::{self, BuildRequest, Event, StepRunner};
use crate::daemon::adapter::NativeRuntime;
use crate::image::ImageStore;
use crate::image::registry::{self, Settings};
use crate::reconcile::runtime::Runtime;
use crate::runtime::config::ContainerConfig;

pub struct Builder {
    pub store: Arc<ImageStore>,
    pub runtime: Arc<NativeRuntime>,
    pub settings: Settings,
    /// The daemon's async runtime, which RUN steps' containers are started and awaited on.
    pub handle: tokio::runtime::Handle,
}

struct Runner<'a> {
    b: &'a Builder,
    auths: &'a BTreeMap<String, String>,
}

impl StepRunner for Runner<'_> {
    fn run(&self, cfg: &ContainerConfig, output: &(dyn Fn(&str) + Sync)) -> Result<i32, String> {
        let rt = self.b.runtime.clone();
        let h = &self.b.handle;
        // Stages run on threads of their own, outside the runtime: timers need it entered.
        let _in_runtime = h.enter();
        let running = h.block_on(rt.start(cfg)).map_err(|e| e.to_string())?;
        let log = cfg.state_dir.join(crate::runtime::LOG_FILE);
        let mut tail = Tail::default();
        let mut exit = running.exit;
        // The output is passed on outside `block_on`: passing it on may block (on the
        // answer's channel), which a thread inside the runtime must not.
        let status = loop {
            match h.block_on(tokio::time::timeout(Duration::from_millis(100), &mut exit)) {
                Ok(st) => break st,
                Err(_) => tail.read(&log, output),
            }
        };
        tail.read(&log, output);
        tail.flush(output);
        h.block_on(rt.release(cfg)).map_err(|e| e.to_string())?;
        Ok(match status.signal {
            Some(sig) => 128 + sig,
            None => status.code,
        })
    }

    fn pull(&self, reference: &str, output: &(dyn Fn(&str) + Sync)) -> Result<(), String> {
        // Steps and finished layers only: a build's output has no byte counters.
        let progress = |e: registry::Event| {
            if let Some(t) = e.text() {
                output(&t);
            }
        };
        registry::pull(
            &self.b.store,
            &self.b.settings,
            reference,
            None,
            self.auths,
            &progress,
        )
        .map(|_| ())
        .map_err(|e| e.to_string())
    }
}

/// Follows a container's log (docker json-file lines) from where it was last read.
#[derive(Default)]
struct Tail {
    pos: u64,
    partial: Vec<u8>,
    /// A line the container has not ended yet (docker json-file splits long lines).
    pending: String,
}

impl Tail {
    fn read(&mut self, log: &Path, output: &(dyn Fn(&str) + Sync)) {
        let Ok(mut f) = std::fs::File::open(log) else {
            return;
        };
        if f.seek(std::io::SeekFrom::Start(self.pos)).is_err() {
            return;
        }
        let mut buf = Vec::new();
        if f.read_to_end(&mut buf).is_err() {
            return;
        }
        self.pos += buf.len() as u64;
        self.partial.extend_from_slice(&buf);
        while let Some(i) = self.partial.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = self.partial.drain(..=i).collect();
            let Ok(v) = serde_json::from_slice::<serde_json::Value>(&line) else {
                continue;
            };
            let text = v.get("log").and_then(|l| l.as_str()).unwrap_or_default();
            self.pending.push_str(text);
            if self.pending.ends_with('\n') {
                let done = std::mem::take(&mut self.pending);
                output(done.trim_end_matches('\n'));
            }
        }
    }

    fn flush(&mut self, output: &(dyn Fn(&str) + Sync)) {
        if !self.pending.is_empty() {
            output(&std::mem::take(&mut self.pending));
        }
    }
}

fn view(i: crate::image::ImageInfo) -> ImageView {
    ImageView {
        reference: i.reference,
        id: i.id,
        digest: i.digest,
        size: i.size,
        compressed_size: i.compressed_size,
        created: i.created,
    }
}

impl BuildAdmin for Builder {
    fn uploads_dir(&self) -> std::path::PathBuf {
        self.store.uploads_dir()
    }

    fn build(
        &self,
        context: &Path,
        o: BuildOptions,
        line: &(dyn Fn(BuildLine) + Sync),
    ) -> Result<ImageView, String> {
        // The context, unpacked with an import's safety, beside the upload.
        let dir = self
            .store
            .uploads_dir()
            .join(format!("{}.ctx", crate::image::unique_id()));
        let _cleanup = RemoveOnDrop(dir.clone());
        std::fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
        crate::image::extract_archive(context, &dir)
            .map_err(|e| format!("unpacking the build context: {e}"))?;
        let main = dir.join("ctx");
        std::fs::create_dir_all(&main).map_err(|e| format!("creating {}: {e}", main.display()))?;
        let mut contexts = BTreeMap::new();
        let mut context_images = BTreeMap::new();
        for (name, v) in &o.contexts {
            if let Some(r) = v.strip_prefix("image:") {
                context_images.insert(name.clone(), r.to_string());
            } else if let Some(rel) = v.strip_prefix("named/")
                && rel.chars().all(|c| c.is_ascii_digit())
            {
                let d = dir.join("named").join(rel);
                std::fs::create_dir_all(&d)
                    .map_err(|e| format!("creating {}: {e}", d.display()))?;
                contexts.insert(name.clone(), d);
            } else {
                return Err(format!(
                    "additional context {name}: {} is not supported; give a directory or docker-image://REF",
                    v.strip_prefix("unsupported:").unwrap_or(v)
                ));
            }
        }
        let req = BuildRequest {
            dockerfile: o.dockerfile,
            file_name: o.file_name,
            tags: o.tags,
            args: o.args,
            target: o.target,
            no_cache: o.no_cache,
            pull: o.pull,
            labels: o.labels,
            network: o.network,
            contexts,
            context_images,
        };
        let runner = Runner {
            b: self,
            auths: &o.auths,
        };
        let events = |e: Event| {
            line(match e {
                Event::Step {
                    n,
                    total,
                    text,
                    cached,
                } => BuildLine {
                    step: Some(BuildStep {
                        n,
                        total,
                        text,
                        cached,
                    }),
                    ..BuildLine::default()
                },
                Event::Output(s) => BuildLine {
                    output: Some(s),
                    ..BuildLine::default()
                },
            })
        };
        build::build(&self.store, &runner, &main, &req, &events)
            .map(view)
            .map_err(|e| e.to_string())
    }
}

struct RemoveOnDrop(std::path::PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
