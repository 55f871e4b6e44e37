/*
 * Unit tests for model/domain: libvirt domain XML rendered from domain specs
 * and compared with golden files under tests/unit/golden/domain/ (run with
 * VMSVC_TEST_REGENERATE=1 to rewrite them after an intended change), every
 * document parsed back with libxml2, escaping of hostile values, spec
 * validation messages, and the pieces read back from libvirt's XML.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <glib.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xpath.h>
#include <libxml/xpathInternals.h>
#include <string.h>

#include "model/domain.h"

static json_t *json_new(const char *text)
{
    json_error_t je;
    json_t *j = json_loads(text, JSON_DECODE_ANY, &je);
    if (!j)
        fail_msg("test JSON does not parse: %s: %s", je.text, text);
    return j;
}

/* The golden directory in the source tree. */
static char *golden_dir(void)
{
    const char *src = g_getenv("VMSVC_TEST_SRCDIR");
    const char *schemas = g_getenv("VMSVC_TEST_SCHEMAS");
    char *root, *dir;

    if (src)
        return g_build_filename(src, "tests", "unit", "golden", "domain", NULL);
    if (schemas) {
        root = g_path_get_dirname(schemas);
        dir = g_build_filename(root, "tests", "unit", "golden", "domain", NULL);
        g_free(root);
        return dir;
    }
    root = g_path_get_dirname(__FILE__);
    dir = g_build_filename(root, "golden", "domain", NULL);
    g_free(root);
    return dir;
}

