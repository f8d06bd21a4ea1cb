// matmul_v4.wgsl -- y[M, N] (+)= x[M, K] . W[N, K]^T (+ bias) for small M (decode) on CPU
// adapters, for F32 / F16 / BF16 weights whose rows are whole 16-byte units (K % 8 == 0, so
// every row and every x row starts 16-byte aligned). Same Params, flags and output as
// matmul.wgsl, but X and W are bound as arrays of vec4: on lavapipe a 16-byte load per lane
// costs about as much as a 4-byte one, and measured 1.5-2.3x faster than rows_mv on f16 GEMVs.
// Decoding from lib_w8.wgsl (placed before it; the reduction library ops.c prepends is unused); matmul_v4_sg8.wgsl (rows_mm4_sg, M > 4)
// is appended to it in the subgroup sources.
//   rows_mv4  invocation lid of workgroup nb: 8 columns n = nb * 8 * WG + lid + j * WG (j < 8),
//             the 8-weight group g of each is 1 (F16/BF16) or 2 (F32) vec4<u32> loads, x read
//             as 2 vec4 per group (the same address in every lane); rows of x one after the
//             other. Grid cdiv(N, 8 * WG).
// Override TYPE (lib_w8): 0 F32, 1 F16, 2 BF16 (a pipeline constant: the other decoders are dead code).
// Bindings: 0 uniform Params; 1 X [M, K/4] vec4<f32>; 2 W [N rows of row_bytes/16] vec4<u32>;
//           3 B [N] f32 (bound to W when there is no bias); 4 Y [M, N] f32.
struct Params {
  M: u32, N: u32, K: u32,
  row_bytes: u32, ntn: u32, flags: u32, p1: u32, p2: u32,
}
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read_write> X: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> W: array<vec4<u32>>;
@group(0) @binding(3) var<storage, read> B: array<f32>;
@group(0) @binding(4) var<storage, read_write> Y: array<f32>;

// where row n starts (its vec4 index in .x): the row handle w8v takes (matmul_tex.wgsl has a
// texture one, so matmul_v4_sg8.wgsl serves both)
fn wrow(n: u32) -> vec2<u32> { return vec2<u32>(n * (P.row_bytes / 16u), 0u); }
// weights g*8 .. g*8+7 of the row whose handle is t
fn w8v(t: vec2<u32>, g: u32) -> V8 {
  let r = t.x;
  if (TYPE == 0u) { return w8_decode(W[r + 2u * g], W[r + 2u * g + 1u]); }
  return w8_decode(W[r + g], vec4<u32>());
}
fn dot8v(r: vec2<u32>, g: u32, xa: vec4<f32>, xc: vec4<f32>) -> f32 {
  let w = w8v(r, g);
  return dot(w.a, xa) + dot(w.b, xc);
}
fn put(m: u32, n: u32, v: f32) {
  if (n >= P.N) { return; }
  var r = v;
  if ((P.flags & 1u) != 0u) { r += B[n]; }
  let i = m * P.N + n;
  if ((P.flags & 2u) != 0u) { r += Y[i]; }
  Y[i] = r;
}

@compute @workgroup_size(WG)
fn rows_mv4(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>,
            @builtin(local_invocation_index) lid: u32) {
  let n0 = (wid.x + wid.y * nw.x) * 8u * WG + lid;
  if (n0 - lid >= P.N) { return; }
  let nl = P.N - 1u;
  let r0 = wrow(min(n0, nl)); let r1 = wrow(min(n0 + WG, nl)); let r2 = wrow(min(n0 + 2u * WG, nl)); let r3 = wrow(min(n0 + 3u * WG, nl));
  let r4 = wrow(min(n0 + 4u * WG, nl)); let r5 = wrow(min(n0 + 5u * WG, nl)); let r6 = wrow(min(n0 + 6u * WG, nl)); let r7 = wrow(min(n0 + 7u * WG, nl));
  let ng = P.K / 8u;
  for (var m = 0u; m < P.M; m++) {
    let xb = m * (P.K / 4u);
    var a = vec4<f32>(0.0);
    var b = vec4<f32>(0.0);
    for (var g = 0u; g < ng; g++) {
      let xa = X[xb + 2u * g];
      let xc = X[xb + 2u * g + 1u];
      a += vec4<f32>(dot8v(r0, g, xa, xc), dot8v(r1, g, xa, xc), dot8v(r2, g, xa, xc), dot8v(r3, g, xa, xc));
      b += vec4<f32>(dot8v(r4, g, xa, xc), dot8v(r5, g, xa, xc), dot8v(r6, g, xa, xc), dot8v(r7, g, xa, xc));
    }
    put(m, n0, a.x); put(m, n0 + WG, a.y); put(m, n0 + 2u * WG, a.z); put(m, n0 + 3u * WG, a.w);
    put(m, n0 + 4u * WG, b.x); put(m, n0 + 5u * WG, b.y); put(m, n0 + 6u * WG, b.z); put(m, n0 + 7u * WG, b.w);
  }
}
