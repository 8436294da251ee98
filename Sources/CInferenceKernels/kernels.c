// See include/inference_kernels.h. Built with -ffp-contract=off: every
// fused multiply-add below is an explicit fmaf or _mm256_fmadd_ps, where
// ggml's compiled code has one, and nowhere else.
#include "inference_kernels.h"

#include <math.h>
#include <string.h>

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
#define SOV_X86 1
#include <immintrin.h>
#endif

// MARK: fp16

static inline float fp16_to_fp32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t magnitude = h & 0x7fff;
    uint32_t bits;
    if (magnitude >= 0x7c00) {
        bits = sign | 0x7f800000 | ((magnitude & 0x3ff) << 13);
    } else {
        // Exponent and mantissa in place scale the value by 2^-112; the
        // multiplication by 2^112 is exact, subnormals included.
        uint32_t shifted = magnitude << 13;
        float scaled;
        memcpy(&scaled, &shifted, 4);
        scaled *= 0x1p112f;
        memcpy(&bits, &scaled, 4);
        bits |= sign;
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

// Round to nearest, ties to even (F16C's vcvtps2ph with mode 0).
static inline uint16_t fp32_to_fp16(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000);
    uint32_t magnitude = x & 0x7fffffff;
    if (magnitude > 0x7f800000) return sign | 0x7e00;      // NaN
    if (magnitude >= 0x477ff000) return sign | 0x7c00;     // ≥ 65520 rounds to infinity
    if (magnitude < 0x38800000) {                           // below 2^-14: subnormal or zero
        float v;
        memcpy(&v, &magnitude, 4);
        v = (v * 0x1p24f + 0x1p23f) - 0x1p23f;             // in units of 2^-24, rounded to even
        return sign | (uint16_t)v;
    }
    uint32_t rounded = magnitude + 0xfff + ((magnitude >> 13) & 1);
    return sign | (uint16_t)((rounded - 0x38000000) >> 13);
}

// MARK: dispatch

#if SOV_X86
// Checked once; threads may race to store the same answer (atomically).
static int has_avx2(void) {
    static int cached = -1;
    int known = __atomic_load_n(&cached, __ATOMIC_RELAXED);
    if (known < 0) {
        __builtin_cpu_init();
        known = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
        __atomic_store_n(&cached, known, __ATOMIC_RELAXED);
    }
    return known;
}
#define USE_AVX2(choice) ((choice) != SOV_KERNELS_PORTABLE && has_avx2())
// The kernel version for `choice`: names the AVX2 one only where it exists.
#define DISPATCH(choice, avx2, portable) (USE_AVX2(choice) ? avx2 : portable)
#else
#define USE_AVX2(choice) 0
#define DISPATCH(choice, avx2, portable) (portable)
#endif

const char *sov_kernels_name(sov_kernels choice) { return USE_AVX2(choice) ? "avx2" : "portable"; }

// MARK: activation quantisation (ggml-cpu/arch/x86/quants.c)

// One block: amax, d = amax/127, q = rint(x · 127/amax); returns Σq.
static inline int quantize_block(const float *x, int8_t *q, float *d_out) {
    float amax = 0;
    for (int j = 0; j < 32; j++) amax = fmaxf(amax, fabsf(x[j]));
    const float d = amax / 127.f;
    const float id = amax != 0.0f ? 127.f / amax : 0.0f;
    int sum = 0;
    for (int j = 0; j < 32; j++) {
        const int v = (int)rintf(x[j] * id);  // the default rounding: ties to even
        q[j] = (int8_t)v;
        sum += v;
    }
    *d_out = d;
    return sum;
}

void sov_quantize_q8_0(const float *x, sov_block_q8_0 *y, int64_t columns, int64_t rows) {
    const int64_t blocks = rows * (columns / 32);
    for (int64_t b = 0; b < blocks; b++) {
        float d;
        quantize_block(x + b * 32, y[b].qs, &d);
        y[b].d = fp32_to_fp16(d);
    }
}

