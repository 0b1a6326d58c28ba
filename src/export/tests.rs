use super::*;
use crate::spec::{LoadOptions, MemFs, load};

fn export(yaml: &str, opts: &Options) -> Result<Export, ExportError> {
    let fs = MemFs::new().with("/p/compose.yaml", yaml.to_string());
    let lo = LoadOptions {
        working_dir: "/p".into(),
        ..LoadOptions::default()
    };
    let loaded = load(&lo, &fs).expect("loads");
    kubernetes(&loaded, opts)
}

fn kinds(e: &Export) -> Vec<(String, String)> {
    e.objects
        .iter()
        .map(|o| (o.kind.clone(), o.name.clone()))
        .collect()
}

#[test]
fn dns_labels() {
    assert_eq!(dns_label("web_app"), "web-app");
    assert_eq!(dns_label("Web.App_"), "web-app");
    assert_eq!(dns_label(&"a".repeat(80)).len(), 63);
    assert_eq!(dns_label("__"), "x");
}

#[test]
fn deployment_statefulset_job_and_services() {
    let e = export(
        "services:\n  web:\n    image: nginx\n    ports: ['8080:80']\n    depends_on:\n      db: {condition: service_healthy}\n      init: {condition: service_completed_successfully}\n  db:\n    image: postgres\n    volumes: ['data:/var/lib/postgresql/data']\n    expose: ['5432']\n    healthcheck: {test: ['CMD', 'pg_isready'], interval: 5s, retries: 3}\n  init:\n    image: busybox\n    command: ['true']\nvolumes:\n  data:\n    x-rstack: {size: 5Gi}\n",
        &Options::default(),
    )
    .unwrap();
    let k = kinds(&e);
    assert!(k.contains(&("Deployment".into(), "web".into())), "{k:?}");
    assert!(k.contains(&("StatefulSet".into(), "db".into())));
    assert!(k.contains(&("Job".into(), "init".into())));
    assert!(k.contains(&("Service".into(), "web".into())));
    assert!(k.contains(&("Service".into(), "web-published".into())));
    assert!(k.contains(&("Service".into(), "db".into())));
    let db = &e
        .objects
        .iter()
        .find(|o| o.kind == "StatefulSet")
        .unwrap()
        .value;
    assert_eq!(
        db["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"],
        "5Gi"
    );
    let c = &db["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(
        c["readinessProbe"]["exec"]["command"],
        serde_json::json!(["pg_isready"])
    );
    assert_eq!(c["readinessProbe"]["periodSeconds"], 5);
    assert_eq!(c["livenessProbe"]["failureThreshold"], 3);
    let web = &e
        .objects
        .iter()
        .find(|o| o.kind == "Deployment")
        .unwrap()
        .value;
    let init = &web["spec"]["template"]["spec"]["initContainers"][0];
    assert!(
        init["command"][2]
            .as_str()
            .unwrap()
            .contains("nc -z -w 2 db 5432")
    );
    // service_completed_successfully: a kubectl wait for the Job, as the waiter account.
    let wait = &web["spec"]["template"]["spec"]["initContainers"][1];
    assert_eq!(wait["image"], KUBECTL_IMAGE);
    assert!(
        wait["command"][2]
            .as_str()
            .unwrap()
            .contains("kubectl wait --for=condition=complete --timeout=60s job/init")
    );
    assert_eq!(
        web["spec"]["template"]["spec"]["serviceAccountName"],
        "p-job-waiter"
    );
    for kind in ["ServiceAccount", "Role", "RoleBinding"] {
        assert!(k.contains(&(kind.into(), "p-job-waiter".into())), "{k:?}");
    }
    // Without --namespace the RoleBinding says "default": warned.
    assert!(
        e.warnings
            .iter()
            .any(|w| w.key == "services.web.depends_on"),
        "{:?}",
        e.warnings
    );
    // NodePort outside the range: warned, assigned by Kubernetes.
    assert!(e.warnings.iter().any(|w| w.key == "services.web.ports.0"));
}

#[test]
fn bind_mount_warns_with_position_and_strict_fails() {
    let y = "services:\n  web:\n    image: nginx\n    volumes: ['./site:/usr/share/nginx/html']\n";
    let e = export(y, &Options::default()).unwrap();
    assert_eq!(e.warnings.len(), 1);
    assert_eq!(e.warnings[0].key, "services.web.volumes.0");
    assert!(
        e.warnings[0].at.ends_with("compose.yaml:4:15"),
        "{}",
        e.warnings[0].at
    );
    let strict = Options {
        strict: true,
        ..Options::default()
    };
    let err = export(y, &strict).unwrap_err().to_string();
    assert!(
        err.contains("services.web.volumes.0") && err.contains(":4:15"),
        "{err}"
    );
}

