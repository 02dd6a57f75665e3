/*
 * libnss_kumo: resolves instances' public DNS names on the host with no per-name state, by
 * decoding the address from the name, as EC2's public names encode it:
 *
 *   ec2-100-64-3-7.eu-west-1.compute.kumo  ->  100.64.3.7
 *
 * Only names under .compute.kumo whose address lies in 100.64.0.0/10 (the shared address space
 * Kumo's public pools come from) are answered; everything else is NOTFOUND, so the next source in
 * nsswitch.conf decides. Written in C because it is loaded into every process on the host that
 * resolves a name: no C++ runtime, no allocation, no global state.
 */
#include <errno.h>
#include <netdb.h>
#include <nss.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "host/nss/kumo_name.h"

int kumo_decode_public_name(const char *name, uint8_t out[4]) {
  static const char kPrefix[] = "ec2-";
  static const char kSuffix[] = ".compute.kumo";
  size_t len = strlen(name);
  if (len > 0 && name[len - 1] == '.') len--; /* fully qualified form */
  if (len < sizeof kPrefix - 1 + 7 + 2 + sizeof kSuffix - 1 || len > 253) return 0;
  if (strncasecmp(name, kPrefix, sizeof kPrefix - 1) != 0) return 0;
  if (strncasecmp(name + len - (sizeof kSuffix - 1), kSuffix, sizeof kSuffix - 1) != 0) return 0;
  const char *p = name + sizeof kPrefix - 1;
  for (int i = 0; i < 4; i++) {
    unsigned v = 0;
    int digits = 0;
    while (*p >= '0' && *p <= '9') {
      if (digits > 0 && v == 0) return 0; /* no leading zeros: one name per address */
      v = v * 10 + (unsigned)(*p - '0');
      if (++digits > 3 || v > 255) return 0;
      p++;
    }
    if (digits == 0) return 0;
    out[i] = (uint8_t)v;
    if (*p++ != (i < 3 ? '-' : '.')) return 0;
  }
  /* The region label: one or more of [a-z0-9-], then the suffix. */
  const char *region = p;
  const char *end = name + len - (sizeof kSuffix - 1);
  if (region >= end) return 0;
  for (; p < end; p++) {
    char c = *p;
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-')) {
      return 0;
    }
  }
  /* 100.64.0.0/10 */
  return out[0] == 100 && (out[1] & 0xc0) == 64;
}

static enum nss_status fill_hostent(const char *name, int af, struct hostent *result, char *buffer,
                                    size_t buflen, int *errnop, int *herrnop) {
  uint8_t addr[4];
  if (af != AF_INET || !kumo_decode_public_name(name, addr)) {
    *errnop = ENOENT;
    *herrnop = HOST_NOT_FOUND;
    return NSS_STATUS_NOTFOUND;
  }
  size_t name_len = strlen(name) + 1;
  /* buffer: address (4, aligned), addr_list[2], aliases[1], name */
  size_t need = sizeof(char *) * 3 + 4 + name_len + sizeof(char *);
  if (buflen < need) {
    *errnop = ERANGE;
    *herrnop = NETDB_INTERNAL;
    return NSS_STATUS_TRYAGAIN;
  }
  uintptr_t base = ((uintptr_t)buffer + sizeof(char *) - 1) & ~(uintptr_t)(sizeof(char *) - 1);
  char **addr_list = (char **)base;
  char **aliases = addr_list + 2;
  char *addr_buf = (char *)(aliases + 1);
  char *name_buf = addr_buf + 4;
  memcpy(addr_buf, addr, 4);
  memcpy(name_buf, name, name_len);
  addr_list[0] = addr_buf;
  addr_list[1] = NULL;
  aliases[0] = NULL;
  result->h_name = name_buf;
  result->h_aliases = aliases;
  result->h_addrtype = AF_INET;
  result->h_length = 4;
  result->h_addr_list = addr_list;
  return NSS_STATUS_SUCCESS;
}

enum nss_status _nss_kumo_gethostbyname3_r(const char *name, int af, struct hostent *result,
                                           char *buffer, size_t buflen, int *errnop, int *herrnop,
                                           int32_t *ttlp, char **canonp) {
  enum nss_status s = fill_hostent(name, af, result, buffer, buflen, errnop, herrnop);
  if (s == NSS_STATUS_SUCCESS) {
    if (ttlp) *ttlp = 60;
    if (canonp) *canonp = result->h_name;
  }
  return s;
}

enum nss_status _nss_kumo_gethostbyname2_r(const char *name, int af, struct hostent *result,
                                           char *buffer, size_t buflen, int *errnop,
                                           int *herrnop) {
  return fill_hostent(name, af, result, buffer, buflen, errnop, herrnop);
}

enum nss_status _nss_kumo_gethostbyname_r(const char *name, struct hostent *result, char *buffer,
                                          size_t buflen, int *errnop, int *herrnop) {
  return fill_hostent(name, AF_INET, result, buffer, buflen, errnop, herrnop);
}

enum nss_status _nss_kumo_gethostbyname4_r(const char *name, struct gaih_addrtuple **pat,
                                           char *buffer, size_t buflen, int *errnop,
                                           int *herrnop, int32_t *ttlp) {
  uint8_t addr[4];
  if (!kumo_decode_public_name(name, addr)) {
    *errnop = ENOENT;
    *herrnop = HOST_NOT_FOUND;
    return NSS_STATUS_NOTFOUND;
  }
  size_t name_len = strlen(name) + 1;
  size_t align = sizeof(void *);
  uintptr_t base = ((uintptr_t)buffer + align - 1) & ~(uintptr_t)(align - 1);
  size_t pad = base - (uintptr_t)buffer;
  if (buflen < pad + sizeof(struct gaih_addrtuple) + name_len) {
    *errnop = ERANGE;
    *herrnop = NETDB_INTERNAL;
    return NSS_STATUS_TRYAGAIN;
  }
  struct gaih_addrtuple *t = (struct gaih_addrtuple *)base;
  char *name_buf = (char *)(t + 1);
  memcpy(name_buf, name, name_len);
  memset(t, 0, sizeof *t);
  t->name = name_buf;
  t->family = AF_INET;
  memcpy(t->addr, addr, 4);
  if (*pat) {
    /* getaddrinfo may hand in a preallocated tuple: fill it instead. */
    (*pat)->next = NULL;
    (*pat)->name = name_buf;
    (*pat)->family = AF_INET;
    memset((*pat)->addr, 0, sizeof (*pat)->addr);
    memcpy((*pat)->addr, addr, 4);
    (*pat)->scopeid = 0;
  } else {
    *pat = t;
  }
  if (ttlp) *ttlp = 60;
  return NSS_STATUS_SUCCESS;
}
