/*
 * domain: see domain.h.
 *
 * Invariants:
 *  - domain_render and domain_render_disk validate before they write, so
 *    the writers below read a spec whose fields have the types and ranges
 *    checked here; they never report errors of their own.
 *  - Every value reaches the document through the libxml2 text writer,
 *    which escapes it; no string is ever pasted into XML.
 *  - Strings accepted here hold no control characters, so everything the
 *    writer emits is well-formed XML 1.0.
 */
#include "model/domain.h"

#include <glib.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlwriter.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NAME_MAX_LEN 128
#define PATH_MAX_LEN 4096
#define TEXT_MAX_LEN 253
#define IFNAME_MAX_LEN 15
#define CPU_SHARES_MIN 2
#define CPU_SHARES_MAX 262144
#define CPU_PERIOD_US 100000

static const char *const virt_names[DOMAIN_VIRT_LAST] = {
    [DOMAIN_VIRT_KVM] = "kvm",
    [DOMAIN_VIRT_QEMU] = "qemu",
};

const char *domain_virt_name(domain_virt_t v)
{
    return v >= 0 && v < DOMAIN_VIRT_LAST ? virt_names[v] : "qemu";
}

/* libxml2 wants one initialization before threads use it. */
static void xml_init(void)
{
    static gsize once;
    if (g_once_init_enter(&once)) {
        xmlInitParser();
        g_once_init_leave(&once, 1);
    }
}

/* ---- validation ---------------------------------------------------------- */

/* "where.key", or "key" at the top level, for messages. */
static void field_name(char *buf, size_t n, const char *where, const char *key)
{
    if (where && *where)
        snprintf(buf, n, "%s.%s", where, key);
    else
        snprintf(buf, n, "%s", key);
}

static bool in_list(const char *s, const char *const *list)
{
    for (; *list; list++)
        if (!strcmp(s, *list))
            return true;
    return false;
}

static int check_keys(const json_t *o, const char *where, const char *const *allowed,
                      err_t *err)
{
    const char *k;
    json_t *v;
    char f[128];

    json_object_foreach((json_t *)o, k, v) {
        if (in_list(k, allowed))
            continue;
        field_name(f, sizeof(f), where, k);
        err_set(err, ERR_INVALID, "Invalid domain spec: unknown field %.100s.", f);
        return -1;
    }
    return 0;
}

static int check_object(const json_t *v, const char *f, err_t *err)
{
    if (json_is_object(v))
        return 0;
    err_set(err, ERR_INVALID, "Invalid domain spec: %s must be an object.", f);
    return -1;
}

/* A string member: non-empty, at most `max` bytes, UTF-8 without control
 * characters or XML's forbidden noncharacters.  *out is NULL when absent. */
static int get_str(const json_t *o, const char *where, const char *key, bool required,
                   size_t max, const char **out, err_t *err)
{
    json_t *v = json_object_get(o, key);
    char f[128];
    const char *s;
    size_t len;

    *out = NULL;
    field_name(f, sizeof(f), where, key);
    if (!v || json_is_null(v)) {
        if (!required)
            return 0;
        err_set(err, ERR_INVALID, "Invalid domain spec: %s is required.", f);
        return -1;
    }
    if (!json_is_string(v)) {
        err_set(err, ERR_INVALID, "Invalid domain spec: %s must be a string.", f);
        return -1;
    }
    s = json_string_value(v);
    len = json_string_length(v);
    if (len == 0) {
        err_set(err, ERR_INVALID, "Invalid domain spec: %s must not be empty.", f);
        return -1;
    }
    if (len > max) {
        err_set(err, ERR_INVALID, "Invalid domain spec: %s is longer than %zu bytes.", f, max);
        return -1;
    }
    if (strlen(s) != len || !g_utf8_validate(s, (gssize)len, NULL) ||
        strstr(s, "\xef\xbf\xbe") || strstr(s, "\xef\xbf\xbf")) {
        err_set(err, ERR_INVALID, "Invalid domain spec: %s must be valid UTF-8 text.", f);
        return -1;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f) {
            err_set(err, ERR_INVALID,
                    "Invalid domain spec: %s must not contain control characters.", f);
            return -1;
        }
    }
    *out = s;
    return 0;
}

/* A string member that must be one of `choices`; *out = dflt when absent. */
static int get_enum(const json_t *o, const char *where, const char *key, const char *dflt,
                    const char *const *choices, const char **out, err_t *err)
{
    char f[128], list[128] = "";

    if (get_str(o, where, key, dflt == NULL, 32, out, err) < 0)
        return -1;
    if (!*out) {
        *out = dflt;
        return 0;
    }
    if (in_list(*out, choices))
        return 0;
    field_name(f, sizeof(f), where, key);
    for (const char *const *c = choices; *c; c++) {
        if (c != choices)
            g_strlcat(list, c[1] ? ", " : " or ", sizeof(list));
        g_strlcat(list, "\"", sizeof(list));
        g_strlcat(list, *c, sizeof(list));
        g_strlcat(list, "\"", sizeof(list));
    }
    err_set(err, ERR_INVALID, "Invalid domain spec: %s is \"%.32s\"; it must be %s.", f, *out,
            list);
    return -1;
}

/* An absolute path. */
static int get_path(const json_t *o, const char *where, const char *key, bool required,
                    const char **out, err_t *err)
{
    char f[128];

    if (get_str(o, where, key, required, PATH_MAX_LEN, out, err) < 0)
        return -1;
    if (!*out || **out == '/')
        return 0;
    field_name(f, sizeof(f), where, key);
    err_set(err, ERR_INVALID, "Invalid domain spec: %s must be an absolute path.", f);
    return -1;
}

