/*
 * seed: the files a guest reads on first boot, rendered from a
 * VirtualMachine, the Secrets it refers to and the MAC addresses the host
 * gave its interfaces (see seed.h for the files of each provider).
 *
 * Pure: data in, seed_file_t values out; no I/O, no clock, no globals
 * other than libxml2's one-time initialisation.  YAML is written only by
 * yaml_emit (model/yaml.h) from jansson values, XML only through libxml2's
 * text writer, so the emitters quote and escape every value; nothing here
 * pastes a value into text.
 *
 * Invariants:
 *  - All or nothing: on any error no file is returned.
 *  - The files of one seed total at most SEED_MAX_BYTES, and a gzip'd raw
 *    cloud-config is inflated only up to that bound (a gzip bomb fails).
 *  - Error messages name fields, Secrets and keys, never a Secret's value.
 *  - Only the keys in the tables below reach the guest's cloud-config:
 *    whatever else the VM carries is dropped, never passed through.
 *
 * Choices:
 *  - instance-id: bootstrap.cloudInit.instanceID, else status.biosUUID,
 *    else status.instanceUUID, else metadata.uid.
 *  - The structured cloudConfig keeps the v1alpha2 key names, which are
 *    cloud-init's; passwd and hashed_passwd go to the keys of the same name.
 *    cloudInit.sshAuthorizedKeys (the default user's keys) go into the
 *    cloud-config's top-level ssh_authorized_keys, or, with a raw
 *    cloud-config that cannot be edited, into meta-data public-keys.
 *  - A raw cloud-config that is base64 is decoded when it holds gzip (then
 *    inflated) or a user-data format cloud-init knows by its first line
 *    (seed_user_data_marks); anything else is handed over unchanged.
 *  - A write_files content from a Secret that is not UTF-8 text is
 *    base64'd and its encoding adjusted, since YAML carries only text.
 *  - network-config is version 2 with one ethernet per interface, matched
 *    by MAC and renamed (set-name) when the host gave a MAC; gateways
 *    become default routes.  An interface with neither addresses nor a
 *    dhcp4/dhcp6 setting gets dhcp4.  No interfaces means one, eth0.
 *  - LinuxPrep's hardwareClockIsUTC becomes /etc/adjtime, written once by
 *    write_files (third line UTC or LOCAL): util-linux hwclock and
 *    systemd-timedated both read it, and cloud-init has no key for it.
 *  - Sysprep is rendered for a generalized image: specialize pass
 *    (Microsoft-Windows-Shell-Setup: ComputerName, RegisteredOwner,
 *    RegisteredOrganization, ProductKey, TimeZone; UnattendedJoin; TCPIP
 *    and DNS-Client for static addresses), oobeSystem pass (Shell-Setup:
 *    AutoLogon, FirstLogonCommands for guiRunOnce, OOBE, UserAccounts).
 *    Passwords are written with PlainText true.  guiUnattended.timeZone is
 *    a Microsoft time zone index, mapped to the Windows zone id through
 *    seed_windows_zones.  licenseFilePrintData has no unattend.xml setting
 *    since Windows Vista; it is kept as an XML comment for the reader.
 *  - vAppConfig values are written as given: Go templates in them are not
 *    expanded.
 */
#include "guest/seed.h"

#include <arpa/inet.h>
#include <limits.h>
#include <libxml/parser.h>
#include <libxml/xmlwriter.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "model/yaml.h"
#include "util/jsonutil.h"

#define SEED_MAX_BYTES ((size_t)16 << 20)
#define SEED_MAX_MIB 16

#define SEED_REQUIRED "FieldValueRequired"
#define SEED_INVALID "FieldValueInvalid"
#define SEED_TYPE "FieldValueTypeInvalid"
#define SEED_FORBIDDEN "FieldValueForbidden"

#define SEED_CLOUD_CONFIG "#cloud-config\n"

#define UNATTEND_NS "urn:schemas-microsoft-com:unattend"
#define UNATTEND_WCM_NS "http://schemas.microsoft.com/WMIConfig/2002/State"
#define UNATTEND_ARCH "amd64"
#define XSI_NS "http://www.w3.org/2001/XMLSchema-instance"
#define OVF_ENV_NS "http://schemas.dmtf.org/ovf/environment/1"

typedef struct seed_ctx {
    const json_t *vm;
    const json_t *secrets;
    const json_t *macs;
    GPtrArray *files;
    size_t total;   /* bytes in files so far */
    err_t *err;
} seed_ctx_t;

/* ---- errors ---- */

/* A field error: one StatusCause plus the message Kubernetes gives for it. */
static void seed_fail_field(err_t *err, const char *reason, const char *field,
                            const char *fmt, ...) G_GNUC_PRINTF(4, 5);
static void seed_fail_field(err_t *err, const char *reason, const char *field,
                            const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    err_add_cause(err, reason, field, "%s", msg);
    err_set(err, ERR_INVALID, "%s: %s", field, msg);
}

static void seed_fail_type(err_t *err, const char *field, const char *what)
{
    seed_fail_field(err, SEED_TYPE, field, "Invalid value: must be %s", what);
}

/* err->msg for several causes, in the shape Kubernetes aggregates them. */
static void seed_set_invalid_message(err_t *err)
{
    GString *m = g_string_new(NULL);
    size_t n = json_array_size(err->causes), i;
    json_t *cause;

    if (n > 1)
        g_string_append_c(m, '[');
    json_array_foreach(err->causes, i, cause) {
        const char *field = json_string_value(json_object_get(cause, "field"));
        if (i)
            g_string_append(m, ", ");
        if (field)
            g_string_append_printf(m, "%s: ", field);
        g_string_append(m, json_string_value(json_object_get(cause, "message")));
    }
    if (n > 1)
        g_string_append_c(m, ']');
    err_set(err, ERR_INVALID, "%s", m->str);
    g_string_free(m, TRUE);
}

/* ---- small readers ---- */

/* Member `key` of `o`, treating JSON null as absent. */
static const json_t *seed_member(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);
    return json_is_null(v) ? NULL : v;
}

/* A non-empty string member, or NULL. */
static const char *seed_str(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s && *s ? s : NULL;
}

/* UTF-8 without NUL: what a YAML or XML string can carry. */
static bool seed_is_text(const char *s, size_t n)
{
    return g_utf8_validate_len(s, n, NULL);
}

/* Text that XML 1.0 allows: no C0 controls but tab, LF and CR, and no
 * U+FFFE or U+FFFF. */
static bool seed_is_xml_text(const char *s, size_t n)
{
    if (!seed_is_text(s, n))
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char b = (unsigned char)s[i];
        if (b < 0x20 && b != '\t' && b != '\n' && b != '\r')
            return false;
        if (b == 0xEF && i + 2 < n && (unsigned char)s[i + 1] == 0xBF &&
            ((unsigned char)s[i + 2] == 0xBE || (unsigned char)s[i + 2] == 0xBF))
            return false;
    }
    return true;
}

/* ---- secrets ---- */

/* The value of the Secret key selected by `ref` ({name, key}), borrowed
 * from c->secrets, with its length.  `default_key` stands in for a missing
 * key.  ERR_NOT_FOUND names the Secret, the key and `field`. */
static const char *seed_secret_value(seed_ctx_t *c, const json_t *ref, const char *default_key,
                                     const char *field, size_t *len)
{
    const char *name = seed_str(ref, "name");
    const char *key = seed_str(ref, "key");
    const json_t *secret, *v;

    if (!json_is_object(ref)) {
        seed_fail_type(c->err, field, "a Secret key selector {name, key}");
        return NULL;
    }
    if (!key)
        key = default_key;
    if (!name || !key) {
        g_autofree char *f = g_strdup_printf("%s.%s", field, name ? "key" : "name");
        seed_fail_field(c->err, SEED_REQUIRED, f, "Required value");
        return NULL;
    }
    secret = json_object_get(c->secrets, name);
    if (!json_is_object(secret)) {
        err_set(c->err, ERR_NOT_FOUND,
                "The Secret \"%.253s\" (key \"%.253s\") that %s refers to does not exist.",
                name, key, field);
        return NULL;
    }
    v = json_object_get(secret, key);
    if (!v) {
        err_set(c->err, ERR_NOT_FOUND,
                "The Secret \"%.253s\" has no key \"%.253s\", which %s refers to.", name, key,
                field);
        return NULL;
    }
    if (!json_is_string(v)) {
        err_set(c->err, ERR_INVALID,
                "The key \"%.253s\" of the Secret \"%.253s\", which %s refers to, does not hold "
                "a string.",
                key, name, field);
        return NULL;
    }
    *len = json_string_length(v);
    return json_string_value(v);
}

/* A value that is either a literal string or a Secret key selector, as
 * text that YAML or (xml) XML can carry. */
static const char *seed_text_or_secret(seed_ctx_t *c, const json_t *v, const char *default_key,
                                       const char *field, bool xml, size_t *len)
{
    const char *s;

    if (json_is_string(v)) {
        s = json_string_value(v);
        *len = json_string_length(v);
    } else if (json_is_object(v)) {
        if (!(s = seed_secret_value(c, v, default_key, field, len)))
            return NULL;
    } else {
        seed_fail_type(c->err, field, "a string or a Secret key selector {name, key}");
        return NULL;
    }
    if (xml ? !seed_is_xml_text(s, *len) : !seed_is_text(s, *len)) {
        seed_fail_field(c->err, SEED_INVALID, field,
                        "Invalid value: the value must be UTF-8 text%s",
                        xml ? " without control characters" : "");
        return NULL;
    }
    return s;
}

/* ---- files ---- */

static void seed_file_free(gpointer p)
{
    seed_file_t *f = p;

    if (!f)
        return;
    g_free(f->name);
    if (f->data)
        g_bytes_unref(f->data);
    g_free(f);
}

