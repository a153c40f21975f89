/* Power-cut test client (runs inside the qemu guest): pipelined KV writers that log every
 * acknowledged write, and the verifier that reads every key back after the next boot.
 *
 *   powercut_client write PORT ROUND SEED CONNS KEYS MODE   (MODE: plain | churn)
 *   powercut_client verify PORT CONNS KEYS
 *   powercut_client wait PORT SECONDS
 *
 * Keys are "k<conn>-<n>"; connection c alone writes its keys, so one connection's responses
 * (which come back in request order) order every write of a key. A value is self-describing:
 * "<key> <version> <length>\n" followed by bytes generated from (key, version), so the verifier
 * can tell a whole value from a damaged one without the host's log. Versions are
 * ROUND * 1000000 + a counter, so they grow across rounds on the same disk.
 *
 * Lines on stdout (the serial console; one write(2) per line, printed only after the event):
 *   SD key ver                  a DELETE of key was sent (it may or may not land)
 *   ACK key ver len hash ms     a PUT was answered 200 (hash: FNV-1a 64 of the value)
 *   AD key ver ms               a DELETE was answered 200
 *   FAIL status key             any other answer (the round is void)
 *   GOT key ver len hash ok|bad the verifier read key (bad: the bytes are not that version's)
 *   NONE key                    the verifier got 404
 *   PROBE status                the verifier's write after the reads
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define NAMESPACE "pc"
#define MAX_CONNS 32
#define PIPELINE_DEPTH 4
#define MAX_VALUE (256 * 1024)

static uint64_t fnv1a(const void* data, size_t n, uint64_t h) {
    const unsigned char* p = data;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

static uint64_t xorshift(uint64_t* s) {
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

static uint64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void say(const char* fmt, ...) {
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line - 1, fmt, ap);
    va_end(ap);
    line[n++] = '\n';
    for (int off = 0; off < n;) {
        ssize_t w = write(1, line + off, (size_t)(n - off));
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) exit(3);
        off += (int)w;
    }
}

static void die(const char* what) {
    say("FATAL %s: %s", what, strerror(errno));
    exit(2);
}

/* Fills buf with the value of (key, ver) of length len; returns len. */
static size_t make_value(char* buf, const char* key, uint64_t ver, size_t len) {
    int h = snprintf(buf, len + 1, "%s %llu %zu\n", key, (unsigned long long)ver, len);
    size_t head = (size_t)h < len ? (size_t)h : len;
    uint64_t s = fnv1a(key, strlen(key), 0xcbf29ce484222325ULL) ^ (ver * 0x9e3779b97f4a7c15ULL);
    if (s == 0) s = 1;
    for (size_t i = head; i < len; i++)
        buf[i] = (char)('a' + xorshift(&s) % 26);
    return len;
}

static int connect_to(int port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) die("socket");
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr*)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

static void send_all(int fd, const char* p, size_t n) {
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) die("send");
        p += w;
        n -= (size_t)w;
    }
}

/* Response reader: accumulates bytes, yields (status, body) of each complete response. */
struct reader {
    char* buf;
    size_t len, cap;
};

static void reader_fill(struct reader* r, int fd) {
    if (r->cap - r->len < 65536) {
        r->cap = r->cap ? r->cap * 2 : 1 << 20;
        r->buf = realloc(r->buf, r->cap);
        if (!r->buf) die("realloc");
    }
    ssize_t n = read(fd, r->buf + r->len, r->cap - r->len);
    if (n < 0 && errno == EINTR) return;
    if (n <= 0) die("read (daemon closed the connection)");
    r->len += (size_t)n;
}

/* Returns 1 and sets status/body/body_len if a complete response is buffered (the caller then
 * calls reader_consume(r, *used)). */
