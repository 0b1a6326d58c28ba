//! JSON Schema of the stack file as rstack reads it, generated from the loader's own key tables
//! (`keys`): implemented keys with their accepted forms, compose keys rstack does not run yet
//! (accepted, warned), and the `x-rstack` extension. For editors (yaml-language-server).

use super::keys;
use serde_json::{Map, Value, json};

fn string_or_list() -> Value {
    json!({"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}, {"type": "null"}]})
}

fn duration() -> Value {
    json!({"type": "string", "pattern": "^([0-9]+(\\.[0-9]*)?(ns|us|µs|ms|s|m|h))+$|^0$", "description": "Duration, e.g. \"10s\", \"1m30s\", \"500ms\""})
}

fn size() -> Value {
    json!({"oneOf": [{"type": "integer", "minimum": 0}, {"type": "string", "pattern": "^[0-9]+(\\.[0-9]+)? ?[kKmMgGtTpP]?[iI]?[bB]?$|^\\$"}], "description": "Bytes or a size with a binary unit, e.g. \"512m\""})
}

fn boolish() -> Value {
    json!({"oneOf": [{"type": "boolean"}, {"type": "string"}]})
}

fn implemented(key: &str) -> Value {
    match key {
        "image" | "working_dir" | "user" | "hostname" | "stop_signal" => json!({"type": "string"}),
        "pull_policy" => json!({
            "type": "string",
            "pattern": "^(always|never|build|if_not_present|missing|refresh|daily|weekly|every_([0-9]+[wdhms])+)$",
            "description": "When up pulls the image (default missing)"
        }),
        "platform" => json!({
            "type": "string",
            "pattern": "^linux(/[A-Za-z0-9_.-]+){0,2}$",
            "description": "linux/ARCH[/VARIANT] to pull of a multi-platform image"
        }),
        "command" | "entrypoint" => string_or_list(),
        "environment" => json!({"oneOf": [
            {"type": "object", "additionalProperties": {"type": ["string", "number", "boolean", "null"]}},
            {"type": "array", "items": {"type": "string"}}
        ]}),
        "depends_on" => json!({"oneOf": [
            {"type": "array", "items": {"type": "string"}},
            {"type": "object", "additionalProperties": {
                "type": "object",
                "properties": {
                    "condition": {"enum": ["service_started", "service_healthy", "service_completed_successfully"]},
                    "required": {"type": "boolean"},
                    "restart": boolish()
                },
                "patternProperties": {"^x-": {}},
                "additionalProperties": false
            }}
        ]}),
        "restart" => {
            json!({"type": "string", "pattern": "^(no|always|unless-stopped|on-failure(:[0-9]+)?)$"})
        }
        "healthcheck" => json!({
            "type": "object",
            "properties": {
                "test": string_or_list(),
                "interval": duration(),
                "timeout": duration(),
                "start_period": duration(),
                "start_interval": duration(),
                "retries": {"type": ["integer", "string"]},
                "disable": boolish()
            },
            "patternProperties": {"^x-": {}},
            "additionalProperties": false
        }),
        "scale" => {
            json!({"type": ["integer", "string"], "minimum": 0, "description": "Containers the service runs (default 1)"})
        }
        "mem_limit" => size(),
        "mem_reservation" => size(),
        "develop" => json!({"type": ["object", "null"], "properties": {"watch": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["path", "action"],
                "properties": {
                    "path": {"type": "string"},
                    "action": {"enum": ["rebuild", "sync", "restart", "sync+restart", "sync+exec"]},
                    "target": {"type": "string"},
                    "ignore": {"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]},
                    "include": {"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]},
                    "initial_sync": {"type": "boolean"},
                    "exec": {"type": "object", "required": ["command"]},
                },
            },
        }}}),
        "cpus" => json!({"type": ["number", "string"]}),
        "pids_limit" => json!({"type": ["integer", "string"]}),
        "deploy" => json!({
            "type": "object",
            "properties": {
                "replicas": {"type": ["integer", "string"], "minimum": 0},
                "resources": {"type": "object", "properties": {
                    "limits": {"type": "object", "properties": {
                        "memory": size(), "cpus": {"type": ["number", "string"]}, "pids": {"type": ["integer", "string"]}
                    }},
                    "reservations": {"type": "object", "properties": {
                        "memory": size(), "cpus": {"type": ["number", "string"]}, "pids": {"type": ["integer", "string"]},
                        "devices": {"description": "not supported yet by rstack"},
                        "generic_resources": {"description": "not supported yet by rstack"}
                    }}
                }},
                "restart_policy": {"type": "object", "properties": {
                    "condition": {"enum": ["none", "on-failure", "any"]},
                    "delay": duration(),
                    "max_attempts": {"type": ["integer", "string"], "minimum": 0},
                    "window": duration()
                }, "patternProperties": {"^x-": {}}, "additionalProperties": false}
            },
            "additionalProperties": true
        }),
        "stop_grace_period" => duration(),
        "read_only" | "init" => boolish(),
        "tmpfs" => string_or_list(),
        "volumes" => json!({"type": "array", "items": {"oneOf": [
            {"type": "string", "description": "[SOURCE:]TARGET[:ro|rw|z|Z|nocopy|PROPAGATION]; a SOURCE starting with ., / or ~ is a host path"},
            {"type": "object", "properties": {
                "type": {"enum": ["bind", "volume", "tmpfs"]},
                "source": {"type": "string"},
                "target": {"type": "string"},
                "read_only": boolish(),
                "consistency": {"type": "string"},
                "bind": {"type": "object", "properties": {
                    "propagation": {"enum": ["shared", "rshared", "slave", "rslave", "private", "rprivate"]},
                    "create_host_path": boolish(),
                    "selinux": {"enum": ["z", "Z"]}
                }, "patternProperties": {"^x-": {}}, "additionalProperties": false},
                "volume": {"type": "object", "properties": {"nocopy": boolish(), "subpath": {"type": "string"}}, "patternProperties": {"^x-": {}}, "additionalProperties": false},
                "tmpfs": {"type": "object", "properties": {"size": size(), "mode": {"type": ["integer", "string"]}}, "patternProperties": {"^x-": {}}, "additionalProperties": false}
            }, "required": ["type", "target"], "patternProperties": {"^x-": {}}, "additionalProperties": false}
        ]}}),
        "volumes_from" => {
            json!({"type": "array", "items": {"type": "string", "description": "SERVICE[:ro|rw]"}})
        }
        "devices" => json!({"type": "array", "items": {"oneOf": [
            {"type": "string", "description": "HOST_PATH[:CONTAINER_PATH[:PERMISSIONS]]"},
            {"type": "object", "properties": {"source": {"type": "string"}, "target": {"type": "string"}, "permissions": {"type": "string", "pattern": "^[rwm]{1,3}$"}}, "required": ["source"], "patternProperties": {"^x-": {}}, "additionalProperties": false}
        ]}}),
        "device_cgroup_rules" => {
            json!({"type": "array", "items": {"type": "string", "pattern": "^[acb] ([0-9]+|\\*):([0-9]+|\\*) [rwm]{1,3}$"}, "uniqueItems": true})
        }
        "env_file" => json!({"oneOf": [
            {"type": "string"},
            {"type": "array", "items": {"oneOf": [
                {"type": "string"},
                {"type": "object", "properties": {"path": {"type": "string"}, "required": boolish(), "format": {"type": "string"}}, "required": ["path"]}
            ]}}
        ]}),
        "logging" => json!({
            "type": "object",
            "properties": {
                "driver": {"enum": ["json-file", "local", "none"]},
                "options": {
                    "type": "object",
                    "properties": {
                        "max-size": {"type": ["string", "integer"]},
                        "max-file": {"type": ["string", "integer"]},
                        "compress": {"type": ["string", "boolean"]}
                    },
                    "additionalProperties": false
                }
            },
            "patternProperties": {"^x-": {}},
            "additionalProperties": false
        }),
        "profiles" => json!({"type": "array", "items": {"type": "string"}}),
        "security_opt" => json!({
            "type": "array",
            "items": {"type": "string"},
            "description": "seccomp=unconfined, seccomp=PROFILE.json (Docker's format, relative to the stack file), no-new-privileges[:true|false]"
        }),
        "extends" => json!({"oneOf": [
            {"type": "string"},
            {"type": "object", "properties": {"service": {"type": "string"}, "file": {"type": "string"}}, "required": ["service"]}
        ]}),
        "ports" => json!({"type": "array", "items": {"oneOf": [
            {"type": "integer"},
            {"type": "string", "description": "[HOST_IP:][HOST_PORT[-RANGE]:]CONTAINER_PORT[-RANGE][/tcp|/udp]; an IPv6 HOST_IP in brackets"},
            {"type": "object", "properties": {
                "target": {"type": ["integer", "string"]},
                "published": {"type": ["integer", "string"], "description": "PORT or START-END"},
                "host_ip": {"type": "string"},
                "protocol": {"enum": ["tcp", "udp"]},
                "mode": {"enum": ["ingress", "host"]},
                "name": {"type": "string"},
                "app_protocol": {"type": "string"}
            }, "required": ["target"], "patternProperties": {"^x-": {}}, "additionalProperties": false}
        ]}}),
        "expose" => {
            json!({"type": "array", "items": {"type": ["string", "integer"], "description": "PORT[-END][/tcp|/udp]"}})
        }
        "links" => {
            json!({"type": "array", "items": {"type": "string", "description": "SERVICE[:ALIAS]"}})
        }
        "extra_hosts" => json!({"oneOf": [
            {"type": "array", "items": {"type": "string", "description": "HOST:IP or HOST=IP (IP may be host-gateway)"}},
            {"type": "object", "additionalProperties": {"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]}}
        ]}),
        "dns" | "dns_search" => string_or_list(),
        "dns_opt" => json!({"type": "array", "items": {"type": "string"}}),
        "domainname" => json!({"type": "string"}),
        "mac_address" => {
            json!({"type": "string", "pattern": "^([0-9A-Fa-f]{2}[:-]){5}[0-9A-Fa-f]{2}$"})
        }
        "network_mode" => json!({
            "type": "string",
            "pattern": "^(none|host|bridge|default|service:.+|container:.+)$"
        }),
        "networks" => json!({"oneOf": [
            {"type": "array", "items": {"type": "string"}},
            {"type": "object", "additionalProperties": {"oneOf": [
                {"type": "null"},
                {"type": "object", "properties": {
                    "aliases": {"type": "array", "items": {"type": "string"}},
                    "ipv4_address": {"type": "string"},
                    "ipv6_address": {"type": "string", "description": "on a network with enable_ipv6: true"},
                    "link_local_ips": {"type": "array", "description": "ignored"},
                    "mac_address": {"type": "string"},
                    "priority": {"type": ["integer", "string"]},
                    "gw_priority": {"description": "ignored"},
                    "interface_name": {"description": "ignored"},
                    "driver_opts": {"description": "ignored"}
                }, "patternProperties": {"^x-": {}}, "additionalProperties": false}
            ]}}
        ]}),
        "cap_add" | "cap_drop" => json!({
            "type": "array",
            "items": {"type": "string", "description": "Capability, e.g. NET_ADMIN or CAP_NET_ADMIN, or ALL"}
        }),
        "privileged" | "stdin_open" | "tty" => boolish(),
        "sysctls" | "labels" => json!({"oneOf": [
            {"type": "array", "items": {"type": "string", "description": "KEY=VALUE"}},
            {"type": "object", "additionalProperties": {"type": ["string", "number", "boolean", "null"]}}
        ]}),
        "ulimits" => json!({"type": "object", "additionalProperties": {"oneOf": [
            {"type": ["integer", "string"]},
            {"type": "object", "properties": {"soft": {"type": ["integer", "string"]}, "hard": {"type": ["integer", "string"]}}, "required": ["soft", "hard"]}
        ]}}),
        "shm_size" => size(),
        "oom_score_adj" => json!({"type": ["integer", "string"], "description": "-1000 to 1000"}),
        "group_add" => json!({"type": "array", "items": {"type": ["string", "integer"]}}),
        "pid" => {
            json!({"type": "string", "description": "host, or absent for the container's own"})
        }
        "runtime" => {
            json!({"type": "string", "description": "rstack's own runtime: absent or runc"})
        }
        "userns_mode" => json!({"type": "string", "description": "ignored with a warning"}),
        "container_name" => json!({"type": "string", "pattern": "^/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$"}),
        "secrets" | "configs" => json!({"type": "array", "items": {"oneOf": [
            {"type": "string"},
            {
                "type": "object",
                "properties": {
                    "source": {"type": "string"},
                    "target": {"type": "string"},
                    "uid": {"type": ["string", "integer"]},
                    "gid": {"type": ["string", "integer"]},
                    "mode": {"type": ["integer", "string"], "description": "octal, e.g. 0440"}
                },
                "required": ["source"],
                "patternProperties": {"^x-": {}},
                "additionalProperties": false
            }
        ]}}),
        "post_start" | "pre_stop" => json!({"type": "array", "items": {
            "type": "object",
            "properties": {
                "command": string_or_list(),
                "user": {"type": "string"},
                "working_dir": {"type": "string"},
                "privileged": boolish(),
                "environment": {"oneOf": [
                    {"type": "object", "additionalProperties": {"type": ["string", "number", "boolean", "null"]}},
                    {"type": "array", "items": {"type": "string"}}
                ]}
            },
            "required": ["command"],
            "patternProperties": {"^x-": {}},
            "additionalProperties": false
        }}),
        _ => json!({}),
    }
}

fn network() -> Value {
    json!({"oneOf": [{"type": "null"}, {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "driver": {"enum": ["bridge", "host", "none"]},
            "driver_opts": {"type": "object", "description": "ignored"},
            "external": {"oneOf": [boolish(), {"type": "object", "properties": {"name": {"type": "string"}}}]},
            "internal": boolish(),
            "attachable": boolish(),
            "enable_ipv4": boolish(),
            "enable_ipv6": {"oneOf": [{"type": "boolean"}, {"type": "string"}], "description": "dual stack: the network also gets an IPv6 /64"},
            "labels": {"oneOf": [{"type": "object"}, {"type": "array", "items": {"type": "string"}}]},
            "ipam": {"type": "object", "properties": {
                "driver": {"enum": ["default"]},
                "options": {"type": "object", "description": "ignored"},
                "config": {"type": "array", "items": {"type": "object", "properties": {
                    "subnet": {"type": "string", "description": "IPv4 CIDR, e.g. 10.5.0.0/24"},
                    "ip_range": {"type": "string"},
                    "gateway": {"type": "string"},
                    "aux_addresses": {"type": "object", "description": "ignored"}
                }, "patternProperties": {"^x-": {}}, "additionalProperties": false}}
            }, "patternProperties": {"^x-": {}}, "additionalProperties": false}
        },
        "patternProperties": {"^x-": {}},
        "additionalProperties": false
    }]})
}

fn x_rstack() -> Value {
    json!({
        "type": "object",
        "description": "rstack extensions",
        "properties": {
            "restart_on_unhealthy": {"type": "boolean", "description": "Restart the container when its healthcheck turns unhealthy"},
            "restart_backoff": {
                "type": "object",
                "properties": {"initial": duration(), "max": duration()},
                "additionalProperties": false
            }
        },
        "additionalProperties": false
    })
}

/// The schema document.
pub fn json_schema() -> Value {
    let mut props = Map::new();
    for k in keys::SERVICE_IMPLEMENTED {
        props.insert((*k).into(), implemented(k));
    }
    for k in keys::SERVICE_UNSUPPORTED
        .iter()
        .chain(keys::SERVICE_UNSUPPORTED_NEWER)
    {
        props.insert((*k).into(), json!({"description": "Compose key not supported yet by rstack: accepted with a warning"}));
    }
    props.insert("x-rstack".into(), x_rstack());
    let service = json!({
        "type": "object",
        "properties": Value::Object(props),
        "patternProperties": {"^x-": {}},
        "additionalProperties": false
    });
    let mut top = Map::new();
    for k in keys::TOP_LEVEL {
        let v = match *k {
            "name" => json!({"type": "string"}),
            "version" => json!({"description": "obsolete, ignored"}),
            "services" => json!({
                "type": "object",
                "propertyNames": {"pattern": "^[a-zA-Z0-9._-]+$"},
                "additionalProperties": {"$ref": "#/definitions/service"}
            }),
            "include" => json!({"type": "array"}),
            "networks" => json!({"type": ["object", "null"], "additionalProperties": network()}),
            _ => json!({"type": ["object", "null"]}),
        };
        top.insert((*k).into(), v);
    }
    json!({
        "$schema": "http://json-schema.org/draft-07/schema#",
        "$id": "https://rstack.dev/schemas/stack.schema.json",
        "title": "rstack stack file (Compose Specification subset with rstack extensions)",
        "type": "object",
        "properties": Value::Object(top),
        "patternProperties": {"^x-": {}},
        "additionalProperties": false,
        "definitions": {"service": service}
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_known_service_key_is_in_the_schema() {
        let s = json_schema();
        let props = s["definitions"]["service"]["properties"]
            .as_object()
            .map(|o| o.len())
            .unwrap_or(0);
        let known = keys::SERVICE_IMPLEMENTED.len()
            + keys::SERVICE_UNSUPPORTED.len()
            + keys::SERVICE_UNSUPPORTED_NEWER.len()
            + 1;
        assert_eq!(props, known);
        assert_eq!(
            s["definitions"]["service"]["properties"]["restart"]["pattern"],
            json!("^(no|always|unless-stopped|on-failure(:[0-9]+)?)$")
        );
        assert!(
            s["definitions"]["service"]["properties"]["x-rstack"]["properties"]["restart_backoff"]
                .is_object()
        );
    }
}
