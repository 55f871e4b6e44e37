/*
 * ipam: the bookkeeping of one address pool: which addresses of a network a
 * VM interface may get, which are taken, and the next one to hand out.
 * Pure and single-threaded: the caller (the network-interface controller,
 * ctl/netif.c) owns one pool per Network, decides on one thread, and keeps
 * the durable record of every decision in the store (a NetworkInterface's
 * status); a pool is rebuilt from those records after a restart, so it is a
 * cache of them, never the truth.
 *
 * A pool is the addresses of its ranges (merged, in order), minus the
 * subnet's first (network) and, for IPv4, last (broadcast) address and the
 * gateway.  Taken addresses are a bitmap over those, so allocation is a
 * scan of 64-bit words from a next-fit cursor: a freed address is handed
 * out again only after the cursor has gone round the pool, which keeps
 * stale ARP entries in neighbours from meeting a new owner too soon.
 *
 * Addresses inside the subnet but outside the ranges can be reserved too
 * (a static address a user asked for); they are kept in a small set.
 */
#ifndef VMSVC_IPAM_H
#define VMSVC_IPAM_H

#include <stddef.h>
#include <stdint.h>

#include "model/ipaddr.h"
#include "util/err.h"

/* The most addresses one pool may hold (a /12 of IPv4). */
#define IPAM_MAX_ADDRESSES ((uint64_t)1 << 20)

typedef struct ipam_pool ipam_pool_t;

/* A pool for `subnet` (an interface address with its prefix, e.g. the
 * gateway's "10.0.0.1/24") with the given ranges (n may be 0: the whole
 * subnet).  ERR_INVALID when a range leaves the subnet, families differ, or
 * the pool would exceed IPAM_MAX_ADDRESSES. */
ipam_pool_t *ipam_pool_new(const ipnet_t *subnet, const ipaddr_t *gateway,
                           const iprange_t *ranges, size_t n, err_t *err);
void ipam_pool_free(ipam_pool_t *p);

/* Take the next free address.  ERR_UNAVAILABLE when none is left. */
int ipam_allocate(ipam_pool_t *p, ipaddr_t *out, err_t *err);
/* Take a given address.  ERR_ALREADY_EXISTS when it is taken, ERR_INVALID
 * when it is outside the subnet or is its network, broadcast or gateway
 * address. */
int ipam_reserve(ipam_pool_t *p, const ipaddr_t *a, err_t *err);
/* Give an address back (no-op when it was not taken). */
void ipam_release(ipam_pool_t *p, const ipaddr_t *a);
bool ipam_is_taken(const ipam_pool_t *p, const ipaddr_t *a);

/* Addresses the pool hands out, and how many of all taken ones (in the
 * ranges or not) there are. */
uint64_t ipam_size(const ipam_pool_t *p);
uint64_t ipam_used(const ipam_pool_t *p);
uint64_t ipam_free_count(const ipam_pool_t *p);

#endif
