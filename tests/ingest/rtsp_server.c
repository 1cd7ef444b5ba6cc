// SPDX-License-Identifier: MIT
// Test helper: a real RTSP server (gst-rtsp-server) on 127.0.0.1 serving an H.264 MP4 file at rtsp://127.0.0.1:PORT/clip.
#include <gst/gst.h>
#include <glib-unix.h>
#include <gst/rtsp-server/rtsp-server.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * usage: fp_rtsp_server PORT FILE.mp4
 * Every client gets its own pipeline playing the file in real time from the
 * start. Prints "READY" on stdout once listening; exits on SIGTERM/SIGINT.
 * Tests start it with fork/exec and stop it by pid.
 */

static GMainLoop *loop;

static gboolean on_signal(gpointer data)
{
    (void)data;
    g_main_loop_quit(loop);
    return G_SOURCE_REMOVE;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s PORT FILE.mp4\n", argv[0]);
        return 2;
    }
    gst_init(&argc, &argv);
    loop = g_main_loop_new(NULL, FALSE);
    GstRTSPServer *server = gst_rtsp_server_new();
    gst_rtsp_server_set_address(server, "127.0.0.1");
    gst_rtsp_server_set_service(server, argv[1]);
    GstRTSPMountPoints *mounts = gst_rtsp_server_get_mount_points(server);
    GstRTSPMediaFactory *factory = gst_rtsp_media_factory_new();
    gchar *launch = g_strdup_printf(
        "( filesrc location=\"%s\" ! qtdemux ! h264parse config-interval=-1 ! "
        "rtph264pay name=pay0 pt=96 config-interval=-1 )",
        argv[2]);
    gst_rtsp_media_factory_set_launch(factory, launch);
    g_free(launch);
    gst_rtsp_media_factory_set_shared(factory, FALSE);
    gst_rtsp_mount_points_add_factory(mounts, "/clip", factory);
    g_object_unref(mounts);
    if (gst_rtsp_server_attach(server, NULL) == 0) {
        fprintf(stderr, "fp_rtsp_server: cannot listen on 127.0.0.1:%s\n", argv[1]);
        return 1;
    }
    g_unix_signal_add(SIGTERM, on_signal, NULL);
    g_unix_signal_add(SIGINT, on_signal, NULL);
    printf("READY\n");
    fflush(stdout);
    g_main_loop_run(loop);
    g_object_unref(server);
    g_main_loop_unref(loop);
    return 0;
}
