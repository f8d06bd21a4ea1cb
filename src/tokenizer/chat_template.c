/* chat_template.c -- chat prompt formats for the supported model families, written out in C:
 * the template kind is recognised from the model's chat_template string by signature (or the
 * architecture, or the vocabulary), then rendered here to exactly the text the reference Jinja
 * template produces for plain-text messages (contents trimmed where the reference trims them).
 * A chat_template with no known signature is interpreted instead (jinja.c), never replaced by
 * a guessed format. Called by `doppler chat`, the C API and the runtime; depends on core and
 * the tokenizer (for BOS text and encoding). */
#include <string.h>
#include "core/error.h"
#include "tokenizer/jinja.h"
#include "tokenizer/tok_internal.h"

static const struct { dp_chat_kind k; const char *name; } NAMES[] = {
  {DP_CHAT_NONE, "none"}, {DP_CHAT_GEMMA3, "gemma3"}, {DP_CHAT_LLAMA3, "llama3"}, {DP_CHAT_LLAMA2, "llama2"},
  {DP_CHAT_MISTRAL, "mistral"}, {DP_CHAT_CHATML, "chatml"}, {DP_CHAT_HARMONY, "harmony"}, {DP_CHAT_JINJA, "jinja"},
};

const char *dp_chat_template_name(dp_chat_kind k) {
  for (size_t i = 0; i < sizeof NAMES / sizeof *NAMES; i++) if (NAMES[i].k == k) return NAMES[i].name;
  return "none";
}
dp_chat_kind dp_chat_template_from_name(const char *name) {
  if (!name) return DP_CHAT_NONE;
  for (size_t i = 0; i < sizeof NAMES / sizeof *NAMES; i++) if (!strcmp(NAMES[i].name, name)) return NAMES[i].k;
  if (!strcmp(name, "qwen3") || !strcmp(name, "qwen2")) return DP_CHAT_CHATML;
  if (!strcmp(name, "gpt-oss") || !strcmp(name, "gpt_oss")) return DP_CHAT_HARMONY;
  return DP_CHAT_NONE;
}

static int has(const char *s, const char *sub) { return s && strstr(s, sub) != NULL; }
static int has_token(const dp_tokenizer *t, const char *s) { return t && dp_tok_lookup(t, s, strlen(s)) >= 0; }

dp_chat_kind dp_chat_template_detect(const char *src, const char *arch, const dp_tokenizer *t) {
  if (src && *src) {
    if (has(src, "<|channel|>") || (has(src, "<|start|>") && has(src, "<|message|>"))) return DP_CHAT_HARMONY;
    if (has(src, "<start_of_turn>")) return DP_CHAT_GEMMA3;
    if (has(src, "<|start_header_id|>")) return DP_CHAT_LLAMA3;
    if (has(src, "<|im_start|>")) return DP_CHAT_CHATML;
    if (has(src, "<<SYS>>")) return DP_CHAT_LLAMA2;
    if (has(src, "[INST]")) return DP_CHAT_MISTRAL;
    return DP_CHAT_JINJA;
  }
  if (arch && *arch) {
    if (!strncmp(arch, "gemma", 5)) return DP_CHAT_GEMMA3;
    if (!strncmp(arch, "qwen", 4)) return DP_CHAT_CHATML;
    if (!strcmp(arch, "gpt_oss") || !strcmp(arch, "gpt-oss") || !strcmp(arch, "gptoss")) return DP_CHAT_HARMONY;
    if (!strcmp(arch, "mistral") || !strcmp(arch, "mixtral")) return DP_CHAT_MISTRAL;
    if (!strcmp(arch, "llama")) return has_token(t, "<|start_header_id|>") ? DP_CHAT_LLAMA3 : DP_CHAT_LLAMA2;
  }
  if (has_token(t, "<|start_header_id|>")) return DP_CHAT_LLAMA3;
  if (has_token(t, "<start_of_turn>")) return DP_CHAT_GEMMA3;
  if (has_token(t, "<|im_start|>")) return DP_CHAT_CHATML;
  if (has_token(t, "<|channel|>")) return DP_CHAT_HARMONY;
  if (has_token(t, "[INST]")) return DP_CHAT_MISTRAL;
  return DP_CHAT_NONE;
}

/* Jinja's |trim (Python str.strip(): Unicode whitespace at both ends). */
static dp_status put_trim(dp_buf *b, const char *s) {
  size_t a, n;
  dp_jinja_trim(s, strlen(s), &a, &n);
  return dp_buf_append(b, s + a, n);
}

