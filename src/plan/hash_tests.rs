//! The config hash across upgrades: hashes the previous release stored stay valid, and a
//! field added with a default changes no hash.

use super::hash::{canonical_json, hash_value};
use crate::model::{
    BuildSpec, Dependency, Device, Healthcheck, Logging, Resources, Service, ServiceExtensions,
    Stack, Tmpfs,
};
use crate::plan::config_hash;
use serde::Serialize;
use serde_json::{Value, json};

/// Services and hashes computed by the release before default-skipping serialization.
fn v1_fixture() -> Vec<Value> {
    serde_json::from_str(include_str!("fixtures/v1-hashes.json")).expect("fixture")
}

#[test]
fn hashes_stored_by_the_previous_release_are_unchanged() {
    let fixture = v1_fixture();
    assert!(fixture.len() >= 9);
    for entry in fixture {
        let svc: Service = serde_json::from_value(entry["service"].clone()).expect("decodes");
        let image_id = entry["image_id"].as_str().expect("image id");
        let want = entry["hash"].as_str().expect("hash");
        assert_eq!(config_hash(&svc, image_id), want, "{}", svc.name);
        // Stored again in today's shape (defaults left out) and read back: still the same.
        let text = serde_json::to_string(&svc).expect("encode");
        let again: Service = serde_json::from_str(&text).expect("decode");
        assert_eq!(again, svc);
        assert_eq!(config_hash(&again, image_id), want, "{}", svc.name);
    }
}

#[test]
fn every_model_default_serializes_to_nothing() {
    // A field that is written at its default would enter every stored document and every
    // config hash: each new field must be skipped at its default.
    fn empty<T: Serialize + Default>(what: &str) {
        assert_eq!(
            serde_json::to_value(T::default()).expect(what),
            json!({}),
            "{what}"
        );
    }
    empty::<Service>("Service");
    empty::<Stack>("Stack");
    empty::<Healthcheck>("Healthcheck");
    empty::<Resources>("Resources");
    empty::<Tmpfs>("Tmpfs");
    empty::<ServiceExtensions>("ServiceExtensions");
    empty::<Dependency>("Dependency");
    empty::<Device>("Device");
    empty::<Logging>("Logging");
    empty::<BuildSpec>("BuildSpec");
    empty::<crate::model::VolumeMount>("VolumeMount");
    empty::<crate::model::VolumeDef>("VolumeDef");
    empty::<crate::model::ContainerOptions>("ContainerOptions");
}

#[test]
fn absent_fields_decode_to_compose_defaults() {
    let svc: Service = serde_json::from_str(r#"{"name":"a","image":"busybox"}"#).expect("decode");
    assert_eq!(svc, Service::new("a", "busybox"));
    let svc: Service = serde_json::from_value(json!({
        "healthcheck": {"test": {"shell": "true"}},
        "depends_on": {"db": {}},
        "tmpfs": [{"target": "/t"}],
        "devices": [{"source": "/dev/zero", "target": "/dev/zero"}],
        "logging": {"max_file": 2},
    }))
    .expect("decode");
    let hc = svc.healthcheck.expect("healthcheck");
    assert_eq!(hc.retries, 3);
    assert_eq!(hc.interval, std::time::Duration::from_secs(30));
    assert_eq!(svc.depends_on["db"], Dependency::default());
    assert!(svc.depends_on["db"].required);
    assert_eq!(svc.devices[0].permissions, "rwm");
    assert_eq!(
        svc.logging.expect("logging").driver,
        crate::model::LogDriver::JsonFile
    );
}

#[test]
fn the_canonical_form_is_v1_keys_plus_what_is_set() {
    let canonical: Value =
        serde_json::from_str(&canonical_json(json!(Service::new("a", "b")))).expect("json");
    let keys: Vec<&str> = canonical
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "command",
            "depends_on",
            "entrypoint",
            "environment",
            "healthcheck",
            "hostname",
            "image",
            "init",
            "name",
            "read_only",
            "resources",
            "restart",
            "stop_grace_period",
            "stop_signal",
            "tmpfs",
            "user",
            "working_dir",
            "x_rstack",
        ]
    );
}

/// `Service` as a later release might have it: one more field, defaulted and skipped as the
/// model's rule says.
#[derive(Serialize)]
struct ServiceWithPorts {
    #[serde(flatten)]
    base: Service,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    ports: Vec<String>,
}

#[test]
fn a_new_defaulted_field_changes_no_hash() {
    for entry in v1_fixture() {
        let base: Service = serde_json::from_value(entry["service"].clone()).expect("decodes");
        let want = entry["hash"].as_str().expect("hash");
        let image_id = entry["image_id"].as_str().expect("image id");
        let later = ServiceWithPorts {
            base: base.clone(),
            ports: Vec::new(),
        };
        assert_eq!(hash_value(json!(later), image_id), want, "{}", base.name);
        let used = ServiceWithPorts {
            base,
            ports: vec!["80:80".into()],
        };
        assert_ne!(hash_value(json!(used), image_id), want);
    }
}

#[test]
fn a_value_set_to_its_default_hashes_as_left_out() {
    // `resources: {}` and a healthcheck with Docker's timings written out are the same
    // container as leaving them out; both forms give one hash.
    let mut a = Service::new("a", "b");
    a.healthcheck = Some(Healthcheck {
        test: crate::model::HealthTest::Shell("true".into()),
        ..Healthcheck::default()
    });
    let written: Value = json!({
        "name": "a", "image": "b",
        "resources": {"memory": null, "cpus": null, "pids": null},
        "healthcheck": {"test": {"shell": "true"}, "retries": 3,
                        "interval": {"secs": 30, "nanos": 0}},
    });
    assert_eq!(hash_value(written, "i"), config_hash(&a, "i"));
}

#[test]
fn the_build_spec_is_not_hashed() {
    // The image id carries what a build made; the spec alone recreates nothing.
    let plain = Service::new("web", "app");
    let mut built = plain.clone();
    built.build = Some(BuildSpec {
        context: "/src".into(),
        args: [("A".to_string(), "1".to_string())].into_iter().collect(),
        ..BuildSpec::default()
    });
    assert_eq!(
        config_hash(&plain, "sha256:1"),
        config_hash(&built, "sha256:1")
    );
}

#[test]
fn the_develop_section_is_not_hashed() {
    // Watch rules drive the CLI's dev loop: editing them recreates nothing.
    let plain = Service::new("web", "app");
    let mut dev = plain.clone();
    dev.develop = Some(crate::model::Develop {
        watch: vec![crate::model::WatchRule {
            path: "/src".into(),
            target: Some("/app".into()),
            ..Default::default()
        }],
    });
    assert_eq!(
        config_hash(&plain, "sha256:1"),
        config_hash(&dev, "sha256:1")
    );
    assert!(crate::plan::changed_keys(&plain, "i", &dev, "i").is_empty());
}

#[test]
fn the_scale_is_not_hashed() {
    // Scaling adds or removes replicas; the ones that stay keep their container.
    let plain = Service::new("web", "app");
    let hash = config_hash(&plain, "sha256:1");
    for n in [0, 1, 3] {
        let mut scaled = plain.clone();
        scaled.scale = Some(n);
        assert_eq!(config_hash(&scaled, "sha256:1"), hash, "scale {n}");
    }
    // Left out at its default: a record of the previous release decodes and hashes the same.
    assert!(!serde_json::to_string(&plain).unwrap().contains("scale"));
}
