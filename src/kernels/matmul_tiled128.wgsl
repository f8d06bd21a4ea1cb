// matmul_tiled128.wgsl -- prefill y[M, N] (+)= x[M, K] . W[N, K]^T (+ bias[N]) on GPUs (issue 13),
// f32 compute, W decoded in-kernel. Placed after lib_reduce(_sg).wgsl, lib_wdecode.wgsl and the
// line ops.c adds (`const WT = <dp_dtype>u;` and w_load8 for the type).
// Bindings as matmul.wgsl (0 uniform Params; 1 X; 2 W as u32; 3 B; 4 Y), but X is read as vec4s:
// needs K % 32 == 0 (ops.c), so no K masking at all.
// One workgroup of WG invocations (256 or 128) per BM x BN tile of Y, BM = WG / 2 (128 or 64),
// BN = 16 TN (override TN = 4: 64; TN = 8: 128):
//   invocation (tx = lid % 16, ty = lid / 16) owns an 8 x TN register block: rows 4ty..4ty+3 and
//   BM/2 + 4ty..+3, columns 4tx..4tx+3 (and 64 + 4tx..+3 with TN = 8); per k three vec4 reads
//   of workgroup memory (two of X, one of W) and 32 multiply-adds, TN = 8 four reads and 64
//   (tiled64: two reads per 16).
// K in steps of BK = 128 / TN (32 or 16). X and the raw W words of step s + 1 are loaded from memory into registers
// before step s's products (register prefetch), then (W decoded) stored to workgroup memory after them: the
// global latency overlaps the arithmetic, two barriers a step. Staging, k-major as vec4s:
//   xs4[k][BM / 4]: rows 4i..4i+3 of the X tile at k; X: BM rows x BK / 4 vec4s per step,
//     invocation lid loads vec4 q = idx / BM of row idx % BM (idx = lid + WG * h, h < BK / 8:
//     lanes of a subgroup take consecutive rows, so their workgroup stores hit distinct banks).
//   ws4[k][BN / 4]: W rows 4i..4i+3 at k; BN rows x BK / 8 groups of 8 weights per step (256
//     groups), invocation takes group idx % (BK / 8) of row idx / (BK / 8) (idx = lid, lid +
//     WG): the lanes of a row read BK consecutive weights (Q4_K: 16 or 8 bytes of one
//     sub-block's qs and the block header).
// The W loads of the next step are issued before the products and decoded after them (wraw /
// wdec below); Q4_K decodes with aligned word loads: the header's three scale words, sc and m
// by shifts (no byte loads, no branch per sub-block), nibbles to float by exponent bits.
// Tiles run row tiles fastest in the grid, so the workgroups running together share a W tile.
// Split over K (P.spn != 0, where the tiles alone make too few workgroups to fill the GPU):
// the grid is the tiles times the splits (g = tile + ntiles * split); split j runs steps
// j * spn .. (j + 1) * spn - 1 and writes its partial sums to rows j * M .. j * M + M - 1 of
// Y, which the ops bind to a scratch buffer (flags 0, c0 0, ldy N); matmul_splitk_sum.wgsl
// then adds the splits (+ bias, + Y) into the real output.
struct Params {
  M: u32, N: u32, K: u32,
  row_bytes: u32, // bytes per W row (dp_dtype_row_bytes(type, K))
  spn: u32,       // split over K: steps of BK per split (0: no split; matmul.wgsl's ntn)
  flags: u32,     // 1: + bias, 2: accumulate into Y
  c0: u32,        // output column of W row 0
  ldy: u32,       // floats per Y row
}

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read_write> X: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> W: array<u32>;
@group(0) @binding(3) var<storage, read> B: array<f32>;
@group(0) @binding(4) var<storage, read_write> Y: array<f32>;

