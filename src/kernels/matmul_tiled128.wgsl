// matmul_tiled128.wgsl -- prefill y[M, N] (+)= x[M, K] . W[N, K]^T (+ bias[N]) on GPUs (issue 13),
// f32 compute, W decoded in-kernel. Placed after lib_reduce(_sg).wgsl, lib_wdecode.wgsl and the
// line ops.c adds (`const WT = <dp_dtype>u;` and w_load8 for the type).
// Bindings as matmul.wgsl (0 uniform Params; 1 X; 2 W as u32; 3 B; 4 Y), but X is read as vec4s:
// needs K % 32 == 0 (ops.c), so no K masking at all.
// One workgroup of WG invocations (256 or 128) per BM x 64 tile of Y, BM = WG / 2 (128 or 64):
//   invocation (tx = lid % 16, ty = lid / 16) owns an 8 x 4 register block: rows 4ty..4ty+3 and
//   BM/2 + 4ty..+3, columns 4tx..4tx+3; per k three vec4 reads of workgroup memory (two of X,
//   one of W) and 32 multiply-adds (tiled64: two reads per 16).
// K in steps of 32. X and the decoded W of step s + 1 are loaded from memory into registers
// before step s's products (register prefetch), then stored to workgroup memory after them: the
// global latency overlaps the arithmetic, two barriers a step. Staging, k-major as vec4s:
//   xs4[k][BM / 4]: rows 4i..4i+3 of the X tile at k; X: BM rows x 8 vec4 per step, invocation
//     lid loads vec4 q = idx / BM of row idx % BM (idx = lid + WG * h, h < 4: lanes of a
//     subgroup take consecutive rows, so their workgroup stores hit distinct banks).
//   ws4[k][16]: W rows 4i..4i+3 at k; 64 rows x 4 groups of 8 weights per step, invocation
//     takes group idx % 4 of row idx / 4 (idx = lid, lid + WG ...): the 4 lanes of a row read
//     32 consecutive weights (Q4_K: one sub-block's 16 qs bytes and the block header once per
//     4 lanes).
// Q4_K (WT == 4) decodes its 8 weights with aligned word loads: the header's three scale
// words, sc and m by shifts (no byte loads, no branch per sub-block), nibbles to float by
// exponent bits. Other types use lib_wdecode's w_load8.
// Tiles run row tiles fastest in the grid, so the workgroups running together share a W tile.
struct Params {
  M: u32, N: u32, K: u32,
  row_bytes: u32, // bytes per W row (dp_dtype_row_bytes(type, K))
  ntn: u32,       // unused here (matmul.wgsl's tiled)
  flags: u32,     // 1: + bias, 2: accumulate into Y
  c0: u32,        // output column of W row 0
  ldy: u32,       // floats per Y row
}

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read_write> X: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> W: array<u32>;
@group(0) @binding(3) var<storage, read> B: array<f32>;
@group(0) @binding(4) var<storage, read_write> Y: array<f32>;

override BM: u32 = WG / 2u;
const XV = 4u;            // X vec4s loaded per invocation per step (BM * 8 / WG); W: 256 / WG groups of 8
var<workgroup> xs4: array<vec4<f32>, 1024>; // [32 k][BM / 4]
var<workgroup> ws4: array<vec4<f32>, 512>;  // [32 k][16]

fn store(m: u32, n: u32, v: f32) {
  var r = v;
  if ((P.flags & 1u) != 0u) { r += B[P.c0 + n]; }
  let i = m * P.ldy + P.c0 + n;
  if ((P.flags & 2u) != 0u) { r += Y[i]; }
  Y[i] = r;
}

// nibbles (bits 0-3, 8-11, 16-19, 24-27 of v) -> f32, exactly, by exponent bits
fn nib4f(v: u32) -> vec4<f32> {
  let q = v & 0x0f0f0f0fu;
  let e = vec4<u32>(q & 0xffu, (q >> 8u) & 0xffu, (q >> 16u) & 0xffu, q >> 24u);
  return bitcast<vec4<f32>>(e | vec4<u32>(0x4B000000u)) - vec4<f32>(8388608.0);
}

// Q4_K weights k0..k0+7 (k0 % 8 == 0) of the row at byte rb (row_bytes % 4 == 0: 144-byte blocks)
fn q4k8(rb: u32, k0: u32) -> W8 {
  let o = (rb + 144u * (k0 >> 8u)) >> 2u;   // block, in words
  let e = k0 & 255u;
  let sb = e >> 5u;                          // sub-block 0..7
  let dm = unpack2x16float(W[o]);
  let s0 = W[o + 1u]; let s1 = W[o + 2u]; let s2 = W[o + 3u]; // scales[0..3], [4..7], [8..11]
  let j = sb & 3u;
  let sh = 8u * j;
  let lo_sc = (s0 >> sh) & 63u;
  let lo_mn = (s1 >> sh) & 63u;
  let hi_sc = ((s2 >> sh) & 15u) | ((((s0 >> sh) >> 6u) & 3u) << 4u);
  let hi_mn = (((s2 >> sh) >> 4u) & 15u) | ((((s1 >> sh) >> 6u) & 3u) << 4u);
  let hi = sb >= 4u;
  let sc = select(lo_sc, hi_sc, hi);
  let mn = select(lo_mn, hi_mn, hi);
  let q = o + 4u + 8u * (sb >> 1u) + ((e & 31u) >> 2u);
  let ns = 4u * (sb & 1u);
  let a = dm.x * f32(sc);
  let b = dm.y * f32(mn);
  var r: W8;
  r.a = a * nib4f(W[q] >> ns) - b;
  r.b = a * nib4f(W[q + 1u] >> ns) - b;
  return r;
}

