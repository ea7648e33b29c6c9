/*
 * machine.c - guest physical memory and the bus that dispatches to devices.
 */
#include "machine/machine.h"

#include "cpu/hart.h"
#include "devices/htif.h"
#include "lib/log.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

uint64_t machine_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t machine_time(const struct machine *m)
{
    return (machine_now_ns() - m->time_base_ns) / (1000000000ull / MACHINE_TIMEBASE_HZ);
}

void *machine_map_anon(uint64_t size, const char *name)
{
    /* One inaccessible guard page after the mapping: it catches overruns and
     * keeps the kernel from merging neighbouring mappings, so guest RAM shows
     * as its own line in /proc/PID/smaps (bench/ measures the VMM's memory
     * beyond the guest's pages that way). */
    uint8_t *p = mmap(NULL, size + PAGE_SIZE, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) return NULL;
    mprotect(p + size, PAGE_SIZE, PROT_NONE);
    /* Also name it where the kernel supports it (Linux 5.17+ with ANON_VMA_NAME). */
    if (name) prctl(PR_SET_VMA, PR_SET_VMA_ANON_NAME, (unsigned long)p, size, name);
    return p;
}

void machine_unmap_anon(void *p, uint64_t size)
{
    if (p) munmap(p, size + PAGE_SIZE);
}

/* /proc/self/pagemap, opened once with the first machine (before the
 * sandbox, which opens no files; a reboot's machine uses it too); -1 when
 * it cannot be read. */
static int pagemap_fd = -1;
static pthread_once_t pagemap_once = PTHREAD_ONCE_INIT;

static void open_pagemap(void)
{
    pagemap_fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
}

struct machine *machine_new(uint64_t ram_base, uint64_t ram_size)
{
    struct machine *m = calloc(1, sizeof(*m));
    if (!m) return NULL;
    pthread_mutex_init(&m->lock, NULL);
    pthread_mutex_init(&m->pause_lock, NULL);
    pthread_cond_init(&m->pause_cond, NULL);
    pthread_once(&pagemap_once, open_pagemap);
    m->ram_base = ram_base;
    m->ram_size = ram_size;
    /* Lazily backed: untouched guest pages cost the host nothing. */
    m->ram = machine_map_anon(ram_size, "kumo:guest-ram");
    uint64_t npages = ram_size >> 12;
    m->page_flags = machine_map_anon(npages, "kumo:page-flags");
    m->page_gen = machine_map_anon(npages * sizeof(uint32_t), "kumo:page-gen");
    if (!m->ram || !m->page_flags || !m->page_gen) {
        log_error("cannot reserve %llu MiB of guest memory: %s",
                  (unsigned long long)(ram_size >> 20), strerror(errno));
        machine_free(m);
        return NULL;
    }
    struct region r = {.base = ram_base, .size = ram_size, .name = "ram", .host = m->ram};
    machine_add_region(m, &r);
    m->time_base_ns = machine_now_ns();
    return m;
}

unsigned char *machine_ram_touched(struct machine *m)
{
    uint64_t npages = m->ram_size >> 12;
    unsigned char *v = malloc(npages);
    if (!v) return NULL;
    /* One 64-bit entry per host page: bit 63 present, bit 62 swapped out. */
    bool known = pagemap_fd >= 0 && sysconf(_SC_PAGESIZE) == 4096;
    uint64_t first = (uintptr_t)m->ram >> 12;
    uint64_t e[512];
    for (uint64_t p = 0; known && p < npages;) {
        uint64_t n = npages - p < 512 ? npages - p : 512;
        if (pread(pagemap_fd, e, n * 8, (off_t)((first + p) * 8)) != (ssize_t)(n * 8)) {
            known = false;
            break;
        }
        for (uint64_t k = 0; k < n; k++) v[p + k] = (e[k] >> 62) != 0;
        p += n;
    }
    if (!known) memset(v, 1, npages);
    if (m->ram_file_pages)
        for (uint64_t p = 0; p < npages; p++)
            if ((m->ram_file_pages[p >> 3] >> (p & 7)) & 1) v[p] = 1;
    return v;
}

void machine_on_free(struct machine *m, void (*fn)(void *), void *arg)
{
    assert(m->ncleanup < MACHINE_MAX_REGIONS); /* else arg would never be freed */
    if (m->ncleanup < MACHINE_MAX_REGIONS) {
        m->cleanup[m->ncleanup].fn = fn;
        m->cleanup[m->ncleanup].arg = arg;
        m->ncleanup++;
    }
}