void sov_quantize_q8_1(const float *x, sov_block_q8_1 *y, int64_t columns, int64_t rows) {
    const int64_t blocks = rows * (columns / 32);
    for (int64_t b = 0; b < blocks; b++) {
        float d;
        const int sum = quantize_block(x + b * 32, y[b].qs, &d);
        y[b].d = fp32_to_fp16(d);
        y[b].s = fp32_to_fp16(d * (float)sum);
    }
}

// MARK: dot products, portable
//
// ggml's AVX2 kernels keep eight float lanes; lane i accumulates, block by
// block, d · (Σ of the four products 4i … 4i+3) with a fused multiply-add,
// and the lanes are summed as hsum_float_8: (l0+l4 + l2+l6) + (l1+l5 + l3+l7).

static inline float hsum8(const float lanes[8]) {
    const float r0 = lanes[4] + lanes[0], r1 = lanes[5] + lanes[1];
    const float r2 = lanes[6] + lanes[2], r3 = lanes[7] + lanes[3];
    return (r0 + r2) + (r1 + r3);
}

typedef struct { uint16_t d; uint8_t qs[16]; } block_q4_0;
typedef struct { uint16_t d; uint16_t m; uint8_t qs[16]; } block_q4_1;

// The 32 weights of a 4-bit block in order: low nibbles, then high nibbles.
static inline void unpack_nibbles(const uint8_t qs[16], int offset, int8_t out[32]) {
    for (int j = 0; j < 16; j++) {
        out[j] = (int8_t)((qs[j] & 0x0f) - offset);
        out[j + 16] = (int8_t)((qs[j] >> 4) - offset);
    }
}

static inline void accumulate_lanes(float lanes[8], float scale, const int8_t *x, const int8_t *y) {
    for (int lane = 0; lane < 8; lane++) {
        int sum = 0;
        for (int k = 4 * lane; k < 4 * lane + 4; k++) sum += x[k] * y[k];
        lanes[lane] = fmaf(scale, (float)sum, lanes[lane]);
    }
}

static float dot_q4_0_portable(const block_q4_0 *x, const sov_block_q8_0 *y, int64_t blocks) {
    float lanes[8] = {0};
    int8_t w[32];
    for (int64_t b = 0; b < blocks; b++) {
        unpack_nibbles(x[b].qs, 8, w);
        accumulate_lanes(lanes, fp16_to_fp32(x[b].d) * fp16_to_fp32(y[b].d), w, y[b].qs);
    }
    return hsum8(lanes);
}

static float dot_q4_1_portable(const block_q4_1 *x, const sov_block_q8_1 *y, int64_t blocks) {
    float lanes[8] = {0};
    float minimums = 0;
    int8_t w[32];
    for (int64_t b = 0; b < blocks; b++) {
        minimums = fmaf(fp16_to_fp32(x[b].m), fp16_to_fp32(y[b].s), minimums);
        unpack_nibbles(x[b].qs, 0, w);
        accumulate_lanes(lanes, fp16_to_fp32(x[b].d) * fp16_to_fp32(y[b].d), w, y[b].qs);
    }
    return hsum8(lanes) + minimums;
}

static float dot_q8_0_portable(const sov_block_q8_0 *x, const sov_block_q8_0 *y, int64_t blocks) {
    float lanes[8] = {0};
    for (int64_t b = 0; b < blocks; b++) {
        accumulate_lanes(lanes, fp16_to_fp32(x[b].d) * fp16_to_fp32(y[b].d), x[b].qs, y[b].qs);
    }
    return hsum8(lanes);
}

// MARK: dot products, AVX2

#if SOV_X86
#define AVX2 __attribute__((target("avx2,fma,f16c")))

AVX2 static inline float hsum8_avx2(__m256 x) {
    __m128 r = _mm_add_ps(_mm256_extractf128_ps(x, 1), _mm256_castps256_ps128(x));
    r = _mm_add_ps(r, _mm_movehl_ps(r, r));
    r = _mm_add_ss(r, _mm_movehdup_ps(r));
    return _mm_cvtss_f32(r);
}

// Eight int32 lanes of four u8·s8 products each, as floats (exact).
AVX2 static inline __m256 sum_us8_quads(__m256i unsigned_x, __m256i signed_y) {
    const __m256i pairs = _mm256_maddubs_epi16(unsigned_x, signed_y);  // ≤ 2·255·128: no saturation here
    return _mm256_cvtepi32_ps(_mm256_madd_epi16(pairs, _mm256_set1_epi16(1)));
}