/* Append a file, taking `data` (g_malloc'd, `len` bytes). */
static int seed_add(seed_ctx_t *c, const char *name, char *data, size_t len)
{
    seed_file_t *f;

    if (len > SEED_MAX_BYTES - c->total) {
        g_free(data);
        err_set(c->err, ERR_TOO_LARGE, "The guest's seed files would be larger than %d MiB.",
                SEED_MAX_MIB);
        return -1;
    }
    c->total += len;
    f = g_new0(seed_file_t, 1);
    f->name = g_strdup(name);
    f->data = g_bytes_new_take(data, len);
    g_ptr_array_add(c->files, f);
    return 0;
}

/* Append `doc` as YAML, after `header` (may be NULL). */
static int seed_add_yaml(seed_ctx_t *c, const char *name, const char *header, const json_t *doc)
{
    char *text = yaml_emit(doc);
    char *data;

    if (!text) {
        err_set(c->err, ERR_INTERNAL, "Cannot write %s as YAML.", name);
        return -1;
    }
    data = g_strconcat(header ? header : "", text, NULL);
    free(text);
    return seed_add(c, name, data, strlen(data));
}

/* ---- typed copies of cloud-config keys ---- */

typedef enum {
    SEED_STR,         /* a string */
    SEED_BOOL,        /* a boolean */
    SEED_INT,         /* an integer */
    SEED_INT_TEXT,    /* an integer, written as its decimal text */
    SEED_STR_LIST,    /* an array of strings */
    SEED_STR_OR_LIST, /* a string, or an array of strings */
    SEED_SECRET,      /* a string, or a Secret key selector {name, key} */
    SEED_COMMANDS,    /* an array of: a string, or an array of strings */
} seed_kind_t;

typedef struct seed_key {
    const char *key;  /* in the VM and in the cloud-config alike */
    seed_kind_t kind;
} seed_key_t;

/* cloudConfig.users[]: the v1alpha2 keys, which are cloud-init's. */
static const seed_key_t seed_user_keys[] = {
    {"name", SEED_STR},
    {"gecos", SEED_STR},
    {"primary_group", SEED_STR},
    {"groups", SEED_STR_OR_LIST},
    {"homedir", SEED_STR},
    {"shell", SEED_STR},
    {"sudo", SEED_STR},
    {"lock_passwd", SEED_BOOL},
    {"passwd", SEED_SECRET},
    {"hashed_passwd", SEED_SECRET},
    {"ssh_authorized_keys", SEED_STR_LIST},
    {"ssh_import_id", SEED_STR_LIST},
    {"ssh_redirect_user", SEED_BOOL},
    {"uid", SEED_INT},
    {"system", SEED_BOOL},
    {"no_create_home", SEED_BOOL},
    {"no_user_group", SEED_BOOL},
    {"no_log_init", SEED_BOOL},
    {"create_groups", SEED_BOOL},
    {"expiredate", SEED_STR},
    {"inactive", SEED_INT_TEXT}, /* cloud-init wants the days as a string */
    {"selinux_user", SEED_STR},
    {"snapuser", SEED_STR},
};

/* cloudConfig.write_files[], but content (seed_write_file). */
static const seed_key_t seed_write_file_keys[] = {
    {"path", SEED_STR},
    {"encoding", SEED_STR},
    {"owner", SEED_STR},
    {"permissions", SEED_STR},
    {"append", SEED_BOOL},
    {"defer", SEED_BOOL},
};

/* cloudConfig's plain top-level keys. */
static const seed_key_t seed_cloud_config_keys[] = {
    {"ssh_pwauth", SEED_BOOL},
    {"timezone", SEED_STR},
    {"runcmd", SEED_COMMANDS},
};

static bool seed_is_str_list(const json_t *v)
{
    size_t i;
    json_t *e;

    if (!json_is_array(v))
        return false;
    json_array_foreach(v, i, e) {
        if (!json_is_string(e))
            return false;
    }
    return true;
}

static json_t *seed_copy_commands(seed_ctx_t *c, const json_t *v, const char *field)
{
    json_auto_t *out = json_array();
    size_t i;
    json_t *e;

    if (!json_is_array(v)) {
        seed_fail_type(c->err, field, "a list of commands");
        return NULL;
    }
    json_array_foreach(v, i, e) {
        if (!json_is_string(e) && !seed_is_str_list(e)) {
            g_autofree char *f = g_strdup_printf("%s[%zu]", field, i);
            seed_fail_type(c->err, f, "a string or a list of strings");
            return NULL;
        }
        json_array_append(out, e);
    }
    return json_incref(out);
}

/* The value of one key, checked against its kind and made ready for the
 * cloud-config; NULL with an error. */
static json_t *seed_copy_value(seed_ctx_t *c, const json_t *v, seed_kind_t kind,
                               const char *field)
{
    const char *s;
    size_t len;

    switch (kind) {
    case SEED_STR:
        if (json_is_string(v))
            return json_incref((json_t *)v);
        seed_fail_type(c->err, field, "a string");
        return NULL;
    case SEED_BOOL:
        if (json_is_boolean(v))
            return json_incref((json_t *)v);
        seed_fail_type(c->err, field, "a boolean");
        return NULL;
    case SEED_INT:
        if (json_is_integer(v))
            return json_incref((json_t *)v);
        seed_fail_type(c->err, field, "an integer");
        return NULL;
    case SEED_INT_TEXT:
        if (json_is_integer(v))
            return json_sprintf("%" JSON_INTEGER_FORMAT, json_integer_value(v));
        seed_fail_type(c->err, field, "an integer");
        return NULL;
    case SEED_STR_LIST:
        if (seed_is_str_list(v))
            return json_incref((json_t *)v);
        seed_fail_type(c->err, field, "a list of strings");
        return NULL;
    case SEED_STR_OR_LIST:
        if (json_is_string(v) || seed_is_str_list(v))
            return json_incref((json_t *)v);
        seed_fail_type(c->err, field, "a string or a list of strings");
        return NULL;
    case SEED_SECRET:
        if (!(s = seed_text_or_secret(c, v, NULL, field, false, &len)))
            return NULL;
        return json_stringn(s, len);
    case SEED_COMMANDS:
        return seed_copy_commands(c, v, field);
    }
    g_assert_not_reached();
    return NULL;
}

/* Copy the keys of `keys` present in `src` into `dst`, in table order. */
static int seed_copy_keys(seed_ctx_t *c, const json_t *src, const seed_key_t *keys, size_t n,
                          json_t *dst, const char *field)
{
    for (size_t i = 0; i < n; i++) {
        const json_t *v = seed_member(src, keys[i].key);
        g_autofree char *f = NULL;
        json_t *out;

        if (!v)
            continue;
        f = g_strdup_printf("%s.%s", field, keys[i].key);
        if (!(out = seed_copy_value(c, v, keys[i].kind, f)))
            return -1;
        json_object_set_new(dst, keys[i].key, out);
    }
    return 0;
}

/* ---- meta-data ---- */

/* The guest's host name: spec.network.hostName, else the VM's name. */
static const char *seed_hostname(seed_ctx_t *c)
{
    const char *h = seed_str(json_path_get(c->vm, "spec.network"), "hostName");

    if (!h)
        h = json_path_str(c->vm, "metadata.name");
    if (!h || !*h) {
        seed_fail_field(c->err, SEED_REQUIRED, "metadata.name", "Required value");
        return NULL;
    }
    return h;
}

static const char *seed_instance_id(seed_ctx_t *c)
{
    static const char *const paths[] = {
        "spec.bootstrap.cloudInit.instanceID",
        "status.biosUUID",
        "status.instanceUUID",
        "metadata.uid",
    };

    for (size_t i = 0; i < G_N_ELEMENTS(paths); i++) {
        const char *id = json_path_str(c->vm, paths[i]);
        if (id && *id)
            return id;
    }
    seed_fail_field(c->err, SEED_REQUIRED, "metadata.uid",
                    "Required value: the VM needs a uid (or status.biosUUID) to be its "
                    "cloud-init instance-id");
    return NULL;
}

/* meta-data; `keys` (or NULL) become public-keys for the default user. */
static int seed_render_meta_data(seed_ctx_t *c, const json_t *keys)
{
    const char *id = seed_instance_id(c);
    const char *host = id ? seed_hostname(c) : NULL;
    json_auto_t *doc = NULL;

    if (!host)
        return -1;
    doc = json_pack("{s:s,s:s}", "instance-id", id, "local-hostname", host);
    if (json_array_size(keys) > 0)
        json_object_set(doc, "public-keys", (json_t *)keys);
    return seed_add_yaml(c, "meta-data", NULL, doc);
}

/* ---- network-config ---- */

/* Parse "ip" or "ip/prefix" into `ip` (the address alone) and `prefix`
 * (-1 when absent).  Returns AF_INET or AF_INET6, or 0 if s is neither. */
static int seed_parse_ip(const char *s, char ip[INET6_ADDRSTRLEN], int *prefix)
{
    const char *slash = strchr(s, '/');
    size_t n = slash ? (size_t)(slash - s) : strlen(s);
    unsigned char bin[sizeof(struct in6_addr)];
    int af;

    if (n == 0 || n >= INET6_ADDRSTRLEN)
        return 0;
    memcpy(ip, s, n);
    ip[n] = '\0';
    af = strchr(ip, ':') ? AF_INET6 : AF_INET;
    if (inet_pton(af, ip, bin) != 1)
        return 0;
    *prefix = -1;
    if (slash) {
        const char *p = slash + 1;
        int v = 0;
        size_t digits = strspn(p, "0123456789");

        if (digits == 0 || digits > 3 || p[digits])
            return 0;
        for (size_t i = 0; i < digits; i++)
            v = v * 10 + (p[i] - '0');
        if (v > (af == AF_INET ? 32 : 128))
            return 0;
        *prefix = v;
    }
    return af;
}

typedef enum {
    SEED_IP_PLAIN,    /* an address */
    SEED_IP_CIDR,     /* an address with a prefix length */
    SEED_IP_ANY,      /* either */
} seed_ip_form_t;

/* Check that `v` is an address of the given form (and family, unless 0);
 * copies the bare address to `ip` when that is not NULL. */
