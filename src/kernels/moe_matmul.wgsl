// moe_matmul.wgsl -- the experts' matrix products, each (token, choice) pair r < R through the
// expert the router chose for it, reading the ids on the GPU (no read-back):
//   Y[r, n] = X[r / xdiv, :] . W_e[n, :]^T (+ B[e, n]),  e = IDS[r], n < N
// The experts of one matrix kind live in slots of a bank (the runtime's residency layer);
// MAP[e] is expert e's slot. One dispatch covers the slots [s0, s0 + ns) held by one buffer W
// (slot s's rows start at byte (s - s0) * estride, N rows of row_bytes each, GGUF blocks of the
// module's weight type, decoded by lib_wdecode's w_load8); pairs whose slot lies elsewhere
// are left to the dispatch of that buffer (and a slot of 0xffffffff, not resident, to none).
// gate / up: xdiv = k (the token's row of h); down: xdiv = 1 (the pair's own activation row).
// Entry points:
//   gemv  (GPU family) one workgroup per (n, r): invocations stride over 8-weight groups,
//         one workgroup reduction; the slot is read once through workgroupUniformLoad.
//   rows  (CPU family) one invocation per (r, n), the whole dot product in registers, no
//         barriers.
//   tiled (GPU family, prefill) the pairs grouped by expert (GRP, from moe_group.wgsl): a
//         workgroup per (expert e, tile of 32 of e's pairs, tile of 32 outputs), as matmul.wgsl's
//         tiled (K steps of 32 through workgroup memory, 2x2 outputs per invocation, WG 256),
//         so each expert's weights are read once per 32 of its pairs; p0 = row tiles per
//         expert (ceil(R / 32), the most any expert can have), p1 = E. Workgroups past their
//         expert's pairs return at once.
// Bindings: 0 uniform Params; 1 X f32; 2 W u32 (read); 3 B [E, N] f32 (read; flags bit 0);
// 4 IDS [R] u32; 5 MAP [E] u32 (read); 6 Y [R, N] f32; 7 GRP [E + 1 + R] u32 (tiled only).
struct Params { R: u32, N: u32, K: u32, row_bytes: u32, xdiv: u32, s0: u32, ns: u32, flags: u32,
                estride: u32, p0: u32, p1: u32, p2: u32 }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read_write> X: array<f32>;
@group(0) @binding(2) var<storage, read> W: array<u32>;
@group(0) @binding(3) var<storage, read> B: array<f32>;
@group(0) @binding(4) var<storage, read_write> IDS: array<u32>;
@group(0) @binding(5) var<storage, read> MAP: array<u32>;
@group(0) @binding(6) var<storage, read_write> Y: array<f32>;

fn x4(o: u32, k: u32) -> vec4<f32> { // x[o + k .. + 3], zero past K
  return vec4<f32>(select(0.0, X[o + k], k < P.K), select(0.0, X[o + k + 1u], k + 1u < P.K),
                   select(0.0, X[o + k + 2u], k + 2u < P.K), select(0.0, X[o + k + 3u], k + 3u < P.K));
}

fn finish(r: u32, n: u32, e: u32, s: f32) {
  var v = s;
  if ((P.flags & 1u) != 0u) { v += B[e * P.N + n]; }
  Y[r * P.N + n] = v;
}

var<workgroup> slot_sh: u32;
var<workgroup> id_sh: u32;

@compute @workgroup_size(WG)
fn gemv(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let g = wid.x + wid.y * nw.x;
  let n = g % P.N;
  let r = g / P.N;
  if (r >= P.R) { return; }
  if (lid == 0u) {
    let e = IDS[r];
    id_sh = e;
    slot_sh = MAP[e];
  }
  let e = workgroupUniformLoad(&id_sh);
  let sl = workgroupUniformLoad(&slot_sh) - P.s0; // wraps for slots below s0 and for 0xffffffff
  if (sl >= P.ns) { return; }
  let rb = sl * P.estride + n * P.row_bytes;
  let xb = (r / P.xdiv) * P.K;
  let ng = (P.K + 7u) / 8u;
  var acc = 0.0;
  for (var q = lid; q < ng; q += WG) {
    let k0 = q * 8u;
    let w = w_load8(rb, k0, P.K);
    acc += dot(w.a, x4(xb, k0)) + dot(w.b, x4(xb, k0 + 4u));
  }
  let s = wg_sum(acc, lid);
  if (lid == 0u) { finish(r, n, e, s); }
}