void machine_free(struct machine *m)
{
    if (!m) return;
    while (m->ncleanup > 0) {
        m->ncleanup--;
        m->cleanup[m->ncleanup].fn(m->cleanup[m->ncleanup].arg);
    }
    for (int i = 0; i < m->nharts; i++) hart_free(m->harts[i]);
    for (int i = 0; i < m->nregions; i++)
        if (m->regions[i].host && m->regions[i].host != m->ram)
            machine_unmap_anon(m->regions[i].host, m->regions[i].size);
    uint64_t npages = m->ram_size >> 12;
    machine_unmap_anon(m->ram, m->ram_size);
    machine_unmap_anon(m->page_flags, npages);
    machine_unmap_anon((void *)m->page_gen, npages * sizeof(uint32_t));
    free(m->ram_file_pages);
    free((void *)m->dirty_log);
    pthread_cond_destroy(&m->pause_cond);
    pthread_mutex_destroy(&m->pause_lock);
    pthread_mutex_destroy(&m->lock);
    free(m);
}

int machine_add_region(struct machine *m, const struct region *r)
{
    if (m->nregions == MACHINE_MAX_REGIONS) return -1;
    for (int i = 0; i < m->nregions; i++) {
        const struct region *o = &m->regions[i];
        if (r->base < o->base + o->size && o->base < r->base + r->size) {
            log_error("memory map: %s overlaps %s", r->name, o->name);
            return -1;
        }
    }
    m->regions[m->nregions++] = *r;
    return 0;
}

int machine_add_rom(struct machine *m, uint64_t base, uint64_t size, const char *name)
{
    struct region r = {.base = base, .size = size, .name = name, .readonly = true};
    r.host = machine_map_anon(size, "kumo:rom");
    if (!r.host) return -1;
    if (machine_add_region(m, &r) < 0) {
        machine_unmap_anon(r.host, size);
        return -1;
    }
    return 0;
}

const struct region *machine_find(const struct machine *m, uint64_t pa, uint64_t len)
{
    /* RAM first: by far the most common target */
    const struct region *r = &m->regions[0];
    if (pa - r->base < r->size && len <= r->size - (pa - r->base)) return r;
    for (int i = 1; i < m->nregions; i++) {
        r = &m->regions[i];
        if (pa - r->base < r->size && len <= r->size - (pa - r->base)) return r;
    }
    return NULL;
}

void *machine_host_ptr(struct machine *m, uint64_t pa, uint64_t len)
{
    const struct region *r = machine_find(m, pa, len);
    return r && r->host ? r->host + (pa - r->base) : NULL;
}

void *machine_host_ptr_rw(struct machine *m, uint64_t pa, uint64_t len)
{
    const struct region *r = machine_find(m, pa, len);
    return r && r->host && !r->readonly ? r->host + (pa - r->base) : NULL;
}

/* Guest RAM is shared with the other harts' threads: an aligned access is
 * one host access (single-copy atomic, as RVWMO requires: never torn, never
 * repeated); a misaligned one goes byte by byte (it may be split, but no
 * byte is stored twice). Not memcpy: glibc's copies small sizes with
 * overlapping moves, storing the same bytes twice, and another hart's AMO
 * landing between the two would be undone. */
static uint64_t load_host(const uint8_t *p, int size)
{
    if (((uintptr_t)p & (uintptr_t)(size - 1)) == 0) {
        switch (size) {
        case 1: return __atomic_load_n(p, __ATOMIC_RELAXED);
        case 2: return __atomic_load_n((const uint16_t *)p, __ATOMIC_RELAXED);
        case 4: return __atomic_load_n((const uint32_t *)p, __ATOMIC_RELAXED);
        case 8: return __atomic_load_n((const uint64_t *)p, __ATOMIC_RELAXED);
        }
    }
    uint64_t v = 0;
    for (int k = 0; k < size; k++) v |= (uint64_t)__atomic_load_n(p + k, __ATOMIC_RELAXED) << (8 * k);
    return v;
}

