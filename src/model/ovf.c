/* ovf: see ovf.h. */
#include "model/ovf.h"

#include <glib.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define CAPABILITIES_KEY "capabilities.image.vmoperator.vmware.com"

static void ovf_init(void)
{
    static gsize once = 0;
    if (g_once_init_enter(&once)) {
        xmlInitParser();
        g_once_init_leave(&once, 1);
    }
}

static bool is(const xmlNode *n, const char *local)
{
    return n && n->type == XML_ELEMENT_NODE && !strcmp((const char *)n->name, local);
}

/* An attribute by local name, whatever its namespace (a copy, or NULL). */
static char *attr(const xmlNode *n, const char *local)
{
    for (xmlAttr *a = n->properties; a; a = a->next)
        if (!strcmp((const char *)a->name, local)) {
            xmlChar *v = xmlNodeGetContent((xmlNode *)a);
            char *s = g_strdup((const char *)v);
            xmlFree(v);
            return s;
        }
    return NULL;
}

static const xmlNode *child(const xmlNode *n, const char *local)
{
    for (const xmlNode *c = n ? n->children : NULL; c; c = c->next)
        if (is(c, local))
            return c;
    return NULL;
}

/* The trimmed text of child `local`, or NULL. */
static char *child_text(const xmlNode *n, const char *local)
{
    const xmlNode *c = child(n, local);
    xmlChar *v;
    char *s;
    if (!c)
        return NULL;
    v = xmlNodeGetContent((xmlNode *)c);
    s = g_strstrip(g_strdup((const char *)v));
    xmlFree(v);
    return s;
}

static void set_str(json_t *o, const char *k, char *v /* freed */)
{
    if (v && *v)
        json_object_set_new(o, k, json_string(v));
    g_free(v);
}

static int depth_of(const xmlNode *n, int limit)
{
    int max = 0;
    for (const xmlNode *c = n->children; c; c = c->next) {
        if (c->type != XML_ELEMENT_NODE)
            continue;
        int d = limit > 0 ? depth_of(c, limit - 1) : 0;
        if (d + 1 > max)
            max = d + 1;
        if (max > limit)
            break;
    }
    return max;
}

/* "byte * 2^30", "byte*10^3", "byte * 1024", "byte": the multiplier, or 0. */
static int64_t units(const char *s, int64_t dflt)
{
    char buf[64];
    size_t j = 0;
    int64_t base, exp = 1, m = 1;
    char *end;

    if (!s || !*s)
        return dflt;
    for (const char *p = s; *p && j + 1 < sizeof(buf); p++)
        if (!g_ascii_isspace(*p))
            buf[j++] = g_ascii_tolower(*p);
    buf[j] = '\0';
    if (strncmp(buf, "byte", 4) != 0)
        return 0;
    if (!buf[4])
        return 1;
    if (buf[4] != '*')
        return 0;
    base = strtoll(buf + 5, &end, 10);
    if (end == buf + 5 || base <= 0)
        return 0;
    if (*end == '^') {
        const char *e = end + 1;
        exp = strtoll(e, &end, 10);
        if (end == e || exp < 0 || exp > 62)
            return 0;
    } else {
        exp = 1;
    }
    if (*end)
        return 0;
    for (int64_t i = 0; i < exp; i++) {
        if (m > INT64_MAX / base)
            return 0;
        m *= base;
    }
    return m;
}

/* A non-negative decimal integer, or -1. */
static int64_t number(const char *s)
{
    char *end;
    long long v;
    if (!s || !*s || !g_ascii_isdigit(*s))
        return -1;
    v = strtoll(s, &end, 10);
    return *end || v < 0 ? -1 : v;
}

bool ovf_href_ok(const char *href)
{
    if (!href || !*href || strlen(href) > 255 || strchr(href, '/') || strchr(href, '\\') ||
        strchr(href, ':') || !strcmp(href, ".") || !strcmp(href, "..") || href[0] == '.')
        return false;
    for (const char *p = href; *p; p++)
        if ((unsigned char)*p < 0x20)
            return false;
    return true;
}

