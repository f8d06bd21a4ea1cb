/* cmd_chat.c -- `doppler chat [MODEL] [flags]`: an interactive conversation on stdin/stdout
 * using the model's chat template. The whole conversation is re-rendered each turn and only
 * the tokens past what the session already holds are fed (if the rendering no longer starts
 * with the session's tokens, the session is reset and the conversation fed again). A model
 * without a chat template continues plain text instead. Commands: /reset, /exit; Ctrl-C stops
 * the current reply. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "doppler.h"

typedef struct convo {
  dp_chat_message *msgs;
  char **owned;
  size_t n, cap;
  int32_t *ids;   /* tokens the session holds (prompt + replies) */
  size_t n_ids, cap_ids;
  char *reply;    /* the reply being generated */
  size_t reply_len, reply_cap;
} convo;

static int push_msg(convo *c, const char *role, const char *content) {
  if (c->n == c->cap) {
    size_t nc = c->cap ? 2 * c->cap : 16;
    dp_chat_message *nm = realloc(c->msgs, nc * sizeof *nm);
    char **no = realloc(c->owned, nc * sizeof *no);
    if (!nm || !no) { free(nm ? nm : c->msgs); free(no ? no : c->owned); return -1; }
    c->msgs = nm, c->owned = no, c->cap = nc;
  }
  char *copy = strdup(content);
  if (!copy) return -1;
  c->owned[c->n] = copy;
  c->msgs[c->n].role = role;
  c->msgs[c->n].content = copy;
  c->n++;
  return 0;
}

static int push_ids(convo *c, const int32_t *ids, size_t n) {
  if (c->n_ids + n > c->cap_ids) {
    size_t nc = (c->n_ids + n) * 2 + 64;
    int32_t *ni = realloc(c->ids, nc * sizeof *ni);
    if (!ni) return -1;
    c->ids = ni, c->cap_ids = nc;
  }
  memcpy(c->ids + c->n_ids, ids, n * sizeof *ids);
  c->n_ids += n;
  return 0;
}

static int on_piece(void *user, int32_t token, const char *text, size_t len) {
  convo *c = user;
  fwrite(text, 1, len, stdout);
  fflush(stdout);
  if (token >= 0) push_ids(c, &token, 1);
  if (c->reply_len + len + 1 > c->reply_cap) {
    size_t nc = (c->reply_len + len + 1) * 2;
    char *nr = realloc(c->reply, nc);
    if (!nr) return 1;
    c->reply = nr, c->reply_cap = nc;
  }
  memcpy(c->reply + c->reply_len, text, len);
  c->reply_len += len;
  c->reply[c->reply_len] = 0;
  return 0;
}

/* Feed `ids` (the full conversation): only what extends the session's tokens. */
static dp_status feed_and_generate(dp_session *s, convo *c, const int32_t *ids, size_t n, const dp_generate_options *o,
                                   dp_generate_stats *gs) {
  size_t common = 0;
  while (common < n && common < c->n_ids && ids[common] == c->ids[common]) common++;
  if (common < c->n_ids || common == n) { /* diverged (or nothing new): start over */
    dp_session_reset(s);
    c->n_ids = 0;
    common = 0;
  }
  if (push_ids(c, ids + common, n - common)) return DP_ERR_NOMEM;
  c->reply_len = 0;
  if (c->reply) c->reply[0] = 0;
  return dp_generate_ids(s, ids + common, n - common, o, on_piece, c, gs);
}

static void usage(FILE *f) {
  fprintf(f, "usage: doppler chat [MODEL] [flags]\n"
             "MODEL: an RDRR directory, an HF directory or a GGUF file (default: the default model, see run)\n"
             "  --system TEXT        a system message\n"
             "%s"
             "  --ctx N              context length (default: the model's, at most 4096)\n"
             "  --adapter NAME       lavapipe | swiftshader | default | ICD.json (or $DOPPLER_ADAPTER)\n"
             "  --kernel NAME=FILE   replace kernel variant NAME (`doppler bench kernels --list`) by the WGSL module in FILE\n"
             CLI_OVERRIDE_HELP CLI_EXPERT_HELP
             "Type a message and Enter; /reset starts over, /exit (or end of input) quits.\n",
          cli_gen_help());
}

