/* notify.h: the sd_notify protocol, for systemd's Type=notify.
 *
 * systemd passes a unix datagram socket in NOTIFY_SOCKET (a path, or a
 * name in the abstract namespace when it starts with '@'); the service
 * reports its state as "KEY=VALUE" lines in one datagram: READY=1 once it
 * serves, RELOADING=1 and READY=1 around a reload, STOPPING=1 when it
 * shuts down, STATUS=... as free text. That is all libsystemd's
 * sd_notify does for us, so it is written here rather than linked. Every
 * send is one non-blocking sendto on a fresh socket: safe from any
 * thread, never blocks the loop, and a lost message only costs systemd's
 * view of the state, never the proxy. */
#ifndef PROXY_NOTIFY_H
#define PROXY_NOTIFY_H

/* notify_send formats |fmt| and sends it to NOTIFY_SOCKET. Returns 1 when
 * sent, 0 when there is no NOTIFY_SOCKET, or a negative errno. */
int notify_send(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
