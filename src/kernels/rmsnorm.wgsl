// rmsnorm.wgsl -- y[r, :] = x[r, :] / sqrt(mean(x[r, :]^2) + eps) * w'   (w' = w or 1 + w)
// One workgroup (WG = 32..256 by row length) per row r (linear id over a 2-D grid); workgroup reduction from
// lib_reduce(_sg).wgsl. Accumulates in f32.
// Bindings: 0 uniform Params; 1 X [rows, D] f32; 2 Wt [D] f32; 3 Y [rows, D] f32 (main only).
// Entry points: main (x -> y), inplace (x -> x, binding 3 absent).
// Variants: plus_one is a parameter (Gemma's (1 + w)).
struct Params { rows: u32, D: u32, eps: f32, plus_one: u32 }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read_write> X: array<f32>;
@group(0) @binding(2) var<storage, read> Wt: array<f32>;
@group(0) @binding(3) var<storage, read_write> Y: array<f32>;

fn row_scale(base: u32, lid: u32) -> f32 {
  var ss = 0.0;
  for (var i = lid; i < P.D; i += WG) { let v = X[base + i]; ss += v * v; }
  return 1.0 / sqrt(wg_sum(ss, lid) / f32(P.D) + P.eps);
}
fn weight(i: u32) -> f32 { return select(Wt[i], 1.0 + Wt[i], P.plus_one != 0u); }

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let r = wid.x + wid.y * nw.x;
  if (r >= P.rows) { return; }
  let base = r * P.D;
  let s = row_scale(base, lid);
  for (var i = lid; i < P.D; i += WG) { Y[base + i] = X[base + i] * s * weight(i); }
}

@compute @workgroup_size(WG)
fn inplace(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>,
           @builtin(local_invocation_index) lid: u32) {
  let r = wid.x + wid.y * nw.x;
  if (r >= P.rows) { return; }
  let base = r * P.D;
  let s = row_scale(base, lid);
  for (var i = lid; i < P.D; i += WG) { X[base + i] = X[base + i] * s * weight(i); }
}
