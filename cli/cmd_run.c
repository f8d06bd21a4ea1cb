/* cmd_run.c -- `doppler run [MODEL] -p PROMPT [flags]`: generate text from a prompt, streamed
 * to stdout; prefill tok/s, decode tok/s and time to first token on stderr.
 * Also home of the helpers the other generation commands share (declared in commands.h):
 * the default model's location and the sampling flags. */
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "doppler.h"

#define DEFAULT_MODEL "doppler-tiny-f16"

static int has_model_files(const char *dir) {
  char p[PATH_MAX + 32];
  const char *names[] = {"manifest.json", "config.json"};
  for (int i = 0; i < 2; i++) {
    snprintf(p, sizeof p, "%s/%s", dir, names[i]);
    if (access(p, R_OK) == 0) return 1;
  }
  return 0;
}

const char *cli_default_model(void) {
  static char path[PATH_MAX + 64];
  const char *env = getenv("DOPPLER_MODEL_DIR");
  if (env && env[0]) {
    if (has_model_files(env)) return env; /* the model itself */
    snprintf(path, sizeof path, "%s/%s", env, DEFAULT_MODEL); /* or the folder holding it */
    if (has_model_files(path)) return path;
  }
  char exe[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n > 0) {
    exe[n] = 0;
    char *slash = strrchr(exe, '/');
    if (slash) *slash = 0;
    const char *rel[] = {"../models/" DEFAULT_MODEL, "models/" DEFAULT_MODEL, "../../models/" DEFAULT_MODEL};
    for (int i = 0; i < 3; i++) {
      snprintf(path, sizeof path, "%s/%s", exe, rel[i]);
      if (has_model_files(path)) return path;
    }
  }
  if (has_model_files("models/" DEFAULT_MODEL)) return "models/" DEFAULT_MODEL;
  return NULL;
}

const char *cli_adapter(const char *flag) {
  if (flag) return flag;
  return getenv("DOPPLER_ADAPTER");
}

static int parse_num(const char *flag, const char *v, double lo, double hi, double *out) {
  char *end;
  double x = strtod(v, &end);
  if (!*v || *end || !(x >= lo && x <= hi)) {
    fprintf(stderr, "doppler: %s: '%s' is not a number in [%g, %g]\n", flag, v, lo, hi);
    return -1;
  }
  *out = x;
  return 0;
}

int cli_sampling_flag(int argc, char **argv, int *i, dp_generate_options *o) {
  const char *a = argv[*i];
  static const char *flags[] = {"--temp", "--top-k", "--top-p", "--min-p", "--repeat-penalty", "--repeat-last-n", "--seed",
                                "-n", "--stop"};
  int which = -1;
  for (int k = 0; k < (int)(sizeof flags / sizeof *flags); k++)
    if (!strcmp(a, flags[k])) which = k;
  if (which < 0) return 0;
  if (*i + 1 >= argc) {
    fprintf(stderr, "doppler: %s needs a value\n", a);
    return -1;
  }
  const char *v = argv[++*i];
  double x;
  dp_sampling *s = &o->sampling;
  switch (which) {
  case 0: if (parse_num(a, v, 0, 100, &x)) return -1; s->temperature = (float)x; break;
  case 1: if (parse_num(a, v, 0, 1e9, &x)) return -1; s->top_k = (int)x; break;
  case 2: if (parse_num(a, v, 1e-6, 1, &x)) return -1; s->top_p = (float)x; break;
  case 3: if (parse_num(a, v, 0, 1, &x)) return -1; s->min_p = (float)x; break;
  case 4: if (parse_num(a, v, 1e-3, 100, &x)) return -1; s->repeat_penalty = (float)x; break;
  case 5: if (parse_num(a, v, 1, 1e6, &x)) return -1; s->repeat_last_n = (int)x; break;
  case 6: if (parse_num(a, v, 0, 1.8e19, &x)) return -1; s->seed = strtoull(v, NULL, 10); break;
  case 7: if (parse_num(a, v, 1, 1e7, &x)) return -1; o->max_tokens = (int)x; break;
  case 8: {
    static const char *stops[16];
    if (o->n_stop >= 16) { fprintf(stderr, "doppler: at most 16 --stop strings\n"); return -1; }
    stops[o->n_stop++] = v;
    o->stop = stops;
    break;
  }
  }
  return 1;
}

const char *cli_sampling_help(void) {
  return "  -n N                 tokens to generate at most (default 128)\n"
         "  --temp T             temperature (default 0.7; 0 = greedy)\n"
         "  --top-k K            keep the K most likely tokens (default 40; 0 = off)\n"
         "  --top-p P            nucleus sampling (default 0.95; 1 = off)\n"
         "  --min-p P            drop tokens below P x the top probability (default 0.05)\n"
         "  --repeat-penalty R   penalise recent tokens (default 1.0 = off)\n"
         "  --repeat-last-n N    window of recent tokens for the penalty (default 64)\n"
         "  --seed S             random seed (default 42; same seed, same text)\n"
         "  --stop STR           stop before STR (repeatable)\n";
}

