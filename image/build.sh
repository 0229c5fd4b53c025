#!/usr/bin/env bash
# `make image`: the operator image from the Dockerfile, without a Docker engine.
#
#   1. The base: a Debian root filesystem made by mmdebstrap from image/base.conf, imported with
#      buildah as localhost/reentry-base:<hash of the recipe>. Cached: the tarball in
#      ~/.cache/reentry/image, the image in buildah's store; made again only when the recipe changes.
#   2. The image: `buildah bud` of the unmodified Dockerfile with --build-arg BASE=<that base>,
#      chroot isolation (no daemon, no network namespace), the host's CA bundle bind-mounted
#      read-only so pip can reach PyPI through this machine's TLS, never baked into a layer.
#   3. Its size, and an OCI archive (dist/reentry-image.tar) for loading elsewhere.
#
# Environment: IMAGE (default localhost/reentry:dev), REENTRY_CACHE (default ~/.cache/reentry).
set -euo pipefail
cd "$(dirname "$0")/.."

IMAGE=${IMAGE:-localhost/reentry:dev}
CACHE=${REENTRY_CACHE:-$HOME/.cache/reentry}/image
ARCHIVE=dist/reentry-image.tar
CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt

# shellcheck source=image/base.conf
source image/base.conf
recipe=$(sha256sum image/base.conf | cut -c1-12)
base=localhost/reentry-base:$recipe
started=$(date +%s)

if buildah inspect --type image "$base" >/dev/null 2>&1; then
  echo "image: base $base (cached)"
else
  mkdir -p "$CACHE"
  rootfs=$CACHE/base-$recipe.tar
  if [ ! -s "$rootfs" ]; then
    echo "image: making the base root filesystem ($SUITE $VARIANT: $PACKAGES)"
    excludes=()
    for path in $EXCLUDES; do excludes+=("--dpkgopt=path-exclude=$path"); done
    # mmdebstrap picks the output's format by its extension: the partial file must end in .tar too.
    mmdebstrap --quiet --variant="$VARIANT" --include="${PACKAGES// /,}" "${excludes[@]}" \
      "$SUITE" "$CACHE/partial-$recipe.tar" "$MIRROR"
    mv "$CACHE/partial-$recipe.tar" "$rootfs"
  fi
  container=$(buildah from scratch)
  trap 'buildah rm "$container" >/dev/null 2>&1 || true' EXIT
  buildah add --quiet "$container" "$rootfs" /
  buildah config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --env LANG=C.UTF-8 --cmd python3 --label org.opencontainers.image.description="reentry's base: $SUITE" \
    "$container"
  buildah commit --quiet "$container" "$base" >/dev/null
  echo "image: base $base made in $(( $(date +%s) - started ))s"
fi

built=$(date +%s)
volumes=()
[ -f "$CA_BUNDLE" ] && volumes+=(-v "$CA_BUNDLE:$CA_BUNDLE:ro")
buildah bud --quiet --isolation chroot --pull=never --layers "${volumes[@]}" \
  --build-arg "BASE=$base" -t "$IMAGE" . >/dev/null
echo "image: $IMAGE built in $(( $(date +%s) - built ))s ($(( $(date +%s) - started ))s in all)"

mkdir -p dist
rm -f "$ARCHIVE"
buildah push --quiet "$IMAGE" "oci-archive:$ARCHIVE:$IMAGE"
size=$(podman image inspect --format '{{.Size}}' "$IMAGE" 2>/dev/null || echo "")
echo "image: $IMAGE${size:+, $(( size / 1024 / 1024 )) MiB uncompressed}; archive $ARCHIVE $(du -m "$ARCHIVE" | cut -f1) MiB"
