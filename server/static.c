/* static.c -- GET of a file of the --web directory (static.h), for the demo page (web/) served
 * at / as llama-server serves its web UI, with the engine (doppler.wasm) and the catalog's
 * models mounted as the page's own static server mounts them. Paths with a ".." segment or
 * leading outside a folder (symbolic links resolved) are 404; only regular files are served,
 * whole (the page's store reads shards with Range requests and accepts whole files), with a
 * Content-Type from the extension. libmicrohttpd sends the file from its descriptor. */
#include <fcntl.h>
#include <limits.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "server/static.h"

static const char *content_type(const char *path) {
  static const struct { const char *ext, *type; } T[] = {
    {".html", "text/html; charset=utf-8"}, {".js", "text/javascript; charset=utf-8"},
    {".mjs", "text/javascript; charset=utf-8"}, {".css", "text/css; charset=utf-8"},
    {".json", "application/json"}, {".wasm", "application/wasm"}, {".svg", "image/svg+xml"},
    {".png", "image/png"}, {".ico", "image/x-icon"}, {".txt", "text/plain; charset=utf-8"},
    {".map", "application/json"},
  };
  const char *dot = strrchr(path, '.'), *slash = strrchr(path, '/');
  if (dot && (!slash || dot > slash))
    for (size_t i = 0; i < sizeof T / sizeof *T; i++)
      if (!strcmp(dot, T[i].ext)) return T[i].type;
  return "application/octet-stream";
}

static int has_dotdot(const char *url) {
  for (const char *p = url; (p = strstr(p, "..")); p += 2)
    if ((p == url || p[-1] == '/') && (p[2] == 0 || p[2] == '/')) return 1;
  return 0;
}

/* The file of url under root (url starting with '/'), or NULL with *status set. */
static struct MHD_Response *file_under(const char *root_dir, const char *url, int *status) {
  char path[PATH_MAX], root[PATH_MAX], real[PATH_MAX];
  size_t ul = strlen(url);
  if (snprintf(path, sizeof path, "%s%s%s", root_dir, url, url[ul - 1] == '/' ? "index.html" : "") >= (int)sizeof path) return NULL;
  if (!realpath(root_dir, root) || !realpath(path, real)) return NULL;
  size_t rl = strlen(root);
  if (strncmp(real, root, rl) || (real[rl] != '/' && real[rl] != 0)) return NULL; /* a link out of the folder */
  int fd = open(real, O_RDONLY | O_CLOEXEC);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) || !S_ISREG(st.st_mode)) {
    if (fd >= 0) close(fd);
    return NULL;
  }
  struct MHD_Response *resp = MHD_create_response_from_fd((size_t)st.st_size, fd); /* owns fd */
  if (!resp) {
    close(fd);
    *status = 500;
    return NULL;
  }
  MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type(real));
  *status = 200;
  return resp;
}

/* The demo page's layout, as its own static server (scripts/serve_static.mjs) mounts it: the
 * folder at /, the engine at /doppler.wasm (the folder's own, else ../build-wasm/doppler.wasm)
 * and the models of its catalog at /models/ (../models: the source tree, or share/doppler/models
 * beside an installed share/doppler/web). */
struct MHD_Response *srv_static_file(const char *dir, const char *url, int *status) {
  *status = 404;
  if (url[0] != '/' || has_dotdot(url)) return NULL;
  char alt[PATH_MAX];
  struct MHD_Response *r = file_under(dir, url, status);
  if (!r && *status == 404 && !strcmp(url, "/doppler.wasm") && snprintf(alt, sizeof alt, "%s/../build-wasm", dir) < (int)sizeof alt)
    r = file_under(alt, url, status);
  if (!r && *status == 404 && !strncmp(url, "/models/", 8) && snprintf(alt, sizeof alt, "%s/../models", dir) < (int)sizeof alt)
    r = file_under(alt, url + 7, status);
  return r;
}
