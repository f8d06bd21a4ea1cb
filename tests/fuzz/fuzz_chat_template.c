/* fuzz_chat_template.c -- libFuzzer target for chat templates: the Jinja-subset interpreter
 * (jinja.c) and the tokenizer_config.json path that feeds it. The first input byte picks the mode:
 *   0: the rest is a tokenizer_config.json, loaded beside a small in-memory tokenizer.json; its
 *      chat_template (when it has one) is detected and rendered, then the prompt encoded;
 *   otherwise: the rest is "TEMPLATE\x01CONTENT": the template rendered with a conversation whose
 *      user turn is CONTENT, with and without the generation prompt.
 * Must hold: no crash, leak, hang or huge allocation (the interpreter's limits); a failed render
 * leaves the output as it was and sets a message starting "chat template"; a rendering never
 * exceeds DP_JINJA_MAX_OUT. Built and run by scripts/fuzz.sh. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/buf.h"
#include "core/error.h"
#include "tokenizer/jinja.h"
#include "tokenizer/tokenizer.h"

static const char TINY[] =
    "{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0,\"b\":1,\"<s>\":2,\"</s>\":3,\"\xc4\xa0\":4,\"ab\":5},"
    "\"merges\":[\"a b\"]},"
    "\"added_tokens\":[{\"id\":2,\"content\":\"<s>\",\"special\":true,\"lstrip\":false,\"rstrip\":false,\"normalized\":false,\"single_word\":false},"
    "{\"id\":3,\"content\":\"</s>\",\"special\":true,\"lstrip\":false,\"rstrip\":false,\"normalized\":false,\"single_word\":false}],"
    "\"normalizer\":null,\"pre_tokenizer\":{\"type\":\"ByteLevel\",\"add_prefix_space\":false,\"use_regex\":true},"
    "\"decoder\":{\"type\":\"ByteLevel\"},\"post_processor\":null}";

static void render_checked(const char *src, size_t n, const dp_chat_msg *m, size_t nm, int gen) {
  dp_buf out = {0};
  dp_buf_puts(&out, "x");
  dp_status st = dp_jinja_render(src, n, m, nm, gen, "<s>", "</s>", &out);
  if (st) {
    if (out.len != 1 || strncmp(dp_error_message(), "chat template", 13)) abort();
  } else if (out.len - 1 > DP_JINJA_MAX_OUT) {
    abort();
  }
  dp_buf_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) {
  if (!n) return 0;
  const char *s = (const char *)d + 1;
  size_t len = n - 1;
  if (d[0] == 0) {
    dp_tokenizer *t = NULL;
    if (dp_tokenizer_load_json_text(TINY, sizeof TINY - 1, s, len, &t)) return 0;
    const char *src = dp_tokenizer_chat_template_src(t);
    if (src) {
      dp_chat_msg m[] = {{"system", "S"}, {"user", "ab"}, {"assistant", "b a"}, {"user", "a"}};
      dp_chat_kind k = dp_chat_template_detect(src, "llama", t);
      dp_token_list ids = {0};
      dp_chat_encode(t, k, m, 4, 1, &ids);
      dp_token_list_free(&ids);
    }
    dp_tokenizer_free(t);
    return 0;
  }
  const char *sep = memchr(s, 1, len);
  size_t tl = sep ? (size_t)(sep - s) : len;
  char *content = malloc(len - tl + 1);
  if (!content) return 0;
  size_t cl = sep ? len - tl - 1 : 0;
  memcpy(content, sep ? sep + 1 : "", cl);
  content[cl] = 0; /* a NUL inside ends the content early: messages are C strings */
  dp_chat_msg m[] = {{"system", "Be brief."}, {"user", content}, {"assistant", " ok "}, {"user", "again"}};
  render_checked(s, tl, m, 4, 1);
  render_checked(s, tl, m + 1, 1, 0);
  free(content);
  return 0;
}