AVX2 static inline __m256i nibbles(const uint8_t qs[16]) {
    const __m128i bytes = _mm_loadu_si128((const __m128i *)qs);
    const __m256i both = _mm256_insertf128_si256(_mm256_castsi128_si256(bytes), _mm_srli_epi16(bytes, 4), 1);
    return _mm256_and_si256(both, _mm256_set1_epi8(0x0f));
}

AVX2 static inline float f16(uint16_t h) { return _cvtsh_ss(h); }

#endif

// MARK: matrix products
//
// Each (row, token) dot product is computed alone, in the order above, so
// results do not depend on how rows and tokens are grouped. The AVX2 loops
// take four tokens per weight row so each weight block is decoded once.

#define PORTABLE_MATMUL(name, weight_block, activation_block, dot)                                        \
    static void name(const void *weights, size_t row_bytes, int64_t row_begin, int64_t row_end,           \
                     const activation_block *activations, int64_t blocks, int64_t tokens,                 \
                     float *output, int64_t output_stride) {                                              \
        for (int64_t r = row_begin; r < row_end; r++) {                                                   \
            const weight_block *w = (const weight_block *)((const char *)weights + (size_t)r * row_bytes); \
            for (int64_t t = 0; t < tokens; t++) {                                                        \
                output[t * output_stride + r] = dot(w, activations + t * blocks, blocks);                 \
            }                                                                                             \
        }                                                                                                 \
    }

PORTABLE_MATMUL(matmul_q4_0_portable, block_q4_0, sov_block_q8_0, dot_q4_0_portable)
PORTABLE_MATMUL(matmul_q4_1_portable, block_q4_1, sov_block_q8_1, dot_q4_1_portable)
PORTABLE_MATMUL(matmul_q8_0_portable, sov_block_q8_0, sov_block_q8_0, dot_q8_0_portable)

#if SOV_X86
// Four tokens against one weight row (each weight block decoded once), then
// single tokens: the same per-(row, token) arithmetic either way. `prepare`
// decodes weight block `wb` into qx (and ax); `product` gives the eight
// int32 quad sums of qx against an activation block as floats; `minimum`
// adds Q4_1's m·s term.
#define AVX2_MATMUL(name, weight_block, activation_block, prepare, product, minimum)                         \
    AVX2 static void name(const void *weights, size_t row_bytes, int64_t row_begin, int64_t row_end,         \
                          const activation_block *activations, int64_t blocks, int64_t tokens,               \
                          float *output, int64_t output_stride) {                                            \
        for (int64_t r = row_begin; r < row_end; r++) {                                                      \
            const weight_block *w = (const weight_block *)((const char *)weights + (size_t)r * row_bytes);    \
            int64_t t = 0;                                                                                   \
            for (; t + 4 <= tokens; t += 4) {                                                                \
                const activation_block *y0 = activations + t * blocks, *y1 = y0 + blocks;                    \
                const activation_block *y2 = y1 + blocks, *y3 = y2 + blocks;                                 \
                __m256 acc0 = _mm256_setzero_ps(), acc1 = acc0, acc2 = acc0, acc3 = acc0;                    \
                float m0 = 0, m1 = 0, m2 = 0, m3 = 0;                                                        \
                for (int64_t b = 0; b < blocks; b++) {                                                       \
                    prepare(w[b]);                                                                           \
                    const float dx = f16(w[b].d);                                                            \
                    minimum(w[b], y0[b], m0); minimum(w[b], y1[b], m1);                                      \
                    minimum(w[b], y2[b], m2); minimum(w[b], y3[b], m3);                                      \
                    acc0 = _mm256_fmadd_ps(_mm256_set1_ps(dx * f16(y0[b].d)), product(y0[b]), acc0);         \
                    acc1 = _mm256_fmadd_ps(_mm256_set1_ps(dx * f16(y1[b].d)), product(y1[b]), acc1);         \
                    acc2 = _mm256_fmadd_ps(_mm256_set1_ps(dx * f16(y2[b].d)), product(y2[b]), acc2);         \
                    acc3 = _mm256_fmadd_ps(_mm256_set1_ps(dx * f16(y3[b].d)), product(y3[b]), acc3);         \
                }                                                                                            \
                output[t * output_stride + r] = hsum8_avx2(acc0) + m0;                                       \
                output[(t + 1) * output_stride + r] = hsum8_avx2(acc1) + m1;                                 \
                output[(t + 2) * output_stride + r] = hsum8_avx2(acc2) + m2;                                 \
                output[(t + 3) * output_stride + r] = hsum8_avx2(acc3) + m3;                                 \
            }                                                                                                \
            for (; t < tokens; t++) {                                                                        \
                const activation_block *y = activations + t * blocks;                                        \
                __m256 acc = _mm256_setzero_ps();                                                            \
                float m = 0;                                                                                 \
                for (int64_t b = 0; b < blocks; b++) {                                                       \
                    prepare(w[b]);                                                                           \
                    minimum(w[b], y[b], m);                                                                  \
                    acc = _mm256_fmadd_ps(_mm256_set1_ps(f16(w[b].d) * f16(y[b].d)), product(y[b]), acc);    \
                }                                                                                            \
                output[t * output_stride + r] = hsum8_avx2(acc) + m;                                         \
            }                                                                                                \
        }                                                                                                    \
    }