/* A path a UNIX socket can be bound to (NULL: none). */
static int socket_path_check(const char *path, const char *key, err_t *err)
{
    if (!path || strlen(path) < DOMAIN_SOCKET_PATH_MAX)
        return 0;
    err_set(err, ERR_INVALID, "Invalid domain spec: %s is longer than a UNIX socket address "
            "allows (%d bytes).", key, DOMAIN_SOCKET_PATH_MAX - 1);
    return -1;
}

/* An integer member in [min, max]; *out = dflt when absent and not required. */
static int get_int(const json_t *o, const char *where, const char *key, bool required,
                   json_int_t min, json_int_t max, json_int_t dflt, json_int_t *out,
                   err_t *err)
{
    json_t *v = json_object_get(o, key);
    char f[128];

    field_name(f, sizeof(f), where, key);
    *out = dflt;
    if (!v || json_is_null(v)) {
        if (!required)
            return 0;
        err_set(err, ERR_INVALID, "Invalid domain spec: %s is required.", f);
        return -1;
    }
    if (!json_is_integer(v)) {
        err_set(err, ERR_INVALID, "Invalid domain spec: %s must be an integer.", f);
        return -1;
    }
    *out = json_integer_value(v);
    if (*out < min || *out > max) {
        err_set(err, ERR_INVALID,
                "Invalid domain spec: %s is %" JSON_INTEGER_FORMAT
                "; it must be between %" JSON_INTEGER_FORMAT " and %" JSON_INTEGER_FORMAT ".",
                f, *out, min, max);
        return -1;
    }
    return 0;
}

static int get_bool(const json_t *o, const char *where, const char *key, bool *out, err_t *err)
{
    json_t *v = json_object_get(o, key);
    char f[128];

    *out = false;
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_boolean(v)) {
        field_name(f, sizeof(f), where, key);
        err_set(err, ERR_INVALID, "Invalid domain spec: %s must be true or false.", f);
        return -1;
    }
    *out = json_is_true(v);
    return 0;
}

/* An array member (absent is an empty array) of at most `max` objects. */
static int get_array(const json_t *o, const char *key, size_t max, const json_t **out,
                     err_t *err)
{
    json_t *v = json_object_get(o, key);

    *out = NULL;
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_array(v)) {
        err_set(err, ERR_INVALID, "Invalid domain spec: %s must be an array.", key);
        return -1;
    }
    if (json_array_size(v) > max) {
        err_set(err, ERR_INVALID, "Invalid domain spec: %s has more than %zu entries.", key, max);
        return -1;
    }
    *out = v;
    return 0;
}

static bool is_alnum(char c)
{
    return g_ascii_isalnum(c);
}

/* Domain names become file names under libvirt's state directories. */
static bool name_ok(const char *s)
{
    if (!is_alnum(s[0]))
        return false;
    for (; *s; s++)
        if (!is_alnum(*s) && *s != '-' && *s != '_' && *s != '.')
            return false;
    return true;
}

/* vd or sd followed by one to three lowercase letters. */
static bool target_ok(const char *s)
{
    size_t n = strlen(s);
    if (n < 3 || n > 5 || (strncmp(s, "vd", 2) && strncmp(s, "sd", 2)))
        return false;
    for (size_t i = 2; i < n; i++)
        if (s[i] < 'a' || s[i] > 'z')
            return false;
    return true;
}

static bool ifname_ok(const char *s)
{
    if (strlen(s) > IFNAME_MAX_LEN || !strcmp(s, ".") || !strcmp(s, ".."))
        return false;
    for (; *s; s++)
        if (!is_alnum(*s) && *s != '-' && *s != '_' && *s != '.')
            return false;
    return true;
}

/* Six colon-separated hex octets, unicast. */
static bool mac_ok(const char *s)
{
    if (strlen(s) != 17)
        return false;
    for (int i = 0; i < 17; i++) {
        if (i % 3 == 2 ? s[i] != ':' : !g_ascii_isxdigit(s[i]))
            return false;
    }
    return (g_ascii_xdigit_value(s[1]) & 1) == 0;
}

int domain_disk_validate(const json_t *disk, const char *field, err_t *err)
{
    static const char *const keys[] = {"path", "format", "target", "bus", "device",
                                       "readonly", "boot", NULL};
    static const char *const formats[] = {"qcow2", "raw", NULL};
    static const char *const buses[] = {"virtio", "sata", NULL};
    static const char *const devices[] = {"disk", "cdrom", NULL};
    const char *s, *target, *bus, *device;
    json_int_t boot;
    bool ro;

    if (check_object(disk, field, err) < 0 || check_keys(disk, field, keys, err) < 0 ||
        get_path(disk, field, "path", true, &s, err) < 0 ||
        get_enum(disk, field, "format", NULL, formats, &s, err) < 0 ||
        get_str(disk, field, "target", true, 16, &target, err) < 0)
        return -1;
    if (!target_ok(target)) {
        err_set(err, ERR_INVALID,
                "Invalid domain spec: %s.target is \"%s\"; it must be \"vd\" or \"sd\" "
                "followed by one to three lowercase letters.",
                field, target);
        return -1;
    }
    if (get_enum(disk, field, "bus", target[0] == 'v' ? "virtio" : "sata", buses, &bus,
                 err) < 0 ||
        get_enum(disk, field, "device", "disk", devices, &device, err) < 0 ||
        get_bool(disk, field, "readonly", &ro, err) < 0 ||
        get_int(disk, field, "boot", false, 1, 256, 0, &boot, err) < 0)
        return -1;
    if ((target[0] == 'v') != !strcmp(bus, "virtio")) {
        err_set(err, ERR_INVALID,
                "Invalid domain spec: %s.target \"%s\" does not match bus \"%s\" "
                "(virtio disks are vd*, sata disks sd*).",
                field, target, bus);
        return -1;
    }
    if (!strcmp(device, "cdrom") && strcmp(bus, "sata")) {
        err_set(err, ERR_INVALID, "Invalid domain spec: %s is a cdrom, which must be on the sata bus.",
                field);
        return -1;
    }
    return 0;
}

