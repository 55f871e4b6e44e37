/*
 * Unit tests for guest/seed: the files of each bootstrap provider against
 * golden files in tests/unit/golden/seed/<case>/<file> (an "error" file
 * when the case must fail; VMSVC_TEST_REGENERATE=1 rewrites them), every
 * conformance manifest with a bootstrap section, network-config, the raw
 * cloud-config encodings and the gzip bomb, Secret errors (whose messages
 * never carry a Secret's value), the mutual-exclusion rules, the size
 * limit, and the ISO image written and read back (volume descriptors
 * parsed here, contents extracted with xorriso when it is installed).
 *
 * Every YAML file rendered is parsed back with yaml_parse and every XML
 * file with libxml2 (check_parses), before anything else is asserted.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <errno.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <libxml/parser.h>
#include <libxml/xpath.h>
#include <libxml/xpathInternals.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "guest/seed.h"
#include "model/yaml.h"
#include "util/jsonutil.h"

#define UID "6a1f6c3e-5b1d-4f7a-9c7e-000000000001"
#define SENTINEL "S3NTINEL-VALUE"

/* ---- helpers ---- */

static const char *source_root(void)
{
    static char *root;
    const char *schemas = getenv("VMSVC_TEST_SCHEMAS");

    if (!schemas)
        fail_msg("VMSVC_TEST_SCHEMAS is not set (run through meson test)");
    if (!root)
        root = g_path_get_dirname(schemas);
    return root;
}

static bool regenerate(void)
{
    const char *v = getenv("VMSVC_TEST_REGENERATE");
    return v && !strcmp(v, "1");
}

/* A test document written as YAML. */
static json_t *Y(const char *text)
{
    err_t err = ERR_INIT;
    json_t *v = yaml_parse(text, strlen(text), &err);

    if (!v)
        fail_msg("test YAML does not parse: %s\n%s", err.msg, text);
    return v;
}

static const seed_file_t *file_get(GPtrArray *files, const char *name)
{
    for (guint i = 0; i < files->len; i++) {
        const seed_file_t *f = g_ptr_array_index(files, i);
        if (!strcmp(f->name, name))
            return f;
    }
    return NULL;
}

/* The contents of file `name`, NUL-terminated (g_free). */
static char *file_text(GPtrArray *files, const char *name)
{
    const seed_file_t *f = file_get(files, name);
    gsize n;
    const char *d;

    if (!f)
        fail_msg("the seed has no file %s", name);
    d = g_bytes_get_data(f->data, &n);
    return g_strndup(d, n);
}

static bool is_xml(const char *name)
{
    return g_str_has_suffix(name, ".xml");
}

