/*
 * RETURNN's axis descriptions, parsed against a layout string that gives the
 * role of each axis: B batch, T time, F feature, S any other spatial axis.
 * Every failure names the offending text through sn_last_error_detail().
 */
#include "axes.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"

#define MAX_TOKEN 64

int sn_layout_find(const char *layout, char role)
{
    for (int i = 0; layout[i]; i++)
        if (toupper((unsigned char)layout[i]) == role)
            return i;
    return -1;
}

sn_status sn_layout_check(const char *layout, int rank)
{
    if (!layout)
        return SN_ERR_NULL_POINTER;
    size_t length = strlen(layout);
    if (length > SN_MAX_RANK)
        return sn_fail(SN_ERR_LAYOUT, "layout \"%.16s...\" has more than %d letters", layout,
                       SN_MAX_RANK);
    if ((int)length != rank)
        return sn_fail(SN_ERR_LAYOUT, "layout \"%s\" has %zu letters for a tensor of rank %d",
                       layout, length, rank);
    int seen[3] = { 0, 0, 0 };
    for (size_t i = 0; i < length; i++) {
        const char *roles = "BTF";
        char c = (char)toupper((unsigned char)layout[i]);
        const char *at = strchr(roles, c);
        if (c != 'S' && (!at || !c))
            return sn_fail(SN_ERR_LAYOUT,
                           "layout \"%s\": '%c' is not an axis role (B, T, F or S)", layout,
                           layout[i]);
        if (c != 'S' && seen[at - roles]++)
            return sn_fail(SN_ERR_LAYOUT, "layout \"%s\" has more than one '%c' axis", layout, c);
    }
    return SN_OK;
}

typedef struct parser {
    const char *description; /* the whole text, for messages */
    const char *layout;
    int rank;
    const ptrdiff_t *dims;
} parser;

/* Axes whose role is not in `excluded` (a string of roles). */
static unsigned roles_except(const parser *p, const char *excluded)
{
    unsigned mask = 0;
    for (int i = 0; i < p->rank; i++)
        if (!strchr(excluded, toupper((unsigned char)p->layout[i])))
            mask |= 1u << i;
    return mask;
}

static sn_status role_axis(const parser *p, char role, const char *token, unsigned *mask)
{
    int axis = sn_layout_find(p->layout, role);
    if (axis < 0)
        return sn_fail(SN_ERR_AXES_DESCRIPTION, "\"%s\" in \"%s\": layout \"%s\" has no '%c' axis",
                       token, p->description, p->layout, role);
    *mask = 1u << axis;
    return SN_OK;
}

/* The I-th axis (negative from the end) among `candidates`. */
static sn_status indexed_axis(const parser *p, unsigned candidates, const char *token,
                              const char *index_text, unsigned *mask)
{
    char *end;
    long index = strtol(index_text, &end, 10);
    if (!*index_text || *end)
        return sn_fail(SN_ERR_AXES_DESCRIPTION, "\"%s\" in \"%s\": \"%s\" is not an integer",
                       token, p->description, index_text);
    int order[SN_MAX_RANK], count = 0;
    for (int i = 0; i < p->rank; i++)
        if (candidates >> i & 1u)
            order[count++] = i;
    if (index < 0)
        index += count;
    if (index < 0 || index >= count)
        return sn_fail(SN_ERR_AXES_DESCRIPTION,
                       "\"%s\" in \"%s\": index out of range (layout \"%s\" has %d such axes)",
                       token, p->description, p->layout, count);
    *mask = 1u << order[index];
    return SN_OK;
}

static sn_status dim_axis(const parser *p, const char *token, const char *size_text,
                          unsigned *mask)
{
    char *end;
    long long size = strtoll(size_text, &end, 10);
    if (!*size_text || *end || size < 0)
        return sn_fail(SN_ERR_AXES_DESCRIPTION, "\"%s\" in \"%s\": \"%s\" is not a size", token,
                       p->description, size_text);
    if (!p->dims)
        return sn_fail(SN_ERR_AXES_DESCRIPTION, "\"%s\" in \"%s\": no dims given to match",
                       token, p->description);
    unsigned found = 0;
    int count = 0;
    for (int i = 0; i < p->rank; i++)
        if (p->dims[i] == size) {
            found |= 1u << i;
            count++;
        }
    if (count != 1)
        return sn_fail(SN_ERR_AXES_DESCRIPTION, "\"%s\" in \"%s\": %d axes have size %lld, need exactly one",
                       token, p->description, count, size);
    *mask = found;
    return SN_OK;
}

