/* commands.h -- one entry point per `doppler` sub-command (cli/cmd_NAME.c). The CLI is thin:
 * parse flags, call the engine, print. Each returns the process exit code. */
#ifndef DP_CLI_COMMANDS_H
#define DP_CLI_COMMANDS_H
int cmd_devices(int argc, char **argv);
#endif
