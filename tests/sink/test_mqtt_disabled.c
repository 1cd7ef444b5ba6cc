// SPDX-License-Identifier: MIT
// A build without MQTT support (-Dmqtt=disabled): create says why; the config defaults still work.
#include "fp_test.h"

#include "framepipe/deliver.h"

#include "fp_config.h"

FP_TEST(mqtt_create_is_unsupported_and_defaults_still_work)
{
#if FP_HAVE_MQTT
    fp_test_skip("this build has MQTT support (tests/sink/test_mqtt.c)");
#else
    FpMqttConfig cfg;
    fp_mqtt_config_init(&cfg);
    CHECK(strcmp(cfg.prefix, "framepipe") == 0 && cfg.qos == 1 && cfg.timeout_ns > 0);
    const FpTransportOps *ops = NULL;
    void *t = NULL;
    int rc = fp_mqtt_transport_create(&ops, &t, &cfg);
    CHECK_EQ(rc, FP_EUNSUPPORTED);
    CHECK(ops == NULL && t == NULL);
    const char *msg = fp_error_detail(rc);
    CHECK_MSG(strstr(msg, "without MQTT support") && strstr(msg, FP_MQTT_WITHOUT), "message: %s", msg);
#endif
}
