/* fuzz_safetensors.c -- libFuzzer target for the safetensors header parser
 * (src/format/safetensors.c). Built and run by scripts/fuzz.sh. */
#include <stddef.h>
#include <stdint.h>
#include "core/alloc.h"
#include "format/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  dp_safetensors st = {0};
  if (dp_safetensors_parse(data, size, "fuzz", &st) == 0) {
    for (size_t i = 0; i < st.n; i++) /* every accepted range lies inside the input */
      if (st.t[i].offset + st.t[i].nbytes > size) __builtin_trap();
    for (size_t i = 0; i < st.n; i++) dp_free(st.t[i].name);
    dp_free(st.t);
  }
  return 0;
}
