/* inspect.c -- `doppler inspect` summaries and `doppler update-manifest` edits (see
 * inspect.h). Called by cli/cmd_inspect.c, cli/cmd_update_manifest.c and tests; depends on
 * model_file, rdrr (manifest checks) and core (json, buf, file). The manifest editor re-emits
 * the parsed JSON tree in its original key order with only the edited values changed. */
#include "format/json_status.h"
#include "tools/inspect.h"
#include "format/model_file_impl.h"
#include "format/rdrr.h"
#include "core/alloc.h"
#include "core/error.h"
#include "core/file.h"
#include "core/json.h"
#include <math.h>
#include <stddef.h>
#include <string.h>

uint64_t dp_model_params(const dp_model_file *mf) {
  uint64_t n = 0;
  const dp_hparams *hp = dp_model_file_hparams(mf);
  int tied_pair = hp->tie_embeddings && dp_model_file_find(mf, "model.embed_tokens.weight");
  for (size_t i = 0; i < dp_model_file_tensor_count(mf); i++) {
    const dp_tensor_info *t = dp_model_file_tensor(mf, i);
    if (tied_pair && !strcmp(t->name, "lm_head.weight")) continue;
    n += dp_tensor_nelems(t);
  }
  return n;
}

dp_status dp_inspect(dp_model_file *mf, int json, dp_buf *b) {
  const dp_hparams *hp = dp_model_file_hparams(mf);
  uint64_t bytes[DP_DTYPE_COUNT] = {0}, count[DP_DTYPE_COUNT] = {0}, total = 0;
  size_t n = dp_model_file_tensor_count(mf);
  for (size_t i = 0; i < n; i++) {
    const dp_tensor_info *t = dp_model_file_tensor(mf, i);
    bytes[t->dtype] += t->nbytes, count[t->dtype]++, total += t->nbytes;
  }
  const char *path = dp_model_file_path(mf);
  int rdrr = !strcmp(dp_model_file_kind(mf), "rdrr");
  char *mp = rdrr ? dp_path_join(path, "manifest.json") : NULL;
  if (rdrr && !mp) return DP_ERR_NOMEM;
  dp_json_doc *man = mp ? dp_json_parse_file(mp) : NULL;
  dp_free(mp);
  if (rdrr && !man) return dp_json_fail_status(); /* it parsed at open: out of memory, or changed since */
  const dp_json *shards = man ? dp_json_get(dp_json_root(man), "shards") : NULL;
  uint64_t np = dp_model_params(mf);
  if (json) {
    dp_buf_puts(b, "{\"path\": ");
    dp_buf_json_string(b, path, strlen(path));
    dp_buf_printf(b, ", \"format\": \"%s\", \"architecture\": \"%s\", \"model_type\": \"%s\", \"n_params\": %llu, \"n_bytes\": %llu",
                  dp_model_file_kind(mf), dp_arch_name(hp->arch), hp->model_type, (unsigned long long)np, (unsigned long long)total);
    dp_buf_puts(b, ", \"hparams\": ");
    dp_hparams_to_json(hp, b);
    dp_buf_puts(b, ", \"bytes_per_dtype\": {");
    int first = 1;
    for (int i = 0; i < DP_DTYPE_COUNT; i++)
      if (count[i]) dp_buf_printf(b, "%s\"%s\": %llu", first ? "" : ", ", dp_dtype_name((dp_dtype)i), (unsigned long long)bytes[i]), first = 0;
    dp_buf_puts(b, "}, \"shards\": [");
    for (size_t i = 0; i < dp_json_len(shards); i++) {
      const dp_json *s = dp_json_at(shards, i);
      dp_buf_printf(b, "%s{\"file\": \"%s\", \"size\": %.0f, \"sha256\": \"%s\"}", i ? ", " : "", dp_json_get_str(s, "file", ""),
                    dp_json_get_num(s, "size", 0), dp_json_get_str(s, "sha256", ""));
    }
    dp_buf_puts(b, "], \"hints\": {");
    const char *qm = dp_model_file_hint(mf, "q4kMatmul"), *cp = dp_model_file_hint(mf, "computePrecision");
    if (qm) dp_buf_printf(b, "\"q4kMatmul\": \"%s\"", qm);
    if (cp) dp_buf_printf(b, "%s\"computePrecision\": \"%s\"", qm ? ", " : "", cp);
    dp_buf_puts(b, "}, \"tensors\": [");
    for (size_t i = 0; i < n; i++) {
      const dp_tensor_info *t = dp_model_file_tensor(mf, i);
      dp_buf_puts(b, i ? ",\n  {\"name\": " : "\n  {\"name\": ");
      dp_buf_json_string(b, t->name, strlen(t->name));
      dp_buf_printf(b, ", \"dtype\": \"%s\", \"shape\": [", dp_dtype_name(t->dtype));
      for (int d = 0; d < t->n_dims; d++) dp_buf_printf(b, "%s%llu", d ? ", " : "", (unsigned long long)t->shape[d]);
      dp_buf_printf(b, "], \"bytes\": %llu}", (unsigned long long)t->nbytes);
    }
    dp_buf_puts(b, "\n]}\n");
  } else {
    dp_buf_printf(b, "model        %s (%s)\narchitecture %s (%s)\nlayers       %d, d_model %d, heads %d/%d x %d, d_ff %d, vocab %d\n",
                  path, dp_model_file_kind(mf), dp_arch_name(hp->arch), hp->model_type, hp->n_layers, hp->d_model, hp->n_heads,
                  hp->n_kv_heads, hp->head_dim, hp->d_ff, hp->vocab_size);
    if (hp->n_experts) dp_buf_printf(b, "experts      %d, %d per token\n", hp->n_experts, hp->n_experts_per_tok);
    dp_buf_printf(b, "parameters   %llu (%.2f M)\nbytes        %llu\n", (unsigned long long)np, np / 1e6, (unsigned long long)total);
    for (int i = 0; i < DP_DTYPE_COUNT; i++)
      if (count[i]) dp_buf_printf(b, "  %-6s %4llu tensors %12llu bytes\n", dp_dtype_name((dp_dtype)i), (unsigned long long)count[i], (unsigned long long)bytes[i]);
    if (shards) {
      dp_buf_printf(b, "shards       %zu\n", dp_json_len(shards));
      for (size_t i = 0; i < dp_json_len(shards); i++)
        dp_buf_printf(b, "  %s %.0f bytes sha256 %s\n", dp_json_get_str(dp_json_at(shards, i), "file", ""),
                      dp_json_get_num(dp_json_at(shards, i), "size", 0), dp_json_get_str(dp_json_at(shards, i), "sha256", ""));
    }
    dp_buf_puts(b, "tensors\n");
    for (size_t i = 0; i < n; i++) {
      const dp_tensor_info *t = dp_model_file_tensor(mf, i);
      dp_buf_printf(b, "  %-56s %-6s [", t->name, dp_dtype_name(t->dtype));
      for (int d = 0; d < t->n_dims; d++) dp_buf_printf(b, "%s%llu", d ? ", " : "", (unsigned long long)t->shape[d]);
      dp_buf_puts(b, "]\n");
    }
  }
  if (man) dp_json_free(man);
  return b->failed ? DP_ERR_NOMEM : DP_OK;
}

