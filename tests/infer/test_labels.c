// SPDX-License-Identifier: MIT
// Class names from labels files and from Ultralytics "names" metadata strings, including the malformed ones.
#include "fp_test.h"

#include "framepipe/labels.h"

#include <errno.h>
#include <unistd.h>

static const char *write_file(const char *name, const char *text, size_t len)
{
    static char path[1024];
    snprintf(path, sizeof(path), "%s/%s", fp_test_tmpdir(), name);
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    CHECK_EQ(fwrite(text, 1, len, f), len);
    fclose(f);
    return path;
}

FP_TEST(labels_file_lines_trimmed)
{
    const char text[] = "person\r\n  bicycle \ntraffic light\n\n\n";
    const char *path = write_file("coco.names", text, sizeof(text) - 1);
    FpLabels *l;
    CHECK_OK(fp_labels_load(&l, path));
    CHECK_EQ(fp_labels_count(l), 3);
    CHECK(strcmp(fp_labels_name(l, 0), "person") == 0);
    CHECK(strcmp(fp_labels_name(l, 1), "bicycle") == 0);
    CHECK(strcmp(fp_labels_name(l, 2), "traffic light") == 0);
    CHECK(fp_labels_name(l, 3) == NULL);
    CHECK(fp_labels_name(l, -1) == NULL);
    fp_labels_destroy(&l);
    CHECK(l == NULL);
    /* no newline at the end */
    path = write_file("two.names", "a\nb", 3);
    CHECK_OK(fp_labels_load(&l, path));
    CHECK_EQ(fp_labels_count(l), 2);
    CHECK(strcmp(fp_labels_name(l, 1), "b") == 0);
    fp_labels_destroy(&l);
}

FP_TEST(labels_file_errors_name_file_and_line)
{
    FpLabels *l = NULL;
    const char *path = write_file("gap.names", "a\nb\n\nc\n", 7);
    CHECK_EQ(fp_labels_load(&l, path), FP_ECORRUPT);
    CHECK(strstr(fp_error_detail(FP_ECORRUPT), "gap.names: line 3") != NULL);
    path = write_file("empty.names", "\n \n", 3);
    CHECK_EQ(fp_labels_load(&l, path), FP_ECORRUPT);
    CHECK(strstr(fp_error_detail(FP_ECORRUPT), "no class names") != NULL);
    path = write_file("bin.names", "a\0b\n", 4);
    CHECK_EQ(fp_labels_load(&l, path), FP_ECORRUPT);
    CHECK(strstr(fp_error_detail(FP_ECORRUPT), "NUL byte at offset 1") != NULL);
    char missing[1024];
    snprintf(missing, sizeof(missing), "%s/none.names", fp_test_tmpdir());
    CHECK_EQ(fp_labels_load(&l, missing), -ENOENT);
    CHECK(strstr(fp_error_detail(-ENOENT), "none.names") != NULL);
    CHECK(l == NULL);
}

FP_TEST(labels_ultralytics_metadata)
{
    FpLabels *l;
    /* as Python's repr() writes it: double quotes when the name holds a single quote */
    CHECK_OK(fp_labels_parse(&l, "{0: 'person', 1: \"teddy's bear\", 2: 'a\\\\b', 3: 'tab\\there'}", "m.onnx names"));
    CHECK_EQ(fp_labels_count(l), 4);
    CHECK(strcmp(fp_labels_name(l, 0), "person") == 0);
    CHECK(strcmp(fp_labels_name(l, 1), "teddy's bear") == 0);
    CHECK(strcmp(fp_labels_name(l, 2), "a\\b") == 0);
    CHECK(strcmp(fp_labels_name(l, 3), "tab\there") == 0);
    fp_labels_destroy(&l);
    /* keys in any order, spaces and a trailing comma */
    CHECK_OK(fp_labels_parse(&l, "  {1:'b',0:'a', 2 : 'c',}  ", NULL));
    CHECK_EQ(fp_labels_count(l), 3);
    CHECK(strcmp(fp_labels_name(l, 0), "a") == 0);
    CHECK(strcmp(fp_labels_name(l, 2), "c") == 0);
    fp_labels_destroy(&l);
    /* hex and unicode escapes (Python repr of non-printables, JSON) and raw UTF-8 */
    CHECK_OK(fp_labels_parse(&l, "[\"caf\\xe9\", \"\\u00e9t\\u00E9\", \"x\\/y\", \"\xe2\x82\xac\", '\\U0001F600']", "json"));
    CHECK_EQ(fp_labels_count(l), 5);
    CHECK(strcmp(fp_labels_name(l, 0), "caf\xc3\xa9") == 0);
    CHECK(strcmp(fp_labels_name(l, 1), "\xc3\xa9t\xc3\xa9") == 0);
    CHECK(strcmp(fp_labels_name(l, 2), "x/y") == 0);
    CHECK(strcmp(fp_labels_name(l, 3), "\xe2\x82\xac") == 0);
    CHECK(strcmp(fp_labels_name(l, 4), "\xf0\x9f\x98\x80") == 0);
    fp_labels_destroy(&l);
    CHECK_OK(fp_labels_parse(&l, "['cat', 'dog']", NULL));
    CHECK_EQ(fp_labels_count(l), 2);
    CHECK(strcmp(fp_labels_name(l, 1), "dog") == 0);
    fp_labels_destroy(&l);
}

