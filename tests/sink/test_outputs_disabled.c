// SPDX-License-Identifier: MIT
// A build without Redis or webhook support (-Dredis=disabled, -Dwebhook=disabled): create says why; config and URL parsing still work.
#include "fp_test.h"

#include "framepipe/deliver.h"

#include "fp_config.h"

FP_TEST(redis_create_is_unsupported_and_urls_still_parse)
{
#if FP_HAVE_REDIS
    fp_test_skip("this build has Redis support (tests/sink/test_redis.c)");
#else
    FpRedisConfig cfg;
    fp_redis_config_init(&cfg);
    char *storage = NULL;
    CHECK_OK(fp_redis_config_parse_url(&cfg, "redis://:pw@10.1.2.3:6380/2", &storage));
    CHECK(strcmp(cfg.host, "10.1.2.3") == 0 && cfg.port == 6380 && cfg.db == 2 && strcmp(cfg.password, "pw") == 0);
    const FpTransportOps *ops = NULL;
    void *t = NULL;
    int rc = fp_redis_transport_create(&ops, &t, &cfg);
    CHECK_EQ(rc, FP_EUNSUPPORTED);
    CHECK(ops == NULL && t == NULL);
    const char *msg = fp_error_detail(rc);
    CHECK_MSG(strstr(msg, "without Redis support") && strstr(msg, FP_REDIS_WITHOUT), "message: %s", msg);
    free(storage);
#endif
}

FP_TEST(webhook_create_is_unsupported)
{
#if FP_HAVE_WEBHOOK
    fp_test_skip("this build has webhook support (tests/sink/test_webhook.c)");
#else
    FpWebhookConfig cfg;
    fp_webhook_config_init(&cfg);
    CHECK(cfg.timeout_ns > 0 && cfg.connect_timeout_ns > 0);
    cfg.url = "http://127.0.0.1:1/hook";
    const FpTransportOps *ops = NULL;
    void *t = NULL;
    int rc = fp_webhook_transport_create(&ops, &t, &cfg);
    CHECK_EQ(rc, FP_EUNSUPPORTED);
    CHECK(ops == NULL && t == NULL);
    const char *msg = fp_error_detail(rc);
    CHECK_MSG(strstr(msg, "without webhook support") && strstr(msg, FP_WEBHOOK_WITHOUT), "message: %s", msg);
#endif
}
