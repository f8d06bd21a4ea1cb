/* jinja.h -- a small interpreter for the Jinja subset that Hugging Face chat templates use
 * (src/tokenizer/jinja.c). Not a public header: the chat layer (chat_template.c) calls it for a
 * chat_template that none of the built-in renderers recognises. See docs/tokenizers.md. */
#ifndef DP_TOKENIZER_JINJA_H
#define DP_TOKENIZER_JINJA_H
#include <stddef.h>
#include "core/buf.h"
#include "tokenizer/tokenizer.h"

/* Hard limits: a hostile template fails with a clear error instead of hanging or exhausting
 * memory. */
enum {
  DP_JINJA_MAX_SRC = 1 << 20,        /* template source bytes */
  DP_JINJA_MAX_OUT = 16 << 20,       /* rendered bytes, and the longest string value */
  DP_JINJA_MAX_MEM = 64 << 20,       /* bytes of parse tree and values per render */
  DP_JINJA_MAX_DEPTH = 64,           /* nesting of blocks and of parenthesised expressions */
  DP_JINJA_MAX_NEST = 512,           /* evaluation recursion (operator chains included), value nesting */
  DP_JINJA_MAX_ITERATIONS = 1000000, /* for-loop iterations per render */
  DP_JINJA_MAX_STEPS = 20000000,     /* evaluation steps per render */
};

/* Render template src[0..len) as transformers' apply_chat_template does (Jinja with
 * trim_blocks, lstrip_blocks and loop controls) with the variables messages (role, content),
 * add_generation_prompt, bos_token and eos_token (NULL: undefined); the text is appended to
 * *out. An unsupported construct, a syntax error, raise_exception(msg) or an exceeded limit
 * fails with a one-line message naming the template line. */
dp_status dp_jinja_render(const char *src, size_t len, const dp_chat_msg *msgs, size_t n, int add_generation_prompt,
                          const char *bos_token, const char *eos_token, dp_buf *out);
/* Jinja's |trim (Python str.strip()): s[*start, *start + *len) without the Unicode whitespace
 * Python strips at both ends. The built-in renderers trim with it too. */
void dp_jinja_trim(const char *s, size_t n, size_t *start, size_t *len);
#endif
