#!/usr/bin/env bash
# Builds Kumo's default image, Debian 12 for instances, into the host-wide image store with
# mmdebstrap from the Debian mirror this machine's apt already uses. Idempotent: an image built
# from this recipe (the packages and hooks below, hashed into image.json) is left alone; one from
# an older recipe is rebuilt and replaced, with the id-shifted copies daemons made of it (stop
# the daemons using it first).
#
#   scripts/build-image.sh [IMAGE_DIR] [NAME]     defaults: /var/lib/kumo/images debian-12
set -euo pipefail
image_dir=${1:-${KUMO_IMAGE_DIR:-/var/lib/kumo/images}}
name=${2:-debian-12}
final=$image_dir/$name
shifted_dir=${KUMO_SHIFTED_DIR:-/var/lib/kumo/shifted}
recipe=$(sed -n '/^packages=/,/^JSON$/p' "$0" | sha256sum | cut -c1-16)
if [ -f "$final/image.json" ]; then
  grep -q "\"recipe\": \"$recipe\"" "$final/image.json" &&
    { echo "kumo: image $name already in $image_dir"; exit 0; }
  echo "kumo: image $name in $image_dir is from another recipe: rebuilding it"
fi
command -v mmdebstrap >/dev/null || { echo "kumo: mmdebstrap missing (scripts/deps.sh)" >&2; exit 1; }

# The mirror comes from the host's own apt configuration (deb822 or one-line form).
mirror=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
[ -n "$mirror" ] || mirror=$(awk '$1 == "deb" && $0 ~ /bookworm/ {print $2; exit}' \
  /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null || true)
[ -n "$mirror" ] || { echo "kumo: no Debian mirror found in /etc/apt" >&2; exit 1; }

mkdir -p "$image_dir"
tmp=$(mktemp -d "$image_dir/.build-$name-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
packages=systemd,systemd-sysv,dbus,udev,openssh-server,cloud-init,sudo,iproute2,ifupdown,curl,ca-certificates,python3,less,procps,netbase,nftables,iputils-ping

# What the customize hook does, and why:
# - a login user "admin" with passwordless sudo, as Debian's cloud images have;
# - no timers or services that phone out or churn (apt, man-db, e2scrub, fstrim): an idle
#   instance stays idle and offline;
# - no SSH host keys in the image: every instance gets its own, seeded before first boot;
# - nftables and ping (the packages above) so that an instance can be a NAT instance or a router,
#   and its network can be checked, offline.
mmdebstrap --variant=minbase --include="$packages" \
  --customize-hook='chroot "$1" useradd -m -s /bin/bash -G sudo admin' \
  --customize-hook='echo "admin ALL=(ALL) NOPASSWD:ALL" > "$1/etc/sudoers.d/90-kumo-admin"' \
  --customize-hook='chmod 0440 "$1/etc/sudoers.d/90-kumo-admin"' \
  --customize-hook='for u in apt-daily.timer apt-daily-upgrade.timer man-db.timer e2scrub_all.timer fstrim.timer; do chroot "$1" systemctl mask "$u" >/dev/null 2>&1 || true; done' \
  --customize-hook='rm -f "$1"/etc/ssh/ssh_host_*' \
  --customize-hook='echo debian > "$1/etc/hostname"' \
  bookworm "$tmp/rootfs" "deb $mirror bookworm main" "deb $mirror bookworm-updates main"

cat > "$tmp/image.json" <<JSON
{
  "name": "$name",
  "description": "Debian 12 (bookworm) minbase with systemd, OpenSSH, cloud-init, nftables, ping; login user admin",
  "architecture": "x86_64",
  "created": "$(date -u +%Y-%m-%dT%H:%M:%S.000Z)",
  "login_user": "admin",
  "root_size_gib": 8,
  "recipe": "$recipe"
}
JSON
if [ -e "$final" ]; then
  old=$(mktemp -d "$image_dir/.old-$name-XXXXXX")
  mv "$final" "$old/"
  mv "$tmp" "$final"
  rm -rf "$old"
  # The id-shifted copies of the old image (idmap.cc names each by its source in "source").
  for d in "$shifted_dir"/*/; do
    [ -f "$d/source" ] && [ "$(head -n 1 "$d/source")" = "$final/rootfs" ] && rm -rf "$d"
  done
else
  mv "$tmp" "$final"
fi
trap - EXIT
echo "kumo: image $name built in $final"
