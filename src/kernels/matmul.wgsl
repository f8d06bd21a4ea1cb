// matmul.wgsl -- y[M, N] (+)= x[M, K] . W[N, K]^T (+ bias[N]), f32 compute, W decoded in-kernel.
// Placed after lib_reduce(_sg).wgsl and lib_wdecode.wgsl (read their headers).
// Bindings: 0 uniform Params; 1 X [M, K] f32; 2 W [N rows of row_bytes] (GGUF blocks, as u32);
//           3 B [c0 + N] f32 (a dummy when there is no bias); 4 Y [M, ldy] f32.
// Entry points:
//   gemv   small M (decode): one workgroup per output row n (linear id over a 2-D grid), each
//          invocation takes 8-weight groups lid, lid+WG, ... (adjacent invocations read
//          adjacent bytes: coalesced), then a workgroup reduction per x row.
//   tiled  larger M (prefill, 4 < M < 64): one workgroup (WG = 256) per 32x32 tile of Y, K in
//          steps of 32; X and decoded W tiles staged in workgroup memory, 2x2 outputs each.
//   tiled64  M >= 64: 64x64 tiles, 4x4 register blocks (below).
// Variants: the weight type (w_load8, chosen by ops.c, see lib_wdecode); override WG.
// Parameters: flags bit 0 adds the bias, bit 1 accumulates (y += ...). Output: W row n goes to
// column c0 + n of Y rows of ldy floats, bias B[c0 + n] (c0 = 0, ldy = N for a whole weight; a
// part of a weight split by rows writes its own columns of the same Y).
struct Params {
  M: u32, N: u32, K: u32,
  row_bytes: u32, // bytes per W row (dp_dtype_row_bytes(type, K))
  ntn: u32,       // tiled: number of 32-wide tiles along N
  flags: u32,     // 1: + bias, 2: accumulate into Y
  c0: u32,        // output column of W row 0 (a part of a weight split by rows: ops.h dp_weight)
  ldy: u32,       // floats per Y row (N for a whole weight)
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
  if ((P.flags & 1u) != 0u) { r += B[P.c0 + n]; }
  let i = m * P.ldy + P.c0 + n;
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

// tiled64  M >= 64 (prefill): one workgroup (WG = 256) per 64x64 tile of Y, K in steps of 32;
//          X and decoded W tiles staged k-major in workgroup memory as vec4s (xs: 4 rows of X,
//          ws: 4 rows of W per vec4), each invocation a 4x4 register block (rows 4ty.., W rows
//          4tx..): per k two vec4 loads from workgroup memory and 16 multiply-adds. Row tiles
//          are fastest in the grid, so the workgroups running together share a W tile (read
//          from memory once). Per step an invocation loads 2 x vec4s of X and one w_load8.
var<workgroup> xs4: array<vec4<f32>, 512>; // [32 k][16]: rows 4i..4i+3 of the X tile
var<workgroup> ws4: array<vec4<f32>, 512>; // [32 k][16]: rows 4i..4i+3 of the W tile

@compute @workgroup_size(WG)
fn tiled64(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>,
           @builtin(local_invocation_index) lid: u32) {
  let g = wid.x + wid.y * nw.x;
  let nmt = (P.M + 63u) / 64u;
  let m0 = (g % nmt) * 64u;
  let n0 = (g / nmt) * 64u;
  if (n0 >= P.N) { return; } // uniform over the workgroup
  let tx = lid % 16u;
  let ty = lid / 16u;
  var c0 = vec4<f32>(0.0); var c1 = vec4<f32>(0.0); var c2 = vec4<f32>(0.0); var c3 = vec4<f32>(0.0);
  // loaders: X row m0 + (lid % 64), k quads (lid / 64) and (lid / 64) + 4; W row n0 + (lid % 64), k group lid / 64
  let xr = lid % 64u;
  let xq = lid / 64u;
  let xm = m0 + xr;
  let xb = min(xm, P.M - 1u) * P.K;
  let wn = n0 + xr;
  let wrb = min(wn, P.N - 1u) * P.row_bytes;
  for (var k0 = 0u; k0 < P.K; k0 += 32u) {
    for (var h = 0u; h < 2u; h++) {
      let kq = xq + 4u * h;              // k quad 0..7 of the step
      var v = x4(xb, k0 + 4u * kq);
      if (xm >= P.M) { v = vec4<f32>(0.0); }
      for (var c = 0u; c < 4u; c++) { xs4[(4u * kq + c) * 16u + xr / 4u][xr % 4u] = v[c]; }
    }
    var w: W8;
    if (wn < P.N && k0 + 8u * xq < P.K) { w = w_load8(wrb, k0 + 8u * xq, P.K); }
    let kk = 8u * xq;
    let wi = xr / 4u;
    let wc = xr % 4u;
    ws4[(kk + 0u) * 16u + wi][wc] = w.a.x; ws4[(kk + 1u) * 16u + wi][wc] = w.a.y;
    ws4[(kk + 2u) * 16u + wi][wc] = w.a.z; ws4[(kk + 3u) * 16u + wi][wc] = w.a.w;
    ws4[(kk + 4u) * 16u + wi][wc] = w.b.x; ws4[(kk + 5u) * 16u + wi][wc] = w.b.y;
    ws4[(kk + 6u) * 16u + wi][wc] = w.b.z; ws4[(kk + 7u) * 16u + wi][wc] = w.b.w;
    workgroupBarrier();
    for (var k = 0u; k < 32u; k++) {
      let a = xs4[k * 16u + ty];
      let b = ws4[k * 16u + tx];
      c0 += a.x * b; c1 += a.y * b; c2 += a.z * b; c3 += a.w * b;
    }
    workgroupBarrier();
  }
  let m = m0 + 4u * ty;
  let n = n0 + 4u * tx;
  let acc = array<vec4<f32>, 4>(c0, c1, c2, c3);
  for (var i = 0u; i < 4u; i++) {
    if (m + i < P.M) {
      for (var j = 0u; j < 4u; j++) { if (n + j < P.N) { store(m + i, n + j, acc[i][j]); } }
    }
  }
}

// CPU adapters (lavapipe, SwiftShader: invocations are SIMD lanes of CPU threads; barriers and
// workgroup memory are costly, caches make global reads cheap, and a per-lane (divergent) load
// costs several instructions while arithmetic is vectorised, so every loaded value is reused
// from registers; all tiles are unrolled by hand so they stay in registers):
//   rows_mm  M > 4: invocation lid of workgroup (nb, mb) computes an 8 x 4 tile of Y: rows
//            m0 = mb * 8 .. m0 + 7 (clamped to M - 1 for the loads, not stored past M),
//            columns n = nb * 4 * WG + lid + j * WG (j < 4). Each W group of 8 is decoded once
//            per 8 rows of x; the x reads are the same for the whole workgroup (uniform).
//   rows_mv  M <= 4 (decode): 8 columns n = nb * 8 * WG + lid + j * WG per invocation, each
//            x group read once per 8 columns; rows of x one after the other.
// No workgroup memory, no barrier. Grid: cdiv(N, 4 * WG) * cdiv(M, 8) workgroups (nb fastest),
// or cdiv(N, 8 * WG).
// With subgroups of exactly 8, ops.c runs rows_mm_sg (matmul_sg8.wgsl) instead of rows_mm;
// F32/F16/BF16 with K % 8 == 0 run rows_mv8 / rows_mm4_sg (lib_mm16 + matmul_v4*.wgsl: 16-byte loads).
fn dot8(w: W8, xa: vec4<f32>, xc: vec4<f32>) -> f32 { return dot(w.a, xa) + dot(w.b, xc); }
fn tile_row(acc: vec4<f32>, xb: u32, k0: u32, w0: W8, w1: W8, w2: W8, w3: W8) -> vec4<f32> {
  let xa = x4(xb, k0);
  let xc = x4(xb, k0 + 4u);
  return acc + vec4<f32>(dot8(w0, xa, xc), dot8(w1, xa, xc), dot8(w2, xa, xc), dot8(w3, xa, xc));
}
fn store_row(m: u32, n0: u32, a: vec4<f32>) {
  if (m >= P.M) { return; }
  if (n0 < P.N) { store(m, n0, a.x); }
  if (n0 + WG < P.N) { store(m, n0 + WG, a.y); }
  if (n0 + 2u * WG < P.N) { store(m, n0 + 2u * WG, a.z); }
  if (n0 + 3u * WG < P.N) { store(m, n0 + 3u * WG, a.w); }
}
fn wrow(n: u32) -> u32 { return min(n, P.N - 1u) * P.row_bytes; }

@compute @workgroup_size(WG)
fn rows_mm(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>,
           @builtin(local_invocation_index) lid: u32) {
  let g = wid.x + wid.y * nw.x;
  let nblk = (P.N + 4u * WG - 1u) / (4u * WG);
  let m0 = (g / nblk) * 8u;
  if (m0 >= P.M) { return; }
  let n0 = (g % nblk) * 4u * WG + lid;
  let r0 = wrow(n0); let r1 = wrow(n0 + WG); let r2 = wrow(n0 + 2u * WG); let r3 = wrow(n0 + 3u * WG);
  let K = P.K;
  let ml = P.M - 1u;
  let x0 = m0 * K; let x1 = min(m0 + 1u, ml) * K; let x2 = min(m0 + 2u, ml) * K; let x3 = min(m0 + 3u, ml) * K;
  let x4_ = min(m0 + 4u, ml) * K; let x5 = min(m0 + 5u, ml) * K; let x6 = min(m0 + 6u, ml) * K; let x7 = min(m0 + 7u, ml) * K;
  var a0 = vec4<f32>(0.0); var a1 = vec4<f32>(0.0); var a2 = vec4<f32>(0.0); var a3 = vec4<f32>(0.0);
  var a4 = vec4<f32>(0.0); var a5 = vec4<f32>(0.0); var a6 = vec4<f32>(0.0); var a7 = vec4<f32>(0.0);
  for (var k0 = 0u; k0 < K; k0 += 8u) {
    let w0 = w_load8(r0, k0, K); let w1 = w_load8(r1, k0, K); let w2 = w_load8(r2, k0, K); let w3 = w_load8(r3, k0, K);
    a0 = tile_row(a0, x0, k0, w0, w1, w2, w3);
    a1 = tile_row(a1, x1, k0, w0, w1, w2, w3);
    a2 = tile_row(a2, x2, k0, w0, w1, w2, w3);
    a3 = tile_row(a3, x3, k0, w0, w1, w2, w3);
    a4 = tile_row(a4, x4_, k0, w0, w1, w2, w3);
    a5 = tile_row(a5, x5, k0, w0, w1, w2, w3);
    a6 = tile_row(a6, x6, k0, w0, w1, w2, w3);
    a7 = tile_row(a7, x7, k0, w0, w1, w2, w3);
  }
  store_row(m0, n0, a0); store_row(m0 + 1u, n0, a1); store_row(m0 + 2u, n0, a2); store_row(m0 + 3u, n0, a3);
  store_row(m0 + 4u, n0, a4); store_row(m0 + 5u, n0, a5); store_row(m0 + 6u, n0, a6); store_row(m0 + 7u, n0, a7);
}

@compute @workgroup_size(WG)
fn rows_mv(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>,
           @builtin(local_invocation_index) lid: u32) {
  let n0 = (wid.x + wid.y * nw.x) * 8u * WG + lid;
  if (n0 - lid >= P.N) { return; }
  let n4 = n0 + 4u * WG;
  let r0 = wrow(n0); let r1 = wrow(n0 + WG); let r2 = wrow(n0 + 2u * WG); let r3 = wrow(n0 + 3u * WG);
  let r4 = wrow(n4); let r5 = wrow(n4 + WG); let r6 = wrow(n4 + 2u * WG); let r7 = wrow(n4 + 3u * WG);
  let K = P.K;
  for (var m = 0u; m < P.M; m++) {
    let xb = m * K;
    var a = vec4<f32>(0.0);
    var b = vec4<f32>(0.0);
    for (var k0 = 0u; k0 < K; k0 += 8u) {
      a = tile_row(a, xb, k0, w_load8(r0, k0, K), w_load8(r1, k0, K), w_load8(r2, k0, K), w_load8(r3, k0, K));
      b = tile_row(b, xb, k0, w_load8(r4, k0, K), w_load8(r5, k0, K), w_load8(r6, k0, K), w_load8(r7, k0, K));
    }
    store_row(m, n0, a);
    store_row(m, n4, b);
  }
}
