/* RETURNN axis descriptions -> axis masks (bit i = axis i). */
#ifndef SN_AXES_H
#define SN_AXES_H

#include "simdnorm.h"

/* Parses `description` against `layout` (one of B, T, F, S per axis, at most
 * one each of B, T and F). *listed_twice is set when a list names the same axis
 * more than once (an error for param_shape, allowed for axes). */
sn_status sn_axes_parse_checked(const char *description, const char *layout,
                                const ptrdiff_t *dims, unsigned *mask, int *listed_twice);

/* Validates a layout for a tensor of `rank` axes; -1 when it has no axis of
 * that role. */
sn_status sn_layout_check(const char *layout, int rank);
int sn_layout_find(const char *layout, char role);

#endif
