#!/usr/bin/env bash
# Installs AeroLog's build and test dependencies from Debian 12 packages. Idempotent: prints
# nothing and touches nothing when everything is already there.
set -euo pipefail
pkgs=(build-essential cmake pkg-config liburing-dev libspdlog-dev libfmt-dev libcli11-dev catch2
      libsystemd-dev libisal-dev libtomlplusplus-dev nlohmann-json3-dev python3 python3-matplotlib python3-numpy python3-pandas systemd
      clang-14 clang-format libclang-rt-14-dev e2fsprogs util-linux
      libcurl4-openssl-dev libnats-dev libfuse3-dev fuse3 xfsprogs clickhouse-server clickhouse-client nats-server curl)
missing=()
for p in "${pkgs[@]}"; do
  [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" = "install ok installed" ] || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "deps: installing ${missing[*]}"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" > /dev/null
