/* static.h -- files of a directory served at / (`doppler serve --web DIR`: the demo page). */
#ifndef DP_SERVER_STATIC_H
#define DP_SERVER_STATIC_H
struct MHD_Response;
/* The response for GET url from dir (a directory's index.html for a path ending in '/'; also
 * /doppler.wasm from dir/../build-wasm and /models/... from dir/../models when dir has none),
 * with *status 200; NULL with *status 404 (absent, outside, not a regular file) or 500. */
struct MHD_Response *srv_static_file(const char *dir, const char *url, int *status);
#endif
