//! The build executor: runs the stages a target needs, step by step, against the image
//! store, reusing cached steps, and commits the last stage as the image.
//!
//! A step's cache key is its parent's key and what it depends on (`cache.rs`); a hit
//! replaces the stage's state with the recorded one, so a fully cached build commits the
//! very config it committed before (same image id). Every step is recorded, config-only
//! ones too, for that reason. RUN goes through `StepRunner` (the daemon runs it as a
//! container); COPY and ADD write their layer directly (`copy.rs`).

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::SystemTime;

use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::cache;
use super::copy::{Overrides, Tree, Writer, is_archive};
use super::dockerfile::{self, Command, Copy, Dockerfile, Instruction, Kind, Stage};
use super::error::BuildError;
use super::run::{self, HOST_FILES, RunSpec};
use super::state::StageState;
use super::view::View;
use crate::image::{BuildSession, CacheRecord, ImageInfo, ImageStore};
use crate::runtime::config::ContainerConfig;

/// What to build.
#[derive(Debug, Clone, Default)]
pub struct BuildRequest {
    /// The Dockerfile's text and the name errors call it by.
    pub dockerfile: String,
    pub file_name: String,
    pub tags: Vec<String>,
    /// `--build-arg`s.
    pub args: BTreeMap<String, String>,
    /// `--target`: the stage to build (default: the last).
    pub target: Option<String>,
    pub no_cache: bool,
    /// Pull base images even when present.
    pub pull: bool,
    /// Labels added to the image.
    pub labels: BTreeMap<String, String>,
    /// `none` or `host` (default).
    pub network: Option<String>,
    /// Named contexts (`additional_contexts`): `COPY --from=NAME` reads them.
    pub contexts: BTreeMap<String, PathBuf>,
    /// Named contexts that are images (`docker-image://REF`): `FROM NAME` and
    /// `COPY --from=NAME` use the image.
    pub context_images: BTreeMap<String, String>,
}

/// What a build reports as it goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A step begins (`[n/total] TEXT`); `cached` if it was reused.
    Step {
        n: usize,
        total: usize,
        text: String,
        cached: bool,
    },
    /// A line of a RUN's output.
    Output(String),
}

/// Runs what a build cannot do itself.
pub trait StepRunner: Sync {
    /// Runs a RUN container to its end, passing its output on; returns its exit code.
    fn run(&self, cfg: &ContainerConfig, output: &(dyn Fn(&str) + Sync)) -> Result<i32, String>;
    /// Brings a base image into the store from its registry.
    fn pull(&self, reference: &str, output: &(dyn Fn(&str) + Sync)) -> Result<(), String>;
}

struct Ctx<'a> {
    store: &'a ImageStore,
    runner: &'a dyn StepRunner,
    context: &'a Path,
    req: &'a BuildRequest,
    df: &'a Dockerfile,
    session: &'a BuildSession,
    events: &'a (dyn Fn(Event) + Sync),
    /// Values of the ARGs declared before the first FROM (those that have one).
    meta: BTreeMap<String, String>,
    step: AtomicUsize,
    total: AtomicUsize,
    /// A counter for scratch directories and container ids.
    seq: AtomicUsize,
    build_id: String,
}