static int seed_check_ip(seed_ctx_t *c, const json_t *v, seed_ip_form_t form, int family,
                         const char *field, char ip[INET6_ADDRSTRLEN])
{
    char buf[INET6_ADDRSTRLEN];
    const char *s = json_string_value(v);
    int prefix = -1, af;

    if (!s) {
        seed_fail_type(c->err, field, "a string");
        return -1;
    }
    af = seed_parse_ip(s, ip ? ip : buf, &prefix);
    if (!af || (form == SEED_IP_CIDR && prefix < 0) || (form == SEED_IP_PLAIN && prefix >= 0)) {
        seed_fail_field(c->err, SEED_INVALID, field, "Invalid value: \"%.100s\": must be %s", s,
                        form == SEED_IP_CIDR    ? "an IP address with a prefix length"
                        : form == SEED_IP_PLAIN ? "an IP address"
                                                : "an IP address, optionally with a prefix length");
        return -1;
    }
    if (family && af != family) {
        seed_fail_field(c->err, SEED_INVALID, field,
                        "Invalid value: \"%.100s\": must be an %s address", s,
                        family == AF_INET ? "IPv4" : "IPv6");
        return -1;
    }
    return 0;
}

/* Check that `v` is a list of addresses of the given form. */
static int seed_check_ip_list(seed_ctx_t *c, const json_t *v, seed_ip_form_t form,
                              const char *field)
{
    size_t i;
    json_t *e;

    if (!json_is_array(v)) {
        seed_fail_type(c->err, field, "a list of strings");
        return -1;
    }
    json_array_foreach(v, i, e) {
        g_autofree char *f = g_strdup_printf("%s[%zu]", field, i);
        if (seed_check_ip(c, e, form, 0, f, NULL) < 0)
            return -1;
    }
    return 0;
}

/* The MAC address the host gave interface `i`, as six hex pairs joined by
 * `sep`, in upper or lower case.  1 when there is one, 0 when not, -1 when
 * the caller passed something that is not a MAC address. */
static int seed_mac(seed_ctx_t *c, size_t i, char sep, bool upper, char out[18])
{
    const char *s = json_string_value(json_array_get(c->macs, i));
    size_t o = 0;

    if (!s)
        return 0;
    for (size_t k = 0; k < 17; k++) {
        if (k % 3 == 2) {
            if (s[k] != ':' && s[k] != '-')
                goto bad;
            out[o++] = sep;
        } else {
            if (!g_ascii_isxdigit(s[k]))
                goto bad;
            out[o++] = upper ? g_ascii_toupper(s[k]) : g_ascii_tolower(s[k]);
        }
    }
    if (s[17])
        goto bad;
    out[17] = '\0';
    return 1;
bad:
    err_set(c->err, ERR_INTERNAL, "The MAC address given for interface %zu is not valid.", i);
    return -1;
}

/* The interfaces to configure: spec.network.interfaces, or one eth0. */
static json_t *seed_interfaces(const json_t *vm)
{
    const json_t *ifaces = json_path_get(vm, "spec.network.interfaces");

    if (json_array_size(ifaces) > 0)
        return json_incref((json_t *)ifaces);
    return json_pack("[{s:s}]", "name", "eth0");
}

/* The device name in the guest: guestDeviceName, else the interface name. */
static const char *seed_device_name(seed_ctx_t *c, const json_t *iface, const char *field)
{
    const char *name = seed_str(iface, "guestDeviceName");

    if (!name)
        name = seed_str(iface, "name");
    if (!name) {
        g_autofree char *f = g_strdup_printf("%s.name", field);
        seed_fail_field(c->err, SEED_REQUIRED, f, "Required value");
    }
    return name;
}

/* A default route through the gateway in iface[key], if any. */
static int seed_gateway_route(seed_ctx_t *c, const json_t *iface, const char *key, int family,
                              json_t *routes, const char *field)
{
    const json_t *gw = seed_member(iface, key);
    g_autofree char *f = NULL;
    char ip[INET6_ADDRSTRLEN];

    if (!gw)
        return 0;
    f = g_strdup_printf("%s.%s", field, key);
    if (seed_check_ip(c, gw, SEED_IP_ANY, family, f, ip) < 0)
        return -1;
    json_array_append_new(routes, json_pack("{s:s,s:s}", "to",
                                            family == AF_INET ? "0.0.0.0/0" : "::/0", "via", ip));
    return 0;
}

static int seed_routes(seed_ctx_t *c, const json_t *iface, json_t *routes, const char *field)
{
    const json_t *list = seed_member(iface, "routes");
    g_autofree char *lf = g_strdup_printf("%s.routes", field);
    size_t i;
    json_t *r;

    if (!list)
        return 0;
    if (!json_is_array(list)) {
        seed_fail_type(c->err, lf, "a list of routes");
        return -1;
    }
    json_array_foreach(list, i, r) {
        g_autofree char *rf = g_strdup_printf("%s[%zu]", lf, i);
        g_autofree char *tf = g_strdup_printf("%s.to", rf);
        g_autofree char *vf = g_strdup_printf("%s.via", rf);
        g_autofree char *mf = g_strdup_printf("%s.metric", rf);
        const json_t *to = json_object_get(r, "to"), *via = json_object_get(r, "via");
        const json_t *metric = seed_member(r, "metric");
        json_t *out;

        if (!json_is_object(r)) {
            seed_fail_type(c->err, rf, "a route {to, via, metric}");
            return -1;
        }
        if (!(json_is_string(to) && !strcmp(json_string_value(to), "default")) &&
            seed_check_ip(c, to, SEED_IP_CIDR, 0, tf, NULL) < 0)
            return -1;
        if (seed_check_ip(c, via, SEED_IP_PLAIN, 0, vf, NULL) < 0)
            return -1;
        if (metric && (!json_is_integer(metric) || json_integer_value(metric) < 0)) {
            seed_fail_type(c->err, mf, "a non-negative integer");
            return -1;
        }
        out = json_pack("{s:O,s:O}", "to", to, "via", via);
        if (metric)
            json_object_set(out, "metric", (json_t *)metric);
        json_array_append_new(routes, out);
    }
    return 0;
}

/* nameservers {addresses, search}: the interface's, else spec.network's. */
static int seed_nameservers(seed_ctx_t *c, const json_t *iface, const char *field, json_t *eth)
{
    const json_t *net = json_path_get(c->vm, "spec.network");
    const json_t *dns = seed_member(iface, "nameservers");
    const json_t *search = seed_member(iface, "searchDomains");
    g_autofree char *df = NULL, *sf = NULL;
    json_auto_t *out = json_object();

    df = dns ? g_strdup_printf("%s.nameservers", field) : g_strdup("spec.network.nameservers");
    sf = search ? g_strdup_printf("%s.searchDomains", field)
                : g_strdup("spec.network.searchDomains");
    if (!dns)
        dns = seed_member(net, "nameservers");
    if (!search)
        search = seed_member(net, "searchDomains");
    if (json_array_size(dns) > 0 || (dns && !json_is_array(dns))) {
        if (seed_check_ip_list(c, dns, SEED_IP_PLAIN, df) < 0)
            return -1;
        json_object_set(out, "addresses", (json_t *)dns);
    }
    if (json_array_size(search) > 0 || (search && !json_is_array(search))) {
        if (!seed_is_str_list(search)) {
            seed_fail_type(c->err, sf, "a list of strings");
            return -1;
        }
        json_object_set(out, "search", (json_t *)search);
    }
    if (json_object_size(out) > 0)
        json_object_set(eth, "nameservers", out);
    return 0;
}

/* One ethernets entry of network-config for interface `i`. */
static json_t *seed_ethernet(seed_ctx_t *c, const json_t *iface, size_t i, const char *field,
                             const char **id)
{
    static const char *const dhcp[] = {"dhcp4", "dhcp6"};
    json_auto_t *eth = json_object();
    json_auto_t *routes = json_array();
    const json_t *addrs = seed_member(iface, "addresses");
    const json_t *mtu = seed_member(iface, "mtu");
    bool dhcp_set = false;
    char mac[18];
    int has_mac = 0;
    json_t *v;

    if (!json_is_object(iface)) {
        seed_fail_type(c->err, field, "an interface");
        return NULL;
    }
    if (!(*id = seed_device_name(c, iface, field)) ||
        (has_mac = seed_mac(c, i, ':', false, mac)) < 0)
        return NULL;
    if (has_mac) {
        json_object_set_new(eth, "match", json_pack("{s:s}", "macaddress", mac));
        json_object_set_new(eth, "set-name", json_string(*id));
    }
    for (size_t k = 0; k < G_N_ELEMENTS(dhcp); k++) {
        g_autofree char *f = g_strdup_printf("%s.%s", field, dhcp[k]);
        if (!(v = (json_t *)seed_member(iface, dhcp[k])))
            continue;
        if (!json_is_boolean(v)) {
            seed_fail_type(c->err, f, "a boolean");
            return NULL;
        }
        json_object_set(eth, dhcp[k], v);
        dhcp_set = true;
    }
    if (addrs) {
        g_autofree char *f = g_strdup_printf("%s.addresses", field);
        if (seed_check_ip_list(c, addrs, SEED_IP_CIDR, f) < 0)
            return NULL;
        if (json_array_size(addrs) > 0)
            json_object_set(eth, "addresses", (json_t *)addrs);
    }
    if (json_array_size(addrs) == 0 && !dhcp_set)
        json_object_set_new(eth, "dhcp4", json_true());
    if (mtu) {
        g_autofree char *f = g_strdup_printf("%s.mtu", field);
        if (!json_is_integer(mtu) || json_integer_value(mtu) < 68 ||
            json_integer_value(mtu) > 65535) {
            seed_fail_field(c->err, SEED_INVALID, f, "Invalid value: must be between 68 and 65535");
            return NULL;
        }
        json_object_set(eth, "mtu", (json_t *)mtu);
    }
    if (seed_gateway_route(c, iface, "gateway4", AF_INET, routes, field) < 0 ||
        seed_gateway_route(c, iface, "gateway6", AF_INET6, routes, field) < 0 ||
        seed_routes(c, iface, routes, field) < 0)
        return NULL;
    if (json_array_size(routes) > 0)
        json_object_set(eth, "routes", routes);
    if (seed_nameservers(c, iface, field, eth) < 0)
        return NULL;
    return json_incref(eth);
}

