/* test_format_hf.c -- HF config.json -> hparams (every config trap of the fixtures README, in
 * both the rope_parameters and the older rope_theta/rope_scaling forms) and dp_model_file
 * over HF directories: every golden model and doppler-tiny open, every tensor reads back
 * exactly what the safetensors file holds, gpt-oss MXFP4 experts dequantise exactly to
 * experts_dequant.safetensors. */
#include "testlib.h"
#include "core/alloc.h"
#include "core/json.h"
#include "format/hparams.h"
#include "format/model_file.h"
#include "format/safetensors.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *GOLDEN[] = {"llama3", "llama2", "mistral", "qwen3", "gemma3", "mixtral", "gptoss"};

static int parse_cfg(const char *text, dp_hparams *hp) {
  dp_json_doc *d = dp_json_parse(text, strlen(text), "cfg");
  if (!d) return -1;
  int r = dp_hparams_from_hf_config(dp_json_root(d), "cfg", hp);
  dp_json_free(d);
  return r;
}

static void test_config_forms(void) {
  dp_hparams hp;
  /* older Gemma 3 form: rope_theta + rope_scaling + rope_local_base_freq + sliding_window_pattern, no head_dim
   * (Gemma3TextConfig's default 256 then, not hidden / heads) */
  const char *old_gemma =
      "{\"architectures\": [\"Gemma3ForCausalLM\"], \"model_type\": \"gemma3_text\", \"num_hidden_layers\": 7,"
      "\"hidden_size\": 64, \"num_attention_heads\": 4, \"num_key_value_heads\": 2, \"intermediate_size\": 128,"
      "\"vocab_size\": 200, \"rope_theta\": 1000000.0, \"rope_scaling\": {\"type\": \"linear\", \"factor\": 8.0},"
      "\"rope_local_base_freq\": 10000.0, \"sliding_window\": 8, \"sliding_window_pattern\": 3, \"_sliding_window_pattern\": 6,"
      "\"query_pre_attn_scalar\": 16, \"final_logit_softcapping\": 30.0, \"attn_logit_softcapping\": 50.0,"
      "\"bos_token_id\": 2, \"eos_token_id\": [1, 106]}";
  CHECK(parse_cfg(old_gemma, &hp) == 0, "old gemma form: %s", dp_error_message());
  CHECK(hp.head_dim == 256, "head_dim default %d", hp.head_dim);
  CHECK(hp.rope.type == DP_ROPE_LINEAR && hp.rope.factor == 8 && hp.rope.theta == 1e6, "global rope");
  CHECK(hp.rope_local.type == DP_ROPE_DEFAULT && hp.rope_local.theta == 1e4, "local rope %g", hp.rope_local.theta);
  int pat_ok = 1;
  for (int i = 0; i < 7; i++) pat_ok &= hp.layer_sliding[i] == ((i + 1) % 3 != 0);
  CHECK(pat_ok, "sliding_window_pattern 3");
  CHECK(fabs(hp.attn_scale - 0.25) < 1e-12, "query_pre_attn_scalar scale %g", hp.attn_scale);
  CHECK(hp.final_softcap == 30 && hp.attn_softcap == 50, "softcaps");
  CHECK(hp.tie_embeddings == 1, "gemma ties by default");
  CHECK(hp.n_eos == 2 && hp.eos_ids[0] == 1 && hp.eos_ids[1] == 106 && hp.bos_id == 2, "eos list");
  CHECK(hp.norm_plus_one && hp.sandwich_norm && hp.embed_scale_sqrt_d && hp.qk_norm && hp.act == DP_ACT_GELU_TANH, "gemma flags");

  /* multimodal Gemma 3: text_config, token ids at the top */
  const char *mm = "{\"architectures\": [\"Gemma3ForConditionalGeneration\"], \"eos_token_id\": [1, 106], \"text_config\": {"
                   "\"model_type\": \"gemma3_text\", \"num_hidden_layers\": 2, \"hidden_size\": 32, \"num_attention_heads\": 2, \"num_key_value_heads\": 1,"
                   "\"intermediate_size\": 64, \"vocab_size\": 200, \"head_dim\": 16, \"rope_parameters\": {\"full_attention\": "
                   "{\"rope_type\": \"default\", \"rope_theta\": 1e6}, \"sliding_attention\": {\"rope_type\": \"default\", \"rope_theta\": 1e4}},"
                   "\"layer_types\": [\"sliding_attention\", \"full_attention\"], \"sliding_window\": 4}}";
  CHECK(parse_cfg(mm, &hp) == 0, "gemma3 multimodal: %s", dp_error_message());
  CHECK(hp.arch == DP_ARCH_GEMMA3 && hp.n_layers == 2 && hp.n_eos == 2 && hp.layer_sliding[0] == 1 && hp.layer_sliding[1] == 0,
        "gemma3 text_config");
  CHECK(hp.rope.theta == 1e6 && hp.rope_local.theta == 1e4 && hp.attn_scale == 1.0 / sqrt(256.0), "mm rope/scale");

  /* llama with rope_theta + rope_scaling llama3, no head_dim, no tie key */
  const char *l3 = "{\"architectures\": [\"LlamaForCausalLM\"], \"num_hidden_layers\": 2, \"hidden_size\": 64,"
                   "\"num_attention_heads\": 4, \"num_key_value_heads\": 2, \"intermediate_size\": 128, \"vocab_size\": 100,"
                   "\"rope_theta\": 500000.0, \"rope_scaling\": {\"rope_type\": \"llama3\", \"factor\": 8.0, \"low_freq_factor\": 1.0,"
                   "\"high_freq_factor\": 4.0, \"original_max_position_embeddings\": 8192}, \"eos_token_id\": 2}";
  CHECK(parse_cfg(l3, &hp) == 0, "llama old form: %s", dp_error_message());
  CHECK(hp.rope.type == DP_ROPE_LLAMA3 && hp.rope.factor == 8 && hp.rope.original_max_pos == 8192 && hp.rope.theta == 5e5, "llama3 rope");
  CHECK(hp.tie_embeddings == 0 && hp.head_dim == 16 && hp.sliding_window == 0, "llama defaults");

  /* gpt-oss without architectures, without layer_types: alternating, yarn with truncate */
  const char *go = "{\"model_type\": \"gpt_oss\", \"num_hidden_layers\": 4, \"hidden_size\": 64, \"num_attention_heads\": 4,"
                   "\"num_key_value_heads\": 1, \"head_dim\": 16, \"intermediate_size\": 64, \"vocab_size\": 100, \"num_local_experts\": 4,"
                   "\"num_experts_per_tok\": 2, \"rope_theta\": 150000, \"rope_scaling\": {\"rope_type\": \"yarn\", \"factor\": 32.0,"
                   "\"beta_fast\": 32.0, \"beta_slow\": 1.0, \"original_max_position_embeddings\": 4096, \"truncate\": false}}";
  CHECK(parse_cfg(go, &hp) == 0, "gpt-oss: %s", dp_error_message());
  CHECK(hp.arch == DP_ARCH_GPTOSS && hp.rope.type == DP_ROPE_YARN && hp.rope.truncate == 0 && hp.sliding_window == 128, "gpt-oss rope");
  CHECK(hp.layer_sliding[0] == 1 && hp.layer_sliding[1] == 0 && hp.layer_sliding[2] == 1 && hp.layer_sliding[3] == 0, "gpt-oss alternation");
  CHECK(hp.attn_bias && hp.o_bias && hp.attn_sinks && hp.router_bias && hp.swiglu_limit == 7.0 && hp.n_experts == 4, "gpt-oss flags");

  /* errors */
  CHECK(parse_cfg("{\"architectures\": [\"FooForCausalLM\"]}", &hp) == DP_ERR_UNSUPPORTED, "unknown arch");
  CHECK(strstr(dp_error_message(), "FooForCausalLM") != NULL, "message names the arch: %s", dp_error_message());
  const char *dyn = "{\"architectures\": [\"LlamaForCausalLM\"], \"num_hidden_layers\": 2, \"hidden_size\": 64,"
                    "\"num_attention_heads\": 4, \"intermediate_size\": 128, \"vocab_size\": 100, \"rope_scaling\": {\"type\": \"dynamic\", \"factor\": 2}}";
  CHECK(parse_cfg(dyn, &hp) == DP_ERR_UNSUPPORTED, "dynamic rope unsupported");
  const char *bad = "{\"architectures\": [\"LlamaForCausalLM\"], \"num_hidden_layers\": 2, \"hidden_size\": 64,"
                    "\"num_attention_heads\": 3, \"num_key_value_heads\": 2, \"intermediate_size\": 128, \"vocab_size\": 100}";
  CHECK(parse_cfg(bad, &hp) == DP_ERR_FORMAT, "heads not divisible");
  const char *lt = "{\"architectures\": [\"Qwen3ForCausalLM\"], \"num_hidden_layers\": 2, \"hidden_size\": 64, \"num_attention_heads\": 4,"
                   "\"intermediate_size\": 128, \"vocab_size\": 100, \"layer_types\": [\"full_attention\"]}";
  CHECK(parse_cfg(lt, &hp) == DP_ERR_FORMAT, "layer_types length");
}

