/* gguf_names.c -- the HF <-> llama.cpp tensor-name table (see gguf_names.h). Called by
 * model_file_gguf.c (reading) and gguf_write.c; depends on nothing but libc. The names follow
 * llama.cpp's gguf-py tensor mapping for these architectures. */
#include "format/gguf_names.h"
#include <stdio.h>
#include <string.h>

enum { L = 1 << DP_ARCH_LLAMA, M = 1 << DP_ARCH_MISTRAL, Q = 1 << DP_ARCH_QWEN3, G = 1 << DP_ARCH_GEMMA3,
       X = 1 << DP_ARCH_MIXTRAL, O = 1 << DP_ARCH_GPTOSS, ALL = 63, LLAMALIKE = L | M | X };

typedef struct { int archs; const char *hf, *gguf; int flags; } entry;

/* Layer entries: HF "model.layers.N." + hf  <->  GGUF "blk.N." + gguf. An "E" in hf marks
 * the expert index of a merged tensor. */
static const entry LAYER[] = {
  {ALL, "input_layernorm.weight", "attn_norm.weight", DP_GN_NORM1},
  {ALL, "self_attn.q_proj.weight", "attn_q.weight", DP_GN_PERM_Q},
  {ALL, "self_attn.q_proj.bias", "attn_q.bias", DP_GN_PERM_Q},
  {ALL, "self_attn.k_proj.weight", "attn_k.weight", DP_GN_PERM_K},
  {ALL, "self_attn.k_proj.bias", "attn_k.bias", DP_GN_PERM_K},
  {ALL, "self_attn.v_proj.weight", "attn_v.weight", 0},
  {ALL, "self_attn.v_proj.bias", "attn_v.bias", 0},
  {ALL, "self_attn.o_proj.weight", "attn_output.weight", 0},
  {ALL, "self_attn.o_proj.bias", "attn_output.bias", 0},
  {ALL, "self_attn.q_norm.weight", "attn_q_norm.weight", DP_GN_NORM1},
  {ALL, "self_attn.k_norm.weight", "attn_k_norm.weight", DP_GN_NORM1},
  {ALL, "mlp.gate_proj.weight", "ffn_gate.weight", 0},
  {ALL, "mlp.up_proj.weight", "ffn_up.weight", 0},
  {ALL, "mlp.down_proj.weight", "ffn_down.weight", 0},
  {L | M | Q | X, "post_attention_layernorm.weight", "ffn_norm.weight", 0},
  {G | O, "post_attention_layernorm.weight", "post_attention_norm.weight", DP_GN_NORM1},
  {G, "pre_feedforward_layernorm.weight", "ffn_norm.weight", DP_GN_NORM1},
  {G, "post_feedforward_layernorm.weight", "post_ffw_norm.weight", DP_GN_NORM1},
  {O, "self_attn.sinks", "attn_sinks.weight", 0},
  {O, "mlp.router.weight", "ffn_gate_inp.weight", 0},
  {O, "mlp.router.bias", "ffn_gate_inp.bias", 0},
  {O, "mlp.experts.E.gate_proj.weight", "ffn_gate_exps.weight", DP_GN_EXPERT},
  {O, "mlp.experts.E.gate_proj.bias", "ffn_gate_exps.bias", DP_GN_EXPERT},
  {O, "mlp.experts.E.up_proj.weight", "ffn_up_exps.weight", DP_GN_EXPERT},
  {O, "mlp.experts.E.up_proj.bias", "ffn_up_exps.bias", DP_GN_EXPERT},
  {O, "mlp.experts.E.down_proj.weight", "ffn_down_exps.weight", DP_GN_EXPERT},
  {O, "mlp.experts.E.down_proj.bias", "ffn_down_exps.bias", DP_GN_EXPERT},
  {X, "block_sparse_moe.gate.weight", "ffn_gate_inp.weight", 0},
  {X, "block_sparse_moe.experts.E.w1.weight", "ffn_gate_exps.weight", DP_GN_EXPERT},
  {X, "block_sparse_moe.experts.E.w2.weight", "ffn_down_exps.weight", DP_GN_EXPERT},
  {X, "block_sparse_moe.experts.E.w3.weight", "ffn_up_exps.weight", DP_GN_EXPERT},
};
static const entry GLOBAL[] = {
  {ALL, "model.embed_tokens.weight", "token_embd.weight", 0},
  {ALL, "model.norm.weight", "output_norm.weight", DP_GN_NORM1},
  {ALL, "lm_head.weight", "output.weight", 0},
};

