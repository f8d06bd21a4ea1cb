/* fuzz_manifest.c -- libFuzzer target for the RDRR manifest validator (src/format/rdrr_read.c)
 * and the hparams JSON reader behind it. Built and run by scripts/fuzz.sh. */
#include <stddef.h>
#include <stdint.h>
#include "format/rdrr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  dp_rdrr_manifest_check((const char *)data, size, "fuzz");
  return 0;
}