override TN: u32 = 4u;          // columns per invocation: 4 or 8 (set by ops.c)
override BM: u32 = WG / 2u;     // tile rows
override BN: u32 = 16u * TN;    // tile columns: 64 or 128
override BK: u32 = 128u / TN;   // K step: 32 or 16 (a W tile is 2048 weights either way)
override XV: u32 = BK / 8u;     // X vec4s loaded per invocation per step; W: 256 / WG groups of 8
var<workgroup> xs4: array<vec4<f32>, 1024>; // [BK][BM / 4]
var<workgroup> ws4: array<vec4<f32>, 512>;  // [BK][BN / 4]

fn store(m: u32, n: u32, v: f32) {
  var r = v;
  if ((P.flags & 1u) != 0u) { r += B[P.c0 + n]; }
  let i = m * P.ldy + P.c0 + n;
  if ((P.flags & 2u) != 0u) { r += Y[i]; }
  Y[i] = r;
}

// columns n..n+3 of row m (those inside Y)
// (row m + moff of Y: the split's block of rows in the scratch buffer)
fn store4(m: u32, moff: u32, n: u32, v: vec4<f32>) {
  if (m >= P.M) { return; }
  let r = m + moff;
  if (n < P.N) { store(r, n, v.x); }
  if (n + 1u < P.N) { store(r, n + 1u, v.y); }
  if (n + 2u < P.N) { store(r, n + 2u, v.z); }
  if (n + 3u < P.N) { store(r, n + 3u, v.w); }
}

// nibbles (bits 0-3, 8-11, 16-19, 24-27 of v) -> f32, exactly, by exponent bits
fn nib4f(v: u32) -> vec4<f32> {
  let q = v & 0x0f0f0f0fu;
  let e = vec4<u32>(q & 0xffu, (q >> 8u) & 0xffu, (q >> 16u) & 0xffu, q >> 24u);
  return bitcast<vec4<f32>>(e | vec4<u32>(0x4B000000u)) - vec4<f32>(8388608.0);
}

// W staging in two halves: wraw issues the loads of weights k0..k0+7 (k0 % 8 == 0) of the row
// at byte rb before a step's products, wdec turns them into floats after them, so the loads'
// latency overlaps the arithmetic instead of stalling before it. F32, F16, BF16 and Q4_K keep
// raw words (rows are whole words: K % 32 == 0; Q4_K the block's d|dmin and three scale
// words and two qs words); Q8_0, Q6_K and MXFP4 (blocks of 34, 210, 17 bytes) decode through
// w_load8 at load time and pass the floats through.
struct Raw { a: vec4<u32>, b: vec4<u32> }

fn wraw(rb: u32, k0: u32) -> Raw {
  var r: Raw;
  if (WT == 0u) { // F32
    let i = (rb >> 2u) + k0;
    r.a = vec4<u32>(W[i], W[i + 1u], W[i + 2u], W[i + 3u]);
    r.b = vec4<u32>(W[i + 4u], W[i + 5u], W[i + 6u], W[i + 7u]);
  } else if (WT == 1u || WT == 2u) { // F16, BF16: 4 words
    let i = (rb >> 2u) + (k0 >> 1u);
    r.a = vec4<u32>(W[i], W[i + 1u], W[i + 2u], W[i + 3u]);
  } else if (WT == 4u) { // Q4_K: 144-byte blocks, words
    let o = (rb + 144u * (k0 >> 8u)) >> 2u;
    let e = k0 & 255u;
    let q = o + 4u + 8u * (e >> 6u) + ((e & 31u) >> 2u);
    r.a = vec4<u32>(W[o], W[o + 1u], W[o + 2u], W[o + 3u]);
    r.b = vec4<u32>(W[q], W[q + 1u], 0u, 0u);
  } else {
    let w = w_load8(rb, k0, P.K);
    r.a = bitcast<vec4<u32>>(w.a);
    r.b = bitcast<vec4<u32>>(w.b);
  }
  return r;
}

