/* Variant-independent code: compiled with the same command in every variant. */
#include <stddef.h>
#include <string.h>

unsigned long common_format(const char *text) {
  unsigned long acc = 2;
  size_t n = strlen(text);
  for (size_t i = 0; i < n; ++i) {
    acc = acc * 131u + (unsigned char)text[i] + (acc >> 7);
  }
  return acc;
}