static void store_host(uint8_t *p, int size, uint64_t v)
{
    if (((uintptr_t)p & (uintptr_t)(size - 1)) == 0) {
        switch (size) {
        case 1: __atomic_store_n(p, (uint8_t)v, __ATOMIC_RELAXED); return;
        case 2: __atomic_store_n((uint16_t *)p, (uint16_t)v, __ATOMIC_RELAXED); return;
        case 4: __atomic_store_n((uint32_t *)p, (uint32_t)v, __ATOMIC_RELAXED); return;
        case 8: __atomic_store_n((uint64_t *)p, v, __ATOMIC_RELAXED); return;
        }
    }
    for (int k = 0; k < size; k++) __atomic_store_n(p + k, (uint8_t)(v >> (8 * k)), __ATOMIC_RELAXED);
}

bool machine_read(struct machine *m, uint64_t pa, int size, uint64_t *val)
{
    const struct region *r = machine_find(m, pa, (uint64_t)size);
    if (!r) return false;
    if (r->host) {
        *val = load_host(r->host + (pa - r->base), size);
        return true;
    }
    *val = r->ops->read ? r->ops->read(r->opaque, pa - r->base, size) : 0;
    return true;
}

static void note_ram_store(struct machine *m, uint64_t pa, uint64_t len)
{
    uint64_t first = ram_page_index(m, pa), last = ram_page_index(m, pa + len - 1);
    bool code = false;
    for (uint64_t p = first; p <= last; p++) {
        machine_note_dirty(m, p);
        uint8_t f = m->page_flags[p];
        if (f & PAGE_CODE) {
            __atomic_and_fetch(&m->page_flags[p], (uint8_t)~PAGE_CODE, __ATOMIC_RELAXED);
            atomic_fetch_add_explicit(&m->page_gen[p], 1, memory_order_release);
            code = true;
        }
    }
    if (code) hart_code_written(m);
}

bool machine_write(struct machine *m, uint64_t pa, int size, uint64_t val)
{
    const struct region *r = machine_find(m, pa, (uint64_t)size);
    if (!r) return false;
    if (r->host) {
        if (r->readonly) return false;
        store_host(r->host + (pa - r->base), size, val); /* little-endian host */
        if (r->host == m->ram) {
            note_ram_store(m, pa, (uint64_t)size);
            uint64_t pg = ram_page_index(m, pa);
            if ((m->page_flags[pg] & PAGE_WATCH) && m->tohost &&
                (pa & ~7ull) == m->tohost)
                htif_tohost_written(m);
        }
        return true;
    }
    if (r->ops->write) r->ops->write(r->opaque, pa - r->base, val, size);
    return true;
}

bool machine_load(struct machine *m, uint64_t pa, const void *data, uint64_t len)
{
    if (len == 0) return true;
    const struct region *r = machine_find(m, pa, len);
    if (!r || !r->host) return false;
    memcpy(r->host + (pa - r->base), data, len);
    machine_memory_written(m, pa, len);
    return true;
}

void machine_memory_written(struct machine *m, uint64_t pa, uint64_t len)
{
    if (len && in_ram(m, pa) && in_ram(m, pa + len - 1)) note_ram_store(m, pa, len);
}

int machine_dirty_log_start(struct machine *m)
{
    size_t words = (size_t)((m->ram_size >> 12) + 63) / 64;
    if (!m->dirty_log) {
        m->dirty_log = calloc(words, sizeof(uint64_t));
        if (!m->dirty_log) return -1;
    } else {
        for (size_t i = 0; i < words; i++) atomic_store(&m->dirty_log[i], 0);
    }
    atomic_store(&m->dirty_logging, true);
    return 0;
}

void machine_dirty_log_stop(struct machine *m)
{
    /* the log stays allocated: a writer may still be marking it */
    atomic_store(&m->dirty_logging, false);
}

uint64_t machine_dirty_log_harvest(struct machine *m, uint64_t *out)
{
    size_t words = (size_t)((m->ram_size >> 12) + 63) / 64;
    uint64_t n = 0;
    for (size_t i = 0; i < words; i++) {
        out[i] = m->dirty_log ? atomic_exchange(&m->dirty_log[i], 0) : 0;
        n += (uint64_t)__builtin_popcountll(out[i]);
    }
    return n;
}

void machine_stop(struct machine *m, enum stop_reason why, int exit_code)
{
    int expected = STOP_NONE;
    if (atomic_compare_exchange_strong(&m->stop, &expected, (int)why)) m->exit_code = exit_code;
    for (int i = 0; i < m->nharts; i++) hart_kick(m->harts[i]);
}
