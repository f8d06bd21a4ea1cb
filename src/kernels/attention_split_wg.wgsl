// attention_split_wg.wgsl -- appended to attention_split.wgsl (ops.c): the workgroup-memory
// piece. key_sum4 sums the four keys' partial dots over the LK invocations of a key group
// through workgroup memory (two barriers; called in uniform control flow); entry `part` runs
// part_main with key group lid / LK and lane lid % LK.
var<workgroup> ksum: array<vec4<f32>, WG>;

fn key_sum4(z: vec4<f32>, lid: u32, kg: u32, c: u32) -> vec4<f32> {
  ksum[lid] = z;
  workgroupBarrier();
  var r = vec4<f32>(0.0);
  for (var i = 0u; i < LK; i++) { r += ksum[kg * LK + i]; }
  workgroupBarrier();
  return r;
}

@compute @workgroup_size(WG)
fn part(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  part_main(wid.x + wid.y * nw.x, lid / LK, lid % LK, lid);
}
