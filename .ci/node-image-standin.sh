#!/usr/bin/env bash
# Makes a stand-in for the Docker image `node:20-bookworm-slim`, which the Dockerfile builds on,
# for machines whose Docker daemon cannot pull from a registry: a minimal Debian bookworm made by
# debootstrap, this machine's Node.js (binary, npm, headers for native addons), a `node` user
# (uid 1000, as in the official image) and this machine's CA bundle (npm reaches the registry
# through it). Nothing is done when an image of that tag is already there.
set -euo pipefail
tag="${1:-node:20-bookworm-slim}"
if docker image inspect "$tag" >/dev/null 2>&1; then
  echo "   $tag is already present: kept"
  exit 0
fi
command -v debootstrap >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap >/dev/null
rootfs="$(mktemp -d)"
trap 'rm -rf "$rootfs"' EXIT
debootstrap --variant=minbase bookworm "$rootfs" http://deb.debian.org/debian >"$rootfs.log" 2>&1 \
  || { tail -20 "$rootfs.log" >&2; echo "debootstrap failed (log above)" >&2; exit 1; }
rm -f "$rootfs.log"
node_bin="$(readlink -f "$(command -v node)")"
node_prefix="$(cd "$(dirname "$node_bin")/.." && pwd)"
install -D -m 0755 "$node_bin" "$rootfs/usr/local/bin/node"
mkdir -p "$rootfs/usr/local/lib/node_modules" "$rootfs/usr/local/include"
cp -a "$node_prefix/lib/node_modules/npm" "$rootfs/usr/local/lib/node_modules/"
cp -a "$node_prefix/include/node" "$rootfs/usr/local/include/"
ln -s ../lib/node_modules/npm/bin/npm-cli.js "$rootfs/usr/local/bin/npm"
ln -s ../lib/node_modules/npm/bin/npx-cli.js "$rootfs/usr/local/bin/npx"
mkdir -p "$rootfs/etc/ssl/certs"
cp /etc/ssl/certs/ca-certificates.crt "$rootfs/etc/ssl/certs/ca-certificates.crt"
chroot "$rootfs" /usr/sbin/groupadd --gid 1000 node
chroot "$rootfs" /usr/sbin/useradd --uid 1000 --gid node --shell /bin/bash --create-home node
rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
tar -C "$rootfs" -c . | docker import \
  --change 'ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt' \
  --change 'ENV npm_config_cafile=/etc/ssl/certs/ca-certificates.crt' \
  --change 'ENV npm_config_nodedir=/usr/local' \
  --change 'ENV npm_config_update_notifier=false' \
  --change 'CMD ["node"]' \
  - "$tag" >/dev/null
echo "   made $tag from debootstrap bookworm and $(node --version) of this machine"
