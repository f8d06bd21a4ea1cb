// moe_combine.wgsl -- the weighted sum of the experts' outputs of each token:
//   X[t, i] (+)= sum_j WTS[t, j] * Y[t * k + j, i],  t < T, i < D, j < k
// (flags bit 0: add into X, the residual stream; else overwrite). One invocation per (t, i);
// WG = 256 (8 on CPU adapters); 2-D grid, linear id.
// Bindings: 0 uniform Params; 1 Y [T * k, D] f32; 2 WTS [T, k] f32; 3 X [T, D] f32.
struct Params { T: u32, D: u32, k: u32, flags: u32 }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read_write> Y: array<f32>;
@group(0) @binding(2) var<storage, read_write> WTS: array<f32>;
@group(0) @binding(3) var<storage, read_write> X: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nw.x) * WG + lid;
  if (i >= P.T * P.D) { return; }
  let t = i / P.D;
  let c = i % P.D;
  var acc = 0.0;
  for (var j = 0u; j < P.k; j++) { acc += WTS[t * P.k + j] * Y[(t * P.k + j) * P.D + c]; }
  if ((P.flags & 1u) != 0u) { acc += X[i]; }
  X[i] = acc;
}