static int seed_render_network_config(seed_ctx_t *c)
{
    json_auto_t *ifaces = NULL;
    json_auto_t *eths = json_object();
    json_auto_t *doc = NULL;
    size_t i;
    json_t *iface;

    if (json_is_true(json_path_get(c->vm, "spec.network.disabled")))
        return 0;
    ifaces = seed_interfaces(c->vm);
    json_array_foreach(ifaces, i, iface) {
        g_autofree char *field = g_strdup_printf("spec.network.interfaces[%zu]", i);
        const char *id = NULL;
        json_t *eth = seed_ethernet(c, iface, i, field, &id);

        if (!eth)
            return -1;
        if (json_object_get(eths, id)) {
            json_decref(eth);
            seed_fail_field(c->err, SEED_INVALID, field,
                            "Invalid value: \"%.100s\": another interface has the same device name",
                            id);
            return -1;
        }
        json_object_set_new(eths, id, eth);
    }
    doc = json_pack("{s:i,s:O}", "version", 2, "ethernets", eths);
    return seed_add_yaml(c, "network-config", NULL, doc);
}

/* ---- user-data: raw cloud-config ---- */

/* First lines by which cloud-init knows a user-data format: a base64
 * value that decodes to one of these is the user-data. */
static const char *const seed_user_data_marks[] = {
    "#cloud-config", "#!", "#include", "#cloud-boothook", "#part-handler",
    "## template: jinja", "Content-Type:",
};

static bool seed_is_user_data(const guchar *d, size_t n)
{
    for (size_t i = 0; i < G_N_ELEMENTS(seed_user_data_marks); i++) {
        size_t m = strlen(seed_user_data_marks[i]);
        if (n >= m && !memcmp(d, seed_user_data_marks[i], m))
            return true;
    }
    return false;
}

/* Strict base64: the alphabet, '=' only as the last one or two of the
 * characters, a multiple of four of them; line breaks and blanks ignored. */
static bool seed_is_base64(const char *s, size_t n)
{
    size_t count = 0, pad = 0;

    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (ch == '\n' || ch == '\r' || ch == ' ' || ch == '\t')
            continue;
        if (ch == '=') {
            if (++pad > 2)
                return false;
        } else if (pad || !(g_ascii_isalnum(ch) || ch == '+' || ch == '/')) {
            return false;
        }
        count++;
    }
    return count > 0 && count % 4 == 0;
}

/* Inflate gzip data into at most `max` bytes. */
static char *seed_gunzip(seed_ctx_t *c, const guchar *in, size_t n, size_t max, const char *field,
                         size_t *out_len)
{
    z_stream zs = {0};
    size_t cap = MIN(max + 1, MAX(n * 4, (size_t)4096));
    char *out = g_malloc(cap);
    int rc;

    if (n >= UINT_MAX) {
        g_free(out);
        err_set(c->err, ERR_TOO_LARGE, "The cloud-config that %s refers to is too large.", field);
        return NULL;
    }
    if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK)
        abort();
    zs.next_in = (Bytef *)in;
    zs.avail_in = (uInt)n;
    for (;;) {
        if (zs.total_out == cap) {
            if (cap > max)
                goto too_large;
            cap = MIN(cap * 2, max + 1);
            out = g_realloc(out, cap);
        }
        zs.next_out = (Bytef *)out + zs.total_out;
        zs.avail_out = (uInt)(cap - zs.total_out);
        rc = inflate(&zs, Z_NO_FLUSH);
        if (zs.total_out > max)
            goto too_large;
        if (rc == Z_STREAM_END)
            break;
        if (rc == Z_OK || (rc == Z_BUF_ERROR && zs.avail_out == 0))
            continue;
        inflateEnd(&zs);
        g_free(out);
        seed_fail_field(c->err, SEED_INVALID, field,
                        "Invalid value: the Secret's value is base64 of damaged gzip data");
        return NULL;
    }
    *out_len = zs.total_out;
    inflateEnd(&zs);
    return out;

too_large:
    inflateEnd(&zs);
    g_free(out);
    err_set(c->err, ERR_TOO_LARGE,
            "The cloud-config that %s refers to inflates to more than %d MiB.", field,
            SEED_MAX_MIB);
    return NULL;
}

/* The user-data held by the Secret key `ref` selects: plain text as is,
 * base64 of gzip inflated, base64 of a user-data format decoded. */
static int seed_render_raw_user_data(seed_ctx_t *c, const json_t *ref)
{
    static const char field[] = "spec.bootstrap.cloudInit.rawCloudConfig";
    const char *s;
    size_t n, len;
    char *data;

    if (!(s = seed_secret_value(c, ref, NULL, field, &n)))
        return -1;
    if (seed_is_base64(s, n)) {
        gsize dn;
        g_autofree guchar *d = g_base64_decode(s, &dn);

        if (dn >= 2 && d[0] == 0x1f && d[1] == 0x8b) {
            if (!(data = seed_gunzip(c, d, dn, SEED_MAX_BYTES - c->total, field, &len)))
                return -1;
            return seed_add(c, "user-data", data, len);
        }
        if (seed_is_user_data(d, dn))
            return seed_add(c, "user-data", (char *)g_steal_pointer(&d), dn);
    }
    return seed_add(c, "user-data", g_memdup2(s, n), n);
}

/* ---- user-data: structured cloud-config ---- */

static int seed_users(seed_ctx_t *c, const json_t *cc, const char *field, json_t *doc)
{
    const json_t *users = seed_member(cc, "users");
    const json_t *def = seed_member(cc, "defaultUserEnabled");
    g_autofree char *uf = g_strdup_printf("%s.users", field);
    json_auto_t *out = json_array();
    size_t i;
    json_t *u;

    if (def && !json_is_boolean(def)) {
        g_autofree char *f = g_strdup_printf("%s.defaultUserEnabled", field);
        seed_fail_type(c->err, f, "a boolean");
        return -1;
    }
    if (users && !json_is_array(users)) {
        seed_fail_type(c->err, uf, "a list of users");
        return -1;
    }
    if (json_is_true(def))
        json_array_append_new(out, json_string("default"));
    json_array_foreach(users, i, u) {
        g_autofree char *f = g_strdup_printf("%s[%zu]", uf, i);
        json_auto_t *o = json_object();

        if (!json_is_object(u)) {
            seed_fail_type(c->err, f, "a user");
            return -1;
        }
        if (seed_copy_keys(c, u, seed_user_keys, G_N_ELEMENTS(seed_user_keys), o, f) < 0)
            return -1;
        if (!seed_str(o, "name")) {
            g_autofree char *nf = g_strdup_printf("%s.name", f);
            seed_fail_field(c->err, SEED_REQUIRED, nf, "Required value");
            return -1;
        }
        json_array_append(out, o);
    }
    if (json_array_size(out) > 0)
        json_object_set(doc, "users", out);
    return 0;
}

/* The encoding that carries binary content base64'd, given the one asked
 * for; NULL when the asked one already claims base64. */
static const char *seed_binary_encoding(const char *enc)
{
    if (!enc || !strcmp(enc, "text/plain"))
        return "b64";
    if (!strcmp(enc, "gz") || !strcmp(enc, "gzip"))
        return "gz+b64";
    return NULL;
}

static json_t *seed_write_file(seed_ctx_t *c, const json_t *wf, const char *field)
{
    json_auto_t *o = json_object();
    const json_t *content = seed_member(wf, "content");
    g_autofree char *cf = g_strdup_printf("%s.content", field);
    const char *path, *s;
    size_t n;

    if (!json_is_object(wf)) {
        seed_fail_type(c->err, field, "a file");
        return NULL;
    }
    if (seed_copy_keys(c, wf, seed_write_file_keys, G_N_ELEMENTS(seed_write_file_keys), o,
                       field) < 0)
        return NULL;
    if (!(path = seed_str(o, "path")) || path[0] != '/') {
        g_autofree char *pf = g_strdup_printf("%s.path", field);
        seed_fail_field(c->err, path ? SEED_INVALID : SEED_REQUIRED, pf,
                        path ? "Invalid value: must be an absolute path" : "Required value");
        return NULL;
    }
    if (!content)
        return json_incref(o);
    if (json_is_string(content)) {
        json_object_set(o, "content", (json_t *)content);
        return json_incref(o);
    }
    if (!json_is_object(content)) {
        seed_fail_type(c->err, cf, "a string or a Secret key selector {name, key}");
        return NULL;
    }
    if (!(s = seed_secret_value(c, content, NULL, cf, &n)))
        return NULL;
    if (seed_is_text(s, n)) {
        json_object_set_new(o, "content", json_stringn(s, n));
    } else {
        const char *enc = seed_binary_encoding(seed_str(o, "encoding"));
        g_autofree char *b64 = NULL;

        if (!enc) {
            seed_fail_field(c->err, SEED_INVALID, cf,
                            "Invalid value: the Secret's value is not base64 text, as the "
                            "encoding says");
            return NULL;
        }
        b64 = g_base64_encode((const guchar *)s, n);
        json_object_set_new(o, "encoding", json_string(enc));
        json_object_set_new(o, "content", json_string(b64));
    }
    return json_incref(o);
}

static int seed_write_files(seed_ctx_t *c, const json_t *cc, const char *field, json_t *doc)
{
    const json_t *files = seed_member(cc, "write_files");
    g_autofree char *wf = g_strdup_printf("%s.write_files", field);
    json_auto_t *out = json_array();
    size_t i;
    json_t *f;

    if (!files)
        return 0;
    if (!json_is_array(files)) {
        seed_fail_type(c->err, wf, "a list of files");
        return -1;
    }
    json_array_foreach(files, i, f) {
        g_autofree char *ff = g_strdup_printf("%s[%zu]", wf, i);
        json_t *o = seed_write_file(c, f, ff);
        if (!o)
            return -1;
        json_array_append_new(out, o);
    }
    if (json_array_size(out) > 0)
        json_object_set(doc, "write_files", out);
    return 0;
}