static xmlDocPtr xml_parse(const char *data, size_t n, const char *name)
{
    xmlDocPtr doc = xmlReadMemory(data, (int)n, name, NULL,
                                  XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    if (!doc)
        fail_msg("%s does not parse as XML", name);
    return doc;
}

/* Parse every file back: XML with libxml2, YAML (meta-data,
 * network-config and cloud-config user-data) with yaml_parse. */
static void check_parses(GPtrArray *files)
{
    for (guint i = 0; i < files->len; i++) {
        const seed_file_t *f = g_ptr_array_index(files, i);
        gsize n;
        const char *d = g_bytes_get_data(f->data, &n);
        err_t err = ERR_INIT;
        json_t *v;

        if (is_xml(f->name)) {
            xmlFreeDoc(xml_parse(d, n, f->name));
            continue;
        }
        if (!strcmp(f->name, "user-data") && !(n >= 13 && !memcmp(d, "#cloud-config", 13)))
            continue; /* a script or another format: not YAML */
        v = yaml_parse(d, n, &err);
        if (!v)
            fail_msg("%s does not parse back as YAML: %s", f->name, err.msg);
        if (!json_is_object(v))
            fail_msg("%s is not a YAML mapping", f->name);
        json_decref(v);
    }
}

static GPtrArray *render_ok(const json_t *vm, const json_t *secrets, const json_t *macs)
{
    err_t err = ERR_INIT;
    GPtrArray *files = seed_render(vm, secrets, macs, &err);

    if (!files)
        fail_msg("seed_render failed: %s", err.msg);
    assert_false(err_is_set(&err));
    check_parses(files);
    return files;
}

/* seed_render must fail with `code`; returns the message (g_free). */
static char *render_fails(const json_t *vm, const json_t *secrets, const json_t *macs,
                          err_code_t code)
{
    err_t err = ERR_INIT;
    GPtrArray *files = seed_render(vm, secrets, macs, &err);
    char *msg;

    if (files) {
        g_ptr_array_unref(files);
        fail_msg("seed_render should fail with %s", err_reason(code));
    }
    if (err.code != code)
        fail_msg("seed_render failed with %s (%s), want %s", err_reason(err.code), err.msg,
                 err_reason(code));
    /* Whole sentences, or Kubernetes' field messages. */
    assert_true(strlen(err.msg) > 0);
    msg = g_strdup(err.msg);
    err_clear(&err);
    return msg;
}

static json_t *yaml_file(GPtrArray *files, const char *name)
{
    g_autofree char *text = file_text(files, name);
    err_t err = ERR_INIT;
    json_t *v = yaml_parse(text, strlen(text), &err);

    if (!v)
        fail_msg("%s does not parse: %s", name, err.msg);
    return v;
}

static void assert_json(const json_t *got, const char *want_yaml)
{
    json_t *want = Y(want_yaml);

    if (!json_equal(got, want)) {
        char *g = json_dumps(got, JSON_INDENT(1) | JSON_ENCODE_ANY);
        char *w = json_dumps(want, JSON_INDENT(1) | JSON_ENCODE_ANY);
        fail_msg("got %s\nwant %s", g, w);
    }
    json_decref(want);
}

/* ---- golden files ---- */

static char *golden_dir(const char *name)
{
    return g_build_filename(source_root(), "tests", "unit", "golden", "seed", name, NULL);
}

static void golden_clear(const char *dir)
{
    GDir *d = g_dir_open(dir, 0, NULL);
    const char *n;

    if (!d)
        return;
    while ((n = g_dir_read_name(d))) {
        g_autofree char *p = g_build_filename(dir, n, NULL);
        g_unlink(p);
    }
    g_dir_close(d);
}

/* Compare `n` named texts with the golden files of `name`, or rewrite them. */
static void golden_compare(const char *name, const char *const *names, const char *const *texts,
                           const size_t *lens, size_t n)
{
    g_autofree char *dir = golden_dir(name);
    GDir *d;
    const char *entry;

    if (regenerate()) {
        g_mkdir_with_parents(dir, 0755);
        golden_clear(dir);
        for (size_t i = 0; i < n; i++) {
            g_autofree char *p = g_build_filename(dir, names[i], NULL);
            GError *ge = NULL;
            if (!g_file_set_contents(p, texts[i], (gssize)lens[i], &ge))
                fail_msg("cannot write %s: %s", p, ge->message);
        }
        return;
    }
    for (size_t i = 0; i < n; i++) {
        g_autofree char *p = g_build_filename(dir, names[i], NULL);
        g_autofree char *want = NULL;
        gsize wn;

        if (!g_file_get_contents(p, &want, &wn, NULL))
            fail_msg("golden file %s is missing (VMSVC_TEST_REGENERATE=1 writes it)", p);
        if (wn != lens[i] || memcmp(want, texts[i], wn))
            fail_msg("%s differs from its golden file %s; got:\n%.*s", names[i], p,
                     (int)lens[i], texts[i]);
    }
    /* No golden file that the render no longer produces. */
    d = g_dir_open(dir, 0, NULL);
    assert_non_null(d);
    while ((entry = g_dir_read_name(d))) {
        bool found = false;
        for (size_t i = 0; i < n; i++)
            found |= !strcmp(entry, names[i]);
        if (!found)
            fail_msg("golden file %s/%s was not rendered", dir, entry);
    }
    g_dir_close(d);
}

static void golden_files(const char *name, GPtrArray *files)
{
    const char **names = g_new0(const char *, files->len + 1);
    const char **texts = g_new0(const char *, files->len + 1);
    size_t *lens = g_new0(size_t, files->len + 1);

    for (guint i = 0; i < files->len; i++) {
        const seed_file_t *f = g_ptr_array_index(files, i);
        gsize n;
        names[i] = f->name;
        texts[i] = g_bytes_get_data(f->data, &n);
        lens[i] = n;
    }
    golden_compare(name, names, texts, lens, files->len);
    g_free(names);
    g_free(texts);
    g_free(lens);
}

static void golden_error(const char *name, const err_t *err)
{
    g_autofree char *text = g_strdup_printf("%s: %s\n", err_reason(err->code), err->msg);
    const char *names[] = {"error"};
    const char *texts[] = {text};
    size_t lens[] = {strlen(text)};

    golden_compare(name, names, texts, lens, 1);
}

/* Render `vm` and compare with the golden case `name`. */
static GPtrArray *golden_render(const char *name, const json_t *vm, const json_t *secrets,
                                const json_t *macs)
{
    GPtrArray *files = render_ok(vm, secrets, macs);

    golden_files(name, files);
    return files;
}

/* ---- XML queries ---- */

static char *xpath_str(xmlDocPtr doc, const char *expr)
{
    xmlXPathContextPtr ctx = xmlXPathNewContext(doc);
    xmlXPathObjectPtr r;
    xmlChar *s;
    char *out;

    xmlXPathRegisterNs(ctx, BAD_CAST "u", BAD_CAST "urn:schemas-microsoft-com:unattend");
    xmlXPathRegisterNs(ctx, BAD_CAST "wcm",
                       BAD_CAST "http://schemas.microsoft.com/WMIConfig/2002/State");
    xmlXPathRegisterNs(ctx, BAD_CAST "oe", BAD_CAST "http://schemas.dmtf.org/ovf/environment/1");
    r = xmlXPathEvalExpression(BAD_CAST expr, ctx);
    if (!r)
        fail_msg("bad XPath %s", expr);
    s = xmlXPathCastToString(r);
    out = g_strdup((const char *)s);
    xmlFree(s);
    xmlXPathFreeObject(r);
    xmlXPathFreeContext(ctx);
    return out;
}

static void assert_xpath(xmlDocPtr doc, const char *expr, const char *want)
{
    g_autofree char *got = xpath_str(doc, expr);
    if (strcmp(got, want))
        fail_msg("%s is \"%s\", want \"%s\"", expr, got, want);
}

static xmlDocPtr xml_file(GPtrArray *files, const char *name)
{
    const seed_file_t *f = file_get(files, name);
    gsize n;
    const char *d;

    if (!f)
        fail_msg("the seed has no file %s", name);
    d = g_bytes_get_data(f->data, &n);
    return xml_parse(d, n, name);
}

/* ---- meta-data ---- */

static void test_meta_data(void **state)
{
    json_t *vm = Y("metadata: {name: my-vm, uid: " UID "}\n"
                   "spec: {bootstrap: {cloudInit: {cloudConfig: {}}}}\n");
    json_t *secrets = json_object(), *md;
    GPtrArray *files;
    g_autofree char *msg = NULL;

    files = render_ok(vm, secrets, NULL);
    md = yaml_file(files, "meta-data");
    assert_json(md, "{instance-id: " UID ", local-hostname: my-vm}");
    json_decref(md);
    g_ptr_array_unref(files);

    /* instanceUUID before the uid, biosUUID before both, instanceID first;
     * a host name that YAML would read as a boolean stays a string. */
    json_path_set_new(vm, "status.instanceUUID", json_string("inst-uuid"));
    json_path_set_new(vm, "spec.network.hostName", json_string("yes"));
    files = render_ok(vm, secrets, NULL);
    md = yaml_file(files, "meta-data");
    assert_json(md, "{instance-id: inst-uuid, local-hostname: 'yes'}");
    json_decref(md);
    g_ptr_array_unref(files);

    json_path_set_new(vm, "status.biosUUID", json_string("bios-uuid"));
    files = render_ok(vm, secrets, NULL);
    md = yaml_file(files, "meta-data");
    assert_string_equal(json_string_value(json_object_get(md, "instance-id")), "bios-uuid");
    json_decref(md);
    g_ptr_array_unref(files);

    json_path_set_new(vm, "spec.bootstrap.cloudInit.instanceID", json_string("iid-0001"));
    files = render_ok(vm, secrets, NULL);
    md = yaml_file(files, "meta-data");
    assert_string_equal(json_string_value(json_object_get(md, "instance-id")), "iid-0001");
    json_decref(md);
    g_ptr_array_unref(files);

    /* Without any id there is no seed. */
    json_decref(vm);
    vm = Y("metadata: {name: my-vm}\nspec: {bootstrap: {cloudInit: {}}}\n");
    msg = render_fails(vm, secrets, NULL, ERR_INVALID);
    assert_non_null(strstr(msg, "metadata.uid"));
    json_decref(vm);
    json_decref(secrets);
}

/* ---- cloud-init ---- */

static const char cloud_config_vm[] =
    "apiVersion: vmoperator.vmware.com/v1alpha2\n"
    "kind: VirtualMachine\n"
    "metadata: {name: web-1, namespace: ns, uid: " UID "}\n"
    "spec:\n"
    "  network:\n"
    "    interfaces:\n"
    "    - name: eth0\n"
    "      addresses: [192.168.10.5/24]\n"
    "      gateway4: 192.168.10.1/24\n"
    "      nameservers: [192.168.10.2]\n"
    "  bootstrap:\n"
    "    cloudInit:\n"
    "      sshAuthorizedKeys: [ssh-ed25519 AAAAC3NzaC1lZDI1NTE5 default@example]\n"
    "      cloudConfig:\n"
    "        defaultUserEnabled: true\n"
    "        ssh_pwauth: false\n"
    "        timezone: Etc/UTC\n"
    "        bootcmd: [a key the renderer must drop]\n"
    "        users:\n"
    "        - name: jdoe\n"
    "          gecos: 'John: Doe #1'\n"
    "          primary_group: jdoe\n"
    "          groups: [users, wheel]\n"
    "          passwd: {name: creds, key: jdoe-passwd}\n"
    "          hashed_passwd: {name: creds, key: jdoe-hash}\n"
    "          ssh_authorized_keys: [ssh-rsa AAAAB3NzaC1yc2E jdoe@example]\n"
    "          sudo: ALL=(ALL) NOPASSWD:ALL\n"
    "          shell: /bin/bash\n"
    "          lock_passwd: false\n"
    "          uid: 1001\n"
    "          inactive: 30\n"
    "          expiredate: '2032-09-01'\n"
    "          unknownKey: dropped\n"
    "        - name: svc\n"
    "          system: true\n"
    "          groups: adm, docker\n"
    "          no_create_home: true\n"
    "        write_files:\n"
    "        - path: /etc/motd\n"
    "          content: |\n"
    "            Hello, world.\n"
    "            Second line: \"quoted\" & <tagged>\n"
    "          permissions: '0644'\n"
    "          owner: root:root\n"
    "        - path: /etc/app/token\n"
    "          content: {name: creds, key: token}\n"
    "          permissions: '0600'\n"
    "          append: true\n"
    "          defer: true\n"
    "        runcmd:\n"
    "        - ls /\n"
    "        - [ls, -a, -l, /]\n"
    "        - echo 'yes' > /tmp/on\n";

static json_t *cloud_config_secrets(void)
{
    return Y("creds:\n"
             "  jdoe-passwd: 'p@ss: word'\n"
             "  jdoe-hash: $6$salt$abcdefghijklmnop\n"
             "  token: \"tok-1\\nsecond line\\n\"\n");
}

static void test_cloud_config(void **state)
{
    json_t *vm = Y(cloud_config_vm);
    json_t *secrets = cloud_config_secrets();
    json_t *macs = Y("['00:50:56:AA:BB:01']");
    GPtrArray *files = golden_render("cloudinit-cloudconfig", vm, secrets, macs);
    g_autofree char *ud = file_text(files, "user-data");
    json_t *doc = yaml_file(files, "user-data"), *users, *wf;

    assert_true(g_str_has_prefix(ud, "#cloud-config\n"));
    assert_int_equal(files->len, 3);
    assert_string_equal(((seed_file_t *)g_ptr_array_index(files, 0))->name, "meta-data");
    assert_string_equal(((seed_file_t *)g_ptr_array_index(files, 1))->name, "user-data");
    assert_string_equal(((seed_file_t *)g_ptr_array_index(files, 2))->name, "network-config");

    users = json_object_get(doc, "users");
    assert_string_equal(json_string_value(json_array_get(users, 0)), "default");
    assert_string_equal(json_path_str(json_array_get(users, 1), "passwd"), "p@ss: word");
    assert_string_equal(json_path_str(json_array_get(users, 1), "hashed_passwd"),
                        "$6$salt$abcdefghijklmnop");
    assert_string_equal(json_path_str(json_array_get(users, 1), "gecos"), "John: Doe #1");
    assert_string_equal(json_path_str(json_array_get(users, 1), "inactive"), "30");
    assert_string_equal(json_path_str(json_array_get(users, 1), "expiredate"), "2032-09-01");
    assert_null(json_object_get(json_array_get(users, 1), "unknownKey"));
    assert_null(json_object_get(doc, "bootcmd"));
    assert_json(json_object_get(doc, "ssh_authorized_keys"),
                "[ssh-ed25519 AAAAC3NzaC1lZDI1NTE5 default@example]");
    wf = json_object_get(doc, "write_files");
    assert_string_equal(json_path_str(json_array_get(wf, 0), "content"),
                        "Hello, world.\nSecond line: \"quoted\" & <tagged>\n");
    assert_string_equal(json_path_str(json_array_get(wf, 0), "permissions"), "0644");
    assert_string_equal(json_path_str(json_array_get(wf, 1), "content"), "tok-1\nsecond line\n");
    assert_json(json_object_get(doc, "runcmd"), "[ls /, [ls, -a, -l, /], echo 'yes' > /tmp/on]");
    assert_true(json_is_false(json_object_get(doc, "ssh_pwauth")));

    json_decref(doc);
    g_ptr_array_unref(files);
    json_decref(vm);
    json_decref(secrets);
    json_decref(macs);
}

/* Content from a Secret that is not text is base64'd for YAML. */
static void test_write_files_binary(void **state)
{
    json_t *vm = Y("metadata: {name: v, uid: " UID "}\n"
                   "spec:\n"
                   "  bootstrap:\n"
                   "    cloudInit:\n"
                   "      cloudConfig:\n"
                   "        write_files:\n"
                   "        - {path: /bin/blob, content: {name: s, key: bin}}\n"
                   "        - {path: /bin/blob.gz, encoding: gz, content: {name: s, key: bin}}\n");
    json_t *secrets = json_pack("{s:{s:o}}", "s", "bin", json_stringn_nocheck("\x00\xff\x01", 3));
    GPtrArray *files = render_ok(vm, secrets, NULL);
    json_t *doc = yaml_file(files, "user-data");
    json_t *wf = json_object_get(doc, "write_files");
    g_autofree char *msg = NULL;

    assert_json(wf, "[{path: /bin/blob, encoding: b64, content: AP8B},"
                    " {path: /bin/blob.gz, encoding: gz+b64, content: AP8B}]");
    json_decref(doc);
    g_ptr_array_unref(files);

    /* base64 claimed but the value is binary: refused, without the value. */
    json_path_set_new(json_array_get(json_path_get(vm, "spec.bootstrap.cloudInit.cloudConfig."
                                                       "write_files"),
                                     1),
                      "encoding", json_string("b64"));
    msg = render_fails(vm, secrets, NULL, ERR_INVALID);
    assert_non_null(strstr(msg, "write_files[1].content"));
    json_decref(vm);
    json_decref(secrets);
}

static void test_cloud_config_types(void **state)
{
    static const struct {
        const char *yaml, *field;
    } cases[] = {
        {"runcmd: [ls, [ls, 1]]", "cloudConfig.runcmd[1]"},
        {"runcmd: [{a: b}]", "cloudConfig.runcmd[0]"},
        {"runcmd: ls", "cloudConfig.runcmd"},
        {"users: [{name: a, groups: {x: y}}]", "cloudConfig.users[0].groups"},
        {"users: [{name: a, uid: abc}]", "cloudConfig.users[0].uid"},
        {"users: [{gecos: nameless}]", "cloudConfig.users[0].name"},
        {"users: [{name: a, passwd: 7}]", "cloudConfig.users[0].passwd"},
        {"write_files: [{content: x}]", "cloudConfig.write_files[0].path"},
        {"write_files: [{path: rel/path}]", "cloudConfig.write_files[0].path"},
        {"write_files: [{path: /a, content: [x]}]", "cloudConfig.write_files[0].content"},
        {"ssh_pwauth: maybe", "cloudConfig.ssh_pwauth"},
    };
    json_t *secrets = json_object();

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *text = g_strdup_printf(
            "metadata: {name: v, uid: " UID "}\n"
            "spec: {bootstrap: {cloudInit: {cloudConfig: {%s}}}}\n",
            cases[i].yaml);
        json_t *vm = Y(text);
        g_autofree char *msg = render_fails(vm, secrets, NULL, ERR_INVALID);
        if (!strstr(msg, cases[i].field))
            fail_msg("%s: message \"%s\" lacks %s", cases[i].yaml, msg, cases[i].field);
        json_decref(vm);
    }
    json_decref(secrets);
}