/* ---------------------------------------------------------------- manifest editing */

static const char *LAYOUTS[] = {DP_RDRR_LAYOUT_GGUF, "q4k-planes"};

typedef struct edit_ctx { const dp_manifest_edit *e; dp_buf *report; int in_tensor_q4k; } edit_ctx;

static void emit(const dp_json *v, dp_buf *b, int depth);

static void emit_num(double x, dp_buf *b) {
  if (x == floor(x) && fabs(x) < 9e15) dp_buf_printf(b, "%.0f", x);
  else dp_buf_printf(b, "%.17g", x);
}

static void emit(const dp_json *v, dp_buf *b, int depth) {
  switch (v->type) {
  case DP_JSON_NULL: dp_buf_puts(b, "null"); break;
  case DP_JSON_BOOL: dp_buf_puts(b, v->u.boolean ? "true" : "false"); break;
  case DP_JSON_NUMBER: emit_num(v->u.number, b); break;
  case DP_JSON_STRING: dp_buf_json_string(b, v->u.str, v->n); break;
  case DP_JSON_ARRAY:
    dp_buf_puts(b, "[");
    for (uint32_t i = 0; i < v->n; i++) {
      if (i) dp_buf_puts(b, ", ");
      if (depth == 1 && v->u.items[i].type == DP_JSON_OBJECT) dp_buf_puts(b, "\n    ");
      emit(&v->u.items[i], b, depth + 1);
    }
    dp_buf_puts(b, depth == 1 && v->n ? "\n  ]" : "]");
    break;
  case DP_JSON_OBJECT:
    dp_buf_puts(b, "{");
    for (uint32_t i = 0; i < v->n; i++) {
      if (i) dp_buf_puts(b, depth == 0 ? "," : ", ");
      if (depth == 0) dp_buf_puts(b, "\n  ");
      dp_buf_json_string(b, v->keys[i], v->key_lens[i]);
      dp_buf_puts(b, ": ");
      emit(&v->u.items[i], b, depth + 1);
    }
    dp_buf_puts(b, depth == 0 ? "\n}\n" : "}");
    break;
  }
}

static int one_of(const char *v, const char *a, const char *b) { return !strcmp(v, a) || !strcmp(v, b); }

/* Under the directory lock: read manifest.json, edit the tree, check that the result would load
 * (the reader's full open, shards included), write it atomically. The input itself need not
 * load, so a manifest a layout edit broke can be edited back. */
