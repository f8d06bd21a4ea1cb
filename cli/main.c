/* main.c -- `doppler` command dispatcher. Each sub-command lives in cli/cmd_NAME.c. */
#include <stdio.h>
#include <string.h>
#include "commands.h"

static const struct { const char *name; int (*fn)(int, char **); const char *help; } COMMANDS[] = {
  {"devices", cmd_devices, "show the WebGPU adapter in use: backend, features, limits (--json)"},
  {"convert", cmd_convert, "convert an HF dir, GGUF or RDRR model to RDRR or GGUF (--quant TYPE)"},
  {"inspect", cmd_inspect, "show a model's architecture, parameters, dtypes, shards, tensors (--json)"},
  {"update-manifest", cmd_update_manifest, "persist kernel hints in an RDRR manifest"},
  {"tokenize", cmd_tokenize, "text -> token ids (or --decode ids -> text) with a model's tokenizer"},
  {"run", cmd_run, "generate text from a prompt: run [MODEL] (-p PROMPT | -f FILE | -p -) [-n N] [--temp ...] [--chat]"},
  {"serve", cmd_serve, "OpenAI-compatible HTTP server: serve [MODEL] [--port 8080] [--parallel N] [--api-key KEY]"},
  {"chat", cmd_chat, "interactive chat with the model's chat template: chat [MODEL]"},
  {"logits", cmd_logits, "logits of given ids (+ greedy decode) to safetensors: logits MODEL --ids ... --out F"},
  {"perplexity", cmd_perplexity, "perplexity over a text file: perplexity MODEL --file F [--ctx 256]"},
  {"bench", cmd_bench, "speed like llama-bench (pp/tg tok/s, share of the ceilings): bench MODEL [-p 512] [-n 128]; bench kernels"},
  {"synth", cmd_synth, "write a random-weight HF checkpoint of any shape: synth --arch A --out DIR [--vocab V ...]"},
};

static void usage(FILE *f) {
  fprintf(f, "usage: doppler COMMAND [ARGS]\n\ncommands:\n");
  for (size_t i = 0; i < sizeof COMMANDS / sizeof *COMMANDS; i++)
    fprintf(f, "  %-16s %s\n", COMMANDS[i].name, COMMANDS[i].help);
  fprintf(f, "\nrun `doppler COMMAND --help` for a command's flags; `doppler --version` for the version.\n"
             "exit status: 0 success, 1 runtime failure (missing model or file, GPU error...), 2 usage error.\n");
}

int main(int argc, char **argv) {
  if (argc < 2) { usage(stderr); return 2; }
  if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) { usage(stdout); return 0; }
  if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) return cli_version();
  if (argv[1][0] == '-') {
    fprintf(stderr, "doppler: unknown flag '%s' (see `doppler --help`)\n", argv[1]);
    return 2;
  }
  for (size_t i = 0; i < sizeof COMMANDS / sizeof *COMMANDS; i++)
    if (!strcmp(argv[1], COMMANDS[i].name)) return COMMANDS[i].fn(argc - 1, argv + 1);
  fprintf(stderr, "doppler: unknown command '%s' (see `doppler --help`)\n", argv[1]);
  return 2;
}
