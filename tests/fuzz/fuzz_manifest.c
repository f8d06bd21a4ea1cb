/* fuzz_manifest.c -- libFuzzer target for the RDRR manifest validator (src/format/rdrr_read.c:
 * structure, shard table, tensor bounds, 256-byte alignment, overlapping tensor ranges) and the
 * hparams JSON reader with its range checks behind it. Seeds (scripts/fuzz.sh): a real manifest,
 * one with two tensors overlapping and one with a misaligned offset. Built and run by
 * scripts/fuzz.sh. */
#include <stddef.h>
#include <stdint.h>
#include "format/rdrr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  dp_rdrr_manifest_check((const char *)data, size, "fuzz");
  return 0;
}
