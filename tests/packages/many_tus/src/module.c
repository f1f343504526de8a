#define PY_SSIZE_T_CLEAN
#include <Python.h>

unsigned long common_parse(const char *), common_format(const char *),
    common_table(const char *), common_hash(const char *), common_sort(const char *),
    common_text(const char *);
void hot_scale(float *out, const float *in, int n, float a);
float hot_sum(const float *in, int n);

static PyObject *checksum(PyObject *self, PyObject *args) {
  const char *text;
  if (!PyArg_ParseTuple(args, "s", &text)) return NULL;
  unsigned long acc = common_parse(text) ^ common_format(text) ^ common_table(text) ^
                      common_hash(text) ^ common_sort(text) ^ common_text(text);
  return PyLong_FromUnsignedLong(acc);
}

static PyObject *scale(PyObject *self, PyObject *args) {
  float in[64], out[64];
  float a;
  if (!PyArg_ParseTuple(args, "f", &a)) return NULL;
  for (int i = 0; i < 64; ++i) in[i] = (float)i;
  hot_scale(out, in, 64, a);
  return PyFloat_FromDouble(hot_sum(out, 64));
}

static PyMethodDef methods[] = {
    {"checksum", checksum, METH_VARARGS, "Checksum of a string."},
    {"scale", scale, METH_VARARGS, "Sum of squares of a scaled ramp."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_core", NULL, -1, methods};

PyMODINIT_FUNC PyInit__core(void) { return PyModule_Create(&module); }
