# DOPPLER -- `make` builds build/doppler; README.md lists the two set-up commands.
JOBS ?= $(shell nproc)
BUILD ?= build
CMAKE_FLAGS ?=

PREFIX ?= /usr/local

.PHONY: all setup run check test test-cpu test-gpu sanitize wasm-check wasm web-test serve install clean

all:
	@test -f node_modules/bun-webgpu-linux-x64/libwebgpu_wrapper.so || bash scripts/setup.sh
	cmake -S . -B $(BUILD) $(CMAKE_FLAGS) >/dev/null
	cmake --build $(BUILD) -j $(JOBS)

setup:
	bash scripts/setup.sh

# Main job: the embedded default model answers a prompt.
run: setup all
	XDG_RUNTIME_DIR=/tmp ./$(BUILD)/doppler run -p "The jury said"

# Every test: CPU tests, GPU tests on lavapipe and on SwiftShader, sanitizers, wasm32 compile.
check: setup all
	bash scripts/test.sh

test: all
	bash scripts/test.sh

test-cpu: all
	cd $(BUILD) && ctest -L cpu --output-on-failure -j $(JOBS)

test-gpu: all
	cd $(BUILD) && ctest -L gpu --output-on-failure

# ASan + UBSan (leak detection on) over the CPU tests, then the GPU tests on lavapipe except
# the long perplexity run and the real-size presets (minutes at -O0 in the CPU reference's LM
# heads of 128-262 K rows, over the code paths gpu_synth covers) (Dawn and Mesa are not
# instrumented; our code around them is).
sanitize:
	cmake -S . -B build-asan -DDP_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
	cmake --build build-asan -j $(JOBS)
	cd build-asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 ctest -L cpu --output-on-failure -j $(JOBS)
	cd build-asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 DOPPLER_ADAPTER=lavapipe \
	  ctest -L gpu -E 'gpu_perplexity|gpu_presets' --output-on-failure

# A relocatable install: PREFIX/bin/doppler finds PREFIX/lib/libwebgpu_wrapper.so through its
# RUNPATH ($ORIGIN/../lib) and the default model in PREFIX/share/doppler/models.
install: all
	cmake --install $(BUILD) --prefix "$(PREFIX)"

wasm-check:
	bash scripts/wasm_check.sh

# The browser build: build-wasm/doppler.wasm (web/wasm.mk); web-test runs it in headless
# Chromium against the native build (scripts/web_test.sh; docs/browser.md).
include web/wasm.mk

web-test: all wasm
	bash scripts/web_test.sh

# The demo chat page and the JS API on http://127.0.0.1:8080 (docs/browser.md).
serve: wasm
	node scripts/serve_static.mjs

clean:
	rm -rf build build-asan build-wasm