fn wload(rb: u32, k0: u32) -> W8 {
  if (WT == 4u) { return q4k8(rb, k0); }
  return w_load8(rb, k0, P.K);
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let g = wid.x + wid.y * nw.x;
  let nmt = (P.M + BM - 1u) / BM;
  let m0 = (g % nmt) * BM;
  let n0 = (g / nmt) * 64u;
  if (n0 >= P.N) { return; } // uniform over the workgroup
  let tx = lid % 16u;
  let ty = lid / 16u;
  let K4 = P.K / 4u;
  let nsteps = P.K / 32u;
  // loader coordinates (fixed over the steps)
  var xbase: array<u32, 4>;
  var xq: array<u32, 4>;
  var xr: array<u32, 4>;
  for (var h = 0u; h < XV; h++) {
    let idx = lid + WG * h;
    xr[h] = idx % BM;
    xq[h] = idx / BM;
    xbase[h] = min(m0 + xr[h], P.M - 1u) * K4 + xq[h];
  }
  var wrb: array<u32, 2>;
  var wk: array<u32, 2>;
  var wr: array<u32, 2>;
  for (var h = 0u; h < 256u / WG; h++) {
    let idx = lid + WG * h;
    wr[h] = idx / 4u;
    wk[h] = 8u * (idx % 4u);
    wrb[h] = min(n0 + wr[h], P.N - 1u) * P.row_bytes;
  }
  // prefetch step 0
  var xv: array<vec4<f32>, 4>;
  var wv: array<W8, 2>;
  for (var h = 0u; h < XV; h++) { xv[h] = X[xbase[h]]; }
  for (var h = 0u; h < 256u / WG; h++) { wv[h] = wload(wrb[h], wk[h]); }
  var acc: array<vec4<f32>, 8>;
  for (var i = 0u; i < 8u; i++) { acc[i] = vec4<f32>(0.0); }
  let bm4 = BM / 4u;
  for (var s = 0u; s < nsteps; s++) {
    // registers -> workgroup memory
    for (var h = 0u; h < XV; h++) {
      let r = xr[h];
      let kq = 4u * xq[h];
      let v = xv[h];
      xs4[(kq + 0u) * bm4 + r / 4u][r % 4u] = v.x;
      xs4[(kq + 1u) * bm4 + r / 4u][r % 4u] = v.y;
      xs4[(kq + 2u) * bm4 + r / 4u][r % 4u] = v.z;
      xs4[(kq + 3u) * bm4 + r / 4u][r % 4u] = v.w;
    }
    for (var h = 0u; h < 256u / WG; h++) {
      let r = wr[h];
      let kk = wk[h];
      let wi = r / 4u;
      let wc = r % 4u;
      let w = wv[h];
      ws4[(kk + 0u) * 16u + wi][wc] = w.a.x; ws4[(kk + 1u) * 16u + wi][wc] = w.a.y;
      ws4[(kk + 2u) * 16u + wi][wc] = w.a.z; ws4[(kk + 3u) * 16u + wi][wc] = w.a.w;
      ws4[(kk + 4u) * 16u + wi][wc] = w.b.x; ws4[(kk + 5u) * 16u + wi][wc] = w.b.y;
      ws4[(kk + 6u) * 16u + wi][wc] = w.b.z; ws4[(kk + 7u) * 16u + wi][wc] = w.b.w;
    }
    workgroupBarrier();
    // prefetch step s + 1 (its latency overlaps the products below)
    if (s + 1u < nsteps) {
      let k8 = (s + 1u) * 8u;
      for (var h = 0u; h < XV; h++) { xv[h] = X[xbase[h] + k8]; }
      for (var h = 0u; h < 256u / WG; h++) { wv[h] = wload(wrb[h], (s + 1u) * 32u + wk[h]); }
    }
    for (var k = 0u; k < 32u; k++) {
      let a0 = xs4[k * bm4 + ty];
      let a1 = xs4[k * bm4 + bm4 / 2u + ty];
      let b = ws4[k * 16u + tx];
      acc[0] += a0.x * b; acc[1] += a0.y * b; acc[2] += a0.z * b; acc[3] += a0.w * b;
      acc[4] += a1.x * b; acc[5] += a1.y * b; acc[6] += a1.z * b; acc[7] += a1.w * b;
    }
    workgroupBarrier();
  }
  let n = n0 + 4u * tx;
  for (var i = 0u; i < 8u; i++) {
    let m = m0 + 4u * ty + (i % 4u) + (i / 4u) * (BM / 2u);
    if (m < P.M) {
      for (var j = 0u; j < 4u; j++) { if (n + j < P.N) { store(m, n + j, acc[i][j]); } }
    }
  }
}