// Q4_0: nibbles − 8, signed; u8·s8 needs |qx| and qy carrying qx's sign.
#define PREPARE_Q4_0(block) const __m256i qx = _mm256_sub_epi8(nibbles((block).qs), _mm256_set1_epi8(8)); \
                            const __m256i ax = _mm256_sign_epi8(qx, qx)
#define PRODUCT_SIGNED(yb) sum_us8_quads(ax, _mm256_sign_epi8(_mm256_loadu_si256((const __m256i *)(yb).qs), qx))
#define PREPARE_Q4_1(block) const __m256i qx = nibbles((block).qs)
#define PRODUCT_Q4_1(yb) sum_us8_quads(qx, _mm256_loadu_si256((const __m256i *)(yb).qs))
#define PREPARE_Q8_0(block) const __m256i qx = _mm256_loadu_si256((const __m256i *)(block).qs); \
                            const __m256i ax = _mm256_sign_epi8(qx, qx)
#define NO_MINIMUM(wb, yb, total) (void)0
#define MINIMUM_Q4_1(wb, yb, total) (total) = fmaf(f16((wb).m), f16((yb).s), (total))

AVX2_MATMUL(matmul_q4_0_avx2, block_q4_0, sov_block_q8_0, PREPARE_Q4_0, PRODUCT_SIGNED, NO_MINIMUM)
AVX2_MATMUL(matmul_q4_1_avx2, block_q4_1, sov_block_q8_1, PREPARE_Q4_1, PRODUCT_Q4_1, MINIMUM_Q4_1)
AVX2_MATMUL(matmul_q8_0_avx2, sov_block_q8_0, sov_block_q8_0, PREPARE_Q8_0, PRODUCT_SIGNED, NO_MINIMUM)
#endif

#define PUBLIC_MATMUL(name, activation_block, avx2, portable)                                             \
    void name(const void *weights, size_t row_bytes, int64_t row_begin, int64_t row_end,                  \
              const activation_block *activations, int64_t columns, int64_t tokens,                       \
              float *output, int64_t output_stride, sov_kernels choice) {                                 \
        DISPATCH(choice, avx2, portable)(weights, row_bytes, row_begin, row_end, activations, columns / 32, \
                                        tokens, output, output_stride);                                   \
    }

PUBLIC_MATMUL(sov_matmul_q4_0, sov_block_q8_0, matmul_q4_0_avx2, matmul_q4_0_portable)
PUBLIC_MATMUL(sov_matmul_q4_1, sov_block_q8_1, matmul_q4_1_avx2, matmul_q4_1_portable)
PUBLIC_MATMUL(sov_matmul_q8_0, sov_block_q8_0, matmul_q8_0_avx2, matmul_q8_0_portable)

// MARK: SwiGLU (ggml-cpu/vec.h, the AVX-512 ggml_v_expf)

