/* SPDX-License-Identifier: MIT */
/* The one place the version lives; meson reads it for version: and soversion:. */
#ifndef WEFT_VERSION_H
#define WEFT_VERSION_H

#define WEFT_VERSION_MAJOR 0
#define WEFT_VERSION_MINOR 1
#define WEFT_VERSION_PATCH 0

#endif
