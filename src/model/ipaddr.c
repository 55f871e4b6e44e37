/* ipaddr: see ipaddr.h. */
#include "model/ipaddr.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int ipaddr_bits(int family)
{
    return family == AF_INET ? 32 : 128;
}

static int bytes_of(int family)
{
    return family == AF_INET ? 4 : 16;
}

static int parse_plain(const char *s, size_t n, ipaddr_t *out)
{
    char buf[IPADDR_STRLEN];

    if (n == 0 || n >= sizeof(buf))
        return -1;
    memcpy(buf, s, n);
    buf[n] = '\0';
    memset(out, 0, sizeof(*out));
    if (inet_pton(AF_INET, buf, out->b) == 1) {
        out->family = AF_INET;
        return 0;
    }
    if (inet_pton(AF_INET6, buf, out->b) == 1) {
        out->family = AF_INET6;
        return 0;
    }
    return -1;
}

int ipaddr_parse(const char *s, ipaddr_t *out, const char *what, err_t *err)
{
    if (!s || parse_plain(s, strlen(s), out) < 0) {
        err_set(err, ERR_INVALID, "%s \"%.100s\" is not an IP address.", what, s ? s : "");
        return -1;
    }
    return 0;
}

int ipnet_parse(const char *s, ipnet_t *out, const char *what, err_t *err)
{
    const char *slash = s ? strchr(s, '/') : NULL;
    size_t digits;
    long p;

    if (!slash || parse_plain(s, (size_t)(slash - s), &out->addr) < 0)
        goto bad;
    digits = strspn(slash + 1, "0123456789");
    if (digits == 0 || digits > 3 || slash[1 + digits])
        goto bad;
    p = strtol(slash + 1, NULL, 10);
    if (p > ipaddr_bits(out->addr.family))
        goto bad;
    out->prefix = (int)p;
    return 0;
bad:
    err_set(err, ERR_INVALID,
            "%s \"%.100s\" is not an IP address with a prefix length, such as 10.0.0.1/24.",
            what, s ? s : "");
    return -1;
}

int iprange_parse(const char *s, iprange_t *out, const char *what, err_t *err)
{
    const char *dash = s ? strchr(s, '-') : NULL;

    if (s && strchr(s, '/')) {
        ipnet_t n;
        if (ipnet_parse(s, &n, what, err) < 0)
            return -1;
        ipnet_first(&n, &out->first);
        ipnet_last(&n, &out->last);
        return 0;
    }
    if (dash) {
        if (parse_plain(s, (size_t)(dash - s), &out->first) == 0 &&
            parse_plain(dash + 1, strlen(dash + 1), &out->last) == 0 &&
            out->first.family == out->last.family && ipaddr_cmp(&out->first, &out->last) <= 0)
            return 0;
    } else if (s && parse_plain(s, strlen(s), &out->first) == 0) {
        out->last = out->first;
        return 0;
    }
    err_set(err, ERR_INVALID,
            "%s \"%.100s\" is not an address range: write a prefix (10.0.0.0/24), two "
            "addresses of one family joined by '-', lowest first (10.0.0.10-10.0.0.20), or "
            "one address.",
            what, s ? s : "");
    return -1;
}

char *ipaddr_format(const ipaddr_t *a, char *buf)
{
    if (!inet_ntop(a->family, a->b, buf, IPADDR_STRLEN))
        buf[0] = '\0';
    return buf;
}

char *ipnet_format(const ipnet_t *n, char *buf)
{
    char a[IPADDR_STRLEN];
    snprintf(buf, IPNET_STRLEN, "%s/%d", ipaddr_format(&n->addr, a), n->prefix);
    return buf;
}

int ipaddr_cmp(const ipaddr_t *a, const ipaddr_t *b)
{
    if (a->family != b->family)
        return a->family == AF_INET ? -1 : 1;
    return memcmp(a->b, b->b, 16);
}

bool ipaddr_equal(const ipaddr_t *a, const ipaddr_t *b)
{
    return ipaddr_cmp(a, b) == 0;
}

bool ipaddr_add(const ipaddr_t *a, uint64_t n, ipaddr_t *out)
{
    ipaddr_t r = *a;
    unsigned carry = 0;

    for (int i = bytes_of(a->family) - 1; i >= 0; i--) {
        unsigned v = r.b[i] + (unsigned)(n & 0xff) + carry;
        r.b[i] = (uint8_t)v;
        carry = v >> 8;
        n >>= 8;
    }
    if (carry || n)
        return false;
    *out = r;
    return true;
}

uint64_t ipaddr_distance(const ipaddr_t *a, const ipaddr_t *b)
{
    int nb = bytes_of(a->family);
    uint64_t d = 0;
    int borrow = 0;
    uint8_t diff[16];

    for (int i = nb - 1; i >= 0; i--) {
        int v = (int)b->b[i] - (int)a->b[i] - borrow;
        borrow = v < 0;
        diff[i] = (uint8_t)(v + (borrow ? 256 : 0));
    }
    if (borrow)
        return UINT64_MAX;
    for (int i = 0; i < nb; i++) {
        if (i < nb - 8 && diff[i])
            return UINT64_MAX;
        if (i >= nb - 8)
            d = (d << 8) | diff[i];
    }
    return d;
}

void ipnet_mask(int family, int prefix, ipaddr_t *out)
{
    memset(out, 0, sizeof(*out));
    out->family = family;
    for (int i = 0; i < bytes_of(family); i++) {
        int bits = prefix - i * 8;
        out->b[i] = bits >= 8 ? 0xff : bits <= 0 ? 0 : (uint8_t)(0xff << (8 - bits));
    }
}

void ipnet_first(const ipnet_t *n, ipaddr_t *out)
{
    ipaddr_t m;
    ipnet_mask(n->addr.family, n->prefix, &m);
    *out = n->addr;
    for (int i = 0; i < 16; i++)
        out->b[i] &= m.b[i];
}

void ipnet_last(const ipnet_t *n, ipaddr_t *out)
{
    ipaddr_t m;
    ipnet_mask(n->addr.family, n->prefix, &m);
    *out = n->addr;
    for (int i = 0; i < bytes_of(n->addr.family); i++)
        out->b[i] |= (uint8_t)~m.b[i];
}

bool ipnet_contains(const ipnet_t *n, const ipaddr_t *a)
{
    ipaddr_t f, l;
    if (a->family != n->addr.family)
        return false;
    ipnet_first(n, &f);
    ipnet_last(n, &l);
    return ipaddr_cmp(&f, a) <= 0 && ipaddr_cmp(a, &l) <= 0;
}
