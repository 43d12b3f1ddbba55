/* framescan.c: see framescan.h. */
#include "proxy/framescan.h"

#include <string.h>

void framescan_init(struct framescan *f) {
  memset(f, 0, sizeof(*f));
  f->preface = FRAMESCAN_PREFACE;
}

size_t framescan_count(struct framescan *f, const uint8_t *data, size_t n,
                       uint8_t type) {
  size_t found = 0, i = 0;
  size_t k = f->preface < n ? f->preface : n;
  f->preface -= k;
  i += k;
  while (i < n) {
    if (f->skip > 0) {
      uint64_t left = n - i;
      uint64_t step = f->skip < left ? f->skip : left;
      f->skip -= step;
      i += (size_t)step;
      continue;
    }
    f->hdr[f->have++] = data[i++];
    if (f->have < sizeof(f->hdr))
      continue;
    f->have = 0;
    f->skip = (uint64_t)f->hdr[0] << 16 | (uint64_t)f->hdr[1] << 8 | f->hdr[2];
    found += f->hdr[3] == type;
  }
  return found;
}
