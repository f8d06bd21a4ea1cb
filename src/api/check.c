/* check.c -- dp_model_check (include/doppler.h): everything dp_model_load checks that needs no
 * GPU -- the model file opens (hyper-parameter ranges, tensor bounds), the layer plan builds and
 * every tensor it names exists with its shape (model/plan.c dp_plan_check), and the tokenizer
 * loads (tokenizer.json, else the GGUF tokenizer.ggml.* keys) as dp_model_load loads it.
 * Called by `doppler convert` on its source and on its output before the output is renamed
 * into place (tools/convert.h check hook); depends on format, model and tokenizer. */
#include "doppler.h"
#include "core/error.h"
#include "format/gguf.h"
#include "format/model_file.h"
#include "model/plan.h"
#include "tokenizer/tokenizer.h"

dp_status dp_model_check(const char *path) {
  dp_model_file *mf = NULL;
  dp_plan *plan = NULL;
  dp_tokenizer *tok = NULL;
  dp_status st = dp_model_file_open(path, &mf);
  if (!st) st = dp_plan_build(dp_model_file_hparams(mf), &plan);
  if (!st) st = dp_plan_check(plan, mf);
  if (!st) {
    const char *tj = dp_model_file_tokenizer_json(mf);
    const struct dp_gguf *g = dp_model_file_gguf(mf);
    if (tj) st = dp_tokenizer_load_json(tj, &tok);
    else if (g && dp_gguf_find(g, "tokenizer.ggml.tokens")) st = dp_tokenizer_from_gguf(g, &tok);
    if (st) st = dp_error_wrap(st, "%s: tokenizer", path);
  }
  dp_tokenizer_free(tok);
  dp_plan_free(plan);
  dp_model_file_close(mf);
  return st;
}
