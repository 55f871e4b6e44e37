/* ipam: see ipam.h. */
#include "model/ipam.h"

#include <glib.h>
#include <string.h>

typedef struct seg {
    ipaddr_t first;
    uint64_t count;
    uint64_t base;    /* index of `first` in the bitmap */
} seg_t;

struct ipam_pool {
    ipnet_t subnet;
    ipaddr_t net_first, net_last, gateway;
    bool has_gateway;
    seg_t *segs;
    size_t nsegs;
    uint64_t size, used_bits, cursor;
    uint64_t *bits;
    GHashTable *outside;   /* "addr" strings taken outside the ranges */
};

static int range_cmp(const void *a, const void *b)
{
    return ipaddr_cmp(&((const iprange_t *)a)->first, &((const iprange_t *)b)->first);
}

/* Add [first, last] as a segment, minus the addresses no VM may have. */
static void add_segment(ipam_pool_t *p, GArray *segs, ipaddr_t first, const ipaddr_t *last)
{
    while (ipaddr_cmp(&first, last) <= 0) {
        ipaddr_t stop = *last, next;
        bool tiny = p->subnet.prefix >= ipaddr_bits(p->subnet.addr.family) - 1;
        const ipaddr_t *cuts[3] = {tiny ? NULL : &p->net_first,
                                   !tiny && p->subnet.addr.family == AF_INET ? &p->net_last : NULL,
                                   p->has_gateway ? &p->gateway : NULL};
        bool cut_at_first = false;

        for (int i = 0; i < 3; i++) {
            if (!cuts[i])
                continue;
            if (ipaddr_equal(cuts[i], &first))
                cut_at_first = true;
            else if (ipaddr_cmp(&first, cuts[i]) < 0 && ipaddr_cmp(cuts[i], &stop) <= 0) {
                /* stop just before the cut */
                ipaddr_t before = *cuts[i];
                for (int k = ipaddr_bits(before.family) / 8 - 1; k >= 0; k--)
                    if (before.b[k]-- != 0)
                        break;
                stop = before;
            }
        }
        if (cut_at_first) {
            if (ipaddr_equal(&first, last) || !ipaddr_add(&first, 1, &next))
                return;
            first = next;
            continue;
        }
        seg_t s = {.first = first, .count = ipaddr_distance(&first, &stop) + 1};
        g_array_append_val(segs, s);
        if (ipaddr_equal(&stop, last) || !ipaddr_add(&stop, 1, &next))
            return;
        first = next;
    }
}