static json_t *raw_vm(void)
{
    return Y("metadata: {name: raw, uid: " UID "}\n"
             "spec:\n"
             "  bootstrap:\n"
             "    cloudInit:\n"
             "      rawCloudConfig: {name: data, key: user-data}\n"
             "      sshAuthorizedKeys: [ssh-ed25519 AAAA raw@example]\n");
}

static char *gzip_data(const char *data, size_t n, size_t *out_len)
{
    z_stream zs = {0};
    size_t cap = deflateBound(&zs, (uLong)n) + 64;
    char *out = g_malloc(cap);

    assert_int_equal(deflateInit2(&zs, 9, Z_DEFLATED, 16 + MAX_WBITS, 9, Z_DEFAULT_STRATEGY),
                     Z_OK);
    cap = deflateBound(&zs, (uLong)n) + 64;
    out = g_realloc(out, cap);
    zs.next_in = (Bytef *)data;
    zs.avail_in = (uInt)n;
    zs.next_out = (Bytef *)out;
    zs.avail_out = (uInt)cap;
    assert_int_equal(deflate(&zs, Z_FINISH), Z_STREAM_END);
    *out_len = zs.total_out;
    deflateEnd(&zs);
    return out;
}

/* user-data from rawCloudConfig given as `value`. */
static char *raw_user_data(const char *value, size_t n)
{
    json_t *vm = raw_vm();
    json_t *secrets = json_pack("{s:{s:o}}", "data", "user-data", json_stringn_nocheck(value, n));
    GPtrArray *files = render_ok(vm, secrets, NULL);
    char *ud = file_text(files, "user-data");
    json_t *md = yaml_file(files, "meta-data");

    /* The keys the raw cloud-config cannot carry go to meta-data. */
    assert_json(json_object_get(md, "public-keys"), "[ssh-ed25519 AAAA raw@example]");
    json_decref(md);
    g_ptr_array_unref(files);
    json_decref(vm);
    json_decref(secrets);
    return ud;
}

static void test_raw_cloud_config(void **state)
{
    static const char text[] = "#cloud-config\nusers:\n- default\nruncmd:\n- [ls, /]\n";
    g_autofree char *b64 = g_base64_encode((const guchar *)text, strlen(text));
    g_autofree char *b64_lines = NULL;
    g_autofree char *script_b64 = g_base64_encode((const guchar *)"#!/bin/sh\necho hi\n", 18);
    g_autofree char *gz = NULL, *gz_b64 = NULL, *got = NULL;
    size_t gzn;

    /* Plain text as is. */
    got = raw_user_data(text, strlen(text));
    assert_string_equal(got, text);
    g_free(got);

    /* base64, also with line breaks, decoded. */
    got = raw_user_data(b64, strlen(b64));
    assert_string_equal(got, text);
    g_free(got);
    b64_lines = g_strdup_printf("%.20s\n%s\n", b64, b64 + 20);
    got = raw_user_data(b64_lines, strlen(b64_lines));
    assert_string_equal(got, text);
    g_free(got);
    got = raw_user_data(script_b64, strlen(script_b64));
    assert_string_equal(got, "#!/bin/sh\necho hi\n");
    g_free(got);

    /* gzip+base64 inflated. */
    gz = gzip_data(text, strlen(text), &gzn);
    gz_b64 = g_base64_encode((const guchar *)gz, gzn);
    got = raw_user_data(gz_b64, strlen(gz_b64));
    assert_string_equal(got, text);
    g_free(got);

    /* Text that happens to be valid base64 but decodes to no known format
     * is handed over unchanged. */
    got = raw_user_data("abcd", 4);
    assert_string_equal(got, "abcd");
    g_free(got);
    got = raw_user_data("YWJj\n", 5);
    assert_string_equal(got, "YWJj\n");
    g_free(got);
    got = NULL;
}

static void test_raw_cloud_config_gzip_limits(void **state)
{
    const size_t bomb = (size_t)32 << 20;
    char *zeros = g_malloc0(bomb);
    size_t gzn;
    g_autofree char *gz = gzip_data(zeros, bomb, &gzn);
    g_autofree char *gz_b64 = g_base64_encode((const guchar *)gz, gzn);
    g_autofree char *bad_b64 = NULL;
    json_t *vm = raw_vm();
    json_t *secrets = json_pack("{s:{s:s}}", "data", "user-data", gz_b64);
    g_autofree char *msg = NULL;
    char damaged[64];

    g_free(zeros);
    /* 32 MiB of zeros in ~32 KiB: refused, not inflated. */
    assert_true(gzn < 64 * 1024);
    msg = render_fails(vm, secrets, NULL, ERR_TOO_LARGE);
    assert_non_null(strstr(msg, "rawCloudConfig"));
    assert_null(strstr(msg, gz_b64));
    g_free(msg);

    /* The gzip magic followed by garbage, or cut short. */
    memset(damaged, 'x', sizeof(damaged));
    damaged[0] = 0x1f;
    damaged[1] = (char)0x8b;
    bad_b64 = g_base64_encode((const guchar *)damaged, sizeof(damaged));
    json_path_set_new(secrets, "data.user-data", json_string(bad_b64));
    msg = render_fails(vm, secrets, NULL, ERR_INVALID);
    assert_non_null(strstr(msg, "spec.bootstrap.cloudInit.rawCloudConfig"));
    assert_null(strstr(msg, bad_b64));
    g_free(msg);
    g_free(bad_b64);
    {
        static const char text[] = "#cloud-config\nruncmd: [ls]\n";
        size_t tn;
        g_autofree char *tgz = gzip_data(text, strlen(text), &tn);

        bad_b64 = g_base64_encode((const guchar *)tgz, tn - 6);
        json_path_set_new(secrets, "data.user-data", json_string(bad_b64));
        msg = render_fails(vm, secrets, NULL, ERR_INVALID);
    }
    json_decref(vm);
    json_decref(secrets);
}