/// Builds `req` with `context` (a directory) as its build context.
pub fn build(
    store: &ImageStore,
    runner: &dyn StepRunner,
    context: &Path,
    req: &BuildRequest,
    events: &(dyn Fn(Event) + Sync),
) -> Result<ImageInfo, BuildError> {
    let df = dockerfile::parse(&req.dockerfile, &req.file_name).map_err(BuildError::Dockerfile)?;
    let mut meta = df
        .meta_args(&|n| req.args.get(n).cloned().or_else(|| platform_arg(n)))
        .map_err(|e| subst_err(req, 1, e))?;
    // BuildKit's automatic platform ARGs are in the global scope without a declaration.
    for name in PLATFORM_ARGS {
        if let Some(v) = platform_arg(name) {
            meta.entry(name.to_string()).or_insert(v);
        }
    }
    let order = df.stage_order_with(req.target.as_deref(), &meta)?;
    let session = store.begin_build()?;
    let total = order
        .iter()
        .map(|&i| 1 + df.stages[i].instructions.len())
        .sum();
    let cx = Ctx {
        store,
        runner,
        context,
        req,
        df: &df,
        session: &session,
        events,
        meta,
        step: AtomicUsize::new(0),
        total: AtomicUsize::new(total),
        seq: AtomicUsize::new(0),
        build_id: crate::image::unique_id(),
    };
    // Stages whose dependencies are built run at once, each on its own thread.
    let mut done: BTreeMap<usize, StageState> = BTreeMap::new();
    let mut todo: Vec<usize> = order.clone();
    while !todo.is_empty() {
        let (ready, later): (Vec<usize>, Vec<usize>) = todo.iter().partition(|&&i| {
            stage_deps(&df, &cx.meta, i)
                .iter()
                .all(|d| done.contains_key(d))
        });
        if ready.is_empty() {
            // Cannot happen: a stage depends only on earlier ones (`stage_order`).
            return Err(BuildError::Stage(dockerfile::StageError::NoStage));
        }
        let results: Vec<(usize, Result<StageState, BuildError>)> = std::thread::scope(|s| {
            let handles: Vec<_> = ready
                .iter()
                .map(|&i| {
                    let (cx, done, df) = (&cx, &done, &df);
                    (i, s.spawn(move || cx.stage(&df.stages[i], done)))
                })
                .collect();
            handles
                .into_iter()
                .map(|(i, h)| {
                    (
                        i,
                        h.join().unwrap_or_else(|_| {
                            Err(BuildError::Io {
                                what: format!("building stage {i}"),
                                source: std::io::Error::other("the stage's thread panicked"),
                            })
                        }),
                    )
                })
                .collect()
        });
        for (i, r) in results {
            done.insert(i, r?);
        }
        todo = later;
    }
    let last = order.last().copied().unwrap_or(0);
    let mut state = done
        .remove(&last)
        .ok_or(BuildError::Stage(dockerfile::StageError::NoStage))?;
    if !req.labels.is_empty() {
        let labels = state
            .run_config()
            .entry("Labels")
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(m) = labels {
            for (k, v) in &req.labels {
                m.insert(k.clone(), Value::String(v.clone()));
            }
        }
    }
    let tags = if req.tags.is_empty() {
        Vec::new()
    } else {
        req.tags.clone()
    };
    let unpacked = state.unpacked;
    Ok(store.commit_built(session, &state.config, &state.layers, unpacked, &tags)?)
}

/// The earlier stages stage `i` needs: its FROM and its `COPY --from`s, by name or index
/// as written (one built from an ARG names an image, as `stage_order` takes it).
fn stage_deps(df: &Dockerfile, meta: &BTreeMap<String, String>, i: usize) -> Vec<usize> {
    let stage = &df.stages[i];
    let mut deps: Vec<usize> = df
        .resolved_base(i, meta)
        .ok()
        .and_then(|(_, earlier)| earlier)
        .into_iter()
        .collect();
    for ins in &stage.instructions {
        if let Kind::Copy(c) = &ins.kind
            && let Some(f) = &c.from
            && let Some(j) = df.stage_ref(&f.to_ascii_lowercase(), i)
        {
            deps.push(j);
        }
    }
    deps
}

/// The platform ARGs BuildKit defines automatically; rstack builds for its host only.
const PLATFORM_ARGS: [&str; 8] = [
    "TARGETPLATFORM",
    "TARGETOS",
    "TARGETARCH",
    "TARGETVARIANT",
    "BUILDPLATFORM",
    "BUILDOS",
    "BUILDARCH",
    "BUILDVARIANT",
];

fn platform_arg(name: &str) -> Option<String> {
    let arch = crate::image::host_arch();
    Some(match name {
        "TARGETPLATFORM" | "BUILDPLATFORM" => format!("linux/{arch}"),
        "TARGETOS" | "BUILDOS" => "linux".to_string(),
        "TARGETARCH" | "BUILDARCH" => arch.to_string(),
        "TARGETVARIANT" | "BUILDVARIANT" => String::new(),
        _ => return None,
    })
}

fn subst_err(req: &BuildRequest, line: usize, source: dockerfile::SubstError) -> BuildError {
    BuildError::Subst {
        file: req.file_name.clone(),
        line,
        source,
    }
}

fn now() -> String {
    crate::runtime::log::rfc3339_nanos(SystemTime::now())
}

