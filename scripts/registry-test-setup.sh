#!/usr/bin/env bash
# Install what tests/registry needs (Debian/Ubuntu, as root). The tests start and stop their own
# registries on 127.0.0.1; nothing else is configured. Without these packages the real-registry tests skip.
#   docker-registry  CNCF distribution 2.8 (`docker-registry serve CONFIG`)
#   skopeo           cross-check of resolved digests (`skopeo inspect .Digest`); optional
#   apache2-utils    htpasswd -B for the TLS + basic-auth registry
#   openssl          CA/server certificates and RS256 signing for the test token server
set -euo pipefail
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-registry skopeo apache2-utils openssl >/dev/null
docker-registry --version