ipam_pool_t *ipam_pool_new(const ipnet_t *subnet, const ipaddr_t *gateway,
                           const iprange_t *ranges, size_t n, err_t *err)
{
    ipam_pool_t *p = g_new0(ipam_pool_t, 1);
    iprange_t *rs;
    GArray *segs = g_array_new(FALSE, FALSE, sizeof(seg_t));
    char a[IPADDR_STRLEN], b[IPNET_STRLEN];
    uint64_t total = 0;
    size_t m = 0;

    p->subnet = *subnet;
    ipnet_first(subnet, &p->net_first);
    ipnet_last(subnet, &p->net_last);
    if (gateway) {
        if (!ipnet_contains(subnet, gateway)) {
            err_set(err, ERR_INVALID, "The gateway %s is not in the subnet %s.",
                    ipaddr_format(gateway, a), ipnet_format(subnet, b));
            goto fail;
        }
        p->gateway = *gateway;
        p->has_gateway = true;
    }
    /* Sort and merge the ranges; none may leave the subnet. */
    rs = g_new(iprange_t, n ? n : 1);
    if (n == 0) {
        rs[0].first = p->net_first;
        rs[0].last = p->net_last;
        n = 1;
    } else {
        memcpy(rs, ranges, n * sizeof(*rs));
    }
    for (size_t i = 0; i < n; i++)
        if (!ipnet_contains(subnet, &rs[i].first) || !ipnet_contains(subnet, &rs[i].last)) {
            char c[IPADDR_STRLEN];
            err_set(err, ERR_INVALID, "The address range %s-%s is not inside the subnet %s.",
                    ipaddr_format(&rs[i].first, a), ipaddr_format(&rs[i].last, c),
                    ipnet_format(subnet, b));
            g_free(rs);
            goto fail;
        }
    qsort(rs, n, sizeof(*rs), range_cmp);
    for (size_t i = 1; i < n; i++) {
        ipaddr_t after;
        bool adjacent = ipaddr_add(&rs[m].last, 1, &after) && ipaddr_cmp(&rs[i].first, &after) <= 0;
        if (adjacent || ipaddr_cmp(&rs[i].first, &rs[m].last) <= 0) {
            if (ipaddr_cmp(&rs[i].last, &rs[m].last) > 0)
                rs[m].last = rs[i].last;
        } else {
            rs[++m] = rs[i];
        }
    }
    for (size_t i = 0; i <= m; i++) {
        uint64_t len = ipaddr_distance(&rs[i].first, &rs[i].last);
        if (len >= IPAM_MAX_ADDRESSES) {
            err_set(err, ERR_INVALID,
                    "The address range starting at %s holds more than %llu addresses, the most "
                    "one pool may have.",
                    ipaddr_format(&rs[i].first, a), (unsigned long long)IPAM_MAX_ADDRESSES);
            g_free(rs);
            goto fail;
        }
        add_segment(p, segs, rs[i].first, &rs[i].last);
    }
    g_free(rs);
    for (guint i = 0; i < segs->len; i++) {
        seg_t *s = &g_array_index(segs, seg_t, i);
        s->base = total;
        total += s->count;
    }
    if (total > IPAM_MAX_ADDRESSES) {
        err_set(err, ERR_INVALID, "The address ranges hold more than %llu addresses, the most "
                                  "one pool may have.",
                (unsigned long long)IPAM_MAX_ADDRESSES);
        goto fail;
    }
    p->size = total;
    p->nsegs = segs->len;
    p->segs = (seg_t *)g_array_free(segs, FALSE);
    segs = NULL;
    p->bits = g_new0(uint64_t, (total + 63) / 64 + 1);
    p->outside = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    return p;
fail:
    if (segs)
        g_array_free(segs, TRUE);
    ipam_pool_free(p);
    return NULL;
}

void ipam_pool_free(ipam_pool_t *p)
{
    if (!p)
        return;
    g_free(p->segs);
    g_free(p->bits);
    if (p->outside)
        g_hash_table_unref(p->outside);
    g_free(p);
}

/* The bitmap index of `a`, or UINT64_MAX when it is in no range. */
static uint64_t index_of(const ipam_pool_t *p, const ipaddr_t *a)
{
    size_t lo = 0, hi = p->nsegs;

    if (a->family != p->subnet.addr.family)
        return UINT64_MAX;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        const seg_t *s = &p->segs[mid];
        if (ipaddr_cmp(a, &s->first) < 0) {
            hi = mid;
        } else {
            uint64_t d = ipaddr_distance(&s->first, a);
            if (d < s->count)
                return s->base + d;
            lo = mid + 1;
        }
    }
    return UINT64_MAX;
}

static void address_at(const ipam_pool_t *p, uint64_t idx, ipaddr_t *out)
{
    size_t lo = 0, hi = p->nsegs;
    while (hi - lo > 1) {
        size_t mid = (lo + hi) / 2;
        if (p->segs[mid].base <= idx)
            lo = mid;
        else
            hi = mid;
    }
    ipaddr_add(&p->segs[lo].first, idx - p->segs[lo].base, out);
}

static bool bit_get(const ipam_pool_t *p, uint64_t i)
{
    return (p->bits[i / 64] >> (i % 64)) & 1;
}

static void bit_set(ipam_pool_t *p, uint64_t i, bool v)
{
    if (v)
        p->bits[i / 64] |= (uint64_t)1 << (i % 64);
    else
        p->bits[i / 64] &= ~((uint64_t)1 << (i % 64));
}

