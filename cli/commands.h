/* commands.h -- one entry point per `doppler` sub-command (cli/cmd_NAME.c). The CLI is thin:
 * parse flags, call the engine, print. Each returns the process exit code. */
#ifndef DP_CLI_COMMANDS_H
#define DP_CLI_COMMANDS_H
#include <stddef.h>
#include <stdint.h>
int cmd_devices(int argc, char **argv);
int cmd_convert(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
int cmd_update_manifest(int argc, char **argv);
int cmd_tokenize(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_chat(int argc, char **argv);
int cmd_logits(int argc, char **argv);
int cmd_perplexity(int argc, char **argv);
int cmd_synth(int argc, char **argv);
/* shared by the generation commands (cli/cmd_run.c) */
struct dp_generate_options;
struct dp_generate_stats;
struct dp_session;
const char *cli_default_model(void);            /* models/doppler-tiny-f16 beside the executable or $DOPPLER_MODEL_DIR */
const char *cli_adapter(const char *flag);      /* --adapter, else $DOPPLER_ADAPTER, else NULL */
int cli_sampling_flag(int argc, char **argv, int *i, struct dp_generate_options *o); /* 1 taken, 0 not, -1 bad */
const char *cli_sampling_help(void);
void cli_generate_defaults(struct dp_generate_options *o);
void cli_cancel_on_sigint(struct dp_session *s);
void cli_on_stop_signals(void (*handler)(int)); /* SIGINT and SIGTERM -> handler (sigaction) */
/* From a signal handler (async-signal-safe): remove what convert or synth may have written in
 * dir (manifest, shards, config, weights, tokenizer files, their .tmp-PID), then dir itself. */
void cli_remove_output_now(const char *dir);
int cli_print_piece(void *user, int32_t token, const char *text, size_t len);
void cli_print_stats(const struct dp_generate_stats *st);
#endif
