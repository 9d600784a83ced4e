#!/usr/bin/env bash
# dockerfix build lab: buildah with its own storage, and base images made offline from Debian packages.
#
#   bash scripts/lab-setup.sh install    # apt-get the tools (root, Debian 12)
#   bash scripts/lab-setup.sh bases      # debian:bookworm-slim + python/node/golang stand-ins (skips existing ones)
#   bash scripts/lab-setup.sh install bases   # several subcommands run in order
#   bash scripts/lab-setup.sh all        # install + bases + env
#   eval "$(bash scripts/lab-setup.sh env)"   # DOCKERFIX_LAB and the buildah settings, for pytest -m lab
#   bash scripts/lab-setup.sh status     # images present in the lab
#   bash scripts/lab-setup.sh dockerd-stop   # end test dockerds that killed test sessions left running
#   bash scripts/lab-setup.sh teardown   # the same, then unmount and delete the lab
#
# The lab tests also run docker (BuildKit) builds: tests/lab/dockerd.py starts a private dockerd per session under
# $DOCKERFIX_LAB/dockerd/run-<pid> (own socket, data root, exec root, daemon.json; no iptables, no bridge) and loads
# the bases into it from docker-archives it keeps in $DOCKERFIX_LAB/docker-archives (one per base image id).
#
# Settings (environment): DOCKERFIX_LAB (default /tmp/dockerfix-lab), DEB_MIRROR, FORCE=1 (rebuild bases),
# LAB_CA_DIR (TLS-interception CA certificates baked into the bases; default /usr/local/share/ca-certificates).
#
# Nothing outside $DOCKERFIX_LAB is touched: not /var/lib/containers, not /etc/containers, not a running dockerd.
# Only Debian's mirror, PyPI and npm need to be reachable; no container registry is ever contacted.
set -euo pipefail

