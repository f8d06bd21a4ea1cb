# device_env.sh -- sourced by the scripts/device_*.sh calls on the lent NVIDIA machine
# (docs/device.md): from the checkout's root (the device's copy of it), unpack the Vulkan loader
# carried in .gl/ (and any EXTRA_DEBS), point the loader at the NVIDIA ICD, and set
#   BIN   the folder with doppler and the test binaries (default: the caller's BIN_DEFAULT, else build)
#   LD_LIBRARY_PATH  $BIN/lib (libmicrohttpd.so.12 and the libraries it needs, which that
#         machine lacks; docs/device.md) and Dawn from node_modules/bun-webgpu-linux-x64
#   OUT   where results go (created), S = $OUT/summary.txt, and log "..." appending to it.
cd "$(dirname "${BASH_SOURCE[0]}")/.."
for f in .gl/*.deb ${EXTRA_DEBS:-}; do [ -f "$f" ] && dpkg -x "$f" /; done; ldconfig
export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json XDG_RUNTIME_DIR=/tmp
export DOPPLER_ADAPTER=${DOPPLER_ADAPTER:-default}
BIN=${BIN:-${BIN_DEFAULT:-build}}
export LD_LIBRARY_PATH=$PWD/$BIN/lib:$PWD/node_modules/bun-webgpu-linux-x64${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
S="$OUT/summary.txt"
log() { echo "== $(date -u +%T) $*" | tee -a "$S"; }