static void test_golden_hparams(const char *name, const dp_hparams *hp) {
  if (!strcmp(name, "gemma3")) {
    CHECK(hp->layer_sliding[0] && hp->layer_sliding[1] && hp->layer_sliding[2] && !hp->layer_sliding[3], "gemma3 layer types");
    CHECK(hp->rope.type == DP_ROPE_LINEAR && hp->rope.factor == 8 && hp->rope.theta == 1e6 && hp->rope_local.theta == 1e4, "gemma3 rope");
    CHECK(fabs(hp->attn_scale - 1 / sqrt(32.0)) < 1e-15 && hp->sliding_window == 8 && hp->tie_embeddings, "gemma3 misc");
    CHECK(hp->bos_id == 2 && hp->n_eos == 1 && hp->eos_ids[0] == 1 && hp->pad_id == 0, "gemma3 ids");
  } else if (!strcmp(name, "gptoss")) {
    CHECK(hp->arch == DP_ARCH_GPTOSS && hp->rope.type == DP_ROPE_YARN && hp->rope.truncate == 0 && hp->rope.factor == 32 &&
          hp->rope.original_max_pos == 64 && hp->rope.theta == 150000, "gptoss rope");
    CHECK(hp->layer_sliding[0] == 1 && hp->layer_sliding[1] == 0 && hp->sliding_window == 8 && hp->n_experts == 8 && hp->n_experts_per_tok == 2, "gptoss layers");
  } else if (!strcmp(name, "llama3")) {
    CHECK(hp->rope.type == DP_ROPE_LLAMA3 && hp->rope.factor == 32 && hp->rope.original_max_pos == 64 && hp->tie_embeddings && hp->n_kv_heads == 2, "llama3");
  } else if (!strcmp(name, "mistral")) {
    int all = 1;
    for (int i = 0; i < hp->n_layers; i++) all &= hp->layer_sliding[i];
    CHECK(hp->sliding_window == 16 && all && hp->n_kv_heads == 1, "mistral window");
  } else if (!strcmp(name, "qwen3")) {
    CHECK(hp->qk_norm && hp->tie_embeddings && hp->sliding_window == 0 && hp->norm_eps == 1e-6, "qwen3");
  } else if (!strcmp(name, "mixtral")) {
    CHECK(hp->n_experts == 8 && hp->n_experts_per_tok == 2 && hp->sliding_window == 0 && hp->moe_d_ff == 192, "mixtral");
  } else if (!strcmp(name, "llama2")) {
    CHECK(hp->n_heads == 3 && hp->n_kv_heads == 3 && hp->head_dim == 32 && !hp->tie_embeddings, "llama2");
  }
}

