/* conditions: see conditions.h. */
#include "model/conditions.h"

#include <string.h>

#include "util/jsonutil.h"

json_t *cond_get(const json_t *obj, const char *type)
{
    json_t *list = json_path_get(obj, "status.conditions"), *c;
    size_t i;
    json_array_foreach(list, i, c) {
        const char *t = json_string_value(json_object_get(c, "type"));
        if (t && !strcmp(t, type))
            return c;
    }
    return NULL;
}

bool cond_is_true(const json_t *obj, const char *type)
{
    const char *s = json_string_value(json_object_get(cond_get(obj, type), "status"));
    return s && !strcmp(s, "True");
}

static bool set_str(json_t *o, const char *key, const char *v)
{
    const char *cur = json_string_value(json_object_get(o, key));
    if (cur && !strcmp(cur, v))
        return false;
    json_object_set_new(o, key, json_string(v));
    return true;
}

bool cond_set(json_t *obj, const char *type, const char *status, const char *reason,
              const char *message, json_int_t generation, const char *now)
{
    json_t *st = json_object_ensure(obj, "status");
    json_t *list = json_object_get(st, "conditions");
    json_t *c = cond_get(obj, type);
    bool changed = false;

    if (!json_is_array(list)) {
        list = json_array();
        json_object_set_new(st, "conditions", list);
    }
    if (!c) {
        c = json_object();
        json_object_set_new(c, "type", json_string(type));
        json_array_append_new(list, c);
        changed = true;
    }
    if (set_str(c, "status", status)) {
        json_object_set_new(c, "lastTransitionTime", json_string(now));
        changed = true;
    }
    if (!json_object_get(c, "lastTransitionTime"))
        json_object_set_new(c, "lastTransitionTime", json_string(now));
    changed |= set_str(c, "reason", reason && *reason ? reason : status);
    changed |= set_str(c, "message", message ? message : "");
    if (json_integer_value(json_object_get(c, "observedGeneration")) != generation) {
        json_object_set_new(c, "observedGeneration", json_integer(generation));
        changed = true;
    }
    return changed;
}

bool cond_remove(json_t *obj, const char *type)
{
    json_t *list = json_path_get(obj, "status.conditions");
    for (size_t i = 0; i < json_array_size(list); i++) {
        const char *t = json_string_value(json_object_get(json_array_get(list, i), "type"));
        if (t && !strcmp(t, type)) {
            json_array_remove(list, i);
            return true;
        }
    }
    return false;
}
