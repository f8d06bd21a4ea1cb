# wasm.mk -- `make wasm`: the engine's run-time core linked for wasm32 (clang-14
# --target=wasm32-wasi, reactor mode: no main, the host calls the dpw_* exports) into
# build-wasm/doppler.wasm, served to the browser with web/engine.js and web/engine/*.js.
# Debian's wasi-libc (/usr/share/wasi-sysroot) and compiler-rt builtins
# (libclang-rt-14-dev-wasm32); wasm-ld from lld-14. Included by the top Makefile.
#
# Sources: every layer the run time needs (core, format readers, quant, tokenizer, kernels,
# model, runtime, api) plus the browser's device layer (src/gpu/web.c, src/gpu/gpu_common.c, src/gpu/wgsl_layout.c) and exports
# (web/engine/exports.c). Not linked: src/tools (converter, synth, writers) and the CPU
# reference's forward pass (src/ref/forward.c); src/ref/kernels_ref.c is, for the kernel hot
# swap's check. --gc-sections drops what no export reaches (the blocking benchmarks).
WASM_OUT := build-wasm
WASM_CC := clang-14
WASM_CFLAGS := --target=wasm32-wasi -std=c11 -O2 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE \
  -D_WASI_EMULATED_MMAN -Wall -Wno-unused-parameter -Wno-sign-compare \
  -Werror=implicit-function-declaration -Iinclude -Isrc -MMD -MP
WASM_LDFLAGS := --target=wasm32-wasi -mexec-model=reactor -Wl,--gc-sections -Wl,--strip-debug \
  -Wl,-z,stack-size=1048576 -Wl,--initial-memory=67108864 -Wl,--max-memory=4294967296 \
  -Wl,--export=malloc -Wl,--export=free
WASM_SRCS := $(wildcard src/core/*.c src/format/*.c src/quant/*.c src/tokenizer/*.c src/kernels/*.c \
  src/model/*.c src/runtime/*.c src/api/*.c) src/ref/kernels_ref.c src/gpu/web.c src/gpu/gpu_common.c src/gpu/wgsl_layout.c web/engine/exports.c
WASM_OBJS := $(patsubst %.c,$(WASM_OUT)/obj/%.o,$(WASM_SRCS)) $(WASM_OUT)/obj/kernels_embedded.o

wasm: $(WASM_OUT)/doppler.wasm

$(WASM_OUT)/doppler.wasm: $(WASM_OBJS)
	@$(WASM_CC) $(WASM_LDFLAGS) -o $@ $(WASM_OBJS) -lwasi-emulated-mman
	@echo "wasm: $@ ($$(stat -c %s $@) bytes, $(words $(WASM_OBJS)) objects)"

$(WASM_OUT)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "wasm cc $<"
	@$(WASM_CC) $(WASM_CFLAGS) -c $< -o $@

$(WASM_OUT)/dp_embed: tools/embed.c
	@mkdir -p $(WASM_OUT)
	cc -O1 -o $@ $<

$(WASM_OUT)/gen/kernels_embedded.c: $(WASM_OUT)/dp_embed $(wildcard src/kernels/*.wgsl)
	@mkdir -p $(dir $@)
	$(WASM_OUT)/dp_embed $@ $(wildcard src/kernels/*.wgsl)

$(WASM_OUT)/obj/kernels_embedded.o: $(WASM_OUT)/gen/kernels_embedded.c
	@mkdir -p $(dir $@)
	$(WASM_CC) $(WASM_CFLAGS) -c $< -o $@

-include $(WASM_OBJS:.o=.d)
