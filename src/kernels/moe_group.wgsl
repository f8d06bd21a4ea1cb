// moe_group.wgsl -- the (token, choice) pairs grouped by expert, for the tiled expert matmul
// of prefill (moe_matmul.wgsl `tiled`): from IDS [R] (each < E <= 256),
//   GRP[e] = the first position of expert e's pairs (e <= E; GRP[E] = R), and
//   GRP[E + 1 + GRP[e] + i] = the i-th pair r (ascending) with IDS[r] = e.
// One workgroup of WG = 256 invocations; invocation e counts and then writes expert e's pairs
// (the offsets from a workgroup-memory scan of the counts).
// Bindings: 0 uniform Params; 1 IDS [R] u32; 2 GRP [E + 1 + R] u32.
struct Params { R: u32, E: u32, p0: u32, p1: u32 }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read_write> IDS: array<u32>;
@group(0) @binding(2) var<storage, read_write> GRP: array<u32>;

var<workgroup> cnt: array<u32, 256>;

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) lid: u32) {
  var c = 0u;
  if (lid < P.E) {
    for (var r = 0u; r < P.R; r++) { c += select(0u, 1u, IDS[r] == lid); }
  }
  cnt[lid] = c;
  workgroupBarrier();
  if (lid >= P.E) { return; }
  var off = 0u;
  for (var e = 0u; e < lid; e++) { off += cnt[e]; }
  GRP[lid] = off;
  if (lid == P.E - 1u) { GRP[P.E] = off + c; }
  var w = P.E + 1u + off;
  for (var r = 0u; r < P.R; r++) {
    if (IDS[r] == lid) { GRP[w] = r; w++; }
  }
}