/* One description without commas, already lower-cased. */
static sn_status parse_token(const parser *p, const char *token, unsigned *mask)
{
    static const struct {
        const char *name;
        const char *excluded; /* roles left out */
    } sets[] = {
        { "*", "" },
        { "except_batch", "B" },
        { "except_time", "BT" },
        { "static", "BT" },
        { "spatial", "BF" },
        { "spatial_except_time", "BFT" },
    };
    for (size_t i = 0; i < sizeof sets / sizeof sets[0]; i++)
        if (!strcmp(token, sets[i].name)) {
            *mask = roles_except(p, sets[i].excluded);
            return SN_OK;
        }
    if (!strcmp(token, "batch"))
        return role_axis(p, 'B', token, mask);
    if (!strcmp(token, "time"))
        return role_axis(p, 'T', token, mask);
    if (!strcmp(token, "feature"))
        return role_axis(p, 'F', token, mask);
    if (!strncmp(token, "dim:", 4))
        return dim_axis(p, token, token + 4, mask);
    if (!strncmp(token, "spatial:", 8))
        return indexed_axis(p, roles_except(p, "BF"), token, token + 8, mask);
    if (!strncmp(token, "s:", 2))
        return indexed_axis(p, roles_except(p, "BF"), token, token + 2, mask);
    if (!strncmp(token, "except_batch:", 13))
        return indexed_axis(p, roles_except(p, "B"), token, token + 13, mask);
    if (*token && strspn(token, "btf") == strlen(token)) {
        *mask = 0;
        for (const char *c = token; *c; c++) {
            unsigned one = 0;
            sn_status status = role_axis(p, (char)toupper((unsigned char)*c), token, &one);
            if (status != SN_OK)
                return status;
            *mask |= one;
        }
        return SN_OK;
    }
    return sn_fail(SN_ERR_AXES_DESCRIPTION, "\"%s\" in \"%s\" is not an axis description",
                   token, p->description);
}

sn_status sn_axes_parse_checked(const char *description, const char *layout,
                                const ptrdiff_t *dims, unsigned *mask, int *listed_twice)
{
    if (!description || !layout || !mask)
        return SN_ERR_NULL_POINTER;
    parser p = { description, layout, (int)strlen(layout), dims };
    sn_status status = sn_layout_check(layout, p.rank);
    if (status != SN_OK)
        return status;
    unsigned total = 0;
    int twice = 0;
    const char *at = description;
    for (;;) {
        const char *comma = strchr(at, ',');
        size_t length = comma ? (size_t)(comma - at) : strlen(at);
        char token[MAX_TOKEN];
        while (length && isspace((unsigned char)*at)) {
            at++;
            length--;
        }
        while (length && isspace((unsigned char)at[length - 1]))
            length--;
        if (length == 0 || length >= MAX_TOKEN)
            return sn_fail(SN_ERR_AXES_DESCRIPTION, "\"%s\": %s", description,
                           length ? "a description is too long" : "empty description");
        for (size_t i = 0; i < length; i++)
            token[i] = (char)tolower((unsigned char)at[i]);
        token[length] = '\0';
        unsigned one;
        if ((status = parse_token(&p, token, &one)) != SN_OK)
            return status;
        if (!one)
            return sn_fail(SN_ERR_AXES_DESCRIPTION, "\"%s\" in \"%s\" selects no axis of layout \"%s\"",
                           token, description, layout);
        twice |= (total & one) != 0;
        total |= one;
        if (!comma)
            break;
        at = comma + 1;
    }
    *mask = total;
    if (listed_twice)
        *listed_twice = twice;
    return SN_OK;
}

sn_status sn_axes_parse(const char *description, const char *layout, const ptrdiff_t *dims,
                        unsigned *mask)
{
    sn_error_clear();
    return sn_axes_parse_checked(description, layout, dims, mask, NULL);
}
