// Sovereign's C inference kernels: the hot loops whose arithmetic must be
// ggml's to the last bit (fused multiply-adds, lane-wise accumulation),
// which baseline Swift cannot express without a library call per lane.
//
// Every kernel has a portable version (C with fmaf) and, on x86-64, an
// AVX2+FMA+F16C version chosen at run time; both give bit-identical results,
// so a model's output does not depend on the machine. The swiglu and
// quantisation loops are scalar in both (a few per cent of the time).
// Block layouts are ggml's (fp16 scales as raw bits).
#ifndef SOVEREIGN_INFERENCE_KERNELS_H
#define SOVEREIGN_INFERENCE_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// ggml's block_q8_0 and block_q8_1: 32 signed 8-bit values with an fp16
/// scale d (and, for q8_1, s = d · Σq in fp16).
typedef struct { uint16_t d; int8_t qs[32]; } sov_block_q8_0;
typedef struct { uint16_t d; uint16_t s; int8_t qs[32]; } sov_block_q8_1;

/// Which kernels to run: the fastest this CPU has, or the portable C ones
/// (tests compare the two; their results are identical).
typedef enum { SOV_KERNELS_AUTOMATIC = 0, SOV_KERNELS_PORTABLE = 1 } sov_kernels;

/// The kernels `choice` runs on this machine: "avx2" or "portable".
const char *sov_kernels_name(sov_kernels choice);

/// Quantises `rows` rows of `columns` floats (a multiple of 32) as ggml's
/// x86 `quantize_row_q8_0` / `quantize_row_q8_1` do.
void sov_quantize_q8_0(const float *x, sov_block_q8_0 *y, int64_t columns, int64_t rows);
void sov_quantize_q8_1(const float *x, sov_block_q8_1 *y, int64_t columns, int64_t rows);

/// output[t * output_stride + r] = dot(weight row r, activation row t) for
/// r in [row_begin, row_end) and t in [0, tokens): ggml's
/// `ggml_vec_dot_q4_0_q8_0`, `ggml_vec_dot_q4_1_q8_1`, `ggml_vec_dot_q8_0_q8_0`
/// on AVX2. `weights` points at row 0; rows are `row_bytes` apart;
/// activation rows are `columns / 32` blocks each.
void sov_matmul_q4_0(const void *weights, size_t row_bytes, int64_t row_begin, int64_t row_end,
                     const sov_block_q8_0 *activations, int64_t columns, int64_t tokens,
                     float *output, int64_t output_stride, sov_kernels choice);
void sov_matmul_q4_1(const void *weights, size_t row_bytes, int64_t row_begin, int64_t row_end,
                     const sov_block_q8_1 *activations, int64_t columns, int64_t tokens,
                     float *output, int64_t output_stride, sov_kernels choice);
void sov_matmul_q8_0(const void *weights, size_t row_bytes, int64_t row_begin, int64_t row_end,
                     const sov_block_q8_0 *activations, int64_t columns, int64_t tokens,
                     float *output, int64_t output_stride, sov_kernels choice);

/// gate[i] = silu(gate[i]) · up[i] with ggml's AVX-512 `ggml_v_silu`
/// (its `ggml_v_expf` polynomial) in 16-element groups and libm's expf for
/// a tail, as `ggml_vec_swiglu_f32` on the machine the goldens come from.
void sov_swiglu(float *gate, const float *up, int64_t count, sov_kernels choice);

/// Rotates `heads` heads (`head_size` apart) of `x` in adjacent pairs over
/// the first `dims` entries by the angles' (cos, sin) pairs, with the fused
/// multiply-adds GCC gives ggml's `rotate_pairs`.
void sov_rope(float *x, const float *angles, int64_t heads, int64_t head_size, int64_t dims, sov_kernels choice);

/// y[i] = x[i] rounded to fp16 (ties to even), as raw bits.
void sov_store_f16(const float *x, uint16_t *y, int64_t count);

/// One query head attending over positions 0 ..< positions of an fp16 key
/// and value cache (position p's vectors start p · stride elements in),
/// with ggml's flash-attention arithmetic: query rounded to fp16, fp16 dot
/// products, online softmax, the weighted sum of values kept in fp16.
/// `scratch` has room for head_size floats.
void sov_attention_f16(const float *query, const uint16_t *keys, const uint16_t *values, int64_t stride,
                       int64_t positions, int64_t head_size, float scale, float *scratch, float *output,
                       sov_kernels choice);

#ifdef __cplusplus
}
#endif

#endif