static int nic_validate(const json_t *nic, const char *field, err_t *err)
{
    static const char *const keys[] = {"mac", "tap", "bridge", "model", NULL};
    static const char *const models[] = {"virtio", "e1000e", NULL};
    const char *mac, *tap, *bridge, *model;

    if (check_object(nic, field, err) < 0 || check_keys(nic, field, keys, err) < 0 ||
        get_str(nic, field, "mac", true, 32, &mac, err) < 0 ||
        get_str(nic, field, "tap", false, 32, &tap, err) < 0 ||
        get_str(nic, field, "bridge", false, 32, &bridge, err) < 0 ||
        get_enum(nic, field, "model", "virtio", models, &model, err) < 0)
        return -1;
    if (!mac_ok(mac)) {
        err_set(err, ERR_INVALID,
                "Invalid domain spec: %s.mac is \"%s\"; it must be a unicast MAC address "
                "such as 52:54:00:12:34:56.",
                field, mac);
        return -1;
    }
    if (!tap == !bridge) {
        err_set(err, ERR_INVALID, "Invalid domain spec: %s needs exactly one of tap and bridge.",
                field);
        return -1;
    }
    if (!ifname_ok(tap ? tap : bridge)) {
        err_set(err, ERR_INVALID,
                "Invalid domain spec: %s.%s \"%s\" is not a network interface name "
                "(at most 15 letters, digits, '-', '_' or '.').",
                field, tap ? "tap" : "bridge", tap ? tap : bridge);
        return -1;
    }
    return 0;
}

static int hostdev_validate(const json_t *hd, const char *field, err_t *err)
{
    static const char *const types[] = {"pci", "mdev", NULL};
    static const char *const pci_keys[] = {"type", "domain", "bus", "slot", "function", NULL};
    static const char *const mdev_keys[] = {"type", "uuid", "model", NULL};
    static const char *const models[] = {"vfio-pci", NULL};
    const char *type, *uuid, *model;
    json_int_t n;

    if (check_object(hd, field, err) < 0 ||
        get_enum(hd, field, "type", NULL, types, &type, err) < 0)
        return -1;
    if (!strcmp(type, "pci"))
        return check_keys(hd, field, pci_keys, err) < 0 ||
                       get_int(hd, field, "domain", false, 0, 0xffff, 0, &n, err) < 0 ||
                       get_int(hd, field, "bus", true, 0, 0xff, 0, &n, err) < 0 ||
                       get_int(hd, field, "slot", true, 0, 0x1f, 0, &n, err) < 0 ||
                       get_int(hd, field, "function", false, 0, 7, 0, &n, err) < 0
                   ? -1
                   : 0;
    if (check_keys(hd, field, mdev_keys, err) < 0 ||
        get_str(hd, field, "uuid", true, 64, &uuid, err) < 0 ||
        get_enum(hd, field, "model", "vfio-pci", models, &model, err) < 0)
        return -1;
    if (!g_uuid_string_is_valid(uuid)) {
        err_set(err, ERR_INVALID, "Invalid domain spec: %s.uuid \"%s\" is not a UUID.", field,
                uuid);
        return -1;
    }
    return 0;
}

static int cpu_validate(const json_t *cpu, json_int_t vcpus, err_t *err)
{
    static const char *const keys[] = {"sharesPerVCPU", "quotaPercent", NULL};
    json_int_t n;

    if (check_object(cpu, "cpu", err) < 0 || check_keys(cpu, "cpu", keys, err) < 0 ||
        get_int(cpu, "cpu", "sharesPerVCPU", false, CPU_SHARES_MIN, CPU_SHARES_MAX / vcpus, 0,
                &n, err) < 0 ||
        get_int(cpu, "cpu", "quotaPercent", false, 1, 100, 0, &n, err) < 0)
        return -1;
    return 0;
}

static int memtune_validate(const json_t *mt, json_int_t mem, err_t *err)
{
    static const char *const keys[] = {"locked", "preallocate", "hardLimitMiB", NULL};
    json_int_t limit;
    bool locked, prealloc;

    if (check_object(mt, "memoryTune", err) < 0 || check_keys(mt, "memoryTune", keys, err) < 0 ||
        get_bool(mt, "memoryTune", "locked", &locked, err) < 0 ||
        get_bool(mt, "memoryTune", "preallocate", &prealloc, err) < 0 ||
        get_int(mt, "memoryTune", "hardLimitMiB", false, mem, 2 * (json_int_t)DOMAIN_MAX_MEMORY_MIB,
                0, &limit, err) < 0)
        return -1;
    if (locked && !limit) {
        err_set(err, ERR_INVALID,
                "Invalid domain spec: memoryTune.locked needs memoryTune.hardLimitMiB "
                "(the guest's memory plus what QEMU itself uses).");
        return -1;
    }
    return 0;
}

