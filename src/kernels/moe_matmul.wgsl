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
// Bindings: 0 uniform Params; 1 X f32; 2 W u32 (read); 3 B [E, N] f32 (read; flags bit 0);
// 4 IDS [R] u32; 5 MAP [E] u32 (read); 6 Y [R, N] f32.
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
