/* health.c: see health.h. A list is enough: it is searched only when a
 * pool is built (start and reload), once per configured server. */
#include "proxy/health.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"

struct node {
  struct health_entry e;
  struct node *next;
  char *backend, *server;
};

struct health {
  pthread_mutex_t mu;
  struct node *head;
};

struct health *health_new(void) {
  struct health *h = xcalloc(1, sizeof(*h));
  pthread_mutex_init(&h->mu, NULL);
  return h;
}

void health_free(struct health *h) {
  if (h == NULL)
    return;
  struct node *next;
  for (struct node *n = h->head; n != NULL; n = next) {
    next = n->next;
    free(n->backend);
    free(n->server);
    free(n);
  }
  pthread_mutex_destroy(&h->mu);
  free(h);
}

struct health_entry *health_get(struct health *h, const char *backend,
                                const char *server) {
  pthread_mutex_lock(&h->mu);
  struct node *n;
  for (n = h->head; n != NULL; n = n->next) {
    if (strcmp(n->backend, backend) == 0 && strcmp(n->server, server) == 0)
      break;
  }
  if (n == NULL) {
    n = xcalloc(1, sizeof(*n));
    n->backend = xstrdup(backend);
    n->server = xstrdup(server);
    n->next = h->head;
    h->head = n;
  }
  pthread_mutex_unlock(&h->mu);
  return &n->e;
}
