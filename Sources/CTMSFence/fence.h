// Asymmetric fences for the quota's core-local fast path (TMSCore's VServerQuota): the owning
// core orders its plain store before its load with a compiler barrier only, and the rare
// other side (a publish, a waiter served from another core) makes every thread of the process
// execute a full barrier with membarrier(2).
#ifndef CTMS_FENCE_H
#define CTMS_FENCE_H

#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>

/// Orders this thread's memory accesses for the compiler only (no instruction).
static inline void ctms_compiler_barrier(void) {
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
}

/// Registers the process for MEMBARRIER_CMD_PRIVATE_EXPEDITED; 0 when it is available.
static inline int ctms_membarrier_register(void) {
    long supported = syscall(__NR_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);
    if (supported < 0 || !(supported & MEMBARRIER_CMD_PRIVATE_EXPEDITED)) return -1;
    return (int)syscall(__NR_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0);
}

/// A full memory barrier on every running thread of this process; 0 on success.
static inline int ctms_membarrier(void) {
    return (int)syscall(__NR_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0);
}

#endif
