// SPDX-License-Identifier: MIT
// The smallest program using an installed libframepipe: opens an ONNX detector and prints what framepipe makes of it.
//
// Build against the installed library (README.md, "Using the library"):
//   cc -std=c11 hello.c $(pkg-config --static --cflags --libs framepipe) -o hello
//   ./hello yolov8n.onnx
#include <framepipe/framepipe.h>

#include <stdio.h>

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s MODEL.onnx\n", argv[0]);
        return 2;
    }
    FpModel *model = NULL;
    int rc = fp_model_create(&model, argv[1], NULL);
    if (rc < 0) {
        fprintf(stderr, "hello: %s (%s)\n", fp_error_detail(rc), fp_err_name(rc));
        return 1;
    }
    FpFamilyInfo info;
    FpFamily family = fp_model_family(model, &info);
    const FpModelInput *in = fp_model_input(model);
    printf("%s: family %s, %d classes, input %dx%d, %d output(s)\n", fp_model_path(model),
           fp_family_name(family), info.num_classes, in->width, in->height,
           fp_model_output_count(model));
    fp_model_destroy(&model);
    return 0;
}
