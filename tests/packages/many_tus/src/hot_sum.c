/* A hot kernel: vectorised for the variant's instruction set. */
float hot_sum(const float *restrict in, int n) {
  float acc[8] = {0};
  for (int i = 0; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; ++j) acc[j] += in[i + j] * in[i + j];
  float total = 0;
  for (int j = 0; j < 8; ++j) total += acc[j];
  return total;
}