#[test]
fn renamed_service_and_references_follow() {
    let e = export(
        "services:\n  Web_App:\n    image: nginx\n    expose: ['80']\n    healthcheck: {test: 'true'}\n  front:\n    image: nginx\n    depends_on:\n      Web_App: {condition: service_healthy}\n",
        &Options::default(),
    )
    .unwrap();
    let k = kinds(&e);
    assert!(
        k.contains(&("Deployment".into(), "web-app".into())),
        "{k:?}"
    );
    assert!(k.contains(&("Service".into(), "web-app".into())));
    let d = &e.objects[0].value;
    assert_eq!(
        d["spec"]["selector"]["matchLabels"]["app.kubernetes.io/name"],
        "web-app"
    );
    let front = &e.objects.iter().find(|o| o.name == "front").unwrap().value;
    assert_eq!(
        front["spec"]["template"]["spec"]["initContainers"][0]["name"],
        "wait-web-app"
    );
    assert!(
        e.warnings
            .iter()
            .any(|w| w.key == "services.Web_App" && w.message.contains("web-app"))
    );
}

#[test]
fn unknown_keys_warn_and_user_and_caps_map() {
    let e = export(
        "services:\n  a:\n    image: x\n    user: '1000:2000'\n    cap_add: [NET_ADMIN]\n    cap_drop: [ALL]\n    read_only: true\n    sysctls: {net.core.somaxconn: '1024'}\n  b:\n    image: x\n    user: nobody\n",
        &Options::default(),
    )
    .unwrap();
    let a = &e.objects[0].value["spec"]["template"]["spec"]["containers"][0]["securityContext"];
    assert_eq!(a["runAsUser"], 1000);
    assert_eq!(a["runAsGroup"], 2000);
    assert_eq!(a["capabilities"]["add"][0], "NET_ADMIN");
    assert_eq!(a["readOnlyRootFilesystem"], true);
    assert!(e.warnings.iter().any(|w| w.key == "services.a.sysctls"));
    assert!(e.warnings.iter().any(|w| w.key == "services.b.user"));
}

#[test]
fn limits_and_reservations_map_to_limits_and_requests() {
    let e = export(
        "services:\n  a:\n    image: x\n    mem_limit: 256m\n    deploy:\n      resources:\n        limits:\n          cpus: '1'\n        reservations:\n          memory: 64m\n          cpus: '0.25'\n          devices: [{capabilities: [gpu]}]\n  b:\n    image: x\n    mem_reservation: 32m\n  c:\n    image: x\n",
        &Options::default(),
    )
    .unwrap();
    let res = |name: &str| {
        let o = e.objects.iter().find(|o| o.name == name).expect("object");
        o.value["spec"]["template"]["spec"]["containers"][0]["resources"].clone()
    };
    let a = res("a");
    assert_eq!(a["limits"]["memory"], "268435456");
    assert_eq!(a["limits"]["cpu"], "1000m");
    assert_eq!(a["requests"]["memory"], "67108864");
    assert_eq!(a["requests"]["cpu"], "250m");
    let b = res("b");
    assert_eq!(b["requests"]["memory"], "33554432");
    assert!(b.get("limits").is_none(), "{b}");
    assert!(res("c").is_null());
    // Mapped, so not warned about as left out; a GPU request is.
    let keys: Vec<&str> = e.warnings.iter().map(|w| w.key.as_str()).collect();
    assert_eq!(
        keys.iter()
            .filter(|k| k.contains("reserv"))
            .collect::<Vec<_>>(),
        [&"services.a.deploy.resources.reservations.devices"],
        "{keys:?}"
    );
}

#[test]
fn base64_matches_rfc4648() {
    assert_eq!(super::objects::base64_for_test(b"foobar"), "Zm9vYmFy");
    assert_eq!(super::objects::base64_for_test(b"fo"), "Zm8=");
    assert_eq!(super::objects::base64_for_test(b"f"), "Zg==");
}

#[test]
fn silent_losses_are_warned() {
    let e = export(
        "services:\n  a:\n    image: x\n    links: ['b:bee']\n    expose: ['8000-8001']\n    healthcheck: {test: ['CMD', 'true'], start_period: 10s, start_interval: 1s}\n  b:\n    image: x\n",
        &Options::default(),
    )
    .unwrap();
    let keys: Vec<&str> = e.warnings.iter().map(|w| w.key.as_str()).collect();
    assert!(keys.contains(&"services.a.links.0"), "{keys:?}");
    assert!(keys.contains(&"services.a.expose.0"), "{keys:?}");
    assert!(
        keys.contains(&"services.a.healthcheck.start_interval"),
        "{keys:?}"
    );
    // b is linked: a headless Service keeps its name resolvable.
    assert!(
        e.objects.iter().any(|o| o.kind == "Service"
            && o.name == "b"
            && o.value["spec"]["clusterIP"] == "None")
    );
}
