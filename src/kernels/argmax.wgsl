// argmax.wgsl -- ids[r] = smallest j with x[r, j] maximal, over values > -FLT_MAX (NaN and
// -inf are never chosen; a row with none gives 0). Greedy sampling over a vocabulary.
// One workgroup (WG = 32..256 by row length) per row, linear id over a 2-D grid: a strided scan per invocation
// (strict > keeps the first index), then wg_argmax from lib_reduce(_sg).wgsl.
// Bindings: 0 uniform Params; 1 X [rows, n] f32; 2 IDS [rows] u32.
struct Params { rows: u32, n: u32, p0: u32, p1: u32 }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read_write> X: array<f32>;
@group(0) @binding(2) var<storage, read_write> IDS: array<u32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let r = wid.x + wid.y * nw.x;
  if (r >= P.rows) { return; }
  let base = r * P.n;
  var bv = -3.402823e38;
  var bi = 0xffffffffu;
  for (var i = lid; i < P.n; i += WG) {
    let v = X[base + i];
    let nan = (bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u;
    if (!nan && v > bv) { bv = v; bi = i; }
  }
  let best = wg_argmax(bv, bi, lid);
  if (lid == 0u) { IDS[r] = select(best, 0u, best == 0xffffffffu); }
}