LAB=${DOCKERFIX_LAB:-${LAB:-/tmp/dockerfix-lab}}
DEB_MIRROR=${DEB_MIRROR:-http://deb.debian.org/debian}
SUITE=bookworm
LAB_CA_DIR=${LAB_CA_DIR:-/usr/local/share/ca-certificates}
APT_PACKAGES=(buildah debootstrap zstd docker.io)

export CONTAINERS_REGISTRIES_CONF="$LAB/registries.conf"
export BUILDAH_ISOLATION=chroot BUILDAH_FORMAT=docker BUILDAH_LAYERS=true
export TMPDIR="$LAB/tmp"   # buildah keeps RUN --mount=type=cache directories under $TMPDIR/buildah-cache

say() { printf '[lab %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { say "error: $*"; exit 1; }
lab_buildah() { buildah --root "$LAB/storage" --runroot "$LAB/run" --storage-driver overlay "$@"; }
has_image() { lab_buildah inspect --type image "$1" >/dev/null 2>&1; }

prepare_dirs() {
  mkdir -p "$LAB/tmp" "$LAB/work" "$LAB/logs"
  # No registry is reachable: short names resolve to docker.io/library/* in local storage (--pull=never).
  cat > "$LAB/registries.conf" <<'EOF'
unqualified-search-registries = ["docker.io"]
short-name-mode = "permissive"
EOF
}

cmd_install() {
  [ "$(id -u)" = 0 ] || die "install needs root"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${APT_PACKAGES[@]}" >/dev/null
  buildah --version
}

# ------------------------------------------------------------------------------------------------ debian
# Make a debootstrap minbase tree look like the official debian:*-slim image (what debuerreotype does).
slim_rootfs() {
  local root=$1 dir
  cat > "$root/etc/dpkg/dpkg.cfg.d/docker" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/lintian/overrides/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/man/*
EOF
  echo force-unsafe-io > "$root/etc/dpkg/dpkg.cfg.d/docker-apt-speedup"
  cat > "$root/etc/apt/apt.conf.d/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
  echo 'Acquire::GzipIndexes "true";' > "$root/etc/apt/apt.conf.d/docker-gzip-indexes"
  echo 'Acquire::Languages "none";' > "$root/etc/apt/apt.conf.d/docker-no-languages"
  echo 'Apt::AutoRemove::SuggestsImportant "false";' > "$root/etc/apt/apt.conf.d/docker-autoremove-suggests"
  rm -f "$root/etc/apt/sources.list"
  cat > "$root/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: http://deb.debian.org/debian
Suites: $SUITE $SUITE-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: $SUITE-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  find "$root/usr/share/doc" -mindepth 1 ! -type d ! -name copyright -delete
  find "$root/usr/share/doc" -mindepth 1 -type d -empty -delete
  for dir in groff info linda lintian/overrides locale man; do rm -rf "${root:?}/usr/share/$dir"/*; done
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/cache/apt/*.bin "$root"/var/lib/apt/lists/* \
         "$root"/var/cache/ldconfig/aux-cache "$root"/tmp/* "$root"/var/tmp/* "$root"/root/.cache "$root"/debootstrap
  mkdir -p "$root/var/lib/apt/lists/partial"
  find "$root/var/log" -type f -delete
  : > "$root/etc/resolv.conf"; : > "$root/etc/hostname"; : > "$root/etc/machine-id"
  printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n' > "$root/etc/hosts"
}

# Commit a directory tree as an image. A tar pipe into a mounted scratch container keeps owners, groups and
# setuid bits (`buildah copy` would chown everything to root; `buildah import` does not exist in 1.28).
import_rootfs() {
  local src=$1 image=$2 ctr mnt
  ctr=$(lab_buildah from --quiet scratch)
  mnt=$(lab_buildah mount "$ctr")
  tar -C "$src" --numeric-owner -cpf - . | tar -C "$mnt" --numeric-owner -xpf -
  # HTTPS egress here goes through a TLS-intercepting proxy: its CA must be trusted inside the builds.
  mkdir -p "$mnt/usr/local/share/ca-certificates"
  if compgen -G "$LAB_CA_DIR/*.crt" >/dev/null; then cp "$LAB_CA_DIR"/*.crt "$mnt/usr/local/share/ca-certificates/"; fi
  lab_buildah umount "$ctr" >/dev/null
  lab_buildah config --os linux --arch amd64 \
    --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin --cmd '["bash"]' "$ctr"
  lab_buildah commit --quiet --rm "$ctr" "$image" >/dev/null
}

build_debian() {
  local root="$LAB/rootfs/debian"
  rm -rf "$root"; mkdir -p "$LAB/rootfs"
  debootstrap --variant=minbase "$SUITE" "$root" "$DEB_MIRROR" > "$LAB/logs/debootstrap.log" 2>&1 \
    || { tail -20 "$LAB/logs/debootstrap.log" >&2; die "debootstrap failed"; }
  slim_rootfs "$root"
  import_rootfs "$root" docker.io/library/debian:bookworm-slim
  rm -rf "$root"
}

# ------------------------------------------------------------------------------------------------ stand-ins
# Each stand-in is built FROM debian:bookworm-slim with Debian packages, with the layout the official image has
# where an unedited application Dockerfile would notice (python/pip on PATH, headers for native builds, GOPATH).
# update-ca-certificates runs in each so the egress CA baked into debian is in the system store.
standin_dockerfile() {
  case $1 in
    python) cat <<'EOF'
FROM debian:bookworm-slim
ENV LANG=C.UTF-8
RUN set -eux; apt-get update; \
    apt-get install -y --no-install-recommends ca-certificates python3 python3-dev python3-pip python3-venv \
      python3-setuptools python3-wheel; \
    update-ca-certificates; rm -rf /var/lib/apt/lists/*; \
    rm -f /usr/lib/python3*/EXTERNALLY-MANAGED; \
    ln -s /usr/bin/python3 /usr/local/bin/python; ln -s /usr/bin/pip3 /usr/local/bin/pip
ENV PYTHON_VERSION=3.11.2
CMD ["python3"]
EOF
    ;;
    node) cat <<'EOF'
FROM debian:bookworm-slim
RUN set -eux; apt-get update; \
    apt-get install -y --no-install-recommends ca-certificates nodejs npm; \
    update-ca-certificates; rm -rf /var/lib/apt/lists/*; \
    groupadd --gid 1000 node; useradd --uid 1000 --gid node --shell /bin/bash --create-home node
ENV NODE_VERSION=18.19.0
CMD ["node"]
EOF
    ;;
    golang) cat <<'EOF'
FROM debian:bookworm-slim
RUN set -eux; apt-get update; \
    apt-get install -y --no-install-recommends ca-certificates golang-go gcc libc6-dev git; \
    update-ca-certificates; rm -rf /var/lib/apt/lists/*
ENV GOPATH=/go PATH=/go/bin:/usr/lib/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
RUN mkdir -p /go/src /go/bin && chmod -R 1777 /go
WORKDIR /go
EOF
    ;;
  esac
}

build_standin() {
  local name=$1 tag=$2 dir="$LAB/bases/$1"
  mkdir -p "$dir"
  standin_dockerfile "$name" > "$dir/Dockerfile"
  lab_buildah bud --pull=never --quiet -t "docker.io/library/$tag" "$dir" > "$LAB/logs/base-$name.log" 2>&1 \
    || { tail -20 "$LAB/logs/base-$name.log" >&2; die "building $tag failed"; }
}

# name:tag of every base, in build order; the first is imported, the others are built from it
BASES=(debian:bookworm-slim python:3.11-slim node:18-slim golang:1.19)

cmd_bases() {
  [ "$(id -u)" = 0 ] || die "bases needs root"
  command -v buildah >/dev/null || die "buildah missing: run '$0 install' first"
  prepare_dirs
  local ref t0 name
  for ref in "${BASES[@]}"; do
    if [ -z "${FORCE:-}" ] && has_image "docker.io/library/$ref"; then say "$ref: present, skipped"; continue; fi
    t0=$SECONDS; name=${ref%%:*}
    if [ "$name" = debian ]; then build_debian; else build_standin "$name" "$ref"; fi
    say "$ref: built in $((SECONDS - t0)) s"
  done
  cat "$LAB_CA_DIR"/*.crt 2>/dev/null | sha256sum | cut -c1-64 > "$LAB/ca.sha256"
  cmd_status
}

cmd_status() {
  lab_buildah images --format '{{.Name}}:{{.Tag}} {{.Size}}' 2>/dev/null | grep -v '<none>' || true
  if compgen -G "$LAB/docker-archives/*.tar" >/dev/null; then
    say "docker-archives for the test dockerd: $(cd "$LAB/docker-archives" && echo *.tar)"
  fi
}

# End a process if its command line mentions our folder (never someone else's process), SIGKILL after a grace time.
stop_pid() {
  local pid=$1 marker=$2 i
  [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 0
  tr '\0' ' ' < "/proc/$pid/cmdline" | grep -qF -- "$marker" || return 0
  kill "$pid" 2>/dev/null || return 0
  for i in $(seq 100); do [ -e "/proc/$pid" ] || return 0; sleep 0.2; done
  kill -9 "$pid" 2>/dev/null || true
}

# Test dockerds (tests/lab/dockerd.py) of sessions that were killed before they could stop them (the pytest process
# named by run-<pid> is gone); with `all`, every one (teardown).
cmd_dockerd_stop() {
  local run owner
  for run in "$LAB"/dockerd/run-*; do
    [ -d "$run" ] || continue
    owner=${run##*/run-}
    if [ "${1:-}" != all ] && [ -e "/proc/$owner" ]; then
      say "$run: its session ($owner) still runs, left alone"; continue
    fi
    stop_pid "$(cat "$run/dockerd.pid" 2>/dev/null)" "$run"
    stop_pid "$(cat "$run/exec/containerd/containerd.pid" 2>/dev/null)" "$run"
    awk -v d="$run/" 'index($2, d) == 1 { print $2 }' /proc/mounts | sort -r | while read -r m; do
      umount -l "$m" 2>/dev/null || true
    done
    rm -rf "$run"
    say "stopped and removed $run"
  done
}

