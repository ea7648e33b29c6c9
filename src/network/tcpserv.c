/*
 * tcpserv.c - the minimal one-request TCP server of tcpserv.h.
 *
 * Sequence space of a connection: our SYN is iss, response byte i is
 * iss + 1 + i, our FIN is iss + 1 + resp_len. The peer's SYN is irs, its
 * request byte i is irs + 1 + i. Comparisons are modulo 2^32 (seq_lt).
 */
#include "network/tcpserv.h"

#include <stdlib.h>
#include <string.h>

static bool seq_lt(uint32_t a, uint32_t b)
{
    return (uint32_t)(a - b) >= 0x80000000u;
}

static bool seq_le(uint32_t a, uint32_t b)
{
    return a == b || seq_lt(a, b);
}

void tcps_init(struct tcps *t, uint32_t isn_salt)
{
    memset(t, 0, sizeof(*t));
    t->isn_salt = isn_salt;
}

static void conn_free(struct tcps_conn *c)
{
    free(c->req);
    free(c->resp);
    memset(c, 0, sizeof(*c));
    c->state = TCPS_FREE;
}

void tcps_clear(struct tcps *t)
{
    for (size_t i = 0; i < TCPS_CONNS; i++) conn_free(&t->c[i]);
}

size_t tcps_active(const struct tcps *t)
{
    size_t n = 0;
    for (size_t i = 0; i < TCPS_CONNS; i++) n += t->c[i].state != TCPS_FREE;
    return n;
}

/* ------------------------------------------------------------ sending -- */

static bool send_raw(const struct tcps_env *env, uint32_t rip, uint16_t rport, uint32_t seq,
                     uint32_t ack, uint8_t flags, uint16_t mss, const uint8_t *data, size_t len)
{
    size_t flen = NET_ETH_HLEN + 20 + (mss ? 24 : 20) + len;
    uint8_t *b = env->emit(env->emit_opaque, flen);
    if (!b) return false;
    struct net_tcp_seg s = {
        .src_ip = env->ip, .dst_ip = rip, .sport = env->port, .dport = rport, .seq = seq,
        .ack = (flags & NET_TCP_ACK) ? ack : 0, .flags = flags, .window = TCPS_WINDOW, .mss = mss,
    };
    net_build_tcp(b, env->peer_mac, env->mac, &s, data, len);
    return true;
}

static bool send_seg(const struct tcps_env *env, const struct tcps_conn *c, uint32_t seq,
                     uint8_t flags, const uint8_t *data, size_t len)
{
    return send_raw(env, c->rip, c->rport, seq, c->rcv_nxt, flags, 0, data, len);
}

static void send_synack(const struct tcps_env *env, const struct tcps_conn *c)
{
    send_raw(env, c->rip, c->rport, c->iss, c->rcv_nxt, NET_TCP_SYN | NET_TCP_ACK, TCPS_MSS, NULL,
             0);
}

static void send_ack(const struct tcps_env *env, const struct tcps_conn *c)
{
    send_seg(env, c, c->snd_nxt, NET_TCP_ACK, NULL, 0);
}

/* Reset and forget a connection. */
static void conn_abort(struct tcps *t, const struct tcps_env *env, struct tcps_conn *c)
{
    send_seg(env, c, c->snd_nxt, NET_TCP_RST | NET_TCP_ACK, NULL, 0);
    t->st.resets++;
    conn_free(c);
}

static uint32_t data_end(const struct tcps_conn *c)
{
    return c->iss + 1 + (uint32_t)c->resp_len;
}

/* Send what the window allows of the response and the FIN (SENDING);
 * probe a zero window with one byte when probe is set. A pure ACK if
 * nothing was sent and want_ack. */