/* ---- network-config ---- */

static const char network_vm[] =
    "metadata: {name: net, uid: " UID "}\n"
    "spec:\n"
    "  network:\n"
    "    nameservers: [10.0.0.53, 10.0.0.54]\n"
    "    searchDomains: [corp.example, example]\n"
    "    interfaces:\n"
    "    - name: eth0\n"
    "      guestDeviceName: ens192\n"
    "      addresses: [10.0.0.10/24, '2001:db8::10/64']\n"
    "      gateway4: 10.0.0.1\n"
    "      gateway6: 2001:db8::1/64\n"
    "      mtu: 9000\n"
    "      routes:\n"
    "      - {to: 172.16.0.0/12, via: 10.0.0.254, metric: 100}\n"
    "      - {to: '2001:db8:ff::/48', via: '2001:db8::fe', metric: 200}\n"
    "      nameservers: [1.1.1.1, '2606:4700:4700::1111']\n"
    "      searchDomains: [eth0.example]\n"
    "    - name: eth1\n"
    "      dhcp4: true\n"
    "      dhcp6: false\n"
    "    - name: eth2\n"
    "      addresses: [192.168.5.5/24]\n"
    "  bootstrap:\n"
    "    cloudInit:\n"
    "      cloudConfig: {}\n";

static void test_network_config(void **state)
{
    json_t *vm = Y(network_vm);
    json_t *secrets = json_object();
    /* eth2 has no MAC: it is configured by its name, without match. */
    json_t *macs = Y("['00:50:56:AA:BB:01', '00-50-56-aa-bb-02']");
    GPtrArray *files = golden_render("network-static", vm, secrets, macs);
    json_t *nc = yaml_file(files, "network-config");

    assert_json(nc, "version: 2\n"
                    "ethernets:\n"
                    "  ens192:\n"
                    "    match: {macaddress: '00:50:56:aa:bb:01'}\n"
                    "    set-name: ens192\n"
                    "    addresses: [10.0.0.10/24, '2001:db8::10/64']\n"
                    "    mtu: 9000\n"
                    "    routes:\n"
                    "    - {to: 0.0.0.0/0, via: 10.0.0.1}\n"
                    "    - {to: '::/0', via: '2001:db8::1'}\n"
                    "    - {to: 172.16.0.0/12, via: 10.0.0.254, metric: 100}\n"
                    "    - {to: '2001:db8:ff::/48', via: '2001:db8::fe', metric: 200}\n"
                    "    nameservers:\n"
                    "      addresses: [1.1.1.1, '2606:4700:4700::1111']\n"
                    "      search: [eth0.example]\n"
                    "  eth1:\n"
                    "    match: {macaddress: '00:50:56:aa:bb:02'}\n"
                    "    set-name: eth1\n"
                    "    dhcp4: true\n"
                    "    dhcp6: false\n"
                    "    nameservers:\n"
                    "      addresses: [10.0.0.53, 10.0.0.54]\n"
                    "      search: [corp.example, example]\n"
                    "  eth2:\n"
                    "    addresses: [192.168.5.5/24]\n"
                    "    nameservers:\n"
                    "      addresses: [10.0.0.53, 10.0.0.54]\n"
                    "      search: [corp.example, example]\n");
    json_decref(nc);
    g_ptr_array_unref(files);

    /* Disabled networking: no network-config at all. */
    json_path_set_new(vm, "spec.network.disabled", json_true());
    files = render_ok(vm, secrets, macs);
    assert_null(file_get(files, "network-config"));
    assert_non_null(file_get(files, "meta-data"));
    g_ptr_array_unref(files);
    json_decref(vm);

    /* No interfaces: one eth0 on DHCP, matched by the first MAC. */
    vm = Y("metadata: {name: v, uid: " UID "}\nspec: {bootstrap: {cloudInit: {}}}\n");
    files = render_ok(vm, secrets, macs);
    nc = yaml_file(files, "network-config");
    assert_json(nc, "{version: 2, ethernets: {eth0: {match: {macaddress: '00:50:56:aa:bb:01'},"
                    " set-name: eth0, dhcp4: true}}}");
    json_decref(nc);
    g_ptr_array_unref(files);
    json_decref(vm);
    json_decref(secrets);
    json_decref(macs);
}

static void test_network_errors(void **state)
{
    static const struct {
        const char *iface, *field;
    } cases[] = {
        {"{name: eth0, addresses: [10.0.0.1]}", "interfaces[0].addresses[0]"},
        {"{name: eth0, addresses: [10.0.0.1/33]}", "interfaces[0].addresses[0]"},
        {"{name: eth0, addresses: ['10.0.0.1/24; rm -rf /']}", "interfaces[0].addresses[0]"},
        {"{name: eth0, gateway4: '2001:db8::1'}", "interfaces[0].gateway4"},
        {"{name: eth0, gateway6: 10.0.0.1}", "interfaces[0].gateway6"},
        {"{name: eth0, mtu: 10}", "interfaces[0].mtu"},
        {"{name: eth0, routes: [{to: 10.0.0.0, via: 10.0.0.1, metric: 1}]}",
         "interfaces[0].routes[0].to"},
        {"{name: eth0, routes: [{to: default, via: x, metric: 1}]}",
         "interfaces[0].routes[0].via"},
        {"{name: eth0, nameservers: [dns.example]}", "interfaces[0].nameservers[0]"},
        {"{name: eth0, dhcp4: 'yes'}", "interfaces[0].dhcp4"},
        {"{name: eth0}, {name: eth1, guestDeviceName: eth0}", "interfaces[1]"},
    };
    json_t *secrets = json_object();

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *text = g_strdup_printf(
            "metadata: {name: v, uid: " UID "}\n"
            "spec: {network: {interfaces: [%s]}, bootstrap: {cloudInit: {}}}\n",
            cases[i].iface);
        json_t *vm = Y(text);
        g_autofree char *msg = render_fails(vm, secrets, NULL, ERR_INVALID);
        if (!strstr(msg, cases[i].field))
            fail_msg("%s: message \"%s\" lacks %s", cases[i].iface, msg, cases[i].field);
        json_decref(vm);
    }
    json_decref(secrets);
}

/* ---- LinuxPrep and vAppConfig ---- */

