/* tokenizer.h -- text <-> token ids, exactly as Hugging Face `tokenizers` does it for BPE models,
 * plus chat templates. Used by the runtime (prompt encoding, streamed detokenization), the C API
 * and `doppler tokenize` / `doppler chat`. Depends on core, and on format for GGUF metadata and
 * model files (dp_tokenizer_from_gguf, dp_tokenizer_from_model_file). See docs/tokenizers.md.
 *
 * Sources: a tokenizer.json (+ the tokenizer_config.json beside it, for BOS/EOS flags and the chat
 * template), or plain vocabulary arrays as GGUF stores them (tokenizer.ggml.*).
 * Supported tokenizer.json pieces: model BPE (merges as "a b" strings or [a, b] pairs,
 * byte_fallback, fuse_unk, ignore_merges); normalizers Replace (string), Prepend, Strip, Sequence;
 * pre-tokenizers Split (string or regex; all behaviours; invert), ByteLevel, Metaspace, Sequence;
 * decoders ByteLevel, Replace, ByteFallback, Fuse, Strip, Metaspace, Sequence; post-processors
 * TemplateProcessing, ByteLevel, Sequence. Anything else is refused at load with a message.
 *
 * Text must be valid UTF-8: encoding invalid UTF-8 fails with DP_ERR_INVALID_ARG naming the
 * byte offset (no silent replacement). Decoding always yields valid UTF-8 (invalid byte runs
 * become U+FFFD as HF does).
 *
 * A dp_tokenizer is not thread-safe (encode uses an internal cache); the engine is
 * single-threaded. */
#ifndef DP_TOKENIZER_TOKENIZER_H
#define DP_TOKENIZER_TOKENIZER_H
#include <stddef.h>
#include <stdint.h>
#include "doppler_status.h"
#include "core/buf.h"

typedef struct dp_tokenizer dp_tokenizer;

/* A growable id list (dp_free(ids) or dp_token_list_free). Encoding appends to it. */
typedef struct dp_token_list {
  int32_t *ids; /* [n] */
  size_t n, cap;
} dp_token_list;
dp_status dp_token_list_push(dp_token_list *l, int32_t id);
void dp_token_list_free(dp_token_list *l);

/* ---- loading ------------------------------------------------------------------------------- */
/* Load FILE.json; a tokenizer_config.json in the same directory is read too when present. */
dp_status dp_tokenizer_load_json(const char *path, dp_tokenizer **out);
/* From memory: tokenizer.json text and optional tokenizer_config.json text (NULL/0 if none). */
dp_status dp_tokenizer_load_json_text(const char *json, size_t len, const char *config, size_t config_len,
                                      dp_tokenizer **out);

/* Vocabulary as GGUF stores it (tokenizer.ggml.*); arrays are copied. */
typedef struct dp_tokenizer_vocab {
  const char *model;              /* "gpt2": byte-level BPE with merges; "llama": SentencePiece
                                     BPE (merge order from scores, byte fallback <0xNN>) */
  const char *pre;                /* "tokenizer.ggml.pre": llama-bpe / llama3, gpt-4o / o200k,
                                     qwen2, default / gpt2 (NULL = default) */
  size_t n_tokens;
  const char *const *tokens;      /* [n_tokens] */
  const uint32_t *token_lens;     /* [n_tokens] byte lengths, or NULL (NUL-terminated) */
  const float *scores;            /* [n_tokens] or NULL (needed for "llama") */
  const int32_t *token_types;     /* [n_tokens] or NULL: 1 normal, 2 unknown, 3 control,
                                     4 user-defined, 5 unused, 6 byte */
  size_t n_merges;
  const char *const *merges;      /* [n_merges] "left right" */
  const uint32_t *merge_lens;     /* [n_merges] or NULL */
  int32_t bos_id, eos_id, unk_id; /* -1: none */
  int add_bos, add_eos;           /* -1: unset (then "llama" adds BOS, "gpt2" does not) */
  int add_space_prefix;           /* "llama" only: prepend U+2581 (-1: unset = yes) */
  const char *chat_template;      /* tokenizer.chat_template or NULL */
} dp_tokenizer_vocab;
dp_status dp_tokenizer_from_vocab(const dp_tokenizer_vocab *v, dp_tokenizer **out);
/* Same, reading the tokenizer.ggml.* keys of a parsed GGUF file (format/gguf.h): the one
 * builder of a tokenizer from GGUF metadata (incl. add_space_prefix, add_bos/eos_token). */
