// matmul_splitk_sum.wgsl -- the second pass of matmul_tiled128 split over K (issue 13):
// y[m, c0 + n] = (flags & 2 ? y[m, c0 + n] : 0) + sum_j part[j, m, n] + (flags & 1 ? bias[c0 + n] : 0)
// over the S splits' partial products part[S][M][N] (matmul_tiled128.wgsl, P.spn != 0), in the
// order of matmul_tiled128's store (products, + bias, + y). One invocation per output, WG 256,
// 2-D grid, linear id. Bindings: 0 uniform Params; 1 Part [S * M * N]; 2 B (bias); 3 Y.
struct Params {
  M: u32, N: u32, S: u32,
  flags: u32, // 1: + bias, 2: accumulate into Y
  c0: u32,    // output column of row 0 of the weights (bias index c0 + n)
  ldy: u32,   // floats per Y row
  p0: u32, p1: u32,
}
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> Part: array<f32>;
@group(0) @binding(2) var<storage, read> B: array<f32>;
@group(0) @binding(3) var<storage, read_write> Y: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nw.x) * WG + lid;
  let mn = P.M * P.N;
  if (i >= mn) { return; }
  let m = i / P.N;
  let n = i % P.N;
  var r = Part[i];
  for (var j = 1u; j < P.S; j++) { r += Part[j * mn + i]; }
  if ((P.flags & 1u) != 0u) { r += B[P.c0 + n]; }
  let o = m * P.ldy + P.c0 + n;
  if ((P.flags & 2u) != 0u) { r += Y[o]; }
  Y[o] = r;
}
