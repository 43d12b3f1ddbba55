/* rows.c: the names of a rule's channels, states, levels and ranks as
 * the rules table and heraldctl spell them, and a resource's rank (see
 * rows.h). */
#include "store/rows.h"

#include <string.h>

const char *learn_channel_name(uint32_t channels) {
  if (channels & LEARN_PUSH)
    return "push";
  if (channels & LEARN_HINT)
    return "hint";
  return "none";
}

const char *learn_state_name(uint8_t state) {
  switch (state) {
  case LEARN_PINNED:
    return "pinned";
  case LEARN_BLOCKED:
    return "blocked";
  default:
    return "learned";
  }
}

static const char *const level_names[LEARN_LEVELS] = {"page", "template",
                                                      "section", "site"};

const char *learn_level_name(uint8_t level) {
  return level < LEARN_LEVELS ? level_names[level] : "page";
}

int learn_level_parse(const char *name) {
  for (int i = 0; i < LEARN_LEVELS; i++)
    if (name != NULL && strcmp(name, level_names[i]) == 0)
      return i;
  return -1;
}

const char *learn_rank_name(uint8_t rank) {
  static const char *const names[] = {"style", "script", "font", "other"};
  return rank <= LEARN_RANK_OTHER ? names[rank] : "other";
}

uint8_t learn_rank_of(uint8_t dest, uint8_t urgency) {
  int known = urgency != VISIT_URGENCY_NONE;
  switch (dest) {
  case OBS_DEST_STYLE:
    /* Chromium: u=0 for a render-blocking stylesheet, u=4 for one whose
     * media does not apply (print). */
    return !known || urgency <= 2 ? LEARN_RANK_STYLE : LEARN_RANK_OTHER;
  case OBS_DEST_SCRIPT:
    /* u=1 or 2 for a parser-blocking script; an async or deferred one
     * carries no field (u=3). */
    return !known || urgency <= 2 ? LEARN_RANK_SCRIPT : LEARN_RANK_OTHER;
  case OBS_DEST_FONT:
    return LEARN_RANK_FONT;
  default:
    return LEARN_RANK_OTHER;
  }
}
