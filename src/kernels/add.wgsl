// add.wgsl -- residual add y[i] = a[i] + b[i], i < n.
// One invocation per element; WG = 256; 2-D grid, linear id.
// Bindings: 0 uniform Params; 1 A [n]; 2 B [n]; 3 Y [n] (main only). All f32.
// Entry points: main (y separate), inplace (result written over A).
struct Params { n: u32, p0: u32, p1: u32, p2: u32 }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read_write> A: array<f32>;
@group(0) @binding(2) var<storage, read_write> B: array<f32>;
@group(0) @binding(3) var<storage, read_write> Y: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nw.x) * WG + lid;
  if (i < P.n) { Y[i] = A[i] + B[i]; }
}

@compute @workgroup_size(WG)
fn inplace(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>,
           @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nw.x) * WG + lid;
  if (i < P.n) { A[i] = A[i] + B[i]; }
}
