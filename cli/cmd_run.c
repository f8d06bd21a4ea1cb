/* cmd_run.c -- `doppler run [MODEL] (-p PROMPT | -p - | -f FILE) [flags]`: generate text from a
 * prompt, streamed to stdout after the prompt itself; prefill tok/s, decode tok/s and time to
 * first token on stderr. --verbose-prompt lists the prompt's tokens on stderr (`ID -> 'PIECE'`,
 * as llama-cli). Also home of the generation helpers run and chat share (commands.h): the
 * sampling flags, streaming, statistics, Ctrl-C. */
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"

void cli_gen_init(cli_gen *g, int n_predict) {
  memset(g, 0, sizeof *g);
  g->o = dp_generate_defaults();
  g->o.sampling.temperature = 0.7f;
  g->o.sampling.top_k = 40;
  g->o.sampling.top_p = 0.95f;
  g->o.sampling.min_p = 0.05f;
  g->o.sampling.repeat_penalty = 1.0f;
  g->o.sampling.seed = 42;
  g->n_predict = n_predict;
}

static int add_stop(const char *cmd, const char *flag, const char *v, void *dst) {
  cli_gen *g = dst;
  if (g->o.n_stop >= sizeof g->stops / sizeof *g->stops) return cli_usage_error(cmd, "%s: at most 16 of them", flag);
  if (!v[0]) return cli_usage_error(cmd, "%s: the stop string is empty", flag);
  g->stops[g->o.n_stop++] = v;
  g->o.stop = g->stops;
  return 0;
}

size_t cli_gen_load_opts(cli_gen *g, cli_load *l, cli_opt *t) {
  dp_sampling *s = &g->o.sampling;
  const cli_opt opts[CLI_GEN_OPTS] = {
    {"-n", "--n-predict", CLI_INT, &g->n_predict, -1, 1e7, 0, NULL},
    {"--temp", NULL, CLI_FLOAT, &s->temperature, 0, 100, 0, NULL},
    {"--top-k", NULL, CLI_INT, &s->top_k, 0, INT_MAX, 0, NULL},
    {"--top-p", NULL, CLI_FLOAT, &s->top_p, 0, 1, 1, NULL},
    {"--min-p", NULL, CLI_FLOAT, &s->min_p, 0, 1, 0, NULL},
    {"--repeat-penalty", NULL, CLI_FLOAT, &s->repeat_penalty, 0, 100, 1, NULL},
    {"--repeat-last-n", NULL, CLI_INT, &s->repeat_last_n, 1, 1e6, 0, NULL},
    {"--seed", NULL, CLI_U64, &s->seed, 0, 0, 0, NULL},
    {"--stop", NULL, CLI_CALL, g, 0, 0, 0, add_stop},
  };
  memcpy(t, opts, sizeof opts);
  return CLI_GEN_OPTS + cli_load_opts(l, t + CLI_GEN_OPTS);
}

void cli_gen_finish(cli_gen *g) { g->o.max_tokens = g->n_predict < 0 ? 0 : g->n_predict; }

const char *cli_gen_help(void) {
  return "  -n, --n-predict N    tokens to generate at most (default 128; -1 = until end-of-sequence\n"
         "                       or a full context, 0 = none)\n"
         "  --temp T             temperature in [0, 100] (default 0.7; 0 = greedy)\n"
         "  --top-k K            keep the K most likely tokens (default 40; 0 = off)\n"
         "  --top-p P            nucleus sampling, P in (0, 1] (default 0.95; 1 = off)\n"
         "  --min-p P            drop tokens below P x the top probability, [0, 1] (default 0.05)\n"
         "  --repeat-penalty R   penalise recent tokens, (0, 100] (default 1.0 = off)\n"
         "  --repeat-last-n N    window of recent tokens for the penalty (default 64)\n"
         "  --seed S             random seed, 0..2^64-1 (default 42; same seed, same text)\n"
         "  --stop STR           stop before STR (repeatable, at most 16)\n";
}

static dp_session *g_session; /* for SIGINT */
static void on_sigint(int sig) {
  (void)sig;
  if (g_session) dp_session_cancel(g_session);
}

