/*
 * The smallest DTLS 1.2 server over a UDP socket that the DTLS benchmark's clients can use: OpenSSL and the kernel,
 * nothing else. One thread, one socket, blocking receives; each peer (address and port) gets an SSL object with
 * memory BIOs, so a datagram is handed to OpenSSL as it came and the records a step writes are packed into datagrams
 * of at most the MTU, as the gateway's listener does. OpenSSL runs the cookie exchange itself, in the peer's SSL object
 * (SSL_OP_COOKIE_EXCHANGE). Application data is echoed. A session ends on close_notify or on an error; there are no
 * timers and no retransmissions (the benchmark runs on loopback).
 *
 * It is the floor of what a DTLS server over real sockets costs per handshake on this machine: no managed runtime,
 * no threads, no hand-over, no admission, no directory. infra/bench-dtls.sh --minimal measures it with the same
 * harness and clients as the gateway and the library's listener.
 *
 * Usage: dtls-min-server PORT PEM-FILE IDENTITY:HEXKEY [IDENTITY:HEXKEY ...]
 *   PEM-FILE holds the certificate chain and its private key; the identities are the full names clients send
 *   (for the benchmark, "bench/dev1" and "fwd/dev1").
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MTU 1400
#define TABLE_SIZE 65536 /* power of two; far above the sessions a benchmark holds at once */
#define MAX_KEYS 8

static const char *CipherList =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:"
    "ECDHE-PSK-CHACHA20-POLY1305:ECDHE-PSK-AES128-CBC-SHA256:ECDHE-PSK-AES256-CBC-SHA384:"
    "PSK-AES128-GCM-SHA256:PSK-AES128-CCM8";

struct peer {
    int used;
    struct sockaddr_in address;
    SSL *ssl;
    BIO *in;
    BIO *out;
};

static struct peer table[TABLE_SIZE];
static char *identities[MAX_KEYS];
static unsigned char keys[MAX_KEYS][64];
static int key_lengths[MAX_KEYS];
static int key_count;
static unsigned char cookie_secret[32];
static long handshakes, closed, failed;

static unsigned slot_of(const struct sockaddr_in *a) {
    uint32_t h = a->sin_addr.s_addr * 2654435761u ^ (uint32_t)a->sin_port * 40503u;
    return h & (TABLE_SIZE - 1);
}

static int same(const struct sockaddr_in *a, const struct sockaddr_in *b) {
    return a->sin_addr.s_addr == b->sin_addr.s_addr && a->sin_port == b->sin_port;
}

/* The peer's slot (open addressing, linear probing), or a free one when it has none; NULL when the table is full. */
static struct peer *find(const struct sockaddr_in *a, int *found) {
    unsigned i = slot_of(a);
    for (unsigned n = 0; n < TABLE_SIZE; n++, i = (i + 1) & (TABLE_SIZE - 1)) {
        if (!table[i].used) { *found = 0; return &table[i]; }
        if (same(&table[i].address, a)) { *found = 1; return &table[i]; }
    }
    return NULL;
}

/* Frees a peer and re-inserts the run of entries after it, so that probing still finds them. */
static void forget(struct peer *p) {
    SSL_free(p->ssl); /* frees both BIOs */
    unsigned i = (unsigned)(p - table);
    table[i].used = 0;
    for (unsigned j = (i + 1) & (TABLE_SIZE - 1); table[j].used; j = (j + 1) & (TABLE_SIZE - 1)) {
        struct peer moved = table[j];
        table[j].used = 0;
        int found;
        struct peer *to = find(&moved.address, &found);
        *to = moved;
        SSL_set_app_data(to->ssl, to);
    }
}

static int cookie_of(SSL *ssl, unsigned char *cookie, unsigned int *length) {
    struct peer *p = SSL_get_app_data(ssl);
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mac_length = 0;
    HMAC(EVP_sha256(), cookie_secret, sizeof cookie_secret, (const unsigned char *)&p->address.sin_port, 2 + 4, mac, &mac_length);
    memcpy(cookie, mac, 16);
    *length = 16;
    return 1;
}

static int generate_cookie(SSL *ssl, unsigned char *cookie, unsigned int *length) { return cookie_of(ssl, cookie, length); }

static int verify_cookie(SSL *ssl, const unsigned char *cookie, unsigned int length) {
    unsigned char expected[EVP_MAX_MD_SIZE];
    unsigned int expected_length;
    cookie_of(ssl, expected, &expected_length);
    return length == expected_length && CRYPTO_memcmp(cookie, expected, length) == 0;
}

static unsigned int psk(SSL *ssl, const char *identity, unsigned char *key, unsigned int max) {
    (void)ssl;
    for (int i = 0; i < key_count; i++) {
        if (strcmp(identity, identities[i]) == 0 && (unsigned)key_lengths[i] <= max) {
            memcpy(key, keys[i], key_lengths[i]);
            return key_lengths[i];
        }
    }
    return 0;
}

