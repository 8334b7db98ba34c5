/* A C89 program that uses the installed library: the header must stay C89-clean. */
#include <math.h>
#include <stdio.h>

#include <simdnorm.h>

/* The same layer norm through a plan: the same bits. */
static int planned_matches(float x[2][4], float y[2][4])
{
    ptrdiff_t dims[2];
    sn_tensor shape;
    sn_norm_options o = SN_NORM_DEFAULTS;
    sn_norm_arrays a;
    sn_norm_plan *plan;
    float z[2][4];
    int i, j, same = 1;
    dims[0] = 2;
    dims[1] = 4;
    shape = sn_tensor_dense(NULL, SN_FLOAT32, 2, dims);
    o.axes = 2u;
    o.epsilon = 0.0f;
    if (sn_norm_plan_create(&shape, &shape, &o, &plan) != SN_OK)
        return 0;
    a.x = &x[0][0];
    a.y = &z[0][0];
    a.scale = a.bias = NULL;
    a.mean = a.rstd = NULL;
    a.seq_lens = NULL;
    if (sn_norm_plan_execute(plan, &a) != SN_OK)
        same = 0;
    sn_norm_plan_destroy(plan);
    for (i = 0; i < 2; i++)
        for (j = 0; j < 4; j++)
            same = same && z[i][j] == y[i][j];
    return same;
}

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
    if (!planned_matches(x, y)) {
        printf("a planned call differs from sn_layer_norm_f32\n");
        return 1;
    }
    printf("simdnorm %s, ISA %s\n", sn_version_string(), sn_isa_name(sn_get_isa()));
    return sn_version() == SN_VERSION ? 0 : 1;
}