static int parse_references(const xmlNode *env, json_t *out, err_t *err)
{
    json_t *files = json_array();
    json_object_set_new(out, "files", files);
    for (const xmlNode *c = child(env, "References") ? child(env, "References")->children : NULL;
         c; c = c->next) {
        if (!is(c, "File"))
            continue;
        char *id = attr(c, "id"), *href = attr(c, "href"), *size = attr(c, "size");
        int rc = 0;
        if (!id || !href) {
            err_set(err, ERR_INVALID, "The OVF descriptor has a File without an id or href.");
            rc = -1;
        } else if (!ovf_href_ok(href)) {
            err_set(err, ERR_INVALID,
                    "The OVF descriptor's file \"%.200s\" is not a plain file name beside it.",
                    href);
            rc = -1;
        } else if (json_array_size(files) >= OVF_MAX_ITEMS) {
            err_set(err, ERR_INVALID, "The OVF descriptor lists more than %d files.",
                    OVF_MAX_ITEMS);
            rc = -1;
        } else {
            json_t *f = json_pack("{s:s,s:s}", "id", id, "href", href);
            if (number(size) >= 0)
                json_object_set_new(f, "size", json_integer(number(size)));
            json_array_append_new(files, f);
        }
        g_free(id);
        g_free(href);
        g_free(size);
        if (rc < 0)
            return -1;
    }
    return 0;
}

static int parse_disks(const xmlNode *env, json_t *out, err_t *err)
{
    json_t *disks = json_array();
    const xmlNode *sec = child(env, "DiskSection");
    json_object_set_new(out, "disks", disks);
    for (const xmlNode *c = sec ? sec->children : NULL; c; c = c->next) {
        if (!is(c, "Disk"))
            continue;
        char *id = attr(c, "diskId"), *ref = attr(c, "fileRef"), *cap = attr(c, "capacity");
        char *cu = attr(c, "capacityAllocationUnits"), *pop = attr(c, "populatedSize");
        char *fmt = attr(c, "format");
        int64_t n = number(cap), u = units(cu, 1);
        int rc = 0;
        if (!id || n < 0 || u == 0 || (n > 0 && u > INT64_MAX / n)) {
            err_set(err, ERR_INVALID, "The OVF descriptor's disk %s has no valid capacity.",
                    id ? id : "(without diskId)");
            rc = -1;
        } else if (json_array_size(disks) >= OVF_MAX_ITEMS) {
            err_set(err, ERR_INVALID, "The OVF descriptor lists more than %d disks.",
                    OVF_MAX_ITEMS);
            rc = -1;
        } else {
            json_t *d = json_pack("{s:s,s:I}", "id", id, "capacity", (json_int_t)(n * u));
            if (ref)
                json_object_set_new(d, "fileRef", json_string(ref));
            if (number(pop) >= 0)
                json_object_set_new(d, "populatedSize", json_integer(number(pop)));
            if (fmt)
                json_object_set_new(d, "format", json_string(fmt));
            json_array_append_new(disks, d);
        }
        g_free(id);
        g_free(ref);
        g_free(cap);
        g_free(cu);
        g_free(pop);
        g_free(fmt);
        if (rc < 0)
            return -1;
    }
    return 0;
}

static void parse_os(const xmlNode *vs, json_t *out)
{
    const xmlNode *os = child(vs, "OperatingSystemSection");
    json_t *o;
    if (!os)
        return;
    o = json_object();
    set_str(o, "id", attr(os, "id"));
    set_str(o, "type", attr(os, "osType"));
    set_str(o, "description", child_text(os, "Description"));
    json_object_set_new(out, "os", o);
}

