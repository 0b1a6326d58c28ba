//! Hand-written good and bad manifests, one defect each.

use serde_json::{Value, json};

use super::*;

fn deployment() -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "shop", "labels": {"app.kubernetes.io/name": "web"}},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "containers": [{
                        "name": "web",
                        "image": "nginx:1.27",
                        "ports": [{"containerPort": 80, "protocol": "TCP"}],
                        "readinessProbe": {"httpGet": {"path": "/", "port": "http"}},
                        "livenessProbe": {"tcpSocket": {"port": 80}},
                        "resources": {"limits": {"cpu": "500m", "memory": 268435456}}
                    }],
                    "restartPolicy": "Always"
                }
            }
        }
    })
}

fn only(errors: &[CheckError]) -> (String, String) {
    assert_eq!(errors.len(), 1, "{errors:#?}");
    (errors[0].path.clone(), errors[0].message.clone())
}

/// `v` with the value at the slash-separated `pointer` replaced.
fn with(mut v: Value, pointer: &str, new: Value) -> Value {
    let (parent, key) = pointer.rsplit_once('/').expect("a pointer");
    let key = key.replace("~1", "/").replace("~0", "~");
    match v.pointer_mut(parent).expect("parent exists") {
        Value::Array(a) => a[key.parse::<usize>().expect("index")] = new,
        parent => parent[key.as_str()] = new,
    }
    v
}

#[test]
fn good_objects_of_every_kind_pass() {
    let objects = [
        deployment(),
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
               "spec": {"selector": {"app": "web"}, "type": "NodePort",
                        "ports": [{"name": "http", "port": 80, "targetPort": 8080, "nodePort": 30080}]}}),
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg.v1"},
               "data": {"app.conf": "x=1"}}),
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db-pass"},
               "type": "Opaque", "stringData": {"password": "s3cret"}}),
        json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "data"},
               "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}),
        json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "migrate"},
               "spec": {"backoffLimit": 0, "template": {"spec": {"restartPolicy": "Never",
                        "containers": [{"name": "m", "image": "busybox", "command": ["true"]}]}}}}),
        json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "db"},
               "spec": {"serviceName": "db", "selector": {"matchLabels": {"app": "db"}},
                        "template": {"metadata": {"labels": {"app": "db"}},
                                     "spec": {"containers": [{"name": "db", "image": "postgres"}]}},
                        "volumeClaimTemplates": [{"metadata": {"name": "data"},
                            "spec": {"accessModes": ["ReadWriteOnce"],
                                     "resources": {"requests": {"storage": "1Gi"}}}}]}}),
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
               "spec": {"containers": [{"name": "c", "image": "busybox"}]}}),
        json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "w"}}),
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "w"},
               "rules": [{"apiGroups": ["batch"], "resources": ["jobs"], "verbs": ["get", "list", "watch"]}]}),
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {"name": "w"},
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "w"},
               "subjects": [{"kind": "ServiceAccount", "name": "w", "namespace": "default"}]}),
    ];
    for o in &objects {
        assert_eq!(check(o), vec![], "{o}");
    }
    assert!(check_all(&objects).is_empty());
}

#[test]
fn wrong_type_names_the_path() {
    let bad = with(
        deployment(),
        "/spec/template/spec/containers/0/ports/0/containerPort",
        json!("80"),
    );
    let errors = check(&bad);
    let (path, message) = only(&errors);
    assert_eq!(
        path,
        "spec.template.spec.containers[0].ports[0].containerPort"
    );
    assert_eq!(message, "expected integer, found string \"80\"");
    assert_eq!(errors[0].object, "Deployment/web");
    assert_eq!(
        errors[0].to_string(),
        "Deployment/web: spec.template.spec.containers[0].ports[0].containerPort: \
         expected integer, found string \"80\""
    );
}

#[test]
fn unknown_field_is_an_error_with_a_hint() {
    let mut bad = deployment();
    bad["spec"]["template"]["spec"]["containers"][0]["Image"] = json!("x");
    bad["spec"]["foo"] = json!(1);
    let errors = check(&bad);
    assert_eq!(errors.len(), 2, "{errors:#?}");
    let paths: Vec<&str> = errors.iter().map(|e| e.path.as_str()).collect();
    assert!(paths.contains(&"spec.foo"));
    assert!(paths.contains(&"spec.template.spec.containers[0].Image"));
    assert!(
        errors
            .iter()
            .any(|e| e.message.contains("did you mean image?"))
    );
}

#[test]
fn missing_required_field() {
    let mut bad = deployment();
    bad["spec"].as_object_mut().map(|s| s.remove("selector"));
    bad["spec"]["template"]["spec"]["containers"][0]
        .as_object_mut()
        .map(|c| c.remove("name"));
    let errors = check(&bad);
    assert_eq!(errors.len(), 2, "{errors:#?}");
    assert!(
        errors
            .iter()
            .all(|e| e.message == "required field is missing")
    );
    assert_eq!(errors[0].path, "spec.selector");
    assert_eq!(errors[1].path, "spec.template.spec.containers[0].name");
}

