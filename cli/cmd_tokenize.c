/* cmd_tokenize.c -- `doppler tokenize (--tokenizer FILE.json | --model DIR|FILE.gguf)
 * (--text T | --file F | --jsonl) [--json] [--decode] [--add-special] [--no-parse-special]`.
 * Encodes text to ids (no BOS/EOS unless --add-special; special tokens written in the text are
 * recognised unless --no-parse-special). --decode reverses it: the input holds ids (a JSON array
 * or numbers separated by spaces/commas) and the output is text (special tokens kept).
 * --jsonl: each stdin line is a JSON string (or, with --decode, a JSON array of ids) and each
 * output line the JSON array of its ids (or the JSON string), so many texts run in one process. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "commands.h"
#include "core/alloc.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/file.h"
#include "core/json.h"
#include "format/model_file.h"
#include "tokenizer/tokenizer.h"

/* --model: the model file's tokenizer.json (HF or RDRR directory) first, else the GGUF
 * tokenizer.ggml.* metadata; a directory that is not a model but holds a tokenizer.json (a bare
 * tokenizer folder) is accepted too. */
static dp_status open_tokenizer(const char *tok_json, const char *model, dp_tokenizer **t) {
  if (tok_json) return dp_tokenizer_load_json(tok_json, t);
  dp_model_file *mf = NULL;
  dp_status st = dp_model_file_open(model, &mf);
  if (st) {
    char *p = dp_is_dir(model) ? dp_path_join(model, "tokenizer.json") : NULL;
    if (p && dp_file_exists(p)) st = dp_tokenizer_load_json(p, t);
    dp_free(p);
    return st;
  }
  st = dp_tokenizer_from_model_file(mf, t);
  if (!st && !*t) st = dp_error(DP_ERR_NOT_FOUND, "%s: no tokenizer.json and no GGUF tokenizer metadata", model);
  dp_model_file_close(mf);
  return st;
}

/* ids from "[1, 2]" or "1 2 3" / "1,2,3" */
static dp_status parse_ids(const char *s, size_t n, dp_token_list *ids) {
  size_t i = 0;
  while (i < n) {
    char c = s[i];
    if (c == '[' || c == ']' || c == ',' || c == ' ' || c == '\t' || c == '\n' || c == '\r') { i++; continue; }
    char *end;
    long v = strtol(s + i, &end, 10);
    if (end == s + i || v < 0 || v > 0x7fffffff) return dp_error(DP_ERR_INVALID_ARG, "tokenize --decode: bad id at byte %zu", i);
    if (dp_token_list_push(ids, (int32_t)v)) return DP_ERR_NOMEM;
    i = (size_t)(end - s);
  }
  return DP_OK;
}

static dp_status run_one(dp_tokenizer *t, const char *s, size_t n, int decode, unsigned flags, int json, dp_buf *out) {
  dp_token_list ids = {0};
  dp_status st;
  if (decode) {
    st = parse_ids(s, n, &ids);
    dp_buf text = {0};
    if (!st) st = dp_tokenizer_decode(t, ids.ids, ids.n, 0, &text);
    if (!st) {
      if (json) dp_buf_json_string(out, text.data ? text.data : "", text.len);
      else dp_buf_append(out, text.data ? text.data : "", text.len);
    }
    dp_buf_free(&text);
  } else {
    st = dp_tokenizer_encode(t, s, n, flags, &ids);
    if (!st) {
      if (json) dp_buf_puts(out, "[");
      for (size_t i = 0; i < ids.n; i++) dp_buf_printf(out, i ? (json ? ",%d" : " %d") : "%d", (int)ids.ids[i]);
      if (json) dp_buf_puts(out, "]");
    }
  }
  dp_token_list_free(&ids);
  if (!st && out->failed) st = DP_ERR_NOMEM;
  return st;
}

