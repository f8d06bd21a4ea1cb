/* cmd_devices.c -- `doppler devices [--json] [--adapter NAME]`: the adapter the engine picks
 * (or the one named), its backend, vendor, type, features and key limits. */
#include <stdio.h>
#include <string.h>
#include "commands.h"
#include "core/buf.h"
#include "gpu/gpu.h"

static void usage(FILE *f) {
  fprintf(f, "usage: doppler devices [--json] [--adapter auto|default|lavapipe|swiftshader|ICD.json]\n"
             "The adapter may also be chosen with DOPPLER_ADAPTER.\n");
}

int cmd_devices(int argc, char **argv) {
  int json = 0;
  const char *adapter = NULL;
  const cli_opt opts[] = {
    {"--json", NULL, CLI_BOOL, &json, 0, 0, 0, NULL},
    {"--adapter", NULL, CLI_STR, &adapter, 0, 0, 0, NULL},
  };
  cli_spec sp = {"devices", opts, sizeof opts / sizeof *opts, NULL, 0, NULL, 0, NULL, usage};
  int rc = cli_parse(&sp, argc, argv);
  if (rc >= 0) return rc;
  dp_gpu *g;
  if (dp_gpu_open(adapter, &g)) return cli_fail("devices");
  const dp_gpu_info *in = dp_gpu_get_info(g);
  const char *feat[32];
  size_t nf = dp_gpu_feature_names(g, feat, 32);
  struct { const char *name; unsigned long long v; } lim[] = {
    {"maxStorageBufferBindingSize", in->max_storage_binding},
    {"maxBufferSize", in->max_buffer},
    {"maxUniformBufferBindingSize", in->max_uniform_binding},
    {"maxComputeWorkgroupsPerDimension", in->max_workgroups_per_dim},
    {"maxComputeInvocationsPerWorkgroup", in->max_invocations},
    {"maxComputeWorkgroupSizeX", in->max_wg_size_x},
    {"maxComputeWorkgroupStorageSize", in->max_wg_storage},
    {"maxStorageBuffersPerShaderStage", in->max_storage_buffers},
    {"minStorageBufferOffsetAlignment", in->min_storage_offset_align},
    {"subgroupMinSize", in->subgroup_min},
    {"subgroupMaxSize", in->subgroup_max},
  };
  size_t nl = sizeof lim / sizeof *lim;
  if (json) {
    dp_buf b = {0};
    dp_buf_puts(&b, "{\"backend\": ");
    dp_buf_json_string(&b, in->backend, strlen(in->backend));
    dp_buf_puts(&b, ", \"adapter\": ");
    dp_buf_json_string(&b, in->adapter, strlen(in->adapter));
    dp_buf_puts(&b, ", \"vendor\": ");
    dp_buf_json_string(&b, in->vendor, strlen(in->vendor));
    dp_buf_puts(&b, ", \"architecture\": ");
    dp_buf_json_string(&b, in->architecture, strlen(in->architecture));
    dp_buf_printf(&b, ", \"adapter_type\": \"%s\", \"driver\": \"%s\", \"vendor_id\": %u, \"device_id\": %u, \"features\": [",
                  in->adapter_type, in->driver_choice, in->vendor_id, in->device_id);
    for (size_t i = 0; i < nf; i++) dp_buf_printf(&b, "%s\"%s\"", i ? ", " : "", feat[i]);
    dp_buf_puts(&b, "], \"limits\": {");
    for (size_t i = 0; i < nl; i++) dp_buf_printf(&b, "%s\"%s\": %llu", i ? ", " : "", lim[i].name, lim[i].v);
    dp_buf_puts(&b, "}}\n");
    fputs(b.failed ? "{}\n" : b.data, stdout);
    dp_buf_free(&b);
  } else {
    printf("backend:      %s\nadapter:      %s\nvendor:       %s (0x%04x)\narchitecture: %s\ntype:         %s\nchosen as:    %s\nfeatures:    ",
           in->backend, in->adapter, in->vendor, in->vendor_id, in->architecture, in->adapter_type, in->driver_choice);
    for (size_t i = 0; i < nf; i++) printf(" %s", feat[i]);
    printf("\nlimits:\n");
    for (size_t i = 0; i < nl; i++) printf("  %-36s %llu\n", lim[i].name, lim[i].v);
  }
  dp_gpu_close(g);
  return 0;
}
