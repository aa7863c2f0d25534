/* Preloaded (LD_PRELOAD) into the pcscd the project starts, and only there: a bind() to the IPv4
 * wildcard address 0.0.0.0 becomes a bind to 127.0.0.1, so vsmartcard's vpcd, which always
 * listens on INADDR_ANY (virtualsmartcard src/vpcd/vpcd.c, opensock), accepts virtual cards from
 * this machine only. Every other bind goes to libc unchanged. Why this and not vpcd's reversed
 * mode: simulator/transport/pcscd.py; built and checked by simulator/transport/loopback.py. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <netinet/in.h>
#include <sys/socket.h>

typedef int (*bind_fn)(int, const struct sockaddr *, socklen_t);

int bind(int fd, const struct sockaddr *addr, socklen_t len)
{
    static bind_fn libc_bind;
    if (!libc_bind)
        libc_bind = (bind_fn) dlsym(RTLD_NEXT, "bind");
    if (addr && addr->sa_family == AF_INET && len >= sizeof(struct sockaddr_in)
            && ((const struct sockaddr_in *) addr)->sin_addr.s_addr == htonl(INADDR_ANY)) {
        struct sockaddr_in loopback = *(const struct sockaddr_in *) addr;
        loopback.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        return libc_bind(fd, (const struct sockaddr *) &loopback, sizeof loopback);
    }
    return libc_bind(fd, addr, len);
}
