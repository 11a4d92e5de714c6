/*
 * gpubench.cu — the provider agent's GPU benchmark, a standalone program.
 *
 * Measures, on one CUDA device (argv[1], default 0), with hand-written
 * kernels only (builds with nvcc alone, no cuBLAS):
 *   - FP32 matmul TFLOPS: C = A*B, N x N, a shared-memory tiled kernel
 *     with 4x4 register blocking per thread (64x64 block tile);
 *   - FP16 matmul TFLOPS: the same product with half inputs and float
 *     accumulation on tensor cores through WMMA (sm_70+), one 32x32 tile
 *     per warp; on older devices it is reported as null;
 *   - memory bandwidth GB/s: a device-to-device copy kernel over 256 MiB,
 *     counting bytes read + bytes written.
 * Each figure is the best of a few timed runs after a warm-up, timed with
 * CUDA events. Both products are spot-checked against the host's own sum
 * at five places of C (corners, middle, edges; inputs as the fill kernels
 * made them): a kernel that is fast but wrong gives no figures at all. 1 TFLOPS = 1e12 flop/s (2*N^3 flop per product), 1 GB/s =
 * 1e9 B/s. The figures are what these kernels reach, below vendor peak.
 *
 * Output: one JSON object on stdout, e.g.
 *   {"gpubench":1,"device":0,"name":"NVIDIA H100 80GB HBM3","cc":"9.0",
 *    "fp32_tflops":31.2,"fp16_tflops":180.5,"mem_bw_gbps":2900.1}
 * Exit status: 0 on success; 2 "no CUDA device" (no driver or no GPU);
 * 3 a CUDA call failed; 4 a product came out wrong (the spot check);
 * 1 bad arguments. Messages go to stderr.
 */
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <math.h>
#include <mma.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(call)                                                                  \
	do {                                                                         \
		cudaError_t err_ = (call);                                           \
		if (err_ != cudaSuccess) {                                           \
			fprintf(stderr, "gpubench: %s: %s\n", #call,                 \
				cudaGetErrorString(err_));                           \
			exit(3);                                                     \
		}                                                                    \
	} while (0)

/* ---- FP32: 64x64 block tile, 16x16 threads, 4x4 outputs per thread ---- */
#define TM 64
#define TK 16

__global__ void sgemm_tiled(int n, const float *a, const float *b, float *c)
{
	__shared__ float as[TK][TM];
	__shared__ float bs[TK][TM];
	int tx = threadIdx.x, ty = threadIdx.y; /* 16 x 16 */
	int row0 = blockIdx.y * TM, col0 = blockIdx.x * TM;
	int tid = ty * 16 + tx;
	float acc[4][4] = { { 0 } };

	for (int k0 = 0; k0 < n; k0 += TK) {
		/* 256 threads load 64x16 of A and 16x64 of B: 4 elements each. */
		for (int i = 0; i < 4; i++) {
			int idx = tid + i * 256;
			int ar = idx / TK, ac = idx % TK;  /* A tile: 64 rows x 16 cols */
			int br = idx / TM, bc = idx % TM;  /* B tile: 16 rows x 64 cols */
			as[ac][ar] = a[(size_t)(row0 + ar) * n + k0 + ac];
			bs[br][bc] = b[(size_t)(k0 + br) * n + col0 + bc];
		}
		__syncthreads();
#pragma unroll
		for (int k = 0; k < TK; k++) {
			float ra[4], rb[4];
#pragma unroll
			for (int i = 0; i < 4; i++) {
				ra[i] = as[k][ty * 4 + i];
				rb[i] = bs[k][tx * 4 + i];
			}
#pragma unroll
			for (int i = 0; i < 4; i++)
#pragma unroll
				for (int j = 0; j < 4; j++)
					acc[i][j] += ra[i] * rb[j];
		}
		__syncthreads();
	}
	for (int i = 0; i < 4; i++)
		for (int j = 0; j < 4; j++)
			c[(size_t)(row0 + ty * 4 + i) * n + col0 + tx * 4 + j] = acc[i][j];
}