static void output(const struct tcps_env *env, struct tcps_conn *c, uint64_t now, bool want_ack,
                   bool probe)
{
    bool sent = false;
    if (c->state == TCPS_SENDING) {
        uint32_t dend = data_end(c), fend = dend + 1;
        for (int k = 0; k < TCPS_BURST && seq_lt(c->snd_nxt, fend); k++) {
            uint32_t len = 0;
            if (seq_lt(c->snd_nxt, dend)) {
                uint32_t wend = c->snd_una + c->snd_wnd;
                uint32_t room = seq_lt(c->snd_nxt, wend) ? wend - c->snd_nxt : 0;
                if (room == 0 && probe && k == 0) room = 1;
                len = dend - c->snd_nxt;
                if (len > room) len = room;
                if (len > c->mss) len = c->mss;
                if (len == 0) break;
            }
            bool fin = c->snd_nxt + len == dend;
            uint8_t flags = NET_TCP_ACK;
            if (fin) flags |= NET_TCP_FIN | (len ? NET_TCP_PSH : 0);
            size_t off = c->snd_nxt - (c->iss + 1);
            if (!send_seg(env, c, c->snd_nxt, flags, len ? c->resp + off : NULL, len)) break;
            c->snd_nxt += len + (fin ? 1 : 0);
            if (seq_lt(c->snd_max, c->snd_nxt)) c->snd_max = c->snd_nxt;
            sent = true;
        }
        /* retransmission timer while something is in flight; the persist
         * timer (a zero window probe) while data waits for window */
        if (!c->rto_at && (c->snd_una != c->snd_max || seq_lt(c->snd_nxt, fend)))
            c->rto_at = now + c->rto_ms;
    }
    if (!sent && want_ack) send_ack(env, c);
}

/* ---------------------------------------------------------- receiving -- */

static uint16_t syn_mss(const struct net_frame *f)
{
    const uint8_t *o = f->data + f->l4_off + 20;
    size_t n = f->payload_off - (f->l4_off + 20), i = 0;
    uint16_t mss = 536; /* RFC 9293 3.7.1: the default without the option */
    while (i < n) {
        uint8_t kind = o[i];
        if (kind == 0) break;
        if (kind == 1) {
            i++;
            continue;
        }
        if (i + 1 >= n || o[i + 1] < 2 || i + o[i + 1] > n) break;
        if (kind == 2 && o[i + 1] == 4) mss = net_rd16(o + i + 2);
        i += o[i + 1];
    }
    if (mss > TCPS_MSS) mss = TCPS_MSS;
    if (mss < 64) mss = 64;
    return mss;
}

static struct tcps_conn *find(struct tcps *t, uint32_t rip, uint16_t rport)
{
    for (size_t i = 0; i < TCPS_CONNS; i++)
        if (t->c[i].state != TCPS_FREE && t->c[i].rip == rip && t->c[i].rport == rport)
            return &t->c[i];
    return NULL;
}

/* A slot for a new connection: a free one, else a finished one, else the
 * oldest (reset). */
static struct tcps_conn *alloc(struct tcps *t, const struct tcps_env *env)
{
    struct tcps_conn *best = NULL;
    for (size_t i = 0; i < TCPS_CONNS; i++)
        if (t->c[i].state == TCPS_FREE) return &t->c[i];
    for (size_t i = 0; i < TCPS_CONNS; i++) {
        struct tcps_conn *c = &t->c[i];
        bool done = c->state == TCPS_LINGER || c->state == TCPS_PEER_FIN;
        bool best_done = best && (best->state == TCPS_LINGER || best->state == TCPS_PEER_FIN);
        if (!best || (done && !best_done) || (done == best_done && c->created < best->created))
            best = c;
    }
    t->st.evicted++;
    if (best->state == TCPS_LINGER || best->state == TCPS_PEER_FIN)
        conn_free(best);
    else
        conn_abort(t, env, best);
    return best;
}

/* RFC 9293 3.10.7.1: the reset for a segment that has no connection. */
static void reset_for(struct tcps *t, const struct tcps_env *env, const struct net_frame *f,
                      uint32_t seq, uint32_t ack, uint8_t flags)
{
    if (flags & NET_TCP_RST) return;
    if (flags & NET_TCP_ACK) {
        send_raw(env, f->src_ip, f->sport, ack, 0, NET_TCP_RST, 0, NULL, 0);
    } else {
        uint32_t len = (uint32_t)f->payload_len + ((flags & NET_TCP_SYN) ? 1 : 0) +
                       ((flags & NET_TCP_FIN) ? 1 : 0);
        send_raw(env, f->src_ip, f->sport, 0, seq + len, NET_TCP_RST | NET_TCP_ACK, 0, NULL, 0);
    }
    t->st.resets++;
}

