/* args.c -- the one argument parser of every `doppler` command, and the conventions all commands
 * share (declared in commands.h):
 *   * a command describes its flags in a cli_opt table and calls cli_parse, which takes each
 *     flag's value, checks numbers against the flag's range and fills the destination;
 *   * usage errors (unknown flag, missing or bad value, number out of range, missing argument)
 *     print one line `doppler CMD: WHAT` on stderr and give exit status 2 (cli_usage_error);
 *   * runtime failures (a model or input file missing or unreadable, a GPU error...) print
 *     `doppler CMD: <the engine's message>` and give exit status 1 (cli_fail);
 *   * prompts and input text come from an argument, a file or stdin (cli_read_text);
 *   * the default model: $DOPPLER_MODELS (or its older name $DOPPLER_MODEL_DIR), then the
 *     installed share/doppler/models beside the executable, then the source tree's models/.
 * Depends only on the C library and include/doppler.h. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "doppler.h"

int cli_usage_error(const char *cmd, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "doppler %s: ", cmd);
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, " (see `doppler %s --help`)\n", cmd);
  va_end(ap);
  return 2;
}

int cli_version(void) {
  printf("doppler %s\n", DOPPLER_VERSION);
  return 0;
}

int cli_fail(const char *cmd) {
  fprintf(stderr, "doppler %s: %s\n", cmd, dp_error_message());
  return 1;
}

/* A number filling the whole argument, within the option's range; 0 or a usage error (2)
 * naming the flag as typed. */
static int parse_number(const char *cmd, const char *flag, const cli_opt *o, const char *v) {
  char *end = NULL;
  errno = 0;
  if (o->kind == CLI_U64) {
    unsigned long long x = strtoull(v, &end, 10);
    int neg = v[0] == '-' && isdigit((unsigned char)v[1]);
    if ((!isdigit((unsigned char)v[0]) && !neg) || *end) return cli_usage_error(cmd, "%s: '%s' is not a number", flag, v);
    unsigned long long lo = (unsigned long long)o->lo, hi = o->hi > 0 ? (unsigned long long)o->hi : ULLONG_MAX;
    if (neg || errno == ERANGE || x < lo || x > hi) return cli_usage_error(cmd, "%s: '%s' is out of range [%llu, %llu]", flag, v, lo, hi);
    *(uint64_t *)o->dst = x;
    return 0;
  }
  double x = strtod(v, &end);
  if (!*v || *end || isspace((unsigned char)*v) || isnan(x)) return cli_usage_error(cmd, "%s: '%s' is not a number", flag, v);
  if (o->kind == CLI_INT && x != floor(x)) return cli_usage_error(cmd, "%s: '%s' is not a whole number", flag, v);
  if (!(x >= o->lo && x <= o->hi) || (o->lo_open && x == o->lo))
    return cli_usage_error(cmd, "%s: '%s' is out of range %c%.15g, %.15g]", flag, v, o->lo_open ? '(' : '[', o->lo, o->hi);
  if (o->kind == CLI_INT) *(int *)o->dst = (int)x;
  else *(float *)o->dst = (float)x;
  return 0;
}

int cli_parse(const cli_spec *sp, int argc, char **argv) {
  if (sp->n_pos) *sp->n_pos = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      sp->usage(stdout);
      return 0;
    }
    if (!strcmp(a, "--version")) return cli_version();
    if (a[0] != '-' || !a[1]) { /* positional ("-" alone is one: stdin) */
      if (!sp->n_pos || *sp->n_pos >= sp->max_pos) return cli_usage_error(sp->cmd, "unexpected argument '%s'", a);
      sp->pos[(*sp->n_pos)++] = a;
      continue;
    }
    const cli_opt *o = NULL;
    for (size_t k = 0; k < sp->n_opts + sp->n_more && !o; k++) {
      const cli_opt *c = k < sp->n_opts ? &sp->opts[k] : &sp->more[k - sp->n_opts];
      if (!strcmp(a, c->name) || (c->alias && !strcmp(a, c->alias))) o = c;
    }
    if (!o) return cli_usage_error(sp->cmd, "unknown flag '%s'", a);
    if (o->kind == CLI_BOOL) {
      *(int *)o->dst = 1;
      continue;
    }
    if (i + 1 >= argc) return cli_usage_error(sp->cmd, "%s needs a value", a);
    const char *v = argv[++i];
    int rc = 0;
    if (o->kind == CLI_STR) *(const char **)o->dst = v;
    else if (o->kind == CLI_CALL) rc = o->call(sp->cmd, a, v, o->dst);
    else rc = parse_number(sp->cmd, a, o, v);
    if (rc) return rc;
  }
  return -1;
}

