#!/usr/bin/env bash
# Builds rstack, makes an offline busybox image, imports it and brings the quickstart stack up.
# Run as root on Debian from the repository root: ./examples/quickstart/up.sh
set -euo pipefail
cd "$(dirname "$0")/../.."

if [ ! -x /bin/busybox ]; then
  apt-get update -qq && apt-get install -y -qq busybox-static
fi
target=$(.ci/toolchain)  # the musl target and musl-gcc (the binary is static musl)
cargo build --release --target "$target"
rstack=target/$target/release/rstack

# A root filesystem from Debian's static busybox: no registry needed.
work=$(mktemp -d /tmp/rstack-quickstart.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work"/rootfs/{bin,etc,tmp,root}
cp /bin/busybox "$work/rootfs/bin/"
for applet in $(/bin/busybox --list); do
  [ "$applet" = busybox ] || ln -s busybox "$work/rootfs/bin/$applet"
done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$work/rootfs/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$work/rootfs/etc/group"
tar -C "$work/rootfs" -cf "$work/busybox.tar" .

"$rstack" image import "$work/busybox.tar" quickstart/busybox:1
"$rstack" -f examples/quickstart/compose.yaml up -d
"$rstack" -f examples/quickstart/compose.yaml ps -a
cat <<TXT

The quickstart is up. Try:
  $rstack -f examples/quickstart/compose.yaml logs -f
  $rstack -f examples/quickstart/compose.yaml exec api ps
  $rstack -f examples/quickstart/compose.yaml down
TXT
