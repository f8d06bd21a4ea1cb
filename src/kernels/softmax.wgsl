// softmax.wgsl -- y[r, :] = exp(x[r, :] - max_r) / sum(exp(x[r, :] - max_r)), over rows.
// One workgroup (WG = 32..256 by row length) per row, linear id over a 2-D grid; three passes over the row
// (max, sum, write) with the reductions of lib_reduce(_sg).wgsl.
// Bindings: 0 uniform Params; 1 X [rows, n] f32; 2 Y [rows, n] f32 (main only).
// Entry points: main (x -> y), inplace (x -> x).
struct Params { rows: u32, n: u32, p0: u32, p1: u32 }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read_write> X: array<f32>;
@group(0) @binding(2) var<storage, read_write> Y: array<f32>;

// returns (max, 1 / sum)
fn row_stats(base: u32, lid: u32) -> vec2<f32> {
  var m = -3.402823e38;
  for (var i = lid; i < P.n; i += WG) { m = max(m, X[base + i]); }
  m = wg_max(m, lid);
  var s = 0.0;
  for (var i = lid; i < P.n; i += WG) { s += exp(X[base + i] - m); }
  return vec2<f32>(m, 1.0 / wg_sum(s, lid));
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let r = wid.x + wid.y * nw.x;
  if (r >= P.rows) { return; }
  let base = r * P.n;
  let st = row_stats(base, lid);
  for (var i = lid; i < P.n; i += WG) { Y[base + i] = exp(X[base + i] - st.x) * st.y; }
}

@compute @workgroup_size(WG)
fn inplace(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>,
           @builtin(local_invocation_index) lid: u32) {
  let r = wid.x + wid.y * nw.x;
  if (r >= P.rows) { return; }
  let base = r * P.n;
  let st = row_stats(base, lid);
  for (var i = lid; i < P.n; i += WG) { X[base + i] = exp(X[base + i] - st.x) * st.y; }
}
