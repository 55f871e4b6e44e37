/* guestnet: see guestnet.h. */
#include "model/guestnet.h"

#include <glib.h>
#include <string.h>

#include "model/ipaddr.h"

static bool is_link_local(const ipaddr_t *a)
{
    if (a->family == AF_INET)
        return a->b[0] == 169 && a->b[1] == 254;
    return a->b[0] == 0xfe && (a->b[1] & 0xc0) == 0x80;
}

static bool is_loopback(const ipaddr_t *a)
{
    static const uint8_t v6[16] = {[15] = 1};

    if (a->family == AF_INET)
        return a->b[0] == 127;
    return !memcmp(a->b, v6, sizeof(v6));
}

/* "52:54:00:0A:0B:0C" in lower case into out[18]; false unless it is six
 * hex pairs and not all zero. */
static bool mac_normalize(const char *s, char out[18])
{
    bool nonzero = false;

    if (!s || strlen(s) != 17)
        return false;
    for (int i = 0; i < 17; i++) {
        if (i % 3 == 2) {
            if (s[i] != ':' && s[i] != '-')
                return false;
            out[i] = ':';
        } else {
            if (!g_ascii_isxdigit(s[i]))
                return false;
            out[i] = g_ascii_tolower(s[i]);
            nonzero |= s[i] != '0';
        }
    }
    out[17] = '\0';
    return nonzero;
}

/* A guest's interface name, valid UTF-8, cut at a character boundary to
 * at most GUESTNET_NAME_MAX bytes (g_free). */
static char *name_dup(const char *name)
{
    char *v = g_utf8_make_valid(name ? name : "", -1);

    if (strlen(v) > GUESTNET_NAME_MAX) {
        char *cut = v + GUESTNET_NAME_MAX;
        while (cut > v && ((unsigned char)*cut & 0xc0) == 0x80)
            cut--;
        *cut = '\0';
    }
    return v;
}

/* One entry of "ip-addresses" in canonical "address/prefix" form into
 * buf, or false when it is not a usable address. */
static bool qga_address(const json_t *e, char buf[IPNET_STRLEN], int *family)
{
    const char *type = json_string_value(json_object_get(e, "ip-address-type"));
    const char *text = json_string_value(json_object_get(e, "ip-address"));
    const json_t *prefix = json_object_get(e, "prefix");
    char plain[IPADDR_STRLEN];
    ipnet_t n;
    err_t err = ERR_INIT;
    size_t len;
    bool ok;

    if (!type || !text || !json_is_integer(prefix))
        return false;
    len = strcspn(text, "%"); /* a zone ("fe80::1%eth0") is not part of the address */
    if (len >= sizeof(plain))
        return false;
    memcpy(plain, text, len);
    plain[len] = '\0';
    ok = ipaddr_parse(plain, &n.addr, "ip-address", &err) == 0 &&
         json_integer_value(prefix) >= 0 &&
         json_integer_value(prefix) <= ipaddr_bits(n.addr.family) &&
         !strcmp(type, n.addr.family == AF_INET ? "ipv4" : "ipv6") && !is_loopback(&n.addr);
    err_clear(&err);
    if (!ok)
        return false;
    n.prefix = (int)json_integer_value(prefix);
    ipnet_format(&n, buf);
    *family = n.addr.family;
    return true;
}

json_t *guestnet_parse_qga(const char *reply, size_t len, err_t *err)
{
    json_error_t je;
    json_t *doc, *ret, *e, *out;
    size_t i;

    if (len > GUESTNET_REPLY_MAX) {
        err_set(err, ERR_INTERNAL, "The guest agent's list of interfaces is larger than %d bytes.",
                GUESTNET_REPLY_MAX);
        return NULL;
    }
    doc = json_loadb(reply, len, 0, &je);
    ret = json_object_get(doc, "return");
    if (!json_is_array(ret)) {
        err_set(err, ERR_INTERNAL, "The guest agent's list of interfaces is not valid: %s.",
                doc ? "it has no \"return\" array" : je.text);
        json_decref(doc);
        return NULL;
    }
    out = json_array();
    json_array_foreach(ret, i, e) {
        const json_t *ad;
        const char *name = json_string_value(json_object_get(e, "name"));
        char mac[18], *short_name;
        json_t *addrs;
        int n4 = 0, n6 = 0;
        size_t k;

        if (json_array_size(out) >= GUESTNET_MAX_IFACES)
            break;
        if (!mac_normalize(json_string_value(json_object_get(e, "hardware-address")), mac))
            continue;
        addrs = json_array();
        json_array_foreach(json_object_get(e, "ip-addresses"), k, ad) {
            char buf[IPNET_STRLEN];
            int family;
            if (!qga_address(ad, buf, &family))
                continue;
            if (family == AF_INET ? n4++ >= GUESTNET_MAX_ADDRS : n6++ >= GUESTNET_MAX_ADDRS)
                continue;
            json_array_append_new(addrs, json_string(buf));
        }
        short_name = name_dup(name);
        json_array_append_new(out, json_pack("{s:s,s:s,s:o}", "name", short_name, "mac", mac,
                                             "addresses", addrs));
        g_free(short_name);
    }
    json_decref(doc);
    return out;
}

