#define PY_SSIZE_T_CLEAN
#include <Python.h>

#ifdef PW_CUDA
const char *pw_cuda_saxpy(float a, const float *x, float *y, long long n);
const char *pw_cuda_device(char *name, int size, int *major, int *minor);
#else
#define PW_CUDA_ARCHS ""
#endif

/* saxpy(a, x, y): y[i] = a * x[i] + y[i] in place, on the GPU in CUDA builds. */
static PyObject *saxpy(PyObject *self, PyObject *args) {
    (void)self;
    float a;
    Py_buffer x, y;
    if (!PyArg_ParseTuple(args, "fy*w*", &a, &x, &y)) return NULL;
    PyObject *result = NULL;
    if (x.itemsize != 4 || y.itemsize != 4 || x.len != y.len) {
        PyErr_SetString(PyExc_ValueError, "saxpy needs two float32 buffers of equal length");
        goto done;
    }
    long long n = (long long)(x.len / 4);
#ifdef PW_CUDA
    const char *err;
    Py_BEGIN_ALLOW_THREADS
    err = pw_cuda_saxpy(a, (const float *)x.buf, (float *)y.buf, n);
    Py_END_ALLOW_THREADS
    if (err) {
        PyErr_Format(PyExc_RuntimeError, "CUDA: %s", err);
        goto done;
    }
#else
    const float *xs = (const float *)x.buf;
    float *ys = (float *)y.buf;
    for (long long i = 0; i < n; ++i) ys[i] = a * xs[i] + ys[i];
#endif
    result = Py_NewRef(Py_None);
done:
    PyBuffer_Release(&x);
    PyBuffer_Release(&y);
    return result;
}

static PyObject *backend(PyObject *self, PyObject *args) {
    (void)self;
    (void)args;
#ifdef PW_CUDA
    return PyUnicode_FromString("cuda");
#else
    return PyUnicode_FromString("cpu");
#endif
}

static PyObject *compiled_architectures(PyObject *self, PyObject *args) {
    (void)self;
    (void)args;
    return PyUnicode_FromString(PW_CUDA_ARCHS);
}

static PyObject *device_info(PyObject *self, PyObject *args) {
    (void)self;
    (void)args;
#ifdef PW_CUDA
    char name[256] = {0};
    int major = 0, minor = 0;
    const char *err = pw_cuda_device(name, (int)sizeof name, &major, &minor);
    if (err) return PyErr_Format(PyExc_RuntimeError, "CUDA: %s", err);
    return Py_BuildValue("{s:s,s:(ii)}", "name", name, "compute_capability", major, minor);
#else
    Py_RETURN_NONE;
#endif
}

static PyMethodDef methods[] = {
    {"saxpy", saxpy, METH_VARARGS, "saxpy(a, x, y): y = a*x + y in place (float32 buffers)"},
    {"backend", backend, METH_NOARGS, "'cuda' or 'cpu'"},
    {"compiled_architectures", compiled_architectures, METH_NOARGS, "CMAKE_CUDA_ARCHITECTURES of the build"},
    {"device_info", device_info, METH_NOARGS, "name and compute capability of GPU 0 (None on CPU builds)"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_core", NULL, -1, methods};

PyMODINIT_FUNC PyInit__core(void) { return PyModule_Create(&module); }
