// SPDX-License-Identifier: MIT
// The webhook transport in a build without libcurl (-Dwebhook=disabled, or libcurl missing): create fails with FP_EUNSUPPORTED.
#include "framepipe/deliver.h"

#include "framepipe/error.h"

#include "fp_config.h"

#include <stddef.h>

/* fp_webhook_config_init (webhook_config.c) is built either way. */
int fp_webhook_transport_create(const FpTransportOps **ops, void **t, const FpWebhookConfig *cfg)
{
    (void)ops;
    (void)t;
    (void)cfg;
    return fp_error(FP_EUNSUPPORTED, "framepipe was built without webhook support (" FP_WEBHOOK_WITHOUT ")");
}
