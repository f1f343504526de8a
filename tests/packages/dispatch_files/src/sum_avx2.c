#include <immintrin.h>

/* Only called after the CPU was seen to have AVX2. */
__attribute__((visibility("hidden"))) long sum_avx2(const int *values, long count) {
    __m256i total = _mm256_setzero_si256();
    long i = 0;
    for (; i + 8 <= count; i += 8) {
        total = _mm256_add_epi32(total, _mm256_loadu_si256((const __m256i *)(values + i)));
    }
    int lanes[8];
    _mm256_storeu_si256((__m256i *)lanes, total);
    long sum = 0;
    for (int k = 0; k < 8; k++) sum += lanes[k];
    for (; i < count; i++) sum += values[i];
    return sum;
}