/* ---- FP16 (tensor cores): each warp a 32x32 tile of C, 2x2 WMMA fragments ---- */
__global__ void hgemm_wmma(int n, const half *a, const half *b, float *c)
{
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 700
	using namespace nvcuda;
	int warp = (blockIdx.x * blockDim.x + threadIdx.x) / 32;
	int tiles = n / 32;
	int tr = warp / tiles, tc = warp % tiles;
	wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc[2][2];

	if (tr >= tiles)
		return;
	for (int i = 0; i < 2; i++)
		for (int j = 0; j < 2; j++)
			wmma::fill_fragment(acc[i][j], 0.0f);
	for (int k = 0; k < n; k += 16) {
		wmma::fragment<wmma::matrix_a, 16, 16, 16, half, wmma::row_major> fa[2];
		wmma::fragment<wmma::matrix_b, 16, 16, 16, half, wmma::row_major> fb[2];
		for (int i = 0; i < 2; i++) {
			wmma::load_matrix_sync(fa[i], a + (size_t)(tr * 32 + i * 16) * n + k, n);
			wmma::load_matrix_sync(fb[i], b + (size_t)k * n + tc * 32 + i * 16, n);
		}
		for (int i = 0; i < 2; i++)
			for (int j = 0; j < 2; j++)
				wmma::mma_sync(acc[i][j], fa[i], fb[j], acc[i][j]);
	}
	for (int i = 0; i < 2; i++)
		for (int j = 0; j < 2; j++)
			wmma::store_matrix_sync(c + (size_t)(tr * 32 + i * 16) * n + tc * 32 + j * 16,
						acc[i][j], n, wmma::mem_row_major);
#endif
}

/* ---- memory bandwidth: grid-stride float4 copy ---- */
__global__ void copy4(const float4 *src, float4 *dst, size_t n4)
{
	for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n4;
	     i += (size_t)gridDim.x * blockDim.x)
		dst[i] = src[i];
}

__global__ void fill_f32(float *p, size_t n, float v)
{
	for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
	     i += (size_t)gridDim.x * blockDim.x)
		p[i] = v * (float)((i % 7) + 1);
}

__global__ void fill_f16(half *p, size_t n, float v)
{
	for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
	     i += (size_t)gridDim.x * blockDim.x)
		p[i] = __float2half(v * (float)((i % 7) + 1));
}

/* Best time in ms of `reps` runs of launch() after one warm-up. */
template <typename F> static float best_ms(F launch, int reps)
{
	cudaEvent_t t0, t1;
	float best = 1e30f;

	CHECK(cudaEventCreate(&t0));
	CHECK(cudaEventCreate(&t1));
	launch();
	CHECK(cudaGetLastError());
	CHECK(cudaDeviceSynchronize());
	for (int r = 0; r < reps; r++) {
		float ms = 0;
		CHECK(cudaEventRecord(t0));
		launch();
		CHECK(cudaEventRecord(t1));
		CHECK(cudaEventSynchronize(t1));
		CHECK(cudaGetLastError());
		CHECK(cudaEventElapsedTime(&ms, t0, t1));
		if (ms < best)
			best = ms;
	}
	cudaEventDestroy(t0);
	cudaEventDestroy(t1);
	return best;
}

/*
 * C = A*B (n x n, row-major) at five places against the host's sum in double, with A and B as
 * fill_f32 / fill_f16 wrote them (0.001 * (i % 7 + 1) and 0.002 * (i % 7 + 1), rounded to half for the
 * FP16 product). FP32 accumulation over n terms of these sizes stays within 1e-3 relative. Exits 4 on
 * a miss, naming the place and both values.
 */
static void spot_check(const char *what, const float *c, int n, bool half_inputs)
{
	const int at[5][2] = { { 0, 0 }, { 1, n - 1 }, { n / 2, n / 3 }, { n - 1, 7 }, { n - 1, n - 1 } };

	for (int p = 0; p < 5; p++) {
		int i = at[p][0], j = at[p][1];
		float got = 0;
		double want = 0;
		CHECK(cudaMemcpy(&got, c + (size_t)i * n + j, sizeof got, cudaMemcpyDeviceToHost));
		for (int k = 0; k < n; k++) {
			size_t ia = (size_t)i * n + k, ib = (size_t)k * n + j;
			float a = 0.001f * (float)((ia % 7) + 1), b = 0.002f * (float)((ib % 7) + 1);
			if (half_inputs) {
				a = __half2float(__float2half(a));
				b = __half2float(__float2half(b));
			}
			want += (double)a * (double)b;
		}
		if (!(fabs((double)got - want) <= 1e-3 * fabs(want) + 1e-6)) {
			fprintf(stderr, "gpubench: %s product wrong at C[%d][%d]: got %.6g, want %.6g\n", what, i, j,
				(double)got, want);
			exit(4);
		}
	}
}

