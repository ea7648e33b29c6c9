/*
 * etcd_fixture.h - real etcd members for the unit tests of kumod's cluster
 * mode: etcd_cluster_start() runs n members of one new cluster on loopback
 * ports (Debian's /usr/bin/etcd, scripts/deps.sh installs it) in a
 * temporary directory, each its own process; members can be killed and
 * started again; etcd_cluster_stop() kills them and removes the directory.
 * Header-only (static functions), for the test programs that include it.
 */
#ifndef KUMO_TESTS_UNIT_ETCD_FIXTURE_H
#define KUMO_TESTS_UNIT_ETCD_FIXTURE_H

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define ETCD_FIXTURE_MAX 5

struct etcd_member {
    pid_t pid;
    int client_port, peer_port;
};

struct etcd_cluster {
    char dir[256];
    int n;
    struct etcd_member m[ETCD_FIXTURE_MAX];
    char urls[512];    /* every member's client URL, comma-separated */
    char initial[512]; /* --initial-cluster */
};

static int etcd_fixture_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t l = sizeof(sa);
    int port = -1;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
        getsockname(fd, (struct sockaddr *)&sa, &l) == 0)
        port = ntohs(sa.sin_port);
    if (fd >= 0) close(fd);
    return port;
}

static bool etcd_fixture_available(void)
{
    return access("/usr/bin/etcd", X_OK) == 0;
}

static void etcd_member_start(struct etcd_cluster *c, int i, const char *state)
{
    char name[16], data[320], client[64], peer[64], log[320];
    snprintf(name, sizeof(name), "m%d", i);
    snprintf(data, sizeof(data), "%s/%s", c->dir, name);
    snprintf(log, sizeof(log), "%s/%s.log", c->dir, name);
    snprintf(client, sizeof(client), "http://127.0.0.1:%d", c->m[i].client_port);
    snprintf(peer, sizeof(peer), "http://127.0.0.1:%d", c->m[i].peer_port);
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        setpgid(0, 0);
        execl("/usr/bin/etcd", "etcd", "--name", name, "--data-dir", data, "--listen-client-urls",
              client, "--advertise-client-urls", client, "--listen-peer-urls", peer,
              "--initial-advertise-peer-urls", peer, "--initial-cluster", c->initial,
              "--initial-cluster-state", state, "--initial-cluster-token", c->dir,
              "--heartbeat-interval", "100", "--election-timeout", "1000", (char *)NULL);
        _exit(127);
    }
    c->m[i].pid = pid;
}

/* Is member i's client port answering a range request? */
static bool etcd_member_up(struct etcd_cluster *c, int i)
{
    char cmd[256];
    snprintf(cmd, sizeof(cmd),
             "curl -s -m 2 -o /dev/null -w '%%{http_code}' -d '{\"key\":\"AA==\"}' "
             "http://127.0.0.1:%d/v3/kv/range | grep -q 200",
             c->m[i].client_port);
    return system(cmd) == 0;
}

static int etcd_cluster_start(struct etcd_cluster *c, int n)
{
    memset(c, 0, sizeof(*c));
    snprintf(c->dir, sizeof(c->dir), "/tmp/kumo-etcd-test-XXXXXX");
    if (!mkdtemp(c->dir)) return -1;
    c->n = n;
    size_t ul = 0, il = 0;
    for (int i = 0; i < n; i++) {
        c->m[i].client_port = etcd_fixture_free_port();
        c->m[i].peer_port = etcd_fixture_free_port();
        ul += (size_t)snprintf(c->urls + ul, sizeof(c->urls) - ul, "%shttp://127.0.0.1:%d",
                               i ? "," : "", c->m[i].client_port);
        il += (size_t)snprintf(c->initial + il, sizeof(c->initial) - il,
                               "%sm%d=http://127.0.0.1:%d", i ? "," : "", i, c->m[i].peer_port);
    }
    for (int i = 0; i < n; i++)
        etcd_member_start(c, i, "new");
    for (int tries = 0; tries < 600; tries++) { /* up to 60 s on a loaded machine */
        int up = 0;
        for (int i = 0; i < n; i++)
            up += etcd_member_up(c, i);
        if (up == n) return 0;
        usleep(100000);
    }
    return -1;
}

static void etcd_member_kill(struct etcd_cluster *c, int i)
{
    if (c->m[i].pid > 0) {
        kill(c->m[i].pid, SIGKILL);
        waitpid(c->m[i].pid, NULL, 0);
        c->m[i].pid = 0;
    }
}

/* Start member i again (after a kill), with its data. */
static void etcd_member_restart(struct etcd_cluster *c, int i)
{
    etcd_member_start(c, i, "existing");
}

static void etcd_cluster_stop(struct etcd_cluster *c)
{
    for (int i = 0; i < c->n; i++)
        etcd_member_kill(c, i);
    if (c->dir[0]) {
        char cmd[300];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", c->dir);
        if (system(cmd) != 0) fprintf(stderr, "cannot remove %s\n", c->dir);
    }
}

#endif