/* ---- input text: an argument, a file or stdin ---- */

int cli_read_text(const char *cmd, const char *what, const char *path, int drop_newline, char **out) {
  *out = NULL;
  int is_stdin = !strcmp(path, "-");
  FILE *f = is_stdin ? stdin : fopen(path, "rb");
  const char *name = is_stdin ? "stdin" : path;
  if (!f) {
    fprintf(stderr, "doppler %s: %s: %s: %s\n", cmd, what, name, strerror(errno));
    return 1;
  }
  size_t len = 0, cap = 1 << 16;
  char *buf = malloc(cap);
  int err = 0;
  while (buf) {
    if (len + 1 >= cap) {
      char *nb = cap > SIZE_MAX / 2 ? NULL : realloc(buf, cap * 2);
      if (!nb) { free(buf); buf = NULL; break; }
      buf = nb, cap *= 2;
    }
    size_t got = fread(buf + len, 1, cap - 1 - len, f);
    len += got;
    if (got == 0) { err = ferror(f); break; }
  }
  int saved = errno;
  if (!is_stdin) fclose(f);
  if (!buf) {
    fprintf(stderr, "doppler %s: %s: %s: out of memory\n", cmd, what, name);
    return 1;
  }
  if (err) {
    fprintf(stderr, "doppler %s: %s: %s: read failed: %s\n", cmd, what, name, strerror(saved));
    free(buf);
    return 1;
  }
  buf[len] = 0;
  const char *nul = memchr(buf, 0, len);
  if (nul) {
    fprintf(stderr, "doppler %s: %s: %s: NUL byte at offset %zu (text expected)\n", cmd, what, name, (size_t)(nul - buf));
    free(buf);
    return 1;
  }
  if (drop_newline && len && buf[len - 1] == '\n') buf[--len] = 0; /* as llama.cpp's -f */
  *out = buf;
  return 0;
}

/* ---- the default model ---- */

static int has_model_files(const char *dir) {
  char p[PATH_MAX + 32];
  const char *names[] = {"manifest.json", "config.json"};
  for (int i = 0; i < 2; i++) {
    snprintf(p, sizeof p, "%s/%s", dir, names[i]);
    if (access(p, R_OK) == 0) return 1;
  }
  return 0;
}

/* `dir` itself when it is a model, else dir/name when that is one. */
static const char *model_in(const char *dir, char *path, size_t cap) {
  if (has_model_files(dir)) return dir;
  snprintf(path, cap, "%s/%s", dir, CLI_DEFAULT_MODEL);
  return has_model_files(path) ? path : NULL;
}

const char *cli_default_model(void) {
  static char path[PATH_MAX + 64];
  const char *envs[] = {"DOPPLER_MODELS", "DOPPLER_MODEL_DIR"};
  for (int i = 0; i < 2; i++) {
    const char *env = getenv(envs[i]);
    if (env && env[0]) return model_in(env, path, sizeof path); /* set: the only place looked at */
  }
  char exe[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n > 0) {
    exe[n] = 0;
    char *slash = strrchr(exe, '/');
    if (slash) *slash = 0;
    /* installed (PREFIX/bin -> PREFIX/share/doppler/models), then the source tree (build/ or .) */
    const char *rel[] = {"../share/doppler/models/", "../models/", "models/"};
    for (int i = 0; i < 3; i++) {
      snprintf(path, sizeof path, "%s/%s%s", exe, rel[i], CLI_DEFAULT_MODEL);
      if (has_model_files(path)) return path;
    }
  }
  return NULL;
}

