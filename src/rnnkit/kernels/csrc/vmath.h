/* Vectorisable exp, sigmoid and tanh for float and double.
 *
 * Written so that a compiler can turn a loop calling them into SIMD code: no branches (selects
 * only), no library calls, no lookup tables. Accuracy, checked against long-double references in
 * tests/test_fused_activations.py: a few units in the last place in both precisions.
 *
 *   exp(x)      x = n ln2 + r, |r| <= ln2/2 (Cody-Waite split of ln2), exp(r) by its Taylor
 *               polynomial (degree 7 for float, 13 for double: truncation below half an ulp),
 *               times 2^n built in the exponent bits. x is clamped to +-87 (float) / +-700
 *               (double), far beyond where sigmoid and tanh saturate; NaN passes through.
 *   sigmoid(x)  1 / (1 + exp(-x))                 (no cancellation anywhere)
 *   tanh(x)     sign(x) (1 - 2 / (exp(2|x|) + 1))      for |x| >= 0.625,
 *               sign(x) (|x| + |x|^3 P(x^2) / Q(x^2))  for |x| <  0.625 (Cephes' minimax forms,
 *                                                      which avoid the cancellation near 0)
 */
#ifndef RNNKIT_VMATH_H
#define RNNKIT_VMATH_H

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

/* exp's rounding step (k = x / ln2 + 1.5 * 2^23, then k - 1.5 * 2^23) needs float and double
 * arithmetic rounded to its type, which x87 code (32-bit x86 without SSE2) does not do. */
#if defined(FLT_EVAL_METHOD) && FLT_EVAL_METHOD != 0 && FLT_EVAL_METHOD != -1
#error "rnnkit's vmath.h needs FLT_EVAL_METHOD == 0: on 32-bit x86 build with -msse2 -mfpmath=sse"
#endif

/* Always inlined: a loop that calls one out of line stays scalar, one call per element. GCC's
 * inliner otherwise decides by how much the whole file has grown, so a change anywhere in
 * module.c could turn a step function's loop scalar (it did: the plain RNN's and the GRU's
 * one-sequence forwards ran 1.7x slower for it, and the LSTM's still did).
 * tests/test_fused_build.py checks that no copy of these is left in the built extension. */
#if defined(__GNUC__) || defined(__clang__)
#define RK_INLINE static inline __attribute__((always_inline))
#elif defined(_MSC_VER)
#define RK_INLINE static __forceinline
#else
#define RK_INLINE static inline
#endif

RK_INLINE float rk_exp_f(float x)
{
    x = x < -87.0f ? -87.0f : x;
    x = x > 87.0f ? 87.0f : x;
    const float shift = 12582912.0f;                 /* 1.5 * 2^23: rounds to an integer */
    float k = x * 1.44269504088896341f + shift;
    float n = k - shift;
    int32_t ki;
    memcpy(&ki, &k, sizeof ki);
    float r = x - n * 0.693359375f;                  /* ln2 = 0.693359375 - 2.12194440e-4 */
    r = r + n * 2.12194440e-4f;
    float p = 1.0f / 5040.0f;
    p = p * r + 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    int32_t bits = (int32_t)(((uint32_t)(ki - 0x4B400000 + 127)) << 23);   /* 2^n */
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

RK_INLINE double rk_exp_d(double x)
{
    x = x < -700.0 ? -700.0 : x;
    x = x > 700.0 ? 700.0 : x;
    const double shift = 6755399441055744.0;         /* 1.5 * 2^52 */
    double k = x * 1.4426950408889634074 + shift;
    double n = k - shift;
    int64_t ki;
    memcpy(&ki, &k, sizeof ki);
    double r = x - n * 6.93145751953125e-1;          /* ln2 = hi + lo, hi exact in 28 bits */
    r = r - n * 1.42860682030941723212e-6;
    double p = 1.0 / 6227020800.0;                   /* 1/13! */
    p = p * r + 1.0 / 479001600.0;
    p = p * r + 1.0 / 39916800.0;
    p = p * r + 1.0 / 3628800.0;
    p = p * r + 1.0 / 362880.0;
    p = p * r + 1.0 / 40320.0;
    p = p * r + 1.0 / 5040.0;
    p = p * r + 1.0 / 720.0;
    p = p * r + 1.0 / 120.0;
    p = p * r + 1.0 / 24.0;
    p = p * r + 1.0 / 6.0;
    p = p * r + 0.5;
    p = p * r + 1.0;
    p = p * r + 1.0;
    int64_t bits = (int64_t)(((uint64_t)(ki - 0x4338000000000000LL + 1023)) << 52);
    double scale;
    memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

RK_INLINE float rk_sigmoid_f(float x) { return 1.0f / (1.0f + rk_exp_f(-x)); }
RK_INLINE double rk_sigmoid_d(double x) { return 1.0 / (1.0 + rk_exp_d(-x)); }

RK_INLINE float rk_tanh_f(float x)
{
    float ax = fabsf(x);
    float big = 1.0f - 2.0f / (rk_exp_f(2.0f * ax) + 1.0f);
    float z = x * x;
    float p = -5.70498872745e-3f;
    p = p * z + 2.06390887954e-2f;
    p = p * z - 5.37397155531e-2f;
    p = p * z + 1.33314422036e-1f;
    p = p * z - 3.33332819422e-1f;
    float small = ax + ax * z * p;
    return copysignf(ax < 0.625f ? small : big, x);   /* odd, and tanh(-0) = -0 */
}

RK_INLINE double rk_tanh_d(double x)
{
    double ax = fabs(x);
    double big = 1.0 - 2.0 / (rk_exp_d(2.0 * ax) + 1.0);
    double z = x * x;
    double p = (-9.64399179425052238628e-1 * z - 9.92877231001918586564e1) * z - 1.61468768441708447952e3;
    double q = ((z + 1.12811678491632931402e2) * z + 2.23548839060100448583e3) * z + 4.84406305325125486048e3;
    double small = ax + ax * z * (p / q);
    return copysign(ax < 0.625 ? small : big, x);   /* odd, and tanh(-0) = -0 */
}

#endif
