#include "../kernels.h"

SN_DEFINE_KERNELS(avx2)