const char *cli_model_or_default(const char *cmd, const char *model) {
  if (model) return model;
  model = cli_default_model();
  if (!model)
    fprintf(stderr, "doppler %s: no MODEL given and the default model (%s) was not found in $DOPPLER_MODELS nor in "
                    "share/doppler/models or models/ beside the executable\n", cmd, CLI_DEFAULT_MODEL);
  return model;
}

int cli_check_ctx(const char *cmd, dp_model *m, int ctx, int extra) {
  dp_model_info mi;
  if (ctx <= 0 || dp_model_get_info(m, &mi) || mi.max_context <= 0 || ctx + extra <= mi.max_context) return 0;
  return cli_usage_error(cmd, "--ctx: '%d' is out of range [1, %d] (the model's positions)", ctx, mi.max_context - extra);
}

const char *cli_adapter(const char *flag) {
  if (flag) return flag;
  return getenv("DOPPLER_ADAPTER");
}

/* ---- --kernel NAME=FILE ---- */

typedef struct kernel_find { const char *name; int found; } kernel_find;
static int kernel_seen(void *user, const char *name, const char *op, const char *condition) {
  kernel_find *f = user;
  (void)op, (void)condition;
  return f->found = !strcmp(name, f->name);
}

int cli_kernel_opt(const char *cmd, const char *flag, const char *value, void *dst) {
  cli_kernels *k = dst;
  const char *eq = strchr(value, '=');
  if (!eq || eq == value || !eq[1]) return cli_usage_error(cmd, "%s: '%s': expected NAME=FILE.wgsl", flag, value);
  char name[64];
  snprintf(name, sizeof name, "%.*s", (int)(eq - value), value);
  kernel_find f = {name, 0};
  dp_kernel_list(kernel_seen, &f);
  if (!f.found) return cli_usage_error(cmd, "%s: no kernel variant '%s' (`doppler bench kernels --list`)", flag, name);
  if (k->n == CLI_MAX_KERNELS) return cli_usage_error(cmd, "%s: more than %d kernels", flag, CLI_MAX_KERNELS);
  char *text = NULL;
  if (cli_read_text(cmd, flag, eq + 1, 0, &text)) return 1;
  size_t nl = strlen(name), tl = strlen(text);
  char *spec = malloc(nl + tl + 2);
  if (!spec) { free(text); fprintf(stderr, "doppler %s: out of memory\n", cmd); return 1; }
  memcpy(spec, name, nl);
  spec[nl] = '=';
  memcpy(spec + nl + 1, text, tl + 1);
  free(text);
  k->spec[k->n++] = spec;
  return 0;
}

void cli_kernels_free(cli_kernels *k) {
  for (int i = 0; i < k->n; i++) free((char *)k->spec[i]);
  k->n = 0;
}

/* ---- --q4k-matmul, --compute-precision ---- */

int cli_q4k_opt(const char *cmd, const char *flag, const char *value, void *dst) {
  cli_overrides *o = dst;
  if (dp_parse_q4k_matmul(value, &o->q4k, &o->prec_implied)) return cli_usage_error(cmd, "%s: %s", flag, dp_error_message());
  return 0;
}

int cli_precision_opt(const char *cmd, const char *flag, const char *value, void *dst) {
  cli_overrides *o = dst;
  if (dp_parse_compute_precision(value, &o->prec)) return cli_usage_error(cmd, "%s: %s", flag, dp_error_message());
  return 0;
}

int cli_matvec_opt(const char *cmd, const char *flag, const char *value, void *dst) {
  cli_overrides *o = dst;
  if (dp_parse_matvec_input(value, &o->matvec)) return cli_usage_error(cmd, "%s: %s", flag, dp_error_message());
  return 0;
}

