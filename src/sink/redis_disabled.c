// SPDX-License-Identifier: MIT
// The Redis transport in a build without hiredis (-Dredis=disabled, or hiredis missing): create fails with FP_EUNSUPPORTED.
#include "framepipe/deliver.h"

#include "framepipe/error.h"

#include "fp_config.h"

#include <stddef.h>

/* fp_redis_config_init and fp_redis_config_parse_url (redis_config.c) are built either way. */
int fp_redis_transport_create(const FpTransportOps **ops, void **t, const FpRedisConfig *cfg)
{
    (void)ops;
    (void)t;
    (void)cfg;
    return fp_error(FP_EUNSUPPORTED, "framepipe was built without Redis support (" FP_REDIS_WITHOUT ")");
}