cmd_env() {
  cat <<EOF
export DOCKERFIX_LAB=$LAB
export CONTAINERS_REGISTRIES_CONF=$LAB/registries.conf BUILDAH_ISOLATION=chroot BUILDAH_FORMAT=docker BUILDAH_LAYERS=true
lab_buildah() { buildah --root $LAB/storage --runroot $LAB/run --storage-driver overlay "\$@"; }
EOF
}

cmd_teardown() {
  [ -d "$LAB" ] || return 0
  cmd_dockerd_stop all
  if command -v buildah >/dev/null; then lab_buildah rm -a >/dev/null 2>&1 || true; fi
  # overlay storage leaves mounts behind; deepest first
  awk -v lab="$LAB/" 'index($2, lab) == 1 { print $2 }' /proc/mounts | sort -r | while read -r m; do
    umount -l "$m" 2>/dev/null || true
  done
  rm -rf "${LAB:?}"
  say "removed $LAB"
}

usage() { awk 'NR > 1 && /^#/ { print; next } NR > 1 { exit }' "$0" >&2; }
[ $# -gt 0 ] || { usage; exit 2; }
for command in "$@"; do   # several subcommands run in order: `lab-setup.sh install bases`
  case "$command" in
    install) cmd_install ;;
    bases) cmd_bases ;;
    all) cmd_install; cmd_bases; cmd_env ;;
    env) cmd_env ;;
    status) cmd_status ;;
    dockerd-stop) cmd_dockerd_stop ;;
    teardown) cmd_teardown ;;
    *) say "unknown subcommand: $command"; usage; exit 2 ;;
  esac
done
