// SPDX-License-Identifier: MIT
// Records per second through one network output (FpDelivery over the Redis, MQTT or webhook transport) to a real server; driven by bench/bench_outputs.py.
//
// usage: bench_outputs redis|mqtt|webhook HOST:PORT|URL frames|events N
// Prints one JSON line: {"kind":..,"records":N,"seconds":S,"per_s":..,"sent":..,"dropped":..}.
// Frames are offered at full speed with a queue as large as N (nothing is dropped), so the figure is the
// transport's sustained rate; events go through the same queue with no spool (the destination is up).
#include "framepipe/clock.h"
#include "framepipe/deliver.h"
#include "framepipe/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: bench_outputs redis|mqtt|webhook HOST:PORT|URL frames|events N\n");
        return 2;
    }
    const char *kind = argv[1], *where = argv[2];
    bool events = strcmp(argv[3], "events") == 0;
    int n = atoi(argv[4]);
    const FpTransportOps *ops = NULL;
    void *t = NULL;
    int rc;
    char host[256] = "127.0.0.1";
    int port = 0;
    const char *colon = strrchr(where, ':');
    if (colon && strncmp(where, "http", 4) != 0) {
        snprintf(host, sizeof(host), "%.*s", (int)(colon - where), where);
        port = atoi(colon + 1);
    }
    if (!strcmp(kind, "redis")) {
        FpRedisConfig c;
        fp_redis_config_init(&c);
        c.host = host;
        c.port = port;
        c.maxlen = 100000;
        rc = fp_redis_transport_create(&ops, &t, &c);
    } else if (!strcmp(kind, "mqtt")) {
        FpMqttConfig c;
        fp_mqtt_config_init(&c);
        c.host = host;
        c.port = port;
        c.qos = 1;
        rc = fp_mqtt_transport_create(&ops, &t, &c);
    } else {
        FpWebhookConfig c;
        fp_webhook_config_init(&c);
        c.url = where;
        rc = fp_webhook_transport_create(&ops, &t, &c);
    }
    if (rc < 0) {
        fprintf(stderr, "bench_outputs: %s\n", fp_error_detail(rc));
        return 1;
    }
    FpDeliveryConfig dc;
    fp_delivery_config_init(&dc);
    dc.frame_queue = n;
    dc.event_queue = n;
    FpDelivery *d = NULL;
    if ((rc = fp_delivery_create(&d, ops, t, &dc)) < 0) {
        fprintf(stderr, "bench_outputs: %s\n", fp_error_detail(rc));
        return 1;
    }
    /* a typical frame: 3 detections with 6 keypoints (BlazeFace) at 1080p */
    FpDetection dets[3];
    memset(dets, 0, sizeof(dets));
    for (int i = 0; i < 3; i++) {
        dets[i].box = (FpBox){100.0f + 300 * i, 200, 260.0f + 300 * i, 380};
        dets[i].score = 0.9f;
        dets[i].n_keypoints = 6;
    }
    static const char *const names[] = {"face"};
    FpFrame f;
    memset(&f, 0, sizeof(f));
    f.width = 1920;
    f.height = 1080;
    FpEvent ev;
    memset(&ev, 0, sizeof(ev));
    ev.camera_name = "front-door";
    ev.rule = "arrives";
    ev.zone = "porch";
    ev.box = dets[0].box;
    /* connect first, so the rate does not include the connection */
    FpFrameResult r = {.frame = &f, .camera_name = "front-door", .dets = dets, .n_dets = 3, .class_names = names,
                       .n_classes = 1, .n_keypoints = 6, .batch_size = 1};
    if (events) {
        ev.id = 0;
        fp_delivery_event(d, &ev, NULL);
    } else {
        fp_delivery_frame(d, &r);
    }
    if (fp_delivery_flush(d, 10LL * 1000000000) < 0) {
        fprintf(stderr, "bench_outputs: %s: no connection: %s\n", kind, fp_error_detail(FP_ETIMEOUT));
        return 1;
    }
    int64_t t0 = fp_clock_ns();
    for (int i = 1; i <= n; i++) {
        if (events) {
            ev.id = (uint64_t)i;
            fp_delivery_event(d, &ev, NULL);
        } else {
            f.seq = (uint64_t)i;
            f.pts_ns = (int64_t)i * 33333333;
            fp_delivery_frame(d, &r);
        }
    }
    rc = fp_delivery_flush(d, 300LL * 1000000000);
    double s = (double)(fp_clock_ns() - t0) / 1e9;
    FpDeliveryStats st;
    fp_delivery_get_stats(d, &st);
    printf("{\"kind\":\"%s\",\"records\":\"%s\",\"n\":%d,\"seconds\":%.4f,\"per_s\":%.1f,\"sent\":%llu,\"dropped\":%llu,"
           "\"flushed\":%s}\n",
           kind, events ? "events" : "frames", n, s, n / s,
           (unsigned long long)(events ? st.sent_events : st.sent_frames), (unsigned long long)st.dropped,
           rc == 0 ? "true" : "false");
    fp_delivery_destroy(&d);
    return rc == 0 ? 0 : 1;
}
