/* ctl_priv: the loop the controllers share. */
#ifndef VMSVC_CTL_PRIV_H
#define VMSVC_CTL_PRIV_H

#include "ctl/ctl.h"

typedef struct ctl_ops {
    const char *name;
    const char *prefix;                            /* keys to follow */
    void (*resync)(ctl_t *c);                      /* at start and every resync_ms */
    void (*event)(ctl_t *c, const store_event_t *ev);
    /* Called once the events seen so far are handled and no more are
     * waiting: where work collected by event() is done, once per burst. */
    void (*idle)(ctl_t *c);
    void (*free)(ctl_t *c);
    int resync_ms;
} ctl_ops_t;

struct ctl {
    const ctl_ops_t *ops;
    apiserver_t *srv;
    GThread *thread;
    volatile gint stop;
    bool more;      /* idle() left work for another round (ctl_more) */
    void *state;
};

ctl_t *ctl_start(apiserver_t *srv, const ctl_ops_t *ops, void *state);

/* From idle(): work is left; read the events that came meanwhile, then
 * call idle() again.  A controller with a large backlog does it a burst at
 * a time, so that it keeps up with the event log, which holds only the
 * most recent changes. */
void ctl_more(ctl_t *c);

/* Empty a set of keys (a GHashTable that owns them) into an array the
 * caller frees, so that handling them may add keys again. */
GPtrArray *ctl_take_keys(GHashTable *set);

/* Keys waiting to be looked at, handed out oldest first, for a controller
 * that takes them a burst at a time: under a backlog, VMs are handled in
 * the order they came and none waits behind later ones.  A key added again
 * while it waits keeps its place. */
typedef struct ctl_keys ctl_keys_t;
ctl_keys_t *ctl_keys_new(void);
void ctl_keys_free(ctl_keys_t *k);
void ctl_keys_add(ctl_keys_t *k, const char *key);
guint ctl_keys_len(const ctl_keys_t *k);
/* Up to `max` keys, oldest first, into an array the caller frees. */
GPtrArray *ctl_keys_take(ctl_keys_t *k, guint max);

/* Whether a controller that writes condition `cond_type` can pass over a
 * change: a MODIFIED event with the same generation (spec), labels and
 * deletion state (so only status, annotations or finalizers changed) of an
 * object that already carries that condition (so the controller has
 * looked at this spec). */
bool ctl_status_only(const store_event_t *ev, const char *cond_type);

/* Parse a stored object only when its text mentions `needle` (a cheap
 * filter for controllers that care about a field few objects have). */
json_t *ctl_parse_if(const store_obj_t *o, const char *needle);

#endif