// e^x as ggml_v_expf (AVX-512): n = round(x/ln2), b = x − n·ln2 in two
// parts, j = 1 + polynomial(b), result j·2^n (vscalefps: one rounding,
// done here in double, where j·2^n is exact); |n| > 192 saturates.
static inline __attribute__((always_inline)) float expf_ggml(float x) {
    const float r = 0x1.8p23f;
    const float z = fmaf(x, 0x1.715476p+0f, r);
    const float n = z - r;
    const float b = fmaf(-n, 0x1.7f7d1cp-20f, fmaf(-n, 0x1.62e4p-1f, x));
    const float u = b * b;
    const float j = fmaf(fmaf(fmaf(0x1.0e4020p-7f, b, 0x1.573e2ep-5f), u, fmaf(0x1.555e66p-3f, b, 0x1.fffdb6p-2f)),
                         u, fmaf(0x1.ffffecp-1f, b, 1.0f));
    if (fabsf(n) > 192) return n <= 0 ? 0.0f : INFINITY;
    const uint64_t scale_bits = (uint64_t)((int64_t)n + 1023) << 52;
    double scale;
    memcpy(&scale, &scale_bits, 8);
    return (float)((double)j * scale);
}

static inline __attribute__((always_inline)) void swiglu_body(float *gate, const float *up, int64_t count) {
    const int64_t grouped = count - count % 16;  // ggml's 16-lane groups; lanes are independent
    int64_t i = 0;
    for (; i < grouped; i++) {
        const float x = gate[i];
        gate[i] = (x / (1.0f + expf_ggml(0.0f - x))) * up[i];
    }
    for (; i < count; i++) {  // ggml's scalar tail: ggml_silu_f32
        const float x = gate[i];
        gate[i] = (x / (1.0f + expf(-x))) * up[i];
    }
}

static void swiglu_portable(float *gate, const float *up, int64_t count) { swiglu_body(gate, up, count); }

#if SOV_X86
AVX2 static void swiglu_avx2(float *gate, const float *up, int64_t count) { swiglu_body(gate, up, count); }
#endif

void sov_swiglu(float *gate, const float *up, int64_t count, sov_kernels choice) {
    DISPATCH(choice, swiglu_avx2, swiglu_portable)(gate, up, count);
}

// MARK: rotary embedding (ggml-cpu/ops.cpp rotate_pairs, as GCC contracts it)

static inline __attribute__((always_inline)) void rope_body(float *x, const float *angles, int64_t heads,
                                                            int64_t head_size, int64_t dims) {
    for (int64_t h = 0; h < heads; h++) {
        float *v = x + h * head_size;
        for (int64_t i = 0; i < dims; i += 2) {
            const float c = angles[i], s = angles[i + 1];
            const float x0 = v[i], x1 = v[i + 1];
            v[i] = fmaf(x0, c, -(x1 * s));
            v[i + 1] = fmaf(x0, s, x1 * c);
        }
    }
}

static void rope_portable(float *x, const float *angles, int64_t heads, int64_t head_size, int64_t dims) {
    rope_body(x, angles, heads, head_size, dims);
}

#if SOV_X86
AVX2 static void rope_avx2(float *x, const float *angles, int64_t heads, int64_t head_size, int64_t dims) {
    rope_body(x, angles, heads, head_size, dims);  // the same source, with fmaf as one instruction
}
#endif

void sov_rope(float *x, const float *angles, int64_t heads, int64_t head_size, int64_t dims, sov_kernels choice) {
    DISPATCH(choice, rope_avx2, rope_portable)(x, angles, heads, head_size, dims);
}

// MARK: fp16 storage

void sov_store_f16(const float *x, uint16_t *y, int64_t count) {
    for (int64_t i = 0; i < count; i++) y[i] = fp32_to_fp16(x[i]);
}

// MARK: attention over an fp16 cache (ggml-cpu/ops.cpp,
// ggml_compute_forward_flash_attn_ext_f16_one_chunk with F16 K and V)

static inline float round_f16(float x) { return fp16_to_fp32(fp32_to_fp16(x)); }

