/*
 * lenient.c - quoting bare member names in request bodies (contract in
 * lenient.h).
 */
#include "cloud/arm/lenient.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static bool ident_start(unsigned char c)
{
    return isalpha(c) || c == '_' || c == '$';
}

static bool ident_char(unsigned char c)
{
    return isalnum(c) || c == '_' || c == '$';
}

char *arm_json_quote_names(const char *text, size_t len, size_t *outlen)
{
    /* two quotes per name, and a name takes at least 3 bytes ("{a:"), so
     * 2 * len covers it */
    if (len > (SIZE_MAX - 2) / 2) return NULL;
    char *out = malloc(2 * len + 2);
    if (!out) return NULL;
    size_t o = 0;
    bool in_str = false, esc = false;
    char last = 0; /* the last significant character outside strings */
    for (size_t i = 0; i < len;) {
        unsigned char c = (unsigned char)text[i];
        if (in_str) {
            out[o++] = (char)c;
            i++;
            if (esc)
                esc = false;
            else if (c == '\\')
                esc = true;
            else if (c == '"')
                in_str = false;
            continue;
        }
        if (c == '"') {
            in_str = true;
            out[o++] = (char)c;
            last = '"';
            i++;
            continue;
        }
        if ((last == '{' || last == ',') && ident_start(c)) {
            size_t j = i;
            while (j < len && ident_char((unsigned char)text[j]))
                j++;
            size_t k = j;
            while (k < len && isspace((unsigned char)text[k]))
                k++;
            if (k < len && text[k] == ':') {
                out[o++] = '"';
                memcpy(out + o, text + i, j - i);
                o += j - i;
                out[o++] = '"';
            } else {
                memcpy(out + o, text + i, j - i);
                o += j - i;
            }
            last = text[j - 1];
            i = j;
            continue;
        }
        if (!isspace(c)) last = (char)c;
        out[o++] = (char)c;
        i++;
    }
    out[o] = 0;
    if (outlen) *outlen = o;
    return out;
}
