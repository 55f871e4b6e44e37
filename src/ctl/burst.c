/*
 * burst: see burst.h.  One burst at a time per burst_t: `outstanding`
 * counts the items of the running one.
 */
#include "ctl/burst.h"

struct burst {
    GThreadPool *pool;
    burst_fn fn;
    GMutex lock; /* guards outstanding */
    GCond done;
    guint outstanding;
};

static void burst_task(gpointer item, gpointer user)
{
    burst_t *b = user;

    b->fn(item);
    g_mutex_lock(&b->lock);
    if (--b->outstanding == 0)
        g_cond_signal(&b->done);
    g_mutex_unlock(&b->lock);
}

burst_t *burst_new(int threads, burst_fn fn)
{
    burst_t *b = g_new0(burst_t, 1);

    b->fn = fn;
    g_mutex_init(&b->lock);
    g_cond_init(&b->done);
    b->pool = g_thread_pool_new(burst_task, b, threads, FALSE, NULL);
    return b;
}

void burst_run(burst_t *b, GPtrArray *items)
{
    if (items->len == 1) {
        b->fn(items->pdata[0]);
        return;
    }
    if (items->len == 0)
        return;
    g_mutex_lock(&b->lock);
    b->outstanding = items->len;
    g_mutex_unlock(&b->lock);
    for (guint i = 0; i < items->len; i++)
        g_thread_pool_push(b->pool, items->pdata[i], NULL);
    g_mutex_lock(&b->lock);
    while (b->outstanding > 0)
        g_cond_wait(&b->done, &b->lock);
    g_mutex_unlock(&b->lock);
}

void burst_free(burst_t *b)
{
    if (!b)
        return;
    g_thread_pool_free(b->pool, FALSE, TRUE);
    g_mutex_clear(&b->lock);
    g_cond_clear(&b->done);
    g_free(b);
}
