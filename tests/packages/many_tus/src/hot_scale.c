/* A hot kernel: vectorised for the variant's instruction set. */
void hot_scale(float *restrict out, const float *restrict in, int n, float a) {
  for (int i = 0; i < n; ++i) out[i] = in[i] * a + 1.0f;
}
