#!/usr/bin/env bash
# Makes the example's Debian base image offline from Debian's own package mirror (no
# container registry) and imports it into rstack as rstack-example/debian:bookworm.
# The tar is cached: RSTACK_EXAMPLE_CACHE (default /var/cache/rstack-example) keeps it.
# Run as root on Debian: ./examples/webapp/base.sh [RSTACK_BINARY]
set -euo pipefail
rstack=${1:-rstack}
cache=${RSTACK_EXAMPLE_CACHE:-/var/cache/rstack-example}
tar=$cache/debian-bookworm-webapp.tar
if [ ! -f "$tar" ]; then
  command -v mmdebstrap >/dev/null || { apt-get update -qq; apt-get install -y -qq mmdebstrap >/dev/null; }
  mkdir -p "$cache"
  # mmdebstrap picks the output format from the name: keep it ending in .tar.
  mmdebstrap --variant=apt --include=python3,python3-redis,redis-server,nginx-light,curl \
    bookworm "$tar.new.tar"
  mv "$tar.new.tar" "$tar"
fi
"$rstack" image import "$tar" rstack-example/debian:bookworm