void cli_cancel_on_sigint(dp_session *s) {
  g_session = s;
  signal(SIGINT, s ? on_sigint : SIG_DFL);
}

void cli_on_stop_signals(void (*handler)(int)) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = handler;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGHUP, &sa, NULL); /* a closed terminal stops cleanly too */
}

int cli_print_piece(void *user, int32_t token, const char *text, size_t len) {
  (void)user, (void)token;
  fwrite(text, 1, len, stdout);
  fflush(stdout);
  return 0;
}

void cli_print_stats(const char *cmd, const dp_generate_stats *st, int ctx) {
  fputc('\n', stderr);
  if (st->stop_reason == 4) fprintf(stderr, "doppler %s: context full (%d tokens): generation stopped\n", cmd, ctx);
  double pre = st->prefill_ms > 0 ? st->n_prompt / (st->prefill_ms / 1e3) : 0;
  double dec = st->decode_ms > 0 && st->n_generated > 1 ? (st->n_generated - 1) / (st->decode_ms / 1e3) : 0;
  fprintf(stderr, "prefill: %d tokens, %.1f tok/s | decode: %d tokens, %.1f tok/s | time to first token: %.1f ms\n",
          st->n_prompt, pre, st->n_generated, dec, st->ttft_ms);
}

static void usage(FILE *f) {
  fprintf(f, "usage: doppler run [MODEL] (-p PROMPT | -p - | -f FILE) [flags]\n"
             "MODEL: an RDRR directory, an HF directory or a GGUF file, or a file inside a model\n"
             "       directory (config.json, manifest.json, model.safetensors). Default: " CLI_DEFAULT_MODEL
             " in\n       $DOPPLER_MODELS, else installed beside the executable\n"
             "  -p, --prompt TEXT    the prompt (BOS added as the tokenizer's settings say); - reads stdin\n"
             "  -f, --file FILE      the prompt from a file (- = stdin); one trailing newline is dropped\n"
             "  --chat               wrap the prompt as one user turn in the model's chat template\n"
             "  --verbose-prompt     list the tokens fed to the model on stderr, one `ID -> 'PIECE'` a line\n"
             "%s"
             "  --ignore-eos         keep going past end-of-sequence\n"
             "  --ctx N              context length (default: the model's, at most 4096)\n"
             "  --steps N            decode steps per GPU submit, 1..256 (default 8)\n"
             "  --adapter NAME       lavapipe | swiftshader | default | ICD.json (or $DOPPLER_ADAPTER)\n"
             "  --kernel NAME=FILE   replace kernel variant NAME (`doppler bench kernels --list`) by the WGSL module in FILE\n"
             CLI_OVERRIDE_HELP CLI_EXPERT_HELP
             "  --verbose            the Q4_K matmul and compute precision in force (and why), and the kernel variant\n"
             "                       each op ran, by its --list NAME, on stderr\n",
          cli_gen_help());
}

/* The prompt's tokens on stderr, BOS first: `ID -> 'PIECE'` a line. */
static dp_status print_prompt_tokens(dp_model *m, const int32_t *ids, size_t n) {
  fprintf(stderr, "prompt: %zu tokens\n", n);
  for (size_t i = 0; i < n; i++) {
    char piece[256];
    size_t len;
    dp_status st = dp_token_piece(m, ids[i], piece, sizeof piece, &len);
    if (st) return st;
    fprintf(stderr, "%6d -> '%.*s'\n", (int)ids[i], (int)(len < sizeof piece ? len : sizeof piece - 1), piece);
  }
  return DP_OK;
}

