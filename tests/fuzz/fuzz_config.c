/* fuzz_config.c -- libFuzzer target for HF config.json -> hparams (src/format/hparams.c): the
 * architecture choice, both rope forms, layer types and patterns, token ids and every range
 * check; a config that passes is also written back as the manifest's hparams JSON and read
 * again (dp_hparams_to_json / dp_hparams_from_json), which must pass the same checks. Built and
 * run by scripts/fuzz.sh. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include "core/buf.h"
#include "core/json.h"
#include "format/hparams.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  dp_json_doc *d = dp_json_parse((const char *)data, size, "config.json");
  if (!d) return 0;
  dp_hparams hp, back;
  if (dp_hparams_from_hf_config(dp_json_root(d), "config.json", &hp) == DP_OK) {
    dp_buf b = {0};
    dp_hparams_to_json(&hp, &b);
    dp_json_doc *j = b.failed ? NULL : dp_json_parse(b.data, b.len, "hparams");
    if (j && dp_hparams_from_json(dp_json_root(j), "hparams", &back) != DP_OK) abort(); /* what we accept, we must read back */
    if (j) dp_json_free(j);
    dp_buf_free(&b);
  }
  dp_json_free(d);
  return 0;
}