// Σ q·k over fp16 values (exact products) in ggml_vec_dot_f16's AVX-512
// order: four 16-lane sums over 64-wide steps, folded (0+2)+(1+3), halved
// 16→8→4, then (0+2)+(1+3); the tail in double.
static float dot_f16_portable(const float *q, const uint16_t *k, int64_t n) {
    float sums[4][16] = {{0}};
    const int64_t stepped = n - n % 64;
    int64_t i = 0;
    for (; i < stepped; i += 64) {
        for (int j = 0; j < 4; j++) {
            for (int l = 0; l < 16; l++) {
                sums[j][l] = fmaf(q[i + 16 * j + l], fp16_to_fp32(k[i + 16 * j + l]), sums[j][l]);
            }
        }
    }
    float a[16], b[8], c[4];
    for (int l = 0; l < 16; l++) a[l] = (sums[0][l] + sums[2][l]) + (sums[1][l] + sums[3][l]);
    for (int l = 0; l < 8; l++) b[l] = a[8 + l] + a[l];
    for (int l = 0; l < 4; l++) c[l] = b[4 + l] + b[l];
    double total = (c[0] + c[2]) + (c[1] + c[3]);
    for (; i < n; i++) total += (double)(q[i] * fp16_to_fp32(k[i]));
    return (float)total;
}

// The online softmax of ggml's kernel, shared by both versions; the vector
// steps come in as functions (constant, so they inline).
typedef void (*round_query_fn)(const float *query, float *q16, float *output, int64_t size);
typedef float (*dot_fn)(const float *q16, const uint16_t *key, int64_t size);
typedef void (*rescale_fn)(float *output, float rescale, int64_t size);
typedef void (*accumulate_fn)(float *output, const uint16_t *value, float weight, int64_t size);

static inline __attribute__((always_inline)) void online_attention(
    const float *query, const uint16_t *keys, const uint16_t *values, int64_t stride, int64_t positions,
    int64_t size, float scale, float *q16, float *output,
    round_query_fn round_query, dot_fn dot, rescale_fn rescale_output, accumulate_fn accumulate) {
    round_query(query, q16, output, size);  // and zero the fp16 accumulator (ggml's VKQ16)
    float highest = -INFINITY, sum = 0;
    for (int64_t p = 0; p < positions; p++) {
        const float score = dot(q16, keys + p * stride, size) * scale;
        float rescale = 1, weight = 1;
        if (score > highest) {
            // A new maximum: earlier terms shrink by e^(old − new); this one weighs e^0.
            rescale = expf(highest - score);
            highest = score;
            rescale_output(output, rescale, size);
        } else {
            weight = expf(score - highest);
        }
        accumulate(output, values + p * stride, weight, size);
        sum = fmaf(sum, rescale, weight);
    }
    const float inverse = sum == 0.0f ? 0.0f : 1.0f / sum;
    for (int64_t i = 0; i < size; i++) output[i] *= inverse;
}

static void round_query_portable(const float *query, float *q16, float *output, int64_t size) {
    for (int64_t i = 0; i < size; i++) {
        q16[i] = round_f16(query[i]);
        output[i] = 0;
    }
}

static void rescale_portable(float *output, float rescale, int64_t size) {
    for (int64_t i = 0; i < size; i++) output[i] = round_f16(output[i] * rescale);
}

static void accumulate_portable(float *output, const uint16_t *value, float weight, int64_t size) {
    for (int64_t i = 0; i < size; i++) output[i] = round_f16(fmaf(fp16_to_fp32(value[i]), weight, output[i]));
}

static void attention_portable(const float *query, const uint16_t *keys, const uint16_t *values, int64_t stride,
                               int64_t positions, int64_t size, float scale, float *q16, float *output) {
    online_attention(query, keys, values, stride, positions, size, scale, q16, output,
                     round_query_portable, dot_f16_portable, rescale_portable, accumulate_portable);
}

#if SOV_X86
AVX2 static inline __m256 load_f16x8(const uint16_t *p) { return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p)); }
AVX2 static inline __m256 round_f16x8(__m256 x) { return _mm256_cvtph_ps(_mm256_cvtps_ph(x, 0)); }
AVX2 static inline float round_f16_avx2(float x) { return _cvtsh_ss(_cvtss_sh(x, 0)); }

