// moe_route.wgsl -- mixture-of-experts routing, one invocation per token row t < T:
//   ids[t, j] (j < k) = the j-th largest of logits[t, :E] (the lowest index first among equal
//   values; NaN is never larger), w[t, j] = softmax over the k selected logits
//   (exp(l_j - l_0) / sum). This equals Mixtral's softmax over all E then renormalising the
//   top k, and is GPT-OSS's top-k then softmax. The router bias is already in the logits.
// WG from ops.c; 2-D grid, linear id.
// Bindings: 0 uniform Params; 1 L [T, E] f32 logits; 2 IDS [T, k] u32; 3 WTS [T, k] f32.
struct Params { T: u32, E: u32, k: u32, p0: u32 }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read_write> L: array<f32>;
@group(0) @binding(2) var<storage, read_write> IDS: array<u32>;
@group(0) @binding(3) var<storage, read_write> WTS: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let t = (wid.x + wid.y * nw.x) * WG + lid;
  if (t >= P.T) { return; }
  let lb = t * P.E;
  let ob = t * P.k;
  var used = array<u32, 8>(0u, 0u, 0u, 0u, 0u, 0u, 0u, 0u); // bitmap of chosen experts (E <= 256)
  for (var j = 0u; j < P.k; j++) {
    var best = 0xffffffffu;
    var bv = 0.0;
    for (var e = 0u; e < P.E; e++) {
      if ((used[e >> 5u] & (1u << (e & 31u))) != 0u) { continue; }
      let v = L[lb + e];
      if (best == 0xffffffffu || v > bv) { best = e; bv = v; }
    }
    used[best >> 5u] |= 1u << (best & 31u);
    IDS[ob + j] = best;
    WTS[ob + j] = bv;
  }
  let m = WTS[ob];
  var s = 0.0;
  for (var j = 0u; j < P.k; j++) { s += exp(WTS[ob + j] - m); }
  for (var j = 0u; j < P.k; j++) { WTS[ob + j] = exp(WTS[ob + j] - m) / s; }
}