static void usage(FILE *f) {
  fprintf(f, "usage: doppler tokenize (--tokenizer FILE.json | --model DIR|FILE.gguf)\n"
             "                        (--text T | --file F | --jsonl) [--json] [--decode]\n"
             "                        [--add-special] [--no-parse-special]\n"
             "  encode text to ids (space-separated, or a JSON array with --json);\n"
             "  --decode: input is ids, output is text (JSON string with --json);\n"
             "  --file F: the text of a file (- = stdin, read whole);\n"
             "  --jsonl: one JSON string (or id array with --decode) per stdin line, one JSON result per line;\n"
             "  --add-special: apply the BOS/EOS policy; --no-parse-special: special tokens in the text stay text.\n");
}

int cmd_tokenize(int argc, char **argv) {
  const char *tok_json = NULL, *model = NULL, *text = NULL, *file = NULL;
  int jsonl = 0, json = 0, decode = 0, add_special = 0, no_parse_special = 0;
  const cli_opt opts[] = {
    {"--tokenizer", NULL, CLI_STR, &tok_json, 0, 0, 0, NULL},
    {"--model", "-m", CLI_STR, &model, 0, 0, 0, NULL},
    {"--text", NULL, CLI_STR, &text, 0, 0, 0, NULL},
    {"--file", "-f", CLI_STR, &file, 0, 0, 0, NULL},
    {"--jsonl", NULL, CLI_BOOL, &jsonl, 0, 0, 0, NULL},
    {"--json", NULL, CLI_BOOL, &json, 0, 0, 0, NULL},
    {"--decode", NULL, CLI_BOOL, &decode, 0, 0, 0, NULL},
    {"--add-special", NULL, CLI_BOOL, &add_special, 0, 0, 0, NULL},
    {"--no-parse-special", NULL, CLI_BOOL, &no_parse_special, 0, 0, 0, NULL},
  };
  cli_spec sp = {"tokenize", opts, sizeof opts / sizeof *opts, NULL, 0, NULL, 0, NULL, usage};
  int rc = cli_parse(&sp, argc, argv);
  if (rc >= 0) return rc;
  unsigned flags = (add_special ? DP_TOK_ADD_SPECIAL : 0) | (no_parse_special ? 0 : DP_TOK_PARSE_SPECIAL);
  if (!tok_json == !model || (!!text + !!file + jsonl) != 1)
    return cli_usage_error("tokenize", "need one of --tokenizer/--model and one of --text/--file/--jsonl");
  dp_tokenizer *t = NULL;
  if (open_tokenizer(tok_json, model, &t)) return cli_fail("tokenize");
  rc = 0;
  dp_buf out = {0};
  if (!jsonl) {
    char *data = NULL;
    size_t len = 0;
    dp_status st = DP_OK;
    if (file && (rc = cli_read_text("tokenize", "--file", file, 0, &data))) goto done;
    if (file) len = strlen(data);
    st = run_one(t, file ? data : text, file ? len : strlen(text), decode, flags, json, &out);
    if (st) rc = cli_fail("tokenize");
    else { fwrite(out.data, 1, out.len, stdout); fputc('\n', stdout); }
    free(data);
  } else {
    char *line = NULL;
    size_t cap = 0;
    ssize_t got;
    size_t lineno = 0;
    while ((got = getline(&line, &cap, stdin)) >= 0) {
      lineno++;
      size_t n = (size_t)got;
      while (n && (line[n - 1] == '\n' || line[n - 1] == '\r')) n--;
      out.len = 0;
      dp_status st;
      if (decode) st = run_one(t, line, n, 1, flags, 1, &out);
      else {
        dp_json_doc *d = dp_json_parse(line, n, "stdin");
        const dp_json *v = d ? dp_json_root(d) : NULL;
        if (!d) st = DP_ERR_FORMAT;
        else if (!dp_json_is(v, DP_JSON_STRING)) st = dp_error(DP_ERR_FORMAT, "stdin: not a JSON string");
        else st = run_one(t, v->u.str, v->n, 0, flags, 1, &out);
        dp_json_free(d);
      }
      if (st) { fprintf(stderr, "doppler tokenize: stdin line %zu: %s\n", lineno, dp_error_message()); rc = 1; break; }
      fwrite(out.data, 1, out.len, stdout);
      fputc('\n', stdout);
    }
    free(line);
  }
done:
  dp_buf_free(&out);
  dp_tokenizer_free(t);
  return rc;
}
