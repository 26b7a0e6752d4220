#!/usr/bin/env bash
# Build a Debian bookworm base image with Python 3.11 from Debian's packages alone, for
# machines that reach a Debian mirror but no container registry (offline, air-gapped).
#   usage: debootstrap-base.sh IMAGE_NAME [CONTAINER_TOOL]
set -euo pipefail
image=${1:?usage: debootstrap-base.sh IMAGE_NAME [CONTAINER_TOOL]}
tool=${2:-docker}

# The mirror this machine's apt already uses: deb822 sources first, then sources.list.
mirror=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
if [ -z "$mirror" ]; then
    mirror=$(awk '$1 == "deb" && $3 ~ /bookworm/ {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
fi
mirror=${mirror:-http://deb.debian.org/debian}

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
echo "debootstrap bookworm from $mirror into $root"
debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
    bookworm "$root" "$mirror" >/dev/null
# What a container never needs: package caches and lists, documentation, locales.
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* \
    "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/info/* \
    "$root"/usr/share/locale/*
tar -C "$root" -c . | "$tool" import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["/bin/bash"]' - "$image"
echo "built $image"