/* Sends what OpenSSL wrote: whole records, several to a datagram where they fit in the MTU. */
static void flush(int fd, struct peer *p) {
    static unsigned char records[65536];
    int length = BIO_read(p->out, records, sizeof records);
    if (length <= 0) return;
    int start = 0;
    while (start < length) {
        int end = start;
        while (end + 13 <= length) {
            int record = 13 + (records[end + 11] << 8 | records[end + 12]);
            if (end > start && end - start + record > MTU) break;
            end += record;
        }
        if (end == start) end = length; /* not a record: send the rest as it is */
        sendto(fd, records + start, end - start, 0, (struct sockaddr *)&p->address, sizeof p->address);
        start = end;
    }
}

static int hex(const char *text, unsigned char *out, int max) {
    int n = (int)strlen(text) / 2;
    if (n > max) return -1;
    for (int i = 0; i < n; i++) {
        unsigned v;
        if (sscanf(text + 2 * i, "%2x", &v) != 1) return -1;
        out[i] = (unsigned char)v;
    }
    return n;
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: %s PORT PEM-FILE IDENTITY:HEXKEY [IDENTITY:HEXKEY ...]\n", argv[0]);
        return 2;
    }
    for (int i = 3; i < argc && key_count < MAX_KEYS; i++) {
        char *colon = strrchr(argv[i], ':');
        if (!colon) { fprintf(stderr, "expected IDENTITY:HEXKEY, got %s\n", argv[i]); return 2; }
        *colon = 0;
        identities[key_count] = argv[i];
        key_lengths[key_count] = hex(colon + 1, keys[key_count], sizeof keys[0]);
        if (key_lengths[key_count] <= 0) { fprintf(stderr, "bad key for %s\n", argv[i]); return 2; }
        key_count++;
    }
    RAND_bytes(cookie_secret, sizeof cookie_secret);

    SSL_CTX *ctx = SSL_CTX_new(DTLS_server_method());
    SSL_CTX_set_min_proto_version(ctx, DTLS1_2_VERSION);
    SSL_CTX_set_max_proto_version(ctx, DTLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_QUERY_MTU | SSL_OP_COOKIE_EXCHANGE | SSL_OP_NO_TICKET | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    if (SSL_CTX_set_cipher_list(ctx, CipherList) != 1
        || SSL_CTX_use_certificate_chain_file(ctx, argv[2]) != 1
        || SSL_CTX_use_PrivateKey_file(ctx, argv[2], SSL_FILETYPE_PEM) != 1) {
        ERR_print_errors_fp(stderr);
        return 1;
    }
    SSL_CTX_set_cookie_generate_cb(ctx, generate_cookie);
    SSL_CTX_set_cookie_verify_cb(ctx, verify_cookie);
    SSL_CTX_set_psk_server_callback(ctx, psk);

    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in local = { .sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[1])), .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    if (bind(fd, (struct sockaddr *)&local, sizeof local) != 0) { perror("bind"); return 1; }
    socklen_t local_length = sizeof local;
    getsockname(fd, (struct sockaddr *)&local, &local_length);
    printf("listening on 127.0.0.1:%d\n", ntohs(local.sin_port));
    fflush(stdout);

    static unsigned char datagram[65536], data[16384];
    for (;;) {
        struct sockaddr_in from;
        socklen_t from_length = sizeof from;
        ssize_t n = recvfrom(fd, datagram, sizeof datagram, 0, (struct sockaddr *)&from, &from_length);
        if (n < 0) { if (errno == EINTR || errno == ECONNREFUSED) continue; perror("recvfrom"); return 1; }
        if (from.sin_family != AF_INET) continue;
        int found;
        struct peer *p = find(&from, &found);
        if (!p) continue;
        if (!found) {
            p->used = 1;
            p->address = from;
            p->ssl = SSL_new(ctx);
            p->in = BIO_new(BIO_s_mem());
            p->out = BIO_new(BIO_s_mem());
            BIO_set_mem_eof_return(p->in, -1);
            BIO_set_mem_eof_return(p->out, -1);
            SSL_set_bio(p->ssl, p->in, p->out);
            SSL_set_app_data(p->ssl, p);
            DTLS_set_link_mtu(p->ssl, MTU);
            SSL_set_accept_state(p->ssl);
        }
        BIO_write(p->in, datagram, (int)n);
        int end = 0;
        if (!SSL_is_init_finished(p->ssl)) {
            int rc = SSL_do_handshake(p->ssl);
            if (rc == 1) {
                handshakes++;
            } else if (SSL_get_error(p->ssl, rc) != SSL_ERROR_WANT_READ) {
                failed++;
                end = 1;
            }
        }
        if (!end && SSL_is_init_finished(p->ssl)) {
            for (;;) {
                int r = SSL_read(p->ssl, data, sizeof data);
                if (r > 0) { SSL_write(p->ssl, data, r); continue; }
                int e = SSL_get_error(p->ssl, r);
                if (e == SSL_ERROR_ZERO_RETURN) { SSL_shutdown(p->ssl); closed++; end = 1; }
                else if (e != SSL_ERROR_WANT_READ) { failed++; end = 1; }
                break;
            }
        }
        flush(fd, p);
        ERR_clear_error();
        if (end) forget(p);
        if (((handshakes + failed) & 16383) == 0 && handshakes + failed > 0 && end) {
            printf("handshakes=%ld closed=%ld failed=%ld\n", handshakes, closed, failed);
            fflush(stdout);
        }
    }
}
