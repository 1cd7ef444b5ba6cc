// SPDX-License-Identifier: MIT
// The MQTT output's configuration defaults (built with or without libmosquitto).
#include "framepipe/deliver.h"

#include <string.h>

/*
 * port 0 means "the default": 1883, or 8883 with tls (resolved by
 * fp_mqtt_transport_create, so turning tls on after init picks the TLS port).
 */
void fp_mqtt_config_init(FpMqttConfig *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->host = "127.0.0.1";
    cfg->port = 0;
    cfg->prefix = "framepipe";
    cfg->qos = 1;
    cfg->keepalive_s = 30;
    cfg->timeout_ns = 5000000000LL;
}