@compute @workgroup_size(WG)
fn rows(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nw.x) * WG + lid;
  if (i >= P.R * P.N) { return; }
  let r = i / P.N;
  let n = i % P.N;
  let e = IDS[r];
  let sl = MAP[e] - P.s0;
  if (sl >= P.ns) { return; }
  let rb = sl * P.estride + n * P.row_bytes;
  let xb = (r / P.xdiv) * P.K;
  var acc = 0.0;
  for (var k0 = 0u; k0 < P.K; k0 += 8u) {
    let w = w_load8(rb, k0, P.K);
    acc += dot(w.a, x4(xb, k0)) + dot(w.b, x4(xb, k0 + 4u));
  }
  finish(r, n, e, acc);
}

@group(0) @binding(7) var<storage, read_write> GRP: array<u32>;
const TS = 32u;   // tile edge (pairs, output rows, K step)
const LD = 33u;   // padded row stride in workgroup memory
var<workgroup> xs: array<f32, 1056>; // [TS][LD]
var<workgroup> ws: array<f32, 1056>; // [TS][LD]
var<workgroup> off_sh: u32;
var<workgroup> end_sh: u32;

@compute @workgroup_size(WG)
fn tiled(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>,
         @builtin(local_invocation_index) lid: u32) {
  let g = wid.x + wid.y * nw.x;
  let ntn = (P.N + TS - 1u) / TS;
  let per_e = P.p0 * ntn;
  let e = g / per_e;
  if (e >= P.p1) { return; }
  let mt = (g % per_e) / ntn;
  let n0 = (g % ntn) * TS;
  if (lid == 0u) {
    slot_sh = MAP[e];
    off_sh = GRP[e];
    end_sh = GRP[e + 1u];
  }
  let sl = workgroupUniformLoad(&slot_sh) - P.s0;
  let off = workgroupUniformLoad(&off_sh);
  let cnt = workgroupUniformLoad(&end_sh) - off;
  let m0 = mt * TS;
  if (sl >= P.ns || m0 >= cnt) { return; }
  let list = P.p1 + 1u + off + m0; // GRP index of this tile's first pair
  let mrows = min(TS, cnt - m0);
  let wb = sl * P.estride;
  let tx = lid % 16u;
  let ty = lid / 16u;
  var acc = array<f32, 4>(0.0, 0.0, 0.0, 0.0);
  for (var k0 = 0u; k0 < P.K; k0 += TS) {
    for (var i = 0u; i < 4u; i++) {
      let idx = lid + 256u * i;
      let r = idx / TS;
      let c = idx % TS;
      let k = k0 + c;
      var v = 0.0;
      if (r < mrows && k < P.K) { v = X[(GRP[list + r] / P.xdiv) * P.K + k]; }
      xs[r * LD + c] = v;
    }
    if (lid < 128u) {
      let r = lid / 4u;
      let c = (lid % 4u) * 8u;
      let n = n0 + r;
      var w: W8;
      if (n < P.N) { w = w_load8(wb + n * P.row_bytes, k0 + c, P.K); }
      let o = r * LD + c;
      ws[o] = w.a.x; ws[o + 1u] = w.a.y; ws[o + 2u] = w.a.z; ws[o + 3u] = w.a.w;
      ws[o + 4u] = w.b.x; ws[o + 5u] = w.b.y; ws[o + 6u] = w.b.z; ws[o + 7u] = w.b.w;
    }
    workgroupBarrier();
    for (var kk = 0u; kk < TS; kk++) {
      let a0 = xs[ty * LD + kk];
      let a1 = xs[(ty + 16u) * LD + kk];
      let b0 = ws[tx * LD + kk];
      let b1 = ws[(tx + 16u) * LD + kk];
      acc[0] += a0 * b0; acc[1] += a0 * b1;
      acc[2] += a1 * b0; acc[3] += a1 * b1;
    }
    workgroupBarrier();
  }
  for (var i = 0u; i < 4u; i++) {
    let r = ty + 16u * (i / 2u);
    let n = n0 + tx + 16u * (i % 2u);
    if (r < mrows && n < P.N) { let pr = GRP[list + r]; finish(pr, n, IDS[pr], acc[i]); } // IDS[pr] == e
  }
}