static int seed_render_cloud_config(seed_ctx_t *c, const json_t *ci)
{
    static const char field[] = "spec.bootstrap.cloudInit.cloudConfig";
    const json_t *cc = seed_member(ci, "cloudConfig");
    const json_t *keys = seed_member(ci, "sshAuthorizedKeys");
    json_auto_t *doc = json_object();

    if (cc && !json_is_object(cc)) {
        seed_fail_type(c->err, field, "an object");
        return -1;
    }
    if (seed_users(c, cc, field, doc) < 0)
        return -1;
    if (keys) {
        if (!seed_is_str_list(keys)) {
            seed_fail_type(c->err, "spec.bootstrap.cloudInit.sshAuthorizedKeys",
                           "a list of strings");
            return -1;
        }
        if (json_array_size(keys) > 0)
            json_object_set(doc, "ssh_authorized_keys", (json_t *)keys);
    }
    if (seed_write_files(c, cc, field, doc) < 0 ||
        seed_copy_keys(c, cc, seed_cloud_config_keys, G_N_ELEMENTS(seed_cloud_config_keys), doc,
                       field) < 0)
        return -1;
    return seed_add_yaml(c, "user-data", SEED_CLOUD_CONFIG, doc);
}

static int seed_render_cloud_init(seed_ctx_t *c, const json_t *ci)
{
    const json_t *raw = seed_member(ci, "rawCloudConfig");
    const json_t *keys = seed_member(ci, "sshAuthorizedKeys");

    if (raw && keys && !seed_is_str_list(keys)) {
        seed_fail_type(c->err, "spec.bootstrap.cloudInit.sshAuthorizedKeys", "a list of strings");
        return -1;
    }
    if (seed_render_meta_data(c, raw ? keys : NULL) < 0)
        return -1;
    if (raw ? seed_render_raw_user_data(c, raw) < 0 : seed_render_cloud_config(c, ci) < 0)
        return -1;
    return seed_render_network_config(c);
}

/* ---- LinuxPrep ---- */

/* /etc/adjtime as util-linux documents it: drift, last adjustment and
 * calibration times, then UTC or LOCAL. */
static json_t *seed_adjtime(bool utc)
{
    return json_pack("{s:s,s:s,s:s,s:s}", "path", "/etc/adjtime", "content",
                     utc ? "0.0 0 0.0\n0\nUTC\n" : "0.0 0 0.0\n0\nLOCAL\n", "owner", "root:root",
                     "permissions", "0644");
}

static int seed_render_linux_prep(seed_ctx_t *c, const json_t *lp)
{
    const json_t *tz = seed_member(lp, "timeZone");
    const json_t *utc = seed_member(lp, "hardwareClockIsUTC");
    json_auto_t *doc = json_object();
    const char *host;

    if (seed_render_meta_data(c, NULL) < 0 || !(host = seed_hostname(c)))
        return -1;
    json_object_set_new(doc, "hostname", json_string(host));
    if (tz) {
        if (!json_is_string(tz)) {
            seed_fail_type(c->err, "spec.bootstrap.linuxPrep.timeZone", "a string");
            return -1;
        }
        json_object_set(doc, "timezone", (json_t *)tz);
    }
    if (utc) {
        if (!json_is_boolean(utc)) {
            seed_fail_type(c->err, "spec.bootstrap.linuxPrep.hardwareClockIsUTC", "a boolean");
            return -1;
        }
        json_object_set_new(doc, "write_files", json_pack("[o]", seed_adjtime(json_is_true(utc))));
    }
    if (seed_add_yaml(c, "user-data", SEED_CLOUD_CONFIG, doc) < 0)
        return -1;
    return seed_render_network_config(c);
}

/* ---- XML ---- */

typedef struct seed_xml {
    xmlBufferPtr buf;
    xmlTextWriterPtr w;
    bool failed;      /* the writer failed: out of memory, never input */
} seed_xml_t;

static void seed_xml_init_once(void)
{
    static gsize done;

    if (g_once_init_enter(&done)) {
        xmlInitParser();
        g_once_init_leave(&done, 1);
    }
}

static void sx_begin(seed_xml_t *x)
{
    seed_xml_init_once();
    x->buf = xmlBufferCreate();
    x->w = xmlNewTextWriterMemory(x->buf, 0);
    if (!x->buf || !x->w)
        abort();
    x->failed = xmlTextWriterSetIndent(x->w, 1) < 0 ||
                xmlTextWriterSetIndentString(x->w, BAD_CAST "  ") < 0 ||
                xmlTextWriterStartDocument(x->w, "1.0", "UTF-8", NULL) < 0;
}

static void sx_start(seed_xml_t *x, const char *name)
{
    x->failed |= xmlTextWriterStartElement(x->w, BAD_CAST name) < 0;
}

static void sx_end(seed_xml_t *x)
{
    x->failed |= xmlTextWriterEndElement(x->w) < 0;
}

static void sx_attr(seed_xml_t *x, const char *name, const char *value)
{
    x->failed |= xmlTextWriterWriteAttribute(x->w, BAD_CAST name, BAD_CAST value) < 0;
}

/* <name>text</name>; text was checked by seed_is_xml_text. */
static void sx_elem(seed_xml_t *x, const char *name, const char *text)
{
    x->failed |= xmlTextWriterWriteElement(x->w, BAD_CAST name, BAD_CAST text) < 0;
}

static void sx_elem_int(seed_xml_t *x, const char *name, json_int_t v)
{
    char buf[32];

    snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT, v);
    sx_elem(x, name, buf);
}

/* <Password><Value>..</Value><PlainText>true</PlainText></Password>-like. */
static void sx_password(seed_xml_t *x, const char *name, const char *value)
{
    sx_start(x, name);
    sx_elem(x, "Value", value);
    sx_elem(x, "PlainText", "true");
    sx_end(x);
}

/* Finish the document and add it to the seed as `name`. */
static int sx_finish(seed_ctx_t *c, seed_xml_t *x, const char *name)
{
    int rc = -1;

    x->failed |= xmlTextWriterEndDocument(x->w) < 0;
    xmlFreeTextWriter(x->w); /* flushes into x->buf */
    x->w = NULL;
    if (x->failed)
        err_set(c->err, ERR_INTERNAL, "Cannot write %s.", name);
    else
        rc = seed_add(c, name, g_memdup2(xmlBufferContent(x->buf), xmlBufferLength(x->buf)),
                      xmlBufferLength(x->buf));
    xmlBufferFree(x->buf);
    x->buf = NULL;
    return rc;
}

static void sx_abandon(seed_xml_t *x)
{
    if (x->w)
        xmlFreeTextWriter(x->w);
    if (x->buf)
        xmlBufferFree(x->buf);
    x->w = NULL;
    x->buf = NULL;
}

/* A string member that XML can carry, or NULL when absent (ok stays true)
 * or bad (ok false, error set). */
static const char *seed_xml_str(seed_ctx_t *c, const json_t *o, const char *key,
                                const char *field, bool *ok)
{
    const json_t *v = seed_member(o, key);
    g_autofree char *f = NULL;

    if (!v)
        return NULL;
    f = g_strdup_printf("%s.%s", field, key);
    if (!json_is_string(v)) {
        seed_fail_type(c->err, f, "a string");
        *ok = false;
        return NULL;
    }
    if (!seed_is_xml_text(json_string_value(v), json_string_length(v))) {
        seed_fail_field(c->err, SEED_INVALID, f,
                        "Invalid value: must be UTF-8 text without control characters");
        *ok = false;
        return NULL;
    }
    return json_string_value(v);
}

/* A Secret key selector member, its value checked for XML; same contract. */
static const char *seed_xml_secret(seed_ctx_t *c, const json_t *o, const char *key,
                                   const char *default_key, const char *field, bool *ok)
{
    const json_t *ref = seed_member(o, key);
    g_autofree char *f = NULL;
    const char *s;
    size_t n;

    if (!ref)
        return NULL;
    f = g_strdup_printf("%s.%s", field, key);
    if (!json_is_object(ref)) {
        seed_fail_type(c->err, f, "a Secret key selector {name, key}");
        *ok = false;
        return NULL;
    }
    if (!(s = seed_text_or_secret(c, ref, default_key, f, true, &n)))
        *ok = false;
    return s;
}

/* ---- Sysprep ---- */

/* Microsoft's time zone index values (as in sysprep.inf and vSphere's
 * guiUnattended.timeZone) to the Windows time zone ids unattend.xml takes. */