void cli_overrides_apply(const cli_overrides *o, dp_load_options *lo) {
  lo->matvec_input = o->matvec;
  lo->q4k_matmul = o->q4k;
  lo->compute_precision = o->prec ? o->prec : o->prec_implied;
  lo->expert_budget_n = o->expert_n;
  lo->expert_budget_bytes = o->expert_bytes;
}

int cli_expert_budget_opt(const char *cmd, const char *flag, const char *value, void *dst) {
  cli_overrides *o = dst;
  if (dp_parse_expert_budget(value, &o->expert_n, &o->expert_bytes)) return cli_usage_error(cmd, "%s: %s", flag, dp_error_message());
  return 0;
}

int cli_check_budget(const char *cmd, const cli_overrides *o, dp_status st) {
  if (st != DP_ERR_INVALID_ARG || (!o->expert_n && !o->expert_bytes)) return 0;
  return cli_usage_error(cmd, "%s", dp_error_message());
}

size_t cli_load_opts(cli_load *l, cli_opt *opts) {
  const cli_opt o[CLI_LOAD_OPTS] = {
    {"--adapter", NULL, CLI_STR, &l->adapter, 0, 0, 0, NULL},
    {"--kernel", NULL, CLI_CALL, &l->kern, 0, 0, 0, cli_kernel_opt},
    {"--q4k-matmul", NULL, CLI_CALL, &l->ov, 0, 0, 0, cli_q4k_opt},
    {"--compute-precision", NULL, CLI_CALL, &l->ov, 0, 0, 0, cli_precision_opt},
    {"--matvec-input", NULL, CLI_CALL, &l->ov, 0, 0, 0, cli_matvec_opt},
    {"--expert-budget", NULL, CLI_CALL, &l->ov, 0, 0, 0, cli_expert_budget_opt},
  };
  memcpy(opts, o, sizeof o);
  return CLI_LOAD_OPTS;
}

int cli_load_model(const char *cmd, const cli_load *l, const char *model, dp_model **m) {
  dp_load_options lo = {cli_adapter(l->adapter), 0, l->kern.spec, l->kern.n, 0, 0, 0, 0, 0};
  cli_overrides_apply(&l->ov, &lo);
  dp_status st = dp_model_load(model, &lo, m);
  if (!st) return 0;
  int rc = cli_check_budget(cmd, &l->ov, st);
  return rc ? rc : cli_fail(cmd);
}

void cli_load_free(cli_load *l) { cli_kernels_free(&l->kern); }

void cli_print_overrides(const char *cmd, const dp_model *m) {
  dp_model_info mi;
  if (dp_model_get_info(m, &mi)) return;
  fprintf(stderr, "doppler %s: q4k-matmul %s (%s); compute-precision %s (%s); matvec-input %s\n", cmd, mi.q4k_matmul,
          mi.q4k_matmul_from, mi.compute_precision, mi.compute_precision_from, mi.matvec_input);
  dp_expert_stats es;
  if (dp_model_expert_stats(m, &es) || !es.moe) return;
  char b[64] = "";
  if (es.budget_bytes) snprintf(b, sizeof b, "%llu bytes = ", (unsigned long long)es.budget_bytes);
  fprintf(stderr, "doppler %s: experts: budget %s%d of %d per layer%s, hits %llu, misses %llu, paged %llu bytes\n", cmd, b, es.slots,
          es.n_experts, es.paged ? " (paged)" : " (all resident, routing on the GPU)", (unsigned long long)es.hits,
          (unsigned long long)es.misses, (unsigned long long)es.paged_bytes);
}

static int print_kernel(void *user, const char *name, const char *op, uint64_t n) {
  fprintf(stderr, "doppler %s: kernel %s %s (%llu dispatches)\n", (const char *)user, op, name, (unsigned long long)n);
  return 0;
}

void cli_print_kernels(const char *cmd, const dp_model *m) { dp_model_kernels_used(m, print_kernel, (void *)cmd); }
