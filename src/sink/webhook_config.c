// SPDX-License-Identifier: MIT
// The webhook output's configuration defaults (built with or without libcurl).
#include "framepipe/deliver.h"

#include <string.h>

void fp_webhook_config_init(FpWebhookConfig *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->timeout_ns = 5000000000LL;
    cfg->connect_timeout_ns = 2000000000LL;
}
