// SPDX-License-Identifier: MIT
// libFuzzer target: the class-names parser (fp_labels_parse: dict literal, list, or one name per line).
#include "framepipe/labels.h"
#include "fuzz_common.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_quiet();
    char *text = malloc(size + 1); /* a metadata string: NUL-terminated */
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    FpLabels *l = NULL;
    if (fp_labels_parse(&l, text, "fuzz") == 0) {
        int n = fp_labels_count(l);
        for (int i = 0; i < n; i++)
            (void)strlen(fp_labels_name(l, i));
        if (fp_labels_name(l, n) != NULL || fp_labels_name(l, -1) != NULL)
            __builtin_trap();
        fp_labels_destroy(&l);
    }
    free(text);
    return 0;
}