#[test]
fn bad_enum_and_bad_api_version() {
    let bad = with(deployment(), "/apiVersion", json!("apps/v2"));
    let (path, message) = only(&check(&bad));
    assert_eq!(path, "kind");
    assert!(
        message.contains("apps/v2 Deployment is not a kind"),
        "{message}"
    );
    // kind Deployment with apiVersion v1 is unknown too.
    assert_eq!(
        check(&with(deployment(), "/apiVersion", json!("v1")))[0].path,
        "kind"
    );
    let unknown = json!({"apiVersion": "v1", "kind": "Frobnicator", "metadata": {"name": "x"}});
    assert_eq!(only(&check(&unknown)).0, "kind");
    let no_kind = json!({"metadata": {"name": "x"}});
    let errors = check(&no_kind);
    assert_eq!(errors.len(), 2);
    assert_eq!(errors[0].object, "?/x");
    assert_eq!(check(&json!([1]))[0].path, "");
    // The schema's own enum: a StatefulSet's claim template says which kind it is.
    let sts = json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "db"},
        "spec": {"selector": {}, "serviceName": "db", "template": {"spec": {"containers": [{"name": "db"}]}},
                 "volumeClaimTemplates": [{"kind": "Volume"}]}});
    let (path, message) = only(&check(&sts));
    assert_eq!(path, "spec.volumeClaimTemplates[0].kind");
    assert_eq!(
        message,
        "string \"Volume\" is not one of \"PersistentVolumeClaim\""
    );
    // IntOrString is a oneOf: a boolean matches neither form.
    let svc = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
                     "spec": {"ports": [{"port": 80, "targetPort": true}]}});
    let (path, message) = only(&check(&svc));
    assert_eq!(path, "spec.ports[0].targetPort");
    assert!(message.starts_with("matches no allowed form"), "{message}");
}

#[test]
fn int32_range_and_int_or_string() {
    let bad = with(
        deployment(),
        "/spec/template/spec/containers/0/ports/0/containerPort",
        json!(4_294_967_296u64),
    );
    assert!(only(&check(&bad)).1.contains("out of the range of int32"));
    let ok = with(
        deployment(),
        "/spec/template/spec/containers/0/readinessProbe/httpGet/port",
        json!(8080),
    );
    assert_eq!(check(&ok), vec![]);
}

#[test]
fn bad_names() {
    let bad = with(deployment(), "/metadata/name", json!("Web_1"));
    let errors = check(&bad);
    let (path, message) = only(&errors);
    assert_eq!(path, "metadata.name");
    assert!(message.contains("DNS-1123 subdomain"), "{message}");
    assert_eq!(errors[0].object, "Deployment/Web_1");
    // A Service's name is a DNS-1035 label: no leading digit, no dots.
    let svc = |name: &str| {
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
               "spec": {"ports": [{"port": 80}]}})
    };
    assert!(only(&check(&svc("0db"))).1.contains("DNS-1035"));
    assert!(only(&check(&svc("a.b"))).1.contains("DNS-1035"));
    assert_eq!(check(&svc("db0")), vec![]);
    let job = |name: String| {
        json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name},
               "spec": {"template": {"spec": {"containers": [{"name": "c"}]}}}})
    };
    assert_eq!(check(&job("j".repeat(63))), vec![]);
    assert!(only(&check(&job("j".repeat(64)))).1.contains("Job's name"));
    let bad_ns = with(deployment(), "/metadata/namespace", json!("Shop"));
    assert_eq!(only(&check(&bad_ns)).0, "metadata.namespace");
    let unnamed = with(deployment(), "/metadata", json!({}));
    assert_eq!(only(&check(&unnamed)).0, "metadata.name");
    let generated = with(deployment(), "/metadata", json!({"generateName": "web-"}));
    assert_eq!(check(&generated), vec![]);
}

#[test]
fn api_server_field_rules() {
    let c = "/spec/template/spec/containers/0";
    let cases = [
        (
            format!("{c}/name"),
            json!("Web"),
            "spec.template.spec.containers[0].name",
        ),
        (
            format!("{c}/ports/0/name"),
            json!("8080"),
            "spec.template.spec.containers[0].ports[0].name",
        ),
        (
            format!("{c}/env"),
            json!([{"name": "1X", "value": "v"}]),
            "spec.template.spec.containers[0].env[0].name",
        ),
        (
            "/spec/template/metadata/labels".into(),
            json!({"app": "-web"}),
            "spec.template.metadata.labels[\"app\"]",
        ),
        (
            "/metadata/labels".into(),
            json!({"a/b/c": "x"}),
            "metadata.labels[\"a/b/c\"]",
        ),
    ];
    for (pointer, value, path) in cases {
        let bad = with(deployment(), &pointer, value);
        assert_eq!(only(&check(&bad)).0, path);
    }
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"},
                    "data": {"conf/app.ini": "x"}});
    assert_eq!(only(&check(&cm)).0, "data[\"conf/app.ini\"]");
    let svc = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
                     "spec": {"ports": [{"port": 80, "name": "http"}, {"port": 443}]}});
    let (path, message) = only(&check(&svc));
    assert_eq!(path, "spec.ports[1].name");
    assert!(message.contains("more than one port"), "{message}");
}

#[test]
fn keys_that_are_not_words_are_quoted_in_paths() {
    let bad = with(
        deployment(),
        "/metadata/labels/app.kubernetes.io~1name",
        json!(1),
    );
    let (path, _) = only(&check(&bad));
    assert_eq!(path, "metadata.labels[\"app.kubernetes.io/name\"]");
}

#[test]
fn five_hundred_objects_check_quickly_enough_to_not_matter() {
    // Not a timed assertion: it proves the schemas are shared, not re-parsed per object.
    let objs: Vec<Value> = (0..500).map(|_| deployment()).collect();
    assert!(check_all(&objs).is_empty());
}
