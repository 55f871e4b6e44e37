/*
 * nftrules: the host's packet rules for guest networking, rendered as one
 * libnftables JSON batch (see libnftables-json(5)) that replaces the table
 * NFTRULES_TABLE (family inet) whole, atomically: the batch adds the table,
 * deletes it and adds it again with every chain and rule, so a reader
 * never sees half a ruleset and rules of networks or services that are
 * gone vanish with the old table.  Pure: a description in, a document out.
 *
 * The description (a JSON object):
 *   networks  [{"bridge", "subnet": "10.200.0.0/16", "nat": bool, "uplink"?}]
 *   services  [{"name": "ns/name", "clusterIP"?, "ingress": [ip...],
 *               "sourceRanges": [cidr...], "endpoints": [ip...],
 *               "ports": [{"protocol": "TCP"|"UDP", "port", "targetPort"}]}]
 *
 * What the rules do:
 *   - NAT networks: traffic from the subnet leaving through any interface
 *     but the bridge (or only through the uplink, when named) is
 *     masqueraded.
 *   - services: traffic to the cluster IP or an ingress address on a
 *     service port, arriving (prerouting) or sent by the host (output), is
 *     DNATed to one endpoint chosen at random per connection (numgen), at
 *     the target port; conntrack keeps a connection on its endpoint.
 *     Traffic that a VM sends to a service and that is DNATed back onto the
 *     same bridge is masqueraded (hairpin), so replies come back the way
 *     they went.
 *   - a filter chain before DNAT drops what may not reach a service: an
 *     ingress address from outside sourceRanges (when given), and any
 *     service port with no ready endpoint.
 */
#ifndef VMSVC_NFTRULES_H
#define VMSVC_NFTRULES_H

#include <jansson.h>

#include "util/err.h"

#define NFTRULES_TABLE "vmsvc"

/* The batch for `desc` ({"nftables": [...]}), or NULL with ERR_INVALID
 * when an address in it does not parse. */
json_t *nftrules_render(const json_t *desc, err_t *err);

/* The batch that removes the table (and nothing else). */
json_t *nftrules_render_remove(void);

#endif
