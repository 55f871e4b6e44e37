/*
 * ipaddr: IP addresses, prefixes and ranges as values, for the address
 * manager and the network code.  Pure: parsing and formatting go through
 * libc's inet_pton/inet_ntop, the arithmetic is done on the 16 bytes of an
 * address in network order, the same for IPv4 (the first four bytes) and
 * IPv6.
 *
 * Text forms understood:
 *   address  "10.0.0.5", "fd00::5"
 *   prefix   "10.0.0.0/24", "10.0.0.1/24" (an interface address: host bits kept)
 *   range    a prefix, "10.0.0.10-10.0.0.20" (both ends included), or one address
 */
#ifndef VMSVC_IPADDR_H
#define VMSVC_IPADDR_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

#include "util/err.h"

#define IPADDR_STRLEN INET6_ADDRSTRLEN
#define IPNET_STRLEN (INET6_ADDRSTRLEN + 4)

typedef struct ipaddr {
    int family;      /* AF_INET or AF_INET6 */
    uint8_t b[16];   /* network order; IPv4 uses b[0..3], the rest is zero */
} ipaddr_t;

typedef struct ipnet {
    ipaddr_t addr;   /* as written (host bits are kept) */
    int prefix;
} ipnet_t;

typedef struct iprange {
    ipaddr_t first, last;   /* same family, first <= last */
} iprange_t;

/* Parse; -1 with ERR_INVALID and a sentence naming `what` (e.g.
 * "spec.gateway4") on anything else. */
int ipaddr_parse(const char *s, ipaddr_t *out, const char *what, err_t *err);
int ipnet_parse(const char *s, ipnet_t *out, const char *what, err_t *err);
int iprange_parse(const char *s, iprange_t *out, const char *what, err_t *err);

/* Text forms into `buf` (IPADDR_STRLEN / IPNET_STRLEN bytes); return buf. */
char *ipaddr_format(const ipaddr_t *a, char *buf);
char *ipnet_format(const ipnet_t *n, char *buf);

int ipaddr_bits(int family);   /* 32 or 128 */
/* <0, 0, >0 as a is below, equal to, above b (IPv4 sorts first). */
int ipaddr_cmp(const ipaddr_t *a, const ipaddr_t *b);
bool ipaddr_equal(const ipaddr_t *a, const ipaddr_t *b);
/* a + n; false when that leaves the address space. */
bool ipaddr_add(const ipaddr_t *a, uint64_t n, ipaddr_t *out);
/* b - a (a <= b, same family); UINT64_MAX when it does not fit. */
uint64_t ipaddr_distance(const ipaddr_t *a, const ipaddr_t *b);

/* The netmask of a prefix length as an address ("255.255.255.0"). */
void ipnet_mask(int family, int prefix, ipaddr_t *out);
/* The network (host bits zero) and last address of a prefix. */
void ipnet_first(const ipnet_t *n, ipaddr_t *out);
void ipnet_last(const ipnet_t *n, ipaddr_t *out);
bool ipnet_contains(const ipnet_t *n, const ipaddr_t *a);

#endif
