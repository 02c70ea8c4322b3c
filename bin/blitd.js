#!/bin/sh
':' //; case "$GLIBC_TUNABLES" in *glibc.malloc.hugetlb*) ;; *) GLIBC_TUNABLES="${GLIBC_TUNABLES:+$GLIBC_TUNABLES:}glibc.malloc.hugetlb=1"; export GLIBC_TUNABLES;; esac; exec node -- "$0" "$@"
// The two lines above are read by sh and skipped by Node: the shell asks glibc for transparent huge
// pages (as bin/blit.js does, which says why) and starts Node on this file. `node bin/blitd.js` works
// too, without that.
// The daemon is an ES module bundle (bin/ is CommonJS for the CLI's code cache: see bin/blit.js).
import('../dist/blitd.js');