struct dp_gguf;
dp_status dp_tokenizer_from_gguf(const struct dp_gguf *g, dp_tokenizer **out);
/* The tokenizer of a model file (format/model_file.h), as every path (C API, `run`, `chat`,
 * `logits`, `tokenize --model`) loads it: the tokenizer.json beside the weights when there is
 * one, else the GGUF tokenizer.ggml.* metadata. *out = NULL (and DP_OK) when it has neither. */
struct dp_model_file;
dp_status dp_tokenizer_from_model_file(const struct dp_model_file *mf, dp_tokenizer **out);

void dp_tokenizer_free(dp_tokenizer *t);

/* ---- encoding ------------------------------------------------------------------------------ */
enum {
  DP_TOK_ADD_SPECIAL = 1,   /* apply the BOS/EOS policy (see dp_tokenizer_add_bos) */
  DP_TOK_PARSE_SPECIAL = 2, /* special tokens written in the text ("<|eot_id|>") become their
                               ids, as HF does; without it they are encoded as plain text.
                               Non-special added tokens are always matched. */
};
/* Encode text[0..len) and append the ids to *out. With DP_TOK_ADD_SPECIAL, BOS is prepended
 * unless the text itself already starts with the BOS token (never two BOS), EOS appended when
 * the policy says so. */
dp_status dp_tokenizer_encode(dp_tokenizer *t, const char *text, size_t len, unsigned flags,
                              dp_token_list *out);

/* ---- decoding ------------------------------------------------------------------------------ */
/* Decode ids (HF decode(ids, skip_special_tokens)) and append UTF-8 text to *out. Unknown ids
 * are an error. */
dp_status dp_tokenizer_decode(const dp_tokenizer *t, const int32_t *ids, size_t n, int skip_special,
                              dp_buf *out);

/* The text one token stands for inside a decoded text, appended raw to *out: byte-level and
 * <0xNN> tokens give their bytes (possibly part of a UTF-8 character, never U+FFFD), U+2581
 * gives a space (not stripped: "▁The" is " The"), special tokens their content. */
dp_status dp_tokenizer_piece(const dp_tokenizer *t, int32_t id, dp_buf *out);

/* Streaming detokenizer: push ids one at a time; each push appends only text that is final —
 * never a partial UTF-8 sequence, byte-fallback pieces joined first — so the concatenation of
 * all pushes plus the final flush equals dp_tokenizer_decode of all ids. */
typedef struct dp_detok dp_detok;
dp_status dp_detok_new(const dp_tokenizer *t, int skip_special, dp_detok **out);
dp_status dp_detok_push(dp_detok *d, int32_t id, dp_buf *out);
dp_status dp_detok_flush(dp_detok *d, dp_buf *out); /* held bytes at the end become U+FFFD */
void dp_detok_reset(dp_detok *d);
void dp_detok_free(dp_detok *d);

/* ---- vocabulary facts ---------------------------------------------------------------------- */
size_t dp_tokenizer_vocab_size(const dp_tokenizer *t);  /* max id + 1 */
int32_t dp_tokenizer_bos(const dp_tokenizer *t);        /* -1 if none */
int32_t dp_tokenizer_eos(const dp_tokenizer *t);        /* -1 if none */
/* BOS policy, strongest first: tokenizer_config.json add_bos_token / add_eos_token (as
 * transformers' Llama/Gemma tokenizers rebuild the post-processor from them); else the
 * tokenizer.json post-processor (TemplateProcessing special tokens around $A); GGUF:
 * tokenizer.ggml.add_bos_token / add_eos_token, default by model type. */