static int effective(dp_arch a, int flags) {
  if (!((1 << a) & LLAMALIKE)) flags &= ~(DP_GN_PERM_Q | DP_GN_PERM_K);
  if (a != DP_ARCH_GEMMA3) flags &= ~DP_GN_NORM1;
  return flags;
}

const char *dp_gguf_arch_name(dp_arch a) {
  switch (a) {
  case DP_ARCH_QWEN3: return "qwen3";
  case DP_ARCH_GEMMA3: return "gemma3";
  case DP_ARCH_GPTOSS: return "gpt-oss";
  default: return "llama";
  }
}

/* Match hf_rest against a pattern with an optional "E" segment; sets *expert. */
static int match_hf(const char *pat, const char *s, int *expert) {
  const char *e = strstr(pat, ".E.");
  *expert = -1;
  if (!e) return strcmp(pat, s) == 0;
  size_t pre = (size_t)(e - pat) + 1;
  if (strncmp(pat, s, pre)) return 0;
  int x, n = 0;
  if (sscanf(s + pre, "%d%n", &x, &n) != 1 || x < 0 || s[pre] < '0' || s[pre] > '9') return 0;
  if (strcmp(s + pre + n, e + 2)) return 0;
  *expert = x;
  return 1;
}

int dp_gguf_name_from_hf(dp_arch a, const char *hf, char *out, size_t cap, int *layer, int *expert, int *flags) {
  *layer = *expert = -1;
  for (size_t i = 0; i < sizeof GLOBAL / sizeof *GLOBAL; i++)
    if (!strcmp(GLOBAL[i].hf, hf)) {
      snprintf(out, cap, "%s", GLOBAL[i].gguf);
      *flags = effective(a, GLOBAL[i].flags);
      return 0;
    }
  int l, n = 0;
  if (sscanf(hf, "model.layers.%d.%n", &l, &n) != 1 || !n || l < 0) return -1;
  for (size_t i = 0; i < sizeof LAYER / sizeof *LAYER; i++) {
    if (!(LAYER[i].archs & (1 << a))) continue;
    if (match_hf(LAYER[i].hf, hf + n, expert)) {
      snprintf(out, cap, "blk.%d.%s", l, LAYER[i].gguf);
      *layer = l;
      *flags = effective(a, LAYER[i].flags);
      return 0;
    }
  }
  return -1;
}

int dp_gguf_name_to_hf(dp_arch a, const char *gguf, int expert, char *out, size_t cap, int *layer, int *flags) {
  *layer = -1;
  for (size_t i = 0; i < sizeof GLOBAL / sizeof *GLOBAL; i++)
    if (!strcmp(GLOBAL[i].gguf, gguf)) {
      snprintf(out, cap, "%s", GLOBAL[i].hf);
      *flags = effective(a, GLOBAL[i].flags);
      return 0;
    }
  int l, n = 0;
  if (sscanf(gguf, "blk.%d.%n", &l, &n) != 1 || !n || l < 0) return -1;
  for (size_t i = 0; i < sizeof LAYER / sizeof *LAYER; i++) {
    if (!(LAYER[i].archs & (1 << a)) || strcmp(LAYER[i].gguf, gguf + n)) continue;
    const char *e = strstr(LAYER[i].hf, ".E.");
    if (e) snprintf(out, cap, "model.layers.%d.%.*s.%d.%s", l, (int)(e - LAYER[i].hf), LAYER[i].hf, expert, e + 3);
    else snprintf(out, cap, "model.layers.%d.%s", l, LAYER[i].hf);
    *layer = l;
    *flags = effective(a, LAYER[i].flags);
    return 0;
  }
  return -1;
}
