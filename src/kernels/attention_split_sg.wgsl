// attention_split_sg.wgsl -- appended to attention_split.wgsl in the subgroup build (ops.c):
// the subgroup piece. key_sum4 sums the four keys' partial dots over the LK lanes of a key
// group by a subgroupShuffleXor butterfly (no workgroup memory, no barrier; every lane gets
// the same sums). Needs subgroups of one size SG with LK a power of two <= SG dividing WG;
// invocation lid in subgroup lid / SG at lane lid % SG as gemv_sg.wgsl assumes, the lanes of
// key group kg = (lid / SG) (SG / LK) + lane / LK being lanes (lane & ~(LK - 1)) + 0 .. LK - 1.
override SG: u32 = 32u;

fn key_sum4(z: vec4<f32>, lid: u32, kg: u32, c: u32) -> vec4<f32> {
  var r = z;
  for (var w = 1u; w < LK; w = w << 1u) { r += subgroupShuffleXor(r, w); }
  return r;
}

@compute @workgroup_size(WG)
fn part_sg(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>,
           @builtin(local_invocation_index) lid: u32, @builtin(subgroup_invocation_id) lane: u32) {
  part_main(wid.x + wid.y * nw.x, (lid / SG) * (SG / LK) + lane / LK, lane % LK, lid);
}
