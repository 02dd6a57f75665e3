// A small CUDA program for the GPU device check (tests/gpu/device.sh): c = a + b on 2^24 floats,
// checked element by element against the CPU, with the kernel's median time over 20 runs and
// the bandwidth that implies (3 arrays moved). Run on the host and inside an instance, the two
// bandwidths give the container's overhead, which should be ~0: the kernel runs on the same
// device through the same driver.
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <vector>

#define CHECK(call)                                                           \
  do {                                                                        \
    cudaError_t e = (call);                                                   \
    if (e != cudaSuccess) {                                                   \
      std::fprintf(stderr, "vecadd: %s: %s\n", #call, cudaGetErrorString(e)); \
      return 1;                                                               \
    }                                                                         \
  } while (0)

__global__ void Add(const float* a, const float* b, float* c, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) c[i] = a[i] + b[i];
}

int main() {
  const int n = 1 << 24;
  std::vector<float> a(n), b(n), c(n);
  for (int i = 0; i < n; ++i) {
    a[i] = float(i % 1000) * 0.5f;
    b[i] = float(i % 777) * 0.25f;
  }
  int devices = 0;
  CHECK(cudaGetDeviceCount(&devices));
  cudaDeviceProp prop;
  CHECK(cudaGetDeviceProperties(&prop, 0));
  float *da, *db, *dc;
  size_t bytes = size_t(n) * sizeof(float);
  CHECK(cudaMalloc(&da, bytes));
  CHECK(cudaMalloc(&db, bytes));
  CHECK(cudaMalloc(&dc, bytes));
  CHECK(cudaMemcpy(da, a.data(), bytes, cudaMemcpyHostToDevice));
  CHECK(cudaMemcpy(db, b.data(), bytes, cudaMemcpyHostToDevice));
  cudaEvent_t start, stop;
  CHECK(cudaEventCreate(&start));
  CHECK(cudaEventCreate(&stop));
  std::vector<float> ms;
  for (int r = 0; r < 21; ++r) {
    CHECK(cudaEventRecord(start));
    Add<<<(n + 255) / 256, 256>>>(da, db, dc, n);
    CHECK(cudaEventRecord(stop));
    CHECK(cudaEventSynchronize(stop));
    float t = 0;
    CHECK(cudaEventElapsedTime(&t, start, stop));
    if (r > 0) ms.push_back(t);  // the first run pays for the module load
  }
  CHECK(cudaMemcpy(c.data(), dc, bytes, cudaMemcpyDeviceToHost));
  for (int i = 0; i < n; ++i) {
    if (c[i] != a[i] + b[i]) {
      std::fprintf(stderr, "vecadd: mismatch at %d: %f != %f\n", i, c[i], a[i] + b[i]);
      return 1;
    }
  }
  std::sort(ms.begin(), ms.end());
  float median = ms[ms.size() / 2];
  std::printf(
      "vecadd ok: %d device(s) visible, device 0 %s, n=%d, median kernel %.3f ms, %.1f GB/s\n",
      devices, prop.name, n, median, 3.0 * double(bytes) / (median * 1e-3) / 1e9);
  return 0;
}
