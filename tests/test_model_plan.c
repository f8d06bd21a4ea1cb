/* test_model_plan.c -- the layer plan (src/model/plan.c) of each golden fixture's config: the
 * per-architecture quirks land in the right fields (windows per layer, RoPE per layer, norm
 * style, sandwich norms, embedding scale, attention scale, tied output, biases, sinks, MoE
 * expert names), every named tensor exists with the expected shape (dp_plan_check), bad sizes
 * are refused and every allocation failure is reported without leaks. */
#include <math.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "format/model_file.h"
#include "model/plan.h"
#include "testlib.h"

static dp_plan *plan_of(const char *arch, dp_model_file **mf_out) {
  char rel[128];
  snprintf(rel, sizeof rel, "fixtures/golden/%s", arch);
  dp_model_file *mf = NULL;
  dp_plan *p = NULL;
  dp_status st = dp_model_file_open(dp_test_shared(rel), &mf);
  CHECK(!st, "%s: open: %s", arch, dp_error_message());
  if (st) return NULL;
  st = dp_plan_build(dp_model_file_hparams(mf), &p);
  CHECK(!st, "%s: plan: %s", arch, dp_error_message());
  if (!st) {
    st = dp_plan_check(p, mf);
    CHECK(!st, "%s: check: %s", arch, dp_error_message());
  }
  if (mf_out) *mf_out = mf;
  else dp_model_file_close(mf);
  return p;
}

static void test_dense(void) {
  dp_plan *p = plan_of("llama3", NULL);
  if (p) {
    CHECK(p->tied && !strcmp(p->output, "model.embed_tokens.weight"), "llama3: tied output %s", p->output);
    CHECK(p->layers[0].rope.type == DP_ROPE_LLAMA3 && p->layers[2].rope.factor == 32, "llama3: rope");
    CHECK(!p->layers[1].sliding_window && !p->max_window, "llama3: no window");
    CHECK(p->n_heads == 4 && p->n_kv_heads == 2 && p->glu == DP_PLAN_GLU_SILU && !p->norm_plus_one, "llama3: sizes");
    CHECK(!strcmp(p->layers[1].ffn_norm, "model.layers.1.post_attention_layernorm.weight") &&
              !p->layers[1].attn_post_norm[0] && !p->layers[1].q_norm[0] && !p->layers[1].q_bias[0],
          "llama3: norms %s", p->layers[1].ffn_norm);
    CHECK(fabs(p->layers[0].attn_scale - 1 / sqrt(32.0)) < 1e-15 && p->embed_scale == 1, "llama3: scales");
  }
  dp_plan_free(p);
  p = plan_of("llama2", NULL);
  if (p) CHECK(!p->tied && !strcmp(p->output, "lm_head.weight") && p->n_heads == p->n_kv_heads, "llama2: output/MHA");
  dp_plan_free(p);
  p = plan_of("mistral", NULL);
  if (p) {
    int all = 1;
    for (int i = 0; i < p->n_layers; i++) all &= p->layers[i].sliding_window == 16;
    CHECK(all && p->max_window == 16, "mistral: every layer slides over 16");
  }
  dp_plan_free(p);
  p = plan_of("qwen3", NULL);
  if (p)
    CHECK(!strcmp(p->layers[2].q_norm, "model.layers.2.self_attn.q_norm.weight") && p->layers[2].k_norm[0] &&
              !p->norm_plus_one && !p->max_window,
          "qwen3: q/k norms with w, no window");
  dp_plan_free(p);
}

static void test_gemma3(void) {
  dp_plan *p = plan_of("gemma3", NULL);
  if (!p) return;
  CHECK(p->norm_plus_one && p->glu == DP_PLAN_GLU_GELU_TANH && p->tied, "gemma3: (1+w), gelu-tanh, tied");
  CHECK(fabs(p->embed_scale - sqrt(128.0)) < 1e-12, "gemma3: embed scale %g", p->embed_scale);
  for (int i = 0; i < 4; i++) {
    const dp_layer_plan *L = &p->layers[i];
    int global = i == 3;
    CHECK(L->sliding_window == (global ? 0 : 8), "gemma3: layer %d window %d", i, L->sliding_window);
    CHECK(global ? L->rope.type == DP_ROPE_LINEAR && L->rope.factor == 8 && L->rope.theta == 1e6
                 : L->rope.type == DP_ROPE_DEFAULT && L->rope.theta == 1e4,
          "gemma3: layer %d rope type %d base %g factor %g", i, (int)L->rope.type, L->rope.theta, L->rope.factor);
    CHECK(fabs(L->attn_scale - 1 / sqrt(32.0)) < 1e-15, "gemma3: query_pre_attn_scalar");
    char want[96];
    snprintf(want, sizeof want, "model.layers.%d.pre_feedforward_layernorm.weight", i);
    CHECK(!strcmp(L->ffn_norm, want), "gemma3: ffn norm %s", L->ffn_norm);
    snprintf(want, sizeof want, "model.layers.%d.post_attention_layernorm.weight", i);
    CHECK(!strcmp(L->attn_post_norm, want) && L->ffn_post_norm[0] && L->q_norm[0], "gemma3: sandwich %s", L->attn_post_norm);
  }
  dp_plan_free(p);
}

