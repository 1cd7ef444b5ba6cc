// SPDX-License-Identifier: MIT
// The distributed roles in a build without hiredis (-Dredis=disabled): each answers FP_EUNSUPPORTED.
#include "framepipe/dist.h"

#include "framepipe/error.h"

static int without(const char *role)
{
    return fp_error(FP_EUNSUPPORTED, "framepipe was built without Redis support (-Dredis=disabled): no %s role", role);
}

int fp_dist_camera_run(const FpPipelineConfig *cfg, const FpDistRoleOptions *opt)
{
    (void)cfg, (void)opt;
    return without("camera");
}

int fp_dist_worker_run(const FpPipelineConfig *cfg, const FpDistRoleOptions *opt)
{
    (void)cfg, (void)opt;
    return without("worker");
}

int fp_dist_logic_run(const FpPipelineConfig *cfg, const FpDistRoleOptions *opt)
{
    (void)cfg, (void)opt;
    return without("logic");
}