static const struct {
    int index;
    const char *id;
} seed_windows_zones[] = {
    {0, "Dateline Standard Time"},          {1, "UTC-11"},
    {2, "Hawaiian Standard Time"},          {3, "Alaskan Standard Time"},
    {4, "Pacific Standard Time"},           {10, "Mountain Standard Time"},
    {13, "Mountain Standard Time (Mexico)"}, {15, "US Mountain Standard Time"},
    {20, "Central Standard Time"},          {25, "Canada Central Standard Time"},
    {30, "Central Standard Time (Mexico)"}, {33, "Central America Standard Time"},
    {35, "Eastern Standard Time"},          {40, "US Eastern Standard Time"},
    {45, "SA Pacific Standard Time"},       {50, "Atlantic Standard Time"},
    {55, "SA Western Standard Time"},       {56, "Pacific SA Standard Time"},
    {60, "Newfoundland Standard Time"},     {65, "E. South America Standard Time"},
    {70, "SA Eastern Standard Time"},       {73, "Greenland Standard Time"},
    {75, "UTC-02"},                         {80, "Azores Standard Time"},
    {83, "Cape Verde Standard Time"},       {85, "GMT Standard Time"},
    {90, "Greenwich Standard Time"},        {95, "Central Europe Standard Time"},
    {100, "Central European Standard Time"}, {105, "Romance Standard Time"},
    {110, "W. Europe Standard Time"},       {113, "W. Central Africa Standard Time"},
    {115, "E. Europe Standard Time"},       {120, "Egypt Standard Time"},
    {125, "FLE Standard Time"},             {130, "GTB Standard Time"},
    {135, "Israel Standard Time"},          {140, "South Africa Standard Time"},
    {145, "Russian Standard Time"},         {150, "Arab Standard Time"},
    {155, "E. Africa Standard Time"},       {158, "Arabic Standard Time"},
    {160, "Iran Standard Time"},            {165, "Arabian Standard Time"},
    {170, "Caucasus Standard Time"},        {175, "Afghanistan Standard Time"},
    {180, "Ekaterinburg Standard Time"},    {185, "West Asia Standard Time"},
    {190, "India Standard Time"},           {193, "Nepal Standard Time"},
    {195, "Central Asia Standard Time"},    {200, "Sri Lanka Standard Time"},
    {201, "N. Central Asia Standard Time"}, {203, "Myanmar Standard Time"},
    {205, "SE Asia Standard Time"},         {207, "North Asia Standard Time"},
    {210, "China Standard Time"},           {215, "Singapore Standard Time"},
    {220, "Taipei Standard Time"},          {225, "W. Australia Standard Time"},
    {227, "North Asia East Standard Time"}, {230, "Korea Standard Time"},
    {235, "Tokyo Standard Time"},           {240, "Yakutsk Standard Time"},
    {245, "AUS Central Standard Time"},     {250, "Cen. Australia Standard Time"},
    {255, "AUS Eastern Standard Time"},     {260, "E. Australia Standard Time"},
    {265, "Tasmania Standard Time"},        {270, "Vladivostok Standard Time"},
    {275, "West Pacific Standard Time"},    {280, "Central Pacific Standard Time"},
    {285, "Fiji Standard Time"},            {290, "New Zealand Standard Time"},
    {300, "Tonga Standard Time"},
};

static const char *seed_windows_zone(json_int_t index)
{
    for (size_t i = 0; i < G_N_ELEMENTS(seed_windows_zones); i++) {
        if (seed_windows_zones[i].index == index)
            return seed_windows_zones[i].id;
    }
    return NULL;
}

/* Everything the inline sysprep answers hold, read and checked before any
 * XML is written. */
typedef struct seed_sysprep {
    const char *computer_name;
    const char *full_name, *org_name, *product_key;
    const char *time_zone;
    const char *admin_password;
    bool auto_logon;
    const json_t *auto_logon_count;
    const char *join_domain, *join_workgroup, *domain_admin, *domain_password;
    const json_t *commands;
    const char *license_mode;
    const json_t *license_users;
} seed_sysprep_t;

static int seed_sysprep_read(seed_ctx_t *c, const json_t *sp, seed_sysprep_t *s)
{
    static const char udf[] = "spec.bootstrap.sysprep.sysprep.userData";
    static const char idf[] = "spec.bootstrap.sysprep.sysprep.identification";
    const json_t *ud = seed_member(sp, "userData");
    const json_t *gui = seed_member(sp, "guiUnattended");
    const json_t *id = seed_member(sp, "identification");
    const json_t *lic = seed_member(sp, "licenseFilePrintData");
    const json_t *tz = seed_member(gui, "timeZone");
    const json_t *v;
    bool ok = true;
    size_t i;

    if (!(s->computer_name = seed_hostname(c)))
        return -1;
    if (!seed_is_xml_text(s->computer_name, strlen(s->computer_name))) {
        seed_fail_field(c->err, SEED_INVALID, "spec.network.hostName",
                        "Invalid value: must be UTF-8 text without control characters");
        return -1;
    }
    s->full_name = seed_xml_str(c, ud, "fullName", udf, &ok);
    s->org_name = ok ? seed_xml_str(c, ud, "orgName", udf, &ok) : NULL;
    s->product_key = ok ? seed_xml_secret(c, ud, "productID", "product_id", udf, &ok) : NULL;
    s->admin_password = ok ? seed_xml_secret(c, gui, "password", "password",
                                             "spec.bootstrap.sysprep.sysprep.guiUnattended", &ok)
                           : NULL;
    s->join_domain = ok ? seed_xml_str(c, id, "joinDomain", idf, &ok) : NULL;
    s->join_workgroup = ok ? seed_xml_str(c, id, "joinWorkgroup", idf, &ok) : NULL;
    s->domain_admin = ok ? seed_xml_str(c, id, "domainAdmin", idf, &ok) : NULL;
    s->domain_password =
        ok ? seed_xml_secret(c, id, "domainAdminPassword", "domain_admin_password", idf, &ok)
           : NULL;
    if (!ok)
        return -1;
    if (s->join_domain && (!s->domain_admin || !s->domain_password)) {
        seed_fail_field(c->err, SEED_REQUIRED,
                        s->domain_admin ? "spec.bootstrap.sysprep.sysprep.identification."
                                          "domainAdminPassword"
                                        : "spec.bootstrap.sysprep.sysprep.identification."
                                          "domainAdmin",
                        "Required value: joining a domain needs its administrator and password");
        return -1;
    }
    if (tz) {
        if (!json_is_integer(tz) || !(s->time_zone = seed_windows_zone(json_integer_value(tz)))) {
            seed_fail_field(c->err, SEED_INVALID,
                            "spec.bootstrap.sysprep.sysprep.guiUnattended.timeZone",
                            "Invalid value: must be a Microsoft time zone index, e.g. 35 for "
                            "Eastern Standard Time");
            return -1;
        }
    }
    v = seed_member(gui, "autoLogon");
    s->auto_logon = json_is_true(v);
    s->auto_logon_count = seed_member(gui, "autoLogonCount");
    if (s->auto_logon_count &&
        (!json_is_integer(s->auto_logon_count) || json_integer_value(s->auto_logon_count) < 1)) {
        seed_fail_field(c->err, SEED_INVALID,
                        "spec.bootstrap.sysprep.sysprep.guiUnattended.autoLogonCount",
                        "Invalid value: must be a positive integer");
        return -1;
    }
    s->commands = seed_member(seed_member(sp, "guiRunOnce"), "commands");
    if (s->commands) {
        if (!seed_is_str_list(s->commands)) {
            seed_fail_type(c->err, "spec.bootstrap.sysprep.sysprep.guiRunOnce.commands",
                           "a list of strings");
            return -1;
        }
        json_array_foreach(s->commands, i, v) {
            if (!seed_is_xml_text(json_string_value(v), json_string_length(v))) {
                g_autofree char *f =
                    g_strdup_printf("spec.bootstrap.sysprep.sysprep.guiRunOnce.commands[%zu]", i);
                seed_fail_field(c->err, SEED_INVALID, f,
                                "Invalid value: must be UTF-8 text without control characters");
                return -1;
            }
        }
    }
    if (lic) {
        const char *mode = seed_str(lic, "autoMode");
        s->license_users = seed_member(lic, "autoUsers");
        if (mode && !strcmp(mode, "perSeat"))
            s->license_mode = "PerSeat";
        else if (mode && !strcmp(mode, "perServer"))
            s->license_mode = "PerServer";
        if (!s->license_mode || (s->license_users && !json_is_integer(s->license_users))) {
            seed_fail_field(c->err, SEED_INVALID,
                            "spec.bootstrap.sysprep.sysprep.licenseFilePrintData",
                            "Invalid value: autoMode must be perSeat or perServer, autoUsers an "
                            "integer");
            return -1;
        }
    }
    return 0;
}

static void sx_component(seed_xml_t *x, const char *name)
{
    sx_start(x, "component");
    sx_attr(x, "name", name);
    sx_attr(x, "processorArchitecture", UNATTEND_ARCH);
    sx_attr(x, "publicKeyToken", "31bf3856ad364e35");
    sx_attr(x, "language", "neutral");
    sx_attr(x, "versionScope", "nonSxS");
    sx_attr(x, "xmlns:wcm", UNATTEND_WCM_NS);
    sx_attr(x, "xmlns:xsi", XSI_NS);
}

/* One interface's static settings for Microsoft-Windows-TCPIP. */
static int seed_sysprep_tcpip_interface(seed_ctx_t *c, seed_xml_t *x, const json_t *iface,
                                        const char *mac, const char *field)
{
    static const struct {
        const char *elem, *dhcp, *gateway, *to;
        int family;
    } fam[] = {
        {"Ipv4Settings", "dhcp4", "gateway4", "0.0.0.0/0", AF_INET},
        {"Ipv6Settings", "dhcp6", "gateway6", "::/0", AF_INET6},
    };
    const json_t *addrs = seed_member(iface, "addresses");
    g_autofree char *af = g_strdup_printf("%s.addresses", field);
    bool has[2] = {false, false};
    char ip[INET6_ADDRSTRLEN];
    int route = 0, prefix;
    size_t i;
    json_t *a;

    if (seed_check_ip_list(c, addrs, SEED_IP_CIDR, af) < 0)
        return -1;
    json_array_foreach(addrs, i, a) {
        int f = seed_parse_ip(json_string_value(a), ip, &prefix);
        has[f == AF_INET6] = true;
    }
    sx_start(x, "Interface");
    sx_attr(x, "wcm:action", "add");
    for (size_t k = 0; k < G_N_ELEMENTS(fam); k++) {
        const json_t *dhcp = seed_member(iface, fam[k].dhcp);
        if (!has[k] && !dhcp)
            continue;
        sx_start(x, fam[k].elem);
        sx_elem(x, "DhcpEnabled", json_is_true(dhcp) ? "true" : "false");
        sx_end(x);
    }
    sx_elem(x, "Identifier", mac);
    sx_start(x, "UnicastIpAddresses");
    json_array_foreach(addrs, i, a) {
        char key[32];
        snprintf(key, sizeof(key), "%zu", i + 1);
        sx_start(x, "IpAddress");
        sx_attr(x, "wcm:action", "add");
        sx_attr(x, "wcm:keyValue", key);
        x->failed |= xmlTextWriterWriteString(x->w, BAD_CAST json_string_value(a)) < 0;
        sx_end(x);
    }
    sx_end(x);
    sx_start(x, "Routes");
    for (size_t k = 0; k < G_N_ELEMENTS(fam); k++) {
        const json_t *gw = seed_member(iface, fam[k].gateway);
        g_autofree char *gf = g_strdup_printf("%s.%s", field, fam[k].gateway);

        if (!gw)
            continue;
        if (seed_check_ip(c, gw, SEED_IP_ANY, fam[k].family, gf, ip) < 0)
            return -1;
        sx_start(x, "Route");
        sx_attr(x, "wcm:action", "add");
        sx_elem_int(x, "Identifier", route++);
        sx_elem(x, "Prefix", fam[k].to);
        sx_elem(x, "NextHopAddress", ip);
        sx_end(x);
    }
    sx_end(x);
    sx_end(x);
    return 0;
}