static int reader_next(struct reader* r, int* status, const char** body, size_t* body_len,
                       size_t* used) {
    const char* end = memmem(r->buf, r->len, "\r\n\r\n", 4);
    if (!end) return 0;
    size_t head = (size_t)(end - r->buf) + 4;
    if (r->len < 12 || sscanf(r->buf, "HTTP/1.1 %d", status) != 1) {
        say("FATAL bad response head");
        exit(2);
    }
    size_t clen = 0;
    int have_len = 0;
    for (const char* p = r->buf; p < end;) {
        const char* eol = memmem(p, (size_t)(end - p) + 2, "\r\n", 2);
        if (strncasecmp(p, "content-length:", 15) == 0) {
            clen = strtoull(p + 15, NULL, 10);
            have_len = 1;
        } else if (strncasecmp(p, "transfer-encoding:", 18) == 0) {
            say("FATAL chunked response not supported");
            exit(2);
        }
        p = eol + 2;
    }
    if (!have_len && *status != 204 && *status != 304) {
        say("FATAL response without Content-Length");
        exit(2);
    }
    if (r->len < head + clen) return 0;
    *body = r->buf + head;
    *body_len = clen;
    *used = head + clen;
    return 1;
}

static void reader_consume(struct reader* r, size_t used) {
    memmove(r->buf, r->buf + used, r->len - used);
    r->len -= used;
}

/* One request and its blocking answer (the verifier and the probe). */
static int request(int fd, struct reader* r, const char* head, const char* body, size_t body_len,
                   char* out, size_t out_cap, size_t* out_len) {
    send_all(fd, head, strlen(head));
    if (body_len) send_all(fd, body, body_len);
    int status;
    const char* b;
    size_t bl, used;
    while (!reader_next(r, &status, &b, &bl, &used))
        reader_fill(r, fd);
    if (out) {
        *out_len = bl < out_cap ? bl : out_cap;
        memcpy(out, b, *out_len);
    }
    reader_consume(r, used);
    return status;
}

struct op {
    char key[32];
    uint64_t ver;
    size_t len;
    uint64_t hash;
    int is_delete;
};

struct conn {
    int fd, id;
    struct reader rd;
    struct op inflight[PIPELINE_DEPTH];
    int head, count;
    uint64_t rng;
};

static _Noreturn void write_mode(int port, uint64_t round, uint64_t seed, int nconns, int keys,
                                 int churn) {
    static struct conn conns[MAX_CONNS];
    static char value[MAX_VALUE + 64];
    static char head[256];
    uint64_t counter = 0, start = now_ms();
    for (int c = 0; c < nconns; c++) {
        conns[c].id = c;
        conns[c].fd = connect_to(port);
        if (conns[c].fd < 0) die("connect");
        conns[c].rng = (seed * 1000003 + (uint64_t)c) | 1;
    }
    say("WRITING round=%llu conns=%d keys=%d mode=%s", (unsigned long long)round, nconns, keys,
        churn ? "churn" : "plain");
    for (;;) {
        for (int c = 0; c < nconns; c++) {
            struct conn* k = &conns[c];
            while (k->count < PIPELINE_DEPTH) {
                struct op* o = &k->inflight[(k->head + k->count) % PIPELINE_DEPTH];
                snprintf(o->key, sizeof o->key, "k%d-%d", c, (int)(xorshift(&k->rng) % keys));
                o->ver = round * 1000000 + ++counter;
                o->is_delete = churn && xorshift(&k->rng) % 5 == 0;
                if (o->is_delete) {
                    snprintf(head, sizeof head,
                             "DELETE /kv/" NAMESPACE "/%s HTTP/1.1\r\nHost: g\r\n\r\n", o->key);
                    say("SD %s %llu", o->key, (unsigned long long)o->ver);
                    send_all(k->fd, head, strlen(head));
                } else {
                    uint64_t pick = xorshift(&k->rng);
                    size_t len = 64 + pick % 2048;
                    if (churn && pick % 10 < 3)
                        len = 4096 + (pick >> 8) % (MAX_VALUE - 4096);
                    else if (churn && pick % 10 < 6)
                        len = 2048 + (pick >> 8) % 30000;
                    make_value(value, o->key, o->ver, len);
                    o->len = len;
                    o->hash = fnv1a(value, len, 0xcbf29ce484222325ULL);
                    snprintf(head, sizeof head,
                             "PUT /kv/" NAMESPACE "/%s HTTP/1.1\r\nHost: g\r\n"
                             "Content-Length: %zu\r\n\r\n",
                             o->key, len);
                    send_all(k->fd, head, strlen(head));
                    send_all(k->fd, value, len);
                }
                k->count++;
            }
        }
        struct pollfd pf[MAX_CONNS];
        for (int c = 0; c < nconns; c++)
            pf[c] = (struct pollfd){.fd = conns[c].fd, .events = POLLIN};
        if (poll(pf, (nfds_t)nconns, -1) < 0 && errno != EINTR) die("poll");
        for (int c = 0; c < nconns; c++) {
            if (!(pf[c].revents & (POLLIN | POLLHUP | POLLERR))) continue;
            struct conn* k = &conns[c];
            reader_fill(&k->rd, k->fd);
            int status;
            const char* b;
            size_t bl, used;
            while (k->count > 0 && reader_next(&k->rd, &status, &b, &bl, &used)) {
                struct op* o = &k->inflight[k->head];
                unsigned long long ms = (unsigned long long)(now_ms() - start);
                if (status != 200)
                    say("FAIL %d %s %.*s", status, o->key, (int)(bl < 200 ? bl : 200), b);
                else if (o->is_delete)
                    say("AD %s %llu %llu", o->key, (unsigned long long)o->ver, ms);
                else
                    say("ACK %s %llu %zu %016llx %llu", o->key, (unsigned long long)o->ver, o->len,
                        (unsigned long long)o->hash, ms);
                reader_consume(&k->rd, used);
                k->head = (k->head + 1) % PIPELINE_DEPTH;
                k->count--;
            }
        }
    }
}