static void test_linux_prep(void **state)
{
    json_t *vm = Y("metadata: {name: lp-vm, namespace: ns, uid: " UID "}\n"
                   "spec:\n"
                   "  network: {hostName: lp-host}\n"
                   "  bootstrap:\n"
                   "    linuxPrep: {hardwareClockIsUTC: true, timeZone: America/Chicago}\n"
                   "    vAppConfig:\n"
                   "      properties:\n"
                   "      - key: hostname\n"
                   "        value: {value: '{{ .V1alpha2.VM.Name }}'}\n"
                   "      - key: motd\n"
                   "        value: {value: \"line 1\\nline 2 \\\"q\\\" & <x> 'a'\"}\n"
                   "      - key: password\n"
                   "        value: {from: {name: vapp, key: pw}}\n"
                   "      - key: empty\n");
    json_t *secrets = Y("vapp: {pw: \"s3cr3t<&>\"}\n");
    json_t *macs = Y("['52:54:00:12:34:56']");
    GPtrArray *files = golden_render("linuxprep-vapp", vm, secrets, macs);
    json_t *ud = yaml_file(files, "user-data");
    xmlDocPtr ovf = xml_file(files, "ovf-env.xml");

    assert_json(ud, "hostname: lp-host\n"
                    "timezone: America/Chicago\n"
                    "write_files:\n"
                    "- {path: /etc/adjtime, content: \"0.0 0 0.0\\n0\\nUTC\\n\", owner: "
                    "'root:root', permissions: '0644'}\n");
    assert_non_null(file_get(files, "meta-data"));
    assert_non_null(file_get(files, "network-config"));
    assert_xpath(ovf, "string(//oe:Property[@oe:key='hostname']/@oe:value)",
                 "{{ .V1alpha2.VM.Name }}");
    assert_xpath(ovf, "string(//oe:Property[@oe:key='motd']/@oe:value)",
                 "line 1\nline 2 \"q\" & <x> 'a'");
    assert_xpath(ovf, "string(//oe:Property[@oe:key='password']/@oe:value)", "s3cr3t<&>");
    assert_xpath(ovf, "string(//oe:Property[@oe:key='empty']/@oe:value)", "");
    assert_xpath(ovf, "count(//oe:Property)", "4");
    xmlFreeDoc(ovf);
    json_decref(ud);
    g_ptr_array_unref(files);

    /* A local hardware clock; no time zone. */
    json_path_set_new(vm, "spec.bootstrap.linuxPrep", Y("{hardwareClockIsUTC: false}"));
    json_path_del(vm, "spec.bootstrap.vAppConfig");
    files = render_ok(vm, secrets, macs);
    ud = yaml_file(files, "user-data");
    assert_json(ud, "hostname: lp-host\n"
                    "write_files:\n"
                    "- {path: /etc/adjtime, content: \"0.0 0 0.0\\n0\\nLOCAL\\n\", owner: "
                    "'root:root', permissions: '0644'}\n");
    assert_null(file_get(files, "ovf-env.xml"));
    json_decref(ud);
    g_ptr_array_unref(files);
    json_decref(vm);

    /* No bootstrap at all: as LinuxPrep with nothing but the host name. */
    vm = Y("metadata: {name: bare, uid: " UID "}\nspec: {}\n");
    files = golden_render("none", vm, secrets, macs);
    ud = yaml_file(files, "user-data");
    assert_json(ud, "{hostname: bare}");
    json_decref(ud);
    g_ptr_array_unref(files);
    json_decref(vm);
    json_decref(secrets);
    json_decref(macs);
}

/* ---- Sysprep ---- */

static const char sysprep_vm[] =
    "metadata: {name: win, namespace: ns, uid: " UID "}\n"
    "spec:\n"
    "  network:\n"
    "    hostName: win-01\n"
    "    nameservers: [10.0.0.53]\n"
    "    searchDomains: [corp.example]\n"
    "    interfaces:\n"
    "    - name: eth0\n"
    "      addresses: [10.0.0.20/24]\n"
    "      gateway4: 10.0.0.1/24\n"
    "  bootstrap:\n"
    "    sysprep:\n"
    "      sysprep:\n"
    "        userData:\n"
    "          fullName: Jane <Admin> & Co\n"
    "          orgName: Lost \"and\" Found\n"
    "          productID: {name: win-secrets, key: product-id}\n"
    "        guiUnattended:\n"
    "          autoLogon: true\n"
    "          autoLogonCount: 2\n"
    "          password: {name: win-secrets}\n"
    "          timeZone: 35\n"
    "        identification:\n"
    "          joinDomain: corp.example\n"
    "          domainAdmin: admin@corp.example\n"
    "          domainAdminPassword: {name: win-secrets}\n"
    "        guiRunOnce:\n"
    "          commands:\n"
    "          - cmd.exe /c echo \"<first & logon>\" > C:\\first.txt\n"
    "          - powershell -Command \"Set-ExecutionPolicy RemoteSigned\"\n"
    "        licenseFilePrintData: {autoMode: perServer, autoUsers: 5}\n";

static json_t *sysprep_secrets(void)
{
    return Y("win-secrets:\n"
             "  product-id: ABCDE-12345-FGHIJ-67890-KLMNO\n"
             "  password: Pa$$w0rd<&>\n"
             "  domain_admin_password: D0main\"pw'\n");
}

static void test_sysprep_inline(void **state)
{
    json_t *vm = Y(sysprep_vm);
    json_t *secrets = sysprep_secrets();
    json_t *macs = Y("['00:50:56:aa:bb:01']");
    GPtrArray *files = golden_render("sysprep-inline", vm, secrets, macs);
    xmlDocPtr doc = xml_file(files, "unattend.xml");
    const char *spec = "/u:unattend/u:settings[@pass='specialize']/u:component";
    const char *oobe = "/u:unattend/u:settings[@pass='oobeSystem']/u:component";
    g_autofree char *q = NULL;

    assert_int_equal(files->len, 1);
#define XP(fmt, base, want)                                                                       \
    do {                                                                                          \
        g_free(q);                                                                                \
        q = g_strdup_printf(fmt, base);                                                           \
        assert_xpath(doc, q, want);                                                               \
    } while (0)
    XP("string(%s[@name='Microsoft-Windows-Shell-Setup']/u:ComputerName)", spec, "win-01");
    XP("string(%s[@name='Microsoft-Windows-Shell-Setup']/u:RegisteredOwner)", spec,
       "Jane <Admin> & Co");
    XP("string(%s[@name='Microsoft-Windows-Shell-Setup']/u:RegisteredOrganization)", spec,
       "Lost \"and\" Found");
    XP("string(%s[@name='Microsoft-Windows-Shell-Setup']/u:ProductKey)", spec,
       "ABCDE-12345-FGHIJ-67890-KLMNO");
    XP("string(%s[@name='Microsoft-Windows-Shell-Setup']/u:TimeZone)", spec,
       "Eastern Standard Time");
    XP("string(%s[@name='Microsoft-Windows-UnattendedJoin']/u:Identification/u:JoinDomain)", spec,
       "corp.example");
    XP("string(%s[@name='Microsoft-Windows-UnattendedJoin']/u:Identification/u:Credentials/"
       "u:Password)",
       spec, "D0main\"pw'");
    XP("string(%s[@name='Microsoft-Windows-TCPIP']/u:Interfaces/u:Interface/u:Identifier)", spec,
       "00-50-56-AA-BB-01");
    XP("string(%s[@name='Microsoft-Windows-TCPIP']//u:UnicastIpAddresses/u:IpAddress)", spec,
       "10.0.0.20/24");
    XP("string(%s[@name='Microsoft-Windows-TCPIP']//u:Route/u:NextHopAddress)", spec, "10.0.0.1");
    XP("string(%s[@name='Microsoft-Windows-DNS-Client']//u:DNSServerSearchOrder/u:IpAddress)",
       spec, "10.0.0.53");
    XP("string(%s[@name='Microsoft-Windows-DNS-Client']/u:DNSSuffixSearchOrder/u:DomainName)",
       spec, "corp.example");
    XP("string(%s[@name='Microsoft-Windows-Shell-Setup']/u:UserAccounts/u:AdministratorPassword/"
       "u:Value)",
       oobe, "Pa$$w0rd<&>");
    XP("string(%s[@name='Microsoft-Windows-Shell-Setup']/u:AutoLogon/u:LogonCount)", oobe, "2");
    XP("string(%s[@name='Microsoft-Windows-Shell-Setup']/u:FirstLogonCommands/"
       "u:SynchronousCommand[u:Order='1']/u:CommandLine)",
       oobe, "cmd.exe /c echo \"<first & logon>\" > C:\\first.txt");
    XP("count(%s[@name='Microsoft-Windows-Shell-Setup']/u:FirstLogonCommands/"
       "u:SynchronousCommand)",
       oobe, "2");
#undef XP
    xmlFreeDoc(doc);
    g_ptr_array_unref(files);
    json_decref(vm);

    /* sysprep: {} from the docs: a minimal answer file. */
    vm = Y("metadata: {name: my-vm, uid: " UID "}\nspec: {bootstrap: {sysprep: {sysprep: {}}}}\n");
    files = render_ok(vm, secrets, macs);
    doc = xml_file(files, "unattend.xml");
    assert_xpath(doc, "string(//u:ComputerName)", "my-vm");
    assert_xpath(doc, "count(//u:AdministratorPassword)", "0");
    xmlFreeDoc(doc);
    g_ptr_array_unref(files);
    json_decref(vm);
    json_decref(secrets);
    json_decref(macs);
}

static void test_sysprep_raw(void **state)
{
    static const char unattend[] =
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        "<unattend xmlns=\"urn:schemas-microsoft-com:unattend\">\n"
        "  <settings pass=\"oobeSystem\"/>\n"
        "</unattend>\n";
    json_t *vm = Y("metadata: {name: win, uid: " UID "}\n"
                   "spec:\n"
                   "  bootstrap:\n"
                   "    sysprep: {rawSysprep: {name: raw, key: unattend}}\n"
                   "    vAppConfig: {rawProperties: props}\n");
    json_t *secrets = json_pack("{s:{s:s},s:{s:s,s:s,s:s}}", "raw", "unattend", unattend, "props",
                                "zeta", "last", "alpha", "first <&>", "mid", "a\"b");
    GPtrArray *files = golden_render("sysprep-raw-vapp", vm, secrets, NULL);
    g_autofree char *got = file_text(files, "unattend.xml");
    xmlDocPtr ovf = xml_file(files, "ovf-env.xml");

    assert_string_equal(got, unattend);
    /* rawProperties: every key of the Secret, sorted. */
    assert_xpath(ovf, "string(//oe:Property[1]/@oe:key)", "alpha");
    assert_xpath(ovf, "string(//oe:Property[1]/@oe:value)", "first <&>");
    assert_xpath(ovf, "string(//oe:Property[3]/@oe:key)", "zeta");
    xmlFreeDoc(ovf);
    g_ptr_array_unref(files);
    json_decref(vm);
    json_decref(secrets);
}