/* every non-expert tensor reads back bit-exactly; returns number compared */
static int compare_with_safetensors(dp_model_file *mf, const char *st_path) {
  dp_safetensors *st;
  if (dp_safetensors_open(st_path, &st)) { CHECK(0, "open %s: %s", st_path, dp_error_message()); return 0; }
  int n = 0;
  for (size_t i = 0; i < st->n; i++) {
    const dp_st_tensor *t = &st->t[i];
    if (t->dtype != DP_F32) continue;
    if (strstr(t->name, "experts.") && strstr(t->name, "_bias")) continue;
    const dp_tensor_info *ti = dp_model_file_find(mf, t->name);
    CHECK(ti != NULL, "%s: tensor %s present", st_path, t->name);
    if (!ti) continue;
    CHECK(ti->n_dims == t->n_dims && ti->shape[0] == t->shape[0] && ti->nbytes == t->nbytes, "%s shape", t->name);
    float *a = malloc(t->nbytes);
    int ok = dp_model_file_read_f32(mf, ti, a) == 0 && !memcmp(a, st->map.data + t->offset, t->nbytes);
    CHECK(ok, "%s: %s reads back exactly", st_path, t->name);
    /* a partial read in the middle */
    uint64_t off = t->nbytes / 3, len = t->nbytes / 4;
    CHECK(dp_model_file_read(mf, ti, off, a, len) == 0 && !memcmp(a, st->map.data + t->offset + off, len), "%s partial read", t->name);
    free(a);
    n++;
  }
  dp_safetensors_free(st);
  return n;
}