int cmd_chat(int argc, char **argv) {
  const char *model = NULL, *system_msg = NULL;
  int ctx = 0, npos = 0;
  cli_gen g;
  cli_gen_init(&g, 256);
  cli_load ld = {0};
  cli_opt more[CLI_GEN_LOAD_OPTS];
  const cli_opt opts[] = {
    {"--system", NULL, CLI_STR, &system_msg, 0, 0, 0, NULL},
    {"--ctx", "-c", CLI_INT, &ctx, 1, 1 << 20, 0, NULL},
  };
  cli_spec sp = {"chat", opts, sizeof opts / sizeof *opts, more, cli_gen_load_opts(&g, &ld, more), &model, 1, &npos, usage};
  int rc = cli_parse(&sp, argc, argv);
  if (rc >= 0) return rc;
  cli_gen_finish(&g);
  if (g.n_predict == 0) return cli_usage_error("chat", "-n: 0 would generate no reply (-1 = until the end)");
  const dp_generate_options o = g.o;
  if (!(model = cli_model_or_default("chat", model))) return 1;
  dp_model *m = NULL;
  dp_session *s = NULL;
  dp_session_options so = {ctx, 0};
  if ((rc = cli_load_model("chat", &ld, model, &m)) || (rc = cli_check_ctx("chat", m, ctx, 0))) {
    dp_model_free(m);
    cli_load_free(&ld);
    return rc;
  }
  dp_status st = dp_session_create(m, &so, &s);
  if (st) {
    rc = cli_fail("chat");
    dp_session_free(s);
    dp_model_free(m);
    return rc;
  }
  char *probe = NULL;
  dp_chat_message pm = {"user", "x"};
  dp_status ps = dp_chat_format(m, &pm, 1, 1, &probe);
  dp_string_free(probe);
  int templated = ps == DP_OK;
  if (ps && ps != DP_ERR_NOT_FOUND) { /* the model's template cannot be rendered: say why, never guess */
    fprintf(stderr, "doppler chat: %s\n", dp_error_message());
    dp_session_free(s);
    dp_model_free(m);
    return 1;
  }
  if (!templated) fprintf(stderr, "doppler chat: this model has no chat template; continuing plain text\n");
  convo c;
  memset(&c, 0, sizeof c);
  if (system_msg && templated) push_msg(&c, "system", system_msg);
  char *line = NULL; /* one message: a whole input line, any length */
  size_t line_cap = 0;
  rc = 0;
  for (;;) {
    fputs("> ", stdout);
    fflush(stdout);
    ssize_t got = getline(&line, &line_cap, stdin);
    if (got < 0) break;
    size_t ll = (size_t)got;
    if (strlen(line) != ll) {
      fprintf(stderr, "doppler chat: a NUL byte in the message; not sent\n");
      continue;
    }
    while (ll && (line[ll - 1] == '\n' || line[ll - 1] == '\r')) line[--ll] = 0;
    if (!strcmp(line, "/exit")) break;
    if (!strcmp(line, "/reset")) {
      dp_session_reset(s);
      for (size_t i = 0; i < c.n; i++) free(c.owned[i]);
      c.n = 0, c.n_ids = 0;
      if (system_msg && templated) push_msg(&c, "system", system_msg);
      continue;
    }
    if (!ll) continue;
    dp_generate_stats gs;
    memset(&gs, 0, sizeof gs);
    cli_cancel_on_sigint(s);
    if (templated) {
      char *text = NULL;
      if (push_msg(&c, "user", line)) { st = DP_ERR_NOMEM; break; }
      st = dp_chat_format(m, c.msgs, c.n, 1, &text);
      size_t n = 0;
      int32_t *ids = NULL;
      if (!st) st = dp_tokenize(m, text, -1, NULL, 0, &n);
      if (!st && !(ids = malloc((n ? n : 1) * sizeof *ids))) st = DP_ERR_NOMEM;
      if (!st) st = dp_tokenize(m, text, -1, ids, n, &n);
      if (!st) st = feed_and_generate(s, &c, ids, n, &o, &gs);
      if (!st || st == DP_ERR_CANCELLED) push_msg(&c, "assistant", c.reply ? c.reply : "");
      free(ids);
      dp_string_free(text);
    } else {
      size_t n = 0;
      int32_t *ids = NULL;
      int bos = dp_session_position(s) == 0 ? -1 : 0;
      st = dp_tokenize(m, line, bos, NULL, 0, &n);
      if (!st && !(ids = malloc((n ? n : 1) * sizeof *ids))) st = DP_ERR_NOMEM;
      if (!st) st = dp_tokenize(m, line, bos, ids, n, &n);
      if (!st) st = dp_generate_ids(s, ids, n, &o, on_piece, &c, &gs);
      free(ids);
    }
    cli_cancel_on_sigint(NULL);
    fputc('\n', stdout);
    if (st == DP_ERR_CANCELLED) { fprintf(stderr, "(stopped)\n"); continue; }
    if (st == DP_ERR_CONTEXT_FULL) {
      fprintf(stderr, "doppler chat: %s -- use /reset\n", dp_error_message());
      continue;
    }
    if (st) { rc = cli_fail("chat"); break; }
    cli_print_stats("chat", &gs, dp_session_context_length(s));
  }
  free(line);
  for (size_t i = 0; i < c.n; i++) free(c.owned[i]);
  free(c.owned);
  free(c.msgs);
  free(c.ids);
  free(c.reply);
  dp_session_free(s);
  dp_model_free(m);
  cli_load_free(&ld);
  return rc;
}
