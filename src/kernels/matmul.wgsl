// matmul.wgsl -- y[M, N] (+)= x[M, K] . W[N, K]^T (+ bias[N]), f32 compute, W decoded in-kernel.
// Placed after lib_reduce(_sg).wgsl and lib_wdecode.wgsl (read their headers).
// Bindings: 0 uniform Params; 1 X [M, K] f32; 2 W [N rows of row_bytes] (GGUF blocks, as u32);
//           3 B [N] f32 (bound to W when there is no bias); 4 Y [M, N] f32.
// Entry points:
//   gemv   small M (decode): one workgroup per output row n (linear id over a 2-D grid), each
//          invocation takes 8-weight groups lid, lid+WG, ... (adjacent invocations read
//          adjacent bytes: coalesced), then a workgroup reduction per x row.
//   tiled  larger M (prefill): one workgroup (WG = 256) per 32x32 tile of Y, K in steps of 32;
//          X and decoded W tiles staged in workgroup memory, 2x2 outputs per invocation.
// Variants: the weight type (w_load8, chosen by ops.c, see lib_wdecode); override WG.
// Parameters: flags bit 0 adds the bias, bit 1 accumulates (y += ...).
struct Params {
  M: u32, N: u32, K: u32,
  row_bytes: u32, // bytes per W row (dp_dtype_row_bytes(type, K))
  ntn: u32,       // tiled: number of 32-wide tiles along N
  flags: u32,     // 1: + bias, 2: accumulate into Y
  p1: u32, p2: u32,
}

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read_write> X: array<f32>;
@group(0) @binding(2) var<storage, read> W: array<u32>;
@group(0) @binding(3) var<storage, read> B: array<f32>;
@group(0) @binding(4) var<storage, read_write> Y: array<f32>;

fn x4(base: u32, k: u32) -> vec4<f32> {
  let K = P.K;
  return vec4<f32>(select(0.0, X[base + k], k < K), select(0.0, X[base + k + 1u], k + 1u < K),
                   select(0.0, X[base + k + 2u], k + 2u < K), select(0.0, X[base + k + 3u], k + 3u < K));
}

fn store(m: u32, n: u32, v: f32) {
  var r = v;
  if ((P.flags & 1u) != 0u) { r += B[n]; }
  let i = m * P.N + n;
  if ((P.flags & 2u) != 0u) { r += Y[i]; }
  Y[i] = r;
}

@compute @workgroup_size(WG)
fn gemv(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let n = wid.x + wid.y * nw.x;
  if (n >= P.N) { return; }
  let rb = n * P.row_bytes;
  let ng = (P.K + 7u) / 8u;
  for (var m = 0u; m < P.M; m++) {
    let xb = m * P.K;
    var acc = 0.0;
    for (var g = lid; g < ng; g += WG) {
      let k0 = g * 8u;
      let w = w_load8(rb, k0, P.K);
      acc += dot(w.a, x4(xb, k0)) + dot(w.b, x4(xb, k0 + 4u));
    }
    let s = wg_sum(acc, lid);
    if (lid == 0u) { store(m, n, s); }
  }
}

const TS = 32u;   // tile edge (rows of X, rows of W, and K step)
const LD = 33u;   // padded row stride in workgroup memory
var<workgroup> xs: array<f32, 1056>; // [TS][LD]
var<workgroup> ws: array<f32, 1056>; // [TS][LD]

@compute @workgroup_size(WG)
fn tiled(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>,
         @builtin(local_invocation_index) lid: u32) {
  let g = wid.x + wid.y * nw.x;
  let m0 = (g / P.ntn) * TS;
  let n0 = (g % P.ntn) * TS;
  if (m0 >= P.M) { return; }
  let tx = lid % 16u;
  let ty = lid / 16u;
  var acc = array<f32, 4>(0.0, 0.0, 0.0, 0.0);
  for (var k0 = 0u; k0 < P.K; k0 += TS) {
    for (var i = 0u; i < 4u; i++) {
      let idx = lid + 256u * i;
      let r = idx / TS;
      let c = idx % TS;
      let m = m0 + r;
      let k = k0 + c;
      xs[r * LD + c] = select(0.0, X[m * P.K + k], m < P.M && k < P.K);
    }
    if (lid < 128u) {
      let r = lid / 4u;
      let c = (lid % 4u) * 8u;
      let n = n0 + r;
      var w: W8;
      if (n < P.N) { w = w_load8(n * P.row_bytes, k0 + c, P.K); }
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
  for (var i = 0u; i < 2u; i++) {
    for (var j = 0u; j < 2u; j++) {
      let m = m0 + ty + 16u * i;
      let n = n0 + tx + 16u * j;
      if (m < P.M && n < P.N) { store(m, n, acc[i * 2u + j]); }
    }
  }
}
