/*
 * tcpserv.h - a minimal TCP server (RFC 9293) that the switch itself speaks
 * for a platform service at one address and port of every VNet: the
 * instance metadata service at 169.254.169.254:80 (imds.h). It serves the
 * one-shot exchange of HTTP/1.x with "Connection: close": the client
 * connects, sends one request, gets one response, and the server closes.
 *
 * There is no socket and no kernel stack behind it: segments from a NIC go
 * in (tcps_input), the segments they cause come out through the emit
 * callback, and a timer (tcps_timer, at tcps_deadline) retransmits and
 * expires. Everything a guest can make it hold is bounded:
 *
 *  - TCPS_CONNS connections per NIC; a new SYN when all are busy evicts a
 *    finished one, else the oldest (the guest only competes with itself);
 *  - a request of at most TCPS_REQ_MAX bytes (more is acknowledged and
 *    dropped; the application answers "too large");
 *  - a response of at most TCPS_RESP_MAX bytes, kept until acknowledged;
 *  - a request must be complete TCPS_REQUEST_MS after the SYN, and the whole
 *    exchange done within TCPS_LIFETIME_MS, else the connection is reset;
 *  - at most TCPS_RETRIES retransmissions of the same data (RTO from
 *    TCPS_RTO_MS doubling to TCPS_RTO_MAX_MS), then a reset.
 *
 * What it does: the handshake (with the MSS option; no window scaling,
 * timestamps or SACK, so the peer uses none), in-order receive (segments
 * that overlap what was received are trimmed; out-of-order ones are
 * answered with a duplicate ACK and dropped, the peer retransmits), sending
 * within the peer's window and MSS, go-back-N retransmission on timeout and
 * on three duplicate ACKs, zero-window probes, FIN after the response, and
 * a short linger to acknowledge a retransmitted FIN. Segments for no
 * connection are answered with RST (RFC 9293 3.10.7.1). TCP checksums of
 * incoming segments are not verified: the port link does not corrupt.
 */
#ifndef KUMO_NETWORK_TCPSERV_H
#define KUMO_NETWORK_TCPSERV_H

#include "network/packet.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TCPS_CONNS        4
#define TCPS_REQ_MAX      4096
#define TCPS_RESP_MAX     (512u * 1024)
#define TCPS_MSS          1460
#define TCPS_WINDOW       8192 /* advertised; beyond TCPS_REQ_MAX data is dropped */
#define TCPS_BURST        16   /* segments sent per event at most */
#define TCPS_RTO_MS       200
#define TCPS_RTO_MAX_MS   3200
#define TCPS_RETRIES      8
#define TCPS_REQUEST_MS   10000
#define TCPS_LIFETIME_MS  30000
#define TCPS_PEER_FIN_MS  5000 /* our FIN was acknowledged; waiting for the peer's */
#define TCPS_LINGER_MS    2000
#define TCPS_FRAME_MAX    (NET_ETH_HLEN + 20 + 24 + TCPS_MSS)

enum tcps_state {
    TCPS_FREE,
    TCPS_SYN_RCVD,  /* SYN+ACK sent */
    TCPS_RECEIVING, /* established, reading the request */
    TCPS_SENDING,   /* sending the response and our FIN */
    TCPS_PEER_FIN,  /* all acknowledged; waiting for the peer's FIN */
    TCPS_LINGER,    /* done; a retransmitted FIN is acknowledged again */
};

struct tcps_conn {
    enum tcps_state state;
    uint32_t rip;   /* the peer (the NIC's address) */
    uint16_t rport;
    uint32_t iss, irs;
    uint32_t rcv_nxt;
    uint32_t snd_una, snd_nxt, snd_max;
    uint32_t snd_wnd;
    uint16_t mss;
    bool fin_rcvd;
    unsigned dupacks, retries;
    uint32_t rto_ms;
    uint64_t created, rto_at, expires; /* ms; rto_at 0: not armed */
    uint8_t *req;
    size_t req_len;
    bool req_full;
    uint8_t *resp;
    size_t resp_len;
};

struct tcps_stats {
    uint64_t accepted, responses, resets, timeouts, evicted;
};

/* One NIC's connections. */
struct tcps {
    struct tcps_conn c[TCPS_CONNS];
    uint32_t isn_salt;
    struct tcps_stats st;
};

/* The application. Called when request bytes (or the peer's FIN) arrive,
 * with everything received so far; final says no more will come (FIN, or
 * TCPS_REQ_MAX reached: full). Returns 0 to wait for more (not allowed when
 * final), 1 with a malloc'd response (*resp, *resp_len <= TCPS_RESP_MAX)
 * that the server sends and frees, or -1 to reset the connection. */
typedef int (*tcps_app_fn)(void *opaque, const uint8_t *req, size_t len, bool final, bool full,
                           uint8_t **resp, size_t *resp_len);

/* A buffer for an outgoing frame of len bytes, or NULL when there is no
 * room (the segment is lost; retransmission recovers). */
typedef uint8_t *(*tcps_emit_fn)(void *opaque, size_t len);

struct tcps_env {
    uint32_t ip;             /* the service's address and port */
    uint16_t port;
    const uint8_t *mac;      /* source MAC of what is sent (the gateway's) */
    const uint8_t *peer_mac; /* destination MAC (the NIC's) */
    tcps_emit_fn emit;
    void *emit_opaque;
    tcps_app_fn app;
    void *app_opaque;
};

void tcps_init(struct tcps *t, uint32_t isn_salt);
/* Free every connection's buffers (nothing is sent). */
void tcps_clear(struct tcps *t);

/* A TCP segment from the peer to env->ip:env->port (f parsed, not a
 * fragment). */
void tcps_input(struct tcps *t, const struct tcps_env *env, const struct net_frame *f,
                uint64_t now);

/* Retransmissions and timeouts due at now. */
void tcps_timer(struct tcps *t, const struct tcps_env *env, uint64_t now);

/* When tcps_timer must run next; UINT64_MAX if never. */
uint64_t tcps_deadline(const struct tcps *t);

/* Connections in use. */
size_t tcps_active(const struct tcps *t);

#endif