static int parse_hardware(const xmlNode *vs, json_t *out, err_t *err)
{
    const xmlNode *hw = child(vs, "VirtualHardwareSection");
    json_t *h, *order;
    int items = 0;
    if (!hw)
        return 0;
    h = json_object();
    order = json_array();
    json_object_set_new(out, "hardware", h);
    {
        char *vt = child_text(child(hw, "System"), "VirtualSystemType");
        /* "vmx-19", or a list such as "vmx-13 vmx-14": the first counts. */
        if (vt && g_str_has_prefix(vt, "vmx-")) {
            char *end;
            long v = strtol(vt + 4, &end, 10);
            if (end != vt + 4 && v > 0 && v < 1000)
                json_object_set_new(h, "version", json_integer(v));
        }
        g_free(vt);
    }
    for (const xmlNode *c = hw->children; c; c = c->next) {
        if (is(c, "Config") || is(c, "ExtraConfig")) {
            char *k = attr(c, "key"), *v = attr(c, "value");
            if (k && v && !strcmp(k, "firmware"))
                json_object_set_new(h, "firmware",
                                    json_string(!g_ascii_strcasecmp(v, "efi") ? "efi" : "bios"));
            g_free(k);
            g_free(v);
            continue;
        }
        if (!is(c, "Item") && !is(c, "StorageItem") && !is(c, "EthernetPortItem"))
            continue;
        if (++items > OVF_MAX_ITEMS) {
            err_set(err, ERR_INVALID, "The OVF descriptor has more than %d hardware items.",
                    OVF_MAX_ITEMS);
            return -1;
        }
        char *rt = child_text(c, "ResourceType"), *q = child_text(c, "VirtualQuantity");
        char *au = child_text(c, "AllocationUnits"), *hr = child_text(c, "HostResource");
        int64_t type = number(rt), n = number(q);
        if (type == 3 && n > 0 && n <= 4096) {
            json_object_set_new(h, "cpus", json_integer(n));
        } else if (type == 4 && n > 0) {
            /* Memory is in MiB unless the units say otherwise. */
            int64_t u = units(au, 1 << 20);
            if (u > 0 && n <= INT64_MAX / u)
                json_object_set_new(h, "memoryMiB", json_integer(n * u / (1 << 20)));
        } else if (type == 17 && hr) {
            /* "ovf:/disk/vmdisk1": the disk's id after the last slash. */
            const char *slash = strrchr(hr, '/');
            json_array_append_new(order, json_string(slash ? slash + 1 : hr));
        }
        g_free(rt);
        g_free(q);
        g_free(au);
        g_free(hr);
    }
    if (json_array_size(order))
        json_object_set_new(h, "disks", order);
    else
        json_decref(order);
    return 0;
}

static int parse_products(const xmlNode *vs, json_t *out, err_t *err)
{
    json_t *props = json_array(), *caps = json_array();
    json_t *product = NULL;

    for (const xmlNode *ps = vs->children; ps; ps = ps->next) {
        if (!is(ps, "ProductSection"))
            continue;
        char *cls = attr(ps, "class"), *inst = attr(ps, "instance");
        if (!product) {
            product = json_object();
            set_str(product, "product", child_text(ps, "Product"));
            set_str(product, "vendor", child_text(ps, "Vendor"));
            set_str(product, "version", child_text(ps, "Version"));
            set_str(product, "fullVersion", child_text(ps, "FullVersion"));
        }
        for (const xmlNode *p = ps->children; p; p = p->next) {
            if (!is(p, "Property"))
                continue;
            char *key = attr(p, "key"), *type = attr(p, "type"), *val = attr(p, "value");
            char *uc = attr(p, "userConfigurable");
            if (!key || !*key) {
                g_free(key);
                g_free(type);
                g_free(val);
                g_free(uc);
                continue;
            }
            if (json_array_size(props) >= OVF_MAX_ITEMS) {
                err_set(err, ERR_INVALID, "The OVF descriptor has more than %d properties.",
                        OVF_MAX_ITEMS);
                g_free(key);
                g_free(type);
                g_free(val);
                g_free(uc);
                g_free(cls);
                g_free(inst);
                json_decref(props);
                json_decref(caps);
                json_decref(product);
                return -1;
            }
            char *full = g_strconcat(cls && *cls ? cls : "", cls && *cls ? "." : "", key,
                                     inst && *inst ? "." : "", inst && *inst ? inst : "", NULL);
            json_t *o = json_pack("{s:s,s:s}", "key", full, "type", type ? type : "string");
            if (val)
                json_object_set_new(o, "default", json_string(val));
            set_str(o, "label", child_text(p, "Label"));
            set_str(o, "description", child_text(p, "Description"));
            json_object_set_new(o, "userConfigurable",
                                json_boolean(uc && !g_ascii_strcasecmp(uc, "true")));
            json_array_append_new(props, o);
            if (!strcmp(full, CAPABILITIES_KEY) && val) {
                char **parts = g_strsplit(val, ",", 32);
                for (char **c = parts; *c; c++) {
                    g_strstrip(*c);
                    if (**c && strlen(*c) <= 63)
                        json_array_append_new(caps, json_string(*c));
                }
                g_strfreev(parts);
            }
            /* cloud-init's OVF data source reads the user-data property. */
            if (!strcmp(key, "user-data"))
                json_array_append_new(caps, json_string("cloud-init"));
            g_free(full);
            g_free(key);
            g_free(type);
            g_free(val);
            g_free(uc);
        }
        g_free(cls);
        g_free(inst);
    }
    if (product)
        json_object_set_new(out, "product", product);
    json_object_set_new(out, "properties", props);
    /* A set: drop repeats, keep the order of first appearance. */
    json_t *set = json_array(), *c;
    size_t i, j;
    json_array_foreach(caps, i, c) {
        bool seen = false;
        json_t *s;
        json_array_foreach(set, j, s)
            seen |= json_equal(s, c);
        if (!seen)
            json_array_append(set, c);
    }
    json_decref(caps);
    if (json_array_size(set))
        json_object_set_new(out, "capabilities", set);
    else
        json_decref(set);
    return 0;
}