/* Request bytes, while the request is being read. */
static int take(struct tcps_conn *c, const uint8_t *data, size_t n)
{
    if (c->state != TCPS_RECEIVING || n == 0) return 0;
    if (!c->req) {
        c->req = malloc(TCPS_REQ_MAX);
        if (!c->req) return -1;
    }
    size_t room = TCPS_REQ_MAX - c->req_len;
    if (n > room) {
        n = room;
        c->req_full = true;
    }
    memcpy(c->req + c->req_len, data, n);
    c->req_len += n;
    if (c->req_len == TCPS_REQ_MAX) c->req_full = true;
    return 0;
}

/* Ask the application; on a response, start sending it. 0, or -1 to reset. */
static int ask_app(struct tcps *t, const struct tcps_env *env, struct tcps_conn *c)
{
    bool final = c->fin_rcvd || c->req_full;
    uint8_t *resp = NULL;
    size_t rlen = 0;
    int r = env->app(env->app_opaque, c->req ? c->req : (const uint8_t *)"", c->req_len, final,
                     c->req_full, &resp, &rlen);
    if (r == 0 && !final) return 0;
    if (r != 1 || rlen > TCPS_RESP_MAX || (!resp && rlen)) {
        free(resp);
        return -1;
    }
    free(c->req);
    c->req = NULL;
    c->resp = resp;
    c->resp_len = rlen;
    c->state = TCPS_SENDING;
    c->snd_nxt = c->snd_una;
    c->expires = c->created + TCPS_LIFETIME_MS;
    t->st.responses++;
    return 0;
}

void tcps_input(struct tcps *t, const struct tcps_env *env, const struct net_frame *f,
                uint64_t now)
{
    if (f->ethertype != NET_ETH_IPV4 || f->proto != NET_IPPROTO_TCP || f->fragment ||
        !f->has_ports)
        return;
    const uint8_t *th = f->data + f->l4_off;
    uint32_t seq = net_rd32(th + 4), ack = net_rd32(th + 8);
    uint16_t wnd = net_rd16(th + 14);
    uint8_t flags = f->tcp_flags;
    const uint8_t *data = f->data + f->payload_off;
    size_t len = f->payload_len;
    struct tcps_conn *c = find(t, f->src_ip, f->sport);

    if (flags & NET_TCP_RST) {
        /* acceptable if inside our receive window (RFC 9293 3.10.7.4) */
        if (c && (uint32_t)(seq - c->rcv_nxt) < TCPS_WINDOW) conn_free(c);
        return;
    }
    if (flags & NET_TCP_SYN) {
        if (flags & NET_TCP_ACK) { /* we never open connections */
            if (!c) reset_for(t, env, f, seq, ack, flags);
            return;
        }
        if (c && seq == c->irs) { /* a retransmitted SYN */
            if (c->state == TCPS_SYN_RCVD)
                send_synack(env, c);
            else
                send_ack(env, c);
            return;
        }
        if (c) conn_free(c); /* the port reused for a new connection */
        c = alloc(t, env);
        c->state = TCPS_SYN_RCVD;
        c->rip = f->src_ip;
        c->rport = f->sport;
        c->irs = seq;
        c->rcv_nxt = seq + 1;
        t->isn_salt = t->isn_salt * 1664525u + 1013904223u;
        c->iss = (uint32_t)(now * 250) + t->isn_salt;
        c->snd_una = c->iss;
        c->snd_nxt = c->snd_max = c->iss + 1;
        c->snd_wnd = wnd;
        c->mss = syn_mss(f);
        c->rto_ms = TCPS_RTO_MS;
        c->created = now;
        c->expires = now + TCPS_REQUEST_MS;
        c->rto_at = now + c->rto_ms;
        t->st.accepted++;
        send_synack(env, c); /* data on the SYN is not taken: the peer sends it again */
        return;
    }
    if (!c) {
        reset_for(t, env, f, seq, ack, flags);
        return;
    }
    if (!(flags & NET_TCP_ACK)) return;

    /* the acknowledgment */
    if (c->state == TCPS_SYN_RCVD) {
        if (ack != c->iss + 1) {
            send_raw(env, c->rip, c->rport, ack, 0, NET_TCP_RST, 0, NULL, 0);
            return;
        }
        c->state = TCPS_RECEIVING;
        c->snd_una = ack;
        c->retries = 0;
        c->rto_ms = TCPS_RTO_MS;
        c->rto_at = 0;
    } else if (seq_lt(c->snd_max, ack)) {
        send_ack(env, c); /* acknowledges what was never sent */
        return;
    } else if (seq_lt(c->snd_una, ack)) {
        c->snd_una = ack;
        if (seq_lt(c->snd_nxt, ack)) c->snd_nxt = ack;
        c->dupacks = 0;
        c->retries = 0;
        c->rto_ms = TCPS_RTO_MS;
        c->rto_at = ack == c->snd_max ? 0 : now + c->rto_ms;
    } else if (ack == c->snd_una && len == 0 && !(flags & NET_TCP_FIN) &&
               c->snd_una != c->snd_max && wnd == c->snd_wnd) {
        if (++c->dupacks == 3) c->snd_nxt = c->snd_una; /* fast retransmit */
    }
    c->snd_wnd = wnd;

    /* data and FIN, in order only */
    bool want_ack = false, fresh = false;
    if (len || (flags & NET_TCP_FIN)) {
        want_ack = true;
        uint32_t end = seq + (uint32_t)len;
        if (!c->fin_rcvd && seq_le(seq, c->rcv_nxt) && seq_le(c->rcv_nxt, end)) {
            size_t off = c->rcv_nxt - seq;
            size_t n = len - off;
            if (take(c, data + off, n) < 0) {
                conn_abort(t, env, c);
                return;
            }
            c->rcv_nxt += (uint32_t)n;
            fresh = n > 0;
            if (flags & NET_TCP_FIN) {
                c->rcv_nxt++;
                c->fin_rcvd = true;
                fresh = true;
            }
        }
    }
    if (c->state == TCPS_RECEIVING && fresh && ask_app(t, env, c) < 0) {
        conn_abort(t, env, c);
        return;
    }
    if (c->state == TCPS_SENDING && c->snd_una == data_end(c) + 1) {
        free(c->resp); /* all of it and our FIN acknowledged */
        c->resp = NULL;
        c->rto_at = 0;
        c->state = c->fin_rcvd ? TCPS_LINGER : TCPS_PEER_FIN;
        c->expires = now + (c->fin_rcvd ? TCPS_LINGER_MS : TCPS_PEER_FIN_MS);
    } else if (c->state == TCPS_PEER_FIN && c->fin_rcvd) {
        c->state = TCPS_LINGER;
        c->expires = now + TCPS_LINGER_MS;
    }
    output(env, c, now, want_ack, false);
}

