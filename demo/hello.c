/*
 * hello.c - the bare-metal demo that kumo-vmm runs as its main job: it says
 * hello over the HTIF console, does some real work on the virtual CPU
 * (integer, multiply/divide, atomics and floating point), prints what it
 * computed, and exits with status 0.
 */
#include <stdint.h>

volatile uint64_t tohost __attribute__((section(".tohost"), aligned(64)));
volatile uint64_t fromhost __attribute__((section(".tohost"), aligned(64)));

static void putc_htif(char c)
{
    tohost = (1ull << 56) | (1ull << 48) | (uint8_t)c;
    while (tohost)
        ;
}

static void puts_htif(const char *s)
{
    while (*s) putc_htif(*s++);
}

static void put_u64(uint64_t v)
{
    char buf[21];
    int n = 0;
    do {
        buf[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n) putc_htif(buf[--n]);
}

void htif_exit(int code)
{
    tohost = ((uint64_t)code << 1) | 1;
    for (;;)
        ;
}

/* Count primes below n with a sieve (integer work, memory traffic). */
static uint64_t count_primes(unsigned n)
{
    static uint8_t composite[100000];
    uint64_t count = 0;
    for (unsigned i = 2; i < n; i++) {
        if (composite[i]) continue;
        count++;
        for (unsigned j = i * 2; j < n; j += i) composite[j] = 1;
    }
    return count;
}

/* pi by the Leibniz series, in double precision (FPU work). */
static double leibniz_pi(int terms)
{
    double sum = 0.0, sign = 1.0;
    for (int k = 0; k < terms; k++) {
        sum += sign / (2.0 * k + 1.0);
        sign = -sign;
    }
    return 4.0 * sum;
}

int main(void)
{
    puts_htif("Hello from a kumo virtual machine!\n");
    puts_htif("  primes below 100000: ");
    put_u64(count_primes(100000));
    puts_htif("\n  pi (Leibniz, 1e6 terms) x 1e6: ");
    put_u64((uint64_t)(leibniz_pi(1000000) * 1e6));
    uint64_t counter = 0;
    for (int k = 0; k < 1000; k++) __atomic_fetch_add(&counter, (uint64_t)k, __ATOMIC_SEQ_CST);
    puts_htif("\n  atomic sum 0..999: ");
    put_u64(counter);
    puts_htif("\nBye.\n");
    return 0;
}
