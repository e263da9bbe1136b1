/* libresil: resilience patterns for C.  Include this, link with
 * `pkg-config --cflags --libs resil`.  See libresil(7). */
#ifndef RESIL_RESIL_H
#define RESIL_RESIL_H

#include <resil/common.h>
#include <resil/version.h>
#include <resil/error.h>
#include <resil/alloc.h>
#include <resil/clock.h>
#include <resil/breaker.h>
#include <resil/limiter.h>
#include <resil/retry.h>
#include <resil/cache.h>
#include <resil/metrics.h>
#include <resil/policy.h>
#include <resil/health.h>
#include <resil/alert.h>
#include <resil/secrets.h>
#include <resil/audit.h>

#endif /* RESIL_RESIL_H */
