// sample_softcap.wgsl -- final logit soft-capping, in place (runtime-owned; C side:
// src/runtime/sampler.c): x[i] = cap * tanh(x[i] / cap), i < n.
// One invocation per element, 256 per workgroup, 2-D grid (index = wg.x + wg.y * nwg.x).
// Bindings: 0 params, 1 x [n] f32. Variants: none.

struct Params {
  n: u32,
  cap: f32,
};

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read_write> x: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = (wid.x + wid.y * nwg.x) * 256u + lid.x;
  if (i < P.n) { x[i] = P.cap * tanh(x[i] / P.cap); }
}
