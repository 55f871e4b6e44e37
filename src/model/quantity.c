/* quantity: see quantity.h. */
#include "model/quantity.h"

#include <glib.h>
#include <math.h>
#include <string.h>

static const struct {
    const char *suffix;
    double factor;
} units[] = {
    {"Ki", 1024.0}, {"Mi", 1048576.0}, {"Gi", 1073741824.0}, {"Ti", 1099511627776.0},
    {"Pi", 1125899906842624.0}, {"Ei", 1152921504606846976.0},
    {"k", 1e3}, {"M", 1e6}, {"G", 1e9}, {"T", 1e12}, {"P", 1e15}, {"E", 1e18}, {"m", 1e-3},
};

int quantity_parse_str(const char *s, int64_t scale, int64_t *out, err_t *err)
{
    char *end = NULL;
    double v, factor = 1.0;
    size_t n = s ? strlen(s) : 0;

    if (n == 0 || n > 64 || g_ascii_isspace(s[0]) || s[0] == '+' || s[0] == '-')
        goto bad;
    v = g_ascii_strtod(s, &end);
    if (end == s || !isfinite(v) || v < 0)
        goto bad;
    /* strtod takes "1e3" and also hex and "inf": allow only digits, '.', and an exponent. */
    for (const char *c = s; c < end; c++)
        if (!g_ascii_isdigit(*c) && *c != '.' && *c != 'e' && *c != 'E' && *c != '+' &&
            *c != '-')
            goto bad;
    if (*end) {
        size_t i;
        for (i = 0; i < G_N_ELEMENTS(units); i++)
            if (!strcmp(end, units[i].suffix))
                break;
        if (i == G_N_ELEMENTS(units))
            goto bad;
        factor = units[i].factor;
    }
    v = ceil(v * factor * (double)scale - 1e-9);
    if (v > 9.0e18)
        goto bad;
    *out = (int64_t)v;
    return 0;
bad:
    err_set(err, ERR_INVALID, "quantities must match the regular expression "
            "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$' and be at least zero");
    return -1;
}

int quantity_parse(const json_t *q, int64_t scale, int64_t *out, err_t *err)
{
    if (json_is_string(q))
        return quantity_parse_str(json_string_value(q), scale, out, err);
    if (json_is_number(q) && json_number_value(q) >= 0 &&
        json_number_value(q) * (double)scale < 9.0e18) {
        *out = (int64_t)ceil(json_number_value(q) * (double)scale - 1e-9);
        return 0;
    }
    err_set(err, ERR_INVALID, "a quantity must be a non-negative number or a string such as \"4Gi\"");
    return -1;
}

char *quantity_format_bytes(int64_t bytes)
{
    static const char *const sfx[] = {"", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"};
    int i = 0;
    while (i < 6 && bytes != 0 && bytes % 1024 == 0) {
        bytes /= 1024;
        i++;
    }
    return g_strdup_printf("%lld%s", (long long)bytes, sfx[i]);
}
