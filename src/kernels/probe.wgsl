// probe.wgsl -- two short kernels that measure an adapter's ceilings for `doppler bench`
// (src/api/bench.c times them; src/kernels/probe.c records them).
//   read_sum: out[i] = sum over j = i, i + S, i + 2S, ... < n4 of the 4 components of src[j],
//         S = the number of invocations (grid stride, vec4 loads: the memory read bandwidth).
//   fma:  4 vec4 chains per invocation, x_c starts at (4c, 4c+1, 4c+2, 4c+3) and runs
//         x_c = fma(x_c, a, b) `iters` times; out[i] = the sum of the 16 lanes
//         (2 * 16 * iters FLOPs per invocation: the FP32 FMA throughput). a and b are
//         uniforms, so nothing folds; with a = 1, b = 1 every value is an exact integer.
// No barriers, no reductions: each invocation stores its own partial.
// WG = 256; 2-D grid, linear invocation id i = (wg.x + wg.y * nw.x) * WG + lid.
// Bindings: 0 uniform Params; 1 out [invocations] f32; 2 src [n4] vec4<f32> (read only).
override WG: u32 = 256;
struct Params { n4: u32, iters: u32, a: f32, b: f32 }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read> src: array<vec4<f32>>;

@compute @workgroup_size(WG)
fn read_sum(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nw.x) * WG + lid;
  let stride = nw.x * nw.y * WG;
  var acc = vec4<f32>(0.0);
  for (var j = i; j < P.n4; j += stride) { acc += src[j]; }
  out[i] = acc.x + acc.y + acc.z + acc.w;
}

@compute @workgroup_size(WG)
fn fma_chains(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>,
              @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nw.x) * WG + lid;
  let a = vec4<f32>(P.a);
  let b = vec4<f32>(P.b);
  var x0 = vec4<f32>(0.0, 1.0, 2.0, 3.0);
  var x1 = vec4<f32>(4.0, 5.0, 6.0, 7.0);
  var x2 = vec4<f32>(8.0, 9.0, 10.0, 11.0);
  var x3 = vec4<f32>(12.0, 13.0, 14.0, 15.0);
  for (var k = 0u; k < P.iters; k++) {
    x0 = fma(x0, a, b);
    x1 = fma(x1, a, b);
    x2 = fma(x2, a, b);
    x3 = fma(x3, a, b);
  }
  let s = x0 + x1 + x2 + x3;
  out[i] = s.x + s.y + s.z + s.w;
}