static void json_string(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch == '"' || ch == '\\')
			printf("\\%c", ch);
		else if (ch < 0x20 || ch > 0x7e)
			putchar('?');
		else
			putchar(ch);
	}
	putchar('"');
}

int main(int argc, char **argv)
{
	int count = 0, dev = 0, sms = 0;
	cudaError_t err;
	cudaDeviceProp prop;
	const int n = 4096;
	const size_t nn = (size_t)n * n, bw_bytes = (size_t)256 << 20;
	float *a32, *b32, *c32, *src, *dst;
	half *a16, *b16;
	double fp32, fp16 = -1, bw;

	if (argc > 2 || (argc == 2 && (sscanf(argv[1], "%d", &dev) != 1 || dev < 0))) {
		fprintf(stderr, "usage: gpubench [device-index]\n");
		return 1;
	}
	err = cudaGetDeviceCount(&count);
	if (err != cudaSuccess || count == 0) {
		fprintf(stderr, "gpubench: no CUDA device (%s)\n",
			err != cudaSuccess ? cudaGetErrorString(err) : "count is 0");
		return 2;
	}
	if (dev >= count) {
		fprintf(stderr, "gpubench: no CUDA device %d (have %d)\n", dev, count);
		return 2;
	}
	CHECK(cudaSetDevice(dev));
	CHECK(cudaGetDeviceProperties(&prop, dev));
	sms = prop.multiProcessorCount;

	CHECK(cudaMalloc(&a32, nn * sizeof(float)));
	CHECK(cudaMalloc(&b32, nn * sizeof(float)));
	CHECK(cudaMalloc(&c32, nn * sizeof(float)));
	fill_f32<<<sms * 4, 256>>>(a32, nn, 0.001f);
	fill_f32<<<sms * 4, 256>>>(b32, nn, 0.002f);
	dim3 grid(n / TM, n / TM), block(16, 16);
	float ms = best_ms([&] { sgemm_tiled<<<grid, block>>>(n, a32, b32, c32); }, 3);
	fp32 = 2.0 * n * (double)n * n / (ms * 1e-3) / 1e12;
	spot_check("FP32", c32, n, false);

	if (prop.major >= 7) {
		CHECK(cudaMalloc(&a16, nn * sizeof(half)));
		CHECK(cudaMalloc(&b16, nn * sizeof(half)));
		fill_f16<<<sms * 4, 256>>>(a16, nn, 0.001f);
		fill_f16<<<sms * 4, 256>>>(b16, nn, 0.002f);
		int warps = (n / 32) * (n / 32);
		ms = best_ms([&] { hgemm_wmma<<<warps / 4, 128>>>(n, a16, b16, c32); }, 3);
		fp16 = 2.0 * n * (double)n * n / (ms * 1e-3) / 1e12;
		spot_check("FP16", c32, n, true);
		cudaFree(a16);
		cudaFree(b16);
	}
	cudaFree(a32);
	cudaFree(b32);
	cudaFree(c32);

	CHECK(cudaMalloc(&src, bw_bytes));
	CHECK(cudaMalloc(&dst, bw_bytes));
	CHECK(cudaMemset(src, 1, bw_bytes));
	size_t n4 = bw_bytes / sizeof(float4);
	ms = best_ms([&] { copy4<<<sms * 8, 256>>>((const float4 *)src, (float4 *)dst, n4); }, 5);
	bw = 2.0 * (double)bw_bytes / (ms * 1e-3) / 1e9;
	{ /* the copy arrived: its first and last bytes are the source's */
		unsigned char head[16], tail[16];
		CHECK(cudaMemcpy(head, dst, sizeof head, cudaMemcpyDeviceToHost));
		CHECK(cudaMemcpy(tail, (unsigned char *)dst + bw_bytes - sizeof tail, sizeof tail, cudaMemcpyDeviceToHost));
		for (size_t i = 0; i < sizeof head; i++)
			if (head[i] != 1 || tail[i] != 1) {
				fprintf(stderr, "gpubench: the copy did not arrive (byte %zu)\n", i);
				exit(4);
			}
	}
	cudaFree(src);
	cudaFree(dst);

	printf("{\"gpubench\":1,\"device\":%d,\"name\":", dev);
	json_string(prop.name);
	printf(",\"cc\":\"%d.%d\",\"fp32_tflops\":%.2f,\"fp16_tflops\":", prop.major, prop.minor,
	       fp32);
	if (fp16 < 0)
		printf("null");
	else
		printf("%.2f", fp16);
	printf(",\"mem_bw_gbps\":%.1f}\n", bw);
	return 0;
}