void cli_generate_defaults(dp_generate_options *o) {
  *o = dp_generate_defaults();
  o->max_tokens = 128;
  o->sampling.temperature = 0.7f;
  o->sampling.top_k = 40;
  o->sampling.top_p = 0.95f;
  o->sampling.min_p = 0.05f;
  o->sampling.repeat_penalty = 1.0f;
  o->sampling.seed = 42;
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

void cli_print_stats(const dp_generate_stats *st) {
  double pre = st->prefill_ms > 0 ? st->n_prompt / (st->prefill_ms / 1e3) : 0;
  double dec = st->decode_ms > 0 && st->n_generated > 1 ? (st->n_generated - 1) / (st->decode_ms / 1e3) : 0;
  fprintf(stderr, "\nprefill: %d tokens, %.1f tok/s | decode: %d tokens, %.1f tok/s | time to first token: %.1f ms\n",
          st->n_prompt, pre, st->n_generated, dec, st->ttft_ms);
}

static void usage(FILE *f) {
  fprintf(f, "usage: doppler run [MODEL] -p PROMPT [flags]\n"
             "MODEL: an RDRR directory, an HF directory or a GGUF file (default: models/" DEFAULT_MODEL
             ",\n       found beside the executable or in $DOPPLER_MODEL_DIR)\n"
             "  -p, --prompt TEXT    the prompt (BOS added as the tokenizer's settings say)\n"
             "  --chat               wrap the prompt as one user turn in the model's chat template\n"
             "%s"
             "  --ignore-eos         keep going past end-of-sequence\n"
             "  --ctx N              context length (default: the model's)\n"
             "  --steps N            decode steps per GPU submit (default 8)\n"
             "  --adapter NAME       lavapipe | swiftshader | default | ICD.json (or $DOPPLER_ADAPTER)\n",
          cli_sampling_help());
}

int cmd_run(int argc, char **argv) {
  const char *model = NULL, *prompt = NULL, *adapter = NULL;
  int chat = 0, ctx = 0, steps = 0;
  dp_generate_options o;
  cli_generate_defaults(&o);
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    int r = cli_sampling_flag(argc, argv, &i, &o);
    if (r < 0) return 2;
    if (r > 0) continue;
    if ((!strcmp(a, "-p") || !strcmp(a, "--prompt")) && i + 1 < argc) prompt = argv[++i];
    else if (!strcmp(a, "--chat")) chat = 1;
    else if (!strcmp(a, "--ignore-eos")) o.ignore_eos = 1;
    else if (!strcmp(a, "--ctx") && i + 1 < argc) ctx = atoi(argv[++i]);
    else if (!strcmp(a, "--steps") && i + 1 < argc) steps = atoi(argv[++i]);
    else if (!strcmp(a, "--adapter") && i + 1 < argc) adapter = argv[++i];
    else if (!strcmp(a, "--help") || !strcmp(a, "-h")) { usage(stdout); return 0; }
    else if (a[0] != '-' && !model) model = a;
    else {
      fprintf(stderr, "doppler run: unknown or incomplete argument '%s'\n", a);
      usage(stderr);
      return 2;
    }
  }
  if (!prompt) { fprintf(stderr, "doppler run: -p PROMPT is required\n"); usage(stderr); return 2; }
  if (!model && !(model = cli_default_model())) {
    fprintf(stderr, "doppler run: no MODEL given and the default model (models/" DEFAULT_MODEL
                    ") was not found beside the executable or in $DOPPLER_MODEL_DIR\n");
    return 1;
  }
  dp_load_options lo = {cli_adapter(adapter), 0};
  dp_model *m = NULL;
  dp_session *s = NULL;
  char *text = NULL;
  dp_session_options so = {ctx, steps};
  dp_status st = dp_model_load(model, &lo, &m);
  if (!st) st = dp_session_create(m, &so, &s);
  if (!st && chat) {
    dp_chat_message msg = {"user", prompt};
    st = dp_chat_format(m, &msg, 1, 1, &text);
  }
  dp_generate_stats gs;
  memset(&gs, 0, sizeof gs);
  if (!st) {
    if (!chat) { fputs(prompt, stdout); fflush(stdout); }
    cli_cancel_on_sigint(s);
    st = dp_generate(s, chat ? text : prompt, &o, cli_print_piece, NULL, &gs);
    cli_cancel_on_sigint(NULL);
    fputc('\n', stdout);
    fflush(stdout);
    if (!st || st == DP_ERR_CANCELLED) cli_print_stats(&gs);
  }
  if (st) fprintf(stderr, "doppler run: %s\n", dp_error_message());
  dp_string_free(text);
  dp_session_free(s);
  dp_model_free(m);
  return st ? 1 : 0;
}