FP_TEST(labels_ultralytics_metadata_many_classes_from_python)
{
    /* 80 names written by Python's own repr() of a dict, parsed back */
    if (access("/usr/bin/python3", X_OK) != 0)
        fp_test_skip("/usr/bin/python3 is missing");
    FILE *f = popen("/usr/bin/python3 -c \"print(repr({i: 'class %d' % i if i % 7 else \\\"it's %d\\\" % i "
                    "for i in range(80)}))\"", "r");
    CHECK(f != NULL);
    static char text[8192];
    size_t n = fread(text, 1, sizeof(text) - 1, f);
    CHECK_EQ(pclose(f), 0);
    text[n] = '\0';
    FpLabels *l;
    CHECK_OK(fp_labels_parse(&l, text, "python repr"));
    CHECK_EQ(fp_labels_count(l), 80);
    CHECK(strcmp(fp_labels_name(l, 13), "class 13") == 0);
    CHECK(strcmp(fp_labels_name(l, 14), "it's 14") == 0);
    fp_labels_destroy(&l);
}

FP_TEST(labels_metadata_errors_give_offsets)
{
    FpLabels *l = NULL;
    CHECK_EQ(fp_labels_parse(&l, "{0: 'a', 2: 'c'}", "m.onnx names"), FP_ECORRUPT);
    CHECK(strstr(fp_error_detail(FP_ECORRUPT), "m.onnx names: class 1 is missing") != NULL);
    CHECK_EQ(fp_labels_parse(&l, "{0: 'a', 0: 'b'}", "x"), FP_ECORRUPT);
    CHECK(strstr(fp_error_detail(FP_ECORRUPT), "class 0 appears twice (second at byte 9)") != NULL);
    CHECK_EQ(fp_labels_parse(&l, "{0: 'a", "x"), FP_ECORRUPT);
    CHECK(strstr(fp_error_detail(FP_ECORRUPT), "not closed") != NULL);
    CHECK_EQ(fp_labels_parse(&l, "{0: person}", "x"), FP_ECORRUPT);
    CHECK(strstr(fp_error_detail(FP_ECORRUPT), "expected a quoted class name at byte 4") != NULL);
    CHECK_EQ(fp_labels_parse(&l, "{'a': 0}", "x"), FP_ECORRUPT);
    CHECK(strstr(fp_error_detail(FP_ECORRUPT), "expected a class number at byte 1") != NULL);
    CHECK_EQ(fp_labels_parse(&l, "{}", "x"), FP_ECORRUPT);
    CHECK(strstr(fp_error_detail(FP_ECORRUPT), "no class names") != NULL);
    CHECK_EQ(fp_labels_parse(&l, "{0: 'a'} extra", "x"), FP_ECORRUPT);
    CHECK(strstr(fp_error_detail(FP_ECORRUPT), "expected the end of the text at byte 9") != NULL);
    CHECK_EQ(fp_labels_parse(&l, "{0: 'a' 1: 'b'}", "x"), FP_ECORRUPT);
    CHECK_EQ(fp_labels_parse(&l, "{99999999999: 'a'}", "x"), FP_ECORRUPT);
    CHECK_EQ(fp_labels_parse(&l, "{0: 'a\\q'}", "x"), FP_ECORRUPT);
    CHECK_EQ(fp_labels_parse(&l, "{0: 'a\\x4'}", "x"), FP_ECORRUPT);
    CHECK(strstr(fp_error_detail(FP_ECORRUPT), "bad \\x escape at byte 6") != NULL);
    CHECK_EQ(fp_labels_parse(&l, "{0: '\\ud83d'}", "x"), FP_ECORRUPT); /* a lone surrogate */
    CHECK_EQ(fp_labels_parse(&l, "{0: '\\x00'}", "x"), FP_ECORRUPT);
    CHECK_EQ(fp_labels_parse(&l, "", "x"), FP_ECORRUPT);
    CHECK_EQ(fp_labels_parse(&l, NULL, "x"), FP_EINVALID);
    CHECK(l == NULL);
}

FP_TEST(labels_metadata_mutations_never_crash)
{
    /* byte flips, truncations and insertions of syntax characters: parse or FP_ECORRUPT, never a crash or leak */
    static const char seed[] = "{0: 'person', 1: \"it's\", 2: 'a\\\\b', 10: 'x', 3: 'c', 4: 'd', 5: 'e', 6: 'f', "
                               "7: 'g', 8: 'h', 9: 'i'}";
    static const char alphabet[] = "{}[]:,'\"\\ 0123456789abn\t";
    char buf[256];
    uint64_t s = 42;
    int parsed = 0, rejected = 0;
    for (int round = 0; round < 20000; round++) {
        size_t len = sizeof(seed) - 1;
        memcpy(buf, seed, len + 1);
        int edits = 1 + round % 4;
        for (int e = 0; e < edits; e++) {
            s = s * 6364136223846793005ull + 1442695040888963407ull;
            size_t at = (size_t)(s >> 33) % len;
            char ch = alphabet[(s >> 20) % (sizeof(alphabet) - 1)];
            switch ((s >> 12) % 3) {
            case 0: buf[at] = ch; break;
            case 1: len = at; buf[len] = '\0'; break;
            default:
                if (len + 1 < sizeof(buf)) {
                    memmove(buf + at + 1, buf + at, len - at + 1);
                    buf[at] = ch;
                    len++;
                }
            }
            if (len == 0)
                break;
        }
        FpLabels *l = NULL;
        int rc = fp_labels_parse(&l, buf, "fuzz");
        if (rc == 0) {
            CHECK(fp_labels_count(l) >= 1);
            for (int i = 0; i < fp_labels_count(l); i++)
                CHECK(fp_labels_name(l, i) != NULL);
            fp_labels_destroy(&l);
            parsed++;
        } else {
            CHECK_MSG(rc == FP_ECORRUPT || rc == FP_ETOO_LARGE, "'%s': unexpected code %d", buf, rc);
            CHECK(l == NULL);
            rejected++;
        }
    }
    CHECK(parsed > 100 && rejected > 1000); /* both outcomes were exercised */
}
