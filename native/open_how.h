// openat2(2)'s interface (Linux 5.6): from <linux/openat2.h> where the headers have it, else its
// ABI, stable since. Used by blit_beneath's opens and by the ring's (uring.h OpenatBeneath).

#pragma once

#if defined(__linux__)
#include <sys/syscall.h>

#include <cstdint>
#if __has_include(<linux/openat2.h>)
#include <linux/openat2.h>
#endif

#if !defined(RESOLVE_BENEATH)
struct open_how {
  uint64_t flags;
  uint64_t mode;
  uint64_t resolve;
};
#define RESOLVE_NO_MAGICLINKS 0x02
#define RESOLVE_BENEATH 0x08
#endif
#if !defined(SYS_openat2)
#define SYS_openat2 437  // the same number on every architecture (the unified syscall table)
#endif
#endif