/* A document that must be well-formed XML; the caller frees it. */
static xmlDocPtr parse_strict(const char *xml)
{
    xmlDocPtr doc = xmlReadMemory(xml, (int)strlen(xml), "test.xml", NULL,
                                  XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    if (!doc)
        fail_msg("rendered XML does not parse:\n%s", xml);
    return doc;
}

/* Compare `xml` with golden file `name`, or rewrite it when regenerating. */
static void check_golden(const char *name, const char *xml)
{
    char *dir = golden_dir();
    char *path = g_build_filename(dir, name, NULL);
    char *want = NULL;
    GError *ge = NULL;

    xmlFreeDoc(parse_strict(xml));
    if (g_strcmp0(g_getenv("VMSVC_TEST_REGENERATE"), "1") == 0) {
        g_mkdir_with_parents(dir, 0755);
        if (!g_file_set_contents(path, xml, -1, &ge))
            fail_msg("cannot write %s: %s", path, ge->message);
    } else if (!g_file_get_contents(path, &want, NULL, &ge)) {
        fail_msg("cannot read golden file %s (%s); run with VMSVC_TEST_REGENERATE=1 to create it",
                 path, ge->message);
    } else if (strcmp(want, xml) != 0) {
        size_t line = 1, i = 0;
        while (want[i] && want[i] == xml[i])
            line += want[i++] == '\n';
        fail_msg("%s differs from the rendered XML at line %zu (run with "
                 "VMSVC_TEST_REGENERATE=1 if the change is intended); rendered:\n%s",
                 path, line, xml);
    }
    g_free(want);
    g_free(path);
    g_free(dir);
}

/* The string value of an XPath expression over `doc`, g_free. */
static char *xpath_str(xmlDocPtr doc, const char *expr)
{
    xmlXPathContextPtr ctx = xmlXPathNewContext(doc);
    xmlXPathObjectPtr r;
    char *out;

    xmlXPathRegisterNs(ctx, BAD_CAST "v", BAD_CAST DOMAIN_XMLNS);
    r = xmlXPathEvalExpression(BAD_CAST expr, ctx);
    assert_non_null(r);
    out = (char *)xmlXPathCastToString(r);
    xmlXPathFreeObject(r);
    xmlXPathFreeContext(ctx);
    {
        char *g = g_strdup(out);
        xmlFree(out);
        return g;
    }
}

static void assert_xpath(xmlDocPtr doc, const char *expr, const char *want)
{
    char *got = xpath_str(doc, expr);
    if (strcmp(got, want))
        fail_msg("%s is \"%s\", want \"%s\"", expr, got, want);
    g_free(got);
}

#define MINIMAL                                                                          \
    "{\"name\":\"vm-minimal\",\"uuid\":\"6a1f0f64-4a4b-4d61-9d8e-0c2f3e4d5a6b\","         \
    "\"vmUID\":\"0b5e8e0e-7f4e-4b9e-8a52-1c0d2e3f4a5b\",\"vcpus\":1,\"memoryMiB\":64}"

static const char *const agent_spec =
    "{\"name\":\"vm-7c9d2\",\"uuid\":\"4213b1c2-55aa-4f3e-9b1d-2c3d4e5f6a7b\","
    "\"vmUID\":\"d4c1a2b3-1111-2222-3333-444455556666\",\"vmName\":\"web-1\","
    "\"vmNamespace\":\"team-a\",\"instanceUUID\":\"5013c2d3-66bb-4a4f-8c2e-3d4e5f6a7b8c\","
    "\"vcpus\":2,\"memoryMiB\":2048,\"firmware\":\"bios\","
    "\"cpu\":{\"sharesPerVCPU\":1024,\"quotaPercent\":50},"
    "\"memoryTune\":{\"locked\":true,\"hardLimitMiB\":2560},"
    "\"disks\":[{\"path\":\"/var/lib/vmsvc/storage/default/d4c1.qcow2\",\"format\":\"qcow2\","
    "\"target\":\"vda\",\"bus\":\"virtio\",\"device\":\"disk\",\"boot\":1},"
    "{\"path\":\"/var/lib/vmsvc/vms/d4c1/seed.iso\",\"format\":\"raw\",\"target\":\"sda\","
    "\"bus\":\"sata\",\"device\":\"cdrom\",\"readonly\":true}],"
    "\"serialLog\":\"/var/lib/vmsvc/vms/d4c1/serial.log\",\"vnc\":true}";

static const char *const full_spec =
    "{\"name\":\"vm-full\",\"uuid\":\"9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a\","
    "\"vmUID\":\"uid-full\",\"vmName\":\"db\",\"vmNamespace\":\"prod\","
    "\"instanceUUID\":\"1e2d3c4b-5a69-4788-9aab-bccddeeff001\","
    "\"vcpus\":4,\"memoryMiB\":4096,\"firmware\":\"efi\","
    "\"nvramPath\":\"/var/lib/vmsvc/vms/full/nvram.fd\","
    "\"cpu\":{\"sharesPerVCPU\":512},\"memoryTune\":{\"hardLimitMiB\":8192},"
    "\"disks\":[{\"path\":\"/pool/full.qcow2\",\"format\":\"qcow2\",\"target\":\"vda\",\"boot\":1},"
    "{\"path\":\"/pool/data.raw\",\"format\":\"raw\",\"target\":\"vdb\",\"readonly\":true},"
    "{\"path\":\"/pool/seed.iso\",\"format\":\"raw\",\"target\":\"sda\",\"device\":\"cdrom\"}],"
    "\"nics\":[{\"mac\":\"52:54:00:AB:cd:01\",\"tap\":\"vmtap0\",\"model\":\"virtio\"},"
    "{\"mac\":\"52:54:00:ab:cd:02\",\"bridge\":\"br-prod\"}],"
    "\"hostdevs\":[{\"type\":\"pci\",\"domain\":0,\"bus\":65,\"slot\":0,\"function\":1},"
    "{\"type\":\"mdev\",\"uuid\":\"c2a3b4d5-e6f7-4819-a2b3-c4d5e6f7a8b9\",\"model\":\"vfio-pci\"}],"
    "\"serialLog\":\"/var/lib/vmsvc/vms/full/serial.log\",\"vnc\":false,"
    "\"guestAgentSocket\":\"/var/lib/vmsvc/vms/full/qga.sock\"}";

static char *render_ok(const char *spec_text, domain_virt_t virt)
{
    json_t *spec = json_new(spec_text);
    err_t err = ERR_INIT;
    char *xml = domain_render(spec, virt, &err);
    if (!xml)
        fail_msg("render failed: %s", err.msg);
    json_decref(spec);
    return xml;
}

static void test_golden_minimal(void **state)
{
    char *xml = render_ok(MINIMAL, DOMAIN_VIRT_QEMU);
    xmlDocPtr doc = parse_strict(xml);

    check_golden("minimal-tcg.xml", xml);
    assert_xpath(doc, "string(/domain/@type)", "qemu");
    assert_xpath(doc, "string(/domain/os/type/@machine)", "q35");
    assert_xpath(doc, "count(/domain/os/loader)", "0");
    assert_xpath(doc, "string(/domain/sysinfo/system/entry[@name='uuid'])",
                 "6a1f0f64-4a4b-4d61-9d8e-0c2f3e4d5a6b");
    assert_xpath(doc, "string(/domain/metadata/v:vm/v:uid)",
                 "0b5e8e0e-7f4e-4b9e-8a52-1c0d2e3f4a5b");
    assert_xpath(doc, "string(/domain/devices/serial/@type)", "pty");
    assert_xpath(doc, "count(/domain/cpu)", "0");
    assert_xpath(doc, "string(/domain/on_poweroff)", "destroy");
    assert_xpath(doc, "string(/domain/on_reboot)", "restart");
    assert_xpath(doc, "string(/domain/on_crash)", "destroy");
    xmlFreeDoc(doc);
    g_free(xml);
}

static void test_golden_agent_kvm(void **state)
{
    char *xml = render_ok(agent_spec, DOMAIN_VIRT_KVM);
    xmlDocPtr doc = parse_strict(xml);

    check_golden("agent-kvm.xml", xml);
    assert_xpath(doc, "string(/domain/@type)", "kvm");
    assert_xpath(doc, "string(/domain/cpu/@mode)", "host-passthrough");
    assert_xpath(doc, "string(/domain/cputune/shares)", "2048");
    assert_xpath(doc, "string(/domain/cputune/quota)", "50000");
    assert_xpath(doc, "string(/domain/cputune/period)", "100000");
    assert_xpath(doc, "count(/domain/memoryBacking/locked)", "1");
    assert_xpath(doc, "string(/domain/memtune/hard_limit)", "2560");
    assert_xpath(doc, "string(/domain/memtune/hard_limit/@unit)", "MiB");
    assert_xpath(doc, "string(/domain/devices/disk[target/@dev='vda']/driver/@type)", "qcow2");
    assert_xpath(doc, "string(/domain/devices/disk[target/@dev='vda']/boot/@order)", "1");
    assert_xpath(doc, "string(/domain/devices/disk[target/@dev='sda']/@device)", "cdrom");
    assert_xpath(doc, "string(/domain/devices/disk[target/@dev='sda']/target/@bus)", "sata");
    assert_xpath(doc, "count(/domain/devices/disk[target/@dev='sda']/readonly)", "1");
    assert_xpath(doc, "string(/domain/devices/serial/@type)", "file");
    assert_xpath(doc, "string(/domain/devices/serial/source/@path)",
                 "/var/lib/vmsvc/vms/d4c1/serial.log");
    assert_xpath(doc, "string(/domain/devices/console/target/@type)", "serial");
    assert_xpath(doc, "string(/domain/devices/graphics/@type)", "vnc");
    assert_xpath(doc, "string(/domain/devices/graphics/@autoport)", "yes");
    assert_xpath(doc, "string(/domain/devices/graphics/listen/@address)", "127.0.0.1");
    assert_xpath(doc, "string(/domain/metadata/v:vm/v:name)", "web-1");
    assert_xpath(doc, "string(/domain/metadata/v:vm/v:namespace)", "team-a");
    assert_xpath(doc, "string(/domain/metadata/v:vm/v:instanceUUID)",
                 "5013c2d3-66bb-4a4f-8c2e-3d4e5f6a7b8c");
    assert_xpath(doc, "string(/domain/title)", "team-a/web-1");
    xmlFreeDoc(doc);
    g_free(xml);
}

static void test_golden_full_efi(void **state)
{
    char *xml = render_ok(full_spec, DOMAIN_VIRT_QEMU);
    xmlDocPtr doc = parse_strict(xml);

    check_golden("full-efi.xml", xml);
    assert_xpath(doc, "count(/domain/os/@firmware)", "0");
    assert_xpath(doc, "string(/domain/os/loader/@readonly)", "yes");
    assert_xpath(doc, "string(/domain/os/loader)", DOMAIN_OVMF_CODE);
    assert_xpath(doc, "string(/domain/os/loader/@type)", "pflash");
    assert_xpath(doc, "string(/domain/os/nvram/@template)", DOMAIN_OVMF_VARS);
    assert_xpath(doc, "string(/domain/os/nvram)", "/var/lib/vmsvc/vms/full/nvram.fd");
    assert_xpath(doc, "string(/domain/cputune/shares)", "2048");
    assert_xpath(doc, "count(/domain/cputune/quota)", "0");
    assert_xpath(doc, "count(/domain/memoryBacking)", "0");
    assert_xpath(doc, "string(/domain/devices/interface[1]/@type)", "ethernet");
    assert_xpath(doc, "string(/domain/devices/interface[1]/target/@dev)", "vmtap0");
    assert_xpath(doc, "string(/domain/devices/interface[1]/mac/@address)", "52:54:00:ab:cd:01");
    assert_xpath(doc, "string(/domain/devices/interface[2]/@type)", "bridge");
    assert_xpath(doc, "string(/domain/devices/interface[2]/source/@bridge)", "br-prod");
    assert_xpath(doc, "string(/domain/devices/interface[2]/model/@type)", "virtio");
    assert_xpath(doc, "string(/domain/devices/hostdev[@type='pci']/source/address/@bus)", "0x41");
    assert_xpath(doc, "string(/domain/devices/hostdev[@type='pci']/source/address/@function)",
                 "0x1");
    assert_xpath(doc, "string(/domain/devices/hostdev[@type='mdev']/source/address/@uuid)",
                 "c2a3b4d5-e6f7-4819-a2b3-c4d5e6f7a8b9");
    assert_xpath(doc, "string(/domain/devices/channel/target/@name)", "org.qemu.guest_agent.0");
    assert_xpath(doc, "count(/domain/devices/graphics)", "0");
    assert_xpath(doc, "count(/domain/devices/disk[target/@dev='vdb']/readonly)", "1");
    /* 2 virtio disks + 2 NICs + 2 hostdevs + serial channel + USB + RNG + spares. */
    assert_xpath(doc, "count(/domain/devices/controller[@model='pcie-root-port'])", "13");
    xmlFreeDoc(doc);
    g_free(xml);
}

static void test_golden_disk(void **state)
{
    json_t *disk = json_new("{\"path\":\"/pool/pvc-1.qcow2\",\"format\":\"qcow2\",\"target\":\"vdc\"}");
    err_t err = ERR_INIT;
    char *xml = domain_render_disk(disk, &err);

    if (!xml)
        fail_msg("%s", err.msg);
    check_golden("disk-vdc.xml", xml);
    g_free(xml);
    json_decref(disk);
}

/* Hostile values: every one must come back from the parser unchanged and
 * never appear raw in the text. */
static void test_escaping(void **state)
{
    static const char *const hostile_path = "/tmp/a<b>&c\"d'e]]>f/disk.qcow2";
    static const char *const hostile_text = "x<y>&z\"q'<!--c--><![CDATA[d]]>&amp;";
    json_t *spec = json_new(MINIMAL);
    err_t err = ERR_INIT;
    xmlDocPtr doc;
    char *xml, *s;

    json_object_set_new(spec, "vmName", json_string(hostile_text));
    json_object_set_new(spec, "vmNamespace", json_string(hostile_text));
    json_object_set_new(spec, "vmUID", json_string(hostile_text));
    json_object_set_new(spec, "instanceUUID", json_string(hostile_text));
    json_object_set_new(spec, "serialLog", json_string(hostile_path));
    json_object_set_new(spec, "disks",
                        json_pack("[{s:s,s:s,s:s}]", "path", hostile_path, "format", "raw",
                                  "target", "vda"));
    xml = domain_render(spec, DOMAIN_VIRT_QEMU, &err);
    if (!xml)
        fail_msg("%s", err.msg);
    check_golden("escaped.xml", xml);
    assert_null(strstr(xml, "a<b>"));
    assert_null(strstr(xml, "x<y>"));
    assert_null(strstr(xml, "<!--c"));
    assert_null(strstr(xml, "<![CDATA["));
    assert_null(strstr(xml, "&c\""));
    doc = parse_strict(xml);
    assert_xpath(doc, "string(/domain/devices/disk/source/@file)", hostile_path);
    assert_xpath(doc, "string(/domain/devices/serial/source/@path)", hostile_path);
    assert_xpath(doc, "string(/domain/metadata/v:vm/v:name)", hostile_text);
    assert_xpath(doc, "string(/domain/metadata/v:vm/v:uid)", hostile_text);
    assert_xpath(doc, "string(/domain/sysinfo/system/entry[@name='serial'])", hostile_text);
    s = g_strdup_printf("%s/%s", hostile_text, hostile_text);
    assert_xpath(doc, "string(/domain/title)", s);
    g_free(s);
    xmlFreeDoc(doc);
    g_free(xml);
    json_decref(spec);
}

/* Apply `key` = `value` (JSON text, or NULL to delete) to a valid spec and
 * expect ERR_INVALID whose message contains `want`. */
static void expect_invalid(const char *base, const char *key, const char *value, const char *want)
{
    json_t *spec = json_new(base);
    err_t err = ERR_INIT;
    char *xml;

    if (value)
        json_object_set_new(spec, key, json_new(value));
    else
        json_object_del(spec, key);
    xml = domain_render(spec, DOMAIN_VIRT_QEMU, &err);
    if (xml)
        fail_msg("%s = %s rendered, but should be invalid", key, value ? value : "(deleted)");
    assert_int_equal(err.code, ERR_INVALID);
    if (!strstr(err.msg, want))
        fail_msg("%s = %s: message \"%s\" lacks \"%s\"", key, value ? value : "(deleted)",
                 err.msg, want);
    assert_int_equal(err.msg[strlen(err.msg) - 1], '.');
    assert_int_equal(domain_spec_validate(spec, &err), -1);
    json_decref(spec);
}

static void test_validation(void **state)
{
    static const struct {
        const char *key, *value, *want;
    } cases[] = {
        {"name", NULL, "name is required"},
        {"name", "\"a/b\"", "name \"a/b\" must start with a letter or digit"},
        {"name", "\"-x\"", "must start with a letter or digit"},
        {"name", "\"\"", "name must not be empty"},
        {"name", "7", "name must be a string"},
        {"uuid", NULL, "uuid is required"},
        {"uuid", "\"not-a-uuid\"", "uuid \"not-a-uuid\" is not a UUID"},
        {"vmUID", NULL, "vmUID is required"},
        {"vmUID", "\"a\\u0001b\"", "vmUID must not contain control characters"},
        {"vmName", "\"a\\nb\"", "vmName must not contain control characters"},
        {"vcpus", "0", "vcpus is 0; it must be between 1 and 255"},
        {"vcpus", "\"2\"", "vcpus must be an integer"},
        {"vcpus", "1.5", "vcpus must be an integer"},
        {"memoryMiB", "8", "memoryMiB is 8; it must be between 16 and"},
        {"memoryMiB", NULL, "memoryMiB is required"},
        {"firmware", "\"uefi\"", "firmware is \"uefi\"; it must be \"bios\" or \"efi\""},
        {"firmware", "\"efi\"", "nvramPath is required with efi firmware"},
        {"nvramPath", "\"/x/nvram.fd\"", "nvramPath is only meaningful with efi firmware"},
        {"serialLog", "\"serial.log\"", "serialLog must be an absolute path"},
        {"vnc", "\"yes\"", "vnc must be true or false"},
        {"bogus", "1", "unknown field bogus"},
        {"cpu", "[]", "cpu must be an object"},
        {"cpu", "{\"quotaPercent\":0}", "cpu.quotaPercent is 0; it must be between 1 and 100"},
        {"cpu", "{\"quotaPercent\":101}", "cpu.quotaPercent is 101"},
        {"cpu", "{\"sharesPerVCPU\":1}", "cpu.sharesPerVCPU is 1"},
        {"cpu", "{\"shares\":1}", "unknown field cpu.shares"},
        {"memoryTune", "{\"locked\":true}", "memoryTune.locked needs memoryTune.hardLimitMiB"},
        {"memoryTune", "{\"hardLimitMiB\":32}", "memoryTune.hardLimitMiB is 32; it must be between 64"},
        {"disks", "{}", "disks must be an array"},
        {"disks", "[1]", "disks[0] must be an object"},
        {"disks", "[{\"path\":\"/d\",\"format\":\"raw\",\"target\":\"xda\"}]",
         "disks[0].target is \"xda\"; it must be \"vd\" or \"sd\""},
        {"disks", "[{\"path\":\"/d\",\"format\":\"raw\",\"target\":\"vda1\"}]",
         "disks[0].target is \"vda1\""},
        {"disks", "[{\"path\":\"/d\",\"format\":\"raw\",\"target\":\"vdA\"}]",
         "disks[0].target is \"vdA\""},
        {"disks", "[{\"path\":\"d\",\"format\":\"raw\",\"target\":\"vda\"}]",
         "disks[0].path must be an absolute path"},
        {"disks", "[{\"format\":\"raw\",\"target\":\"vda\"}]", "disks[0].path is required"},
        {"disks", "[{\"path\":\"/d\",\"format\":\"vmdk\",\"target\":\"vda\"}]",
         "disks[0].format is \"vmdk\"; it must be \"qcow2\" or \"raw\""},
        {"disks", "[{\"path\":\"/d\",\"format\":\"raw\",\"target\":\"sda\",\"bus\":\"virtio\"}]",
         "disks[0].target \"sda\" does not match bus \"virtio\""},
        {"disks", "[{\"path\":\"/d\",\"format\":\"raw\",\"target\":\"vdb\",\"device\":\"cdrom\"}]",
         "disks[0] is a cdrom, which must be on the sata bus"},
        {"disks", "[{\"path\":\"/d\",\"format\":\"raw\",\"target\":\"vda\",\"bus\":\"scsi\"}]",
         "disks[0].bus is \"scsi\"; it must be \"virtio\" or \"sata\""},
        {"disks", "[{\"path\":\"/d\",\"format\":\"raw\",\"target\":\"vda\",\"boot\":0}]",
         "disks[0].boot is 0"},
        {"disks", "[{\"path\":\"/d\",\"format\":\"raw\",\"target\":\"vda\",\"size\":1}]",
         "unknown field disks[0].size"},
        {"disks", "[{\"path\":\"/d\",\"format\":\"raw\",\"target\":\"vda\"},"
                  "{\"path\":\"/e\",\"format\":\"raw\",\"target\":\"vda\"}]",
         "disks[0] and disks[1] both use target \"vda\""},
        {"disks", "[{\"path\":\"/d\",\"format\":\"raw\",\"target\":\"vda\",\"boot\":1},"
                  "{\"path\":\"/e\",\"format\":\"raw\",\"target\":\"vdb\",\"boot\":1}]",
         "disks[0] and disks[1] both have boot order 1"},
        {"nics", "[{\"mac\":\"52:54:00:12:34\",\"tap\":\"t0\"}]", "nics[0].mac is \"52:54:00:12:34\""},
        {"nics", "[{\"mac\":\"01:00:5e:00:00:01\",\"tap\":\"t0\"}]", "unicast MAC address"},
        {"nics", "[{\"mac\":\"52:54:00:12:34:56\"}]", "nics[0] needs exactly one of tap and bridge"},
        {"nics", "[{\"mac\":\"52:54:00:12:34:56\",\"tap\":\"t0\",\"bridge\":\"b0\"}]",
         "needs exactly one of tap and bridge"},
        {"nics", "[{\"mac\":\"52:54:00:12:34:56\",\"tap\":\"a-very-long-tap-name\"}]",
         "nics[0].tap \"a-very-long-tap-name\" is not a network interface name"},
        {"nics", "[{\"mac\":\"52:54:00:12:34:56\",\"bridge\":\"br 0\"}]",
         "is not a network interface name"},
        {"nics", "[{\"mac\":\"52:54:00:12:34:56\",\"tap\":\"t0\",\"model\":\"rtl8139\"}]",
         "nics[0].model is \"rtl8139\""},
        {"hostdevs", "[{\"type\":\"usb\"}]", "hostdevs[0].type is \"usb\"; it must be \"pci\" or \"mdev\""},
        {"hostdevs", "[{\"type\":\"pci\",\"bus\":1,\"slot\":40}]", "hostdevs[0].slot is 40; it must be between 0 and 31"},
        {"hostdevs", "[{\"type\":\"pci\",\"slot\":1}]", "hostdevs[0].bus is required"},
        {"hostdevs", "[{\"type\":\"pci\",\"bus\":1,\"slot\":1,\"uuid\":\"x\"}]",
         "unknown field hostdevs[0].uuid"},
        {"hostdevs", "[{\"type\":\"mdev\",\"uuid\":\"nope\"}]", "hostdevs[0].uuid \"nope\" is not a UUID"},
        {"guestAgentSocket", "\"qga.sock\"", "guestAgentSocket must be an absolute path"},
        {"guestAgentSocket",
         "\"/var/lib/a-data-directory-whose-name-is-long-enough-to-overflow/vms/1e2d3c4b-5a69-4788-9aab-bccddeeff001/qga.sock\"",
         "guestAgentSocket is longer than a UNIX socket address allows (107 bytes)"},
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++)
        expect_invalid(MINIMAL, cases[i].key, cases[i].value, cases[i].want);

    {
        err_t err = ERR_INIT;
        json_t *arr = json_array();
        assert_int_equal(domain_spec_validate(arr, &err), -1);
        assert_int_equal(err.code, ERR_INVALID);
        json_decref(arr);
    }
}

static void test_limits(void **state)
{
    json_t *spec = json_new(MINIMAL), *disks = json_array();
    err_t err = ERR_INIT;
    char *big = g_strnfill(5000, 'a');

    /* Disk count. */
    for (int i = 0; i <= DOMAIN_MAX_DISKS; i++)
        json_array_append_new(disks, json_pack("{s:s,s:s,s:s}", "path", "/d", "format", "raw",
                                               "target", "vda"));
    json_object_set_new(spec, "disks", disks);
    assert_int_equal(domain_spec_validate(spec, &err), -1);
    assert_non_null(strstr(err.msg, "disks has more than 64 entries"));
    json_object_del(spec, "disks");

    /* Overlong path and name. */
    big[0] = '/';
    json_object_set_new(spec, "serialLog", json_string(big));
    assert_int_equal(domain_spec_validate(spec, &err), -1);
    assert_non_null(strstr(err.msg, "serialLog is longer than 4096 bytes"));
    json_object_del(spec, "serialLog");
    big[200] = '\0';
    big[0] = 'a';
    json_object_set_new(spec, "name", json_string(big));
    assert_int_equal(domain_spec_validate(spec, &err), -1);
    assert_non_null(strstr(err.msg, "name is longer than 128 bytes"));

    /* A string with an embedded NUL is not text. */
    json_object_set_new(spec, "name", json_stringn("ab\0c", 4));
    assert_int_equal(domain_spec_validate(spec, &err), -1);
    assert_non_null(strstr(err.msg, "name must be valid UTF-8 text"));

    /* Shares are capped for the whole domain. */
    json_object_set_new(spec, "name", json_string("ok"));
    json_object_set_new(spec, "vcpus", json_integer(4));
    json_object_set_new(spec, "cpu", json_pack("{s:i}", "sharesPerVCPU", 262144 / 4 + 1));
    assert_int_equal(domain_spec_validate(spec, &err), -1);
    assert_non_null(strstr(err.msg, "between 2 and 65536"));
    json_object_set_new(spec, "cpu", json_pack("{s:i}", "sharesPerVCPU", 262144 / 4));
    assert_int_equal(domain_spec_validate(spec, &err), 0);
    g_free(big);
    json_decref(spec);
    err_clear(&err);
}

static void test_disk_fragment_invalid(void **state)
{
    json_t *disk = json_new("{\"path\":\"/d\",\"format\":\"raw\",\"target\":\"hda\"}");
    err_t err = ERR_INIT;

    assert_null(domain_render_disk(disk, &err));
    assert_int_equal(err.code, ERR_INVALID);
    assert_non_null(strstr(err.msg, "disk.target is \"hda\""));
    json_decref(disk);
}

static void test_metadata_uid(void **state)
{
    char *uid;

    uid = domain_metadata_vm_uid("<vmsvc:vm xmlns:vmsvc=\"" DOMAIN_XMLNS "\">"
                                 "<vmsvc:uid>u-1</vmsvc:uid><vmsvc:name>n</vmsvc:name></vmsvc:vm>");
    assert_string_equal(uid, "u-1");
    g_free(uid);
    /* libvirt may hand the element back with another prefix. */
    uid = domain_metadata_vm_uid("<x:vm xmlns:x=\"" DOMAIN_XMLNS "\">\n  <x:uid>a&amp;b</x:uid>\n</x:vm>");
    assert_string_equal(uid, "a&b");
    g_free(uid);
    assert_null(domain_metadata_vm_uid("<x:vm xmlns:x=\"urn:other\"><x:uid>u</x:uid></x:vm>"));
    /* What virDomainGetMetadata really returns: the namespace stripped. */
    uid = domain_metadata_vm_uid("<vm>\n  <uid>u-2</uid>\n</vm>");
    assert_string_equal(uid, "u-2");
    g_free(uid);
    assert_null(domain_metadata_vm_uid("<vm><x:uid xmlns:x=\"urn:other\">u</x:uid></vm>"));
    assert_null(domain_metadata_vm_uid("<other><uid>u</uid></other>"));
    assert_null(domain_metadata_vm_uid("<x:vm xmlns:x=\"" DOMAIN_XMLNS "\"><x:uid/></x:vm>"));
    assert_null(domain_metadata_vm_uid("not xml <"));
    assert_null(domain_metadata_vm_uid(""));
    assert_null(domain_metadata_vm_uid(NULL));

    /* Round trip through the renderer's own metadata. */
    {
        char *xml = render_ok(agent_spec, DOMAIN_VIRT_QEMU);
        xmlDocPtr doc = parse_strict(xml);
        xmlXPathContextPtr ctx = xmlXPathNewContext(doc);
        xmlXPathObjectPtr r;
        xmlBufferPtr buf = xmlBufferCreate();

        xmlXPathRegisterNs(ctx, BAD_CAST "v", BAD_CAST DOMAIN_XMLNS);
        r = xmlXPathEvalExpression(BAD_CAST "/domain/metadata/v:vm", ctx);
        assert_int_equal(r->nodesetval->nodeNr, 1);
        xmlNodeDump(buf, doc, r->nodesetval->nodeTab[0], 0, 0);
        uid = domain_metadata_vm_uid((const char *)xmlBufferContent(buf));
        assert_string_equal(uid, "d4c1a2b3-1111-2222-3333-444455556666");
        g_free(uid);
        xmlBufferFree(buf);
        xmlXPathFreeObject(r);
        xmlXPathFreeContext(ctx);
        xmlFreeDoc(doc);
        g_free(xml);
    }
}

static void test_disk_dup(void **state)
{
    char *xml = render_ok(agent_spec, DOMAIN_VIRT_QEMU);
    err_t err = ERR_INIT;
    char *disk = domain_xml_disk_dup(xml, "sda", &err);
    xmlDocPtr doc;

    assert_non_null(disk);
    doc = parse_strict(disk);
    assert_xpath(doc, "string(/disk/target/@dev)", "sda");
    assert_xpath(doc, "string(/disk/source/@file)", "/var/lib/vmsvc/vms/d4c1/seed.iso");
    xmlFreeDoc(doc);
    g_free(disk);

    assert_null(domain_xml_disk_dup(xml, "vdz", &err));
    assert_int_equal(err.code, ERR_NOT_FOUND);
    assert_null(domain_xml_disk_dup("<domain", "vda", &err));
    assert_int_equal(err.code, ERR_INTERNAL);
    g_free(xml);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden_minimal),
        cmocka_unit_test(test_golden_agent_kvm),
        cmocka_unit_test(test_golden_full_efi),
        cmocka_unit_test(test_golden_disk),
        cmocka_unit_test(test_escaping),
        cmocka_unit_test(test_validation),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_disk_fragment_invalid),
        cmocka_unit_test(test_metadata_uid),
        cmocka_unit_test(test_disk_dup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