fn wdec(r: Raw, k0: u32) -> W8 {
  var w: W8;
  if (WT == 0u) {
    w.a = bitcast<vec4<f32>>(r.a);
    w.b = bitcast<vec4<f32>>(r.b);
  } else if (WT == 1u) {
    w.a = vec4<f32>(unpack2x16float(r.a.x), unpack2x16float(r.a.y));
    w.b = vec4<f32>(unpack2x16float(r.a.z), unpack2x16float(r.a.w));
  } else if (WT == 2u) {
    let lo = r.a << vec4<u32>(16u);
    let hi = r.a & vec4<u32>(0xffff0000u);
    w.a = bitcast<vec4<f32>>(vec4<u32>(lo.x, hi.x, lo.y, hi.y));
    w.b = bitcast<vec4<f32>>(vec4<u32>(lo.z, hi.z, lo.w, hi.w));
  } else if (WT == 4u) {
    // Q4_K: x = d * sc * q - dmin * m, sc and m (6 bits) of sub-block sb by shifts of the
    // scale words (scales[0..3] | [4..7] | [8..11] = r.a.y, r.a.z, r.a.w), no byte loads
    let sb = (k0 & 255u) >> 5u;
    let dm = unpack2x16float(r.a.x);
    let sh = 8u * (sb & 3u);
    let s0 = r.a.y >> sh; let s1 = r.a.z >> sh; let s2 = r.a.w >> sh;
    let hi = sb >= 4u;
    let sc = select(s0 & 63u, (s2 & 15u) | (((s0 >> 6u) & 3u) << 4u), hi);
    let mn = select(s1 & 63u, ((s2 >> 4u) & 15u) | (((s1 >> 6u) & 3u) << 4u), hi);
    let ns = 4u * (sb & 1u);
    let a = dm.x * f32(sc);
    let b = dm.y * f32(mn);
    w.a = a * nib4f(r.b.x >> ns) - b;
    w.b = a * nib4f(r.b.y >> ns) - b;
  } else {
    w.a = bitcast<vec4<f32>>(r.a);
    w.b = bitcast<vec4<f32>>(r.b);
  }
  return w;
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let g = wid.x + wid.y * nw.x;
  let nmt = (P.M + BM - 1u) / BM;
  let ntiles = nmt * ((P.N + BN - 1u) / BN);
  let sp = g / ntiles; // split index (0 without a split)
  let tile = g % ntiles;
  let m0 = (tile % nmt) * BM;
  let n0 = (tile / nmt) * BN;
  let tx = lid % 16u;
  let ty = lid / 16u;
  let K4 = P.K / 4u;
  let nall = P.K / BK;
  let spn = select(nall, P.spn, P.spn != 0u);
  if (sp * spn >= nall) { return; } // past the grid (uniform over the workgroup)
  let s0 = sp * spn;
  let nsteps = min(nall - s0, spn); // steps s0 .. s0 + nsteps - 1
  let gpr = BK / 8u; // W groups of 8 per row and step
  // loader coordinates (fixed over the steps)
  var xbase: array<u32, 4>;
  var xq: array<u32, 4>;
  var xr: array<u32, 4>;
  for (var h = 0u; h < XV; h++) {
    let idx = lid + WG * h;
    xr[h] = idx % BM;
    xq[h] = idx / BM;
    xbase[h] = min(m0 + xr[h], P.M - 1u) * K4 + xq[h] + s0 * (BK / 4u);
  }
  var wrb: array<u32, 2>;
  var wk: array<u32, 2>;
  var wr: array<u32, 2>;
  for (var h = 0u; h < 256u / WG; h++) {
    let idx = lid + WG * h;
    wr[h] = idx / gpr;
    wk[h] = 8u * (idx % gpr);
    wrb[h] = min(n0 + wr[h], P.N - 1u) * P.row_bytes;
  }
  // prefetch step 0
  var xv: array<vec4<f32>, 4>;
  var wv: array<Raw, 2>;
  for (var h = 0u; h < XV; h++) { xv[h] = X[xbase[h]]; }
  let k00 = s0 * BK;
  for (var h = 0u; h < 256u / WG; h++) { wv[h] = wraw(wrb[h], k00 + wk[h]); }
  // [column block][8 rows], zero-initialised; indexed by constants only (a loop index here
  // or in the stores can make the compiler keep the array in local memory: the 8x8 tiles ran
  // at 2.0 TFLOP/s on the H200 with the stores in nested loops)
  var acc: array<vec4<f32>, 16>;
  let bm4 = BM / 4u;
  let bn4 = BN / 4u;
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
      let kk = wk[h];
      let wi = wr[h] / 4u;
      let wc = wr[h] % 4u;
      let w = wdec(wv[h], k00 + s * BK + kk);
      ws4[(kk + 0u) * bn4 + wi][wc] = w.a.x; ws4[(kk + 1u) * bn4 + wi][wc] = w.a.y;
      ws4[(kk + 2u) * bn4 + wi][wc] = w.a.z; ws4[(kk + 3u) * bn4 + wi][wc] = w.a.w;
      ws4[(kk + 4u) * bn4 + wi][wc] = w.b.x; ws4[(kk + 5u) * bn4 + wi][wc] = w.b.y;
      ws4[(kk + 6u) * bn4 + wi][wc] = w.b.z; ws4[(kk + 7u) * bn4 + wi][wc] = w.b.w;
    }
    workgroupBarrier();
    // loads of step s + 1 (the last step reloads itself: no branch, so the compiler need not
    // wait for them before the products below)
    let sn = min(s + 1u, nsteps - 1u);
    for (var h = 0u; h < XV; h++) { xv[h] = X[xbase[h] + sn * (BK / 4u)]; }
    for (var h = 0u; h < 256u / WG; h++) { wv[h] = wraw(wrb[h], k00 + sn * BK + wk[h]); }
    for (var k = 0u; k < BK; k++) {
      let a0 = xs4[k * bm4 + ty];
      let a1 = xs4[k * bm4 + bm4 / 2u + ty];
      let b = ws4[k * bn4 + tx];
      acc[0] += a0.x * b; acc[1] += a0.y * b; acc[2] += a0.z * b; acc[3] += a0.w * b;
      acc[4] += a1.x * b; acc[5] += a1.y * b; acc[6] += a1.z * b; acc[7] += a1.w * b;
      if (TN == 8u) {
        let c = ws4[k * bn4 + 16u + tx];
        acc[8] += a0.x * c; acc[9] += a0.y * c; acc[10] += a0.z * c; acc[11] += a0.w * c;
        acc[12] += a1.x * c; acc[13] += a1.y * c; acc[14] += a1.z * c; acc[15] += a1.w * c;
      }
    }
    workgroupBarrier();
  }
  let n = n0 + 4u * tx;
  let ma = m0 + 4u * ty;
  let mb = ma + BM / 2u;
  let mo = sp * P.M;
  store4(ma, mo, n, acc[0]); store4(ma + 1u, mo, n, acc[1]); store4(ma + 2u, mo, n, acc[2]); store4(ma + 3u, mo, n, acc[3]);
  store4(mb, mo, n, acc[4]); store4(mb + 1u, mo, n, acc[5]); store4(mb + 2u, mo, n, acc[6]); store4(mb + 3u, mo, n, acc[7]);
  if (TN == 8u) {
    let c = n + 64u;
    store4(ma, mo, c, acc[8]); store4(ma + 1u, mo, c, acc[9]); store4(ma + 2u, mo, c, acc[10]); store4(ma + 3u, mo, c, acc[11]);
    store4(mb, mo, c, acc[12]); store4(mb + 1u, mo, c, acc[13]); store4(mb + 2u, mo, c, acc[14]); store4(mb + 3u, mo, c, acc[15]);
  }
}
