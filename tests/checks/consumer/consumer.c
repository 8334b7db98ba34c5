/* A C89 program that uses the installed library: the header must stay C89-clean. */
#include <math.h>
#include <stdio.h>

#include <simdnorm.h>

int main(void)
{
    float x[2][4] = { { 1.0f, 2.0f, 3.0f, 4.0f }, { 10.0f, 10.0f, 10.0f, 10.0f } };
    float y[2][4];
    sn_status status = sn_layer_norm_f32(&x[0][0], &y[0][0], 2, 4, NULL, NULL, 0.0f);
    if (status != SN_OK) {
        printf("sn_layer_norm_f32: %s\n", sn_status_string(status));
        return 1;
    }
    /* (1 - 2.5) / sqrt(1.25) */
    if (fabs(y[0][0] + 1.3416408) > 1e-5 || y[1][2] != 0.0f) {
        printf("wrong result %g %g\n", y[0][0], y[1][2]);
        return 1;
    }
    printf("simdnorm %s, ISA %s\n", sn_version_string(), sn_isa_name(sn_get_isa()));
    return sn_version() == SN_VERSION ? 0 : 1;
}