/* Microsoft-Windows-TCPIP and -DNS-Client for the interfaces that have a
 * MAC address (to identify them) and something other than DHCP to say. */
static int seed_sysprep_network(seed_ctx_t *c, seed_xml_t *x)
{
    const json_t *net = json_path_get(c->vm, "spec.network");
    const json_t *search = seed_member(net, "searchDomains");
    json_auto_t *ifaces = NULL;
    bool tcpip = false, dns = false;
    char mac[18];
    size_t i;
    json_t *iface;

    if (json_is_true(seed_member(net, "disabled")))
        return 0;
    if (search && !seed_is_str_list(search)) {
        seed_fail_type(c->err, "spec.network.searchDomains", "a list of strings");
        return -1;
    }
    ifaces = seed_interfaces(c->vm);
    json_array_foreach(ifaces, i, iface) {
        g_autofree char *field = g_strdup_printf("spec.network.interfaces[%zu]", i);
        int has_mac = seed_mac(c, i, '-', true, mac);

        if (has_mac < 0)
            return -1;
        if (!has_mac || json_array_size(seed_member(iface, "addresses")) == 0)
            continue;
        if (!tcpip) {
            sx_component(x, "Microsoft-Windows-TCPIP");
            sx_start(x, "Interfaces");
            tcpip = true;
        }
        if (seed_sysprep_tcpip_interface(c, x, iface, mac, field) < 0)
            return -1;
    }
    if (tcpip) {
        sx_end(x);
        sx_end(x);
    }
    json_array_foreach(ifaces, i, iface) {
        const json_t *own = seed_member(iface, "nameservers");
        const json_t *servers = own ? own : seed_member(net, "nameservers");
        g_autofree char *field =
            own ? g_strdup_printf("spec.network.interfaces[%zu].nameservers", i)
                : g_strdup("spec.network.nameservers");
        size_t k;
        json_t *s;

        if (seed_mac(c, i, '-', true, mac) != 1 || json_array_size(servers) == 0)
            continue;
        if (seed_check_ip_list(c, servers, SEED_IP_PLAIN, field) < 0)
            return -1;
        if (!dns) {
            sx_component(x, "Microsoft-Windows-DNS-Client");
            if (json_array_size(search) > 0) {
                sx_start(x, "DNSSuffixSearchOrder");
                json_array_foreach(search, k, s) {
                    char key[32];
                    if (!seed_is_xml_text(json_string_value(s), json_string_length(s))) {
                        seed_fail_field(c->err, SEED_INVALID, "spec.network.searchDomains",
                                        "Invalid value: must be UTF-8 text without control "
                                        "characters");
                        return -1;
                    }
                    snprintf(key, sizeof(key), "%zu", k + 1);
                    sx_start(x, "DomainName");
                    sx_attr(x, "wcm:action", "add");
                    sx_attr(x, "wcm:keyValue", key);
                    x->failed |= xmlTextWriterWriteString(x->w, BAD_CAST json_string_value(s)) < 0;
                    sx_end(x);
                }
                sx_end(x);
            }
            sx_start(x, "Interfaces");
            dns = true;
        }
        sx_start(x, "Interface");
        sx_attr(x, "wcm:action", "add");
        sx_elem(x, "Identifier", mac);
        sx_start(x, "DNSServerSearchOrder");
        json_array_foreach(servers, k, s) {
            char key[32];
            snprintf(key, sizeof(key), "%zu", k + 1);
            sx_start(x, "IpAddress");
            sx_attr(x, "wcm:action", "add");
            sx_attr(x, "wcm:keyValue", key);
            x->failed |= xmlTextWriterWriteString(x->w, BAD_CAST json_string_value(s)) < 0;
            sx_end(x);
        }
        sx_end(x);
        sx_end(x);
    }
    if (dns) {
        sx_end(x);
        sx_end(x);
    }
    return 0;
}

static int seed_sysprep_write(seed_ctx_t *c, seed_xml_t *x, const seed_sysprep_t *s)
{
    size_t i;
    json_t *v;

    sx_start(x, "unattend");
    sx_attr(x, "xmlns", UNATTEND_NS);

    sx_start(x, "settings");
    sx_attr(x, "pass", "specialize");
    sx_component(x, "Microsoft-Windows-Shell-Setup");
    if (s->license_mode) {
        /* Only fixed words and an integer: nothing can end the comment.  It
         * comes first: libxml2 would not indent an end tag after it. */
        g_autofree char *users =
            s->license_users
                ? g_strdup_printf(" AutoUsers=%" JSON_INTEGER_FORMAT,
                                  json_integer_value(s->license_users))
                : g_strdup("");
        g_autofree char *note = g_strdup_printf(
            " licenseFilePrintData AutoMode=%s%s: no unattend.xml setting since Windows Vista ",
            s->license_mode, users);
        x->failed |= xmlTextWriterWriteComment(x->w, BAD_CAST note) < 0;
    }
    sx_elem(x, "ComputerName", s->computer_name);
    if (s->full_name)
        sx_elem(x, "RegisteredOwner", s->full_name);
    if (s->org_name)
        sx_elem(x, "RegisteredOrganization", s->org_name);
    if (s->product_key)
        sx_elem(x, "ProductKey", s->product_key);
    if (s->time_zone)
        sx_elem(x, "TimeZone", s->time_zone);
    sx_end(x);
    if (s->join_domain || s->join_workgroup) {
        sx_component(x, "Microsoft-Windows-UnattendedJoin");
        sx_start(x, "Identification");
        if (s->join_domain) {
            sx_start(x, "Credentials");
            sx_elem(x, "Domain", s->join_domain);
            sx_elem(x, "Username", s->domain_admin);
            sx_elem(x, "Password", s->domain_password);
            sx_end(x);
            sx_elem(x, "JoinDomain", s->join_domain);
        } else {
            sx_elem(x, "JoinWorkgroup", s->join_workgroup);
        }
        sx_end(x);
        sx_end(x);
    }
    if (seed_sysprep_network(c, x) < 0)
        return -1;
    sx_end(x); /* settings */

    sx_start(x, "settings");
    sx_attr(x, "pass", "oobeSystem");
    sx_component(x, "Microsoft-Windows-Shell-Setup");
    if (s->auto_logon) {
        sx_start(x, "AutoLogon");
        sx_elem(x, "Enabled", "true");
        sx_elem_int(x, "LogonCount",
                    s->auto_logon_count ? json_integer_value(s->auto_logon_count) : 1);
        sx_elem(x, "Username", "Administrator");
        if (s->admin_password)
            sx_password(x, "Password", s->admin_password);
        sx_end(x);
    }
    if (json_array_size(s->commands) > 0) {
        sx_start(x, "FirstLogonCommands");
        json_array_foreach(s->commands, i, v) {
            sx_start(x, "SynchronousCommand");
            sx_attr(x, "wcm:action", "add");
            sx_elem_int(x, "Order", (json_int_t)i + 1);
            sx_elem(x, "CommandLine", json_string_value(v));
            sx_end(x);
        }
        sx_end(x);
    }
    sx_start(x, "OOBE");
    sx_elem(x, "HideEULAPage", "true");
    if (s->admin_password)
        sx_elem(x, "HideLocalAccountScreen", "true");
    sx_elem(x, "HideOEMRegistrationScreen", "true");
    sx_elem(x, "HideOnlineAccountScreens", "true");
    sx_elem(x, "HideWirelessSetupInOOBE", "true");
    sx_elem(x, "ProtectYourPC", "3");
    sx_end(x);
    if (s->admin_password) {
        sx_start(x, "UserAccounts");
        sx_password(x, "AdministratorPassword", s->admin_password);
        sx_end(x);
    }
    sx_end(x); /* component */
    sx_end(x); /* settings */
    sx_end(x); /* unattend */
    return 0;
}

static int seed_render_sysprep(seed_ctx_t *c, const json_t *sp)
{
    const json_t *raw = seed_member(sp, "rawSysprep");
    seed_sysprep_t s = {0};
    seed_xml_t x = {0};
    const char *v;
    size_t n;

    if (raw) {
        if (!(v = seed_secret_value(c, raw, NULL, "spec.bootstrap.sysprep.rawSysprep", &n)))
            return -1;
        return seed_add(c, "unattend.xml", g_memdup2(v, n), n);
    }
    if (seed_sysprep_read(c, seed_member(sp, "sysprep"), &s) < 0)
        return -1;
    sx_begin(&x);
    if (seed_sysprep_write(c, &x, &s) < 0) {
        sx_abandon(&x);
        return -1;
    }
    return sx_finish(c, &x, "unattend.xml");
}

/* ---- vAppConfig ---- */

static int seed_cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The properties as an object of key -> value, in the order given (or, for
 * rawProperties, sorted by key). */