static dp_status render(dp_chat_kind k, const dp_chat_msg *m, size_t n, int gen, const char *bos, dp_buf *b) {
  if (!bos) bos = "";
  size_t i = 0;
  const char *sys = NULL;
  if (n && m[0].role && !strcmp(m[0].role, "system")) { sys = m[0].content ? m[0].content : ""; i = 1; }
  switch (k) {
  case DP_CHAT_GEMMA3: { /* system text joins the first user turn; assistant -> model */
    dp_buf_puts(b, bos);
    for (size_t j = i; j < n; j++) {
      const char *role = !strcmp(m[j].role, "assistant") ? "model" : m[j].role;
      dp_buf_printf(b, "<start_of_turn>%s\n", role);
      if (j == i && sys) { dp_buf_puts(b, sys); dp_buf_puts(b, "\n\n"); }
      put_trim(b, m[j].content);
      dp_buf_puts(b, "<end_of_turn>\n");
    }
    if (gen) dp_buf_puts(b, "<start_of_turn>model\n");
    break;
  }
  case DP_CHAT_LLAMA3:
    dp_buf_puts(b, bos);
    for (size_t j = 0; j < n; j++) {
      dp_buf_printf(b, "<|start_header_id|>%s<|end_header_id|>\n\n", m[j].role);
      put_trim(b, m[j].content);
      dp_buf_puts(b, "<|eot_id|>");
    }
    if (gen) dp_buf_puts(b, "<|start_header_id|>assistant<|end_header_id|>\n\n");
    break;
  case DP_CHAT_LLAMA2: /* Llama 2 chat: <s>[INST] <<SYS>>\nsys\n<</SYS>>\n\nuser [/INST] answer </s> */
    for (size_t j = i; j < n; j++) {
      if (!strcmp(m[j].role, "assistant")) {
        dp_buf_puts(b, " "); put_trim(b, m[j].content); dp_buf_puts(b, " </s>");
        continue;
      }
      dp_buf_puts(b, bos);
      dp_buf_puts(b, "[INST] ");
      if (j == i && sys) { dp_buf_puts(b, "<<SYS>>\n"); put_trim(b, sys); dp_buf_puts(b, "\n<</SYS>>\n\n"); }
      put_trim(b, m[j].content);
      dp_buf_puts(b, " [/INST]");
    }
    break;
  case DP_CHAT_MISTRAL: /* Mistral: <s>[INST] user [/INST]answer</s>[INST] ... ; system joins 1st user */
    dp_buf_puts(b, bos);
    for (size_t j = i; j < n; j++) {
      if (!strcmp(m[j].role, "assistant")) { dp_buf_puts(b, m[j].content); dp_buf_puts(b, "</s>"); continue; }
      dp_buf_puts(b, "[INST] ");
      if (j == i && sys) { dp_buf_puts(b, sys); dp_buf_puts(b, "\n\n"); }
      dp_buf_puts(b, m[j].content);
      dp_buf_puts(b, " [/INST]");
    }
    break;
  case DP_CHAT_CHATML:
    for (size_t j = 0; j < n; j++) dp_buf_printf(b, "<|im_start|>%s\n%s<|im_end|>\n", m[j].role, m[j].content);
    if (gen) dp_buf_puts(b, "<|im_start|>assistant\n");
    break;
  case DP_CHAT_HARMONY: /* gpt-oss: fixed system header, caller's system text as developer message */
    dp_buf_puts(b, "<|start|>system<|message|>You are ChatGPT, a large language model trained by OpenAI.\n"
                   "Knowledge cutoff: 2024-06\n\nReasoning: medium\n\n"
                   "# Valid channels: analysis, commentary, final. Channel must be included for every message.<|end|>");
    if (sys) { dp_buf_puts(b, "<|start|>developer<|message|># Instructions\n\n"); dp_buf_puts(b, sys); dp_buf_puts(b, "<|end|>"); }
    for (size_t j = i; j < n; j++) {
      if (!strcmp(m[j].role, "assistant")) dp_buf_printf(b, "<|start|>assistant<|channel|>final<|message|>%s<|end|>", m[j].content);
      else dp_buf_printf(b, "<|start|>%s<|message|>%s<|end|>", m[j].role, m[j].content);
    }
    if (gen) dp_buf_puts(b, "<|start|>assistant");
    break;
  case DP_CHAT_JINJA:
    return dp_error(DP_ERR_INVALID_ARG, "chat template: the interpreted template needs its source (dp_chat_render)");
  default:
    return dp_error(DP_ERR_UNSUPPORTED, "chat template: none selected for this model");
  }
  return b->failed ? DP_ERR_NOMEM : DP_OK;
}

dp_status dp_chat_template_render(dp_chat_kind k, const dp_chat_msg *msgs, size_t n, int add_generation_prompt,
                                  const char *bos, dp_buf *out) {
  for (size_t i = 0; i < n; i++)
    if (!msgs[i].role || !msgs[i].content) return dp_error(DP_ERR_INVALID_ARG, "chat template: message %zu has no role/content", i);
  return render(k, msgs, n, add_generation_prompt, bos, out);
}

dp_status dp_chat_render(const dp_tokenizer *t, dp_chat_kind k, const dp_chat_msg *msgs, size_t n, int add_generation_prompt,
                         dp_buf *out) {
  /* token strings in the arena are NUL-terminated */
  const char *bos = t->bos >= 0 ? dp_tokenizer_token(t, t->bos, NULL) : NULL;
  const char *eos = t->eos >= 0 ? dp_tokenizer_token(t, t->eos, NULL) : NULL;
  if (k != DP_CHAT_JINJA) return dp_chat_template_render(k, msgs, n, add_generation_prompt, bos, out);
  if (!t->chat_template) return dp_error(DP_ERR_NOT_FOUND, "chat template: this tokenizer has no chat_template");
  return dp_jinja_render(t->chat_template, strlen(t->chat_template), msgs, n, add_generation_prompt, bos, eos, out);
}

dp_status dp_chat_encode(dp_tokenizer *t, dp_chat_kind k, const dp_chat_msg *msgs, size_t n, int add_generation_prompt,
                         dp_token_list *out) {
  dp_buf text = {0};
  dp_status st = dp_chat_render(t, k, msgs, n, add_generation_prompt, &text);
  size_t n0 = out->n;
  if (!st) st = dp_tokenizer_encode(t, text.data ? text.data : "", text.len, DP_TOK_PARSE_SPECIAL, out);
  dp_buf_free(&text);
  if (st) return st;
  /* exactly one BOS: add it when the policy wants one and the template did not write it */
  if (t->add_bos && t->bos >= 0 && (out->n == n0 || out->ids[n0] != t->bos)) {
    if (dp_token_list_push(out, 0)) return DP_ERR_NOMEM;
    memmove(out->ids + n0 + 1, out->ids + n0, (out->n - n0 - 1) * sizeof *out->ids);
    out->ids[n0] = t->bos;
  }
  return DP_OK;
}
