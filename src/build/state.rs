//! A stage's state between steps: the image config document as it grows (kept as JSON, so
//! fields rstack does not model, such as a base image's labels or healthcheck, survive), its
//! layers, the ARGs in scope, and the cache key of everything so far.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use crate::image::LayerDesc;

/// Docker's default PATH, which a build from `scratch` starts with.
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

#[derive(Debug, Clone)]
pub struct StageState {
    /// The image config document (`config`, `rootfs`, `history`, ...).
    pub config: Value,
    /// Bottom layer first.
    pub layers: Vec<LayerDesc>,
    /// Bytes of the layers' files.
    pub unpacked: u64,
    /// ARGs declared in this stage, with their values (None: declared without a value).
    pub args: BTreeMap<String, Option<String>>,
    /// sha256 hex over the base and every step so far.
    pub key: String,
}

impl StageState {
    /// An empty image (`FROM scratch`).
    pub fn scratch(arch: &str) -> StageState {
        StageState {
            config: json!({
                "architecture": arch,
                "os": "linux",
                "config": { "Env": [format!("PATH={DEFAULT_PATH}")] },
                "rootfs": { "type": "layers", "diff_ids": [] },
                "history": [],
            }),
            layers: Vec::new(),
            unpacked: 0,
            args: BTreeMap::new(),
            key: super::cache::key(&["scratch"]),
        }
    }

    /// The run settings (`config` object), made if missing.
    pub fn run_config(&mut self) -> &mut Map<String, Value> {
        let root = obj(&mut self.config);
        let c = root
            .entry("config")
            .or_insert_with(|| Value::Object(Map::new()));
        if !c.is_object() {
            *c = Value::Object(Map::new());
        }
        obj(c)
    }

    fn get(&self, k: &str) -> Option<&Value> {
        self.config.get("config").and_then(|c| c.get(k))
    }

    /// `KEY=VALUE` entries of the config's Env.
    pub fn env(&self) -> Vec<(String, String)> {
        self.get("Env")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(|kv| match kv.split_once('=') {
                        Some((k, v)) => (k.to_string(), v.to_string()),
                        None => (kv.to_string(), String::new()),
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Sets one Env variable, keeping the others' order.
    pub fn set_env(&mut self, key: &str, value: &str) {
        let mut env = self.env();
        match env.iter_mut().find(|(k, _)| k == key) {
            Some(kv) => kv.1 = value.to_string(),
            None => env.push((key.to_string(), value.to_string())),
        }
        let list: Vec<Value> = env
            .into_iter()
            .map(|(k, v)| Value::String(format!("{k}={v}")))
            .collect();
        self.run_config().insert("Env".into(), Value::Array(list));
    }

    pub fn string(&self, k: &str) -> Option<String> {
        self.get(k)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    }

    pub fn strings(&self, k: &str) -> Option<Vec<String>> {
        self.get(k).and_then(Value::as_array).map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
    }

    /// The shell for shell-form commands (`SHELL`), `/bin/sh -c` by default.
    pub fn shell(&self) -> Vec<String> {
        self.strings("Shell")
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| vec!["/bin/sh".into(), "-c".into()])
    }

    /// The working directory, `/` when unset.
    pub fn workdir(&self) -> String {
        self.string("WorkingDir").unwrap_or_else(|| "/".into())
    }

    /// Looks a variable up for word expansion: ENV wins over ARG, as in Docker.
    pub fn lookup(&self, name: &str) -> Option<String> {
        if let Some((_, v)) = self.env().into_iter().find(|(k, _)| k == name) {
            return Some(v);
        }
        self.args.get(name).cloned().flatten()
    }

    /// Appends a history entry; `layer` tells whether the step made a layer.
    pub fn history(&mut self, created: &str, created_by: &str, layer: bool) {
        let mut h = Map::new();
        h.insert("created".into(), Value::String(created.to_string()));
        h.insert("created_by".into(), Value::String(created_by.to_string()));
        h.insert("comment".into(), Value::String("rstack build".into()));
        if !layer {
            h.insert("empty_layer".into(), Value::Bool(true));
        }
        let root = obj(&mut self.config);
        root.insert("created".into(), Value::String(created.to_string()));
        let hist = root
            .entry("history")
            .or_insert_with(|| Value::Array(Vec::new()));
        if !hist.is_array() {
            *hist = Value::Array(Vec::new());
        }
        if let Value::Array(a) = hist {
            a.push(Value::Object(h));
        }
    }

    /// Adds a layer made by a step.
    pub fn push_layer(&mut self, layer: LayerDesc) {
        self.unpacked += layer.unpacked;
        let root = obj(&mut self.config);
        let rootfs = root
            .entry("rootfs")
            .or_insert_with(|| json!({"type": "layers", "diff_ids": []}));
        if let Some(ids) = rootfs.get_mut("diff_ids").and_then(Value::as_array_mut) {
            ids.push(Value::String(layer.diff_id.clone()));
        }
        self.layers.push(layer);
    }
}

/// `v` as an object, made one if it is not.
fn obj(v: &mut Value) -> &mut Map<String, Value> {
    if !v.is_object() {
        *v = Value::Object(Map::new());
    }
    match v {
        Value::Object(m) => m,
        // Made an object just above.
        _ => unreachable!("made an object above"),
    }
}