static void test_sysprep_errors(void **state)
{
    static const struct {
        const char *sysprep, *field;
    } cases[] = {
        {"{guiUnattended: {timeZone: 36}}", "guiUnattended.timeZone"},
        {"{guiUnattended: {autoLogonCount: 0}}", "guiUnattended.autoLogonCount"},
        {"{identification: {joinDomain: corp.example}}", "identification.domainAdmin"},
        {"{identification: {joinDomain: corp.example, domainAdmin: a}}",
         "identification.domainAdminPassword"},
        {"{userData: {fullName: \"bell\\a\", orgName: o}}", "userData.fullName"},
        {"{guiRunOnce: {commands: [ok, \"nul\\0\"]}}", "guiRunOnce.commands[1]"},
        {"{licenseFilePrintData: {autoMode: perCore}}", "licenseFilePrintData"},
        {"{guiUnattended: {password: {name: s, key: ctl}}}", "guiUnattended.password"},
    };
    json_t *secrets = json_pack("{s:{s:s}}", "s", "ctl", "bad\x01" SENTINEL);

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *text = g_strdup_printf("metadata: {name: w, uid: " UID "}\n"
                                                "spec: {bootstrap: {sysprep: {sysprep: %s}}}\n",
                                                cases[i].sysprep);
        json_t *vm = Y(text);
        g_autofree char *msg = render_fails(vm, secrets, NULL, ERR_INVALID);
        if (!strstr(msg, cases[i].field))
            fail_msg("%s: message \"%s\" lacks %s", cases[i].sysprep, msg, cases[i].field);
        assert_null(strstr(msg, SENTINEL));
        json_decref(vm);
    }
    json_decref(secrets);
}

/* ---- Secrets ---- */

/* Every kind of reference to a missing Secret or key fails with NotFound,
 * naming the Secret, the key and the field, never a value. */
static void test_secret_errors(void **state)
{
    static const struct {
        const char *bootstrap, *secret, *key, *field;
    } cases[] = {
        {"cloudInit: {cloudConfig: {users: [{name: a, passwd: {name: gone, key: pw}}]}}", "gone",
         "pw", "cloudConfig.users[0].passwd"},
        {"cloudInit: {cloudConfig: {users: [{name: a, hashed_passwd: {name: s, key: nokey}}]}}",
         "s", "nokey", "cloudConfig.users[0].hashed_passwd"},
        {"cloudInit: {cloudConfig: {write_files: [{path: /a, content: {name: s, key: nokey}}]}}",
         "s", "nokey", "cloudConfig.write_files[0].content"},
        {"cloudInit: {rawCloudConfig: {name: gone, key: user-data}}", "gone", "user-data",
         "rawCloudConfig"},
        {"cloudInit: {rawCloudConfig: {name: s, key: user-data}}", "s", "user-data",
         "rawCloudConfig"},
        {"sysprep: {rawSysprep: {name: s, key: unattend}}", "s", "unattend", "rawSysprep"},
        {"sysprep: {sysprep: {userData: {fullName: a, orgName: b, productID: {name: s}}}}", "s",
         "product_id", "userData.productID"},
        {"sysprep: {sysprep: {guiUnattended: {password: {name: gone}}}}", "gone", "password",
         "guiUnattended.password"},
        {"sysprep: {sysprep: {identification: {joinDomain: d, domainAdmin: a, "
         "domainAdminPassword: {name: s}}}}",
         "s", "domain_admin_password", "identification.domainAdminPassword"},
        {"vAppConfig: {properties: [{key: k, value: {from: {name: s, key: nokey}}}]}", "s",
         "nokey", "vAppConfig.properties[0].value.from"},
        {"vAppConfig: {rawProperties: gone}", "gone", NULL, "rawProperties"},
    };
    /* "s" exists with other keys; its values must never be quoted. */
    json_t *secrets = json_pack("{s:{s:s,s:s}}", "s", "other", SENTINEL, "x", SENTINEL "2");

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *text = g_strdup_printf(
            "metadata: {name: v, uid: " UID "}\nspec: {bootstrap: {%s}}\n", cases[i].bootstrap);
        json_t *vm = Y(text);
        g_autofree char *msg = render_fails(vm, secrets, NULL, ERR_NOT_FOUND);
        g_autofree char *qs = g_strdup_printf("\"%s\"", cases[i].secret);
        g_autofree char *qk = cases[i].key ? g_strdup_printf("\"%s\"", cases[i].key) : NULL;

        if (!strstr(msg, qs) || (qk && !strstr(msg, qk)) || !strstr(msg, cases[i].field))
            fail_msg("%s: message \"%s\" should name %s, %s and %s", cases[i].bootstrap, msg, qs,
                     qk ? qk : "-", cases[i].field);
        assert_null(strstr(msg, SENTINEL));
        assert_true(g_str_has_suffix(msg, "."));
        json_decref(vm);
    }
    json_decref(secrets);
}

static void test_secret_refs(void **state)
{
    json_t *vm = Y(cloud_config_vm), *refs;

    refs = seed_secret_refs(vm);
    assert_json(refs, "[creds]");
    json_decref(refs);
    json_decref(vm);

    vm = Y(sysprep_vm);
    json_path_set_new(vm, "spec.bootstrap.vAppConfig",
                      Y("{properties: [{key: a, value: {from: {name: vapp, key: k}}},"
                        " {key: b, value: {value: literal}}]}"));
    refs = seed_secret_refs(vm);
    assert_json(refs, "[win-secrets, vapp]");
    json_decref(refs);
    json_decref(vm);

    vm = Y("spec: {bootstrap: {cloudInit: {rawCloudConfig: {name: raw, key: k}, cloudConfig:"
           " {users: [{name: a, passwd: literal-is-no-secret}],"
           " write_files: [{path: /a, content: text},"
           " {path: /b, content: {name: files, key: f}}]}},"
           " sysprep: {rawSysprep: {name: unattend, key: u}},"
           " vAppConfig: {rawProperties: props}}}\n");
    refs = seed_secret_refs(vm);
    assert_json(refs, "[raw, files, unattend, props]");
    json_decref(refs);
    json_decref(vm);

    vm = Y("spec: {}\n");
    refs = seed_secret_refs(vm);
    assert_json(refs, "[]");
    json_decref(refs);
    json_decref(vm);
}

/* ---- rules ---- */

static void test_validate_bootstrap(void **state)
{
    static const struct {
        const char *bootstrap;
        const char *fields; /* causes' fields, comma-separated; NULL when valid */
    } cases[] = {
        {"{}", NULL},
        {"{cloudInit: {}}", NULL},
        {"{linuxPrep: {}, vAppConfig: {}}", NULL},
        {"{sysprep: {sysprep: {}}, vAppConfig: {properties: []}}", NULL},
        {"{vAppConfig: {}}", NULL},
        {"{cloudInit: null, linuxPrep: {}}", NULL},
        {"{cloudInit: {}, linuxPrep: {}}", "spec.bootstrap.linuxPrep"},
        {"{cloudInit: {}, sysprep: {}}", "spec.bootstrap.sysprep"},
        {"{linuxPrep: {}, sysprep: {}}", "spec.bootstrap.sysprep"},
        {"{cloudInit: {}, linuxPrep: {}, sysprep: {}}",
         "spec.bootstrap.linuxPrep,spec.bootstrap.sysprep"},
        {"{cloudInit: {}, vAppConfig: {}}", "spec.bootstrap.vAppConfig"},
        {"{cloudInit: {cloudConfig: {}, rawCloudConfig: {name: a, key: b}}}",
         "spec.bootstrap.cloudInit.rawCloudConfig"},
        {"{sysprep: {sysprep: {}, rawSysprep: {name: a, key: b}}}",
         "spec.bootstrap.sysprep.rawSysprep"},
        {"{vAppConfig: {properties: [], rawProperties: p}}",
         "spec.bootstrap.vAppConfig.rawProperties"},
        {"{sysprep: {sysprep: {identification: {joinDomain: d, joinWorkgroup: w}}}}",
         "spec.bootstrap.sysprep.sysprep.identification.joinWorkgroup"},
    };
    json_t *secrets = json_object();

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *text = g_strdup_printf(
            "metadata: {name: v, uid: " UID "}\nspec: {bootstrap: %s}\n", cases[i].bootstrap);
        json_t *vm = Y(text);
        err_t err = ERR_INIT;
        int rc = seed_validate_bootstrap(vm, &err);

        if (!cases[i].fields) {
            if (rc != 0)
                fail_msg("%s should be valid: %s", cases[i].bootstrap, err.msg);
        } else {
            g_auto(GStrv) fields = g_strsplit(cases[i].fields, ",", -1);
            g_autofree char *msg = NULL;

            if (rc != -1 || err.code != ERR_INVALID)
                fail_msg("%s should be invalid", cases[i].bootstrap);
            assert_int_equal(json_array_size(err.causes), g_strv_length(fields));
            for (guint k = 0; fields[k]; k++) {
                json_t *cause = json_array_get(err.causes, k);
                assert_string_equal(json_string_value(json_object_get(cause, "field")), fields[k]);
                assert_string_equal(json_string_value(json_object_get(cause, "reason")),
                                    "FieldValueForbidden");
                assert_non_null(strstr(err.msg, fields[k]));
            }
            /* seed_render refuses the same VM. */
            msg = render_fails(vm, secrets, NULL, ERR_INVALID);
            assert_non_null(strstr(msg, fields[0]));
        }
        err_clear(&err);
        json_decref(vm);
    }
    json_decref(secrets);
}