int domain_spec_validate(const json_t *spec, err_t *err)
{
    static const char *const keys[] = {
        "name", "uuid", "vmUID", "vmName", "vmNamespace", "instanceUUID", "vcpus",
        "memoryMiB", "firmware", "nvramPath", "cpu", "memoryTune", "disks", "nics",
        "hostdevs", "serialLog", "vnc", "guestAgentSocket", "guestInfoLog", NULL};
    static const char *const firmwares[] = {"bios", "efi", NULL};
    const char *name, *uuid, *s, *firmware, *nvram;
    const json_t *disks, *nics, *hostdevs, *v;
    json_int_t vcpus, mem;
    char f[32];
    bool b;
    size_t i;

    if (!json_is_object(spec)) {
        err_set(err, ERR_INVALID, "Invalid domain spec: it must be a JSON object.");
        return -1;
    }
    if (check_keys(spec, NULL, keys, err) < 0 ||
        get_str(spec, NULL, "name", true, NAME_MAX_LEN, &name, err) < 0)
        return -1;
    if (!name_ok(name)) {
        err_set(err, ERR_INVALID,
                "Invalid domain spec: name \"%s\" must start with a letter or digit and hold "
                "only letters, digits, '-', '_' and '.'.",
                name);
        return -1;
    }
    if (get_str(spec, NULL, "uuid", true, 64, &uuid, err) < 0)
        return -1;
    if (!g_uuid_string_is_valid(uuid)) {
        err_set(err, ERR_INVALID, "Invalid domain spec: uuid \"%s\" is not a UUID.", uuid);
        return -1;
    }
    if (get_str(spec, NULL, "vmUID", true, NAME_MAX_LEN, &s, err) < 0 ||
        get_str(spec, NULL, "vmName", false, TEXT_MAX_LEN, &s, err) < 0 ||
        get_str(spec, NULL, "vmNamespace", false, TEXT_MAX_LEN, &s, err) < 0 ||
        get_str(spec, NULL, "instanceUUID", false, NAME_MAX_LEN, &s, err) < 0 ||
        get_int(spec, NULL, "vcpus", true, 1, DOMAIN_MAX_VCPUS, 0, &vcpus, err) < 0 ||
        get_int(spec, NULL, "memoryMiB", true, DOMAIN_MIN_MEMORY_MIB, DOMAIN_MAX_MEMORY_MIB, 0,
                &mem, err) < 0 ||
        get_enum(spec, NULL, "firmware", "bios", firmwares, &firmware, err) < 0 ||
        get_path(spec, NULL, "nvramPath", false, &nvram, err) < 0)
        return -1;
    if (!strcmp(firmware, "efi") && !nvram) {
        err_set(err, ERR_INVALID, "Invalid domain spec: nvramPath is required with efi firmware.");
        return -1;
    }
    if (!strcmp(firmware, "bios") && nvram) {
        err_set(err, ERR_INVALID,
                "Invalid domain spec: nvramPath is only meaningful with efi firmware.");
        return -1;
    }
    if ((v = json_object_get(spec, "cpu")) && !json_is_null(v) &&
        cpu_validate(v, vcpus, err) < 0)
        return -1;
    if ((v = json_object_get(spec, "memoryTune")) && !json_is_null(v) &&
        memtune_validate(v, mem, err) < 0)
        return -1;
    if (get_path(spec, NULL, "serialLog", false, &s, err) < 0 ||
        get_path(spec, NULL, "guestInfoLog", false, &s, err) < 0 ||
        get_bool(spec, NULL, "vnc", &b, err) < 0 ||
        get_path(spec, NULL, "guestAgentSocket", false, &s, err) < 0 ||
        socket_path_check(s, "guestAgentSocket", err) < 0 ||
        get_array(spec, "disks", DOMAIN_MAX_DISKS, &disks, err) < 0 ||
        get_array(spec, "nics", DOMAIN_MAX_NICS, &nics, err) < 0 ||
        get_array(spec, "hostdevs", DOMAIN_MAX_HOSTDEVS, &hostdevs, err) < 0)
        return -1;

    json_array_foreach(disks, i, v) {
        snprintf(f, sizeof(f), "disks[%zu]", i);
        if (domain_disk_validate(v, f, err) < 0)
            return -1;
        for (size_t j = 0; j < i; j++) {
            const json_t *w = json_array_get(disks, j);
            json_int_t bi = json_integer_value(json_object_get(v, "boot"));
            if (!strcmp(json_string_value(json_object_get(v, "target")),
                        json_string_value(json_object_get(w, "target")))) {
                err_set(err, ERR_INVALID,
                        "Invalid domain spec: disks[%zu] and disks[%zu] both use target \"%s\".",
                        j, i, json_string_value(json_object_get(v, "target")));
                return -1;
            }
            if (bi && bi == json_integer_value(json_object_get(w, "boot"))) {
                err_set(err, ERR_INVALID,
                        "Invalid domain spec: disks[%zu] and disks[%zu] both have boot order "
                        "%" JSON_INTEGER_FORMAT ".",
                        j, i, bi);
                return -1;
            }
        }
    }
    json_array_foreach(nics, i, v) {
        snprintf(f, sizeof(f), "nics[%zu]", i);
        if (nic_validate(v, f, err) < 0)
            return -1;
    }
    json_array_foreach(hostdevs, i, v) {
        snprintf(f, sizeof(f), "hostdevs[%zu]", i);
        if (hostdev_validate(v, f, err) < 0)
            return -1;
    }
    return 0;
}

