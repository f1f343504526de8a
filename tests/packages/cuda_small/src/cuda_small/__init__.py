from cuda_small._core import backend
