/* Public DNS names of instances: "ec2-A-B-C-D.<region>.compute.kumo" <-> A.B.C.D. */
#pragma once

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* 1 and the address in out when name is an instance's public name in 100.64.0.0/10, else 0. */
int kumo_decode_public_name(const char *name, uint8_t out[4]);

#ifdef __cplusplus
}
#endif