/* The first clear bit at or after `from` and before `to`, or UINT64_MAX. */
static uint64_t find_clear(const ipam_pool_t *p, uint64_t from, uint64_t to)
{
    while (from < to) {
        uint64_t w = ~p->bits[from / 64] >> (from % 64);
        if (w) {
            uint64_t i = from + (uint64_t)__builtin_ctzll(w);
            return i < to ? i : UINT64_MAX;
        }
        from = (from / 64 + 1) * 64;
    }
    return UINT64_MAX;
}

int ipam_allocate(ipam_pool_t *p, ipaddr_t *out, err_t *err)
{
    uint64_t i = UINT64_MAX;

    if (p->used_bits < p->size) {
        i = find_clear(p, p->cursor, p->size);
        if (i == UINT64_MAX)
            i = find_clear(p, 0, p->cursor);
    }
    if (i == UINT64_MAX) {
        char b[IPNET_STRLEN];
        err_set(err, ERR_UNAVAILABLE, "Every one of the %llu addresses of %s is taken.",
                (unsigned long long)p->size, ipnet_format(&p->subnet, b));
        return -1;
    }
    bit_set(p, i, true);
    p->used_bits++;
    p->cursor = i + 1 >= p->size ? 0 : i + 1;
    address_at(p, i, out);
    return 0;
}

int ipam_reserve(ipam_pool_t *p, const ipaddr_t *a, err_t *err)
{
    char s[IPADDR_STRLEN], n[IPNET_STRLEN];
    uint64_t i;

    ipaddr_format(a, s);
    if (!ipnet_contains(&p->subnet, a)) {
        err_set(err, ERR_INVALID, "The address %s is not in the subnet %s.", s,
                ipnet_format(&p->subnet, n));
        return -1;
    }
    if (p->subnet.prefix < ipaddr_bits(a->family) - 1 &&
        (ipaddr_equal(a, &p->net_first) ||
         (a->family == AF_INET && ipaddr_equal(a, &p->net_last)))) {
        err_set(err, ERR_INVALID, "The address %s is the %s address of the subnet %s.", s,
                ipaddr_equal(a, &p->net_first) ? "network" : "broadcast",
                ipnet_format(&p->subnet, n));
        return -1;
    }
    if (p->has_gateway && ipaddr_equal(a, &p->gateway)) {
        err_set(err, ERR_INVALID, "The address %s is the gateway of the subnet %s.", s,
                ipnet_format(&p->subnet, n));
        return -1;
    }
    i = index_of(p, a);
    if (i == UINT64_MAX) {
        if (!g_hash_table_add(p->outside, g_strdup(s)))
            goto taken;
        return 0;
    }
    if (bit_get(p, i))
        goto taken;
    bit_set(p, i, true);
    p->used_bits++;
    return 0;
taken:
    err_set(err, ERR_ALREADY_EXISTS, "The address %s is already taken.", s);
    return -1;
}

void ipam_release(ipam_pool_t *p, const ipaddr_t *a)
{
    uint64_t i = index_of(p, a);
    char s[IPADDR_STRLEN];

    if (i == UINT64_MAX) {
        g_hash_table_remove(p->outside, ipaddr_format(a, s));
        return;
    }
    if (bit_get(p, i)) {
        bit_set(p, i, false);
        p->used_bits--;
    }
}

bool ipam_is_taken(const ipam_pool_t *p, const ipaddr_t *a)
{
    uint64_t i = index_of(p, a);
    char s[IPADDR_STRLEN];
    if (i == UINT64_MAX)
        return g_hash_table_contains(p->outside, ipaddr_format(a, s));
    return bit_get(p, i);
}

uint64_t ipam_size(const ipam_pool_t *p)
{
    return p->size;
}

uint64_t ipam_used(const ipam_pool_t *p)
{
    return p->used_bits + g_hash_table_size(p->outside);
}

uint64_t ipam_free_count(const ipam_pool_t *p)
{
    return p->size - p->used_bits;
}