/* ---- limits ---- */

static void test_size_limit(void **state)
{
    const size_t big = (size_t)9 << 20;
    char *data = g_malloc(big + 1);
    json_t *vm = Y("metadata: {name: v, uid: " UID "}\n"
                   "spec:\n"
                   "  bootstrap:\n"
                   "    cloudInit:\n"
                   "      cloudConfig:\n"
                   "        write_files:\n"
                   "        - {path: /a, content: {name: s, key: big}}\n");
    json_t *secrets, *wf;
    g_autofree char *msg = NULL;
    GPtrArray *files;

    memset(data, 'a', big);
    data[big] = '\0';
    secrets = json_pack("{s:{s:s}}", "s", "big", data);
    g_free(data);

    /* 9 MiB fits. */
    files = render_ok(vm, secrets, NULL);
    g_ptr_array_unref(files);

    /* Twice that does not. */
    wf = json_path_get(vm, "spec.bootstrap.cloudInit.cloudConfig.write_files");
    json_array_append_new(wf, Y("{path: /b, content: {name: s, key: big}}"));
    msg = render_fails(vm, secrets, NULL, ERR_TOO_LARGE);
    assert_non_null(strstr(msg, "16 MiB"));
    json_decref(vm);
    json_decref(secrets);
}

/* ---- conformance manifests ---- */

static const char *conformance_dir(void)
{
    static char *dir;
    const char *env = getenv("VMSVC_TEST_CONFORMANCE");

    if (!dir) {
        if (env)
            dir = g_strdup(env);
        else {
            g_autofree char *parent = g_path_get_dirname(source_root());
            dir = g_build_filename(parent, "shared", "conformance", "vm-operator-docs", NULL);
        }
    }
    return dir;
}

/* The documents of a YAML stream ("---" lines between them). */
static void read_docs(const char *path, GPtrArray *out)
{
    g_autofree char *text = NULL;
    g_auto(GStrv) lines = NULL;
    GString *cur = g_string_new(NULL);

    if (!g_file_get_contents(path, &text, NULL, NULL))
        fail_msg("cannot read %s", path);
    lines = g_strsplit(text, "\n", -1);
    for (guint i = 0;; i++) {
        bool end = !lines[i];
        if (end || g_str_has_prefix(lines[i], "---")) {
            err_t err = ERR_INIT;
            json_t *v = yaml_parse(cur->str, cur->len, &err);
            if (!v)
                fail_msg("%s does not parse: %s", path, err.msg);
            if (json_is_object(v))
                g_ptr_array_add(out, v);
            else
                json_decref(v);
            g_string_truncate(cur, 0);
            if (end)
                break;
            continue;
        }
        g_string_append(cur, lines[i]);
        g_string_append_c(cur, '\n');
    }
    g_string_free(cur, TRUE);
}

/* Add a Secret's data (base64) and stringData to secrets[namespace][name]. */
static void add_secret(json_t *by_ns, const json_t *s, const char *path)
{
    const char *ns = json_path_str(s, "metadata.namespace");
    const char *name = json_path_str(s, "metadata.name");
    json_t *dst = json_object_ensure(json_object_ensure(by_ns, ns ? ns : "default"), name);
    const char *k;
    json_t *v;

    json_object_foreach(json_object_get(s, "data"), k, v) {
        gsize n;
        g_autofree guchar *d = g_base64_decode(json_string_value(v), &n);
        json_t *old = json_object_get(dst, k);
        json_t *val = json_stringn_nocheck((const char *)d, n);
        if (old && !json_equal(old, val))
            fail_msg("%s: Secret %s key %s differs from another manifest's", path, name, k);
        json_object_set_new(dst, k, val);
    }
    json_object_foreach(json_object_get(s, "stringData"), k, v) {
        json_t *old = json_object_get(dst, k);
        if (old && !json_equal(old, v))
            fail_msg("%s: Secret %s key %s differs from another manifest's", path, name, k);
        json_object_set(dst, k, v);
    }
}

static gint cmp_names(gconstpointer a, gconstpointer b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void test_conformance(void **state)
{
    const char *dir = conformance_dir();
    GDir *d = g_dir_open(dir, 0, NULL);
    g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GPtrArray) docs = g_ptr_array_new_with_free_func((GDestroyNotify)json_decref);
    g_autoptr(GPtrArray) doc_names = g_ptr_array_new_with_free_func(g_free);
    json_t *by_ns = json_object();
    const char *n;
    int cases = 0;

    if (!d) {
        json_decref(by_ns);
        skip(); /* the conformance manifests live outside the repository */
    }
    while ((n = g_dir_read_name(d))) {
        if (g_str_has_suffix(n, ".yaml"))
            g_ptr_array_add(names, g_strdup(n));
    }
    g_dir_close(d);
    g_ptr_array_sort(names, cmp_names);
    for (guint i = 0; i < names->len; i++) {
        g_autofree char *path = g_build_filename(dir, g_ptr_array_index(names, i), NULL);
        guint before = docs->len;

        read_docs(path, docs);
        for (guint k = before; k < docs->len; k++) {
            json_t *doc = g_ptr_array_index(docs, k);
            g_ptr_array_add(doc_names, g_strndup(g_ptr_array_index(names, i),
                                                 strlen(g_ptr_array_index(names, i)) - 5));
            if (!g_strcmp0(json_string_value(json_object_get(doc, "kind")), "Secret"))
                add_secret(by_ns, doc, path);
        }
    }
    for (guint k = 0; k < docs->len; k++) {
        json_t *doc = g_ptr_array_index(docs, k);
        const char *ns = json_path_str(doc, "metadata.namespace");
        json_t *secrets = json_object_get(by_ns, ns ? ns : "default");
        json_t *vm, *macs = json_array(), *empty = json_object();
        size_t nif;
        err_t err = ERR_INIT;
        GPtrArray *files;

        if (g_strcmp0(json_string_value(json_object_get(doc, "kind")), "VirtualMachine") ||
            !json_path_get(doc, "spec.bootstrap")) {
            json_decref(macs);
            json_decref(empty);
            continue;
        }
        /* What the server adds: a uid, and a MAC per interface. */
        vm = json_deep_copy(doc);
        json_path_set_new(vm, "metadata.uid", json_string(UID));
        nif = MAX(json_array_size(json_path_get(vm, "spec.network.interfaces")), (size_t)1);
        for (size_t i = 0; i < nif; i++)
            json_array_append_new(macs, json_sprintf("52:54:00:00:00:%02zx", i + 1));
        files = seed_render(vm, secrets ? secrets : empty, macs, &err);
        if (files) {
            check_parses(files);
            golden_files(g_ptr_array_index(doc_names, k), files);
            g_ptr_array_unref(files);
        } else {
            golden_error(g_ptr_array_index(doc_names, k), &err);
        }
        err_clear(&err);
        json_decref(vm);
        json_decref(macs);
        json_decref(empty);
        cases++;
    }
    json_decref(by_ns);
    /* 15 manifests with a bootstrap section when this was written. */
    assert_true(cases >= 10);
}

/* ---- the ISO ---- */

static char *tmp_dir(void)
{
    GError *ge = NULL;
    char *dir = g_dir_make_tmp("test_seed_XXXXXX", &ge);

    if (!dir)
        fail_msg("cannot make a temporary directory: %s", ge->message);
    return dir;
}

static void rm_rf(const char *path)
{
    GDir *d = g_dir_open(path, 0, NULL);
    const char *n;

    if (d) {
        g_chmod(path, 0700);
        while ((n = g_dir_read_name(d))) {
            g_autofree char *p = g_build_filename(path, n, NULL);
            rm_rf(p);
        }
        g_dir_close(d);
        g_rmdir(path);
    } else {
        g_unlink(path);
    }
}

