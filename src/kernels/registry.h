/* registry.h -- WGSL sources embedded at build time (tools/embed.c): src/kernels/NAME.wgsl
 * is dp_kernel_source("NAME"). File name = op name = pipeline name. */
#ifndef DP_KERNELS_REGISTRY_H
#define DP_KERNELS_REGISTRY_H
const char *dp_kernel_source(const char *name); /* NULL if there is no such kernel */
#endif