AVX2 static float dot_f16_avx2(const float *q, const uint16_t *k, int64_t n) {
    // sums[j][0] holds lanes 0–7 of ggml's 16-lane sum j, sums[j][1] lanes 8–15.
    __m256 sums[4][2];
    for (int j = 0; j < 4; j++) sums[j][0] = sums[j][1] = _mm256_setzero_ps();
    const int64_t stepped = n - n % 64;
    int64_t i = 0;
    for (; i < stepped; i += 64) {
        for (int j = 0; j < 4; j++) {
            for (int h = 0; h < 2; h++) {
                const int64_t at = i + 16 * j + 8 * h;
                sums[j][h] = _mm256_fmadd_ps(_mm256_loadu_ps(q + at), load_f16x8(k + at), sums[j][h]);
            }
        }
    }
    __m256 a[2];
    for (int h = 0; h < 2; h++) {
        a[h] = _mm256_add_ps(_mm256_add_ps(sums[0][h], sums[2][h]), _mm256_add_ps(sums[1][h], sums[3][h]));
    }
    const __m256 b = _mm256_add_ps(a[1], a[0]);
    const __m128 c = _mm_add_ps(_mm256_extractf128_ps(b, 1), _mm256_castps256_ps128(b));
    const __m128 d = _mm_add_ps(c, _mm_shuffle_ps(c, c, _MM_SHUFFLE(1, 0, 3, 2)));
    double total = _mm_cvtss_f32(_mm_add_ss(d, _mm_shuffle_ps(d, d, 1)));
    for (; i < n; i++) total += (double)(q[i] * _cvtsh_ss(k[i]));
    return (float)total;
}

AVX2 static void round_query_avx2(const float *query, float *q16, float *output, int64_t size) {
    const int64_t vectored = size - size % 8;
    for (int64_t i = 0; i < vectored; i += 8) {
        _mm256_storeu_ps(q16 + i, round_f16x8(_mm256_loadu_ps(query + i)));
        _mm256_storeu_ps(output + i, _mm256_setzero_ps());
    }
    for (int64_t i = vectored; i < size; i++) {
        q16[i] = round_f16_avx2(query[i]);
        output[i] = 0;
    }
}

AVX2 static void rescale_avx2(float *output, float rescale, int64_t size) {
    const int64_t vectored = size - size % 8;
    const __m256 r = _mm256_set1_ps(rescale);
    for (int64_t i = 0; i < vectored; i += 8) {
        _mm256_storeu_ps(output + i, round_f16x8(_mm256_mul_ps(_mm256_loadu_ps(output + i), r)));
    }
    for (int64_t i = vectored; i < size; i++) output[i] = round_f16_avx2(output[i] * rescale);
}

AVX2 static void accumulate_avx2(float *output, const uint16_t *value, float weight, int64_t size) {
    const int64_t vectored = size - size % 8;
    const __m256 w = _mm256_set1_ps(weight);
    for (int64_t i = 0; i < vectored; i += 8) {
        const __m256 updated = _mm256_fmadd_ps(load_f16x8(value + i), w, _mm256_loadu_ps(output + i));
        _mm256_storeu_ps(output + i, round_f16x8(updated));
    }
    for (int64_t i = vectored; i < size; i++) {
        output[i] = round_f16_avx2(fmaf(_cvtsh_ss(value[i]), weight, output[i]));
    }
}

AVX2 static void attention_avx2(const float *query, const uint16_t *keys, const uint16_t *values, int64_t stride,
                                int64_t positions, int64_t size, float scale, float *q16, float *output) {
    online_attention(query, keys, values, stride, positions, size, scale, q16, output,
                     round_query_avx2, dot_f16_avx2, rescale_avx2, accumulate_avx2);
}
#endif

void sov_attention_f16(const float *query, const uint16_t *keys, const uint16_t *values, int64_t stride,
                       int64_t positions, int64_t head_size, float scale, float *scratch, float *output,
                       sov_kernels choice) {
    DISPATCH(choice, attention_avx2, attention_portable)(query, keys, values, stride, positions, head_size, scale,
                                                        scratch, output);
}