static void test_moe(void) {
  dp_plan *p = plan_of("mixtral", NULL);
  dp_plan_name n;
  if (p) {
    CHECK(p->layers[1].ffn == DP_FFN_MOE && p->n_experts == 8 && p->n_experts_per_tok == 2, "mixtral: moe");
    CHECK(!dp_plan_expert(p, 1, 7, DP_EXPERT_DOWN, n) && !strcmp(n, "model.layers.1.block_sparse_moe.experts.7.w2.weight"),
          "mixtral: expert name %s", n);
    CHECK(dp_plan_expert(p, 1, 7, DP_EXPERT_DOWN_BIAS, n) == DP_ERR_NOT_FOUND, "mixtral: no expert biases");
    CHECK(dp_plan_expert(p, 1, 8, DP_EXPERT_UP, n) == DP_ERR_NOT_FOUND, "mixtral: expert 8 of 8");
  }
  dp_plan_free(p);
  p = plan_of("gptoss", NULL);
  if (p) {
    CHECK(p->layers[0].sliding_window == 8 && p->layers[1].sliding_window == 0, "gptoss: alternating windows");
    CHECK(p->layers[0].rope.type == DP_ROPE_YARN && p->layers[1].rope.type == DP_ROPE_YARN && !p->layers[0].rope.truncate,
          "gptoss: yarn on every layer, truncate false");
    CHECK(p->glu == DP_PLAN_GLU_SWIGLU_CLAMP && p->swiglu_alpha == 1.702 && p->swiglu_limit == 7, "gptoss: clamped swiglu");
    CHECK(p->layers[1].sinks[0] && p->layers[1].q_bias[0] && p->layers[1].o_bias[0] && p->layers[1].router_bias[0],
          "gptoss: sinks and biases");
    CHECK(!dp_plan_expert(p, 0, 3, DP_EXPERT_UP_BIAS, n) && !strcmp(n, "model.layers.0.mlp.experts.3.up_proj.bias"),
          "gptoss: expert name %s", n);
  }
  dp_plan_free(p);
}

static void test_errors(void) {
  dp_model_file *mf = NULL;
  dp_plan *p = plan_of("gemma3", &mf);
  dp_plan_free(p);
  if (!mf) return;
  dp_hparams hp = *dp_model_file_hparams(mf);
  dp_hparams bad = hp;
  bad.n_kv_heads = 3;
  CHECK(dp_plan_build(&bad, &p) == DP_ERR_UNSUPPORTED && !p, "4 heads over 3 kv heads accepted");
  bad = hp;
  bad.vocab_size = 0;
  CHECK(dp_plan_build(&bad, &p) == DP_ERR_UNSUPPORTED && !p, "vocab 0 accepted");
  /* a plan whose sizes disagree with the file fails the check, naming the tensor */
  bad = hp;
  bad.d_ff += 1;
  if (!dp_plan_build(&bad, &p)) {
    dp_status st = dp_plan_check(p, mf);
    CHECK(st == DP_ERR_FORMAT && strstr(dp_error_message(), "gate_proj"), "check: %d %s", (int)st, dp_error_message());
    dp_plan_free(p);
  }
  for (long n = 0; n < 2; n++) {
    dp_alloc_fail_after(n, 0);
    dp_status st = dp_plan_build(&hp, &p);
    dp_alloc_fail_after(-1, 0);
    CHECK(st == DP_ERR_NOMEM && !p, "allocation %ld failing: status %d", n, (int)st);
    dp_plan_free(p);
  }
  dp_model_file_close(mf);
}

static void emit(const char *line, void *ctx) {
  (*(int *)ctx)++;
  (void)line;
}

int main(void) {
  test_dense();
  test_gemma3();
  test_moe();
  test_errors();
  dp_plan *p = plan_of("gemma3", NULL);
  if (p) {
    int lines = 0;
    dp_plan_print(p, emit, &lines);
    CHECK(lines == 1 + p->n_layers, "print: %d lines", lines);
  }
  dp_plan_free(p);
  return dp_test_summary("test_model_plan");
}
