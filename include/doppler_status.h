/* doppler_status.h -- status codes shared by the public API and the engine internals. */
#ifndef DOPPLER_STATUS_H
#define DOPPLER_STATUS_H
typedef enum dp_status {
  DP_OK = 0,
  DP_ERR_INVALID_ARG = 1, /* bad argument or flag value from the caller */
  DP_ERR_IO = 2,          /* file missing, unreadable, write failed */
  DP_ERR_FORMAT = 3,      /* malformed input file (JSON, safetensors, GGUF, RDRR, tokenizer) */
  DP_ERR_UNSUPPORTED = 4, /* well-formed but not supported (architecture, dtype, feature) */
  DP_ERR_NOMEM = 5,       /* host allocation failed */
  DP_ERR_GPU = 6,         /* adapter/device/shader/validation/device-lost */
  DP_ERR_NOT_FOUND = 7,   /* named thing (tensor, kernel, adapter) absent */
  DP_ERR_CANCELLED = 8,   /* generation cancelled by the caller */
  DP_ERR_CONTEXT_FULL = 9,/* the context length would be exceeded */
  DP_ERR_INTERNAL = 10
} dp_status;
/* The message of the last failure ("" if none). Valid until the next failing call. */
const char *dp_error_message(void);
const char *dp_status_name(dp_status s);
#endif