static int verify_mode(int port, int nconns, int keys) {
    static char value[MAX_VALUE + 4096], expect[MAX_VALUE + 64], head[256];
    struct reader rd = {0};
    int fd = connect_to(port);
    if (fd < 0) die("connect");
    int bad = 0;
    for (int c = 0; c < nconns; c++) {
        for (int n = 0; n < keys; n++) {
            char key[32];
            snprintf(key, sizeof key, "k%d-%d", c, n);
            snprintf(head, sizeof head, "GET /kv/" NAMESPACE "/%s HTTP/1.1\r\nHost: g\r\n\r\n",
                     key);
            size_t got;
            int status = request(fd, &rd, head, NULL, 0, value, sizeof value, &got);
            if (status == 404) {
                say("NONE %s", key);
                continue;
            }
            if (status != 200) {
                say("FAIL %d %s", status, key);
                bad = 1;
                continue;
            }
            char name[32];
            unsigned long long ver = 0;
            size_t len = 0;
            int ok = sscanf(value, "%31s %llu %zu", name, &ver, &len) == 3 && len == got &&
                     strcmp(name, key) == 0;
            if (ok) {
                make_value(expect, key, ver, len);
                ok = memcmp(expect, value, len) == 0;
            }
            say("GOT %s %llu %zu %016llx %s", key, ver, got,
                (unsigned long long)fnv1a(value, got, 0xcbf29ce484222325ULL), ok ? "ok" : "bad");
        }
    }
    const char probe[] = "probe after reboot";
    snprintf(head, sizeof head,
             "PUT /kv/" NAMESPACE "/probe HTTP/1.1\r\nHost: g\r\nContent-Length: %zu\r\n\r\n",
             sizeof probe - 1);
    int status = request(fd, &rd, head, probe, sizeof probe - 1, NULL, 0, NULL);
    say("PROBE %d", status);
    close(fd);
    return bad || status != 200;
}

static int wait_mode(int port, int seconds) {
    for (int i = 0; i < seconds * 10; i++) {
        int fd = connect_to(port);
        if (fd >= 0) {
            close(fd);
            return 0;
        }
        usleep(100000);
    }
    return 1;
}

int main(int argc, char** argv) {
    if (argc == 8 && strcmp(argv[1], "write") == 0) {
        int nconns = atoi(argv[5]), keys = atoi(argv[6]);
        if (nconns < 1 || nconns > MAX_CONNS || keys < 1) return 2;
        write_mode(atoi(argv[2]), strtoull(argv[3], NULL, 10), strtoull(argv[4], NULL, 10), nconns,
                   keys, strcmp(argv[7], "churn") == 0);
    }
    if (argc == 5 && strcmp(argv[1], "verify") == 0)
        return verify_mode(atoi(argv[2]), atoi(argv[3]), atoi(argv[4]));
    if (argc == 4 && strcmp(argv[1], "wait") == 0) return wait_mode(atoi(argv[2]), atoi(argv[3]));
    fprintf(stderr, "usage: powercut_client write PORT ROUND SEED CONNS KEYS plain|churn\n"
                    "       powercut_client verify PORT CONNS KEYS\n"
                    "       powercut_client wait PORT SECONDS\n");
    return 2;
}
