/*
 * test_cloud_lb.c - the scale sets' load balancer (src/cloud/lb.c) with
 * real sockets and no guest: a set made by the provisioning layer and the
 * controller, its instances' public IP ports served by two TCP servers of
 * this test (what slirp's host forwards reach in kumod), the load balancer
 * listening on the set's public IP port. Checked: both backends probed
 * Healthy (Tcp: the server spoke), connections spread round robin and
 * counted; a backend that refuses is marked Unhealthy and skipped, and
 * comes back; Http probes by status line; a deleted instance leaves.
 */
#include "cloud/lb.h"
#include "cloud/provision.h"
#include "cloud/vmss.h"

#include "cloud_fixture.h"

#include <errno.h>
#include <poll.h>
#include <stdatomic.h>

/* One backend: a TCP server on a fixed port answering each connection with
 * its name (Tcp mode: it speaks first), or an HTTP status (Http mode). */
struct server {
    char name;
    int port, fd;
    atomic_int http_status; /* 0: Tcp mode */
    atomic_bool stop;
    pthread_t thread;
};

static void serve_one(struct server *s, int c)
{
    int status = atomic_load(&s->http_status);
    char buf[512];
    if (status) { /* read the request head, then answer */
        size_t got = 0;
        struct pollfd p = {.fd = c, .events = POLLIN};
        while (got < sizeof(buf) - 1 && poll(&p, 1, 2000) > 0) {
            ssize_t n = recv(c, buf + got, sizeof(buf) - 1 - got, 0);
            if (n <= 0) break;
            got += (size_t)n;
            buf[got] = 0;
            if (strstr(buf, "\r\n\r\n")) break;
        }
        int n = snprintf(buf, sizeof(buf), "HTTP/1.0 %d X\r\nContent-Length: 2\r\n\r\n%c\n", status,
                         s->name);
        if (send(c, buf, (size_t)n, MSG_NOSIGNAL) < 0) perror("send");
    } else {
        char line[3] = {s->name, '\n', 0};
        if (send(c, line, 2, MSG_NOSIGNAL) < 0) perror("send");
    }
    close(c);
}

static void *serve(void *arg)
{
    struct server *s = arg;
    while (!atomic_load(&s->stop)) {
        struct pollfd p = {.fd = s->fd, .events = POLLIN};
        if (poll(&p, 1, 100) <= 0) continue;
        int c = accept(s->fd, NULL, NULL);
        if (c >= 0) serve_one(s, c);
    }
    return NULL;
}

static bool server_start(struct server *s)
{
    s->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(s->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)s->port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(s->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(s->fd, 16) < 0) {
        printf("  backend %c: port %d: %s\n", s->name, s->port, strerror(errno));
        close(s->fd);
        return false;
    }
    atomic_store(&s->stop, false);
    return pthread_create(&s->thread, NULL, serve, s) == 0;
}

static void server_stop(struct server *s)
{
    atomic_store(&s->stop, true);
    pthread_join(s->thread, NULL);
    close(s->fd); /* now connections to its port are refused */
}

/* Connect to the load balancer and read what the backend said ("" when
 * refused or closed). */
static void fetch(int port, const char *send_first, char *out, size_t len)
{
    out[0] = 0;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        close(fd);
        return;
    }
    if (send_first && send(fd, send_first, strlen(send_first), MSG_NOSIGNAL) < 0) perror("send");
    size_t got = 0;
    struct pollfd p = {.fd = fd, .events = POLLIN};
    while (got < len - 1 && poll(&p, 1, 5000) > 0) {
        ssize_t n = recv(fd, out + got, len - 1 - got, 0);
        if (n <= 0) break;
        got += (size_t)n;
    }
    out[got] = 0;
    close(fd);
}

static bool wait_health(struct fixture *f, int64_t vm, enum lb_health want)
{
    for (int i = 0; i < 500; i++) {
        if (lb_backend_health(f->k.lb, vm) == want) return true;
        usleep(20000);
    }
    printf("  VM %lld is %s, want %s\n", (long long)vm,
           lb_health_name(lb_backend_health(f->k.lb, vm)), lb_health_name(want));
    return false;
}

/* How many of n connections each backend answered (by its name's count). */
static void spread(int port, const char *send_first, int n, int *a, int *b, int *none)
{
    *a = *b = *none = 0;
    for (int i = 0; i < n; i++) {
        char got[256];
        fetch(port, send_first, got, sizeof(got));
        size_t l = strlen(got);
        char who = l >= 2 ? got[l - 2] : 0; /* the name before the last newline */
        if (who == 'A')
            (*a)++;
        else if (who == 'B')
            (*b)++;
        else
            (*none)++;
    }
}

