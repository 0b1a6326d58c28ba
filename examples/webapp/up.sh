#!/usr/bin/env bash
# Builds rstack, makes the example's base image (base.sh) and brings the web application up
# with images built from its Dockerfiles. Run as root on Debian from anywhere.
set -euo pipefail
cd "$(dirname "$0")/../.."
target=$(.ci/toolchain)
cargo build --release --target "$target"
rstack=$PWD/target/$target/release/rstack
./examples/webapp/base.sh "$rstack"
"$rstack" -f examples/webapp/compose.yaml up -d --build --wait
"$rstack" -f examples/webapp/compose.yaml ps
curl -s "http://127.0.0.1:${WEB_PORT:-8080}/"
