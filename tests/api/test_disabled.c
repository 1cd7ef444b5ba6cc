// SPDX-License-Identifier: MIT
// A build without an optional part (-Dhttp=disabled, -Dannotate=disabled): its create function fails with FP_EUNSUPPORTED and says how it was built.
#include "fp_test.h"

#include "framepipe/http.h"
#include "framepipe/sink.h"

#include "fp_config.h"

#if !FP_HAVE_HTTP
FP_TEST(http_server_create_says_framepipe_was_built_without_http)
{
    FpHttpServer *s = (FpHttpServer *)&s; /* a sentinel: *out must stay untouched */
    FpHttpHandlers h = {0};
    CHECK_EQ(fp_http_server_create(&s, "127.0.0.1:0", &h), FP_EUNSUPPORTED);
    CHECK(s == (FpHttpServer *)&s);
    const char *msg = fp_error_detail(FP_EUNSUPPORTED);
    CHECK_MSG(strstr(msg, "framepipe was built without HTTP support (" FP_HTTP_WITHOUT ")") != NULL,
              "message: %s", msg);
    s = NULL;
    fp_http_server_destroy(&s);
    fp_http_server_destroy(NULL);
}
#endif

#if !FP_HAVE_ANNOTATE
FP_TEST(annotate_sink_create_says_framepipe_was_built_without_annotation)
{
    FpAnnotateSink *s = (FpAnnotateSink *)&s;
    CHECK_EQ(fp_annotate_sink_create(&s, "out.mp4", 25), FP_EUNSUPPORTED);
    CHECK(s == (FpAnnotateSink *)&s);
    const char *msg = fp_error_detail(FP_EUNSUPPORTED);
    CHECK_MSG(strstr(msg, "framepipe was built without annotation support (" FP_ANNOTATE_WITHOUT ")") != NULL,
              "message: %s", msg);
    s = NULL;
    fp_annotate_sink_destroy(&s);
    /* the palette needs no libav and still works */
    uint8_t c[3] = {0};
    fp_annotate_class_color(0, c);
    CHECK(c[0] || c[1] || c[2]);
}
#endif
