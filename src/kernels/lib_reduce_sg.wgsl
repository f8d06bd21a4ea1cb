enable subgroups;
// lib_reduce_sg.wgsl -- workgroup reductions with subgroups; same names and contract as
// lib_reduce.wgsl (read that header). Each subgroup reduces with subgroupAdd/Max/Min; its
// leader (the lowest local index in the subgroup, so nothing is assumed about how subgroups
// map onto the workgroup) publishes the partial in red_f[lid] and sets its bit in a bitmap;
// every invocation then combines the partials in increasing lid order (deterministic).
override WG: u32 = 256u;
var<workgroup> red_f: array<f32, WG>;
var<workgroup> red_u: array<u32, WG>;
var<workgroup> red_mask: array<atomic<u32>, 8>; // leader bitmap (WG <= 256); zero-initialised

fn red_publish(lid: u32) {
  atomicOr(&red_mask[lid >> 5u], 1u << (lid & 31u));
}

fn red_reset(lid: u32) {
  workgroupBarrier();
  if (lid < 8u) { atomicStore(&red_mask[lid], 0u); }
  workgroupBarrier();
}

fn wg_sum(v: f32, lid: u32) -> f32 {
  let s = subgroupAdd(v);
  if (subgroupMin(lid) == lid) { red_f[lid] = s; red_publish(lid); }
  workgroupBarrier();
  var t = 0.0;
  for (var w = 0u; w < (WG + 31u) / 32u; w++) {
    var bits = atomicLoad(&red_mask[w]);
    while (bits != 0u) {
      t += red_f[w * 32u + countTrailingZeros(bits)];
      bits &= bits - 1u;
    }
  }
  red_reset(lid);
  return t;
}

fn wg_max(v: f32, lid: u32) -> f32 {
  let s = subgroupMax(v);
  if (subgroupMin(lid) == lid) { red_f[lid] = s; red_publish(lid); }
  workgroupBarrier();
  var t = -3.402823e38;
  for (var w = 0u; w < (WG + 31u) / 32u; w++) {
    var bits = atomicLoad(&red_mask[w]);
    while (bits != 0u) {
      t = max(t, red_f[w * 32u + countTrailingZeros(bits)]);
      bits &= bits - 1u;
    }
  }
  red_reset(lid);
  return t;
}

fn wg_argmax(v: f32, i: u32, lid: u32) -> u32 {
  let m = subgroupMax(v);
  let mi = subgroupMin(select(0xffffffffu, i, v == m));
  if (subgroupMin(lid) == lid) { red_f[lid] = m; red_u[lid] = mi; red_publish(lid); }
  workgroupBarrier();
  var bv = -3.402823e38;
  var bi = 0xffffffffu;
  for (var w = 0u; w < (WG + 31u) / 32u; w++) {
    var bits = atomicLoad(&red_mask[w]);
    while (bits != 0u) {
      let k = w * 32u + countTrailingZeros(bits);
      if (red_f[k] > bv || (red_f[k] == bv && red_u[k] < bi)) { bv = red_f[k]; bi = red_u[k]; }
      bits &= bits - 1u;
    }
  }
  red_reset(lid);
  return bi;
}
