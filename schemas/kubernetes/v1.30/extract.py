#!/usr/bin/env python3
"""Regenerates this directory from kubernetes-validate's strict schemas for Kubernetes 1.30.

Usage: extract.py DIR   (DIR = .../kubernetes_validate/kubernetes-json-schema/v1.30.0-local-strict)
Copies the kind files verbatim and writes _definitions.json with only the $defs they reach.
"""
import json
import os
import sys

KINDS = [
    "deployment-apps-v1", "statefulset-apps-v1", "service-v1", "configmap-v1", "secret-v1",
    "persistentvolumeclaim-v1", "job-batch-v1", "pod-v1", "serviceaccount-v1", "role-rbac-v1",
    "rolebinding-rbac-v1",
]

src = sys.argv[1]
out = os.path.dirname(os.path.abspath(__file__))
defs = json.load(open(os.path.join(src, "_definitions.json")))
need = set()


def walk(node):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                name = value.split("#/$defs/")[1]
                if name not in need:
                    need.add(name)
                    walk(defs["$defs"][name])
            else:
                walk(value)
    elif isinstance(node, list):
        for value in node:
            walk(value)


for kind in KINDS:
    text = open(os.path.join(src, kind + ".json")).read()
    walk(json.loads(text))
    open(os.path.join(out, kind + ".json"), "w").write(text)

pruned = dict(defs)
pruned["$defs"] = {name: defs["$defs"][name] for name in sorted(need)}
with open(os.path.join(out, "_definitions.json"), "w") as f:
    json.dump(pruned, f, indent=1, sort_keys=True)
    f.write("\n")
print(len(need), "definitions")