/* The trimmed ASCII volume id of the descriptor at `off`. */
static char *iso_volume_id(const guchar *iso, size_t off)
{
    char id[33];

    memcpy(id, iso + off + 40, 32);
    id[32] = '\0';
    return g_strchomp(g_strdup(id));
}

static uint32_t le32(const guchar *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Names in the Joliet root directory (UCS-2BE, ";1" dropped). */
static GPtrArray *joliet_names(const guchar *iso, size_t len, size_t svd)
{
    const guchar *root = iso + svd + 156;
    size_t lba = le32(root + 2), size = le32(root + 10), off = lba * 2048, end = off + size;
    GPtrArray *names = g_ptr_array_new_with_free_func(g_free);

    assert_true(end <= len);
    while (off < end) {
        size_t rlen = iso[off], nlen;
        GString *name;

        if (rlen == 0) { /* records do not cross sectors */
            off = (off / 2048 + 1) * 2048;
            continue;
        }
        nlen = iso[off + 32];
        if (!(nlen == 1 && iso[off + 33] <= 1)) { /* not . or .. */
            name = g_string_new(NULL);
            for (size_t i = 0; i + 1 < nlen; i += 2) {
                gunichar ch = (gunichar)iso[off + 33 + i] << 8 | iso[off + 34 + i];
                g_string_append_unichar(name, ch);
            }
            if (g_str_has_suffix(name->str, ";1"))
                g_string_truncate(name, name->len - 2);
            g_ptr_array_add(names, g_string_free(name, FALSE));
        }
        off += rlen;
    }
    return names;
}

static bool has_program(const char *p)
{
    g_autofree char *path = g_find_program_in_path(p);
    return path != NULL;
}

static void test_iso(void **state)
{
    json_t *vm = Y(cloud_config_vm);
    json_t *secrets = cloud_config_secrets();
    json_t *macs = Y("['00:50:56:AA:BB:01']");
    GPtrArray *files = render_ok(vm, secrets, macs);
    g_autofree char *dir = tmp_dir();
    g_autofree char *iso_path = g_build_filename(dir, "seed.iso", NULL);
    g_autofree char *out_dir = g_build_filename(dir, "out", NULL);
    g_autofree guchar *iso = NULL;
    g_autoptr(GPtrArray) jnames = NULL;
    gsize len;
    size_t pvd = 0, svd = 0;
    err_t err = ERR_INIT;
    struct stat st;
    GDir *d;
    const char *n;

    /* Over an older image, atomically: only seed.iso is left. */
    assert_true(g_file_set_contents(iso_path, "old", 3, NULL));
    if (seed_iso_write(iso_path, "cidata", files, &err) < 0)
        fail_msg("seed_iso_write: %s", err.msg);
    assert_int_equal(stat(iso_path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    d = g_dir_open(dir, 0, NULL);
    while ((n = g_dir_read_name(d)))
        assert_string_equal(n, "seed.iso");
    g_dir_close(d);

    /* Volume descriptors: the primary's volume id, and a Joliet one. */
    assert_true(g_file_get_contents(iso_path, (char **)&iso, &len, NULL));
    assert_true(len % 2048 == 0 && len > 18 * 2048);
    for (size_t off = 16 * 2048; off + 2048 <= len && iso[off] != 255; off += 2048) {
        assert_memory_equal(iso + off + 1, "CD001", 5);
        if (iso[off] == 1)
            pvd = off;
        if (iso[off] == 2 && iso[off + 88] == '%' && iso[off + 89] == '/' &&
            (iso[off + 90] == '@' || iso[off + 90] == 'C' || iso[off + 90] == 'E'))
            svd = off;
    }
    assert_true(pvd != 0);
    assert_true(svd != 0);
    {
        g_autofree char *id = iso_volume_id(iso, pvd);
        assert_string_equal(id, "cidata");
    }
    jnames = joliet_names(iso, len, svd);
    assert_int_equal(jnames->len, files->len);
    for (guint i = 0; i < files->len; i++) {
        bool found = false;
        for (guint k = 0; k < jnames->len; k++)
            found |= !strcmp(g_ptr_array_index(jnames, k),
                             ((seed_file_t *)g_ptr_array_index(files, i))->name);
        assert_true(found);
    }

    /* Contents, through Rock Ridge, read back by xorriso. */
    if (has_program("xorriso")) {
        const char *argv[] = {"xorriso", "-osirrox", "on", "-indev", iso_path, "-extract", "/",
                              out_dir, NULL};
        gint status;
        GError *ge = NULL;

        if (!g_spawn_sync(NULL, (char **)argv, NULL,
                          G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL |
                              G_SPAWN_STDERR_TO_DEV_NULL,
                          NULL, NULL, NULL, NULL, &status, &ge))
            fail_msg("cannot run xorriso: %s", ge->message);
        assert_true(g_spawn_check_wait_status(status, NULL));
        for (guint i = 0; i < files->len; i++) {
            const seed_file_t *f = g_ptr_array_index(files, i);
            g_autofree char *p = g_build_filename(out_dir, f->name, NULL);
            g_autofree char *got = NULL;
            gsize gn, wn;
            const void *want = g_bytes_get_data(f->data, &wn);

            if (!g_file_get_contents(p, &got, &gn, NULL))
                fail_msg("%s is not in the image (Rock Ridge names)", f->name);
            assert_int_equal(gn, wn);
            assert_memory_equal(got, want, wn);
        }
    } else {
        print_message("xorriso is not installed: contents not read back\n");
    }

    /* A directory that does not exist: an error, and nothing left behind. */
    {
        g_autofree char *bad = g_build_filename(dir, "missing", "seed.iso", NULL);
        assert_int_equal(seed_iso_write(bad, "cidata", files, &err), -1);
        assert_int_equal(err.code, ERR_INTERNAL);
        assert_non_null(strstr(err.msg, bad));
        err_clear(&err);
        assert_int_equal(seed_iso_write(iso_path, "", files, &err), -1);
        err_clear(&err);
    }

    rm_rf(dir);
    g_ptr_array_unref(files);
    json_decref(vm);
    json_decref(secrets);
    json_decref(macs);
}

typedef struct iso_job {
    GPtrArray *files;
    char *dir;
    int index, failures;
} iso_job_t;

static gpointer iso_writer(gpointer p)
{
    iso_job_t *j = p;
    for (int i = 0; i < 25; i++) {
        g_autofree char *name = g_strdup_printf("seed-%d-%d.iso", j->index, i);
        g_autofree char *path = g_build_filename(j->dir, name, NULL);
        err_t err = ERR_INIT;
        struct stat st;
        if (seed_iso_write(path, "cidata", j->files, &err) < 0 || stat(path, &st) < 0 ||
            st.st_size < 18 * 2048)
            j->failures++;
        err_clear(&err);
    }
    return NULL;
}

/* Agents make seeds for many VMs at once: images written from several
 * threads at a time all come out whole (and nothing is freed twice). */
static void test_iso_concurrent(void **state)
{
    json_t *vm = Y(cloud_config_vm);
    json_t *secrets = cloud_config_secrets();
    json_t *macs = Y("['00:50:56:AA:BB:01']");
    GPtrArray *files = render_ok(vm, secrets, macs);
    g_autofree char *dir = tmp_dir();
    iso_job_t jobs[8];
    GThread *threads[8];

    for (int i = 0; i < 8; i++) {
        jobs[i] = (iso_job_t){.files = files, .dir = dir, .index = i};
        threads[i] = g_thread_new("iso", iso_writer, &jobs[i]);
    }
    for (int i = 0; i < 8; i++) {
        g_thread_join(threads[i]);
        assert_int_equal(jobs[i].failures, 0);
    }
    rm_rf(dir);
    g_ptr_array_unref(files);
    json_decref(vm);
    json_decref(secrets);
    json_decref(macs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_meta_data),
        cmocka_unit_test(test_cloud_config),
        cmocka_unit_test(test_write_files_binary),
        cmocka_unit_test(test_cloud_config_types),
        cmocka_unit_test(test_raw_cloud_config),
        cmocka_unit_test(test_raw_cloud_config_gzip_limits),
        cmocka_unit_test(test_network_config),
        cmocka_unit_test(test_network_errors),
        cmocka_unit_test(test_linux_prep),
        cmocka_unit_test(test_sysprep_inline),
        cmocka_unit_test(test_sysprep_raw),
        cmocka_unit_test(test_sysprep_errors),
        cmocka_unit_test(test_secret_errors),
        cmocka_unit_test(test_secret_refs),
        cmocka_unit_test(test_validate_bootstrap),
        cmocka_unit_test(test_size_limit),
        cmocka_unit_test(test_conformance),
        cmocka_unit_test(test_iso),
        cmocka_unit_test(test_iso_concurrent),
    };

    xmlInitParser();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
