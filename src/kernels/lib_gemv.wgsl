// lib_gemv.wgsl -- the work split of the decode GEMVs, shared by gemv_sg.wgsl, gemv_i8.wgsl and
// gemv_i8_fused.wgsl (placed before the kernel; the weight-type file defines n_units(K),
// unit_x(u, m, s) -> XU (the inputs of unit u of x row m, loaded once for the R rows) and
// unit_w(rb, u, xu) (the unit's dot product with the W row at byte rb)). Holds Params, the
// overrides SG, R, SPR, U, bindings 0 (P), 3 (B), 4 (Y), store and:
//   Row groups: the WG / SG subgroups of a workgroup form row groups of SPR consecutive
//   subgroups (SPR 1, 2, 4, ...: WG / SG a multiple of it); row group i of workgroup g owns
//   rows n0 = (g * WG / (SG * SPR) + i) * rpg .. n0 + R - 1 (rpg = R, or 1 for gemv_sg's GLU
//   epilogue, which passes its own second row). SG overrides the adapter's subgroup size
//   (ops.c checks subgroup_min == subgroup_max; subgroups are assumed to be the consecutive
//   runs of SG local indices, as on every Vulkan implementation seen). Rows past N are
//   clamped for the loads and not stored.
//   gv_dot: invocation j = (subgroup % SPR) * SG + lane of a group takes units j, j + S,
//   j + 2S, ... (S = SG * SPR), U at a time (U = 2 or 4: the U units' loads are issued before
//   any is used: more bytes in flight per invocation), adding the U-unit sums in that order,
//   then the pair and the single unit left.
//   gv_sum: subgroupAdd, then (SPR > 1) the group's SPR subgroup sums added in subgroup order
//   through workgroup memory (two barriers: every invocation calls it, in uniform control flow).
// The order of every sum depends on SG, SPR, U, never on M: a row's result does not depend on
// the batch (docs/kernels.md). Params.flags: 1 add bias, 2 accumulate into Y.
struct Params {
  M: u32, N: u32, K: u32, row_bytes: u32,
  flags: u32, c0: u32, ldy: u32, eps: f32,
}
override SG: u32 = 32u;  // subgroup size
override R: u32 = 1u;    // rows per row group (1..4)
override SPR: u32 = 1u;  // subgroups per row group
override U: u32 = 2u;    // units per invocation and step (2 or 4)
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(3) var<storage, read> B: array<f32>;
@group(0) @binding(4) var<storage, read_write> Y: array<f32>;
var<workgroup> gv_part: array<vec4<f32>, 64>; // the subgroups' row sums (SPR > 1; WG / SG <= 64)