static json_t *seed_vapp_properties(seed_ctx_t *c, const json_t *va)
{
    static const char field[] = "spec.bootstrap.vAppConfig";
    const json_t *props = seed_member(va, "properties");
    const json_t *raw = seed_member(va, "rawProperties");
    json_auto_t *out = json_object();
    size_t i;
    json_t *p;

    if (raw) {
        const json_t *secret;
        const char *name = json_string_value(raw);
        g_autofree const char **keys = NULL;
        const char *k;
        json_t *v;

        if (!name || !*name) {
            seed_fail_type(c->err, "spec.bootstrap.vAppConfig.rawProperties", "a Secret name");
            return NULL;
        }
        secret = json_object_get(c->secrets, name);
        if (!json_is_object(secret)) {
            err_set(c->err, ERR_NOT_FOUND,
                    "The Secret \"%.253s\" that spec.bootstrap.vAppConfig.rawProperties names "
                    "does not exist.",
                    name);
            return NULL;
        }
        keys = g_new0(const char *, json_object_size(secret) + 1);
        i = 0;
        json_object_foreach((json_t *)secret, k, v) {
            keys[i++] = k;
        }
        qsort(keys, i, sizeof(*keys), seed_cmp_str);
        for (size_t j = 0; j < i; j++) {
            v = json_object_get(secret, keys[j]);
            if (!json_is_string(v) || !seed_is_xml_text(keys[j], strlen(keys[j])) ||
                !seed_is_xml_text(json_string_value(v), json_string_length(v))) {
                err_set(c->err, ERR_INVALID,
                        "The key \"%.253s\" of the Secret \"%.253s\", which "
                        "spec.bootstrap.vAppConfig.rawProperties names, does not hold UTF-8 "
                        "text without control characters.",
                        keys[j], name);
                return NULL;
            }
            json_object_set(out, keys[j], v);
        }
        return json_incref(out);
    }
    if (props && !json_is_array(props)) {
        seed_fail_type(c->err, "spec.bootstrap.vAppConfig.properties", "a list of properties");
        return NULL;
    }
    json_array_foreach(props, i, p) {
        g_autofree char *pf = g_strdup_printf("%s.properties[%zu]", field, i);
        g_autofree char *vf = g_strdup_printf("%s.value", pf);
        const json_t *value = seed_member(p, "value");
        const json_t *lit = seed_member(value, "value"), *from = seed_member(value, "from");
        bool ok = true;
        const char *key = seed_xml_str(c, p, "key", pf, &ok);
        const char *s = "";
        size_t n;

        if (!ok)
            return NULL;
        if (!key) {
            g_autofree char *kf = g_strdup_printf("%s.key", pf);
            seed_fail_field(c->err, SEED_REQUIRED, kf, "Required value");
            return NULL;
        }
        if (lit && from) {
            g_autofree char *ff = g_strdup_printf("%s.from", vf);
            seed_fail_field(c->err, SEED_FORBIDDEN, ff,
                            "Forbidden: may not be combined with value");
            return NULL;
        }
        if (value && !json_is_object(value)) {
            seed_fail_type(c->err, vf, "an object {value} or {from}");
            return NULL;
        }
        if (lit && !(s = seed_xml_str(c, value, "value", vf, &ok)))
            return NULL;
        if (from) {
            g_autofree char *ff = g_strdup_printf("%s.from", vf);
            if (!json_is_object(from)) {
                seed_fail_type(c->err, ff, "a Secret key selector {name, key}");
                return NULL;
            }
            if (!(s = seed_text_or_secret(c, from, NULL, ff, true, &n)))
                return NULL;
        }
        json_object_set_new(out, key, json_string(s));
    }
    return json_incref(out);
}

static int seed_render_vapp(seed_ctx_t *c, const json_t *va)
{
    json_auto_t *props = seed_vapp_properties(c, va);
    seed_xml_t x = {0};
    const char *k;
    json_t *v;

    if (!props)
        return -1;
    sx_begin(&x);
    sx_start(&x, "Environment");
    sx_attr(&x, "xmlns", OVF_ENV_NS);
    sx_attr(&x, "xmlns:oe", OVF_ENV_NS);
    sx_attr(&x, "xmlns:xsi", XSI_NS);
    sx_attr(&x, "oe:id", "");
    sx_start(&x, "PlatformSection");
    sx_elem(&x, "Kind", "vmsvc");
    sx_end(&x);
    sx_start(&x, "PropertySection");
    json_object_foreach(props, k, v) {
        sx_start(&x, "Property");
        sx_attr(&x, "oe:key", k);
        sx_attr(&x, "oe:value", json_string_value(v));
        sx_end(&x);
    }
    sx_end(&x);
    sx_end(&x);
    return sx_finish(c, &x, "ovf-env.xml");
}

/* ---- entry points ---- */

static const char *const seed_providers[] = {"cloudInit", "linuxPrep", "sysprep"};

int seed_validate_bootstrap(const json_t *vm, err_t *err)
{
    const json_t *bs = json_path_get(vm, "spec.bootstrap");
    const json_t *ci = seed_member(bs, "cloudInit");
    const json_t *sp = seed_member(bs, "sysprep");
    const json_t *va = seed_member(bs, "vAppConfig");
    const json_t *id = seed_member(seed_member(sp, "sysprep"), "identification");
    const char *first = NULL;
    size_t before = err && err->causes ? json_array_size(err->causes) : 0;
    bool bad = false;

    for (size_t i = 0; i < G_N_ELEMENTS(seed_providers); i++) {
        g_autofree char *f = NULL;

        if (!seed_member(bs, seed_providers[i]))
            continue;
        if (!first) {
            first = seed_providers[i];
            continue;
        }
        f = g_strdup_printf("spec.bootstrap.%s", seed_providers[i]);
        err_add_cause(err, SEED_FORBIDDEN, f,
                      "Forbidden: may not be combined with %s: use one of cloudInit, linuxPrep "
                      "and sysprep",
                      first);
        bad = true;
    }
    if (ci && va) {
        err_add_cause(err, SEED_FORBIDDEN, "spec.bootstrap.vAppConfig",
                      "Forbidden: may not be combined with cloudInit");
        bad = true;
    }
    if (seed_member(ci, "cloudConfig") && seed_member(ci, "rawCloudConfig")) {
        err_add_cause(err, SEED_FORBIDDEN, "spec.bootstrap.cloudInit.rawCloudConfig",
                      "Forbidden: may not be combined with cloudConfig");
        bad = true;
    }
    if (seed_member(sp, "sysprep") && seed_member(sp, "rawSysprep")) {
        err_add_cause(err, SEED_FORBIDDEN, "spec.bootstrap.sysprep.rawSysprep",
                      "Forbidden: may not be combined with sysprep");
        bad = true;
    }
    if (seed_member(va, "properties") && seed_member(va, "rawProperties")) {
        err_add_cause(err, SEED_FORBIDDEN, "spec.bootstrap.vAppConfig.rawProperties",
                      "Forbidden: may not be combined with properties");
        bad = true;
    }
    if (seed_member(id, "joinDomain") && seed_member(id, "joinWorkgroup")) {
        err_add_cause(err, SEED_FORBIDDEN,
                      "spec.bootstrap.sysprep.sysprep.identification.joinWorkgroup",
                      "Forbidden: may not be combined with joinDomain");
        bad = true;
    }
    if (!bad)
        return 0;
    if (err && json_array_size(err->causes) > before)
        seed_set_invalid_message(err);
    return -1;
}

GPtrArray *seed_render(const json_t *vm, const json_t *secrets, const json_t *macs, err_t *err)
{
    seed_ctx_t c = {
        .vm = vm,
        .secrets = secrets,
        .macs = macs,
        .files = g_ptr_array_new_with_free_func(seed_file_free),
        .err = err,
    };
    const json_t *bs = json_path_get(vm, "spec.bootstrap");
    const json_t *ci = seed_member(bs, "cloudInit");
    const json_t *lp = seed_member(bs, "linuxPrep");
    const json_t *sp = seed_member(bs, "sysprep");
    const json_t *va = seed_member(bs, "vAppConfig");
    int rc;

    if (seed_validate_bootstrap(vm, err) < 0)
        goto fail;
    if (ci)
        rc = seed_render_cloud_init(&c, ci);
    else if (sp)
        rc = seed_render_sysprep(&c, sp);
    else if (lp || !va)
        rc = seed_render_linux_prep(&c, lp);
    else
        rc = 0;
    if (rc == 0 && va)
        rc = seed_render_vapp(&c, va);
    if (rc < 0)
        goto fail;
    return c.files;

fail:
    g_ptr_array_unref(c.files);
    return NULL;
}

/* Append `name` to `names` unless it is there. */
static void seed_name_add(json_t *names, const char *name)
{
    size_t i;
    json_t *v;

    if (!name || !*name)
        return;
    json_array_foreach(names, i, v) {
        if (!strcmp(json_string_value(v), name))
            return;
    }
    json_array_append_new(names, json_string(name));
}

/* The same for the Secret a key selector {name, key} refers to; a literal
 * in its place (a string) refers to none. */
static void seed_ref_add(json_t *names, const json_t *ref)
{
    seed_name_add(names, seed_str(ref, "name"));
}

json_t *seed_secret_refs(const json_t *vm)
{
    const json_t *bs = json_path_get(vm, "spec.bootstrap");
    const json_t *ci = seed_member(bs, "cloudInit");
    const json_t *cc = seed_member(ci, "cloudConfig");
    const json_t *sp = seed_member(bs, "sysprep");
    const json_t *inl = seed_member(sp, "sysprep");
    const json_t *va = seed_member(bs, "vAppConfig");
    json_t *names = json_array();
    size_t i;
    json_t *v;

    seed_ref_add(names, seed_member(ci, "rawCloudConfig"));
    json_array_foreach(seed_member(cc, "users"), i, v) {
        seed_ref_add(names, seed_member(v, "passwd"));
        seed_ref_add(names, seed_member(v, "hashed_passwd"));
    }
    json_array_foreach(seed_member(cc, "write_files"), i, v) {
        const json_t *content = seed_member(v, "content");
        if (json_is_object(content))
            seed_ref_add(names, content);
    }
    seed_ref_add(names, seed_member(sp, "rawSysprep"));
    seed_ref_add(names, seed_member(seed_member(inl, "userData"), "productID"));
    seed_ref_add(names, seed_member(seed_member(inl, "guiUnattended"), "password"));
    seed_ref_add(names, seed_member(seed_member(inl, "identification"), "domainAdminPassword"));
    json_array_foreach(seed_member(va, "properties"), i, v) {
        seed_ref_add(names, seed_member(seed_member(v, "value"), "from"));
    }
    seed_name_add(names, json_string_value(seed_member(va, "rawProperties")));
    return names;
}
