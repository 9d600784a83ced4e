#!/usr/bin/env bash
# The whole test suite from a clean clone: venv, install, system packages for the registry and lab tests, tests.
# Used by the README and by .ci/run. docker.io brings dockerd and its CLI: the lab tests start a private dockerd of
# their own (tests/lab/dockerd.py) and skip the docker runs, with the reason, when it cannot start. Environment:
#   DOCKERFIX_SKIP_SYSTEM=1   do not apt-get install (registry/lab tests then skip with a reason)
#   DOCKERFIX_SKIP_LAB=1      do not build the lab's base images (lab tests skip)
#   VENV=path                 the virtualenv to use (default .venv)
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
PY=${PYTHON:-python3}

[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --upgrade pip >/dev/null 2>&1 || true
"$VENV/bin/python" -m pip install -q -e '.[dev]'

if [ -z "${DOCKERFIX_SKIP_SYSTEM:-}" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  need=() need_lean=()
  for pkg in docker-registry skopeo apache2-utils openssl patch buildah debootstrap busybox-static zstd; do
    dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
  done
  # docker.io without its recommends (apparmor, git, needrestart...): dockerd and the docker CLI are all we use
  dpkg -s docker.io >/dev/null 2>&1 || need_lean+=(docker.io)
  if [ $((${#need[@]} + ${#need_lean[@]})) -gt 0 ]; then
    echo "installing system packages: ${need[*]} ${need_lean[*]}"
    # No service starts while installing (policy-rc.d): the tests run their own registry and dockerd on private
    # sockets, and a system dockerd would change the host's network (docker0, iptables)
    policy=/usr/sbin/policy-rc.d own_policy=
    if [ ! -e "$policy" ]; then printf '#!/bin/sh\nexit 101\n' > "$policy"; chmod +x "$policy"; own_policy=1; fi
    apt-get update -qq || true
    if [ ${#need[@]} -gt 0 ]; then
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null \
        || echo "warning: apt-get install failed; registry and lab tests will skip"
    fi
    if [ ${#need_lean[@]} -gt 0 ]; then
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_lean[@]}" >/dev/null \
        || echo "warning: apt-get install docker.io failed; the docker lab tests will skip"
    fi
    [ -z "$own_policy" ] || rm -f "$policy"
  fi
fi

if [ -z "${DOCKERFIX_SKIP_LAB:-}" ] && [ -f scripts/lab-setup.sh ] && command -v buildah >/dev/null && [ "$(id -u)" = 0 ]; then
  export DOCKERFIX_LAB=${DOCKERFIX_LAB:-/tmp/dockerfix-lab}
  if LAB="$DOCKERFIX_LAB" bash scripts/lab-setup.sh bases; then
    eval "$(LAB="$DOCKERFIX_LAB" bash scripts/lab-setup.sh env)"
  else
    echo "warning: lab base images could not be built; lab tests will skip"
    unset DOCKERFIX_LAB
  fi
fi

exec "$VENV/bin/python" -m pytest "$@"
