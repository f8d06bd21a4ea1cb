// lib_trig.wgsl -- cos and sin of an f32 angle, shared by rope.wgsl and rope_kv.wgsl (placed
// before them by ops.c). Not the builtins (SwiftShader's are good to ~1e-4 only): the angle is
// reduced by k quarter turns, k = round(angle * 2/pi), with pi/2 = C1 + C2 + C3 (Cody-Waite;
// k*C1 is exact for k < 83000, k*C2 for k < 4133, beyond that the error stays below 4e-6 rad up
// to angle 1.3e5), then Taylor polynomials on |y| <= pi/4 (error < 1e-9) and the quadrant k mod 4.
// Returns vec2(cos, sin).
fn cos_sin(ang: f32) -> vec2<f32> {
  let k = round(ang * 0.63661977);
  var y = ang - k * 1.5703125;
  y = y - k * 0.0004838705062866211;
  y = y + k * 4.371138828673793e-08;
  let z = y * y;
  let sn = y * (1.0 + z * (-1.0 / 6.0 + z * (1.0 / 120.0 + z * (-1.0 / 5040.0 + z * (1.0 / 362880.0 + z * (-1.0 / 39916800.0))))));
  let cn = 1.0 + z * (-0.5 + z * (1.0 / 24.0 + z * (-1.0 / 720.0 + z * (1.0 / 40320.0 + z * (-1.0 / 3628800.0 + z * (1.0 / 479001600.0))))));
  let q = u32(i32(k) & 3);
  if (q == 0u) { return vec2<f32>(cn, sn); }
  if (q == 1u) { return vec2<f32>(-sn, cn); }
  if (q == 2u) { return vec2<f32>(-cn, -sn); }
  return vec2<f32>(sn, -cn);
}