int main(void)
{
    struct fixture f;
    if (!fixture_start(&f, record_only, false)) {
        printf("fixture failed\n");
        return 1;
    }
    struct kumod *k = &f.k;
    struct kerr e = {0};
    struct prov_vmss_spec s = {
        .name = "web", .size = "Small", .capacity = 2, .lb_port = 80, .probe_interval = 1};
    kumod_lock(k);
    int64_t set = prov_vmss_create(k, f.group, &s, &e);
    CHECK(set > 0, "create: %s", e.message);
    vmss_reconcile(k, set); /* two instances, each with a public IP port for 80 */
    /* what the jobs would do: the instances run */
    db_exec(k->db, "UPDATE vms SET op = NULL, power_state = 'Running', prov_state = 'Succeeded'",
            "");
    int front = (int)count(&f, "SELECT p.host_port FROM public_ip_ports p JOIN vmss s"
                               " ON s.lb_pip_id = p.public_ip_id");
    int64_t vm[2];
    struct server srv[2] = {{.name = 'A'}, {.name = 'B'}};
    for (int i = 0; i < 2; i++) {
        char sql[256];
        snprintf(sql, sizeof(sql), "SELECT id FROM vms WHERE vmss_index = %d", i);
        vm[i] = count(&f, sql);
        snprintf(sql, sizeof(sql),
                 "SELECT p.host_port FROM public_ip_ports p JOIN nics n"
                 " ON n.public_ip_id = p.public_ip_id WHERE n.vm_id = %lld AND p.port = 80",
                 (long long)vm[i]);
        srv[i].port = (int)count(&f, sql);
    }
    kumod_unlock(k);
    CHECK(front > 0 && vm[0] > 0 && vm[1] > 0 && srv[0].port > 0 && srv[1].port > 0 &&
              srv[0].port != srv[1].port && front != srv[0].port,
          "a frontend port (%d) and a port per instance (%d, %d)", front, srv[0].port, srv[1].port);
    CHECK(server_start(&srv[0]) && server_start(&srv[1]), "backends listen");
    k->lb = lb_start(k);
    CHECK(k->lb != NULL, "load balancer");

    CHECK(wait_health(&f, vm[0], LB_HEALTHY) && wait_health(&f, vm[1], LB_HEALTHY),
          "both backends probed Healthy");
    int a, b, none;
    spread(front, NULL, 6, &a, &b, &none);
    CHECK(a == 3 && b == 3 && none == 0, "round robin: A %d, B %d, none %d", a, b, none);
    CHECK(lb_backend_connections(k->lb, vm[0]) == 3 && lb_backend_connections(k->lb, vm[1]) == 3,
          "counted per backend");

    /* B refuses: Unhealthy, skipped; then back */
    server_stop(&srv[1]);
    spread(front, NULL, 4, &a, &b, &none);
    CHECK(a == 4 && none == 0, "a refused backend is skipped at once: A %d, none %d", a, none);
    CHECK(wait_health(&f, vm[1], LB_UNHEALTHY), "B Unhealthy");
    CHECK(server_start(&srv[1]), "B listens again");
    CHECK(wait_health(&f, vm[1], LB_HEALTHY), "B Healthy again");
    spread(front, NULL, 4, &a, &b, &none);
    CHECK(a == 2 && b == 2, "and served again: A %d, B %d", a, b);

    /* Http probes: the status line decides */
    atomic_store(&srv[0].http_status, 200);
    atomic_store(&srv[1].http_status, 503);
    kumod_lock(k);
    db_exec(k->db, "UPDATE vmss SET probe_protocol = 'Http', probe_path = '/health'", "");
    kumod_unlock(k);
    lb_kick(k->lb);
    CHECK(wait_health(&f, vm[1], LB_UNHEALTHY) && wait_health(&f, vm[0], LB_HEALTHY),
          "503 is Unhealthy, 200 Healthy");
    spread(front, "GET / HTTP/1.0\r\n\r\n", 3, &a, &b, &none);
    CHECK(a == 3 && b == 0, "only the healthy one serves: A %d, B %d", a, b);

    /* an instance being deleted is no backend any more, and drains: a
     * connection it still serves keeps it busy until that ends */
    uint64_t before = lb_backend_connections(k->lb, vm[0]);
    int held = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)front)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK(connect(held, (struct sockaddr *)&sa, sizeof(sa)) == 0, "a connection held open");
    for (int t = 0; t < 500 && lb_backend_connections(k->lb, vm[0]) == before; t++)
        usleep(10000);
    CHECK(lb_backend_connections(k->lb, vm[0]) == before + 1, "given to A (B is unhealthy)");
    CHECK(!lb_drained(k->lb, vm[0]) && !lb_drained(k->lb, vm[1]), "both serve: neither drained");
    kumod_lock(k);
    db_exec(k->db, "UPDATE vms SET op = 'delete' WHERE id = ?", "i", vm[0]);
    kumod_unlock(k);
    lb_kick(k->lb);
    CHECK(wait_health(&f, vm[0], LB_UNKNOWN), "a deleting instance leaves the pool");
    CHECK(!lb_drained(k->lb, vm[0]), "but its open connection keeps it from draining");
    close(held);
    bool drained = false;
    for (int t = 0; t < 500 && !(drained = lb_drained(k->lb, vm[0])); t++) usleep(10000);
    CHECK(drained, "drained once the connection ended");

    lb_stop(k->lb);
    k->lb = NULL;
    server_stop(&srv[0]);
    server_stop(&srv[1]);
    fixture_stop(&f);
    printf("%d checks, %d failures\n", checks, failures);
    return failures ? 1 : 0;
}