int dp_tokenizer_add_bos(const dp_tokenizer *t);
int dp_tokenizer_add_eos(const dp_tokenizer *t);
/* Token string as stored in the vocabulary (byte-level or ▁ form); NULL for a bad id. */
const char *dp_tokenizer_token(const dp_tokenizer *t, int32_t id, size_t *len);
int32_t dp_tokenizer_token_id(const dp_tokenizer *t, const char *s, size_t len); /* -1 if absent */
int dp_tokenizer_is_special(const dp_tokenizer *t, int32_t id);
/* End-of-generation ids: EOS plus the turn enders present in the vocabulary (<end_of_turn>,
 * <|eot_id|>, <|im_end|>, <|return|>, <|call|>, </s>, <|end_of_text|>, <|endoftext|>). */
size_t dp_tokenizer_eog_ids(const dp_tokenizer *t, const int32_t **ids);
/* chat_template string from tokenizer_config.json / GGUF, or NULL. */
const char *dp_tokenizer_chat_template_src(const dp_tokenizer *t);

/* ---- chat templates ------------------------------------------------------------------------ */
typedef enum dp_chat_kind {
  DP_CHAT_NONE = 0,
  DP_CHAT_GEMMA3,   /* <start_of_turn>user\n...<end_of_turn>\n, BOS written by the template */
  DP_CHAT_LLAMA3,   /* <|start_header_id|>role<|end_header_id|>\n\n...<|eot_id|>, BOS written */
  DP_CHAT_LLAMA2,   /* <s>[INST] <<SYS>>\n..\n<</SYS>>\n\nuser [/INST] answer </s> (Llama 2) */
  DP_CHAT_MISTRAL,  /* <s>[INST] user [/INST]answer</s> (Mistral, system joined to 1st user) */
  DP_CHAT_CHATML,   /* <|im_start|>role\n...<|im_end|>\n (Qwen 2/3 and other ChatML models) */
  DP_CHAT_HARMONY,  /* gpt-oss: <|start|>role<|message|>...<|end|>, reply <|start|>assistant */
  DP_CHAT_JINJA,    /* the model's own chat_template, interpreted (jinja.c): none of the above
                       recognised it */
} dp_chat_kind;
typedef struct dp_chat_msg {
  const char *role;    /* "system", "user", "assistant" (others passed through) */
  const char *content; /* UTF-8 */
} dp_chat_msg;
const char *dp_chat_template_name(dp_chat_kind k); /* "gemma3", "llama3", ... "none" */
dp_chat_kind dp_chat_template_from_name(const char *name); /* DP_CHAT_NONE if unknown */
/* Pick the template: from the chat_template source by signature when given (a source with no
 * known signature is DP_CHAT_JINJA: rendered by the interpreter, never replaced by a guess), else
 * from the architecture ("gemma3", "llama", "mistral", "qwen3", "gpt_oss", ...; for "llama" the
 * vocabulary decides between Llama 3 and Llama 2), else from the vocabulary's special tokens. */
dp_chat_kind dp_chat_template_detect(const char *template_src, const char *arch, const dp_tokenizer *t);
/* Render messages as prompt text with a built-in renderer (not DP_CHAT_JINJA, which needs the
 * source: dp_chat_render). bos: the BOS token text written by templates that write it (NULL or
 * "" writes none). add_generation_prompt: end with the assistant turn opener. */
dp_status dp_chat_template_render(dp_chat_kind k, const dp_chat_msg *msgs, size_t n,
                                  int add_generation_prompt, const char *bos, dp_buf *out);
/* Render with the tokenizer: its BOS/EOS texts, and for DP_CHAT_JINJA its chat_template source
 * interpreted (an unsupported construct or raise_exception fails with the template line). */
dp_status dp_chat_render(const dp_tokenizer *t, dp_chat_kind k, const dp_chat_msg *msgs, size_t n,
                         int add_generation_prompt, dp_buf *out);
/* Render with the tokenizer's BOS text and encode with special tokens parsed; BOS is added only
 * when the policy wants one and the rendered prompt does not already start with it (so exactly
 * one BOS either way). EOS is never appended. */
dp_status dp_chat_encode(dp_tokenizer *t, dp_chat_kind k, const dp_chat_msg *msgs, size_t n,
                         int add_generation_prompt, dp_token_list *out);
#endif
