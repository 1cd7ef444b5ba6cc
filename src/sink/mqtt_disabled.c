// SPDX-License-Identifier: MIT
// The MQTT transport in a build without libmosquitto (-Dmqtt=disabled, or libmosquitto missing): create fails with FP_EUNSUPPORTED.
#include "framepipe/deliver.h"

#include "framepipe/error.h"

#include "fp_config.h"

#include <stddef.h>

/* fp_mqtt_config_init (mqtt_config.c) is built either way. */
int fp_mqtt_transport_create(const FpTransportOps **ops, void **t, const FpMqttConfig *cfg)
{
    (void)ops;
    (void)t;
    (void)cfg;
    return fp_error(FP_EUNSUPPORTED, "framepipe was built without MQTT support (" FP_MQTT_WITHOUT ")");
}