int cmd_run(int argc, char **argv) {
  const char *model = NULL, *prompt_arg = NULL, *file = NULL;
  int chat = 0, ctx = 0, steps = 0, verbose_prompt = 0, npos = 0;
  cli_gen g;
  cli_gen_init(&g, 128);
  cli_load ld = {0};
  cli_opt more[CLI_GEN_LOAD_OPTS];
  int verbose = 0;
  const cli_opt opts[] = {
    {"--prompt", "-p", CLI_STR, &prompt_arg, 0, 0, 0, NULL},
    {"--file", "-f", CLI_STR, &file, 0, 0, 0, NULL},
    {"--chat", NULL, CLI_BOOL, &chat, 0, 0, 0, NULL},
    {"--verbose-prompt", NULL, CLI_BOOL, &verbose_prompt, 0, 0, 0, NULL},
    {"--ignore-eos", NULL, CLI_BOOL, &g.o.ignore_eos, 0, 0, 0, NULL},
    {"--ctx", "-c", CLI_INT, &ctx, 1, 1 << 20, 0, NULL},
    {"--steps", NULL, CLI_INT, &steps, 1, 256, 0, NULL},
    {"--verbose", NULL, CLI_BOOL, &verbose, 0, 0, 0, NULL},
  };
  cli_spec sp = {"run", opts, sizeof opts / sizeof *opts, more, cli_gen_load_opts(&g, &ld, more), &model, 1, &npos, usage};
  int rc = cli_parse(&sp, argc, argv);
  if (rc >= 0) return rc;
  cli_gen_finish(&g);
  if (!prompt_arg == !file) return cli_usage_error("run", prompt_arg ? "-p and -f both given: one prompt" : "-p PROMPT or -f FILE is required");
  if (!(model = cli_model_or_default("run", model))) return 1;
  char *read = NULL; /* -p - and -f: the prompt text read */
  if ((file || !strcmp(prompt_arg, "-")) && cli_read_text("run", file ? "-f" : "-p", file ? file : "-", 1, &read)) return 1;
  const char *prompt = read ? read : prompt_arg;

  dp_model *m = NULL;
  dp_session *s = NULL;
  char *text = NULL;
  int32_t *ids = NULL;
  size_t n = 0;
  dp_session_options so = {ctx, steps};
  dp_status st = DP_OK;
  if ((rc = cli_load_model("run", &ld, model, &m)) || (rc = cli_check_ctx("run", m, ctx, 0))) goto done;
  if (!st) st = dp_session_create(m, &so, &s);
  if (!st && chat) {
    dp_chat_message msg = {"user", prompt};
    st = dp_chat_format(m, &msg, 1, 1, &text);
  }
  const char *feed = chat ? text : prompt; /* the text tokenized, as dp_generate does it */
  if (!st) st = dp_tokenize_prompt(s, feed, &g.o, NULL, 0, &n);
  if (!st && !(ids = malloc((n ? n : 1) * sizeof *ids))) {
    rc = 1;
    fprintf(stderr, "doppler run: out of memory for %zu prompt tokens\n", n);
    goto done;
  }
  if (!st) st = dp_tokenize_prompt(s, feed, &g.o, ids, n, &n);
  if (!st && verbose_prompt) st = print_prompt_tokens(m, ids, n);
  int room = s ? dp_session_context_length(s) - (int)n : 0; /* positions left to generate into */
  if (!st && room < 0) {
    rc = 1;
    fprintf(stderr, "doppler run: the prompt is %zu tokens, more than the context of %d (--ctx)\n", n, dp_session_context_length(s));
    goto done;
  }
  if (!st && g.n_predict > room) {
    rc = cli_usage_error("run", "-n: '%d' is out of range [-1, %d] (a context of %d minus the prompt's %zu tokens)", g.n_predict,
                         room, dp_session_context_length(s), n);
    goto done;
  }
  dp_generate_stats gs;
  memset(&gs, 0, sizeof gs);
  if (!st) {
    if (!chat) { fputs(prompt, stdout); fflush(stdout); }
    if (g.n_predict != 0) {
      cli_cancel_on_sigint(s);
      st = dp_generate_ids(s, ids, n, &g.o, cli_print_piece, NULL, &gs);
      cli_cancel_on_sigint(NULL);
    }
    fputc('\n', stdout);
    fflush(stdout);
    if (g.n_predict != 0 && (!st || st == DP_ERR_CANCELLED)) cli_print_stats("run", &gs, dp_session_context_length(s));
  }
  if (!st && verbose && m) cli_print_overrides("run", m);
  if (!st && verbose && m) cli_print_kernels("run", m);
  rc = st ? cli_fail("run") : 0;
done:
  free(ids);
  free(read);
  dp_string_free(text);
  dp_session_free(s);
  dp_model_free(m);
  cli_load_free(&ld);
  return rc;
}