json_t *ovf_parse(const char *buf, size_t len, err_t *err)
{
    xmlDoc *doc = NULL;
    const xmlNode *env, *vs;
    json_t *out = NULL;

    ovf_init();
    if (len > OVF_MAX_BYTES) {
        err_set(err, ERR_INVALID, "The OVF descriptor is larger than %d bytes.", OVF_MAX_BYTES);
        return NULL;
    }
    if (len > INT32_MAX ||
        !(doc = xmlReadMemory(buf, (int)len, "descriptor.ovf", NULL,
                              XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING |
                                  XML_PARSE_NOCDATA))) {
        const xmlError *e = xmlGetLastError();
        err_set(err, ERR_INVALID, "The OVF descriptor is not well-formed XML%s%.200s",
                e && e->message ? ": " : ".", e && e->message ? g_strstrip(e->message) : "");
        return NULL;
    }
    if (doc->intSubset || doc->extSubset) {
        err_set(err, ERR_INVALID, "The OVF descriptor has a DOCTYPE, which is not accepted.");
        goto out;
    }
    env = xmlDocGetRootElement(doc);
    if (!is(env, "Envelope")) {
        err_set(err, ERR_INVALID, "The OVF descriptor's root element is not an Envelope.");
        goto out;
    }
    if (depth_of(env, OVF_MAX_DEPTH) > OVF_MAX_DEPTH) {
        err_set(err, ERR_INVALID, "The OVF descriptor is nested deeper than %d elements.",
                OVF_MAX_DEPTH);
        goto out;
    }
    vs = child(env, "VirtualSystem");
    if (!vs && child(env, "VirtualSystemCollection"))
        vs = child(child(env, "VirtualSystemCollection"), "VirtualSystem");
    if (!vs) {
        err_set(err, ERR_INVALID, "The OVF descriptor describes no VirtualSystem.");
        goto out;
    }
    out = json_object();
    if (parse_references(env, out, err) < 0 || parse_disks(env, out, err) < 0 ||
        parse_hardware(vs, out, err) < 0 || parse_products(vs, out, err) < 0) {
        json_decref(out);
        out = NULL;
        goto out;
    }
    {
        char *name = child_text(vs, "Name");
        if (!name || !*name) {
            g_free(name);
            name = attr(vs, "id");
        }
        set_str(out, "name", name);
        set_str(out, "description", child_text(child(vs, "AnnotationSection"), "Annotation"));
    }
    parse_os(vs, out);
    /* Every disk's file must be listed. */
    {
        json_t *d, *f;
        size_t i, j;
        json_array_foreach(json_object_get(out, "disks"), i, d) {
            const char *ref = json_string_value(json_object_get(d, "fileRef"));
            bool found = !ref;
            json_array_foreach(json_object_get(out, "files"), j, f)
                found |= ref && !g_strcmp0(ref, json_string_value(json_object_get(f, "id")));
            if (!found) {
                err_set(err, ERR_INVALID,
                        "The OVF descriptor's disk %s names file %s, which it does not list.",
                        json_string_value(json_object_get(d, "id")), ref);
                json_decref(out);
                out = NULL;
                goto out;
            }
        }
    }
out:
    xmlFreeDoc(doc);
    return out;
}