static dp_status update_locked(const char *dir, const char *mp, const dp_manifest_edit *e, dp_buf *report) {
  char *text = NULL;
  size_t len;
  dp_status st = dp_file_read_all(mp, &text, &len);
  dp_json_doc *doc = st ? NULL : dp_json_parse(text, len, mp);
  if (!st && !doc) st = dp_json_fail_status();
  dp_free(text);
  if (st) return st;
  /* the tree is immutable: edit a shallow copy of the strings we change */
  dp_json *root = (dp_json *)dp_json_root(doc);
  dp_json *hints = (dp_json *)dp_json_get(root, "hints"), *tensors = (dp_json *)dp_json_get(root, "tensors");
  if (!dp_json_is(root, DP_JSON_OBJECT) || strcmp(dp_json_get_str(root, "format", ""), "rdrr") || !dp_json_is(tensors, DP_JSON_ARRAY))
    st = dp_error(DP_ERR_FORMAT, "%s: not an RDRR manifest (field format, tensors)", mp);
  int changes = 0, unsafe = 0;
  static const struct { const char *key; size_t off; } H[] = {{"q4kMatmul", offsetof(dp_manifest_edit, q4k_matmul)},
                                                              {"computePrecision", offsetof(dp_manifest_edit, compute_precision)}};
  for (int h = 0; h < 2 && !st; h++) {
    const char *want = *(const char *const *)((const char *)e + H[h].off);
    if (!want) continue;
    dp_json *slot = NULL;
    for (uint32_t i = 0; hints && hints->type == DP_JSON_OBJECT && i < hints->n; i++)
      if (!strcmp(hints->keys[i], H[h].key)) slot = &hints->u.items[i];
    if (!slot) { st = dp_error(DP_ERR_FORMAT, "%s: field hints.%s: missing", mp, H[h].key); break; }
    const char *cur = dp_json_str(slot, "");
    if (!strcmp(cur, want)) continue;
    dp_buf_printf(report, "hints.%s: %s -> %s (undo: the same flag with %s)\n", H[h].key, cur, want, cur);
    slot->type = DP_JSON_STRING, slot->u.str = want, slot->n = (uint32_t)strlen(want);
    changes++;
  }
  int layout_changes = 0;
  const char *old_layout = NULL;
  for (uint32_t i = 0; !st && e->q4k_layout && i < tensors->n; i++) {
    dp_json *t = &tensors->u.items[i];
    if (strcmp(dp_json_get_str(t, "dtype", ""), "q4_k")) continue;
    for (uint32_t k = 0; k < t->n; k++)
      if (!strcmp(t->keys[k], "layout") && strcmp(dp_json_str(&t->u.items[k], ""), e->q4k_layout)) {
        old_layout = dp_json_str(&t->u.items[k], "");
        t->u.items[k].type = DP_JSON_STRING, t->u.items[k].u.str = e->q4k_layout, t->u.items[k].n = (uint32_t)strlen(e->q4k_layout);
        layout_changes++;
      }
  }
  if (layout_changes) {
    unsafe = 1;
    dp_buf_printf(report, "layout of %d q4_k tensors: %s -> %s (UNSAFE: changes how shard bytes are read)\n", layout_changes, old_layout, e->q4k_layout);
    changes += layout_changes;
  }
  if (!st && unsafe && !e->allow_unsafe)
    st = dp_error(DP_ERR_INVALID_ARG, "%s: --q4k-layout %s changes how shard bytes are read; refused without --allow-unsafe "
                  "(which asserts the shards already hold that layout)", mp, e->q4k_layout);
  if (!st && !changes) dp_buf_puts(report, "no changes\n");
  dp_buf out = {0};
  if (!st && changes) {
    emit(root, &out, 0);
    dp_model_file *mf = NULL;
    if (out.failed) st = DP_ERR_NOMEM;
    else if ((st = dp_rdrr_open_manifest(dir, out.data, out.len, &mf)))
      st = dp_error_wrap(st, "%s: refused, the edited manifest would not load (nothing written)", mp);
    dp_model_file_close(mf);
  }
  if (!st && changes && !e->dry_run) st = dp_file_write_atomic(mp, out.data, out.len);
  dp_buf_free(&out);
  dp_json_free(doc);
  return st;
}

dp_status dp_manifest_update(const char *dir, const dp_manifest_edit *e, dp_buf *report) {
  if (e->q4k_matmul && !one_of(e->q4k_matmul, "fused", "dequant"))
    return dp_error(DP_ERR_INVALID_ARG, "--q4k-matmul: unknown value \"%s\" (fused, dequant)", e->q4k_matmul);
  if (e->compute_precision && !one_of(e->compute_precision, "f16", "f32"))
    return dp_error(DP_ERR_INVALID_ARG, "--compute-precision: unknown value \"%s\" (f16, f32)", e->compute_precision);
  if (e->q4k_layout && !one_of(e->q4k_layout, LAYOUTS[0], LAYOUTS[1]))
    return dp_error(DP_ERR_INVALID_ARG, "--q4k-layout: unknown value \"%s\" (%s, %s)", e->q4k_layout, LAYOUTS[0], LAYOUTS[1]);
  char *mp = dp_path_join(dir, "manifest.json");
  if (!mp) return DP_ERR_NOMEM;
  int lock;
  dp_status st = dp_dir_lock(dir, &lock); /* concurrent editors take turns: no edit is lost */
  if (!st) {
    st = update_locked(dir, mp, e, report);
    dp_dir_unlock(lock);
  }
  dp_free(mp);
  return st;
}
