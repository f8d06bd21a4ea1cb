/* test_ref_kernels.c -- the CPU reference kernels on cases small enough to compute by hand:
 * RoPE frequency rules (default, linear, llama3's three bands, YaRN with and without the
 * truncated correction range, its attn_factor, partial rotary dim), the two RoPE pair styles,
 * attention (one visible key returns its value row; a sink lowers the weight; the window
 * hides old keys), softmax, GLU, rmsnorm and argmax edge cases, quantize_x's rounding (half away
 * from zero, all-zero blocks, error <= d / 2). CPU only (sanitizer build). */
#include <math.h>
#include <string.h>
#include "ref/kernels_ref.h"
#include "testlib.h"

#define NEAR(a, b, tol) (fabs((double)(a) - (double)(b)) <= (tol) * fabs((double)(b)) + 1e-12)

static void check_freqs(const char *what, const dp_rope *r, int head_dim, const double *want, int n, double af) {
  float inv[64], f;
  CHECK(dp_rope_freqs(r, head_dim, inv, &f) == DP_OK, "%s", what);
  for (int i = 0; i < n; i++) CHECK(NEAR(inv[i], want[i], 1e-6), "%s: inv_freq[%d] = %.9g, want %.9g", what, i, inv[i], want[i]);
  CHECK(NEAR(f, af, 1e-6), "%s: attn_factor %g, want %g", what, f, af);
}

