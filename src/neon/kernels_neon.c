#include "../kernels.h"

SN_DEFINE_KERNELS(neon)
