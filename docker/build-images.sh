#!/usr/bin/env bash
# Build every role's image with podman (`make images`; docker/README.md, Images).
#
# The base is docker.io/library/debian:bookworm-slim, or BASE_IMAGE. Where that registry cannot
# be reached, a local equivalent is made from Debian's own archive with debootstrap (root only):
# Debian 12 minbase with the same apt sources as the official image, tagged
# localhost/vaxcert-base:bookworm. Builds use chroot isolation, which works where podman cannot
# start containers itself (nested, no cgroup delegation). Behind a TLS-inspecting proxy the
# system CA bundle is passed as the build secret build_ca (never stored in a layer).
set -euo pipefail

cd "$(dirname "$0")/.."
TAG="${VAXCERT_IMAGE_TAG:-dev}"
BASE_IMAGE="${BASE_IMAGE:-docker.io/library/debian:bookworm-slim}"
LOCAL_BASE="${VAXCERT_LOCAL_BASE:-localhost/vaxcert-base:bookworm}"
CA_BUNDLE="${BUILD_CA:-/etc/ssl/certs/ca-certificates.crt}"
read -r -a TARGETS <<< "${VAXCERT_IMAGE_TARGETS:-center-kiosk-api center-app-api center-ops vrs signer verifier kiosk}"

if ! podman image exists "$BASE_IMAGE" && ! podman pull -q "$BASE_IMAGE" >/dev/null 2>&1; then
  echo "cannot pull $BASE_IMAGE: using a local Debian 12 base ($LOCAL_BASE)"
  if ! podman image exists "$LOCAL_BASE"; then
    rootfs="$(mktemp -d)"
    trap 'rm -rf "$rootfs"' EXIT
    debootstrap --variant=minbase bookworm "$rootfs" http://deb.debian.org/debian
    rm -f "$rootfs/etc/apt/sources.list"
    cat > "$rootfs/etc/apt/sources.list.d/debian.sources" <<'EOF'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
    rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/archives/*.deb
    tar -C "$rootfs" -c . | podman import --change 'CMD ["bash"]' - "$LOCAL_BASE"
  fi
  BASE_IMAGE="$LOCAL_BASE"
fi

secret=()
if [ -s "$CA_BUNDLE" ]; then
  secret=(--secret "id=build_ca,src=$CA_BUNDLE")
fi
for target in "${TARGETS[@]}"; do
  echo "== vaxcert/$target:$TAG"
  podman build --isolation chroot --format docker "${secret[@]}" \
    --build-arg "BASE_IMAGE=$BASE_IMAGE" --target "$target" \
    -f docker/Dockerfile -t "vaxcert/$target:$TAG" .
done
podman images --filter reference='vaxcert/*'