int main(void) {
  dp_rope r;
  memset(&r, 0, sizeof r);
  r.theta = 10000;
  /* default, dim 8: 10000^(-2i/8) */
  check_freqs("default", &r, 8, (double[]){1, 0.1, 0.01, 0.001}, 4, 1);
  r.rotary_dim = 4; /* partial: dim 4 of head 8 -> 10000^(-2i/4) */
  check_freqs("partial", &r, 8, (double[]){1, 0.01}, 2, 1);
  r.rotary_dim = 0;
  r.type = DP_ROPE_LINEAR;
  r.factor = 4;
  check_freqs("linear", &r, 8, (double[]){0.25, 0.025, 0.0025, 0.00025}, 4, 1);
  /* llama3, factor 8, original 1000, bands at wavelength 250 (high) and 1000 (low):
   * i=0,1 (wavelen 6.3, 62.8) kept; i=3 (6283) divided by 8; i=2 (628.3) blended with
   * s = (1000/628.3185 - 1)/3 = 0.197183: (1-s)*0.01/8 + s*0.01 = 0.0029753525 */
  r.type = DP_ROPE_LLAMA3;
  r.factor = 8;
  r.original_max_pos = 1000;
  r.low_freq_factor = 1;
  r.high_freq_factor = 4;
  check_freqs("llama3", &r, 8, (double[]){1, 0.1, 0.002975352506846947, 0.000125}, 4, 1);
  /* YaRN, factor 4, original 64, beta 32/1: correction range [0, 1.0080001] (not truncated):
   * ramp = i/1.008; inv = base/4 * ramp + base * (1 - ramp); attn_factor 0.1 ln 4 + 1 */
  r.type = DP_ROPE_YARN;
  r.factor = 4;
  r.original_max_pos = 64;
  r.beta_fast = 32;
  r.beta_slow = 1;
  r.truncate = 0;
  check_freqs("yarn", &r, 8, (double[]){1, 0.02559524589192421, 0.0025, 0.00025}, 4, 1.138629436111989);
  r.truncate = 1; /* range [floor(-0.497) -> 0, ceil(1.008) = 2]: ramp 0.5 at i = 1 */
  check_freqs("yarn truncated", &r, 8, (double[]){1, 0.0625, 0.0025, 0.00025}, 4, 1.138629436111989);
  r.attention_factor = 0.5;
  check_freqs("yarn attention_factor", &r, 8, (double[]){1, 0.0625, 0.0025, 0.00025}, 4, 0.5);
  r.rotary_dim = 3;
  float inv[8], af;
  CHECK(dp_rope_freqs(&r, 8, inv, &af) == DP_ERR_INVALID_ARG, "odd rotary dim accepted");

  /* RoPE styles: position 1, inv_freq {1, 0}: the pair of frequency 0 turns by 1 radian */
  float fr[2] = {1, 0};
  float xh[4] = {1, 2, 0, 3}, xp[4] = {1, 0, 2, 3};
  dp_ref_rope(xh, fr, 1, 1, 4, 4, 1, 0, 1); /* rotate-half pairs (0,2), (1,3) */
  dp_ref_rope(xp, fr, 1, 1, 4, 4, 1, 1, 1); /* pairs (0,1), (2,3) */
  CHECK(NEAR(xh[0], cos(1.0), 1e-6) && NEAR(xh[2], sin(1.0), 1e-6) && xh[1] == 2 && xh[3] == 3, "rotate-half: %g %g %g %g", xh[0], xh[1], xh[2], xh[3]);
  CHECK(NEAR(xp[0], cos(1.0), 1e-6) && NEAR(xp[1], sin(1.0), 1e-6) && xp[2] == 2 && xp[3] == 3, "pairs: %g %g %g %g", xp[0], xp[1], xp[2], xp[3]);

  /* attention: query 0 sees key 0 only -> its value row; with a sink s the weight is
   * e^z / (e^z + e^s); a window of 1 at position 1 sees only key 1 */
  float q[2] = {1, 2}, k[4] = {0.5f, -1, 2, 1}, v[4] = {3, 4, -5, 6}, o[2], sink = 0.7f;
  dp_ref_attention(o, q, k, v, 1, 1, 1, 2, 0, 0, 1, 0, NULL);
  CHECK(NEAR(o[0], 3, 1e-6) && NEAR(o[1], 4, 1e-6), "one key: %g %g", o[0], o[1]);
  dp_ref_attention(o, q, k, v, 1, 1, 1, 2, 0, 0, 1, 0, &sink);
  double z = 0.5 - 2, w = exp(z) / (exp(z) + exp(0.7));
  CHECK(NEAR(o[0], 3 * w, 1e-6) && NEAR(o[1], 4 * w, 1e-6), "sink: %g, want %g", o[0], 3 * w);
  dp_ref_attention(o, q, k, v, 1, 1, 1, 2, 1, 1, 1, 0, NULL);
  CHECK(NEAR(o[0], -5, 1e-6) && NEAR(o[1], 6, 1e-6), "window 1: %g %g", o[0], o[1]);
  dp_ref_attention(o, q, k, v, 1, 1, 1, 2, 1, 0, 0.5f, 1.0f, NULL); /* softcap 1, scale .5 */
  double z0 = tanh(0.5 * (0.5 - 2)), z1 = tanh(0.5 * (2 + 2)), w0 = exp(z0) / (exp(z0) + exp(z1));
  CHECK(NEAR(o[0], 3 * w0 - 5 * (1 - w0), 1e-6), "softcap: %g", o[0]);

  float sm[3] = {1, 2, 3}, e = expf(1) + expf(2) + expf(3);
  dp_ref_softmax(sm, sm, 1, 3);
  CHECK(NEAR(sm[2], expf(3) / e, 1e-6), "softmax %g", sm[2]);
  float g[2] = {1, -2}, u[2] = {2, 3}, y[2];
  dp_ref_glu(y, g, u, 2, 0);
  CHECK(NEAR(y[0], 2 / (1 + exp(-1.0)), 1e-6) && NEAR(y[1], 3 * -2 / (1 + exp(2.0)), 1e-6), "silu %g %g", y[0], y[1]);
  dp_ref_glu(y, g, u, 2, 1);
  CHECK(NEAR(y[0], 2 * 0.5 * (1 + tanh(sqrt(2 / M_PI) * (1 + 0.044715))), 1e-6), "gelu %g", y[0]);
  float xr[2] = {3, 4}, wr[2] = {1, -1}, yr[2];
  dp_ref_rmsnorm(yr, xr, wr, 1, 2, 0, 1); /* rms = sqrt(12.5); (1 + w) = 2, 0 */
  CHECK(NEAR(yr[0], 2 * 3 / sqrt(12.5), 1e-6) && yr[1] == 0, "rmsnorm plus_one %g %g", yr[0], yr[1]);
  float am[5] = {NAN, -INFINITY, 2, 7, 7};
  uint32_t id;
  dp_ref_argmax(&id, am, 1, 5);
  CHECK(id == 3, "argmax %u", id);
  dp_ref_argmax(&id, am, 1, 2);
  CHECK(id == 0, "argmax of NaN, -inf %u", id);
  /* quantize_x: block 0 has amax 127 (d = 1): 2.5 -> 3, -2.5 -> -3 (half away from zero), 0.49 -> 0,
   * -1.5 -> -2; s = d * sum(q); block 1 all zero: d = 0, codes 0, s = 0 */
  float qv[64] = {127, 2.5f, -2.5f, 0.49f, -1.5f, -127};
  int8_t qq[64];
  float qd[4], qx[64];
  dp_ref_quantize_x(qq, qd, qv, 1, 64);
  CHECK(qd[0] == 1 && qq[0] == 127 && qq[1] == 3 && qq[2] == -3 && qq[3] == 0 && qq[4] == -2 && qq[5] == -127 && qq[6] == 0,
        "quantize_x codes %d %d %d %d %d %d, d %g", qq[0], qq[1], qq[2], qq[3], qq[4], qq[5], qd[0]);
  CHECK(qd[1] == 127 + 3 - 3 + 0 - 2 - 127 && qd[2] == 0 && qd[3] == 0 && qq[32] == 0 && qq[63] == 0, "quantize_x s %g, zero block %g %g",
        qd[1], qd[2], qd[3]);
  for (int i = 0; i < 32; i++) qv[i] = (float)sin(i * 0.7) * 3.0f; /* |error| <= d / 2 after dequantization */
  dp_ref_quantize_x(qq, qd, qv, 1, 32);
  dp_ref_dequantize_x(qx, qq, qd, 1, 32);
  int qok = 1;
  for (int i = 0; i < 32; i++) qok &= fabsf(qx[i] - qv[i]) <= qd[0] * 0.5f * 1.0001f;
  CHECK(qok, "quantize_x: an error over d / 2 (d %g)", qd[0]);
  return dp_test_summary("test_ref_kernels");
}
