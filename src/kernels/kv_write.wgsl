// kv_write.wgsl -- store new keys/values into the KV cache (layout in ops.h):
//   Kc[(pos0 + t) % cap, e] = K[t, e],  Vc[(pos0 + t) % cap, e] = V[t, e],  e < KVH * hd.
// One invocation per element; WG = 64; 2-D grid, linear id.
// Bindings: 0 uniform Params; 1 Kc, 2 Vc [cap, KVH, hd] f32; 3 K, 4 V [T, KVH, hd] f32.
struct Params { T: u32, row: u32, pos0: u32, cap: u32 } // row = KVH * hd
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read_write> Kc: array<f32>;
@group(0) @binding(2) var<storage, read_write> Vc: array<f32>;
@group(0) @binding(3) var<storage, read_write> K: array<f32>;
@group(0) @binding(4) var<storage, read_write> V: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nw.x) * WG + lid;
  if (i >= P.T * P.row) { return; }
  let t = i / P.row;
  let o = ((P.pos0 + t) % P.cap) * P.row + i % P.row;
  Kc[o] = K[i];
  Vc[o] = V[i];
}
