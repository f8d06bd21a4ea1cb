// lib_w8.wgsl -- 8 consecutive weights of an F32 / F16 / BF16 row from 16-byte units, for the
// kernels that load weights 16 bytes at a time (matmul_v4, matmul_v4_sg8, matmul_tex).
// Override TYPE: 0 F32 (two units: lo then hi), 1 F16, 2 BF16 (one unit: lo; hi unused).
override TYPE: u32 = 1u;
struct V8 { a: vec4<f32>, b: vec4<f32> }
fn bf2(w: u32) -> vec2<f32> { return vec2<f32>(bitcast<f32>(w << 16u), bitcast<f32>(w & 0xffff0000u)); }
fn w8_decode(lo: vec4<u32>, hi: vec4<u32>) -> V8 {
  var v: V8;
  if (TYPE == 0u) {
    v.a = bitcast<vec4<f32>>(lo);
    v.b = bitcast<vec4<f32>>(hi);
  } else if (TYPE == 1u) {
    v.a = vec4<f32>(unpack2x16float(lo.x), unpack2x16float(lo.y));
    v.b = vec4<f32>(unpack2x16float(lo.z), unpack2x16float(lo.w));
  } else {
    v.a = vec4<f32>(bf2(lo.x), bf2(lo.y));
    v.b = vec4<f32>(bf2(lo.z), bf2(lo.w));
  }
  return v;
}
