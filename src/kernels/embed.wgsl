// embed.wgsl -- embedding row gather y[t, d] = table[ids[t], d] * scale, d < D, any weight
// type (placed after lib_reduce(_sg).wgsl and lib_wdecode.wgsl, whose w_load8 decodes rows).
// One invocation per 8 outputs (t, group); WG = 32; 2-D grid, linear id.
// Bindings: 0 uniform Params; 1 IDS [T] u32; 2 W table rows row0 .. row0 + rows - 1 (one part
// of a table split by rows, ops.h dp_weight; row_bytes each); 3 Y [T, D] f32. A dispatch writes
// only the rows t whose id falls in its part: one dispatch per part covers every id < vocab.
// Variants: the table type (w_load8, chosen by ops.c, see lib_wdecode).
struct Params { T: u32, D: u32, row_bytes: u32, ngr: u32, scale: f32, row0: u32, rows: u32, p2: u32 }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read_write> IDS: array<u32>;
@group(0) @binding(2) var<storage, read> W: array<u32>;
@group(0) @binding(3) var<storage, read_write> Y: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let g = (wid.x + wid.y * nw.x) * WG + lid;
  if (g >= P.T * P.ngr) { return; }
  let t = g / P.ngr;
  let r = IDS[t] - P.row0; // wraps past u32 for ids below the part
  if (r >= P.rows) { return; }
  let k0 = (g % P.ngr) * 8u;
  let w = w_load8(r * P.row_bytes, k0, P.D);
  let o = t * P.D + k0;
  let v = array<f32, 8>(w.a.x, w.a.y, w.a.z, w.a.w, w.b.x, w.b.y, w.b.z, w.b.w);
  for (var i = 0u; i < 8u; i++) {
    if (k0 + i < P.D) { Y[o + i] = v[i] * P.scale; }
  }
}
