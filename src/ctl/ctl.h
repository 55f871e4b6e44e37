/*
 * ctl: in-process controllers.  Each runs on its own thread, follows the
 * store's event log like any watcher, and acts only through objects.c, the
 * same semantics every API client gets.
 */
#ifndef VMSVC_CTL_H
#define VMSVC_CTL_H

#include "api/api.h"

typedef struct ctl ctl_t;

/* Garbage collection by ownerReferences (background, foreground, orphan). */
ctl_t *ctl_gc_start(apiserver_t *srv);
/* Namespace deletion: empties a terminating namespace, then removes it. */
ctl_t *ctl_namespace_start(apiserver_t *srv);
void ctl_stop(ctl_t *c);

#endif