impl Ctx<'_> {
    fn event(&self, e: Event) {
        (self.events)(e)
    }

    fn step_event(&self, text: &str, cached: bool) {
        let n = self.step.fetch_add(1, Ordering::Relaxed) + 1;
        self.event(Event::Step {
            n,
            total: self.total.load(Ordering::Relaxed),
            text: text.to_string(),
            cached,
        });
    }

    fn step_err(&self, i: &Instruction, message: impl Into<String>) -> BuildError {
        BuildError::Step {
            file: self.req.file_name.clone(),
            line: i.line,
            instruction: i.text.clone(),
            message: message.into(),
        }
    }

    fn expand(&self, st: &StageState, i: &Instruction, word: &str) -> Result<String, BuildError> {
        dockerfile::expand(word, &|n| st.lookup(n), self.df.escape)
            .map_err(|e| subst_err(self.req, i.line, e))
    }

    fn stage(
        &self,
        stage: &Stage,
        done: &BTreeMap<usize, StageState>,
    ) -> Result<StageState, BuildError> {
        let (base, earlier) = self
            .df
            .resolved_base(stage.index, &self.meta)
            .map_err(|e| subst_err(self.req, stage.line, e))?;
        if let Some(p) = &stage.platform {
            let lookup = |n: &str| self.meta.get(n).cloned();
            let p = dockerfile::expand(p, &lookup, self.df.escape)
                .map_err(|e| subst_err(self.req, stage.line, e))?;
            let host = format!("linux/{}", crate::image::host_arch());
            if p != host && p.trim_end_matches("/v8") != host {
                return Err(BuildError::Base {
                    file: self.req.file_name.clone(),
                    line: stage.line,
                    image: base.clone(),
                    message: format!(
                        "--platform={p}: rstack builds for this host's platform ({host}) only"
                    ),
                });
            }
        }
        self.step_event(&stage.from_text, false);
        let mut st = match earlier {
            Some(j) => {
                let mut s = done.get(&j).cloned().ok_or_else(|| BuildError::Base {
                    file: self.req.file_name.clone(),
                    line: stage.line,
                    image: base.clone(),
                    message: "that stage was not built".into(),
                })?;
                s.args.clear();
                s
            }
            None if base.eq_ignore_ascii_case("scratch") => {
                StageState::scratch(crate::image::host_arch())
            }
            None => match self.req.context_images.get(&base) {
                Some(r) => self.base_image(stage, r)?,
                None => self.base_image(stage, &base)?,
            },
        };
        // ONBUILD triggers of the base run first, and are not inherited.
        let triggers: Vec<String> = st.strings("OnBuild").unwrap_or_default();
        st.run_config().remove("OnBuild");
        for t in triggers {
            let mut i =
                Dockerfile::parse_trigger(&t, self.df.escape).map_err(BuildError::Dockerfile)?;
            i.line = stage.line;
            self.total.fetch_add(1, Ordering::Relaxed);
            self.instruction(&mut st, &i, done)?;
        }
        for i in &stage.instructions {
            self.instruction(&mut st, i, done)?;
        }
        Ok(st)
    }

    fn base_image(&self, stage: &Stage, base: &str) -> Result<StageState, BuildError> {
        let present = self.store.stored_image(base);
        let img = match present {
            Ok(img) if !self.req.pull => img,
            _ => {
                let events = self.events;
                let out = |s: &str| events(Event::Output(s.to_string()));
                self.runner
                    .pull(base, &out)
                    .map_err(|message| BuildError::Base {
                        file: self.req.file_name.clone(),
                        line: stage.line,
                        image: base.to_string(),
                        message,
                    })?;
                self.store.stored_image(base)?
            }
        };
        Ok(StageState {
            config: img.config,
            layers: img.layers,
            unpacked: img.unpacked,
            args: BTreeMap::new(),
            key: cache::key(&["image", &img.id]),
        })
    }

    /// Runs one instruction: from the cache when its key is recorded, else for real.
    fn instruction(
        &self,
        st: &mut StageState,
        i: &Instruction,
        done: &BTreeMap<usize, StageState>,
    ) -> Result<(), BuildError> {
        // ARG changes no config: only the values later steps see (and so their keys).
        if let Kind::Arg(decls) = &i.kind {
            self.step_event(&i.text, false);
            for (name, default) in decls {
                let v = match self.req.args.get(name) {
                    Some(v) => Some(v.clone()),
                    None => match default {
                        Some(d) => Some(self.expand(st, i, d)?),
                        // An ARG declared again after FROM takes the global value.
                        None => self.meta.get(name).cloned(),
                    },
                };
                st.args.insert(name.clone(), v.clone());
                st.key = cache::key(&[&st.key, "ARG", name, v.as_deref().unwrap_or("\0")]);
            }
            return Ok(());
        }
        let (desc, sources) = self.describe(st, i, done)?;
        let key = cache::key(&[&st.key, &desc]);
        if !self.req.no_cache
            && let Some(rec) = self.store.cache_get(&key)
        {
            self.step_event(&i.text, true);
            let base_unpacked = st.unpacked - st.layers.iter().map(|l| l.unpacked).sum::<u64>();
            st.unpacked = base_unpacked + rec.layers.iter().map(|l| l.unpacked).sum::<u64>();
            st.config = rec.config;
            st.layers = rec.layers;
            st.key = key;
            return Ok(());
        }
        self.step_event(&i.text, false);
        self.execute(st, i, sources, done)?;
        st.key = key;
        self.store.cache_put(
            &st.key,
            &CacheRecord {
                config: st.config.clone(),
                layers: st.layers.clone(),
            },
        )?;
        Ok(())
    }

    /// What a step's cache key covers beyond its parent: the instruction after expansion,
    /// and for RUN the build args in scope, for COPY/ADD the hash of what it copies.
    fn describe(
        &self,
        st: &StageState,
        i: &Instruction,
        done: &BTreeMap<usize, StageState>,
    ) -> Result<(String, Option<CopySources>), BuildError> {
        match &i.kind {
            Kind::Run(r) => {
                let mut d = format!("RUN {:?} {:?} {:?}", r.command, r.heredocs, r.mounts);
                for (k, v) in &st.args {
                    d.push_str(&format!("\0{k}={}", v.as_deref().unwrap_or("")));
                }
                d.push_str(&format!("\0net={:?}", self.network(r.network.as_deref())));
                Ok((d, None))
            }
            Kind::Copy(c) | Kind::Add(c) => {
                let src = self.copy_sources(st, i, c, done)?;
                let d = format!(
                    "{} {} {:?} {:?} {:?} {}",
                    i.kind.keyword(),
                    src.hash,
                    src.dest,
                    src.over.owner,
                    src.over.mode,
                    src.from_key
                );
                Ok((d, Some(src)))
            }
            _ => Ok((format!("{}\0{}", i.text, self.expand_all(st, i)?), None)),
        }
    }

    /// The instruction's words after expansion, for the key of a config-only step.
    fn expand_all(&self, st: &StageState, i: &Instruction) -> Result<String, BuildError> {
        let mut out = String::new();
        let mut add = |s: String| {
            out.push_str(&s);
            out.push('\0');
        };
        match &i.kind {
            Kind::Env(kv) | Kind::Label(kv) => {
                for (k, v) in kv {
                    add(self.expand(st, i, k)?);
                    add(self.expand(st, i, v)?);
                }
            }
            Kind::Workdir(w) | Kind::User(w) | Kind::StopSignal(w) => add(self.expand(st, i, w)?),
            Kind::Expose(l) | Kind::Volume(l) => {
                for w in l {
                    add(self.expand(st, i, w)?);
                }
            }
            _ => {}
        }
        Ok(out)
    }

    fn network(&self, step: Option<&str>) -> bool {
        let net = step
            .filter(|n| *n != "default")
            .or(self.req.network.as_deref())
            .unwrap_or("host");
        net != "none"
    }

    fn execute(
        &self,
        st: &mut StageState,
        i: &Instruction,
        sources: Option<CopySources>,
        done: &BTreeMap<usize, StageState>,
    ) -> Result<(), BuildError> {
        let _ = done;
        let when = now();
        match &i.kind {
            Kind::Arg(_) => {}
            Kind::Env(kv) => {
                for (k, v) in kv {
                    let (k, v) = (self.expand(st, i, k)?, self.expand(st, i, v)?);
                    st.set_env(&k, &v);
                }
            }
            Kind::Label(kv) => {
                let mut pairs = Vec::new();
                for (k, v) in kv {
                    pairs.push((self.expand(st, i, k)?, self.expand(st, i, v)?));
                }
                let labels = st
                    .run_config()
                    .entry("Labels")
                    .or_insert_with(|| Value::Object(Map::new()));
                if !labels.is_object() {
                    *labels = Value::Object(Map::new());
                }
                if let Value::Object(m) = labels {
                    for (k, v) in pairs {
                        m.insert(k, Value::String(v));
                    }
                }
            }
            Kind::Workdir(w) => {
                let w = self.expand(st, i, w)?;
                let path = Path::new(&st.workdir()).join(&w);
                let path = path.to_string_lossy().into_owned();
                st.run_config()
                    .insert("WorkingDir".into(), Value::String(path.clone()));
                // The directory is made when the image lacks it, as Docker does.
                let view = self.view(st)?;
                let rel = view
                    .resolve(Path::new(&path), true)
                    .map_err(|e| self.step_err(i, e.to_string()))?;
                if view.lookup(&rel).is_none() {
                    let dir = self.scratch_dir("workdir")?;
                    let w = Writer {
                        layer: &dir,
                        image: &view,
                        over: Overrides::default(),
                    };
                    w.ensure_dir(&rel)
                        .map_err(|e| self.step_err(i, format!("making {path}: {e}")))?;
                    return self.layer_step(st, i, &dir, &when);
                }
            }
            Kind::User(u) => {
                let u = self.expand(st, i, u)?;
                st.run_config().insert("User".into(), Value::String(u));
            }
            Kind::Expose(ports) => {
                let mut list = Vec::new();
                for p in ports {
                    for w in self.expand(st, i, p)?.split_whitespace() {
                        list.push(if w.contains('/') {
                            w.to_string()
                        } else {
                            format!("{w}/tcp")
                        });
                    }
                }
                let e = st
                    .run_config()
                    .entry("ExposedPorts")
                    .or_insert_with(|| Value::Object(Map::new()));
                if let Value::Object(m) = e {
                    for p in list {
                        m.insert(p, json!({}));
                    }
                }
            }
            Kind::Volume(vols) => {
                let mut list = Vec::new();
                for v in vols {
                    list.push(self.expand(st, i, v)?);
                }
                let e = st
                    .run_config()
                    .entry("Volumes")
                    .or_insert_with(|| Value::Object(Map::new()));
                if let Value::Object(m) = e {
                    for v in list {
                        m.insert(v, json!({}));
                    }
                }
            }
            Kind::StopSignal(s) => {
                let s = self.expand(st, i, s)?;
                st.run_config()
                    .insert("StopSignal".into(), Value::String(s));
            }
            Kind::Shell(sh) => {
                st.run_config().insert("Shell".into(), json!(sh));
            }
            Kind::Cmd(c) => {
                let v = command_value(c, &st.shell());
                st.run_config().insert("Cmd".into(), v);
            }
            Kind::Entrypoint(c) => {
                let v = command_value(c, &st.shell());
                let rc = st.run_config();
                rc.insert("Entrypoint".into(), v);
                // An ENTRYPOINT drops the CMD of the base image, as in Docker.
                rc.insert("Cmd".into(), Value::Null);
            }
            Kind::Healthcheck(h) => {
                let v = match h {
                    None => json!({"Test": ["NONE"]}),
                    Some(h) => {
                        let test = match &h.test {
                            Command::Exec(a) => {
                                let mut t = vec!["CMD".to_string()];
                                t.extend(a.iter().cloned());
                                t
                            }
                            Command::Shell(s) => vec!["CMD-SHELL".to_string(), s.clone()],
                        };
                        let mut m = Map::new();
                        m.insert("Test".into(), json!(test));
                        for (k, d) in [
                            ("Interval", h.interval),
                            ("Timeout", h.timeout),
                            ("StartPeriod", h.start_period),
                            ("StartInterval", h.start_interval),
                        ] {
                            if let Some(d) = d {
                                m.insert(k.into(), json!(d.as_nanos() as u64));
                            }
                        }
                        if let Some(r) = h.retries {
                            m.insert("Retries".into(), json!(r));
                        }
                        Value::Object(m)
                    }
                };
                st.run_config().insert("Healthcheck".into(), v);
            }
            Kind::Onbuild(t) => {
                let rc = st.run_config();
                let e = rc.entry("OnBuild").or_insert_with(|| json!([]));
                if !e.is_array() {
                    *e = json!([]);
                }
                if let Some(a) = e.as_array_mut() {
                    a.push(Value::String(t.clone()));
                }
            }
            Kind::Maintainer(m) => {
                if let Value::Object(root) = &mut st.config {
                    root.insert("author".into(), Value::String(m.clone()));
                }
            }
            Kind::Run(r) => return self.run_step(st, i, r, &when),
            Kind::Copy(_) | Kind::Add(_) => {
                let src = sources.ok_or_else(|| self.step_err(i, "no sources"))?;
                return self.copy_step(st, i, src, &when);
            }
        }
        st.history(&when, &i.text, false);
        Ok(())
    }

    fn view(&self, st: &StageState) -> Result<View, BuildError> {
        let mut dirs = Vec::new();
        for l in st.layers.iter().rev() {
            dirs.push(self.store.layer_dir(&l.diff_id)?);
        }
        Ok(View::new(dirs))
    }

    fn scratch_dir(&self, what: &str) -> Result<PathBuf, BuildError> {
        let n = self.seq.fetch_add(1, Ordering::Relaxed) + 1;
        let d = self.session.staging().join(format!("{what}-{n}"));
        fs::create_dir_all(&d).map_err(BuildError::io(format!("creating {}", d.display())))?;
        Ok(d)
    }

    /// Makes the directory `dir` the step's layer (none if it is empty) and records it.
    fn layer_step(
        &self,
        st: &mut StageState,
        i: &Instruction,
        dir: &Path,
        when: &str,
    ) -> Result<(), BuildError> {
        fs::set_permissions(dir, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .map_err(BuildError::io(format!("chmod {}", dir.display())))?;
        let layer = self.store.add_layer(self.session, dir)?;
        let made = layer.is_some();
        if let Some(l) = layer {
            st.push_layer(l);
        }
        st.history(when, &i.text, made);
        Ok(())
    }

    fn run_step(
        &self,
        st: &mut StageState,
        i: &Instruction,
        r: &dockerfile::Run,
        when: &str,
    ) -> Result<(), BuildError> {
        let view = self.view(st)?;
        let dir = self.scratch_dir("run")?;
        let mut layers = view.layers().to_vec();
        if layers.is_empty() {
            let empty = dir.join("empty");
            fs::create_dir_all(&empty).map_err(BuildError::io("creating an empty layer"))?;
            layers.push(empty);
        }
        let host_network = self.network(r.network.as_deref());
        let binds: Vec<&'static str> = if host_network {
            HOST_FILES
                .into_iter()
                .filter(|f| {
                    view.resolve(Path::new(f), true)
                        .ok()
                        .and_then(|p| view.lookup(&p))
                        .is_some_and(|(_, md)| md.is_file())
                })
                .collect()
        } else {
            Vec::new()
        };
        let mut env: Vec<String> = st
            .env()
            .into_iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let names: Vec<String> = st.env().into_iter().map(|(k, _)| k).collect();
        for (k, v) in &st.args {
            if let Some(v) = v
                && !names.contains(k)
            {
                env.push(format!("{k}={v}"));
            }
        }
        let id = format!(
            "{}-{}",
            self.build_id,
            dir.file_name()
                .map(|n| n.to_string_lossy())
                .unwrap_or_default()
        );
        let spec = RunSpec {
            id: &id,
            dir: &dir,
            layers,
            args: run::argv(&r.command, &r.heredocs, &st.shell()),
            env,
            cwd: st.workdir(),
            user: st.string("User"),
            host_network,
            binds,
        };
        let mut cfg = run::container_config(&spec);
        for m in &r.mounts {
            let mount = run::mount(m, &self.store.root().join("build-mounts"))
                .map_err(|message| self.step_err(i, message))?;
            cfg.mounts.push(mount);
        }
        for d in [&cfg.state_dir, &cfg.root.upper] {
            fs::create_dir_all(d).map_err(BuildError::io(format!("creating {}", d.display())))?;
        }
        let events = self.events;
        let out = |s: &str| events(Event::Output(s.to_string()));
        let code = self
            .runner
            .run(&cfg, &out)
            .map_err(|message| BuildError::Runner {
                file: self.req.file_name.clone(),
                line: i.line,
                instruction: i.text.clone(),
                message,
            })?;
        if code != 0 {
            return Err(BuildError::RunFailed {
                file: self.req.file_name.clone(),
                line: i.line,
                instruction: i.text.clone(),
                code,
            });
        }
        let upper = cfg.root.upper.clone();
        // Mount points the runtime had to make, which the image did not have.
        for p in ["dev", "proc", "sys", "etc/resolv.conf", "etc/hosts"] {
            let q = upper.join(p);
            if view.lookup(Path::new(p)).is_none()
                && let Ok(md) = fs::symlink_metadata(&q)
            {
                if md.is_dir() {
                    let _ = fs::remove_dir(&q);
                } else if md.is_file() && md.len() == 0 {
                    let _ = fs::remove_file(&q);
                }
            }
        }
        let _ = fs::remove_dir_all(&cfg.root.work);
        self.layer_step(st, i, &upper, when)
    }

    fn copy_sources(
        &self,
        st: &StageState,
        i: &Instruction,
        c: &Copy,
        done: &BTreeMap<usize, StageState>,
    ) -> Result<CopySources, BuildError> {
        let from = match &c.from {
            Some(f) => Some(self.expand(st, i, f)?),
            None => None,
        };
        let (origin, from_key) = match &from {
            None => (Origin::Context(self.context.to_path_buf()), String::new()),
            Some(f) => {
                let idx = self
                    .df
                    .stage_ref(&f.to_ascii_lowercase(), self.df.stages.len())
                    .filter(|j| done.contains_key(j));
                match (idx, self.req.contexts.get(f)) {
                    (Some(j), _) => {
                        let s = &done[&j];
                        (Origin::Layers(self.view(s)?), s.key.clone())
                    }
                    (None, Some(dir)) => (Origin::Context(dir.clone()), format!("context {f}")),
                    (None, None) => {
                        let f = self.req.context_images.get(f).unwrap_or(f);
                        let img = self.store.stored_image(f).map_err(|e| {
                            self.step_err(i, format!("--from={f}: no such stage, and {e}"))
                        })?;
                        let mut dirs = Vec::new();
                        for l in img.layers.iter().rev() {
                            dirs.push(self.store.layer_dir(&l.diff_id)?);
                        }
                        (Origin::Layers(View::new(dirs)), img.id)
                    }
                }
            }
        };
        let mut patterns = Vec::new();
        for s in &c.sources {
            for w in dockerfile::expand_words(s, &|n| st.lookup(n), self.df.escape)
                .map_err(|e| subst_err(self.req, i.line, e))?
            {
                patterns.push(w);
            }
        }
        if let Some(u) = patterns.iter().find(|p| {
            p.starts_with("http://") || p.starts_with("https://") || p.starts_with("git@")
        }) {
            return Err(self.step_err(
                i,
                format!(
                    "{u}: rstack copies local files only; fetch it in a RUN (curl, wget, git) instead"
                ),
            ));
        }
        let dest = self.expand(st, i, &c.dest)?;
        let tree = origin.tree();
        let mut found = Vec::new();
        for p in &patterns {
            let m = tree
                .matches(p)
                .map_err(|e| self.step_err(i, format!("{p}: {e}")))?;
            if m.is_empty() {
                let where_ = match &from {
                    None => "in the build context (or excluded by .dockerignore)".to_string(),
                    Some(f) => format!("in {f}"),
                };
                return Err(self.step_err(i, format!("{p}: no such file {where_}")));
            }
            found.extend(m);
        }
        let mut h = Sha256::new();
        tree.hash_into(&found, &mut h)
            .map_err(|e| self.step_err(i, e.to_string()))?;
        for d in &c.heredocs {
            h.update(d.name.as_bytes());
            h.update([0]);
            h.update(self.heredoc_body(st, i, d)?.as_bytes());
        }
        let owner = match &c.chown {
            Some(o) => Some(self.owner(st, i, &self.expand(st, i, o)?)?),
            None => None,
        };
        let mode = match &c.chmod {
            Some(m) => {
                let m = self.expand(st, i, m)?;
                Some(u32::from_str_radix(&m, 8).map_err(|_| {
                    self.step_err(i, format!("--chmod={m}: give an octal mode such as 755"))
                })?)
            }
            None => None,
        };
        let add = matches!(i.kind, Kind::Add(_));
        Ok(CopySources {
            origin,
            found,
            dest,
            over: Overrides {
                owner,
                mode,
                root_owned: from.is_none(),
            },
            hash: hex::encode(h.finalize()),
            from_key,
            add,
            heredocs: c.heredocs.clone(),
        })
    }

    fn heredoc_body(
        &self,
        st: &StageState,
        i: &Instruction,
        d: &dockerfile::Heredoc,
    ) -> Result<String, BuildError> {
        if d.expand {
            dockerfile::expand_heredoc(&d.body, &|n| st.lookup(n), self.df.escape)
                .map_err(|e| subst_err(self.req, i.line, e))
        } else {
            Ok(d.body.clone())
        }
    }

    /// `--chown=USER[:GROUP]`: numbers, or names from the image's /etc/passwd and /etc/group.
    fn owner(
        &self,
        st: &StageState,
        i: &Instruction,
        spec: &str,
    ) -> Result<(u32, u32), BuildError> {
        let (u, g) = match spec.split_once(':') {
            Some((u, g)) => (u, Some(g)),
            None => (spec, None),
        };
        let view = self.view(st)?;
        let read = |f: &str| -> String {
            view.resolve(Path::new(f), true)
                .ok()
                .and_then(|p| view.lookup(&p))
                .and_then(|(real, _)| fs::read_to_string(real).ok())
                .unwrap_or_default()
        };
        let find = |file: &str, name: &str| -> Option<(u32, Option<u32>)> {
            read(file).lines().find_map(|l| {
                let f: Vec<&str> = l.split(':').collect();
                (f.first() == Some(&name)).then(|| {
                    (
                        f.get(2).and_then(|x| x.parse().ok()).unwrap_or(0),
                        f.get(3).and_then(|x| x.parse().ok()),
                    )
                })
            })
        };
        let (uid, primary) = match u.parse::<u32>() {
            Ok(n) => (n, None),
            Err(_) => match find("/etc/passwd", u) {
                Some((n, g)) => (n, g),
                None => {
                    return Err(self.step_err(
                        i,
                        format!("--chown: no user {u:?} in the image's /etc/passwd"),
                    ));
                }
            },
        };
        let gid = match g {
            None => primary.unwrap_or(uid),
            Some(g) => match g.parse::<u32>() {
                Ok(n) => n,
                Err(_) => match find("/etc/group", g) {
                    Some((n, _)) => n,
                    None => {
                        return Err(self.step_err(
                            i,
                            format!("--chown: no group {g:?} in the image's /etc/group"),
                        ));
                    }
                },
            },
        };
        Ok((uid, gid))
    }

    fn copy_step(
        &self,
        st: &mut StageState,
        i: &Instruction,
        src: CopySources,
        when: &str,
    ) -> Result<(), BuildError> {
        let view = self.view(st)?;
        let dir = self.scratch_dir("copy")?;
        let layer = dir.join("layer");
        fs::create_dir_all(&layer).map_err(BuildError::io("creating a layer directory"))?;
        let w = Writer {
            layer: &layer,
            image: &view,
            over: src.over,
        };
        let abs = if src.dest.starts_with('/') {
            src.dest.clone()
        } else {
            format!("{}/{}", st.workdir().trim_end_matches('/'), src.dest)
        };
        let many = src.found.len() + src.heredocs.len() > 1;
        if many && !src.dest.ends_with('/') {
            return Err(self.step_err(
                i,
                format!(
                    "with more than one source the destination must be a directory ending in /: write {}/",
                    src.dest
                ),
            ));
        }
        let rel = view
            .resolve(Path::new(&abs), true)
            .map_err(|e| self.step_err(i, e.to_string()))?;
        let dest_is_dir = src.dest.ends_with('/')
            || many
            || view.lookup(&rel).is_some_and(|(_, md)| md.is_dir())
            || src.found.iter().any(|s| s.md.is_dir())
            || src.heredocs.len() == 1 && src.found.is_empty() && src.dest.ends_with('/');
        let fail = |e: std::io::Error| self.step_err(i, format!("copying to {}: {e}", src.dest));
        let tree = src.origin.tree();
        for s in &src.found {
            if s.md.is_dir() {
                let d = w.ensure_dir(&rel).map_err(fail)?;
                w.copy_entry(&tree, &s.rel, &s.real, &s.md, &d)
                    .map_err(fail)?;
                // The destination directory keeps the image's (or a new one's) metadata.
                restore_dir_meta(&w, &view, &rel).map_err(fail)?;
                continue;
            }
            let (parent, target) = if dest_is_dir {
                let name = s
                    .rel
                    .file_name()
                    .map(|n| n.to_os_string())
                    .unwrap_or_default();
                (rel.clone(), rel.join(name))
            } else {
                (
                    rel.parent().map(Path::to_path_buf).unwrap_or_default(),
                    rel.clone(),
                )
            };
            w.ensure_dir(&parent).map_err(fail)?;
            if src.add && s.md.is_file() && is_archive(&s.real) {
                let d = w.ensure_dir(&target.with_file_name("")).map_err(fail)?;
                let out = if dest_is_dir { layer.join(&rel) } else { d };
                crate::image::extract_archive(&s.real, &out).map_err(|e| {
                    self.step_err(i, format!("extracting {}: {e}", s.rel.display()))
                })?;
                continue;
            }
            w.copy_entry(&tree, &s.rel, &s.real, &s.md, &layer.join(&target))
                .map_err(fail)?;
        }
        for d in &src.heredocs {
            let body = self.heredoc_body(st, i, d)?;
            let target = if dest_is_dir {
                rel.join(&d.name)
            } else {
                rel.clone()
            };
            let parent = target.parent().map(Path::to_path_buf).unwrap_or_default();
            w.ensure_dir(&parent).map_err(fail)?;
            w.write_file(&layer.join(&target), body.as_bytes())
                .map_err(fail)?;
        }
        self.layer_step(st, i, &layer, when)
    }
}