void tcps_timer(struct tcps *t, const struct tcps_env *env, uint64_t now)
{
    for (size_t i = 0; i < TCPS_CONNS; i++) {
        struct tcps_conn *c = &t->c[i];
        if (c->state == TCPS_FREE) continue;
        if (now >= c->expires) {
            if (c->state == TCPS_LINGER || c->state == TCPS_PEER_FIN) {
                conn_free(c);
            } else {
                t->st.timeouts++;
                conn_abort(t, env, c);
            }
            continue;
        }
        if (!c->rto_at || now < c->rto_at) continue;
        if (++c->retries > TCPS_RETRIES) {
            t->st.timeouts++;
            conn_abort(t, env, c);
            continue;
        }
        c->rto_ms = c->rto_ms * 2 > TCPS_RTO_MAX_MS ? TCPS_RTO_MAX_MS : c->rto_ms * 2;
        c->rto_at = 0;
        if (c->state == TCPS_SYN_RCVD) {
            send_synack(env, c);
            c->rto_at = now + c->rto_ms;
        } else if (c->state == TCPS_SENDING) {
            c->snd_nxt = c->snd_una; /* go back N */
            c->dupacks = 0;
            output(env, c, now, false, c->snd_wnd == 0);
        }
    }
}

uint64_t tcps_deadline(const struct tcps *t)
{
    uint64_t d = UINT64_MAX;
    for (size_t i = 0; i < TCPS_CONNS; i++) {
        const struct tcps_conn *c = &t->c[i];
        if (c->state == TCPS_FREE) continue;
        if (c->expires < d) d = c->expires;
        if (c->rto_at && c->rto_at < d) d = c->rto_at;
    }
    return d;
}