static void test_gptoss_experts(dp_model_file *mf) {
  dp_safetensors *dq;
  if (dp_safetensors_open(dp_test_shared("fixtures/golden/gptoss/experts_dequant.safetensors"), &dq)) {
    CHECK(0, "experts_dequant: %s", dp_error_message());
    return;
  }
  const dp_hparams *hp = dp_model_file_hparams(mf);
  int H = hp->d_model, I = hp->moe_d_ff, mism = 0, checked = 0;
  for (int l = 0; l < hp->n_layers; l++) {
    char nm[128];
    snprintf(nm, sizeof nm, "model.layers.%d.mlp.experts.gate_up_proj", l);
    const dp_st_tensor *gu = dp_safetensors_find(dq, nm);
    snprintf(nm, sizeof nm, "model.layers.%d.mlp.experts.down_proj", l);
    const dp_st_tensor *dn = dp_safetensors_find(dq, nm);
    CHECK(gu && dn, "dequant tensors layer %d", l);
    if (!gu || !dn) continue;
    const float *G = (const float *)(dq->map.data + gu->offset), *D = (const float *)(dq->map.data + dn->offset);
    float *w = malloc(sizeof(float) * H * I);
    for (int e = 0; e < hp->n_experts; e++) {
      static const char *P[] = {"gate_proj", "up_proj", "down_proj"};
      for (int p = 0; p < 3; p++) {
        snprintf(nm, sizeof nm, "model.layers.%d.mlp.experts.%d.%s.weight", l, e, P[p]);
        const dp_tensor_info *t = dp_model_file_find(mf, nm);
        CHECK(t && t->dtype == DP_MXFP4 && t->n_dims == 2, "%s present as mxfp4", nm);
        if (!t || dp_model_file_read_f32(mf, t, w)) { CHECK(0, "read %s", nm); continue; }
        int rows = p == 2 ? H : I, cols = p == 2 ? I : H;
        CHECK((int)t->shape[0] == rows && (int)t->shape[1] == cols, "%s shape", nm);
        for (int r = 0; r < rows; r++)
          for (int c = 0; c < cols; c++) {
            /* gate_up [E, H, 2I]: gate = even columns; down [E, I, H] */
            float ref = p == 2 ? D[((size_t)e * I + c) * H + r] : G[((size_t)e * H + c) * 2 * I + 2 * r + p];
            mism += w[(size_t)r * cols + c] != ref;
            checked++;
          }
      }
    }
    free(w);
  }
  CHECK(mism == 0 && checked > 0, "gptoss MXFP4 dequant exact: %d of %d differ", mism, checked);
  dp_safetensors_free(dq);
}

int main(void) {
  test_config_forms();
  for (size_t g = 0; g < sizeof GOLDEN / sizeof *GOLDEN; g++) {
    char dir[512], st[600];
    snprintf(dir, sizeof dir, "%s", dp_test_shared("fixtures/golden/"));
    strncat(dir, GOLDEN[g], sizeof dir - strlen(dir) - 1);
    dp_model_file *mf;
    dp_status s = dp_model_file_open(dir, &mf);
    CHECK(s == DP_OK, "open %s: %s", dir, dp_error_message());
    if (s) continue;
    CHECK(!strcmp(dp_model_file_kind(mf), "hf"), "kind");
    test_golden_hparams(GOLDEN[g], dp_model_file_hparams(mf));
    snprintf(st, sizeof st, "%s/model.safetensors", dir);
    int n = compare_with_safetensors(mf, st);
    CHECK(n > 5, "%s: %d tensors compared", GOLDEN[g], n);
    if (!strcmp(GOLDEN[g], "gptoss")) test_gptoss_experts(mf);
    dp_model_file_close(mf);
  }
  dp_model_file *mf;
  const char *tiny = dp_test_shared("models/doppler-tiny");
  char tdir[512];
  snprintf(tdir, sizeof tdir, "%s", tiny);
  CHECK(dp_model_file_open(tdir, &mf) == DP_OK, "doppler-tiny: %s", dp_error_message());
  if (mf) {
    const dp_hparams *hp = dp_model_file_hparams(mf);
    CHECK(hp->bos_id == 0 && hp->n_eos == 1 && hp->eos_ids[0] == 1 && hp->tie_embeddings && hp->n_layers == 6, "tiny hparams");
    CHECK(dp_model_file_tokenizer_json(mf) && strstr(dp_model_file_tokenizer_json(mf), "tokenizer.json"), "tokenizer.json found");
    CHECK(dp_model_file_tensor_count(mf) == 1 + 6 * 9 + 1, "tiny tensor count %zu", dp_model_file_tensor_count(mf));
    char st[600];
    snprintf(st, sizeof st, "%s/model.safetensors", tdir);
    compare_with_safetensors(mf, st);
    dp_model_file_close(mf);
  }
  CHECK(dp_model_file_open("/nonexistent/model", &mf) == DP_ERR_IO, "missing path");
  return dp_test_summary("test_format_hf");
}
