/*
 * Unit tests for model/ovf.c: descriptors under tests/unit/golden/ovf/*.ovf
 * are parsed and their summaries compared with the .json beside them (run
 * with VMSVC_TEST_REGENERATE=1 to rewrite them after an intended change);
 * hostile and broken descriptors are refused with a sentence.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <glib.h>
#include <string.h>

#include "model/ovf.h"

static char *golden_dir(void)
{
    const char *src = g_getenv("MESON_SOURCE_ROOT");
    char *cur, *dir;
    if (src)
        return g_build_filename(src, "tests", "unit", "golden", "ovf", NULL);
    /* The test runs from the build directory: find the source by the
     * schemas path meson hands us. */
    cur = g_strdup(g_getenv("VMSVC_TEST_SCHEMAS"));
    if (cur) {
        char *root = g_path_get_dirname(cur);
        dir = g_build_filename(root, "tests", "unit", "golden", "ovf", NULL);
        g_free(root);
        g_free(cur);
        return dir;
    }
    return g_build_filename("tests", "unit", "golden", "ovf", NULL);
}

static void check_golden(const char *name)
{
    char *dir = golden_dir();
    char *in = g_strconcat(dir, "/", name, ".ovf", NULL);
    char *out = g_strconcat(dir, "/", name, ".json", NULL);
    char *text = NULL, *want = NULL, *got;
    gsize len = 0;
    err_t err = ERR_INIT;
    json_t *sum;

    assert_true(g_file_get_contents(in, &text, &len, NULL));
    sum = ovf_parse(text, len, &err);
    if (!sum)
        fail_msg("%s: %s", name, err.msg);
    got = json_dumps(sum, JSON_INDENT(2) | JSON_SORT_KEYS);
    if (!g_strcmp0(g_getenv("VMSVC_TEST_REGENERATE"), "1")) {
        g_file_set_contents(out, got, -1, NULL);
    } else {
        if (!g_file_get_contents(out, &want, NULL, NULL))
            fail_msg("cannot read %s; run with VMSVC_TEST_REGENERATE=1 to make it", out);
        g_strchomp(want);
        if (strcmp(got, want) != 0)
            fail_msg("%s differs from the golden file (VMSVC_TEST_REGENERATE=1 if intended):\n%s",
                     name, got);
    }
    free(got);
    json_decref(sum);
    g_free(text);
    g_free(want);
    g_free(in);
    g_free(out);
    g_free(dir);
}

static void test_golden_photon(void **state)
{
    check_golden("photon");
}

static void test_golden_minimal(void **state)
{
    check_golden("minimal");
}

static void refused(const char *xml, const char *needle)
{
    err_t err = ERR_INIT;
    json_t *j = ovf_parse(xml, strlen(xml), &err);
    if (j)
        fail_msg("accepted: %s", xml);
    assert_int_equal(err.code, ERR_INVALID);
    if (!strstr(err.msg, needle))
        fail_msg("message \"%s\" lacks \"%s\"", err.msg, needle);
}

#define ENV_OPEN "<Envelope xmlns='http://schemas.dmtf.org/ovf/envelope/1'>"
#define VS "<VirtualSystem id='x'/>"

static void test_refusals(void **state)
{
    refused("<Envelope", "not well-formed");
    refused("<Other/>", "not an Envelope");
    refused(ENV_OPEN "</Envelope>", "no VirtualSystem");
    /* Entities: a DTD is refused outright (no billion laughs, no XXE). */
    refused("<?xml version='1.0'?><!DOCTYPE Envelope [<!ENTITY a 'aaaa'><!ENTITY b '&a;&a;'>]>"
            ENV_OPEN VS "</Envelope>",
            "DOCTYPE");
    refused("<?xml version='1.0'?><!DOCTYPE Envelope SYSTEM 'file:///etc/passwd'>" ENV_OPEN VS
            "</Envelope>",
            "DOCTYPE");
    /* File names stay beside the descriptor. */
    refused(ENV_OPEN "<References><File id='f' href='../../etc/shadow'/></References>" VS
            "</Envelope>",
            "not a plain file name");
    refused(ENV_OPEN "<References><File id='f' href='http://x/y.vmdk'/></References>" VS
            "</Envelope>",
            "not a plain file name");
    refused(ENV_OPEN "<DiskSection><Disk diskId='d' fileRef='nope' capacity='1'/></DiskSection>" VS
            "</Envelope>",
            "does not list");
    refused(ENV_OPEN "<DiskSection><Disk diskId='d' capacity='x'/></DiskSection>" VS "</Envelope>",
            "no valid capacity");
    refused(ENV_OPEN "<DiskSection><Disk diskId='d' capacity='9' "
            "capacityAllocationUnits='byte * 2^62'/></DiskSection>" VS "</Envelope>",
            "no valid capacity");
}

static void test_depth_and_size(void **state)
{
    GString *s = g_string_new(ENV_OPEN VS);
    err_t err = ERR_INIT;
    json_t *j;
    for (int i = 0; i < OVF_MAX_DEPTH + 5; i++)
        g_string_append(s, "<a>");
    for (int i = 0; i < OVF_MAX_DEPTH + 5; i++)
        g_string_append(s, "</a>");
    g_string_append(s, "</Envelope>");
    j = ovf_parse(s->str, s->len, &err);
    assert_null(j);
    assert_non_null(strstr(err.msg, "deeper"));
    err_clear(&err);
    j = ovf_parse(s->str, OVF_MAX_BYTES + 1, &err);
    assert_null(j);
    assert_non_null(strstr(err.msg, "larger"));
    err_clear(&err);
    g_string_free(s, TRUE);
}

static void test_href(void **state)
{
    assert_true(ovf_href_ok("disk-1.vmdk"));
    assert_false(ovf_href_ok(""));
    assert_false(ovf_href_ok(".."));
    assert_false(ovf_href_ok(".hidden"));
    assert_false(ovf_href_ok("a/b"));
    assert_false(ovf_href_ok("c:x"));
    assert_false(ovf_href_ok("a\\b"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden_photon),
        cmocka_unit_test(test_golden_minimal),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_depth_and_size),
        cmocka_unit_test(test_href),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
