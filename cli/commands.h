/* commands.h -- one entry point per `doppler` sub-command (cli/cmd_NAME.c) and what they share.
 * The CLI is thin: parse flags, call the engine, print. Each command returns the process exit
 * status: 0 success, 1 runtime failure, 2 usage error; messages are one line, `doppler CMD: WHAT`. */
#ifndef DP_CLI_COMMANDS_H
#define DP_CLI_COMMANDS_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "doppler.h"

int cmd_devices(int argc, char **argv);
int cmd_convert(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
int cmd_update_manifest(int argc, char **argv);
int cmd_tokenize(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_chat(int argc, char **argv);
int cmd_logits(int argc, char **argv);
int cmd_perplexity(int argc, char **argv);
int cmd_synth(int argc, char **argv);
int cmd_serve(int argc, char **argv);

/* ---- argument parsing (cli/args.c): one table-driven parser for every command ---- */
typedef enum cli_kind {
  CLI_BOOL,  /* no value; dst int* set to 1 */
  CLI_STR,   /* dst const char ** */
  CLI_INT,   /* dst int*, a whole number in [lo, hi] */
  CLI_FLOAT, /* dst float*, a number in [lo, hi] ((lo, hi] with lo_open) */
  CLI_U64,   /* dst uint64_t*, an unsigned 64-bit decimal >= lo (and <= hi unless hi is 0) */
  CLI_CALL,  /* call(cmd, flag, value, dst): 0, or the exit status after printing a message */
} cli_kind;
typedef struct cli_opt {
  const char *name, *alias; /* "--prompt", "-p" (alias may be NULL) */
  cli_kind kind;
  void *dst;
  double lo, hi;
  int lo_open;
  int (*call)(const char *cmd, const char *flag, const char *value, void *dst);
} cli_opt;
typedef struct cli_spec {
  const char *cmd;               /* "run": messages read `doppler run: ...` */
  const cli_opt *opts;           /* the command's flags */
  size_t n_opts;
  const cli_opt *more;           /* shared flags (the generation flags of run and chat), or NULL */
  size_t n_more;
  const char **pos;              /* positional arguments, at most max_pos of them */
  int max_pos, *n_pos;
  void (*usage)(FILE *f);        /* printed on stdout for --help / -h */
} cli_spec;
/* -1: parsed, go on; otherwise the exit status to return (0 after --help or --version, 2 after a one-line
 * usage error on stderr). A value is always the next argument, even when it starts with '-'. */
int cli_parse(const cli_spec *sp, int argc, char **argv);
/* `doppler CMD: WHAT (see `doppler CMD --help`)` on stderr; returns 2. */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int cli_version(void); /* `doppler X.Y.Z` on stdout; returns 0 */
/* `doppler CMD: <dp_error_message()>` on stderr; returns 1. */
int cli_fail(const char *cmd);
/* Read all of a text file, or stdin for "-" (any size); a NUL byte is an error; drop_newline:
 * one trailing newline is dropped (prompts). 0, or 1 after a message (`doppler CMD: WHAT:
 * PATH: reason`). free() it. */
int cli_read_text(const char *cmd, const char *what, const char *path, int drop_newline, char **out);

/* ---- models and adapters (cli/args.c) ---- */
#define CLI_DEFAULT_MODEL "doppler-tiny-f16"
/* $DOPPLER_MODELS (alias $DOPPLER_MODEL_DIR: the model itself or the folder holding it), else
 * share/doppler/models/ (installed) or models/ beside the executable; NULL if none. */
const char *cli_default_model(void);
/* model if given, else the default model, else NULL after a message. */
const char *cli_model_or_default(const char *cmd, const char *model);
/* 0, or 2 after a usage error when --ctx N (+ extra positions) exceeds the model's positions. */
int cli_check_ctx(const char *cmd, dp_model *m, int ctx, int extra);
const char *cli_adapter(const char *flag);      /* --adapter, else $DOPPLER_ADAPTER, else NULL */
/* --kernel NAME=FILE.wgsl (run, chat, logits, perplexity, bench): the hot-swapped kernels, as
 * dp_load_options.kernels takes them. cli_kernel_opt is the flag's CLI_CALL (dst: a
 * cli_kernels): an unknown NAME is a usage error (2), an unreadable FILE 1. */
#define CLI_MAX_KERNELS 16
typedef struct cli_kernels {
  const char *spec[CLI_MAX_KERNELS]; /* "NAME=MODULE", malloc'd */
  int n;
} cli_kernels;
int cli_kernel_opt(const char *cmd, const char *flag, const char *value, void *dst);
void cli_kernels_free(cli_kernels *k);
/* --q4k-matmul fused|dequant and --compute-precision f16|f32 (run, chat, logits, perplexity,
 * bench): CLI_CALL parsers (dst: a cli_overrides) accepting the seed's aliases (fused_q4k,
 * dequant_f16 = dequant with f16 unless --compute-precision says otherwise); a bad value is a
 * usage error (2). cli_overrides_apply copies them into load options; cli_print_overrides is
 * --verbose's `doppler CMD: q4k-matmul X (from); compute-precision Y (from)` on stderr. */
#define CLI_OVERRIDE_HELP \
  "  --q4k-matmul M       fused (Q4_K decoded in the kernels) or dequant (expanded once at load); default: the manifest's hint, else fused\n" \
  "  --compute-precision P  f32 or f16 (dequant expands Q4_K to P; f16 needs shader-f16); default: the manifest's hint, else f32\n" \
  "  --matvec-input I     q8 (decode products on GPUs read int8-quantized input: faster) or f32 (exact); default q8 where supported\n"
#define CLI_EXPERT_HELP \
  "  --expert-budget N|SIZE  MoE models: at most N experts of each layer on the GPU (N >= top-k), or SIZE (64M, 2G)\n" \
  "                       over all experts; the rest paged in from the model file as routed (same results)\n"
typedef struct cli_overrides { int q4k, prec, prec_implied; int expert_n; uint64_t expert_bytes; int matvec; } cli_overrides;
/* --expert-budget N|SIZE (run, chat, logits, perplexity): a CLI_CALL parser into a cli_overrides
 * (dp_parse_expert_budget; a bad value is a usage error); cli_check_budget, right after a failed
 * dp_model_load, turns a budget below the model's top-k (DP_ERR_INVALID_ARG with a budget set)
 * into a usage error (returns 2; else 0). cli_print_overrides also prints, for MoE models,
 * `doppler CMD: experts: budget ..., hits H, misses M, paged B bytes`. */
int cli_expert_budget_opt(const char *cmd, const char *flag, const char *value, void *dst);
int cli_check_budget(const char *cmd, const cli_overrides *o, dp_status st);
int cli_q4k_opt(const char *cmd, const char *flag, const char *value, void *dst);
int cli_precision_opt(const char *cmd, const char *flag, const char *value, void *dst);
int cli_matvec_opt(const char *cmd, const char *flag, const char *value, void *dst); /* --matvec-input q8|f32 */
void cli_overrides_apply(const cli_overrides *o, dp_load_options *lo);
void cli_print_overrides(const char *cmd, const dp_model *m);
/* ---- loading a model: the flags run, chat, logits, perplexity and bench share (cli/args.c) ---- */
typedef struct cli_load {
  const char *adapter;   /* --adapter */
  cli_kernels kern;      /* --kernel NAME=FILE.wgsl, repeated */
  cli_overrides ov;      /* --q4k-matmul, --compute-precision, --matvec-input, --expert-budget */
} cli_load;
/* The flags --adapter, --kernel, --q4k-matmul, --compute-precision, --matvec-input,
 * --expert-budget into l, as entries at opts (room for CLI_LOAD_OPTS) for a cli_spec; returns how
 * many were written. */
#define CLI_LOAD_OPTS 6
size_t cli_load_opts(cli_load *l, cli_opt *opts);
/* dp_model_load of model with l's flags: 0; 2 after a usage error (an expert budget below the
 * model's top-k); 1 after `doppler CMD: why` (cli_fail). */
int cli_load_model(const char *cmd, const cli_load *l, const char *model, dp_model **m);
void cli_load_free(cli_load *l); /* the --kernel modules */

/* --verbose of run and logits: `doppler CMD: kernel OP NAME (N dispatches)` on stderr for each
 * kernel variant m has run, by its `bench kernels --list` NAME. */
void cli_print_kernels(const char *cmd, const dp_model *m);

/* ---- generation, shared by run and chat (cli/cmd_run.c) ---- */
typedef struct cli_gen {
  dp_generate_options o;
  int n_predict;            /* -n: -1 = until end-of-sequence or a full context */
  const char *stops[16];    /* --stop strings (o.stop points here) */
} cli_gen;
void cli_gen_init(cli_gen *g, int n_predict);
#define CLI_GEN_OPTS 9 /* the generation flags */
/* run and chat: the generation flags and the load flags (cli_load) as one table (opts must hold
 * CLI_GEN_LOAD_OPTS entries); returns how many. */
#define CLI_GEN_LOAD_OPTS (CLI_GEN_OPTS + CLI_LOAD_OPTS)
size_t cli_gen_load_opts(cli_gen *g, cli_load *l, cli_opt *opts);
void cli_gen_finish(cli_gen *g);        /* after parsing: -n -> o.max_tokens */
const char *cli_gen_help(void);
void cli_cancel_on_sigint(dp_session *s);
void cli_on_stop_signals(void (*handler)(int)); /* SIGINT, SIGTERM, SIGHUP -> handler (sigaction) */
/* From a signal handler (async-signal-safe): remove what convert or synth may have written in
 * dir (manifest, shards, config, weights, tokenizer files, their .tmp-PID), then dir itself. */
void cli_remove_output_now(const char *dir);
/* --quant VALUE, case-insensitive (Q4_K_M = q4_k_m): *(const char **)dst = the canonical name; 0,
 * or 2 after a usage error naming the types (cli/cmd_convert.c; convert, synth, bench). */
int cli_parse_quant(const char *cmd, const char *flag, const char *v, void *dst);
/* convert's progress on stderr (cli/cmd_convert.c), also drawn by synth --quant: a line redrawn on
 * a terminal, then one summary line. ctx: a cli_progress_state. */
typedef struct cli_progress_state { int tty, drawn; } cli_progress_state; /* drawn: a progress line is open */
struct dp_convert_progress;
void cli_convert_progress(void *ctx, const struct dp_convert_progress *p);
int cli_print_piece(void *user, int32_t token, const char *text, size_t len);
/* Prefill/decode speed on stderr; a generation stopped by a full context says so first. */
void cli_print_stats(const char *cmd, const dp_generate_stats *st, int ctx);
#endif