/* ---- rendering ----------------------------------------------------------- */

/* The text writer fails only when memory runs out or when it is misused
 * (unbalanced elements): both abort, as every allocation failure does. */
static void xw_check(int rc)
{
    if (rc < 0)
        abort();
}

static void xw_open(xmlTextWriterPtr w, const char *name)
{
    xw_check(xmlTextWriterStartElement(w, BAD_CAST name));
}

static void xw_close(xmlTextWriterPtr w)
{
    xw_check(xmlTextWriterEndElement(w));
}

static void xw_attr(xmlTextWriterPtr w, const char *name, const char *value)
{
    xw_check(xmlTextWriterWriteAttribute(w, BAD_CAST name, BAD_CAST value));
}

static void xw_attrf(xmlTextWriterPtr w, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void xw_attrf(xmlTextWriterPtr w, const char *name, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    xw_check(xmlTextWriterWriteVFormatAttribute(w, BAD_CAST name, fmt, ap));
    va_end(ap);
}

/* <name>value</name> */
static void xw_text(xmlTextWriterPtr w, const char *name, const char *value)
{
    xw_check(xmlTextWriterWriteElement(w, BAD_CAST name, BAD_CAST value));
}

static void xw_textf(xmlTextWriterPtr w, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void xw_textf(xmlTextWriterPtr w, const char *name, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    xw_check(xmlTextWriterWriteVFormatElement(w, BAD_CAST name, fmt, ap));
    va_end(ap);
}

/* <name/> */
static void xw_empty(xmlTextWriterPtr w, const char *name)
{
    xw_open(w, name);
    xw_close(w);
}

/* <name attr='value'/> */
static void xw_empty1(xmlTextWriterPtr w, const char *name, const char *attr, const char *value)
{
    xw_open(w, name);
    xw_attr(w, attr, value);
    xw_close(w);
}

static xmlTextWriterPtr xw_new(xmlBufferPtr *buf)
{
    xmlTextWriterPtr w;

    xml_init();
    *buf = xmlBufferCreate();
    if (!*buf)
        abort();
    w = xmlNewTextWriterMemory(*buf, 0);
    if (!w)
        abort();
    xw_check(xmlTextWriterSetIndent(w, 1));
    xw_check(xmlTextWriterSetIndentString(w, BAD_CAST "  "));
    return w;
}

/* Finish the document and return its text. */
static char *xw_finish(xmlTextWriterPtr w, xmlBufferPtr buf)
{
    char *out;

    xw_check(xmlTextWriterEndDocument(w));
    xmlFreeTextWriter(w);
    out = g_strdup((const char *)xmlBufferContent(buf));
    xmlBufferFree(buf);
    return out;
}

static const char *str_of(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

static bool bool_of(const json_t *o, const char *key)
{
    return json_is_true(json_object_get(o, key));
}

static json_int_t int_of(const json_t *o, const char *key)
{
    return json_integer_value(json_object_get(o, key));
}

static void write_disk(xmlTextWriterPtr w, const json_t *disk)
{
    const char *target = str_of(disk, "target");
    const char *device = str_of(disk, "device") ? str_of(disk, "device") : "disk";
    const char *bus = str_of(disk, "bus") ? str_of(disk, "bus") : target[0] == 'v' ? "virtio" : "sata";
    bool cdrom = !strcmp(device, "cdrom");

    xw_open(w, "disk");
    xw_attr(w, "type", "file");
    xw_attr(w, "device", device);
    xw_open(w, "driver");
    xw_attr(w, "name", "qemu");
    xw_attr(w, "type", str_of(disk, "format"));
    if (!cdrom && !bool_of(disk, "readonly"))
        xw_attr(w, "discard", "unmap");
    xw_close(w);
    xw_empty1(w, "source", "file", str_of(disk, "path"));
    xw_open(w, "target");
    xw_attr(w, "dev", target);
    xw_attr(w, "bus", bus);
    xw_close(w);
    if (cdrom || bool_of(disk, "readonly"))
        xw_empty(w, "readonly");
    if (int_of(disk, "boot")) {
        xw_open(w, "boot");
        xw_attrf(w, "order", "%" JSON_INTEGER_FORMAT, int_of(disk, "boot"));
        xw_close(w);
    }
    xw_close(w);
}

static void write_nic(xmlTextWriterPtr w, const json_t *nic)
{
    const char *tap = str_of(nic, "tap");
    char *mac = g_ascii_strdown(str_of(nic, "mac"), -1);

    xw_open(w, "interface");
    xw_attr(w, "type", tap ? "ethernet" : "bridge");
    xw_empty1(w, "mac", "address", mac);
    if (tap) {
        xw_open(w, "target");
        xw_attr(w, "dev", tap);
        xw_attr(w, "managed", "no");
        xw_close(w);
    } else {
        xw_empty1(w, "source", "bridge", str_of(nic, "bridge"));
    }
    xw_empty1(w, "model", "type", str_of(nic, "model") ? str_of(nic, "model") : "virtio");
    xw_close(w);
    g_free(mac);
}

static void write_hostdev(xmlTextWriterPtr w, const json_t *hd)
{
    bool pci = !strcmp(str_of(hd, "type"), "pci");

    xw_open(w, "hostdev");
    xw_attr(w, "mode", "subsystem");
    xw_attr(w, "type", pci ? "pci" : "mdev");
    if (pci)
        xw_attr(w, "managed", "yes");
    else
        xw_attr(w, "model", str_of(hd, "model") ? str_of(hd, "model") : "vfio-pci");
    xw_open(w, "source");
    xw_open(w, "address");
    if (pci) {
        xw_attrf(w, "domain", "0x%04x", (unsigned)int_of(hd, "domain"));
        xw_attrf(w, "bus", "0x%02x", (unsigned)int_of(hd, "bus"));
        xw_attrf(w, "slot", "0x%02x", (unsigned)int_of(hd, "slot"));
        xw_attrf(w, "function", "0x%x", (unsigned)int_of(hd, "function"));
    } else {
        xw_attr(w, "uuid", str_of(hd, "uuid"));
    }
    xw_close(w);
    xw_close(w);
    xw_close(w);
}

static void write_metadata(xmlTextWriterPtr w, const json_t *spec)
{
    static const struct {
        const char *key, *element;
    } fields[] = {
        {"vmUID", "uid"},
        {"vmName", "name"},
        {"vmNamespace", "namespace"},
        {"instanceUUID", "instanceUUID"},
    };

    xw_open(w, "metadata");
    xw_check(xmlTextWriterStartElementNS(w, BAD_CAST DOMAIN_XMLNS_PREFIX, BAD_CAST "vm",
                                         BAD_CAST DOMAIN_XMLNS));
    for (size_t i = 0; i < G_N_ELEMENTS(fields); i++) {
        const char *v = str_of(spec, fields[i].key);
        if (v)
            xw_check(xmlTextWriterWriteElementNS(w, BAD_CAST DOMAIN_XMLNS_PREFIX,
                                                 BAD_CAST fields[i].element, NULL, BAD_CAST v));
    }
    xw_close(w);
    xw_close(w);
}

static void write_os(xmlTextWriterPtr w, const json_t *spec)
{
    bool efi = !g_strcmp0(str_of(spec, "firmware"), "efi");

    /* UEFI is configured by hand (loader + nvram template), not with
     * <os firmware='efi'>: libvirt 9.0 rejects an explicit loader under
     * firmware autoselection, and the embedded driver need not find the
     * firmware descriptors. */
    xw_open(w, "os");
    xw_open(w, "type");
    xw_attr(w, "arch", "x86_64");
    xw_attr(w, "machine", "q35");
    xw_check(xmlTextWriterWriteString(w, BAD_CAST "hvm"));
    xw_close(w);
    if (efi) {
        xw_open(w, "loader");
        xw_attr(w, "readonly", "yes");
        xw_attr(w, "secure", "no");
        xw_attr(w, "type", "pflash");
        xw_check(xmlTextWriterWriteString(w, BAD_CAST DOMAIN_OVMF_CODE));
        xw_close(w);
        xw_open(w, "nvram");
        xw_attr(w, "template", DOMAIN_OVMF_VARS);
        xw_check(xmlTextWriterWriteString(w, BAD_CAST str_of(spec, "nvramPath")));
        xw_close(w);
    }
    xw_empty1(w, "smbios", "mode", "sysinfo");
    xw_close(w);
}

static void write_sysinfo(xmlTextWriterPtr w, const json_t *spec)
{
    static const struct {
        const char *entry, *key, *fixed;
    } entries[] = {
        {"manufacturer", NULL, "vmsvc"},
        {"product", NULL, "vmsvc virtual machine"},
        {"serial", "instanceUUID", NULL},
        {"uuid", "uuid", NULL},
    };

    xw_open(w, "sysinfo");
    xw_attr(w, "type", "smbios");
    xw_open(w, "system");
    for (size_t i = 0; i < G_N_ELEMENTS(entries); i++) {
        const char *v = entries[i].key ? str_of(spec, entries[i].key) : entries[i].fixed;
        if (!v)
            continue;
        xw_open(w, "entry");
        xw_attr(w, "name", entries[i].entry);
        xw_check(xmlTextWriterWriteString(w, BAD_CAST v));
        xw_close(w);
    }
    xw_close(w);
    xw_close(w);
}

static void write_memory(xmlTextWriterPtr w, const char *name, json_int_t mib)
{
    xw_open(w, name);
    xw_attr(w, "unit", "MiB");
    xw_check(xmlTextWriterWriteFormatString(w, "%" JSON_INTEGER_FORMAT, mib));
    xw_close(w);
}

static void write_resources(xmlTextWriterPtr w, const json_t *spec)
{
    const json_t *mt = json_object_get(spec, "memoryTune");
    const json_t *cpu = json_object_get(spec, "cpu");
    json_int_t vcpus = int_of(spec, "vcpus");

    write_memory(w, "memory", int_of(spec, "memoryMiB"));
    write_memory(w, "currentMemory", int_of(spec, "memoryMiB"));
    if (int_of(mt, "hardLimitMiB")) {
        xw_open(w, "memtune");
        write_memory(w, "hard_limit", int_of(mt, "hardLimitMiB"));
        xw_close(w);
    }
    if (bool_of(mt, "locked") || bool_of(mt, "preallocate")) {
        xw_open(w, "memoryBacking");
        if (bool_of(mt, "locked"))
            xw_empty(w, "locked");
        if (bool_of(mt, "preallocate")) {
            /* All guest memory is allocated when QEMU starts, not on first touch. */
            xw_open(w, "allocation");
            xw_attr(w, "mode", "immediate");
            xw_close(w);
        }
        xw_close(w);
    }
    xw_open(w, "vcpu");
    xw_attr(w, "placement", "static");
    xw_check(xmlTextWriterWriteFormatString(w, "%" JSON_INTEGER_FORMAT, vcpus));
    xw_close(w);
    if (int_of(cpu, "sharesPerVCPU") || int_of(cpu, "quotaPercent")) {
        xw_open(w, "cputune");
        if (int_of(cpu, "sharesPerVCPU"))
            xw_textf(w, "shares", "%" JSON_INTEGER_FORMAT, int_of(cpu, "sharesPerVCPU") * vcpus);
        if (int_of(cpu, "quotaPercent")) {
            /* <quota> applies to each vCPU thread: percent of one host CPU. */
            xw_textf(w, "period", "%d", CPU_PERIOD_US);
            xw_textf(w, "quota", "%" JSON_INTEGER_FORMAT,
                     int_of(cpu, "quotaPercent") * CPU_PERIOD_US / 100);
        }
        xw_close(w);
    }
}

/* Empty PCIe root ports: one for each PCIe device and DOMAIN_HOTPLUG_PORTS
 * more, so that disks can be attached while the domain runs (q35 has no
 * hotplug on the root bus itself). */
static void write_root_ports(xmlTextWriterPtr w, const json_t *spec)
{
    const json_t *disks = json_object_get(spec, "disks"), *d;
    size_t n = DOMAIN_HOTPLUG_PORTS + 2, i; /* + USB controller, RNG */

    json_array_foreach(disks, i, d)
        n += str_of(d, "target")[0] == 'v';
    n += json_array_size(json_object_get(spec, "nics"));
    n += json_array_size(json_object_get(spec, "hostdevs"));
    n += str_of(spec, "guestAgentSocket") || str_of(spec, "guestInfoLog"); /* virtio-serial controller */
    xw_open(w, "controller");
    xw_attr(w, "type", "pci");
    xw_attr(w, "index", "0");
    xw_attr(w, "model", "pcie-root");
    xw_close(w);
    for (i = 1; i <= n; i++) {
        xw_open(w, "controller");
        xw_attr(w, "type", "pci");
        xw_attrf(w, "index", "%zu", i);
        xw_attr(w, "model", "pcie-root-port");
        xw_close(w);
    }
}

static void write_serial(xmlTextWriterPtr w, const char *log)
{
    static const char *const kinds[] = {"serial", "console"};

    for (size_t i = 0; i < G_N_ELEMENTS(kinds); i++) {
        xw_open(w, kinds[i]);
        xw_attr(w, "type", log ? "file" : "pty");
        if (log) {
            xw_open(w, "source");
            xw_attr(w, "path", log);
            xw_attr(w, "append", "on");
            xw_close(w);
        }
        xw_open(w, "target");
        if (i == 1)
            xw_attr(w, "type", "serial");
        xw_attr(w, "port", "0");
        xw_close(w);
        xw_close(w);
    }
}

static void write_devices(xmlTextWriterPtr w, const json_t *spec)
{
    const json_t *v;
    size_t i;

    xw_open(w, "devices");
    write_root_ports(w, spec);
    json_array_foreach(json_object_get(spec, "disks"), i, v)
        write_disk(w, v);
    json_array_foreach(json_object_get(spec, "nics"), i, v)
        write_nic(w, v);
    json_array_foreach(json_object_get(spec, "hostdevs"), i, v)
        write_hostdev(w, v);
    write_serial(w, str_of(spec, "serialLog"));
    if (str_of(spec, "guestAgentSocket")) {
        /* An explicit socket: libvirt's default one under its root can
         * outgrow a UNIX socket address as domain ids grow. */
        xw_open(w, "channel");
        xw_attr(w, "type", "unix");
        xw_open(w, "source");
        xw_attr(w, "mode", "bind");
        xw_attr(w, "path", str_of(spec, "guestAgentSocket"));
        xw_close(w);
        xw_open(w, "target");
        xw_attr(w, "type", "virtio");
        xw_attr(w, "name", "org.qemu.guest_agent.0");
        xw_close(w);
        xw_close(w);
    }
    if (str_of(spec, "guestInfoLog")) {
        /* guestinfo key=value lines from the guest, appended to a file (probes). */
        xw_open(w, "channel");
        xw_attr(w, "type", "file");
        xw_open(w, "source");
        xw_attr(w, "path", str_of(spec, "guestInfoLog"));
        xw_attr(w, "append", "on");
        xw_close(w);
        xw_open(w, "target");
        xw_attr(w, "type", "virtio");
        xw_attr(w, "name", "org.vmsvc.guestinfo");
        xw_close(w);
        xw_close(w);
    }
    if (bool_of(spec, "vnc")) {
        xw_open(w, "input");
        xw_attr(w, "type", "tablet");
        xw_attr(w, "bus", "usb");
        xw_close(w);
        xw_open(w, "graphics");
        xw_attr(w, "type", "vnc");
        xw_attr(w, "port", "-1");
        xw_attr(w, "autoport", "yes");
        xw_open(w, "listen");
        xw_attr(w, "type", "address");
        xw_attr(w, "address", "127.0.0.1");
        xw_close(w);
        xw_close(w);
    }
    xw_open(w, "video");
    xw_empty1(w, "model", "type", bool_of(spec, "vnc") ? "vga" : "none");
    xw_close(w);
    xw_open(w, "rng");
    xw_attr(w, "model", "virtio");
    xw_open(w, "backend");
    xw_attr(w, "model", "random");
    xw_check(xmlTextWriterWriteString(w, BAD_CAST "/dev/urandom"));
    xw_close(w);
    xw_close(w);
    xw_empty1(w, "memballoon", "model", "none");
    xw_close(w);
}

char *domain_render(const json_t *spec, domain_virt_t virt, err_t *err)
{
    const char *ns = str_of(spec, "vmNamespace"), *vm = str_of(spec, "vmName");
    xmlTextWriterPtr w;
    xmlBufferPtr buf;

    if (domain_spec_validate(spec, err) < 0)
        return NULL;
    w = xw_new(&buf);
    xw_open(w, "domain");
    xw_attr(w, "type", domain_virt_name(virt));
    xw_text(w, "name", str_of(spec, "name"));
    xw_text(w, "uuid", str_of(spec, "uuid"));
    if (ns && vm)
        xw_textf(w, "title", "%s/%s", ns, vm);
    write_metadata(w, spec);
    write_resources(w, spec);
    write_sysinfo(w, spec);
    write_os(w, spec);
    xw_open(w, "features");
    xw_empty(w, "acpi");
    xw_empty(w, "apic");
    xw_close(w);
    if (virt == DOMAIN_VIRT_KVM) {
        xw_open(w, "cpu");
        xw_attr(w, "mode", "host-passthrough");
        xw_attr(w, "check", "none");
        xw_close(w);
    }
    xw_empty1(w, "clock", "offset", "utc");
    xw_text(w, "on_poweroff", "destroy");
    xw_text(w, "on_reboot", "restart");
    xw_text(w, "on_crash", "destroy");
    xw_open(w, "pm");
    xw_empty1(w, "suspend-to-mem", "enabled", "no");
    xw_empty1(w, "suspend-to-disk", "enabled", "no");
    xw_close(w);
    write_devices(w, spec);
    xw_close(w);
    return xw_finish(w, buf);
}

char *domain_render_disk(const json_t *disk, err_t *err)
{
    xmlTextWriterPtr w;
    xmlBufferPtr buf;

    if (domain_disk_validate(disk, "disk", err) < 0)
        return NULL;
    w = xw_new(&buf);
    write_disk(w, disk);
    return xw_finish(w, buf);
}

/* ---- reading back -------------------------------------------------------- */

static xmlDocPtr xml_parse(const char *xml)
{
    xml_init();
    return xmlReadMemory(xml, (int)strlen(xml), "domain.xml", NULL,
                         XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
}

static xmlNodePtr child_element(xmlNodePtr parent, const char *name, const char *ns)
{
    for (xmlNodePtr n = parent ? parent->children : NULL; n; n = n->next) {
        if (n->type != XML_ELEMENT_NODE || strcmp((const char *)n->name, name))
            continue;
        if (ns ? n->ns && n->ns->href && !strcmp((const char *)n->ns->href, ns) : !n->ns)
            return n;
    }
    return NULL;
}

char *domain_metadata_vm_uid(const char *metadata_xml)
{
    xmlDocPtr doc;
    xmlNodePtr root, uid;
    const char *ns;
    char *out = NULL;

    if (!metadata_xml || strlen(metadata_xml) > INT32_MAX || !(doc = xml_parse(metadata_xml)))
        return NULL;
    /* libvirt returns the element without its namespace (the caller named
     * it); the element as written has it. */
    root = xmlDocGetRootElement(doc);
    ns = root && root->ns ? (const char *)root->ns->href : NULL;
    if (root && !strcmp((const char *)root->name, "vm") &&
        (!ns || !strcmp(ns, DOMAIN_XMLNS)) && (uid = child_element(root, "uid", ns))) {
        xmlChar *text = xmlNodeGetContent(uid);
        if (text && *text)
            out = g_strdup((const char *)text);
        xmlFree(text);
    }
    xmlFreeDoc(doc);
    return out;
}

char *domain_xml_disk_dup(const char *domain_xml, const char *target, err_t *err)
{
    xmlDocPtr doc = strlen(domain_xml) <= INT32_MAX ? xml_parse(domain_xml) : NULL;
    xmlNodePtr devices;
    char *out = NULL;

    if (!doc) {
        err_set(err, ERR_INTERNAL, "The domain XML from libvirt does not parse.");
        return NULL;
    }
    devices = child_element(xmlDocGetRootElement(doc), "devices", NULL);
    for (xmlNodePtr n = devices ? devices->children : NULL; n && !out; n = n->next) {
        xmlNodePtr t;
        xmlChar *dev;
        if (n->type != XML_ELEMENT_NODE || strcmp((const char *)n->name, "disk") ||
            !(t = child_element(n, "target", NULL)))
            continue;
        dev = xmlGetProp(t, BAD_CAST "dev");
        if (dev && !strcmp((const char *)dev, target)) {
            xmlBufferPtr buf = xmlBufferCreate();
            if (!buf || xmlNodeDump(buf, doc, n, 0, 0) < 0)
                abort();
            out = g_strdup((const char *)xmlBufferContent(buf));
            xmlBufferFree(buf);
        }
        xmlFree(dev);
    }
    xmlFreeDoc(doc);
    if (!out)
        err_set(err, ERR_NOT_FOUND, "The domain has no disk with target %.32s.", target);
    return out;
}