fn store(m: u32, n: u32, v: f32) {
  var r = v;
  if ((P.flags & 1u) != 0u) { r += B[P.c0 + n]; }
  let i = m * P.ldy + P.c0 + n;
  if ((P.flags & 2u) != 0u) { r += Y[i]; }
  Y[i] = r;
}
// workgroup g owns no row (uniform over the workgroup)
fn gv_idle(g: u32, rpg: u32) -> bool { return g * (WG / (SG * SPR)) * rpg >= P.N; }
// the first row of invocation lid's row group
fn gv_row0(g: u32, lid: u32, rpg: u32) -> u32 { return (g * (WG / (SG * SPR)) + lid / (SG * SPR)) * rpg; }
// byte offsets of rows n0 .. n0 + 3, clamped to the last row
fn gv_rb(n0: u32) -> vec4<u32> {
  let l = P.N - 1u;
  return vec4<u32>(min(n0, l), min(n0 + 1u, l), min(n0 + 2u, l), min(n0 + 3u, l)) * P.row_bytes;
}
// this invocation's share of x row m times the W rows at rb.x .. (R of them)
fn gv_dot(rb: vec4<u32>, m: u32, s: f32, lid: u32, lane: u32) -> vec4<f32> {
  let S = SG * SPR;
  let nu = n_units(P.K);
  var a0 = 0.0; var a1 = 0.0; var a2 = 0.0; var a3 = 0.0;
  var u = (lid / SG) % SPR * SG + lane;
  if (U == 4u) {
    for (; u + 3u * S < nu; u += 4u * S) { // four units per invocation and step
      let v = u + S; let w = v + S; let z = w + S;
      let xu = unit_x(u, m, s); let xv = unit_x(v, m, s); let xw = unit_x(w, m, s); let xz = unit_x(z, m, s);
      a0 += (unit_w(rb.x, u, xu) + unit_w(rb.x, v, xv)) + (unit_w(rb.x, w, xw) + unit_w(rb.x, z, xz));
      if (R > 1u) { a1 += (unit_w(rb.y, u, xu) + unit_w(rb.y, v, xv)) + (unit_w(rb.y, w, xw) + unit_w(rb.y, z, xz)); }
      if (R > 2u) { a2 += (unit_w(rb.z, u, xu) + unit_w(rb.z, v, xv)) + (unit_w(rb.z, w, xw) + unit_w(rb.z, z, xz)); }
      if (R > 3u) { a3 += (unit_w(rb.w, u, xu) + unit_w(rb.w, v, xv)) + (unit_w(rb.w, w, xw) + unit_w(rb.w, z, xz)); }
    }
  }
  for (; u + S < nu; u += 2u * S) { // two units per invocation and step
    let v = u + S;
    let xu = unit_x(u, m, s);
    let xv = unit_x(v, m, s);
    a0 += unit_w(rb.x, u, xu) + unit_w(rb.x, v, xv);
    if (R > 1u) { a1 += unit_w(rb.y, u, xu) + unit_w(rb.y, v, xv); }
    if (R > 2u) { a2 += unit_w(rb.z, u, xu) + unit_w(rb.z, v, xv); }
    if (R > 3u) { a3 += unit_w(rb.w, u, xu) + unit_w(rb.w, v, xv); }
  }
  if (u < nu) { // the last unit of this invocation
    let xu = unit_x(u, m, s);
    a0 += unit_w(rb.x, u, xu);
    if (R > 1u) { a1 += unit_w(rb.y, u, xu); }
    if (R > 2u) { a2 += unit_w(rb.z, u, xu); }
    if (R > 3u) { a3 += unit_w(rb.w, u, xu); }
  }
  return vec4<f32>(a0, a1, a2, a3);
}
// the row group's sums (components 0 .. R - 1), valid in its leader (gv_leader); every
// invocation of the workgroup calls it
fn gv_sum(a: vec4<f32>, lid: u32) -> vec4<f32> {
  var t = vec4<f32>(subgroupAdd(a.x), 0.0, 0.0, 0.0);
  if (R > 1u) { t.y = subgroupAdd(a.y); }
  if (R > 2u) { t.z = subgroupAdd(a.z); }
  if (R > 3u) { t.w = subgroupAdd(a.w); }
  if (SPR == 1u) { return t; }
  workgroupBarrier(); // the previous row's sums are read
  if (lid % SG == 0u) { gv_part[lid / SG] = t; }
  workgroupBarrier();
  let f = lid / SG / SPR * SPR;
  var r = gv_part[f];
  for (var i = 1u; i < SPR; i++) { r += gv_part[f + i]; }
  return r;
}
// the invocation that stores its row group's results
fn gv_leader(lid: u32, lane: u32) -> bool { return lane == 0u && (lid / SG) % SPR == 0u; }
// stores the R sums t of rows n0 .. of x row m (the leader; rows past N dropped)
fn gv_store(m: u32, n0: u32, t: vec4<f32>, lid: u32, lane: u32) {
  if (!gv_leader(lid, lane)) { return; }
  if (n0 < P.N) { store(m, n0, t.x); }
  if (R > 1u && n0 + 1u < P.N) { store(m, n0 + 1u, t.y); }
  if (R > 2u && n0 + 2u < P.N) { store(m, n0 + 2u, t.z); }
  if (R > 3u && n0 + 3u < P.N) { store(m, n0 + 3u, t.w); }
}