/// After a directory's contents were copied into `rel`, `rel` itself keeps the metadata the
/// image gave it (or a new directory's).
fn restore_dir_meta(w: &Writer, view: &View, rel: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let dst = w.layer.join(rel);
    match view.lookup(rel) {
        Some((_, md)) if md.is_dir() => {
            std::os::unix::fs::lchown(&dst, Some(md.uid()), Some(md.gid()))?;
            fs::set_permissions(&dst, fs::Permissions::from_mode(md.mode() & 0o7777))
        }
        _ => {
            let (u, g) = w.over.owner.unwrap_or((0, 0));
            std::os::unix::fs::lchown(&dst, Some(u), Some(g))?;
            fs::set_permissions(&dst, fs::Permissions::from_mode(0o755))
        }
    }
}

/// A CMD or ENTRYPOINT as the config holds it.
fn command_value(c: &Command, shell: &[String]) -> Value {
    match c {
        Command::Exec(a) => json!(a),
        Command::Shell(s) => {
            let mut v = shell.to_vec();
            v.push(s.clone());
            json!(v)
        }
    }
}

enum Origin {
    Context(PathBuf),
    Layers(View),
}

impl Origin {
    fn tree(&self) -> Tree<'_> {
        match self {
            Origin::Context(d) => Tree::Dir(d),
            Origin::Layers(v) => Tree::Layers(v),
        }
    }
}

/// A COPY's or ADD's sources, found and hashed before the cache is asked.
struct CopySources {
    origin: Origin,
    found: Vec<super::copy::Source>,
    dest: String,
    over: Overrides,
    hash: String,
    from_key: String,
    add: bool,
    heredocs: Vec<dockerfile::Heredoc>,
}
