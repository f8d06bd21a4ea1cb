// lib_reduce.wgsl -- workgroup reductions for devices without subgroups: a shared-memory tree.
// Library, not a kernel: ops.c puts it (or lib_reduce_sg.wgsl when the device has subgroups)
// in front of every kernel source, so kernels call wg_sum / wg_max / wg_argmax and do not
// know which path they got. Both files define the same names:
//   override WG            workgroup size, a power of two <= 256 (set per kernel by ops.c)
//   wg_sum(v, lid)         sum of v over the workgroup, returned to every invocation
//   wg_max(v, lid)         maximum of v
//   wg_argmax(v, i, lid)   index i of the largest v (smallest i among equal v)
// Each must be called by every invocation of the workgroup (uniform control flow).
override WG: u32 = 256u;
var<workgroup> red_f: array<f32, WG>;
var<workgroup> red_u: array<u32, WG>;

fn wg_sum(v: f32, lid: u32) -> f32 {
  red_f[lid] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s = s >> 1u) {
    if (lid < s) { red_f[lid] = red_f[lid] + red_f[lid + s]; }
    workgroupBarrier();
  }
  let r = red_f[0];
  workgroupBarrier();
  return r;
}

fn wg_max(v: f32, lid: u32) -> f32 {
  red_f[lid] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s = s >> 1u) {
    if (lid < s) { red_f[lid] = max(red_f[lid], red_f[lid + s]); }
    workgroupBarrier();
  }
  let r = red_f[0];
  workgroupBarrier();
  return r;
}

fn wg_argmax(v: f32, i: u32, lid: u32) -> u32 {
  red_f[lid] = v;
  red_u[lid] = i;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s = s >> 1u) {
    if (lid < s) {
      let v2 = red_f[lid + s];
      let i2 = red_u[lid + s];
      if (v2 > red_f[lid] || (v2 == red_f[lid] && i2 < red_u[lid])) {
        red_f[lid] = v2;
        red_u[lid] = i2;
      }
    }
    workgroupBarrier();
  }
  let r = red_u[0];
  workgroupBarrier();
  return r;
}
