/* commands.h -- one entry point per `doppler` sub-command (cli/cmd_NAME.c). The CLI is thin:
 * parse flags, call the engine, print. Each returns the process exit code. */
#ifndef DP_CLI_COMMANDS_H
#define DP_CLI_COMMANDS_H
int cmd_devices(int argc, char **argv);
int cmd_convert(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
int cmd_update_manifest(int argc, char **argv);
int cmd_tokenize(int argc, char **argv);
#endif