/* The interface of the guest's view with this MAC, or NULL. */
static const json_t *guest_iface(const json_t *guest, const char *mac)
{
    char want[18], have[18];
    const json_t *g;
    size_t i;

    if (!mac_normalize(mac, want))
        return NULL;
    json_array_foreach(guest, i, g)
        if (mac_normalize(json_string_value(json_object_get(g, "mac")), have) &&
            !strcmp(want, have))
            return g;
    return NULL;
}

/* Whether `a` is among the "address" members of `entries`. */
static bool listed(const json_t *entries, const ipaddr_t *a)
{
    const json_t *e;
    size_t i;

    json_array_foreach(entries, i, e) {
        ipnet_t n;
        err_t err = ERR_INIT;
        bool same = ipnet_parse(json_string_value(json_object_get(e, "address")), &n, "address",
                                &err) == 0 &&
                    ipaddr_equal(&n.addr, a);
        err_clear(&err);
        if (same)
            return true;
    }
    return false;
}

void guestnet_merge(json_t *ifaces, const json_t *guest)
{
    json_t *e;
    size_t i;

    if (!guest)
        return;
    json_array_foreach(ifaces, i, e) {
        json_t *ip = json_object_get(e, "ip");
        const json_t *g = guest_iface(guest, json_string_value(json_object_get(ip, "macAddr")));
        const json_t *alloc = json_object_get(ip, "addresses"), *ad;
        json_t *addrs;
        size_t k;

        if (!g)
            continue;
        addrs = json_array();
        json_array_foreach(json_object_get(g, "addresses"), k, ad) {
            const char *s = json_string_value(ad);
            json_t *entry;
            ipnet_t n;
            err_t err = ERR_INIT;
            if (ipnet_parse(s, &n, "address", &err) < 0) {
                err_clear(&err);
                continue;
            }
            entry = json_pack("{s:s}", "address", s);
            if (is_link_local(&n.addr))
                json_object_set_new(entry, "origin", json_string("linklayer"));
            else if (listed(alloc, &n.addr))
                json_object_set_new(entry, "origin", json_string("manual"));
            json_array_append_new(addrs, entry);
        }
        if (json_array_size(addrs))
            json_object_set_new(ip, "addresses", addrs);
        else {
            json_object_del(ip, "addresses");
            json_decref(addrs);
        }
    }
}

char *guestnet_primary(const json_t *ifaces, int family, const char *preferred)
{
    const json_t *e, *ad;
    char buf[IPADDR_STRLEN];
    ipaddr_t want;
    bool have_want = false;
    size_t i, k;
    err_t err = ERR_INIT;

    if (preferred && ipaddr_parse(preferred, &want, "address", &err) == 0 &&
        want.family == family)
        have_want = true;
    err_clear(&err);
    for (int pass = have_want ? 0 : 1; pass < 2; pass++) {
        json_array_foreach(ifaces, i, e) {
            json_array_foreach(json_object_get(json_object_get(e, "ip"), "addresses"), k, ad) {
                ipnet_t n;
                bool take;
                if (ipnet_parse(json_string_value(json_object_get(ad, "address")), &n, "address",
                                &err) < 0) {
                    err_clear(&err);
                    continue;
                }
                take = n.addr.family == family &&
                       (pass == 0 ? ipaddr_equal(&n.addr, &want)
                                  : !is_link_local(&n.addr) && !is_loopback(&n.addr));
                if (take)
                    return g_strdup(ipaddr_format(&n.addr, buf));
            }
        }
    }
    return NULL;
}
